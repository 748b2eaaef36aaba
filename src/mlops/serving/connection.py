"""A client connection as the service's worker (mlops/serving/worker.py) reads and answers it."""

from __future__ import annotations

import errno
import socket
import time

PEEK = 65536  # a kept-alive request that has arrived whole within this many bytes is served by the main loop


class ReadTimeout(Exception):
    """The client did not send its whole request within the read deadline."""


class ClientSocket:
    """A connection's socket whose reads share one deadline per request.

    Only the request's reads are bounded (`arm` ... `disarm`); a write that the client does
    not read within the same number of seconds ends as a broken pipe, which gunicorn closes
    quietly. Everything else is the socket's own.
    """

    def __init__(self, sock, seconds: float):
        self._sock = sock
        self.seconds = seconds
        self.armed = False
        self.deadline: float | None = None
        self.linger = 2.0  # seconds a graceful close waits for the client to finish sending (gunicorn's)
        self.writes: list[bytes] | None = None

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def fileno(self) -> int:
        return self._sock.fileno()

    def setblocking(self, flag: bool) -> None:
        if self._sock.fileno() != -1:  # gunicorn's own close comes after `Worker.handle` closed it
            self._sock.setblocking(flag)

    def arm(self) -> None:
        """Start a request: its deadline runs from the first byte read."""
        self.armed, self.deadline = True, None

    def disarm(self) -> None:
        self.armed = False

    def recv(self, size: int) -> bytes:
        if not self.armed:
            return self._sock.recv(size)
        now = time.monotonic()
        if self.deadline is None:
            self.deadline = now + self.seconds
        remaining = self.deadline - now
        if remaining <= 0:
            raise ReadTimeout
        self._sock.settimeout(remaining)
        try:
            return self._sock.recv(size)
        except TimeoutError:
            raise ReadTimeout from None

    def peek(self, size: int) -> bytes:
        """Up to `size` bytes that have arrived, left for the next read; never waits."""
        return self._sock.recv(size, socket.MSG_PEEK | socket.MSG_DONTWAIT)

    def send_now(self, data: bytes) -> int:
        """Send what the socket takes at once; return how many bytes it took."""
        self._sock.setblocking(False)
        try:
            return self._sock.send(data)
        except BlockingIOError:
            return 0

    def hold_writes(self) -> None:
        """Keep what is written in memory until `held` takes it: the main loop must not wait on a client."""
        self.writes = []

    def held(self) -> bytes:
        data, self.writes = b"".join(self.writes), None
        return data

    def sendall(self, data) -> None:
        if self.writes is not None:
            self.writes.append(bytes(data))
            return
        self._sock.settimeout(self.seconds)
        try:
            self._sock.sendall(data)
        except TimeoutError:
            raise BrokenPipeError(errno.EPIPE, "the client did not read the answer in time") from None


def read_ahead(conn) -> int | None:
    """Bytes the connection's parser has already read past the last request; None without an HTTP/1 parser."""
    unreader = getattr(conn.parser, "unreader", None)
    return None if unreader is None else unreader.buf.getbuffer().nbytes


def request_arrived(conn) -> bool:
    """Whether a kept-alive connection holds one whole request, headers and body, not chunked.

    Such a request can be read without waiting on the client. Looks without taking anything.
    """
    if read_ahead(conn) != 0:
        return False
    try:
        data = conn.sock.peek(PEEK)
    except OSError:
        return False
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return False
    length = 0
    for line in data[:end].lower().split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip(), value.strip()
        if name == b"transfer-encoding" or (name == b"expect" and value):
            return False
        if name == b"content-length":
            if not value.isdigit():
                return False
            length = int(value)
    return len(data) >= end + 4 + length
