"""Slow clients against the service: is a prober still answered promptly? `python benchmarks/serving/slow_clients.py`

The service under gunicorn on 127.0.0.1 (two workers, as the Kubernetes base runs it), and
--slow connections that each send one byte every --interval seconds, reconnecting whenever
the service closes them:
  headers  the request's headers, a byte at a time (they never end)
  body     complete headers with a Content-Length, then the body a byte at a time
Meanwhile a prober sends single-row POST /predict requests, one after another, each on a new
connection, at most --probe-rate a second, for --seconds. It prints, per configuration and
mode, how many probes were answered 200 within 1 s, the slowest answer, and how the service
treated the slow connections (how many it closed, after how long, with which status).

Configurations, side by side in one run (--configs):
  current  the service as gunicorn_conf.py configures it
  sync     the same with gunicorn's sync worker (--worker-class sync --threads 1): the
           service before issue 23
Needs a pipeline run (`make run`: models/, the test split). docs/benchmarks.md has results.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import selectors
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from mlops import http as mlops_http

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # the service's command, start and stop, the test rows, the machine

CONFIGS = {"current": [], "sync": bench.SYNC_WORKER}
PROMPT = 1.0  # seconds: a probe answered within this is prompt


@dataclass
class SlowStats:
    connections: int = 0
    closed: list[float] = field(default_factory=list)  # seconds from connect to the service closing
    statuses: dict[str, int] = field(default_factory=dict)


class SlowClients:
    """`count` connections, each sending one byte of its request every `interval` seconds."""

    def __init__(self, port: int, count: int, interval: float, mode: str):
        self.port, self.count, self.interval, self.mode = port, count, interval, mode
        self.stats = SlowStats()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def request(self) -> tuple[bytes, bytes]:
        """What is sent at once, then what is sent a byte at a time."""
        if self.mode == "headers":
            return b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"X-Slow: " + b"a" * 4000
        head = b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        return head + b"Content-Length: 4000\r\n\r\n", b" " * 4000

    def connect(self, selector, now: float, offset: float) -> None:
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", self.port))
        first, rest = self.request()
        state = {"sock": sock, "opened": now, "next": now + offset, "first": first, "rest": rest, "sent": 0}
        selector.register(sock, selectors.EVENT_READ, state)
        self.stats.connections += 1

    def run(self) -> None:
        selector = selectors.DefaultSelector()
        now = time.monotonic()
        for i in range(self.count):
            self.connect(selector, now, self.interval * i / self.count)
        while not self.stopping.is_set():
            for key, _ in selector.select(timeout=0.05):
                self.closed_by_service(selector, key.data)
            now = time.monotonic()
            for key in list(selector.get_map().values()):
                state = key.data
                if now >= state["next"]:
                    self.send_one(selector, state, now)
        for key in list(selector.get_map().values()):
            key.data["sock"].close()
        selector.close()

    def send_one(self, selector, state: dict, now: float) -> None:
        sock = state["sock"]
        try:
            if state["first"]:
                sock.send(state["first"])
                state["first"] = b""
            else:
                sock.send(state["rest"][state["sent"] : state["sent"] + 1])
                state["sent"] += 1
        except BlockingIOError:
            pass  # not connected yet, or the kernel's buffers are full: try again next interval
        except OSError:
            self.closed_by_service(selector, state)
            return
        state["next"] = now + self.interval

    def closed_by_service(self, selector, state: dict) -> None:
        sock = state["sock"]
        try:
            answer = sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            answer = b""
        status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/") else "closed"
        if status != "100":
            self.stats.closed.append(time.monotonic() - state["opened"])
            self.stats.statuses[status] = self.stats.statuses.get(status, 0) + 1
            selector.unregister(sock)
            sock.close()
            self.connect(selector, time.monotonic(), self.interval)  # the attacker comes back

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()


def probe(port: int, body: bytes, seconds: float, rate: float, timeout: float) -> list[float | None]:
    """Latency of each probe answered 200; None for a probe that failed or was not answered in `timeout`."""
    results: list[float | None] = []
    deadline = time.monotonic() + seconds
    while (started := time.monotonic()) < deadline:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=min(timeout, deadline - started + 1))
        try:
            connection.request("POST", "/predict", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            results.append(time.monotonic() - started if response.status == 200 else None)
        except OSError:
            results.append(None)
        finally:
            connection.close()
        time.sleep(max(0.0, started + 1 / rate - time.monotonic()))
    return results


def workers_rss_mb(master: int) -> list[float]:
    """Resident memory of the master's children (the workers), in MB."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    sizes = []
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        sizes.append(int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmRSS:"))) / 1024)
    return sizes


def workers_started(log_path: Path) -> int:
    return log_path.read_text(errors="replace").count("Booting worker")


def run_case(config: str, mode: str, args, rows: list[dict], expected: list[str], tmp: Path) -> dict:
    port = mlops_http.free_port()
    service = bench.servers(port, args.workers, args.model_dir, tmp / "unused.joblib")["service"]
    server = replace(service, command=[*service.command, *CONFIGS[config]])
    log_path = tmp / f"{config}-{mode}.log"
    body = json.dumps({"instances": rows}).encode()
    process = bench.start(server, log_path)
    try:
        bench.wait_until_correct(server, f"http://127.0.0.1:{port}/predict", body, {}, expected, process, log_path)
        probe(port, body, 1, args.probe_rate, args.probe_timeout)  # warm: both workers have answered
        booted = workers_started(log_path)
        idle_rss = workers_rss_mb(process.pid)
        slow = SlowClients(port, args.slow, args.interval, mode)
        slow.start()
        time.sleep(args.interval)  # every slow connection has sent something
        latencies = probe(port, body, args.seconds, args.probe_rate, args.probe_timeout)
        attacked_rss = workers_rss_mb(process.pid)
        slow.stop()
        restarted = workers_started(log_path) - booted
    finally:
        bench.stop(process, port)
    answered = [t for t in latencies if t is not None]
    prompt = sum(1 for t in answered if t <= PROMPT)
    return {
        "config": config,
        "mode": mode,
        "probes": len(latencies),
        "prompt": prompt,
        "prompt_share": prompt / len(latencies) if latencies else 0.0,
        "failed": len(latencies) - len(answered),
        "p50_ms": statistics.median(answered) * 1000 if answered else None,
        "max_ms": max(answered) * 1000 if answered else None,
        "slow_connections": slow.stats.connections,
        "slow_closed": len(slow.stats.closed),
        "slow_closed_after_s": statistics.median(slow.stats.closed) if slow.stats.closed else None,
        "slow_statuses": slow.stats.statuses,
        "workers_restarted": restarted,
        "worker_rss_mb_idle": round(max(idle_rss), 1),
        "worker_rss_mb_end": round(max(attacked_rss), 1),
    }


def table(results: list[dict], seconds: int) -> str:
    lines = [
        f"| worker | slow clients send | probes in {seconds} s | answered 200 within 1 s | failed "
        "| p50 ms | slowest ms | slow connections closed by the service | workers restarted "
        "| largest worker RSS MB, before → end |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in results:
        closed = ", ".join(f"{n}× {status}" for status, n in sorted(r["slow_statuses"].items())) or "none"
        if r["slow_closed"]:
            closed += f" (median {r['slow_closed_after_s']:.1f} s after connecting)"
        p50 = f"{r['p50_ms']:.1f}" if r["p50_ms"] is not None else "-"
        slowest = f"{r['max_ms']:,.0f}" if r["max_ms"] is not None else "-"
        lines.append(
            f"| {r['config']} | {r['mode']} | {r['probes']} | {r['prompt']} ({r['prompt_share']:.1%}) "
            f"| {r['failed']} | {p50} | {slowest} | {closed} | {r['workers_restarted']} "
            f"| {r['worker_rss_mb_idle']:.0f} → {r['worker_rss_mb_end']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="sync,current", help="which, in order: current, sync")
    parser.add_argument("--modes", default="headers,body", help="what the slow clients send slowly: headers, body")
    parser.add_argument("--slow", type=int, default=50, help="slow connections")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between a slow connection's bytes")
    parser.add_argument("--seconds", type=int, default=40, help="seconds of probing per configuration and mode")
    parser.add_argument("--probe-rate", type=float, default=5.0, help="most probes a second")
    parser.add_argument("--probe-timeout", type=float, default=10.0, help="seconds a probe waits for its answer")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--model-dir", type=Path, default=bench.ROOT / "models")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [c for c in configs if c not in CONFIGS] + [m for m in modes if m not in ("headers", "body")]
    if unknown:
        print(f"slow_clients: error: unknown configuration or mode {unknown}", file=sys.stderr)
        return 1
    missing = [p for p in ("models/metadata.json", "data/prepared/test.parquet") if not (bench.ROOT / p).exists()]
    if missing:
        print(f"slow_clients: error: {', '.join(missing)} not found: run the pipeline first", file=sys.stderr)
        return 1
    records, labels = bench.test_rows(bench.ROOT)
    load_before = os.getloadavg()
    results = []
    with tempfile.TemporaryDirectory(prefix="mlops-slow-clients-") as directory:
        for mode in modes:
            for config in configs:
                print(f"slow_clients: {config}, slow {mode}: {args.seconds} s", file=sys.stderr, flush=True)
                results.append(run_case(config, mode, args, records[:1], labels[:1], Path(directory)))
                print(f"slow_clients: {json.dumps(results[-1])}", file=sys.stderr, flush=True)
    info = bench.machine()
    load_after = os.getloadavg()
    print(table(results, args.seconds))
    print()
    print(f"{args.workers} workers; {args.slow} slow connections, one byte every {args.interval:g} s each, "
          f"reconnecting when closed; probes: POST /predict, one row, a new connection each, "
          f"at most {args.probe_rate:g}/s, {args.probe_timeout:g} s timeout.")  # fmt: skip
    print(f"machine: {info['cpu']}; {info['memory']} RAM; {info['os']}; Python {info['python']}; {info['packages']}")
    print(f"load average (1, 5, 15 min) before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"results": results, "machine": info, "args": vars(args)}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
