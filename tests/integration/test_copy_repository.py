"""copy_repository, which every pipeline test runs in, carries data tracked with `dvc add`."""

import subprocess

import pandas as pd
import pytest

from tests.conftest import copy_repository


def run(*command, cwd):
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.slow
def test_data_added_with_dvc_is_copied_with_its_cache(tmp_path):
    source = tmp_path / "source"
    (source / "data/source/tables").mkdir(parents=True)
    run("git", "init", "-q", "-b", "main", cwd=source)
    run("dvc", "init", "-q", cwd=source)
    frame = pd.DataFrame({"x": [1.5, 2.5, None], "label": ["a", "b", "a"]})
    frame.to_csv(source / "data/source/mine.csv", index=False)
    frame.to_parquet(source / "data/source/tables/part.parquet", index=False)
    run("dvc", "add", "-q", "data/source/mine.csv", "data/source/tables", cwd=source)
    assert "mine.csv" in (source / "data/source/.gitignore").read_text()  # invisible to git

    copy = copy_repository(tmp_path / "copy", source=source)

    assert (copy / "data/source/mine.csv").read_bytes() == (source / "data/source/mine.csv").read_bytes()
    assert pd.read_parquet(copy / "data/source/tables/part.parquet").equals(frame)
    assert "data/source/mine.csv.dvc" in run("git", "ls-files", cwd=copy)
    assert "up to date" in run("dvc", "status", cwd=copy)
    remote = tmp_path / "remote"
    run("dvc", "remote", "add", "-d", "local", str(remote), cwd=copy)
    run("dvc", "push", cwd=copy)  # every cache entry is there: nothing missing
    assert len([p for p in remote.rglob("*") if p.is_file()]) == 3  # the file, the directory's manifest and file
