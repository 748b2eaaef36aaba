"""The service under a real gunicorn on a loopback port: start-up checks, load, worker crashes, shutdown.

wrk (apt package `wrk`) drives the load; the tests that need it skip, saying so, without it.
"""

from __future__ import annotations

import http.client as http_client
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


def chunked_post(server, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    """POST `body` with Transfer-Encoding: chunked (no Content-Length), in 4 KiB chunks."""
    connection = http_client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        chunks = (body[start : start + 4096] for start in range(0, len(body), 4096))
        connection.request("POST", path, chunks, {"Content-Type": content_type}, encode_chunked=True)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_a_chunked_body_over_the_limit_is_refused_on_every_route(serve, records):
    """Each body's first LIMIT bytes are a whole valid request: cut at the limit, it would be answered."""
    limit = 65_536
    vertex = "/vertex/predict"
    server = serve(MLOPS_MAX_BODY_BYTES=str(limit), AIP_PREDICT_ROUTE=vertex)
    complete = [r for r in records if None not in r.values()][:5]
    datatype = {name: "BYTES" if name == "color" else "FP64" for name in complete[0]}
    v2 = {
        "inputs": [
            {"name": n, "shape": [5], "datatype": t, "data": [r[n] for r in complete]} for n, t in datatype.items()
        ]
    }
    json_requests = {
        "/predict": {"instances": complete},
        "/invocations": {"dataframe_records": complete},
        "/v1/models/test-model:predict": {"instances": complete},
        "/v2/models/test-model/infer": v2,
        vertex: {"instances": complete},
    }
    line = "{size},{weight},{color},{grade}\n".format(**complete[0]).encode()
    row = b" " * (4096 - len(line)) + line  # a padded number is still that number; 16 rows fill the limit
    for path, request in json_requests.items():
        valid = json.dumps(request).encode()
        exact = valid + b" " * (limit - len(valid))
        status, answer = chunked_post(server, path, exact, "application/json")
        assert status == 200, (path, answer[:300])
        status, answer = chunked_post(server, path, exact + b" " * 225, "application/json")
        assert status == 413 and b"larger than 65536 bytes" in answer, (path, status, answer[:300])
    status, answer = chunked_post(server, "/invocations", row * 16, "text/csv")
    assert status == 200 and len(json.loads(answer)["predictions"]) == 16, answer[:300]
    status, answer = chunked_post(server, "/invocations", row * 16 + line, "text/csv")
    assert status == 413 and b"larger than 65536 bytes" in answer, (status, answer[:300])
    with_length = http.request(server.url + "/invocations", row * 16 + line, content_type="text/csv")
    assert with_length.status == 413
    # Chunks that go wrong just past the limit (a chunk size that is not hexadecimal): a 400, not a 500.
    head = b"POST /invocations HTTP/1.1\r\nHost: test\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        connection.sendall(head + b"%x\r\n" % limit + row * 16 + b"\r\nzz\r\n")
        assert connection.recv(65536).startswith(b"HTTP/1.1 400 ")
