"""A run with nothing changed stays cheap: what `dvc repro` hashes and imports before it finds nothing to do.

DVC hashes every file under a directory dep or out of dvc.yaml (its state database skips
unchanged ones, but still lists and stats them), and a build artifact in such a directory
(Python's bytecode) would make a stage rerun when it appears. benchmarks/fast_loops.py times
the no-op run; docs/benchmarks.md has the figures.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

# Packages a `dvc status` has no need of; each costs a second or more to import.
HEAVY = {"numpy", "pandas", "sklearn", "mlflow", "great_expectations", "boto3", "s3fs", "gcsfs"}


def git_files() -> set[str]:
    """The files git keeps, or will once committed: a user runs `make test-fast` on new data before committing
    it (README's steps); a build artifact or cache is git-ignored, so it is not among them."""
    command = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    listed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, check=True).stdout
    return {name.decode() for name in listed.split(b"\0") if name}


def directory_deps() -> dict[str, list[str]]:
    """{stage: its deps that are directories in this checkout}, paths relative to the repository."""
    from dvc.repo import Repo
    from dvc.stage import PipelineStage

    with Repo(str(REPO_ROOT)) as repo:
        return {
            stage.name: [
                str(Path(dep.fs_path).relative_to(REPO_ROOT)) for dep in stage.deps if Path(dep.fs_path).is_dir()
            ]
            for stage in repo.index.stages
            if isinstance(stage, PipelineStage)  # not the .dvc file of a user's `dvc add`: it has no deps
        }


def kept(name: str, tracked: set[str]) -> bool:
    """In git, or data under a `dvc add` pointer git keeps (a user's data/source/my.csv and its .dvc)."""
    return name in tracked or any(f"{parent}.dvc" in tracked for parent in (name, *map(str, Path(name).parents)))


def test_data_added_with_dvc_is_kept_by_its_pointer():
    tracked = {"data/source/penguins.csv.dvc", "data/source/.gitignore", "data/images.dvc"}
    assert kept("data/source/penguins.csv", tracked) and kept("data/images/a/b.png", tracked)
    assert kept("data/source/.gitignore", tracked) and not kept("data/source/stray.csv", tracked)


def test_every_file_under_a_directory_dep_is_source_kept_in_git():
    """No build artifact, cache or large tree under a directory dep: DVC would hash it on every run. (A user's
    data in data/source/, added with `dvc add`, is kept by its pointer.)"""
    tracked = git_files()
    deps = directory_deps()
    assert deps["validate"], "validate has a directory dep (src/mlops/validation/): update this test if it changed"
    from dvc.repo import Repo

    with Repo(str(REPO_ROOT)) as repo:
        untracked = {}
        for stage, directories in deps.items():
            for directory in directories:
                seen = [
                    str(path.relative_to(REPO_ROOT))
                    for path in (REPO_ROOT / directory).rglob("*")
                    if path.is_file() and not repo.dvcignore.is_ignored(repo.fs, str(path))
                ]
                untracked[directory] = [name for name in seen if not kept(name, tracked)]
                assert len(seen) <= 50, f"{stage}: DVC hashes {len(seen)} files under {directory}"
    assert not any(untracked.values()), f"files DVC would hash that git does not keep: {untracked}"


def test_bytecode_is_not_a_dependency():
    """Python writes __pycache__/ next to the code it imports (src/ is installed editable)."""
    from dvc.repo import Repo

    with Repo(str(REPO_ROOT)) as repo:
        bytecode = REPO_ROOT / "src/mlops/validation/__pycache__/checkpoint.cpython-311.pyc"
        assert repo.dvcignore.is_ignored(repo.fs, str(bytecode))
        assert not repo.dvcignore.is_ignored(repo.fs, str(REPO_ROOT / "src/mlops/validation/checkpoint.py"))


def test_dvc_status_imports_nothing_heavy():
    code = "import sys; from dvc.cli import main; main(['status', '--quiet']); print(' '.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    modules = set(done.stdout.split())
    assert "dvc.repo" in modules, done.stderr[-2000:]
    assert not modules & HEAVY, modules & HEAVY
