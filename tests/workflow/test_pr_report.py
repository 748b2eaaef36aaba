"""pr-report.yml's comment step puts the feedback time on the comment's cost line.

The step's script runs here with bash as GitHub runs it (`bash -eo pipefail`); `gh` answers the pull
request's head commit, `cml` keeps the report it was given, and `date +%s` tells a fixed time (every
other `date` is the real one), so the time shown is known to the second. The same step against the
GitHub API stand-in, timed by its records: tests/actions/test_scenarios.py (scenario 3).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from mlops.report.markdown import FEEDBACK_MARKER
from tests.conftest import REPO_ROOT

STEP = next(
    step
    for step in yaml.safe_load((REPO_ROOT / ".github/workflows/pr-report.yml").read_text())["jobs"]["comment"]["steps"]
    if step.get("name") == "Comment on the pull request"
)
STARTED = "2027-01-15T08:00:00Z"  # 1_800_000_000
COST = "Cost: this run cross-validated its model in 6.0 s, 10 fits of 455 rows each."
STAND_INS = {
    "gh": '#!/bin/sh\necho "$HEAD_SHA"\n',
    "cml": '#!/bin/sh\nfor last; do :; done\ncp "$last" "$POSTED"\n',
    "date": '#!/bin/sh\nif [ "$*" = "+%s" ]; then echo "$NOW"; else exec /bin/date "$@"; fi\n',
}


def comment(tmp_path: Path, report: str, now: int, started: str = STARTED) -> str:
    """The report as the step hands it to cml, the step run `now` (seconds since the epoch)."""
    (tmp_path / "bin").mkdir()
    for name, text in STAND_INS.items():
        (tmp_path / "bin" / name).write_text(text)
        (tmp_path / "bin" / name).chmod(0o755)
    folder = tmp_path / "pr-report"
    folder.mkdir()
    (folder / "report.md").write_text(report)
    (folder / "pr-number").write_text("7\n")
    env = {
        **os.environ,
        **STEP["env"],
        "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
        "HEAD_SHA": "a" * 40,
        "RUN_STARTED_AT": started,
        "REPORT_DIR": str(folder),
        "GITHUB_REPOSITORY": "example/ml-template",
        "GITHUB_SERVER_URL": "https://github.com",
        "POSTED": str(tmp_path / "posted.md"),
        "NOW": str(now),
    }
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", STEP["run"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return (tmp_path / "posted.md").read_text()


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(161, "2 min 41 s"), (60, "1 min 0 s"), (59, "59 s"), (0, "0 s"), (-3, "0 s"), (3725, "62 min 5 s")],
)
def test_the_feedback_time_goes_on_the_cost_line_in_minutes_and_seconds(tmp_path, seconds, shown):
    report = f"## Model report\n\nBaseline: main.  \n{COST}{FEEDBACK_MARKER}\n\n### Checks\n"
    posted = comment(tmp_path, report, now=1_800_000_000 + seconds)
    line = f"{COST} Feedback: {shown} from the start of this pull request's `train` run to this comment."
    assert posted == f"## Model report\n\nBaseline: main.  \n{line}\n\n### Checks\n"


def test_a_report_without_a_cost_line_gets_the_feedback_time_last(tmp_path):
    """The report train.yml writes when the data fails validation has no cost line."""
    report = "## ❌ Model report: the data failed validation\n\nFix the data.\n"
    posted = comment(tmp_path, report, now=1_800_000_095)
    feedback = "Feedback: 1 min 35 s from the start of this pull request's `train` run to this comment."
    assert posted == f"{report}\n{feedback}\n"


def test_without_the_run_start_the_report_is_posted_as_written(tmp_path):
    report = f"{COST}{FEEDBACK_MARKER}\n"
    assert comment(tmp_path, report, now=1_800_000_095, started="") == report
