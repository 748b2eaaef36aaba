"""Benchmark the pipeline on generated data of growing size: `make bench-pipeline`.

    .venv/bin/python benchmarks/pipeline.py [--rows 10000 100000 1000000] [--seed 0]
        [--set train.hyperparameters.min_samples_leaf=20 ...]

For each size it writes a seeded synthetic dataset (30 numeric features, 3 categorical
ones, a binary target) into a temporary copy of the repository, points params.yaml's
data.source at it, infers an expectation suite for it (`mlops expectations infer`, not
timed as a stage), then runs each stage of dvc.yaml in order, each as its own process with
the command dvc.yaml gives. Per stage it prints the wall time, the CPU time (user + system,
the stage's processes together: the figure other work on a shared machine disturbs least) and
the peak memory (max RSS of the stage's largest process), then the growth exponent k of the
CPU time between sizes (time ~ rows^k: 1 is linear). `--set KEY=VALUE` changes a parameter
of the copy's params.yaml (a dotted key, a YAML value) to measure a lever. The repository
itself is left alone.
docs/benchmarks.md has results.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlops.paths import METRICS  # noqa: E402
from tests.conftest import copy_repository, env_for  # noqa: E402  (one way to copy the repository)

NUMERIC = 30
CATEGORIES = {"c_small": 3, "c_medium": 8, "c_large": 24}  # categorical feature -> number of levels
TARGET = "label"
SOURCE = "data/source/generated.parquet"


def generate(rows: int, seed: int):
    """A seeded table: numeric features of mixed shapes, categorical ones, a noisy binary target."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    numeric = rng.standard_normal((rows, NUMERIC))
    numeric[:, 10:20] = np.exp(numeric[:, 10:20])  # skewed, as amounts and counts are
    numeric[:, 20:] = rng.uniform(0, 100, (rows, NUMERIC - 20))
    frame = pd.DataFrame(numeric.round(4), columns=[f"x{i:02d}" for i in range(NUMERIC)])
    logit = numeric[:, :6] @ np.array([1.5, -1.0, 0.8, 0.6, -0.5, 0.4])
    for name, levels in CATEGORIES.items():
        codes = rng.integers(0, levels, rows)
        frame[name] = np.array([f"{name}_{level}" for level in range(levels)])[codes]
        logit += rng.normal(0, 0.5, levels)[codes]
    frame[TARGET] = np.where(logit + rng.logistic(size=rows) > 0, "yes", "no")
    return frame


def stage_commands(root: Path) -> dict[str, str]:
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    return {name: stage["cmd"] for name, stage in stages.items()}


def timed(command: str, cwd: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """Run one command; return (wall seconds, CPU seconds, max RSS in MB of its largest process)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, shell=True, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"`{command}` failed:\n{output}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def set_param(params: dict, assignment: str) -> None:
    """Apply `a.b.c=VALUE` to nested params; VALUE is read as YAML (20 is a number, null is None)."""
    key, _, value = assignment.partition("=")
    *parents, last = key.split(".")
    node = params
    for parent in parents:
        node = node.setdefault(parent, {})
    node[last] = yaml.safe_load(value)


def run_size(rows: int, seed: int, assignments: list[str]) -> dict[str, tuple[float, float, float]]:
    with tempfile.TemporaryDirectory(prefix=f"bench-pipeline-{rows}-") as tmp:
        root = copy_repository(Path(tmp))
        env = {**env_for(root), "PYTHONPATH": str(root / "src")}  # the copy's code, whatever .venv points at
        generate(rows, seed).to_parquet(root / SOURCE, index=False)
        params = yaml.safe_load((root / "params.yaml").read_text())
        params["data"].update(source=SOURCE, target=TARGET, task="classification")
        for assignment in assignments:
            set_param(params, assignment)
        (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        commands = stage_commands(root)
        results = {}
        for stage, command in commands.items():
            if stage == "validate":  # a suite for this data first, as a user does once for their own data
                infer = timed("mlops expectations infer", root, env)
                print(f"  {rows:>9,} rows: suite inferred in {infer[0]:.1f} s wall (not a stage)", flush=True)
            results[stage] = timed(command, root, env)
            wall, cpu, mb = results[stage]
            print(f"  {rows:>9,} rows: {stage:<9} {wall:7.1f} s wall {cpu:7.1f} s CPU {mb:7.0f} MB", flush=True)
            if stage == "evaluate":  # what a lever costs in quality, printed even if a later stage fails
                metrics = json.loads((root / METRICS).read_text())
                scores = ", ".join(f"{name} {metrics[name]:.4f}" for name in ("accuracy", "f1", "roc_auc"))
                print(f"  {rows:>9,} rows: the model's test split: {scores}", flush=True)
        return results


def exponent(small: float, large: float, rows_small: int, rows_large: int) -> float:
    return math.log(large / small) / math.log(rows_large / rows_small)


def machine() -> str:
    lines = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").is_file() else []
    cpu = next((line.split(":", 1)[1].strip() for line in lines if "model name" in line), platform.processor())
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"{cpu}, {os.cpu_count()} CPUs, {memory:.0f} GiB RAM; Python {platform.python_version()}; load {load}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a parameter, e.g. n_jobs=1")
    args = parser.parse_args()
    for assignment in args.set:
        if "=" not in assignment:
            parser.error(f"--set {assignment}: write KEY=VALUE, e.g. train.hyperparameters.min_samples_leaf=20")
    sizes = sorted(args.rows)
    print(f"machine: {machine()}", flush=True)
    if args.set:
        print(f"parameters changed: {', '.join(args.set)}", flush=True)
    results = {rows: run_size(rows, args.seed, args.set) for rows in sizes}

    stages = list(results[sizes[0]])
    header = "| stage | " + " | ".join(f"{rows:,} rows: wall s, CPU s, MB" for rows in sizes)
    pairs = list(itertools.pairwise(sizes))
    header += "".join(f" | k {small:,}→{large:,}" for small, large in pairs) + " |"
    print()
    print(header)
    print("|---" * (1 + len(sizes) + len(pairs)) + "|")
    totals = {
        rows: (
            sum(wall for wall, _, _ in results[rows].values()),
            sum(cpu for _, cpu, _ in results[rows].values()),
            max(mb for _, _, mb in results[rows].values()),
        )
        for rows in sizes
    }
    for stage in [*stages, "total"]:
        row = {rows: totals[rows] if stage == "total" else results[rows][stage] for rows in sizes}
        cells = [f"{row[rows][0]:.1f}, {row[rows][1]:.1f}, {row[rows][2]:.0f}" for rows in sizes]
        cells += [f"{exponent(row[small][1], row[large][1], small, large):.2f}" for small, large in pairs]
        print(f"| {stage} | " + " | ".join(cells) + " |")
    print(f"\nmachine at the end: {machine()}")


if __name__ == "__main__":
    main()
