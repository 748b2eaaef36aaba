"""`make test-fast` on each `make test-datasets` table (issue 26's target: at most 90 s each on 2 cores).

    .venv/bin/python benchmarks/datasets_fast_tests.py [--tables churn penguins] [--durations 5]

Each table is adopted as tests/integration/test_datasets.py adopts it (tests/datasets.py: a fresh
copy of this repository, the file, `dvc add`, params.yaml, `mlops expectations infer`, `dvc repro`),
then make test-fast's own pytest command (its parallel options and markers, read from the
Makefile) runs inside the copy, timed: wall and CPU, the count, and its slowest tests. `binary`,
the template's own example adopted the same way (which test-datasets leaves to the repository's
own `make test-fast`), is the reference in the same run: what a table adds is the difference.
Each row comes with the load average at its start, since other work on the machine lengthens
every wall time. docs/benchmarks.md has results.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.pipeline import machine  # noqa: E402  (one description of the machine)
from tests.conftest import fast_tests_command  # noqa: E402  (make test-fast's command, from the Makefile)
from tests.datasets import TABLES, adopt  # noqa: E402  (the tables and README's steps, as the test does them)


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def fast_tests(name: str, durations: int) -> tuple[list[str], list[str]]:
    """The table's row, and its slowest tests."""
    import subprocess

    with tempfile.TemporaryDirectory(prefix=f"datasets-fast-{name}-") as scratch:
        load = os.getloadavg()[0]
        started = time.perf_counter()
        root, env, _ = adopt(name, Path(scratch) / "copy")
        adopted = time.perf_counter() - started
        env = {key: value for key, value in env.items() if not key.startswith("PYTEST_")}
        command = [*fast_tests_command(), f"--durations={durations}"]
        before, started = cpu_of_children(), time.perf_counter()
        done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
        wall, cpu = time.perf_counter() - started, cpu_of_children() - before
    lines = done.stdout.splitlines()
    summary = next((line.strip("= ") for line in reversed(lines) if re.search(r"\d+ (passed|failed)", line)), "")
    slowest = [line for line in lines if re.match(r"^\d+\.\d+s (call|setup|teardown) ", line)]
    status = "green" if done.returncode == 0 else f"exit {done.returncode}"
    row = [name, f"{adopted:.0f}", f"**{wall:.1f}**", f"{cpu:.1f}", f"{summary} ({status})", f"{load:.1f}"]
    if done.returncode:
        print(done.stdout[-3000:], file=sys.stderr)
    return row, slowest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", choices=list(TABLES), default=list(TABLES))
    parser.add_argument("--durations", type=int, default=5, help="slowest tests listed per table")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"command in each copy: {' '.join(['python', *fast_tests_command()[1:]])}\n")
    rows, slowest = [], {}
    for name in args.tables:
        row, slowest[name] = fast_tests(name, args.durations)
        rows.append(row)
        print(f"{name}: {row[2].strip('*')} s", file=sys.stderr, flush=True)
    print("| table | adopt (infer, dvc repro) s | make test-fast wall s | CPU s | tests | load at start |")
    print("|---|---:|---:|---:|---|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    for name, lines in slowest.items():
        print(f"\n{name}, slowest:\n" + "\n".join(f"    {line}" for line in lines))
    print(f"\nmachine at the end: {machine()}")


if __name__ == "__main__":
    main()
