"""One way for a test to wait: poll a check until it holds, for a bounded time, then fail saying what for."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def wait_until(
    check: Callable[[], T],
    seconds: float = 60.0,
    what: str | Callable[[], str] = "the condition",
    interval: float = 0.2,
    ignore: tuple[type[BaseException], ...] = (),
    process: subprocess.Popen | None = None,
) -> T:
    """The first truthy value of `check()`, asked every `interval` seconds; an exception of a type in `ignore`
    counts as not yet. An AssertionError saying `what` (a text, or a function giving one when it fails) after
    `seconds`, or at once when `process` has exited."""
    deadline = time.monotonic() + seconds
    last: Any = None
    while True:
        try:
            last = check()
        except ignore as exc:
            last = exc
        else:
            if last:
                return last
        exited = process is not None and process.poll() is not None
        if exited or time.monotonic() >= deadline:
            why = f"the process exited with {process.returncode}" if exited else f"{seconds} s passed"
            raise AssertionError(f"waiting for {what() if callable(what) else what}: {why}; last: {last!r}")
        time.sleep(interval)


def answers(url: str) -> bool:
    """Whether GET `url` answers with a success status (an error status or no answer: False)."""
    try:
        urllib.request.urlopen(url, timeout=2).close()  # raises for an error status
    except OSError:
        return False
    return True


def wait_for_url(url: str, seconds: float = 60.0, what: str | Callable[[], str] = "", process=None) -> None:
    """Until GET `url` answers with a success status; `process`: the server's, whose exit ends the wait."""
    wait_until(lambda: answers(url), seconds, what or f"GET {url}", interval=0.2, process=process)
