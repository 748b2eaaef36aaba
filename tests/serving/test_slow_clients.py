"""Slow and hostile clients, and shutdown, against the service under a real gunicorn on loopback.

The threaded worker (mlops/serving/worker.py): slow clients hold threads, not workers; a
request must arrive within MLOPS_READ_TIMEOUT; large bodies share a per-worker budget; a
SIGTERM serves every connection made before it. benchmarks/serving/slow_clients.py measures
the same at the scale of issue 23 (50 slow connections).
"""

from __future__ import annotations

import json
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import pytest

from mlops import http
from mlops.serving.connection import ClientSocket, ReadTimeout
from mlops.serving.worker import OneAtATime, Worker, read_timeout
from tests.conftest import REPO_ROOT

READ_TIMEOUT = 4


def predict_request(records, connection: str = "close") -> bytes:
    body = json.dumps({"instances": records}).encode()
    return (
        f"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: {connection}\r\n\r\n"
    ).encode() + body


def read_answer(sock: socket.socket) -> tuple[int, dict, bytes]:
    """Status, headers and body of one answer on a connection that then closes."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


class SlowClient:
    """One connection that sends `first` at once, then one byte of `rest` at a time."""

    def __init__(self, port: int, first: bytes, rest: bytes):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.sendall(first)
        self.opened = time.monotonic()
        self.answered: float | None = None  # when the service's answer (or close) arrived
        self.rest = rest
        self.sent = 0

    def send_one(self) -> None:
        self.sock.sendall(self.rest[self.sent : self.sent + 1])
        self.sent += 1


def slow_headers(port: int) -> SlowClient:
    return SlowClient(port, b"POST /predict HTTP/1.1\r\nHost: test\r\n", b"X-Slow: " + b"a" * 1000)


def slow_body(port: int, path: str = "/predict") -> SlowClient:
    head = f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    return SlowClient(port, head.encode(), b" " * 1000)


def trickle(clients: list[SlowClient], stop: threading.Event, interval: float = 0.5) -> None:
    """Send each client not yet answered a byte every `interval` s; note when each is answered."""
    selector = selectors.DefaultSelector()
    for client in clients:
        selector.register(client.sock, selectors.EVENT_READ, client)
    next_send = time.monotonic() + interval
    while selector.get_map() and not stop.is_set():
        for key, _ in selector.select(timeout=0.02):
            key.data.answered = time.monotonic()
            selector.unregister(key.fileobj)
        if time.monotonic() >= next_send:
            for key in selector.get_map().values():
                key.data.send_one()
            next_send += interval
    selector.close()


@pytest.mark.slow
def test_slow_clients_hold_threads_not_workers_and_are_cut_off_at_the_read_deadline(serve, records, expected):
    server = serve(MLOPS_READ_TIMEOUT=str(READ_TIMEOUT))
    clients = [slow_headers(server.port) for _ in range(10)] + [slow_body(server.port) for _ in range(8)]
    v2 = [slow_body(server.port, "/v2/models/test-model/infer") for _ in range(2)]  # errors in V2's form
    clients += v2
    stop = threading.Event()
    sender = threading.Thread(target=trickle, args=(clients, stop))
    sender.start()
    try:
        latencies = []
        while time.monotonic() - clients[-1].opened < READ_TIMEOUT - 2:
            started = time.monotonic()
            reply = http.request(server.url + "/predict", {"instances": records[:3]}, timeout=10)
            latencies.append(time.monotonic() - started)
            assert reply.status == 200 and reply.json()["predictions"] == expected[0][:3]
        # Every slow client still holds its connection: the prober was served beside them,
        # where a sync worker would have been reading one of them.
        assert all(client.answered is None for client in clients)
        assert len(latencies) >= 5 and max(latencies) < 1, latencies
        sender.join(READ_TIMEOUT + 5)
        answers, v2_errors = [], []
        for client in clients:
            status, headers, body = read_answer(client.sock)
            seconds = client.answered - client.opened
            if client in v2:
                v2_errors.append(json.loads(body)["error"])
                continue
            answers.append((status, headers["Connection"], json.loads(body)["error"]["code"], round(seconds, 2)))
    finally:
        stop.set()
        sender.join()
    assert {answer[:3] for answer in answers} == {(408, "close", "request_timeout")}, answers
    assert v2_errors == [f"the request was not received within {READ_TIMEOUT} s"] * 2
    # Counted from the first byte; the answer leaves as the deadline passes.
    assert all(READ_TIMEOUT - 0.5 < answer[3] < READ_TIMEOUT + 1 for answer in answers), answers
    assert http.request(server.url + "/ready").status == 200
    assert server.stderr.read_text().count("Booting worker") == 2, "a worker was restarted"


@pytest.mark.slow
def test_more_slow_clients_than_threads_delay_others_until_their_deadline(serve, records):
    """The bound docs/serving.md states: past workers x threads, slow clients do queue others."""
    server = serve(workers=1, MLOPS_THREADS="2", MLOPS_READ_TIMEOUT="2")
    clients = [slow_headers(server.port) for _ in range(2)]
    time.sleep(0.2)
    started = time.monotonic()
    reply = http.request(server.url + "/predict", {"instances": records[:1]}, timeout=10)
    waited = time.monotonic() - started
    assert reply.status == 200 and 1.5 < waited < 3.5, waited
    assert [read_answer(client.sock)[0] for client in clients] == [408, 408]


@pytest.mark.slow
def test_large_bodies_share_a_budget_and_small_requests_are_still_served(serve, records, expected):
    # One worker taking bodies of at most 100 kB holds at most 200 kB of large bodies at once.
    server = serve(workers=1, MLOPS_READ_TIMEOUT=str(READ_TIMEOUT), MLOPS_MAX_BODY_BYTES="100000")
    head = b"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 99000\r\n\r\n"
    holders = []
    for _ in range(2):
        holders.append(socket.create_connection(("127.0.0.1", server.port), timeout=10))
        holders[-1].sendall(head + b" " * 95000)  # and never the rest: about 90 kB held each
    time.sleep(0.5)
    third = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    third.sendall(head + b" " * 95000)
    status, headers, body = read_answer(third)
    assert status == 503 and headers["Retry-After"] == "1"
    assert json.loads(body)["error"]["code"] == "busy"
    reply = http.request(server.url + "/predict", {"instances": records[:2]})
    assert reply.status == 200 and reply.json()["predictions"] == expected[0][:2]
    assert [read_answer(sock)[0] for sock in holders] == [408, 408]
    # The cut-off bodies gave their share back: a large body is taken again.
    rows = records * (80_000 // len(json.dumps(records)) + 1)
    assert 64 * 1024 < len(json.dumps({"instances": rows})) < 100_000
    reply = http.request(server.url + "/predict", {"instances": rows})
    assert reply.status == 200 and len(reply.json()["predictions"]) == len(rows)
    # A chunked body past the limit is refused, and its connection closed with its rest unread.
    body = json.dumps({"instances": records * 30}).encode()
    pieces = [body[i : i + 4096] for i in range(0, len(body), 4096)]
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces)
    head = b"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
    head += b"Transfer-Encoding: chunked\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head + chunked + b"0\r\n\r\n")
        status, headers, _ = read_answer(sock)
    assert len(body) > 100_000 and 400 <= status < 500 and headers["Connection"] == "close"


@pytest.mark.slow
def test_sigterm_answers_every_connection_made_before_it(serve, records, expected):
    # A worker holding at most two connections: the others wait in the kernel's queue, as
    # connections do under load; each has sent its whole request before the signal.
    server = serve(workers=1, MLOPS_THREADS="2", MLOPS_WORKER_CONNECTIONS="2")
    connections = []
    for _ in range(8):
        connections.append(socket.create_connection(("127.0.0.1", server.port), timeout=20))
        connections[-1].sendall(predict_request(records, connection="keep-alive"))
    server.process.send_signal(signal.SIGTERM)
    for sock in connections:
        with sock:
            status, headers, body = read_answer(sock)  # read to the end: no reset
        assert status == 200 and headers["Connection"] == "close"
        assert json.loads(body)["predictions"] == expected[0]
    assert server.process.wait(15) == 0
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=5)


@pytest.mark.slow
def test_a_client_that_expects_100_continue_gets_it_before_sending_its_body(serve, records, expected):
    server = serve()
    request = predict_request(records)
    head, _, body = request.partition(b"\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head + b"\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        status, _, answer = read_answer(sock)
    assert status == 200 and json.loads(answer)["predictions"] == expected[0]


class Heartbeat:
    def __init__(self):
        self.beats = 0

    def notify(self):
        self.beats += 1


def test_a_request_running_past_the_timeout_stops_the_heartbeat_so_the_master_replaces_the_worker():
    worker = object.__new__(Worker)  # the real class, without a gunicorn master around it
    worker.cfg, worker.tmp = SimpleNamespace(timeout=30), Heartbeat()
    worker.wsgi = OneAtATime(lambda environ, start_response: [b""])
    worker.notify()
    worker.wsgi.busy_since = time.monotonic() - 10
    worker.notify()
    worker.wsgi.busy_since = time.monotonic() - 31
    worker.notify()
    assert worker.tmp.beats == 2


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("MLOPS_READ_TIMEOUT", "soon", "MLOPS_READ_TIMEOUT='soon' must be a number above 0 and at most 3600"),
        ("MLOPS_READ_TIMEOUT", "0", "MLOPS_READ_TIMEOUT='0' must be a number above 0 and at most 3600"),
        ("MLOPS_THREADS", "2.5", "MLOPS_THREADS='2.5' must be a whole number above 0 and at most 1024"),
        ("MLOPS_WORKER_CONNECTIONS", "-1", "MLOPS_WORKER_CONNECTIONS='-1' must be a whole number above 0"),
    ],
)
def test_a_bad_worker_setting_stops_the_service_with_one_line(variable, value, message):
    result = subprocess.run(
        [sys.executable, "-m", "mlops.serving", "serve"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", variable: value},
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"mlops serve: error: {message}") and result.stderr.count("\n") == 1


def test_the_reads_of_a_request_share_one_deadline_from_its_first_byte():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        client = ClientSocket(ours, 0.5)
        client.arm()
        theirs.sendall(b"G")
        started = time.monotonic()
        assert client.recv(10) == b"G"
        theirs.sendall(b"E")
        time.sleep(0.3)
        assert client.recv(10) == b"E"  # a byte now and then does not extend the deadline
        with pytest.raises(ReadTimeout):
            client.recv(10)
        assert 0.45 < time.monotonic() - started < 0.7
        client.arm()  # the next request on the connection starts afresh
        theirs.sendall(b"T")
        assert client.recv(10) == b"T"


def test_an_answer_the_client_does_not_read_in_time_ends_as_a_broken_pipe():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        client = ClientSocket(ours, 0.3)
        started = time.monotonic()
        with pytest.raises(BrokenPipeError):
            client.sendall(b"x" * 10_000_000)  # never read
        assert time.monotonic() - started < 1


def test_the_documented_worker_settings_are_the_configured_defaults():
    configured = subprocess.run(
        [sys.executable, "-c", "import json, mlops.serving.gunicorn_conf as c; "
         "print(json.dumps([c.threads, c.worker_connections, c.timeout, c.graceful_timeout, c.keepalive]))"],
        capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"},
    ).stdout  # fmt: skip
    threads, connections, timeout, graceful, keepalive = json.loads(configured)
    docs = (REPO_ROOT / "docs/serving.md").read_text()
    documented = dict(re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", docs, re.M))
    assert f"kept alive between requests for {keepalive} s" in " ".join(docs.split())
    assert documented["MLOPS_THREADS"] == str(threads)
    assert documented["MLOPS_WORKER_CONNECTIONS"] == str(connections)
    assert documented["MLOPS_READ_TIMEOUT"] == f"{read_timeout({}):g}"
    assert documented["MLOPS_TIMEOUT"] == str(timeout)
    assert documented["MLOPS_GRACEFUL_TIMEOUT"] == str(graceful)
