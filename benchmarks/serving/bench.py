"""Benchmark the prediction service against `mlflow models serve` and two plain Flask apps: `make bench`.

One server at a time on 127.0.0.1, each with the same number of worker processes, driven
by wrk at the same concurrency after a warm-up, first with single-row requests, then with
batches of rows:
  (a) service   this project's service (gunicorn + Flask + onnxruntime, validation and metrics on);
      sync      the same on gunicorn's sync worker, as before issue 23 (not run by default)
      v2, csv   the same service through the Open Inference Protocol (POST /v2/models/<name>/infer,
                one input per column) and SageMaker's CSV (POST /invocations, text/csv)
      v2bin     the same V2 route with binary tensors in and out, the body tritonclient writes
      arrow     /invocations with an Apache Arrow IPC stream
  (b) mlflow    `mlflow models serve` on the version the pipeline registered (--env-manager local)
  (c) naive     Flask + gunicorn, the scikit-learn pipeline loaded with joblib, pandas per request
  (d) bare      Flask + gunicorn around the ONNX session: no validation, no metrics (a ceiling)
It prints one table, every figure with its ratio to (b), and the machine it ran on; every
server is checked to answer the test rows with the pipeline's predictions before it is timed.
With batches it also times onnxruntime alone on the batch, in this process on one thread
(session.run on inputs built beforehand), and prints each batch route's rows/s as a share of it.

Needs a pipeline run (`make run`: models/, mlflow.db, the test split) and wrk (Debian
package `wrk`). It stops its servers when done or interrupted. docs/benchmarks.md has results.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlops import http

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BIN = Path(sys.executable).parent
START_TIMEOUT = 180  # seconds for a server to answer its first request (mlflow is slow to start)
# The service on gunicorn's sync worker, one request per process, as it ran before issue 23:
# the baseline its threaded worker (mlops/serving/worker.py) is compared with.
SYNC_WORKER = ["--worker-class", "sync", "--threads", "1"]


@dataclass
class Server:
    key: str
    title: str
    command: list[str]
    env: dict[str, str]
    path: str
    body: Callable[[list[dict]], dict | str | bytes | tuple[bytes, dict[str, str]]]  # (body, headers) too
    content_type: str = "application/json"
    labels: Callable[[dict], list] = lambda answer: answer.get("predictions", [])
    read: Callable[[http.Reply], list] | None = None  # the labels of an answer that is not JSON
    headers: dict[str, str] = field(default_factory=dict)


def servers(port: int, workers: int, model_dir: Path, joblib_path: Path) -> dict[str, Server]:
    bind = f"127.0.0.1:{port}"
    training = json.loads((model_dir / "training.json").read_text())
    model_uri = f"models:/{training['registered_model']}/{training['model_version']}"
    tracking = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{ROOT / 'mlflow.db'}"
    flask_app = [str(BIN / "gunicorn"), "--workers", str(workers), "--bind", bind, "--chdir", str(HERE)]
    mlflow_serve = [str(BIN / "mlflow"), "models", "serve", "--env-manager", "local", "--host", "127.0.0.1"]
    instances = lambda rows: {"instances": rows}  # noqa: E731
    service = [str(BIN / "gunicorn"), "--config", "python:mlops.serving.gunicorn_conf"]
    service_env = {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
        "MLOPS_MODEL_DIR": str(model_dir),
    }
    name = json.loads((model_dir / "metadata.json").read_text())["name"]
    return {
        "service": Server("service", "(a) this service", service, service_env, "/predict", instances),
        "sync": Server("sync", "(a) on sync workers", [*service, *SYNC_WORKER], service_env, "/predict", instances),
        "v2": Server(
            "v2",
            "(a) V2 /infer",
            service,
            service_env,
            f"/v2/models/{name}/infer",
            lambda rows: {"inputs": v2_inputs(rows, model_dir)},
            labels=lambda answer: answer.get("outputs", [{}])[0].get("data", []),
        ),
        "csv": Server("csv", "(a) CSV /invocations", service, service_env, "/invocations", csv_body, "text/csv"),
        "v2bin": Server(
            "v2bin",
            "(a) V2 /infer, binary tensors",
            service,
            service_env,
            f"/v2/models/{name}/infer",
            lambda rows: v2_binary(rows, model_dir),
            "application/octet-stream",
            read=binary_labels,
        ),
        "arrow": Server(
            "arrow",
            "(a) Arrow /invocations",
            service,
            service_env,
            "/invocations",
            lambda rows: arrow_body(rows, model_dir),
            "application/vnd.apache.arrow.stream",
        ),
        "mlflow": Server(
            "mlflow",
            "(b) mlflow models serve",
            [*mlflow_serve, "-m", model_uri, "-p", str(port), "-w", str(workers)],
            {"MLFLOW_TRACKING_URI": tracking},
            "/invocations",
            lambda rows: {"dataframe_records": rows},
        ),
        "naive": Server(
            "naive",
            "(c) naive Flask + joblib",
            [*flask_app, "naive_app:app"],
            {"BENCH_JOBLIB_MODEL": str(joblib_path)},
            "/predict",
            instances,
        ),
        "bare": Server(
            "bare",
            "(d) bare Flask + ONNX",
            [*flask_app, "bare_onnx_app:app"],
            {"MLOPS_MODEL_DIR": str(model_dir)},
            "/predict",
            instances,
        ),
    }


def v2_inputs(rows: list[dict], model_dir: Path) -> list[dict]:
    """One Open Inference Protocol input per column, as a V2 client sends them."""
    features = json.loads((model_dir / "metadata.json").read_text())["schema"]["features"]
    return [
        {
            "name": f["name"],
            "shape": [len(rows)],
            "datatype": "FP64" if f["kind"] == "numeric" else "BYTES",
            "data": [row[f["name"]] for row in rows],
        }
        for f in features
    ]


def v2_binary(rows: list[dict], model_dir: Path) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of a V2 request with binary tensors in and out, as tritonclient writes it:
    one input per column, numeric FP32 and categorical BYTES, as GET /v2/models/<name> lists them."""
    import numpy as np
    import tritonclient.http as triton

    inputs = []
    for feature in json.loads((model_dir / "metadata.json").read_text())["schema"]["features"]:
        values = [row[feature["name"]] for row in rows]
        if feature["kind"] == "numeric":
            array, datatype = np.array([math.nan if v is None else v for v in values], dtype=np.float32), "FP32"
        else:
            array, datatype = np.array(["" if v is None else v for v in values], dtype=object), "BYTES"
        tensor = triton.InferInput(feature["name"], [len(rows)], datatype)
        tensor.set_data_from_numpy(array)  # binary_data=True: tritonclient's default
        inputs.append(tensor)
    outputs = [triton.InferRequestedOutput(name) for name in ("label", "probabilities")]  # binary: the default
    body, json_size = triton.InferenceServerClient.generate_request_body(inputs, outputs=outputs)
    return body, {"Inference-Header-Content-Length": str(json_size)}


def binary_labels(reply: http.Reply) -> list:
    import tritonclient.http as triton

    if reply.status != 200:
        return []
    length = reply.headers.get("inference-header-content-length")
    result = triton.InferenceServerClient.parse_response_body(reply.body, header_length=length and int(length))
    return [label.decode() for label in result.as_numpy("label")]


def arrow_body(rows: list[dict], model_dir: Path) -> bytes:
    """The rows as an Arrow IPC stream: one field per column, float64 or string, nulls for missing."""
    import pyarrow as pa

    features = json.loads((model_dir / "metadata.json").read_text())["schema"]["features"]
    table = pa.table(
        {
            f["name"]: pa.array(
                [row[f["name"]] for row in rows], pa.float64() if f["kind"] == "numeric" else pa.string()
            )
            for f in features
        }
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def onnxruntime_rows_per_second(model_dir: Path, rows: list[dict]) -> float:
    """onnxruntime alone on the batch, in this process: session.run on inputs built beforehand, one
    thread as the service's sessions have; the best of 5 repeats of 20 runs."""
    import timeit

    from mlops.serving.service import PredictionService

    predictor = PredictionService(model_dir).predictor
    feed = predictor.feed(PredictionService(model_dir).validator.instances(rows))
    best = min(timeit.repeat(lambda: predictor.session.run(predictor.outputs, feed), number=20, repeat=5)) / 20
    return len(rows) / best


def csv_body(rows: list[dict]) -> str:
    """Rows as SageMaker Batch Transform sends them: no header, schema order, empty for missing."""
    return "".join(",".join("" if value is None else repr(value) for value in row.values()) + "\n" for row in rows)


def test_rows(root: Path) -> tuple[list[dict], list[str]]:
    """The test split as JSON records (missing values as null) and the pipeline's predictions for them."""
    import pandas as pd

    metadata = json.loads((root / "models/metadata.json").read_text())
    frame = pd.read_parquet(root / "data/prepared/test.parquet").drop(columns=[metadata["schema"]["target"]])
    records = [
        {k: None if (isinstance(v, float) and math.isnan(v)) or v == "" else v for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]
    expected = pd.read_csv(root / "data/predictions/test.csv")["predicted"].astype(str).tolist()
    return records, expected


def make_joblib_model(root: Path, directory: Path) -> Path:
    # The one pickle in the project, made here only to reproduce the tutorials' baseline (c).
    import joblib

    from mlops.io import load_model

    path = directory / "model.joblib"
    joblib.dump(load_model(root / "models/model.skops"), path)
    return path


def pinned(command: list[str], cpus: str | None) -> list[str]:
    """The command run only on these CPUs (taskset's list, e.g. "0"), or as it is."""
    return ["taskset", "--cpu-list", cpus, *command] if cpus else command


def start(server: Server, log_path: Path, cpus: str | None = None) -> subprocess.Popen:
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            pinned(server.command, cpus),
            cwd=ROOT,
            env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **server.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends it and its workers
        )


def stop(process: subprocess.Popen, port: int) -> None:
    """End the server's whole process group, and wait until nothing listens on its port.

    `mlflow models serve`'s workers can outlive their parent for a moment: the next server
    must neither share their port nor their CPU.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)
    deadline = time.monotonic() + 15
    while listening(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_until_correct(
    server: Server, url: str, body: bytes, headers: dict, expected: list[str], process, log_path: Path
) -> None:
    """Wait for the first answer; it must hold the pipeline's predictions."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise SystemExit(f"bench: error: {url} exited with status {process.returncode}:\n{tail(log_path)}")
        try:
            reply = http.request(url, body, timeout=10, content_type=server.content_type, headers=headers)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: error: {url} did not answer in {START_TIMEOUT}s:\n{tail(log_path)}") from None
            time.sleep(0.5)
    if server.read is not None:
        got = [str(label) for label in server.read(reply)]
    else:
        got = [str(label) for label in server.labels(reply.json() if reply.status == 200 else {})]
    if got != expected:
        raise SystemExit(f"bench: error: {url} answered {reply.status} with wrong predictions: {reply.body[:300]!r}")


def group_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) the live processes of a process group have used so far.

    Divided by the requests served, it is what one request costs the server whatever else
    the machine runs: the throughput one core gives, free of other load on the cores.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:  # fields after the command: state, ppid, pgrp, ...
                total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def run_wrk(
    url: str,
    body_path: Path,
    seconds: int,
    connections: int,
    threads: int,
    content_type: str,
    cpus: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    command = pinned([*command, "-s", str(HERE / "post.lua"), url], cpus)
    result = subprocess.run(
        command,
        env={
            **os.environ,
            "BENCH_BODY": str(body_path),
            "BENCH_CONTENT_TYPE": content_type,
            "BENCH_HEADER": "".join(f"{name}: {value}" for name, value in (headers or {}).items()),  # one at most
        },
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("BENCH_RESULT ")), None)
    if result.returncode != 0 or line is None:
        raise SystemExit(
            f"bench: error: wrk failed ({result.returncode}): {result.stdout[-500:]} {result.stderr[-500:]}"
        )
    raw = json.loads(line.split(" ", 1)[1])
    seconds_run = raw["duration_us"] / 1e6
    return {
        "req_s": raw["requests"] / seconds_run,
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "errors": raw["errors"] + raw["non_2xx"],
        "requests": raw["requests"],
    }


def bench_server(server: Server, port: int, cases: dict[int, list[dict]], expected: dict[int, list[str]], args, tmp):
    url = f"http://127.0.0.1:{port}{server.path}"
    log_path = tmp / f"{server.key}.log"
    bodies, headers = {}, {}
    for rows, records in cases.items():
        bodies[rows] = tmp / f"{server.key}-{rows}.body"
        body = server.body(records)
        body, headers[rows] = body if isinstance(body, tuple) else (body, {})
        bodies[rows].write_bytes(
            body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
        )
    print(f"bench: {server.title}: starting", file=sys.stderr, flush=True)
    process = start(server, log_path, args.server_cpus)
    results = {}
    try:
        for rows, body_path in bodies.items():
            wait_until_correct(server, url, body_path.read_bytes(), headers[rows], expected[rows], process, log_path)
            load = (args.connections, args.threads, server.content_type, args.load_cpus, headers[rows])
            run_wrk(url, body_path, args.warmup, *load)
            cpu_before = group_cpu_seconds(process.pid)
            results[rows] = run_wrk(url, body_path, args.duration, *load)
            cpu_ms = (group_cpu_seconds(process.pid) - cpu_before) * 1000 / max(results[rows]["requests"], 1)
            results[rows]["cpu_ms_per_request"] = round(cpu_ms, 4)
            results[rows]["req_s_per_core"] = round(1000 / cpu_ms, 1) if cpu_ms else None
            results[rows]["rows_s"] = results[rows]["req_s"] * rows
            print(f"bench: {server.title}, {rows} row(s)/request: {json.dumps(results[rows])}", file=sys.stderr)
    finally:
        stop(process, port)
    return results


def machine() -> dict[str, str]:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    memory_kb = next(
        int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")
    )
    versions = {
        name: importlib.metadata.version(name)
        for name in ("onnxruntime", "flask", "gunicorn", "mlflow", "scikit-learn")
    }
    return {
        "cpu": f"{cpu}, {len(os.sched_getaffinity(0))} cores available",
        "memory": f"{memory_kb / 1024**2:.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": ", ".join(f"{name} {version}" for name, version in versions.items()),
        "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("[")[0].strip(),
    }


def cell(value: float, base: float | None, digits: int = 0) -> str:
    text = f"{value:,.{digits}f}"
    return f"{text} ({value / base:.2g}×)" if base else text


def table(results: dict[str, dict[int, dict]], titles: dict[str, str]) -> str:
    lines = [
        "| server | rows/request | req/s | rows/s | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, by_rows in results.items():
        for rows, r in by_rows.items():
            base = results.get("mlflow", {}).get(rows)
            ref = base if key != "mlflow" else None
            lines.append(
                f"| {titles[key]} | {rows:,} | {cell(r['req_s'], ref and ref['req_s'])} "
                f"| {cell(r['rows_s'], ref and ref['rows_s'])} | {cell(r['p50_ms'], ref and ref['p50_ms'], 2)} "
                f"| {cell(r['p99_ms'], ref and ref['p99_ms'], 2)} | {r['errors']} |"
            )
    return "\n".join(lines)


def ratios(results: dict[str, dict[int, dict]]) -> list[str]:
    single = {key: by_rows.get(1) for key, by_rows in results.items()}
    service, mlflow, bare = single.get("service"), single.get("mlflow"), single.get("bare")
    out = []
    if service and mlflow:
        ratio = service["req_s"] / mlflow["req_s"]
        out.append(f"service vs mlflow models serve, single rows: {ratio:.1f}×")
    if service and bare:
        share = service["req_s"] / bare["req_s"]
        out.append(f"service vs bare ONNX handler, single rows: {share:.0%} of its req/s")
    if service:
        out.append(f"service p99, single rows: {service['p99_ms']:.2f} ms")
    for rows, result in results.get("sync", {}).items():
        base = results.get("service", {}).get(rows)
        if base:
            out.append(
                f"service vs its sync workers, {rows:,} row(s)/request: {base['req_s'] / result['req_s']:.2f}× req/s, "
                f"{base['p99_ms'] / result['p99_ms']:.2f}× p99"
            )
    for key, title in BATCH_ROUTES.items():
        for rows, result in results.get(key, {}).items():
            base = results.get("service", {}).get(rows)
            if base:
                share = result["rows_s"] / base["rows_s"]
                out.append(f"{title} vs /predict, {rows:,} row(s)/request: {share:.0%} of its rows/s")
    return out


BATCH_ROUTES = {
    "v2": "V2 /infer",
    "csv": "CSV /invocations",
    "v2bin": "V2 /infer, binary tensors",
    "arrow": "Arrow /invocations",
}


def against_runtime(results: dict[str, dict[int, dict]], rows: int, runtime_rows_s: float) -> list[str]:
    """Each batch route's rows/s as a share of onnxruntime's own, in-process, on the same batch; and per core
    of the servers' CPU time, which other load on the machine does not lower."""
    out = [f"onnxruntime in-process, {rows:,}-row batch, one thread: {runtime_rows_s:,.0f} rows/s"]
    for key, title in {"service": "/predict", **BATCH_ROUTES}.items():
        result = results.get(key, {}).get(rows)
        if result:
            share = result["rows_s"] / runtime_rows_s
            per_core = (result["req_s_per_core"] or 0) * rows
            out.append(
                f"{title}, {rows:,} rows/request: {result['rows_s']:,.0f} rows/s, {share:.0%} of onnxruntime's; "
                f"per core of server CPU {per_core:,.0f} rows/s, {per_core / runtime_rows_s:.0%}"
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--servers",
        default="service,v2,csv,v2bin,arrow,mlflow,naive,bare",
        help="which, in order (default: all but sync)",
    )
    parser.add_argument("--duration", type=int, default=12, help="seconds measured per server and batch size")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of load before each measurement")
    parser.add_argument("--connections", type=int, default=4, help="concurrent connections (wrk -c)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (few: wrk shares the cores)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of every server")
    parser.add_argument("--batch", type=int, default=1000, help="rows per request in the batch case (0: skip)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--server-cpus", help="run the servers only on these CPUs (taskset list, e.g. 0: one pod's one-core request)"
    )
    parser.add_argument("--load-cpus", help="run wrk only on these CPUs (e.g. 1: apart from the server)")
    args = parser.parse_args(argv)

    keys = [key.strip() for key in args.servers.split(",") if key.strip()]
    required = ["models/metadata.json", "models/model.onnx", "models/model.skops", "models/training.json"]
    missing = [
        name
        for name in [*required, "data/prepared/test.parquet", "data/predictions/test.csv"]
        if not (ROOT / name).exists()
    ]
    if missing:
        print(f"bench: error: {', '.join(missing)} not found: run the pipeline first (make run)", file=sys.stderr)
        return 1
    if not shutil.which("wrk"):
        print("bench: error: wrk not found: apt-get install wrk", file=sys.stderr)
        return 1

    records, labels = test_rows(ROOT)
    cases = {1: records[:1]}
    expected = {1: labels[:1]}
    if args.batch:
        cases[args.batch] = [records[i % len(records)] for i in range(args.batch)]
        expected[args.batch] = [labels[i % len(labels)] for i in range(args.batch)]

    runtime_rows_s = onnxruntime_rows_per_second(ROOT / "models", cases[args.batch]) if args.batch else None
    training = json.loads((ROOT / "models/training.json").read_text())
    model = f"{training['registered_model']} version {training['model_version']} ({training.get('estimator')})"
    load_before = os.getloadavg()
    results: dict[str, dict[int, dict]] = {}
    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as directory:
        tmp = Path(directory)
        available = servers(0, args.workers, ROOT / "models", tmp / "model.joblib")
        unknown = [key for key in keys if key not in available]
        if unknown:
            print(f"bench: error: unknown server(s) {unknown}; choose from {', '.join(available)}", file=sys.stderr)
            return 1
        if "naive" in keys:
            make_joblib_model(ROOT, tmp)
        for key in keys:
            port = http.free_port()  # a port of its own: nothing left of the previous server answers there
            server = servers(port, args.workers, ROOT / "models", tmp / "model.joblib")[key]
            results[key] = bench_server(server, port, cases, expected, args, tmp)
    titles = {key: server.title for key, server in available.items()}

    info = machine()
    load_after = os.getloadavg()
    print(table(results, titles))
    print()
    print(f"{args.workers} workers per server, wrk {args.threads} thread(s) x {args.connections} connections, "
          f"{args.duration} s per case after {args.warmup} s warm-up; ratios to (b) mlflow models serve.")  # fmt: skip
    if args.server_cpus:
        print(f"servers on CPU(s) {args.server_cpus}, wrk on CPU(s) {args.load_cpus or 'any'}")
    print(f"model: {model}")
    for line in ratios(results):
        print(line)
    if runtime_rows_s:
        for line in against_runtime(results, args.batch, runtime_rows_s):
            print(line)
    print(f"machine: {info['cpu']}; {info['memory']} RAM; {info['os']}; Python {info['python']}; {info['packages']}")
    print(f"load average (1, 5, 15 min) before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")  # fmt: skip
    if args.json:
        args.json.write_text(
            json.dumps(
                {"results": results, "onnxruntime_rows_s": runtime_rows_s, "machine": info, "args": vars(args)},
                default=str,
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
