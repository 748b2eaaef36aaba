"""A real `mlflow server` on 127.0.0.1 for the tests that need a team's tracking server."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from mlops.http import free_port
from tests.waiting import wait_for_url

BIN = Path(sys.executable).parent


def stop(process: subprocess.Popen) -> None:
    """Stop a server started in a session of its own, its workers with it."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def mlflow_server(folder: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """MLflow's own server (SQLite store, artifacts served by it) while the block runs; its URL."""
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
         "--artifacts-destination", str(folder / "artifacts"), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env or dict(os.environ), start_new_session=True,
    )  # fmt: skip
    try:
        # 600 s: a start-up limit on a busy machine, not a speed check
        wait_for_url(f"http://127.0.0.1:{port}/health", 600, "mlflow server", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)
