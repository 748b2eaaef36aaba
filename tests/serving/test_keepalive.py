"""Kept-alive connections: served by the worker's main loop, spread evenly over the workers.

mlops/serving/worker.py serves a kept-alive connection's next request in its main loop when the
request has arrived whole; mlops/serving/balance.py keeps the open connections of a client
that holds several (a load balancer, a benchmark) evenly spread over the workers.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import socket
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.http.unreader import SocketUnreader

from mlops.serving.balance import Peers
from mlops.serving.connection import ClientSocket, request_arrived


def arrived(data: bytes, buffered: bytes = b"") -> bool:
    """request_arrived for a connection on which `data` has arrived (and `buffered` was read ahead)."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        if data:
            theirs.sendall(data)
        sock = ClientSocket(ours, 5)
        unreader = SocketUnreader(sock)
        unreader.unread(buffered)
        result = request_arrived(SimpleNamespace(sock=sock, parser=SimpleNamespace(unreader=unreader)))
        assert ours.recv(len(data) + 1, socket.MSG_DONTWAIT) == data if data else True  # nothing taken
        return result


HEAD = b"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"


@pytest.mark.parametrize(
    ("data", "whole"),
    [
        (b"GET /ready HTTP/1.1\r\nHost: test\r\n\r\n", True),
        (HEAD + b"Content-Length: 5\r\n\r\n[1,2]", True),
        (HEAD + b"content-length:  5 \r\n\r\n[1,2]", True),
        (HEAD + b"Content-Length: 5\r\n\r\n[1,", False),  # the body is still coming
        (HEAD + b"Content-Length: 5\r\n", False),  # the headers are still coming
        (b"", False),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\n[1,2]\r\n0\r\n\r\n", False),  # a thread reads chunks
        (HEAD + b"Expect: 100-continue\r\nContent-Length: 5\r\n\r\n", False),  # it waits for 100 Continue
        (HEAD + b"Content-Length: -5\r\n\r\n", False),  # gunicorn refuses it, in a thread
    ],
)
def test_a_request_is_served_by_the_main_loop_only_when_it_has_arrived_whole(data, whole):
    assert arrived(data) is whole


def test_a_connection_with_bytes_read_ahead_goes_to_a_thread():
    assert arrived(b"GET /ready HTTP/1.1\r\n\r\n", buffered=b"GET /ready HTTP/1.1\r\n\r\n") is False


def _peer(peers: Peers, connections: int, joined: multiprocessing.Event, done: multiprocessing.Event) -> None:
    peers.join()
    peers.publish(connections)
    joined.set()
    done.wait(30)


def test_workers_share_their_connection_counts_and_the_least_busy_takes_the_next():
    peers = Peers(4)
    peers.join()
    assert peers.least_of_others() is None and peers.may_take(50) and not peers.holds_too_many(50)
    context = multiprocessing.get_context("fork")  # as gunicorn's workers share the master's table
    joined, done = context.Event(), context.Event()
    other = context.Process(target=_peer, args=(peers, 3, joined, done))
    other.start()
    try:
        assert joined.wait(30)
        assert peers.least_of_others() == 3
        assert peers.may_take(3) and not peers.may_take(4)
        assert peers.holds_too_many(5) and not peers.holds_too_many(4)
    finally:
        done.set()
        other.join(30)
    peers.leave(other.pid)  # the master frees an exited worker's slot
    assert peers.least_of_others() is None


def test_a_table_with_no_free_slot_leaves_a_worker_out_and_taking_connections():
    peers = Peers(1)
    peers.pids[0] = os.getpid() + 100_000  # another worker's
    peers.join()
    assert peers.slot is None and peers.may_take(1000)


def post(connection: http.client.HTTPConnection, records) -> tuple[int, dict, dict]:
    connection.request("POST", "/predict", json.dumps({"instances": records}), {"Content-Type": "application/json"})
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), json.loads(response.read())


@pytest.mark.slow
def test_requests_on_kept_alive_connections_are_answered_in_order(serve, records, expected):
    server = serve()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    for count in [1, 5, 2, 7, 3] * 4:
        status, headers, answer = post(connection, records[:count])
        assert status == 200 and answer["predictions"] == expected[0][:count]
        assert headers.get("Connection", "keep-alive").lower() != "close"
    connection.close()
    # Two requests sent at once: the second waits in the parser's read-ahead, and is answered too.
    body = json.dumps({"instances": records[:2]}).encode()
    request = HEAD + b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request + request.replace(b"Host: test", b"Host: test\r\nConnection: close"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    predictions = json.dumps(expected[0][:2], separators=(",", ":")).encode()
    assert data.count(b"HTTP/1.1 200 OK") == 2 and data.count(predictions) == 2


@pytest.mark.slow
def test_a_client_that_does_not_read_its_answers_does_not_stall_other_clients(serve, records, expected):
    server = serve(workers=1)
    reader = socket.socket()
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reader.connect(("127.0.0.1", server.port))
    big = json.dumps({"instances": records * (9_000 // len(records))}).encode()
    request = HEAD + b"Content-Length: %d\r\n\r\n%s" % (len(big), big)
    stop = threading.Event()

    def send_and_never_read():
        while not stop.is_set():
            try:
                reader.sendall(request)
            except OSError:
                return
            time.sleep(0.05)

    sender = threading.Thread(target=send_and_never_read, daemon=True)
    sender.start()
    try:
        time.sleep(1)
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        latencies = []
        for _ in range(20):
            started = time.monotonic()
            status, _, answer = post(connection, records[:3])
            latencies.append(time.monotonic() - started)
            assert status == 200 and answer["predictions"] == expected[0][:3]
        assert max(latencies) < 1, latencies
    finally:
        stop.set()
        reader.close()
        sender.join(10)


def connections_per_worker(server) -> list[int]:
    """How many of the clients' open connections each worker process holds (from /proc)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, state, inode = int(fields[1].split(":")[1], 16), fields[3], fields[9]
        if local_port == server.port and state == "01":  # ESTABLISHED
            inodes.add(f"socket:[{inode}]")
    counts = []
    for pid in server.workers():
        descriptors = Path(f"/proc/{pid}/fd").iterdir()
        counts.append(sum(1 for fd in descriptors if os.readlink(fd) in inodes))
    return counts


@pytest.mark.slow
def test_a_client_that_holds_many_connections_has_them_spread_evenly_over_the_workers(serve, records, expected):
    server = serve(workers=2)
    connections = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=10) for _ in range(8)]
    for connection in connections:  # opened one after the other, as a load balancer's pool grows
        connection.connect()
    for _ in range(5):
        for connection in connections:  # a worker holding two more than the other closes one
            status, _, answer = post(connection, records[:1])
            assert status == 200 and answer["predictions"] == expected[0][:1]
    for connection in connections:
        if connection.sock is None:  # closed by the service: the client reconnects, as clients do
            post(connection, records[:1])
    counts = connections_per_worker(server)
    assert sum(counts) == 8 and max(counts) - min(counts) <= 1, counts
    for connection in connections:
        connection.close()
