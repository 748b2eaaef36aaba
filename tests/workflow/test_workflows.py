"""The GitHub Actions workflows, read: security rules, linters, and what the engine tests cannot see.

tests/actions runs the workflows with a real Actions engine (act); act ignores trigger
filters, so those are checked here.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT as ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.\-]+/[\w.\-/]+@[0-9a-f]{40}$")


def workflow_texts():
    return {path.name: path.read_text() for path in WORKFLOWS}


def test_the_four_workflows_exist():
    assert {path.name for path in WORKFLOWS} >= {"ci.yml", "train.yml", "pr-report.yml", "publish.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_with_its_version_in_a_comment(path):
    for line in path.read_text().splitlines():
        match = re.match(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", line)
        if not match or match.group(1).startswith("./"):
            continue
        assert PINNED.match(match.group(1)), f"{path.name}: not pinned to a full commit SHA: {line.strip()}"
        assert re.match(r"\s*#\s*v\d+(\.\d+)*", match.group(2)), f"{path.name}: no `# vX.Y.Z` comment: {line.strip()}"


# The only jobs allowed to write, and what: (workflow, job) per permission scope.
WRITERS = {
    "contents": {("monitor.yml", "data")},  # the branch of the next data version
    "pull-requests": {("pr-report.yml", "comment"), ("monitor.yml", "data")},
    "packages": {("publish.yml", "image"), ("train.yml", "publish")},
    "id-token": {("publish.yml", "image"), ("train.yml", "publish")},  # Sigstore signs the model and the provenance
    "attestations": {("publish.yml", "image"), ("train.yml", "publish")},
    "issues": {("monitor.yml", "issue")},
    "actions": {("monitor.yml", "retrain")},
    # the audit trail: publish and promote records, deploy and revert records (docs/deploy.md)
    "deployments": {("publish.yml", "image"), ("train.yml", "publish"), ("deploy.yml", "deploy")},
}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_permissions_timeouts_and_no_untrusted_interpolation(path):
    workflow = load_workflow(ROOT, path.name)
    assert "pull_request_target" not in json.dumps(workflow["on"])
    assert workflow.get("permissions") in ({}, {"contents": "read"}), "top-level permissions must be empty or read"
    for name, job in workflow["jobs"].items():
        granted = job.get("permissions", {})
        for scope, value in granted.items():
            if value not in ("read", "none"):
                assert (path.name, name) in WRITERS[scope], f"{path.name}: job {name} may not write {scope}"
        if "uses" in job:
            continue
        assert "timeout-minutes" in job, f"{path.name}: job {name} has no timeout"
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), f"{path.name}: expression inside run: of '{step.get('name')}'"
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False


def test_superseded_runs_are_cancelled_per_branch():
    # train.yml lets runs on the default branch finish: each one publishes.
    cancel = {
        "ci.yml": True,
        "pr-report.yml": True,
        "train.yml": "${{ github.ref_name != github.event.repository.default_branch }}",
    }
    for name, expected in cancel.items():
        concurrency = load_workflow(ROOT, name)["concurrency"]
        assert "github.ref" in concurrency["group"] or "head_branch" in concurrency["group"]
        assert concurrency["cancel-in-progress"] == expected, name


def test_cml_is_pinned_without_vega_and_updates_one_comment():
    job = load_workflow(ROOT, "pr-report.yml")["jobs"]["comment"]
    setup = next(step for step in job["steps"] if step.get("uses", "").startswith("iterative/setup-cml@"))
    assert setup["with"]["vega"] is False and re.fullmatch(r"v\d+\.\d+\.\d+", setup["with"]["version"])
    script = "\n".join(step.get("run", "") for step in job["steps"])
    assert "cml comment update" in script and "--watermark-title=" in script and '--target="pr/$pr"' in script
    assert not any(step.get("uses", "").startswith("actions/checkout@") for step in job["steps"])


def test_both_ci_systems_update_the_comment_that_carries_the_one_watermark():
    from mlops.report import WATERMARK

    for path in (".github/workflows/pr-report.yml", ".gitlab-ci.yml"):
        assert re.findall(r'--watermark-title="([^"]*)"', (ROOT / path).read_text()) == [WATERMARK], path


def test_the_comment_job_reads_no_secret():
    text = (ROOT / ".github/workflows/pr-report.yml").read_text()
    assert "secrets." not in text


@pytest.mark.parametrize(
    "command",
    [
        ["actionlint"],
        ["check-jsonschema", "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
        ["zizmor", "--offline", ".github/workflows"],
    ],
    ids=["actionlint", "check-jsonschema", "zizmor"],
)
def test_workflow_linters_find_nothing(command):
    beside_python = Path(sys.executable).parent / command[0]
    tool = str(beside_python) if beside_python.is_file() else shutil.which(command[0])
    if tool is None:
        pytest.skip(f"{command[0]} is not installed: `make venv` installs it")
    done = subprocess.run([tool, *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    if command[0] == "zizmor":
        assert "No findings" in done.stdout + done.stderr


# ---------------------------------------------------------------- what act does not check


def triggers(name: str) -> dict:
    on = load_workflow(ROOT, name)["on"]
    return {key: None for key in on} if isinstance(on, list) else {on: None} if isinstance(on, str) else on


def test_trigger_filters_that_the_engine_ignores():
    """act runs a workflow for any event it is given; GitHub filters on these."""
    assert triggers("pr-report.yml") == {"workflow_run": {"workflows": ["train"], "types": ["completed"]}}
    assert load_workflow(ROOT, "train.yml")["name"] == "train"
    assert set(triggers("train.yml")) == {"push", "pull_request", "workflow_dispatch"}
    assert triggers("full-tests.yml")["push"] == {"branches": ["main"]}
    assert set(triggers("ci.yml")) >= {"push", "pull_request"}
    assert set(triggers("monitor.yml")) == {"schedule", "workflow_dispatch"}


def test_every_dispatched_workflow_can_be_dispatched():
    """GitHub refuses `gh workflow run X` when X has no workflow_dispatch trigger."""
    dispatched = set()
    for path in WORKFLOWS:
        dispatched |= set(re.findall(r"gh workflow run ([\w.-]+\.ya?ml)", path.read_text()))
    assert dispatched, "monitor.yml dispatches train.yml on drift"
    for name in dispatched:
        assert "workflow_dispatch" in triggers(name), f"{name} is dispatched but has no workflow_dispatch trigger"


def test_the_whole_suite_runs_on_github_on_main_every_night_with_the_ci_packages():
    workflow = load_workflow(ROOT, "full-tests.yml")
    assert "main" in triggers("full-tests.yml")["push"]["branches"] and "schedule" in triggers("full-tests.yml")
    script = "\n".join(step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"])
    assert "bash .ci/run" in script  # .ci/run installs .ci/apt-packages.txt, then `make test`
    assert (
        "make test\n" in (ROOT / ".ci/run").read_text() + "\n" and "apt-packages.txt" in (ROOT / ".ci/run").read_text()
    )


DEFAULT_REF = "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)"


def test_only_the_default_branch_reaches_the_tracking_server_or_pushes_to_the_dvc_remote():
    workflow = load_workflow(ROOT, "train.yml")
    jobs = workflow["jobs"]
    assert "MLFLOW_TRACKING_URI" not in workflow["env"] and "MLFLOW_TRACKING_URI" not in jobs["pipeline"]["env"]
    assert jobs["pipeline-release"]["env"]["MLFLOW_TRACKING_URI"] == "${{ vars.MLFLOW_TRACKING_URI }}"
    assert jobs["pipeline"]["if"] == DEFAULT_REF.replace("==", "!=")
    assert jobs["pipeline-release"]["if"] == DEFAULT_REF and jobs["pipeline-release"]["environment"] == "release"
    # The same steps (a YAML alias), so the two cannot drift apart; only their env differs.
    assert jobs["pipeline"]["steps"] == jobs["pipeline-release"]["steps"]
    text = (ROOT / ".github/workflows/train.yml").read_text()
    assert "steps: &pipeline-steps" in text and "steps: *pipeline-steps" in text
    push = next(step for step in jobs["pipeline"]["steps"] if step.get("name") == "Push to the DVC remote")
    assert DEFAULT_REF in push["if"] and push["run"] == "dvc push --run-cache"


def test_every_pinned_action_has_a_stand_in_for_the_engine_tests(tmp_path):
    from tests.actions import standins

    flags = standins.write_actions(ROOT, tmp_path)
    assert len(flags) == 2 * len(
        {(action.split("/")[0], action.split("/")[1], sha) for action, sha in standins.pinned_actions(ROOT)}
    )


def test_an_action_without_a_stand_in_is_named(tmp_path):
    from tests.actions import standins

    workflows = tmp_path / ".github/workflows"
    workflows.mkdir(parents=True)
    (workflows / "x.yml").write_text(
        "jobs:\n  a:\n    steps:\n      - uses: someone/new-action@" + "a" * 40 + " # v1\n"
    )
    with pytest.raises(KeyError, match="no stand-in for someone/new-action"):
        standins.write_actions(tmp_path, tmp_path / "out")


def load_workflow(root: Path, name: str) -> dict:
    data = yaml.safe_load((root / ".github" / "workflows" / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def test_train_workflow_calls_publish_only_on_the_default_branch():
    job = load_workflow(ROOT, "train.yml")["jobs"]["publish"]
    assert job["needs"] == "pipeline-release" and job["if"] == DEFAULT_REF
    assert yaml.safe_load((ROOT / ".github/workflows/publish.yml").read_text())[True].keys() == {"workflow_call"}
