"""The GitHub Actions workflows: security rules, linters, and their steps run on this machine.

The slow tests play a GitHub-hosted runner with tests/workflow/runner.py: `run:` steps run
as written in a temporary clone; `uses:` actions are replaced by local STAND-INS (listed
there). Docker cannot run here, so the publish job is run up to its image build and the
build context is checked instead.
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

from tests.workflow.runner import Runner, event_for, git, load_workflow

ROOT = Path(__file__).resolve().parents[2]
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
    "issues": {("monitor.yml", "issue")},
    "actions": {("monitor.yml", "retrain")},
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


# ---------------------------------------------------------------- the steps, run here


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    """A copy of this repository's committed state: main, plus a pull-request branch that changes a param."""
    origin = tmp_path_factory.mktemp("origin") / "repo"
    subprocess.run(["git", "clone", "--quiet", "--no-local", str(ROOT), str(origin)], check=True)
    git("checkout", "--quiet", "-B", "main", cwd=origin)
    git("checkout", "--quiet", "-b", "feature", cwd=origin)
    params = origin / "params.yaml"
    params.write_text(params.read_text().replace("n_estimators: 100", "n_estimators: 50"))
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-am", "Fewer trees", cwd=origin)
    git("checkout", "--quiet", "main", cwd=origin)
    return origin


@pytest.fixture(scope="module")
def pull_request_run(origin, tmp_path_factory):
    """The train workflow's pipeline job on a pull request, then the comment job, as on GitHub."""
    sha = git("rev-parse", "feature", cwd=origin)
    tmp = tmp_path_factory.mktemp("runner")
    event = event_for("pull_request", pull_request={"number": 7, "head": {"sha": sha}})
    secrets = {"AWS_ACCESS_KEY_ID": "secret-aws-id", "MLFLOW_TRACKING_PASSWORD": "secret-mlflow"}
    runner = Runner(origin, tmp, "pull_request", event, "refs/pull/7/merge", sha, secrets=secrets)
    train = runner.run_job(load_workflow(origin, "train.yml"), "pipeline")
    return runner, train, sha


@pytest.mark.slow
def test_validate_job_fails_fast_and_uploads_its_summary(origin, tmp_path):
    sha = git("rev-parse", "main", cwd=origin)
    runner = Runner(origin, tmp_path, "push", event_for("push"), "refs/heads/main", sha)
    result = runner.run_job(load_workflow(origin, "train.yml"), "validate")
    assert result.failed is None, result.failed
    assert (runner.artifacts / "data-validation" / "summary.md").is_file()


@pytest.mark.slow
def test_train_job_writes_the_report_uploads_it_and_fills_the_step_summary(pull_request_run):
    runner, train, _ = pull_request_run
    assert train.failed is None, f"{train.failed.name}:\n{train.failed.stdout}\n{train.failed.stderr}"
    report = (train.workspace / "reports/pr/report.md").read_text()
    assert re.match(r"## (✅|⚪|❌) Model report: (better|no detectable change|worse) in f1 against main@", report)
    assert "over 5×2 paired folds of 569 rows" in report  # main's committed per-fold scores pair with the PR's
    assert "`train.hyperparameters.n_estimators` | 100 | 50 |" in report  # the param the PR changed
    assert "Baseline: main@" in report and "metrics committed on main" in report
    assert "xychart-beta" in report and "https://github.com/example/ml-template/actions/runs/4242" in report
    assert train.summary.strip() == report.strip()
    output = runner.artifacts / "pipeline-output"
    carried = ("reports/cv/scores.json", "reports/cv/predictions.parquet", "data/predictions/test.csv")  # a baseline's
    for name in ("reports/metrics.json", "reports/pr/report.html", "models/model.skops", "params.yaml", *carried):
        assert (output / name).is_file(), name
    assert (runner.artifacts / "pr-report" / "pr-number").read_text().strip() == "7"


@pytest.mark.slow
def test_comment_job_posts_the_report_once_with_a_watermark_and_reads_no_secret(pull_request_run):
    runner, train, sha = pull_request_run
    runner.secret_reads.clear()
    runner.event_name = "workflow_run"
    runner.event = event_for("workflow_run", workflow_run={"event": "pull_request", "conclusion": "success", "id": 1})
    runner.event["workflow_run"]["head_sha"] = sha
    runner.extra_env = {"CML_RECORD_DIR": str(runner.tmp / "cml"), "GH_STANDIN_HEAD_SHA": sha}
    workflow = load_workflow(runner.origin, "pr-report.yml")
    assert runner.evaluate(workflow["jobs"]["comment"]["if"], runner.context(runner.tmp, {}, {}))
    result = runner.run_job(workflow, "comment")
    assert result.failed is None, f"{result.failed.name}:\n{result.failed.stdout}\n{result.failed.stderr}"
    call = json.loads((runner.tmp / "cml" / "call-0.json").read_text())
    assert call == {
        "command": "update",
        "options": {
            "driver": "github",
            "repo": "https://github.com/example/ml-template",
            "target": "pr/7",
            "watermark-title": "mlops-model-report",
            "publish": False,
        },
    }
    posted = (runner.tmp / "cml" / "comment-0.md").read_text()
    assert posted == (train.workspace / "reports/pr/report.md").read_text()
    assert runner.secret_reads == []
    assert not list((runner.tmp / "cml").glob("call-1.json")), "one comment per run"


@pytest.mark.slow
def test_publish_build_context_holds_the_model_the_pipeline_produced(pull_request_run):
    runner, _, _ = pull_request_run
    sha = runner.sha
    publisher = Runner(runner.origin, runner.tmp / "publish", "push", event_for("push"), "refs/heads/main", sha)
    publisher.artifacts = runner.artifacts  # the same run's artifact, as on GitHub
    result = publisher.run_job(load_workflow(runner.origin, "train.yml"), "publish")
    assert result.failed is None and result.stopped_at, result.failed
    for source in dockerfile_copy_sources(result.workspace / "Dockerfile"):
        assert list(result.workspace.glob(source)), f"Dockerfile COPY source {source} is not in the build context"


def dockerfile_copy_sources(dockerfile: Path) -> list[str]:
    sources = []
    for line in dockerfile.read_text().splitlines():
        words = line.split()
        if words[:1] in (["COPY"], ["ADD"]) and not any(word.startswith("--from") for word in words):
            sources += [word for word in words[1:-1] if not word.startswith("--")]
    return sources


def test_train_workflow_calls_publish_only_on_the_default_branch():
    job = load_workflow(ROOT, "train.yml")["jobs"]["publish"]
    assert job["needs"] == "pipeline" and "github.event_name == 'push'" in job["if"]
    assert "default_branch" in job["if"]
    assert yaml.safe_load((ROOT / ".github/workflows/publish.yml").read_text())[True].keys() == {"workflow_call"}
