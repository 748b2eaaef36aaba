"""The checks gate in the workflows: a model that fails its checks turns train.yml red, still gets its
pull-request report (with the failed checks), and is never shipped by publish.yml.

The steps' shell scripts run here with bash as GitHub runs them (`bash -eo pipefail`), with the real
`mlops`; `dvc` is a stand-in (a shell script, below) that ends `dvc repro` as the pipeline does when a
stage fails, since what is under test is the step's handling of that outcome. The real `dvc repro`
through the same script: tests/integration/test_pipeline.py. The steps' `if:` conditions are read with
tests/workflow/github_expressions.py, each status function replaced by its value in the case at hand.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.unit.conftest import MINIMAL_PARAMS
from tests.workflow.github_expressions import condition

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
DVC_STAND_IN = """#!/bin/sh
# A stand-in for dvc: `dvc repro` ends with $REPRO_STATUS, after the checks stage wrote $CHECKS_RESULT (if set);
# `dvc repro ingest`, the first stage alone, succeeds.
case "$1" in
  repro) if [ "$2" = ingest ]; then exit 0; fi
         if [ -n "$CHECKS_RESULT" ]; then mkdir -p reports && cp "$CHECKS_RESULT" reports/checks.json; fi
         exit "$REPRO_STATUS" ;;
  *) echo "dvc $*" ;;
esac
"""


def result(passed: bool) -> dict:
    check = {"name": "beats the baseline", "passed": passed, "detail": "f1 0.0 against 0.0", "fix": "set X"}
    return {
        "passed": passed,
        "metric": "f1",
        "model": {"f1": 0.0},
        "baseline": {"f1": 0.0},
        "baseline_model": "the majority class, with the class shares",
        "decision": {},
        "checks": [check],
    }


def steps(workflow: str, job: str) -> list[dict]:
    return yaml.safe_load((WORKFLOWS / workflow).read_text())["jobs"][job]["steps"]


def step(workflow: str, job: str, name: str) -> dict:
    (found,) = [entry for entry in steps(workflow, job) if entry.get("name") == name]
    return found


def run_script(script: str, root: Path, **env: str) -> tuple[int, str, str]:
    """A step's `run:` in `root`, as GitHub runs it: bash -eo pipefail, GITHUB_OUTPUT a file."""
    (root / "bin").mkdir(exist_ok=True)
    stand_in = root / "bin" / "dvc"
    stand_in.write_text(DVC_STAND_IN)
    stand_in.chmod(0o755)
    (root / "params.yaml").write_text(yaml.safe_dump(MINIMAL_PARAMS))
    output = root / "github-output"
    output.write_text("")
    path = f"{root / 'bin'}:{Path(sys.executable).parent}:{os.environ['PATH']}"
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=root,
        env={**os.environ, "PATH": path, "GITHUB_OUTPUT": str(output), "DVC_REMOTE_URL": "", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, output.read_text(), done.stdout + done.stderr


def checks_file(root: Path, passed: bool) -> Path:
    path = root / "checks-result.json"
    path.write_text(json.dumps(result(passed)))
    return path


PIPELINE = step("train.yml", "pipeline", "Run the pipeline")


def test_failed_checks_fail_the_pipeline_step_and_are_recorded_for_the_report(tmp_path):
    status, output, log = run_script(
        PIPELINE["run"], tmp_path, REPRO_STATUS="1", CHECKS_RESULT=str(checks_file(tmp_path, False))
    )
    assert status == 1, log
    assert output == "checks=failed\n"
    assert "::error::The model failed its checks" in log


def test_another_failed_stage_fails_the_step_without_claiming_failed_checks(tmp_path):
    status, output, log = run_script(PIPELINE["run"], tmp_path, REPRO_STATUS="2", CHECKS_RESULT="")
    assert status == 2, log
    assert output == ""


def test_a_model_that_passed_goes_on_and_prints_its_checks(tmp_path):
    status, output, log = run_script(
        PIPELINE["run"], tmp_path, REPRO_STATUS="0", CHECKS_RESULT=str(checks_file(tmp_path, True))
    )
    assert status == 0, log
    assert output == "" and "all 1 checks passed" in log and "dvc metrics show" in log


def evaluate(value: str, *, succeeded: bool, checks: str, baseline: str = "") -> bool | None:
    """An `if:` after the pipeline step, the status functions replaced by this case's values; `baseline`:
    where main's training output was downloaded ("" when it was not)."""
    text = value.replace("success()", str(succeeded).lower()).replace("cancelled()", "false")
    text = text.replace("failure()", str(not succeeded).lower())
    outputs = {"pipeline": {"outputs": {"checks": checks}}, "baseline": {"outputs": {"dir": baseline}}}
    return condition(text, {"steps": outputs})


REPORTING = (
    "Download main's last training output (the baseline)",
    "Check out what is committed on the default branch (the fallback baseline)",
    "Report",
)


@pytest.mark.parametrize("name", REPORTING)
def test_the_report_is_written_after_failed_checks_but_not_after_another_failure(name):
    for job in ("pipeline", "pipeline-release"):  # the same steps, a YAML alias
        value = step("train.yml", job, name)["if"]
        assert evaluate(value, succeeded=True, checks="") is True
        assert evaluate(value, succeeded=False, checks="failed") is True
        assert evaluate(value, succeeded=False, checks="") is False


def test_the_committed_baseline_is_checked_out_only_when_main_s_training_output_was_not_found():
    """The report takes the first baseline directory with metrics: main's artifact, when downloaded."""
    for job in ("pipeline", "pipeline-release"):
        value = step("train.yml", job, REPORTING[1])["if"]
        assert evaluate(value, succeeded=True, checks="", baseline="/runner/temp/baseline") is False
        assert evaluate(value, succeeded=False, checks="failed", baseline="/runner/temp/baseline") is False
    assert (
        '--baseline-dir "$ARTIFACT_BASELINE"} --baseline-dir .baseline'
        in step("train.yml", "pipeline", "Report")["run"]
    )


def test_nothing_is_pushed_after_failed_checks():
    push = step("train.yml", "pipeline", "Push to the DVC remote")
    assert "success()" not in push["if"] and "always()" not in push["if"] and "cancelled()" not in push["if"]


def test_publish_runs_only_after_the_pipeline_passed_and_refuses_a_failed_artifact_first(tmp_path):
    jobs = yaml.safe_load((WORKFLOWS / "train.yml").read_text())["jobs"]
    assert jobs["publish"]["needs"] == "pipeline-release"
    assert "always()" not in jobs["publish"]["if"] and "failure()" not in jobs["publish"]["if"]
    names = [entry.get("name") or entry.get("uses") for entry in steps("publish.yml", "image")]
    refuse = names.index("Refuse a model that failed its checks")
    assert refuse < names.index("Sign the model files (keyless, with this workflow's GitHub identity)")
    assert refuse < names.index("Build the image and push it by digest, with its SBOM and provenance (no tag yet)")
    script = step("publish.yml", "image", "Refuse a model that failed its checks")["run"]
    for passed, expected in ((False, 1), (True, 0)):
        root = tmp_path / str(passed)
        root.mkdir()
        (root / "reports").mkdir()
        (root / "reports/checks.json").write_text(json.dumps(result(passed)))
        status, _, log = run_script(script, root, REPRO_STATUS="0", CHECKS_RESULT="")
        assert status == expected, log
    missing = tmp_path / "missing"
    missing.mkdir()
    status, _, log = run_script(script, missing, REPRO_STATUS="0", CHECKS_RESULT="")
    assert status == 1 and "reports/checks.json not found" in log
