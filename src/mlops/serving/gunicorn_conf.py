"""gunicorn settings for the prediction service: `gunicorn -c python:mlops.serving.gunicorn_conf`.

Configured from the environment, so a container needs no other file:
  HOST (127.0.0.1)                    the address to listen on
  AIP_HTTP_PORT, SAGEMAKER_BIND_TO_PORT, PORT (8080)
                                      the port: the first of these set (Vertex AI, SageMaker,
                                      most other hosts), else 8080
  WEB_CONCURRENCY (CPU cores)         worker processes, each with its own copy of the model
  MLOPS_THREADS (64)                  threads per worker that receive requests and send answers
                                      (the model runs one request at a time per worker)
  MLOPS_WORKER_CONNECTIONS (128)      connections a worker holds at once, idle ones included
  MLOPS_READ_TIMEOUT (10)             seconds from a request's first byte to its last; later: 408
  MLOPS_TIMEOUT (30)                  seconds a request may take before its worker is restarted
  MLOPS_GRACEFUL_TIMEOUT (25)         seconds in-flight requests get to finish on SIGTERM
                                      (under the 30 s SageMaker and most orchestrators allow)
  MLOPS_MODEL_DIR (models)            the export stage's output
  MLOPS_LOG_LEVEL (info)

The master reads the model once and checks it (and verifies its signature when a key or
signer is configured, docs/serving.md) before starting any worker: a missing, broken or
unsigned model stops the service with one line on stderr and exit status 1. Workers serve
those bytes; SIGHUP reads the files again and keeps the old model if the new one fails.
Access logs are JSON lines on stdout. Only temporary directories are written (metrics files,
worker heartbeats).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import sys
import tempfile
import time

from gunicorn.glogging import Logger

from mlops.exported import StartupError, configured_model_dir
from mlops.serving import runtime, startup
from mlops.serving.ports import listen_port
from mlops.serving.worker import read_timeout, setting

wsgi_app = "mlops.serving.app:worker_app()"
try:
    bind = f"{os.environ.get('HOST', '127.0.0.1')}:{listen_port(os.environ)}"
except ValueError as exc:
    sys.exit(f"mlops serve: error: {exc}")
workers = int(os.environ.get("WEB_CONCURRENCY") or len(os.sched_getaffinity(0)))
# Threads receive requests, the model runs one at a time per worker (mlops/serving/worker.py).
worker_class = "mlops.serving.worker.Worker"
try:
    threads = setting(os.environ, "MLOPS_THREADS", 64, 1024)
    worker_connections = setting(os.environ, "MLOPS_WORKER_CONNECTIONS", 128, 65536)
    read_timeout(os.environ)  # the worker reads it; a bad value stops the service here, in one line
except ValueError as exc:
    sys.exit(f"mlops serve: error: {exc}")
timeout = int(os.environ.get("MLOPS_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("MLOPS_GRACEFUL_TIMEOUT", "25"))
keepalive = 5
loglevel = os.environ.get("MLOPS_LOG_LEVEL", "info")
accesslog = "-"
errorlog = "-"
control_socket_disable = True  # gunicornc's socket would be written under $HOME
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # heartbeat files in memory, not on disk
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


class JsonAccessLogger(Logger):
    """One JSON object per request on the access log."""

    def access(self, resp, req, environ, request_time):
        if not (self.cfg.accesslog or self.cfg.logconfig or self.cfg.syslog):
            return
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "remote": environ.get("REMOTE_ADDR"),
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "status": int(str(resp.status).split(None, 1)[0]),
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "user_agent": environ.get("HTTP_USER_AGENT"),
            "pid": os.getpid(),
        }
        try:
            self.access_log.info(json.dumps(entry))
        except Exception:
            self.exception("could not write the access log")


logger_class = JsonAccessLogger


def on_starting(server):
    """In the master, before any worker: read, verify and check the model once; prepare the metrics directory.

    Workers build their model from the bytes read here, never from the disk: a worker restarted
    later serves the same model whatever the files hold by then (SIGHUP reads them again).
    """
    model_dir = configured_model_dir()
    # The check builds the model in a forked child: an onnxruntime session created here would be
    # inherited by every forked worker, whose exit then hangs in onnxruntime's teardown.
    try:
        runtime.serve_files(startup.prepare(model_dir))
    except StartupError as exc:
        print(f"mlops serve: error: {exc}", file=sys.stderr)
        sys.exit(1)
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:  # given: start from zero, as prometheus_client requires
        for name in glob.glob(os.path.join(directory, "*.db")):
            os.unlink(name)
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = server._mlops_metrics_dir = tempfile.mkdtemp(prefix="mlops-metrics-")
    server.log.info("model %s in %s passed its start-up check", runtime.served_files().version, model_dir)


def on_reload(server):
    """SIGHUP, before gunicorn replaces the workers: the new ones serve the files on disk if they pass the
    start-up checks; if not, they serve the model of the old ones and the log says why."""
    model_dir = configured_model_dir()
    current = runtime.served_files()
    try:
        files = startup.prepare(model_dir)
    except StartupError as exc:
        server.log.error("reload: still serving model %s: %s", current.version if current else "?", exc)
        return
    runtime.serve_files(files)
    server.log.info("reload: serving model %s from %s", files.version, model_dir)


def worker_exit(server, worker):
    """Write the prediction log's queued rows before the worker goes (SIGTERM, max requests)."""
    app = getattr(worker, "wsgi", None)
    prediction_log = getattr(app, "extensions", {}).get("mlops", {}).get("prediction_log")
    if prediction_log is not None:
        prediction_log.close()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
    if getattr(worker, "peers", None) is not None:
        worker.peers.leave(worker.pid)


def on_exit(server):
    directory = getattr(server, "_mlops_metrics_dir", None)
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
