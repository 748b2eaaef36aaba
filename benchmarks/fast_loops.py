"""The loops a user waits on: start-up and one-line errors, a fresh clone to a trained model, a run with
nothing changed, the fast tests.

    .venv/bin/python benchmarks/fast_loops.py [--only startup stages clone test-fast] [--repeat 5]

- startup: `mlops --help` and four one-line errors (a missing data file for validate, a missing
  source file for ingest, an unknown `train.estimator`, no params.yaml), each the median wall time of
  `--repeat` runs, with the exit status, the error line, and whether scikit-learn, Great Expectations
  or MLflow was imported on the way (a subprocess that prints `sys.modules`).
- stages: each stage's fixed cost, the median wall time of `mlops STAGE` in this repository up to the
  call of the stage's `main()` (interpreter, command line, params.yaml checked, the stage's module
  imported), which is replaced by one that returns, so nothing is read or written.
- clone: `git clone` of this repository's HEAD into a temporary folder, then `make venv` (the package
  cache as it is: warm after any earlier `make venv`) and `make run`, each timed, with each stage's
  wall time from `dvc repro`'s output; then `dvc repro` with nothing changed, `--repeat` times, and
  what it hashed (files DVC's state database had no hash for).
- test-fast: `make test-fast` in this repository (its .venv as it is): wall, CPU and the count.

Each figure comes with the machine and its load average at the start, since other work on the
machine lengthens every wall time. docs/benchmarks.md has results.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.pipeline import machine  # noqa: E402  (one description of the machine)

BIN = Path(sys.executable).parent
HEAVY = ("sklearn", "great_expectations", "mlflow")
ENV = {**os.environ, "DVC_NO_ANALYTICS": "1", "MLFLOW_DISABLE_TELEMETRY": "true", "GX_ANALYTICS_ENABLED": "false"}
ENV["PATH"] = os.pathsep.join([str(BIN), ENV.get("PATH", "")])
# `mlops STAGE` up to its main(), which returns at once: the stage's start-up alone.
UNTIL_MAIN = (
    "import importlib, sys; from mlops import cli\n"
    "module = importlib.import_module('mlops.pipeline.' + sys.argv[1])\n"
    "module.main = lambda *args, **kwargs: None\n"
    "sys.exit(cli.main(sys.argv[1:]))"
)
SHOW_MODULES = (
    "import sys; from mlops.cli import main\n"
    "try:\n    status = main(sys.argv[1:])\nexcept SystemExit as exit:\n    status = exit.code\n"
    "print('MODULES', ' '.join(sys.modules), file=sys.stderr); sys.exit(status)"
)


def timed(command: list[str], cwd: Path, repeat: int = 1) -> tuple[float, subprocess.CompletedProcess]:
    """The median wall time of `repeat` runs, and the last run."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times), done


def load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def startup(repeat: int) -> None:
    print(f"\n## Start-up and one-line errors (median of {repeat}; load {load()} at start)\n")
    print("| command | wall s | exit | stderr | scikit-learn, GX, MLflow imported |")
    print("|---|---:|---:|---|---|")
    with tempfile.TemporaryDirectory(prefix="fast-loops-") as scratch:
        scratch = Path(scratch)
        params = (ROOT / "params.yaml").read_text()
        (scratch / "unknown-estimator.yaml").write_text(params.replace("estimator: random_forest", "estimator: svm"))
        (scratch / "missing-source.yaml").write_text(
            re.sub(r"(?m)^  source: \S+", "  source: data/source/missing.csv", params)
        )
        (scratch / "empty").mkdir()
        cases = [
            ("mlops --help", ["--help"], ROOT),
            ("mlops validate --data missing.csv", ["validate", "--data", "missing.csv"], ROOT),
            ("mlops ingest (data.source missing)", ["ingest", "--params", str(scratch / "missing-source.yaml")], ROOT),
            (
                "mlops train (train.estimator: svm)",
                ["train", "--params", str(scratch / "unknown-estimator.yaml")],
                ROOT,
            ),
            ("mlops prepare (no params.yaml)", ["prepare"], scratch / "empty"),
        ]
        for title, argv, cwd in cases:
            wall, done = timed([str(BIN / "mlops"), *argv], cwd, repeat)
            _, shown = timed([sys.executable, "-c", SHOW_MODULES, *argv], cwd)
            modules = set(shown.stderr.rsplit("MODULES", 1)[-1].split())
            heavy = ", ".join(name for name in HEAVY if name in modules) or "none"
            error = done.stderr.strip().splitlines()
            shown_error = error[0][:90] if len(error) == 1 else f"{len(error)} lines"
            print(f"| `{title}` | {wall:.2f} | {done.returncode} | {shown_error} | {heavy} |")


def stage_names() -> list[str]:
    from mlops.cli import STAGES

    return list(STAGES)


def stages(repeat: int) -> None:
    print(f"\n## Each stage's fixed cost (median of {repeat}; load {load()} at start)\n")
    print("| stage | start-up s (to main()) |")
    print("|---|---:|")
    for stage in stage_names():
        wall, done = timed([sys.executable, "-c", UNTIL_MAIN, stage], ROOT, repeat)
        if done.returncode:
            sys.exit(f"{stage}: {done.stderr[-2000:]}")
        print(f"| {stage} | {wall:.2f} |")


def clone(repeat: int) -> None:
    print(f"\n## Fresh clone to a trained model (load {load()} at start)\n")
    with tempfile.TemporaryDirectory(prefix="fast-loops-clone-") as scratch:
        fresh = Path(scratch) / "fresh"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(fresh)], check=True)
        env_path = os.pathsep.join(p for p in ENV["PATH"].split(os.pathsep) if p != str(BIN))
        rows = []
        for target in ("venv", "run"):
            started = time.perf_counter()
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            process = subprocess.Popen(
                ["make", target],
                cwd=fresh,
                env={**ENV, "PATH": env_path},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            starts = {}
            for line in process.stdout:
                found = re.match(r"Running stage '([^']+)'", line)
                if found:
                    starts[found.group(1)] = time.perf_counter()
            status = process.wait()
            ended = time.perf_counter()
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if status:
                sys.exit(f"make {target} failed in {fresh}")
            cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            rows.append((f"make {target}", ended - started, cpu))
            names = list(starts)
            for name, following in zip(names, [*names[1:], None][: len(names)], strict=True):
                rows.append((f"  stage {name}", (starts[following] if following else ended) - starts[name], None))
        total = sum(wall for title, wall, _ in rows if title.startswith("make"))
        print("| step | wall s | CPU s |")
        print("|---|---:|---:|")
        for title, wall, cpu in rows:
            print(f"| {title} | {wall:.1f} | {'' if cpu is None else f'{cpu:.1f}'} |")
        print(f"| **clone to trained model** | **{total:.1f}** | |")

        print(f"\n## `dvc repro` with nothing changed (median of {repeat}; load {load()} at start)\n")
        dvc = [str(fresh / ".venv" / "bin" / "dvc")]
        wall, done = timed([*dvc, "repro"], fresh, repeat)
        ran = re.findall(r"Running stage '([^']+)'", done.stdout)
        print(f"`dvc repro`: {wall:.2f} s, stages run: {', '.join(ran) or 'none'}")
        wall, _ = timed([*dvc, "status"], fresh, repeat)
        print(f"`dvc status`: {wall:.2f} s")
        wall, _ = timed([*dvc, "--version"], fresh, repeat)
        print(f"`dvc --version` (DVC's own start-up): {wall:.2f} s")


def test_fast() -> None:
    print(f"\n## make test-fast (load {load()} at start)\n")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(["make", "test-fast"], cwd=ROOT, env=ENV, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    summary = [line for line in done.stdout.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    print(f"`make test-fast`: exit {done.returncode}, {summary[-1].strip('= ') if summary else 'no summary'}")
    print(f"wall {wall:.1f} s, CPU {cpu:.1f} s, load {load()} at the end")
    if done.returncode:
        print(done.stdout[-3000:])


SECTIONS = {"startup": startup, "stages": stages, "clone": clone, "test-fast": test_fast}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--repeat", type=int, default=5, help="runs per timed command (the median is shown)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    for name in args.only:
        section = SECTIONS[name]
        section() if name == "test-fast" else section(args.repeat)
    print(f"\nmachine at the end: {machine()}")


if __name__ == "__main__":
    main()
