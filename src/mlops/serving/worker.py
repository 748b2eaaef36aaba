"""The gunicorn worker the service runs: gunicorn's threaded worker, made safe against slow clients.

A sync worker reads a request while it does nothing else, so two clients that send a byte
every few seconds stall a two-worker service. Here:
- threads receive requests: a slow client holds one thread, not the worker;
- a request's headers and body must arrive within MLOPS_READ_TIMEOUT seconds of its first
  byte, or the client gets 408 and the connection closes; answers must be read as promptly;
- the whole body is received before the application runs (as a buffering proxy would), and
  the application runs one request at a time per worker, as under the sync worker: the model
  work is CPU-bound, and one parse at a time keeps a worker's memory to one request's;
- a kept-alive connection whose next request has already arrived whole is served by the main
  loop itself, as a sync worker serves, without the two thread switches a hand-off costs;
  open connections spread evenly over the workers (mlops/serving/balance.py);
- bodies over SMALL_BODY bytes share a per-worker budget of BODY_BUDGET_BODIES largest
  bodies (MLOPS_MAX_BODY_BYTES each): past it, 503 with Retry-After, so many large bodies
  sent at once cannot exhaust memory;
- a request that runs longer than MLOPS_TIMEOUT stops the worker's heartbeat, and the master
  replaces the worker, as it replaces a stuck sync worker;
- on SIGTERM the worker also serves the connections the kernel had already queued for it:
  a connection made before the signal gets its answer, not a reset.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import threading
import time
from concurrent import futures

import orjson
from gunicorn import util
from gunicorn.http.body import LengthReader
from gunicorn.http.errors import ChunkMissingTerminator, InvalidChunkExtension, InvalidChunkSize, NoMoreData
from gunicorn.workers.gthread import TConn, ThreadWorker

from mlops.serving.balance import Peers
from mlops.serving.connection import ClientSocket, ReadTimeout, read_ahead, request_arrived
from mlops.serving.validation import RequestError

READ_TIMEOUT_VARIABLE = "MLOPS_READ_TIMEOUT"
DEFAULT_READ_TIMEOUT = 10.0
SMALL_BODY = 64 * 1024  # bodies up to this size are always received: at most threads x 64 KiB
BODY_BUDGET_BODIES = 2  # bytes of larger bodies a worker holds at once, in largest bodies
REFUSED_LINGER = 0.5  # seconds a refused client's connection waits to close: it may be an attacker
CHUNK = 8192  # what one read takes from the socket: the budget counts bytes as they arrive


def setting(environ, name: str, default: int | float, most: int | float) -> int | float:
    """A number from the environment (`default` when unset), above 0 and at most `most`.

    Whole if `default` is; a ValueError that names the variable otherwise.
    """
    text = (environ.get(name) or "").strip() or str(default)
    kind = type(default)
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not 0 < value <= most:
        whole = "a whole number" if kind is int else "a number"
        raise ValueError(f"{name}={text!r} must be {whole} above 0 and at most {most}")
    return value


def read_timeout(environ) -> float:
    return setting(environ, READ_TIMEOUT_VARIABLE, DEFAULT_READ_TIMEOUT, 3600)


class Busy(Exception):
    """The worker holds as many large bodies as its budget allows."""


class MalformedBody(Exception):
    """A chunked body's framing is broken (a chunk size that is not hexadecimal, a missing terminator)."""


class OneAtATime:
    """The WSGI app run by one thread at a time, its answer collected before the next runs.

    The answer is written to the client after the lock is released, so a client that reads
    slowly holds its own thread only. `busy_since` tells how long the running request has run.
    Other attributes are the app's (the gunicorn hooks read the Flask app's extensions).
    """

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.busy_since: float | None = None

    def __getattr__(self, name):
        return getattr(self.app, name)

    def __call__(self, environ, start_response):
        with self.lock:
            self.busy_since = time.monotonic()
            try:
                result = self.app(environ, start_response)
                try:
                    return list(result)
                finally:
                    close = getattr(result, "close", None)
                    if close is not None:
                        close()
            finally:
                self.busy_since = None


class BodyBudget:
    """Bytes of large request bodies a worker holds at once."""

    def __init__(self, limit: int):
        self.limit = limit
        self.held = 0
        self.lock = threading.Lock()

    def take(self, size: int) -> bool:
        with self.lock:
            if self.held + size > self.limit:
                return False
            self.held += size
            return True

    def give_back(self, size: int) -> None:
        with self.lock:
            self.held -= size


class Worker(ThreadWorker):
    """gunicorn's gthread worker with read deadlines, buffered bodies and a draining shutdown."""

    peers: Peers | None = None
    BALANCE_CHECK = 0.01  # seconds between looks at the other workers while this one takes no connection

    @classmethod
    def check_config(cls, cfg, log):
        """In the master, before it starts workers: the table they share (mlops/serving/balance.py)."""
        super().check_config(cfg, log)
        if cls.peers is None:
            cls.peers = Peers(max(2 * cfg.workers, 8))

    def init_process(self):
        self.read_timeout = read_timeout(os.environ)
        if self.peers is not None:
            self.peers.join()
        super().init_process()

    def wait_for_and_dispatch_events(self, timeout):
        if self.peers is None:
            super().wait_for_and_dispatch_events(timeout)
            return
        self.peers.publish(self.nr_conns)
        if not self.alive:  # shutting down: no longer accepting
            super().wait_for_and_dispatch_events(timeout)
            return
        self.set_accept_enabled(self.nr_conns < self.worker_connections)
        super().wait_for_and_dispatch_events(timeout if self._accepting else self.BALANCE_CHECK)

    def load_wsgi(self):
        super().load_wsgi()
        self.max_body = getattr(self.wsgi, "config", {}).get("MAX_CONTENT_LENGTH") or 16 * 1024 * 1024
        self.body_budget = BodyBudget(BODY_BUDGET_BODIES * self.max_body)
        self.wsgi = OneAtATime(self.wsgi)
        # What start-up built (the app, the model, the libraries) lives as long as the worker: kept out
        # of the collector's sweeps, a full collection no longer walks it, and requests' p99 halves.
        gc.collect()
        gc.freeze()

    def notify(self):
        """Skip the heartbeat while one request has run longer than the timeout: the master then
        replaces this worker, as it replaces a sync worker stuck in a request."""
        since = getattr(getattr(self, "wsgi", None), "busy_since", None)
        if since is not None and time.monotonic() - since > self.cfg.timeout:
            return
        super().notify()

    def handle(self, conn):
        if not isinstance(conn.sock, ClientSocket):
            conn.sock = ClientSocket(conn.sock, self.read_timeout)
        conn.sock.arm()
        try:
            result = super().handle(conn)
        finally:
            conn.sock.disarm()
        return self.closed_if_done(conn, result)

    def closed_if_done(self, conn, result):
        if result is False:
            # Closed here, not by gunicorn in the main loop: a graceful close waits for the client
            # to stop sending, and a slow client would keep the loop from accepting meanwhile.
            conn.sock.setblocking(True)
            util.close_graceful(conn.sock, timeout=conn.sock.linger)
        return result

    def on_client_socket_readable(self, conn, client):
        """A kept-alive connection's next request. When it has arrived whole and the model is free, the
        main loop serves it, as a sync worker would, without handing it to a thread and back; the
        answer goes to a thread only if the client does not take it at once."""
        if self.wsgi.lock.locked() or not request_arrived(conn):
            super().on_client_socket_readable(conn, client)
            return
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        conn.sock.hold_writes()
        conn.sock.arm()
        try:
            result = ThreadWorker.handle(self, conn)
        finally:
            conn.sock.disarm()
        answer = conn.sock.held()
        try:
            sent = conn.sock.send_now(answer) if answer else 0
        except OSError:
            sent, result = len(answer), False
        if result is True and sent == len(answer):
            done = futures.Future()
            done.set_result(True)
            self.finish_request(conn, done)
            return
        later = self.tpool.submit(self.send_rest, conn, answer[sent:], result)
        later.add_done_callback(lambda fut: self.method_queue.defer(self.finish_request, conn, fut))

    def finish_request(self, conn, fs):
        super().finish_request(conn, fs)
        # A next request read ahead with the last (pipelined) leaves the socket quiet: serve it now.
        if conn in self.keepalived_conns and read_ahead(conn):
            self.poller.unregister(conn.sock)
            self.keepalived_conns.remove(conn)
            self.enqueue_req(conn)

    def send_rest(self, conn, rest: bytes, result):
        """In a thread: the rest of an answer the main loop could not send at once."""
        try:
            if rest:
                conn.sock.sendall(rest)
        except OSError:
            result = False
        return self.closed_if_done(conn, result)

    def handle_request(self, req, conn):
        if self.peers is not None and self.peers.holds_too_many(self.nr_conns):
            req.force_close()  # the client reconnects, to a worker that holds fewer connections
        held = self.receive_body(req, conn)
        conn.sock.disarm()
        try:
            return super().handle_request(req, conn)
        finally:
            if held:
                self.body_budget.give_back(held)

    def receive_body(self, req, conn) -> int:
        """Read the whole body into memory before the app runs; return the budget bytes it holds.

        A body declared larger than the app accepts is left unread (the app answers 413); a
        chunked one is read until it passes the limit, enough for the app to refuse it, and
        the connection then closes, its rest unread.
        """
        reader = req.body.reader
        declared = reader.length if isinstance(reader, LengthReader) else None
        if declared == 0:
            return 0
        if declared is not None and declared > self.max_body:
            req._expected_100_continue = False  # the client hears 413 at once, and keeps its body
            return 0
        if req._expected_100_continue:  # the client waits for this before it sends the body
            conn.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            req._expected_100_continue = False
        buffer, held = io.BytesIO(), 0
        try:
            while data := req.body.read(CHUNK):
                buffer.write(data)
                size = buffer.tell()
                # A body past the limit counts as the limit: the app refuses it, and two of them at
                # once (one answered, its budget not yet given back, and the next) fit the budget.
                counted = min(size, self.max_body)
                if counted > SMALL_BODY and counted > held:
                    if not self.body_budget.take(counted - held):
                        raise Busy
                    held = counted
                if size > self.max_body:
                    req.force_close()
                    break
            if declared is not None and buffer.tell() < declared:
                raise NoMoreData(b"")  # the client closed before its body was complete
        except BaseException as exc:
            if held:
                self.body_budget.give_back(held)
            if isinstance(exc, (InvalidChunkSize, ChunkMissingTerminator, InvalidChunkExtension)):
                raise MalformedBody(str(exc)) from exc  # gunicorn would take it for a socket error: no answer
            raise
        buffer.seek(0)
        req.body = buffer
        return held

    def handle_error(self, req, client, addr, exc):
        ip, path = (addr or ("",))[0], getattr(req, "path", None) or ""
        if isinstance(exc, (ReadTimeout, Busy, MalformedBody)):
            client.linger = REFUSED_LINGER
        if isinstance(exc, ReadTimeout):
            self.log.warning("request from %s not received within %g s: 408", ip, self.read_timeout)
            message = f"the request was not received within {self.read_timeout:g} s"
            write_error(client, path, "408 Request Timeout", "request_timeout", message)
        elif isinstance(exc, MalformedBody):
            message = f"the chunked body is malformed ({exc}): send well-formed chunks, or a Content-Length"
            write_error(client, path, "400 Bad Request", "invalid_body", message)
        elif isinstance(exc, Busy):
            self.log.warning("request from %s refused: the worker holds its budget of large bodies: 503", ip)
            message = "too many large requests are being received at once: retry"
            write_error(client, path, "503 Service Unavailable", "busy", message, retry_after=1)
        else:
            super().handle_error(req, client, addr, exc)

    def set_accept_enabled(self, enabled):
        if enabled and self.peers is not None and not self.peers.may_take(self.nr_conns):
            enabled = False  # another worker holds fewer connections: it takes the next
        if enabled or self.alive:
            super().set_accept_enabled(enabled)
            return
        # Shutting down: serve what the kernel has queued, then close the listening sockets, so
        # that once every process has closed them a new connection is refused, not queued and reset.
        self.accept_queued()
        super().set_accept_enabled(False)
        for listener in self.sockets:
            listener.close()

    def accept_queued(self):
        """On shutdown: take every connection the kernel has queued, to serve it before exiting."""
        for listener in self.sockets:
            listener.setblocking(False)
            while True:
                try:
                    sock, client = listener.accept()
                except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                    break
                self.nr_conns += 1
                sock.setblocking(True)
                self.enqueue_req(TConn(self.cfg, sock, client, listener.getsockname()))


def write_error(sock, path: str, status: str, code: str, message: str, retry_after: int | None = None) -> None:
    """A JSON error in the app's form for the path, then the connection closes."""
    from mlops.serving.app import error_body  # here: the master never imports the app

    body = orjson.dumps(error_body(path, RequestError(int(status.split()[0]), code, message)))
    head = f"HTTP/1.1 {status}\r\nConnection: close\r\nContent-Type: application/json\r\n"
    if retry_after is not None:
        head += f"Retry-After: {retry_after}\r\n"
    with contextlib.suppress(OSError):  # the client has gone: nothing to tell
        sock.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
