"""A generated project's `make test` time (the target: under 10 minutes on 2 cores).

    .venv/bin/python benchmarks/generated_project.py [--keep DIR]

Copies the repository's files into a temporary template repository at one commit, makes a
project from it with copier's defaults (`copier copy --trust --defaults`, the template-only
tests left out by copier.yml's _exclude), then in the project `make venv` and `make test`,
as a team's CI would. Prints the number of tests collected in the template and in the
project, then `make test`'s wall time and CPU time (user + system of its processes, the
figure other work on a shared machine disturbs least), its result, and the machine.
docs/benchmarks.md has results.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import copy_repository  # noqa: E402  (one way to copy the repository)


def collected(root: Path, python: Path) -> int:
    out = subprocess.run(
        [str(python), "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=root, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return int(re.search(r"(\d+)(?:/\d+)? tests? collected", out).group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="make the project here and keep it (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="generated-project-") as scratch:
        template = copy_repository(Path(scratch) / "template")
        project = args.keep or Path(scratch) / "project"
        subprocess.run(
            [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--quiet",
             "--data", "project_name=benchmark-project", str(template), str(project)],
            check=True,
        )  # fmt: skip
        for command in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"], ["git", "commit", "-qm", "new"]):
            subprocess.run(command, cwd=project, check=True)
        subprocess.run(["make", "venv"], cwd=project, check=True, capture_output=True)
        python = project / ".venv" / "bin" / "python"
        counts = collected(ROOT, Path(sys.executable)), collected(project, python)
        print(f"tests collected: template {counts[0]}, project {counts[1]}")
        load = os.getloadavg()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(["make", "test"], cwd=project, capture_output=True, text=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        summary = [line for line in done.stdout.splitlines() if re.search(r"\d+ (passed|failed)", line)]
        print(f"make test: exit {done.returncode}, {summary[-1] if summary else 'no summary'}")
        print(f"  wall {wall / 60:.1f} min, CPU {cpu / 60:.1f} min, load {load[0]:.2f} at start")
        print(f"  machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
        if done.returncode:
            print(done.stdout[-3000:], done.stderr[-2000:], sep="\n")
        return done.returncode


if __name__ == "__main__":
    sys.exit(main())
