"""`make venv` picks a Python the pinned requirements support, or says which ones would do."""

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

# What the Makefile's own recipes call, besides Python.
TOOLS = ("make", "bash", "sh", "sed", "seq", "env", "touch")


def supported_versions() -> list[str]:
    """The minor versions pyproject.toml's requires-python (">=3.A,<3.B") allows, oldest first."""
    spec = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    low, high = re.fullmatch(r">=3\.(\d+),<3\.(\d+)", spec).groups()
    return [f"3.{minor}" for minor in range(int(low), int(high))]


@pytest.fixture
def bare_path(tmp_path: Path) -> Path:
    """A directory holding only the tools the Makefile needs: no Python, no uv."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found, f"{tool} is needed to run make here"
        (bin_dir / tool).symlink_to(found)
    return bin_dir


def make_python(venv: Path, path: Path, *args: str) -> subprocess.CompletedProcess:
    """Ask make for the interpreter of a new virtualenv (created, not filled) with only `path` on PATH."""
    env = {"PATH": str(path), "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8"}
    return subprocess.run(
        ["make", "--no-print-directory", f"VENV={venv}", f"{venv}/bin/python", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_a_supported_python_make_says_which_versions_work(tmp_path, bare_path):
    result = make_python(tmp_path / "venv", bare_path)
    assert result.returncode != 0
    message = result.stderr
    assert "no supported Python found" in message
    for version in supported_versions():
        assert version in message
    assert "PYTHON=" in message
    assert "Traceback" not in message
    assert not (tmp_path / "venv").exists()


def test_a_python_that_is_not_there_is_named(tmp_path, bare_path):
    result = make_python(tmp_path / "venv", bare_path, f"PYTHON={tmp_path / 'missing' / 'python3'}")
    assert result.returncode != 0
    assert f"no supported Python found at PYTHON={tmp_path / 'missing' / 'python3'}" in result.stderr


@pytest.mark.skipif(
    f"{sys.version_info.major}.{sys.version_info.minor}" not in supported_versions(),
    reason="needs the tests to run on a supported Python",
)
@pytest.mark.parametrize("installer", ["uv", pytest.param("pip", marks=pytest.mark.slow)])
def test_a_supported_python_under_any_name_is_found(tmp_path, bare_path, installer):
    """Not only `python3.X`: a plain `python3` of a supported version is used (as on Ubuntu 24.04)."""
    (bare_path / "python3").symlink_to(sys.executable)
    if installer == "uv":
        uv = shutil.which("uv")
        if uv is None:
            pytest.skip("uv is not installed here")
        (bare_path / "uv").symlink_to(uv)
    venv = tmp_path / "venv"
    result = make_python(venv, bare_path, f"INSTALLER={installer}")
    assert result.returncode == 0, result.stderr
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert f"make venv: Python {version} ({bare_path / 'python3'}) -> {venv}" in result.stdout
    created = subprocess.run([venv / "bin" / "python", "--version"], capture_output=True, text=True, check=True)
    assert created.stdout.startswith(f"Python {version}.")


def test_ci_runs_the_fast_tests_on_every_supported_python():
    workflow = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "ci.yml").read_text())
    matrix = workflow["jobs"]["test"]["strategy"]["matrix"]["python-version"]
    assert sorted(matrix) == supported_versions()


def test_every_job_sets_python_up_with_the_setup_action():
    """One set-up path: no job installs Python or requirements by itself."""
    for path in sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml")):
        workflow = yaml.safe_load(path.read_text())
        for name, job in workflow["jobs"].items():
            for step in job.get("steps", []):
                assert not str(step.get("uses", "")).startswith("actions/setup-python"), f"{path.name}: {name}"
                assert "pip install" not in step.get("run", ""), f"{path.name}: {name}"
