"""What one hostile request costs a worker: peak memory and time for every body of the hostile corpus.

Starts the service under gunicorn on 127.0.0.1 with one worker (so every request reaches the
same process), and for each case of tests/serving/hostile.py sends its body at the full body
limit (16 MiB unless --size says otherwise): before each request the worker's peak resident
memory is reset (`echo 5 > /proc/<pid>/clear_refs`), after it VmHWM is what the request took,
against VmRSS just before. Then single-row and 1,000-row /predict latency with wrk, one
connection, the servers taking turns.

With --baseline-src (another version's `src`, e.g. `git archive 562ca4a src | tar -x -C /tmp/old`)
the same runs against that version too, side by side in one table. Needs a pipeline run (`make run`:
models/ and the test split) and wrk. docs/benchmarks.md has results.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench  # benchmarks/serving/bench.py: the test rows, wrk, stopping servers, the machine

from mlops.http import free_port

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.serving.hostile import CORPUS, INSTANCES, VERTEX_PREDICT, Case, fill  # noqa: E402

MIB = 1024 * 1024


def status_kib(pid: int, field: str) -> int:
    return int(re.search(rf"{field}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text()).group(1))


def only_worker(master: int) -> int:
    for _ in range(100):
        children = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
        if len(children) == 1:
            return int(children[0])
        time.sleep(0.1)
    raise SystemExit(f"request_memory: error: gunicorn {master} has workers {children}, not one")


def post(port: int, path: str, body: bytes, content_type: str, headers: dict, timeout: float = 120):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", path, body, {"Content-Type": content_type, **headers})
        response = connection.getresponse()
        return response.status, response.read()
    except OSError as exc:
        return type(exc).__name__, b""
    finally:
        connection.close()


class Service:
    def __init__(self, label: str, src: Path | None, model_dir: Path, workdir: Path):
        self.label, self.port = label, free_port()
        env = {
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "WEB_CONCURRENCY": "1",
            "MLOPS_MODEL_DIR": str(model_dir),
            "AIP_PREDICT_ROUTE": VERTEX_PREDICT,
            "MLOPS_TIMEOUT": "120",  # the old code's slowest body takes some 15 s: let it finish, to measure it
        }
        if src is not None:
            env["PYTHONPATH"] = str(src)
        command = [str(bench.BIN / "gunicorn"), "-c", "python:mlops.serving.gunicorn_conf"]
        server = bench.Server(label, label, command, env, "/predict", lambda rows: {"instances": rows})
        self.log = workdir / f"{label}.log"
        self.process = bench.start(server, self.log)
        deadline = time.monotonic() + bench.START_TIMEOUT
        while not bench.listening(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"request_memory: error: {label} did not start:\n{bench.tail(self.log)}")
            time.sleep(0.2)
        self.master = self.process.pid
        self.idle_kib = 0

    def warm_up(self, path: str, body: bytes) -> None:
        """One valid request, then the worker's resident memory: what it holds when idle."""
        status, answer = post(self.port, path, body, "application/json", {})
        if status != 200:
            raise SystemExit(f"request_memory: error: {self.label} answered {status}: {answer[:300]!r}")
        self.idle_kib = status_kib(only_worker(self.master), "VmRSS")

    def measure(self, path: str, body: bytes, content_type: str, headers: dict) -> dict:
        worker = only_worker(self.master)
        Path(f"/proc/{worker}/clear_refs").write_text("5")  # the peak (VmHWM) starts again from now
        before = status_kib(worker, "VmRSS")
        started = time.perf_counter()
        status, _ = post(self.port, path, body, content_type, headers)
        seconds = time.perf_counter() - started
        try:
            peak, after = status_kib(worker, "VmHWM"), status_kib(worker, "VmRSS")
        except (FileNotFoundError, ProcessLookupError):
            peak = after = None  # the worker is gone: killed by the timeout or the kernel
        return {"status": status, "seconds": seconds, "before_kib": before, "peak_kib": peak, "after_kib": after}

    def stop(self) -> None:
        bench.stop(self.process, self.port)


def latency(services: list[Service], bodies: dict[int, bytes], seconds: int, rounds: int, workdir: Path) -> dict:
    """wrk, one connection, for each body size, the services taking turns `rounds` times: median p50, p99."""
    results: dict[str, dict[int, list[dict]]] = {s.label: {rows: [] for rows in bodies} for s in services}
    for rows, body in bodies.items():
        body_path = workdir / f"latency-{rows}.json"
        body_path.write_bytes(body)
        for service in services:  # warm up
            bench.run_wrk(f"http://127.0.0.1:{service.port}/predict", body_path, 2, 1, 1, "application/json")
        for _ in range(rounds):
            for service in services:
                url = f"http://127.0.0.1:{service.port}/predict"
                results[service.label][rows].append(bench.run_wrk(url, body_path, seconds, 1, 1, "application/json"))
    return {
        label: {
            rows: {key: statistics.median(run[key] for run in runs) for key in ("req_s", "p50_ms", "p99_ms")}
            | {"errors": sum(run["errors"] for run in runs)}
            for rows, runs in by_rows.items()
        }
        for label, by_rows in results.items()
    }


def prescan_cost(bodies: dict[int, bytes], max_values: int) -> dict[int, dict[str, float]]:
    """In this process: microseconds to count a body's values, and to parse it, best of many."""
    import timeit

    import orjson

    from mlops.serving.responses import count_json_values

    out = {}
    for rows, body in bodies.items():
        number = 2000 if rows == 1 else 50
        count = min(timeit.repeat(lambda b=body: count_json_values(b, max_values), number=number, repeat=5))
        parse = min(timeit.repeat(lambda b=body: orjson.loads(b), number=number, repeat=5))
        out[rows] = {"count_us": count / number * 1e6, "parse_us": parse / number * 1e6}
    return out


def mb(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:,.0f}"


def memory_table(cases, results: dict[str, list[dict]], services: list[Service]) -> str:
    labels = [service.label for service in services]
    head = "| body | route | bytes |" + "".join(f" {label}: status | s | peak MB | above idle |" for label in labels)
    lines = [head, "|---|---|---:|" + "---:|---:|---:|---:|" * len(labels)]
    for index, (case, size) in enumerate(cases):
        cells = []
        for service in services:
            r = results[service.label][index]
            above = "-" if r["peak_kib"] is None else f"**{(r['peak_kib'] - service.idle_kib) / 1024:,.0f}**"
            cells.append(f" {r['status']} | {r['seconds']:.2f} | {mb(r['peak_kib'])} | {above} |")
        lines.append(f"| {case.name} | {case.route} | {size:,} |" + "".join(cells))
    idle = ", ".join(f"{service.label} {mb(service.idle_kib)} MB" for service in services)
    return "\n".join([*lines, "", f"worker RSS when idle (after one request): {idle}"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16 * MIB, help="bytes of each growing body (default: the limit)")
    parser.add_argument("--baseline-src", type=Path, help="another version's src directory, run side by side")
    parser.add_argument("--latency-seconds", type=int, default=5, help="seconds of wrk per round (0: skip)")
    parser.add_argument("--rounds", type=int, default=3, help="turns each server takes at each latency case")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    model_dir = ROOT / "models"
    if not (model_dir / "metadata.json").exists() or not (ROOT / "data/prepared/test.parquet").exists():
        print(
            "request_memory: error: models/ or the test split not found: run the pipeline first (make run)",
            file=sys.stderr,
        )
        return 1

    from mlops.serving.validation import Validator

    metadata = json.loads((model_dir / "metadata.json").read_text())
    validator = Validator(metadata, int(metadata.get("max_batch_rows") or 10_000))
    max_rows, max_values = validator.max_rows, validator.max_json_values
    records, _ = bench.test_rows(ROOT)
    record = next(r for r in records if None not in r.values())
    # What the limits let through, next to the corpus: the most rows as records (the heaviest valid form),
    # and empty objects up to the most values a body may hold (parsed, then refused for its rows).
    edges = [
        Case(
            f"{max_rows:,} valid rows as records",
            "predict",
            lambda n, r: json.dumps({"instances": [r] * max_rows}).encode(),
            200,
            "",
        ),
        Case(
            "rows of {} just under the value limit",
            "predict",
            lambda n, r: fill(INSTANCES, "{},", "]}", 3 * (max_values // 2)),
            413,
            "",
        ),
    ]
    cases = [(case, len(body := case.body(args.size, record)), body) for case in [*CORPUS, *edges]]
    latency_bodies = {
        rows: json.dumps({"instances": [records[i % len(records)] for i in range(rows)]}).encode() for rows in (1, 1000)
    }
    versions = [("before", args.baseline_src)] if args.baseline_src else []
    versions.append(("after", None))
    load_before = os.getloadavg()
    results: dict[str, list[dict]] = {}
    services = []
    with tempfile.TemporaryDirectory(prefix="request-memory-") as tmp:
        workdir = Path(tmp)
        try:
            for label, src in versions:
                services.append(Service(label, src, model_dir, workdir))
            for service in services:
                service.warm_up("/predict", latency_bodies[1])
                name = json.loads((model_dir / "metadata.json").read_text())["name"]
                results[service.label] = []
                for case, _, body in cases:
                    result = service.measure(case.path(name), body, case.content_type, case.headers)
                    results[service.label].append(result)
                    print(
                        f"request_memory: {service.label} {case.name}: {json.dumps(result)}",
                        file=sys.stderr,
                        flush=True,
                    )
            timings = (
                latency(services, latency_bodies, args.latency_seconds, args.rounds, workdir)
                if args.latency_seconds
                else {}
            )
        finally:
            for service in services:
                with contextlib.suppress(Exception):
                    service.stop()
    load_after = os.getloadavg()

    cost = prescan_cost(latency_bodies, max_values)
    labels = [label for label, _ in versions]
    print(memory_table([(case, size) for case, size, _ in cases], results, services))
    print()
    if timings:
        print(
            "| /predict, 1 connection | rows | "
            + " | ".join(f"{label}: req/s | p50 ms | p99 ms" for label in labels)
            + " |"
        )
        print("|---|---:|" + "---:|---:|---:|" * len(labels))
        for rows in latency_bodies:
            figures = [timings[label][rows] for label in labels]
            cells = " | ".join(f"{f['req_s']:,.0f} | {f['p50_ms']:.2f} | {f['p99_ms']:.2f}" for f in figures)
            print(f"| JSON | {rows:,} | {cells} |")
        print()
    for rows, figures in cost.items():
        print(
            f"counting the values of the {rows:,}-row body ({len(latency_bodies[rows]):,} bytes): "
            f"{figures['count_us']:.2f} µs; parsing it with orjson: {figures['parse_us']:.2f} µs"
        )
    print(f"machine: {json.dumps(bench.machine())}")
    print(f"load average before: {load_before}, after: {load_after}")
    print(f"body size {args.size:,} bytes; max_json_values {max_values:,}")
    if args.json:
        idle = {service.label: service.idle_kib for service in services}
        report = {"memory": results, "idle_kib": idle, "latency": timings, "prescan": cost}
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
