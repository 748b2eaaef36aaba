"""The Jenkinsfile: linted by npm-groovy-lint (CodeNarc) with the committed .groovylintrc.json,
and its stages' shell steps run in order, as one Jenkins agent would, in a clean clone of a
project on synthetic data (docs/ci.md says what this proves and what only a controller would).

Jenkins itself cannot run here. What it provides is stood in for: its environment variables
for a pull-request build and a default-branch build (as a multibranch job sets them), its
credentials store (a dict; a credential the stage names that is not in it fails the run as in
Jenkins), `cml` (cml_recorder.py records the comment it would post) and `docker`
(docker_standin.py records builds and pushes, and serves the model for the smoke test).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlops.http import free_port
from tests.ci.jenkinsfile import Pipeline, Stage, parse
from tests.conftest import REPO_ROOT
from tests.deploy.conftest import clone_at, git, more_trees, npm_tool, synthetic_origin

JENKINSFILE = REPO_ROOT / "Jenkinsfile"
GROOVY_LINT = "npm-groovy-lint@15.2.2"  # the newest that runs on Node 20
CREDENTIALS = {"cml-repo-token": "stand-in-token", "image-registry": ("ci-bot", "stand-in-password")}
# What train.yml's jobs leave: the validation summary, then the pipeline-output artifact's files.
OUTPUTS = [
    "reports/validation/summary.md",
    "dvc.lock",
    "reports/metrics.json",
    "reports/cv/scores.json",
    "reports/pr/report.md",
    "models/model.onnx",
    "models/metadata.json",
    "data/prepared/test.parquet",
    "data/prepared/schema.json",
    "data/predictions/test.csv",
]


@pytest.fixture(scope="module")
def groovy_lint() -> Path:
    return npm_tool(GROOVY_LINT)


def lint(groovy_lint: Path, jenkinsfile: Path) -> tuple[int, list[tuple[str, str]]]:
    """npm-groovy-lint's exit status and findings (severity, rule); a warning fails as an error does."""
    command = [str(groovy_lint), "--noserver", "--failon", "warning", "--output", "json"]
    command += ["--config", str(REPO_ROOT / ".groovylintrc.json"), str(jenkinsfile)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=groovy_lint.parents[2])
    found = json.loads(result.stdout[result.stdout.index("{") :])
    return result.returncode, [(e["severity"], e["rule"]) for file in found["files"].values() for e in file["errors"]]


@pytest.mark.slow
def test_npm_groovy_lint_passes_the_jenkinsfile_and_fails_a_broken_one(groovy_lint, tmp_path):
    status, findings = lint(groovy_lint, JENKINSFILE)
    assert status == 0 and all(severity == "info" for severity, _ in findings), findings
    broken = tmp_path / "Jenkinsfile"
    text = JENKINSFILE.read_text()
    broken.write_text(text.replace("stage('Train') {", "stage('Train') { def unused = 1; if (x == x) { }", 1))
    status, findings = lint(groovy_lint, broken)
    assert status != 0, "the linter let a broken Jenkinsfile through"
    assert {"ComparisonOfTwoConstants", "EmptyIfStatement"} & {rule for _, rule in findings}, findings


def test_the_reader_finds_every_stage_with_its_condition_and_credentials():
    pipeline = parse(JENKINSFILE.read_text())
    assert [stage.name for stage in pipeline.stages] == ["Setup", "Validate", "Train", "Report", "Publish"]
    # The conditions a controller evaluates (not run here): the comment on pull requests only,
    # the image on the default branch only.
    assert pipeline.stage("Report").when == "changeRequest()"
    assert pipeline.stage("Publish").when == (
        "allOf { not { changeRequest() } expression { env.BRANCH_NAME == env.DEFAULT_BRANCH } }"
    )
    assert all(not stage.when for stage in pipeline.stages[:3])
    # Secrets come from the credentials store, each only in the stage that needs it.
    assert [(c.id, c.variables) for c in pipeline.stage("Report").credentials] == [("cml-repo-token", ("REPO_TOKEN",))]
    (publish,) = pipeline.stage("Publish").steps
    assert [(c.id, c.variables) for c in publish.credentials] == [
        ("image-registry", ("REGISTRY_USER", "REGISTRY_PASSWORD"))
    ]
    for stage in pipeline.stages[:3]:
        assert not stage.credentials and not any(step.credentials for step in stage.steps)
    # The commands are the GitHub workflows' (train.yml) and the Makefile's.
    scripts = "\n".join(step.script for stage in pipeline.stages for step in stage.steps)
    for command in ("make venv", "dvc repro ingest", "mlops validate", "dvc repro", "mlops report", "mlops smoke"):
        assert command in scripts


def bindings(stage: Stage, credentials: list) -> dict[str, str]:
    """The variables Jenkins binds from its credentials store; a missing id fails as it does."""
    env = {}
    for credential in credentials:
        if credential.id not in CREDENTIALS:
            raise AssertionError(f"stage {stage.name!r}: credentials '{credential.id}' not found in the store")
        value = CREDENTIALS[credential.id]
        env.update(zip(credential.variables, value if isinstance(value, tuple) else (value,), strict=True))
    return env


def run_stages(pipeline: Pipeline, names: list[str], work: Path, jenkins_env: dict[str, str]) -> list[str]:
    """Run the named stages' shell steps in order, as `sh` does (sh -xe, in the workspace); the log."""
    log = []
    for stage in (pipeline.stage(name) for name in names):
        for step in stage.steps:
            env = {**jenkins_env, **pipeline.environment, **stage.environment}
            env.update(bindings(stage, stage.credentials + step.credentials))
            script = work.parent / "step.sh"
            script.write_text(step.script)
            command = ["sh", "-xe", str(script)]
            done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=1800)
            log.append(f"[{stage.name}] {done.stdout}{done.stderr}")
            assert done.returncode == 0, f"stage {stage.name!r} failed:\n" + "\n".join(log)[-6000:]
    return log


@pytest.fixture(scope="module")
def origin(tmp_path_factory) -> tuple[Path, Path]:
    return synthetic_origin(tmp_path_factory)


def workspace(origin, tmp_path: Path, branch: str, change=None) -> tuple[Path, dict[str, str]]:
    """A clean clone at `branch` (with `change` committed there), its DVC cache restored as a
    Jenkins cache step would, the stand-ins on PATH; Jenkins' environment without the build's own."""
    work = clone_at(origin, tmp_path / "workspace", branch, change)
    tools = tmp_path / "tools"
    tools.mkdir()
    here = Path(__file__).parent
    (tools / "cml").write_text(f'#!/bin/sh\nexec {sys.executable} {here.parent / "deploy" / "cml_recorder.py"} "$@"\n')
    (tools / "docker").write_text(f'#!/bin/sh\nexec {sys.executable} {here / "docker_standin.py"} "$@"\n')
    for tool in tools.iterdir():
        tool.chmod(0o755)
    env = {
        "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "WORKSPACE": str(work),
        "GIT_URL": "https://github.example/org/project.git",
        "GIT_COMMIT": git(work, "rev-parse", "HEAD"),
        "BUILD_TAG": "jenkins-project-42",
        "CML_RECORD_DIR": str(tmp_path / "cml"),
        "DOCKER_RECORD": str(tmp_path / "docker"),
    }
    return work, env


def assert_train_outputs(work: Path) -> None:
    missing = [name for name in OUTPUTS if not (work / name).is_file()]
    assert not missing, f"train.yml's jobs leave these, the Jenkinsfile's stages did not: {missing}"


@pytest.mark.slow
def test_a_pull_request_build_validates_trains_reports_against_its_target_and_comments_once(origin, tmp_path):
    pipeline = parse(JENKINSFILE.read_text())
    work, env = workspace(origin, tmp_path, "more-trees", more_trees)
    env.update(BRANCH_NAME="PR-7", CHANGE_ID="7", CHANGE_TARGET="main", CHANGE_BRANCH="more-trees")
    server = tmp_path / "tracking-server.db"  # the team's server, which a pull request must not reach
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{server}"

    run_stages(pipeline, ["Setup", "Validate", "Train", "Report"], work, env)

    assert_train_outputs(work)
    report = (work / "reports/pr/report.md").read_text()
    assert "n_estimators" in report  # compared with main's committed run: the changed parameter is named
    assert "no baseline" not in report.lower()
    (call,) = [json.loads(path.read_text()) for path in sorted((tmp_path / "cml").glob("call-*.json"))]
    assert call["command"] == "update"
    assert call["options"] == {
        "driver": "github",
        "repo": "https://github.example/org/project",
        "target": "pr/7",
        "watermark-title": "mlops-model-report",
        "publish": False,
    }
    assert (tmp_path / "cml" / "comment-0.md").read_text() == report
    assert not (tmp_path / "docker").exists(), "a pull request publishes nothing"
    assert not server.exists() and (work / "mlflow.db").is_file(), "the pull request tracked into the server"


@pytest.mark.slow
def test_a_default_branch_build_smoke_tests_the_image_then_pushes_it(origin, tmp_path):
    pipeline = parse(JENKINSFILE.read_text())
    work, env = workspace(origin, tmp_path, "main")
    image = "registry.example/org/project"
    env.update(BRANCH_NAME="main", REGISTRY_IMAGE=image, SMOKE_PORT=str(free_port()))

    log = run_stages(pipeline, ["Setup", "Validate", "Train", "Publish"], work, env)

    assert_train_outputs(work)
    assert not (tmp_path / "cml").exists(), "no pull request, no comment"
    records = sorted((tmp_path / "docker").glob("*.json"), key=lambda path: int(path.stem))
    calls = [json.loads(path.read_text()) for path in records]
    sha = env["GIT_COMMIT"]
    commands = [call["args"][0] for call in calls]
    assert commands == ["build", "run", "login", "push", "push", "rm"], commands
    assert calls[0]["args"] == ["build", "--tag", f"{image}:{sha}", "--tag", f"{image}:latest", "."]
    assert calls[1]["args"][-1] == f"{image}:{sha}"  # the image smoke-tested is the one pushed
    assert "predicted all" in log[-1] and "as the pipeline did" in log[-1], log[-1][-3000:]  # mlops smoke
    assert calls[2]["args"] == ["login", "--username", "ci-bot", "--password-stdin", "registry.example"]
    assert calls[2]["stdin"].strip() == "stand-in-password"
    assert [call["args"] for call in calls[3:5]] == [["push", f"{image}:{sha}"], ["push", f"{image}:latest"]]
    assert not list((tmp_path / "docker" / "containers").glob("*.pid")), "the smoke-test container was left running"
