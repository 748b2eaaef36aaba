"""The service under a real gunicorn on a loopback port: start-up checks, load, worker crashes, shutdown.

wrk (apt package `wrk`) drives the load; the tests that need it skip, saying so, without it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from mlops import http

pytestmark = pytest.mark.slow
needs_wrk = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)")
CONNECTIONS = 4


def post_json(url: str, body) -> dict:
    reply = http.request(url, body)
    assert reply.status == 200, reply.body
    return reply.json()


def wrk(url: str, seconds: int, body: dict, workdir) -> dict[str, float]:
    script = workdir / "post.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {json.dumps(json.dumps(body))}\n"
    )
    output = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", str(script), url + "/predict"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result = {
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
    }
    print(f"wrk {seconds}s: {result}\n{output}")
    return result


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))


def test_serves_predictions_and_counts_them_across_workers(serve, records, expected):
    server = serve()
    assert len(server.workers()) == 2
    for _ in range(10):
        assert post_json(server.url + "/predict", {"instances": records})["predictions"] == expected[0]
    metrics = http.request(server.url + "/metrics").body.decode()
    assert 'mlops_requests_total{route="/predict",status="200"} 10.0' in metrics
    assert 'mlops_model_info{name="test-model",version="7"} 1.0' in metrics
    access = [json.loads(line) for line in server.stdout.read_text().splitlines()]
    assert sum(1 for entry in access if entry["path"] == "/predict" and entry["status"] == 200) == 10


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "model.onnx").write_bytes(b"\x08\x07garbage"), "model.onnx could not be loaded"),
        (lambda d: (d / "metadata.json").write_text("{"), "metadata.json is not valid JSON"),
        (lambda d: shutil.rmtree(d), "metadata.json not found"),
    ],
)
def test_a_broken_model_stops_the_service_with_one_line(serve, model_dir, tmp_path, damage, message):
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    damage(broken)
    server = serve(broken, ready=False)
    assert server.process.wait(30) == 1
    stderr = server.stderr.read_text()
    errors = [line for line in stderr.splitlines() if line.startswith("mlops serve: error:")]
    assert len(errors) == 1 and message in errors[0], stderr
    assert "Traceback" not in stderr and "Booting worker" not in stderr


@needs_wrk
def test_thirty_seconds_at_saturation_all_succeed_and_memory_stays_flat(serve, records, tmp_path):
    server = serve()
    body = {"instances": records[:1]}
    wrk(server.url, 3, body, tmp_path)  # warm up: imports, allocator pools, first metric files
    before = {pid: rss_kib(pid) for pid in server.workers()}
    result = wrk(server.url, 30, body, tmp_path)
    after = {pid: rss_kib(pid) for pid in server.workers()}
    assert result["requests"] > 1000
    assert result["non_2xx"] == 0 and result["socket_errors"] == 0, result
    assert after.keys() == before.keys(), "a worker was replaced under load"
    for pid, kib in before.items():
        assert after[pid] < kib * 1.10, f"worker {pid} grew from {kib} KiB to {after[pid]} KiB"


@needs_wrk
def test_a_killed_worker_is_replaced_and_only_its_request_fails(serve, records, tmp_path):
    server = serve()
    original = server.workers()
    results = {}
    load = threading.Thread(target=lambda: results.update(wrk(server.url, 6, {"instances": records[:1]}, tmp_path)))
    load.start()
    time.sleep(2)
    os.kill(original[0], signal.SIGKILL)
    load.join()
    failed = results["non_2xx"] + results["socket_errors"]
    assert failed <= CONNECTIONS, f"{failed} failed requests; at most the {CONNECTIONS} in flight may fail"
    assert results["requests"] > 100
    workers = server.workers()
    assert len(workers) == 2 and original[0] not in workers
    assert http.request(server.url + "/ready").status == 200


def test_sigterm_lets_in_flight_requests_finish(serve, records, expected):
    server = serve()
    body = json.dumps({"instances": records}).encode()
    head = (
        f"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    connections = []
    for _ in range(2):  # one per worker: each is in the middle of reading its request
        connection = socket.create_connection(("127.0.0.1", server.port), timeout=20)
        connection.sendall(head.encode() + body[: len(body) // 2])
        connections.append(connection)
    time.sleep(0.5)
    server.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    for connection in connections:
        connection.sendall(body[len(body) // 2 :])
    for connection in connections:
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
        connection.close()
        status_line, _, payload = response.partition(b"\r\n")
        assert status_line.startswith(b"HTTP/1.1 200"), response[:300]
        assert json.loads(payload.split(b"\r\n\r\n", 1)[1])["predictions"] == expected[0]
    assert server.process.wait(15) == 0
