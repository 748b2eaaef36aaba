"""The daily monitor run in a project with no prediction logs: its first step says so in the
summary and every later step is skipped, instead of checking a simulated batch; a manual run,
logs at PREDICTION_LOG_URL or batches in monitor.source go on."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.conftest import REPO_ROOT

from .test_monitor_workflow import WORKFLOW, run_steps

GATE = "Check that there are prediction logs to monitor"


@pytest.mark.parametrize(
    ("event", "log_url", "batch", "check"),
    [
        ("schedule", "", False, "false"),
        ("workflow_dispatch", "", False, "true"),
        ("schedule", "s3://bucket/logs", False, "true"),
        ("schedule", "", True, "true"),
    ],
)
def test_a_scheduled_run_without_prediction_logs_says_so_and_checks_nothing(tmp_path, event, log_url, batch, check):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO_ROOT / "params.yaml", project / "params.yaml")
    if batch:
        (project / "data/production").mkdir(parents=True)
        (project / "data/production/batch.csv").write_text("a,b\n1,2\n")
    known = {
        "github.event_name": event,
        "vars.PREDICTION_LOG_URL": log_url,
        "vars.LABELS_URL": "",
        "vars.AWS_ENDPOINT_URL": "",
        "secrets.AWS_ACCESS_KEY_ID": "",
        "secrets.AWS_SECRET_ACCESS_KEY": "",
        "secrets.AWS_READ_ACCESS_KEY_ID": "",  # detect reads with the read-only key
        "secrets.AWS_READ_SECRET_ACCESS_KEY": "",
    }
    outputs = run_steps("detect", [GATE], project, {"PATH": os.environ["PATH"]}, known)
    assert outputs["logs.outputs.check"] == check
    summary = (tmp_path / "summary.md").read_text() if (tmp_path / "summary.md").exists() else ""
    if check == "false":
        assert "No prediction logs to monitor" in summary and "PREDICTION_LOG_URL" in summary
    else:
        assert summary == ""


def test_every_step_after_the_check_runs_only_when_there_is_something_to_check():
    steps = WORKFLOW["jobs"]["detect"]["steps"]
    names = [step.get("name", step.get("uses")) for step in steps]
    after = steps[names.index(GATE) + 1 :]
    assert after, "the check must come before the work"
    for step in after:
        assert step.get("if", "").startswith("steps.logs.outputs.check == 'true'"), step
    # nothing but checkout and setup before it: a stopped run costs no pipeline
    assert [step.get("uses", "").split("@")[0] for step in steps[: names.index(GATE)]] == [
        "actions/checkout",
        "./.github/actions/setup",
    ]
