"""One model per service: gunicorn's master reads the model once; workers, first or restarted, serve those bytes.

A real gunicorn on a loopback port. The files on disk change under it (a new metadata.json, a
truncated model.onnx) and a worker is killed: its replacement must serve the same model, and
the service must keep answering. SIGHUP is the one way to load what is on disk, and only when
it passes the start-up checks.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from mlops import http
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


def replaced(server, pid: int, seconds: float = 30) -> int:
    """The pid of the worker that replaced `pid`, once the master has started it."""
    others = set(server.workers()) - {pid}

    def replacement() -> int | None:
        workers = set(server.workers())
        return (workers - others).pop() if pid not in workers and len(workers) == 2 else None

    return wait_until(replacement, seconds, lambda: f"worker {pid} replaced: {server.stderr.read_text()}")


def served_by(server) -> set[int]:
    """The pids of the workers that answered a /predict so far (the JSON access log)."""
    lines = server.stdout.read_text().splitlines()
    return {entry["pid"] for entry in map(json.loads, lines) if entry["path"] == "/predict"}


def versions_until_served_by(server, pid: int, body: dict, seconds: float = 30) -> list[str]:
    """Post `body` until worker `pid` has answered some of the requests (for at most `seconds`); the versions."""
    versions = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        reply = http.request(server.url + "/predict", body)
        assert reply.status == 200, reply.body
        versions.append(reply.json()["model_version"])
        if len(versions) % 20 == 0 and pid in served_by(server):
            return versions
    raise AssertionError(f"worker {pid} answered none of {len(versions)} requests in {seconds} s")


@pytest.fixture
def model_copy(model_dir, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(model_dir, models)
    return models


def test_a_restarted_worker_serves_the_model_the_service_started_with(serve, model_copy, records):
    server = serve(model_copy)
    body = {"instances": records[:2]}
    metadata = json.loads((model_copy / "metadata.json").read_text())
    (model_copy / "metadata.json").write_text(json.dumps({**metadata, "version": "8"}))  # a new export, on disk
    first, second = server.workers()
    os.kill(first, signal.SIGKILL)
    versions = versions_until_served_by(server, replaced(server, first), body)
    assert set(versions) == {"7"}, versions

    (model_copy / "model.onnx").write_bytes((model_copy / "model.onnx").read_bytes()[:100])  # truncated on disk
    os.kill(second, signal.SIGTERM)
    versions = versions_until_served_by(server, replaced(server, second), body)
    assert set(versions) == {"7"}, versions
    assert server.process.poll() is None and len(server.workers()) == 2
    assert "Traceback" not in server.stderr.read_text()


def test_sighup_serves_the_files_on_disk_only_when_they_pass_the_checks(serve, model_copy, records):
    server = serve(model_copy)
    body = {"instances": records[:2]}
    original = (model_copy / "model.onnx").read_bytes()
    (model_copy / "model.onnx").write_bytes(b"\x08\x07garbage")
    before = server.workers()
    server.process.send_signal(signal.SIGHUP)
    after = wait_for_new_workers(server, before)
    assert {http.request(server.url + "/predict", body).json()["model_version"] for _ in range(10)} == {"7"}
    assert "reload: still serving model 7: " in server.stdout.read_text() + server.stderr.read_text()

    (model_copy / "model.onnx").write_bytes(original)
    metadata = json.loads((model_copy / "metadata.json").read_text())
    (model_copy / "metadata.json").write_text(json.dumps({**metadata, "version": "8"}))
    server.process.send_signal(signal.SIGHUP)
    wait_for_new_workers(server, after)
    assert {http.request(server.url + "/predict", body).json()["model_version"] for _ in range(10)} == {"8"}

    def without_the_old_version() -> str | None:  # the master forgets the old workers' metrics once it reaped them
        text = http.request(server.url + "/metrics").body.decode()
        return text if 'version="7"' not in text else None

    metrics = wait_until(without_the_old_version, 10, "the old workers' model version gone from /metrics")
    assert 'mlops_model_info{name="test-model",version="8"} 1.0' in metrics


def wait_for_new_workers(server, before: list[int], seconds: float = 60) -> list[int]:
    """The workers that replaced all of `before`, once they answer."""

    def replacements() -> list[int] | None:
        workers = server.workers()
        return workers if len(workers) == 2 and not set(workers) & set(before) else None

    workers = wait_until(replacements, seconds, lambda: f"workers {before} replaced: {server.stderr.read_text()}")
    server.wait_ready()
    return workers


def test_a_worker_that_cannot_start_never_takes_the_healthy_one_down(serve, records, tmp_path):
    """A replacement worker that fails to start (here: its metrics directory is gone) is retried, alone."""
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    server = serve(PROMETHEUS_MULTIPROC_DIR=str(metrics))
    body = {"instances": records[:2]}
    first, second = server.workers()
    deadline = time.monotonic() + 30  # both workers up and each has predicted: their metric files are open
    while served_by(server) != {first, second}:
        assert time.monotonic() < deadline, server.stderr.read_text()
        assert http.request(server.url + "/predict", body).status == 200
    shutil.rmtree(metrics)
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while server.stderr.read_text().count("could not load the model") < 2:  # replacements fail, a second apart
        assert time.monotonic() < deadline, server.stderr.read_text()
        assert http.request(server.url + "/predict", body).status == 200  # meanwhile the healthy worker answers
        time.sleep(0.1)
    assert server.process.poll() is None and second in server.workers()
    metrics.mkdir()  # what the worker needs is back: the next replacement starts, stays and serves
    deadline = time.monotonic() + 30
    while not (started := set(server.workers()) - {second}) or not stays(server, started.pop()):
        assert time.monotonic() < deadline, server.stderr.read_text()
    versions_until_served_by(server, (set(server.workers()) - {second}).pop(), body)


def stays(server, pid: int) -> bool:
    """Whether worker `pid` is still there 1.5 s later (a failing one leaves within about a second)."""
    time.sleep(1.5)
    return pid in server.workers()


def test_a_worker_that_cannot_load_leaves_without_stopping_the_master(tmp_path):
    """gunicorn stops every worker when one exits with its boot-error status (3); ours exits 1 instead."""
    code = "from mlops.serving.app import worker_app; worker_app()"
    env = {**os.environ, "MLOPS_MODEL_DIR": str(tmp_path / "missing")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "could not load the model" in lines[0] and "metadata.json not found" in lines[0]
