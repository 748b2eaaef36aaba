"""HTTP for the tools that talk to a running service (smoke, simulate, the benchmark, the tests).

JSON in, JSON out, over the standard library, so the tools need no client package. Every
answer comes back as a Reply, whatever its status; only a connection that fails raises
(OSError: refused, reset, timed out).
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case

    def json(self) -> Any:
        """The body as JSON (ValueError when it is not)."""
        return json.loads(self.body)

    def error_message(self) -> str:
        """What the service said went wrong: its `error.message`, else the start of the body."""
        try:
            return str(self.json()["error"]["message"])
        except (ValueError, KeyError, TypeError):
            return self.body[:300].decode(errors="replace")


def request(
    url: str,
    payload: Any = None,
    timeout: float = 30,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Reply:
    """GET `url`, or POST `payload` to it as JSON (bytes and text are sent as they are, as `content_type`),
    with `headers` besides."""
    headers = {"Accept": "application/json", **(headers or {})}
    data = None
    if payload is not None:
        if isinstance(payload, str):
            payload = payload.encode()
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers["Content-Type"] = content_type
    prepared = urllib.request.Request(url, data=data, headers=headers, method="GET" if data is None else "POST")
    try:
        with urllib.request.urlopen(prepared, timeout=timeout) as response:
            return Reply(response.status, response.read(), {k.lower(): v for k, v in response.headers.items()})
    except urllib.error.HTTPError as exc:
        with exc:
            return Reply(exc.code, exc.read(), {k.lower(): v for k, v in exc.headers.items()})


def wait_until_ready(url: str, seconds: float) -> str | None:
    """Poll GET `url` until it answers 200; None then, else (after `seconds`) what was wrong last."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            reply = request(url, timeout=5)
            if reply.status == 200:
                return None
            problem = f"GET {url} answered {reply.status}"
        except OSError as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            return problem
        time.sleep(0.5)


def free_port() -> int:
    """A TCP port on the loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
