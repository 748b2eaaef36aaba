"""A failed stage's last good outputs come back from DVC's cache (a real DVC repository)."""

import subprocess
import sys
from pathlib import Path

import pytest

from mlops.pipeline.restore import cache_dir, restore_outputs

STAGE = """
stages:
  make:
    cmd: python make.py
    deps: [make.py]
    outs: [model.bin, figures]
"""

WRITER = """
from pathlib import Path
Path("figures").mkdir(exist_ok=True)
Path("figures/a.png").write_bytes(b"{tag} a")
Path("figures/b.png").write_bytes(b"{tag} b")
Path("model.bin").write_bytes(b"{tag} model")
"""


pytestmark = pytest.mark.slow  # each test runs `dvc init` and `dvc repro` two or three times


def dvc(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, capture_output=True, text=True, check=False)


@pytest.fixture
def repo(tmp_path):
    assert dvc(tmp_path, "init", "--no-scm").returncode == 0
    (tmp_path / "dvc.yaml").write_text(STAGE)
    (tmp_path / "make.py").write_text(WRITER.format(tag="good"))
    result = dvc(tmp_path, "repro")
    assert result.returncode == 0, result.stderr
    return tmp_path


def test_outputs_dvc_removed_before_a_failed_run_come_back_as_the_lock_records_them(repo):
    (repo / "make.py").write_text("raise SystemExit(1)")
    assert dvc(repo, "repro").returncode != 0
    assert not (repo / "model.bin").exists() and not (repo / "figures").exists()  # DVC removed them

    restored = restore_outputs("make", repo)

    assert sorted(path.relative_to(repo).as_posix() for path in restored) == [
        "figures/a.png",
        "figures/b.png",
        "model.bin",
    ]
    assert (repo / "model.bin").read_bytes() == b"good model"
    assert (repo / "figures/b.png").read_bytes() == b"good b"
    assert "make.py" in dvc(repo, "status").stdout  # only the code changed; the outputs are the lock's


def test_present_files_are_left_alone_and_unknown_stages_restore_nothing(repo):
    (repo / "model.bin").write_bytes(b"newer")
    assert restore_outputs("make", repo) == []
    assert (repo / "model.bin").read_bytes() == b"newer"
    assert restore_outputs("no-such-stage", repo) == []
    assert restore_outputs("make", repo / "figures") == []  # no dvc.lock there


def test_a_configured_cache_directory_is_used(repo, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("cache")
    assert dvc(repo, "cache", "dir", str(elsewhere)).returncode == 0
    assert cache_dir(repo) == elsewhere.resolve()
    assert dvc(repo, "repro", "--force").returncode == 0
    (repo / "model.bin").unlink()
    assert [path.name for path in restore_outputs("make", repo)] == ["model.bin"]
