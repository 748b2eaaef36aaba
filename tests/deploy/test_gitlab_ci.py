""".gitlab-ci.yml run by gitlab-ci-local (npm) in shell mode, on a repository of synthetic data.

Network-bound steps run against STAND-INS, as in the GitHub workflow tests: `cml` records the
merge-request note it would post (cml_recorder.py), `docker` records the build, login and
pushes it would do; `make venv` finds a ready .venv over the test session's packages, as the
engine tests' setup-python stand-in makes it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlops.report import WATERMARK
from tests.deploy.conftest import clone_at, git, more_trees, npm_tool, synthetic_origin

pytestmark = pytest.mark.slow

GITLAB_CI_LOCAL = "gitlab-ci-local@4.65.1"  # the newest that runs on Node 20

DOCKER_STAND_IN = """#!/usr/bin/env bash
# STAND-IN for docker (no engine, no registry here): records the job's build, login and push
# calls, reads a login's password. The runner's own calls that start the job's docker:dind
# service (network, create, start, image inspect, rm) are answered as an image with no ports.
case "$1" in
  build|login|push|tag) ;;
  image) [ "$2" = inspect ] && echo '[{}]'; exit 0 ;;
  *) exit 0 ;;
esac
n=$(find "$DOCKER_RECORD" -name "*.json" | wc -l)
stdin=""
if [ "$1" = login ]; then stdin=$(cat); fi
python3 -c 'import json, sys; print(json.dumps({"args": sys.argv[2:], "stdin": sys.argv[1]}))' "$stdin" "$@" \
  > "$DOCKER_RECORD/$n.json"
"""


@pytest.fixture(scope="module")
def gitlab_ci_local() -> Path:
    return npm_tool(GITLAB_CI_LOCAL)


@pytest.fixture(scope="module")
def origin(tmp_path_factory) -> tuple[Path, Path]:
    return synthetic_origin(tmp_path_factory)


def pipeline(gitlab_ci_local, origin, tmp_path, branch: str, variables: dict[str, str], change=None):
    """Clone origin at a new `branch` (committing `change` there), run the pipeline; records.

    The clone starts with the DVC cache of main's run, as a CI cache restores it."""
    work = clone_at(origin, tmp_path / "work", branch, change)
    tools, cml_record, docker_record = tmp_path / "tools", tmp_path / "cml", tmp_path / "docker"
    for folder in (tools, cml_record, docker_record):
        folder.mkdir()
    recorder = Path(__file__).with_name("cml_recorder.py")
    (tools / "cml").write_text(f'#!/bin/sh\nexec {sys.executable} {recorder} "$@"\n')
    (tools / "docker").write_text(DOCKER_STAND_IN)
    for tool in tools.iterdir():
        tool.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}",
        "CML_RECORD_DIR": str(cml_record),
        "DOCKER_RECORD": str(docker_record),
        "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}",
    }
    command = [str(gitlab_ci_local), "--force-shell-executor", "--no-color"]
    command += ["--variable", "CI_DEFAULT_BRANCH=main", "--variable", "REPO_TOKEN=stand-in-token"]
    for name, value in variables.items():
        command += ["--variable", f"{name}={value}"]
    result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=1800)
    calls = sorted(cml_record.glob("call-*.json"))
    docker = [json.loads(path.read_text()) for path in sorted(docker_record.glob("*.json"), key=lambda p: int(p.stem))]
    return work, result, [json.loads(path.read_text()) for path in calls], docker


def test_a_merge_request_validates_trains_and_gets_one_note_with_the_report(gitlab_ci_local, origin, tmp_path):
    variables = {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": "3"}
    variables["CI_PROJECT_URL"] = "https://gitlab.example/group/project"
    work, result, calls, docker = pipeline(gitlab_ci_local, origin, tmp_path, "more-trees", variables, more_trees)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    passed = {line.split()[-1] for line in log.splitlines() if line.strip().startswith("PASS")}
    assert passed == {"validate", "train", "report"}, log[-3000:]
    assert docker == [], "a merge request publishes nothing"
    (call,) = calls
    assert call["command"] == "update"
    assert call["options"]["driver"] == "gitlab"
    assert call["options"]["target"] == "pr/3"
    assert call["options"]["repo"] == variables["CI_PROJECT_URL"]
    assert call["options"]["watermark-title"] == WATERMARK
    posted = (tmp_path / "cml" / "comment-0.md").read_text()
    assert posted == (work / "reports/pr/report.md").read_text()
    assert "n_estimators" in posted  # the report names the parameter the request changed


def test_the_default_branch_pushes_the_image_to_the_gitlab_registry(gitlab_ci_local, origin, tmp_path):
    variables = {
        "CI_PIPELINE_SOURCE": "push",
        "CI_COMMIT_BRANCH": "main",
        "CI_REGISTRY": "registry.gitlab.example",
        "CI_REGISTRY_IMAGE": "registry.gitlab.example/group/project",
        "CI_REGISTRY_USER": "gitlab-ci-token",
        "CI_REGISTRY_PASSWORD": "stand-in-password",
    }
    work, result, calls, docker = pipeline(gitlab_ci_local, origin, tmp_path, "main", variables)
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    log = result.stdout + result.stderr
    assert {line.split()[-1] for line in log.splitlines() if line.strip().startswith("PASS")} == {
        "validate",
        "train",
        "publish",
    }
    assert calls == [], "no merge request, no note"
    sha = git(work, "rev-parse", "HEAD")
    image = variables["CI_REGISTRY_IMAGE"]
    assert docker[0]["args"] == ["build", "--tag", f"{image}:{sha}", "--tag", f"{image}:latest", "."]
    assert docker[1]["args"][0] == "login" and docker[1]["stdin"] == "stand-in-password"
    assert docker[1]["args"][-1] == variables["CI_REGISTRY"]
    assert [call["args"] for call in docker[2:]] == [["push", f"{image}:{sha}"], ["push", f"{image}:latest"]]
    # the build context holds the model the train job produced
    assert (work / "models/model.onnx").is_file() and (work / "models/metadata.json").is_file()
