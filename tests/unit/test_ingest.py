import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlops import paths
from mlops.dataset import load_source
from mlops.errors import MlopsError
from tests.unit.conftest import MINIMAL_PARAMS


def test_bundled_dataset_has_class_names_as_target():
    frame = load_source("sklearn:wine", "target")
    assert frame.shape == (178, 14)
    assert set(frame["target"]) == {"class_0", "class_1", "class_2"}


def test_local_csv_and_parquet_sources(tmp_path, mixed_frame):
    mixed_frame.to_csv(tmp_path / "data.csv", index=False)
    mixed_frame.to_parquet(tmp_path / "data.parquet", index=False)
    for name in ("data.csv", "data.parquet"):
        frame = load_source(str(tmp_path / name), "churned")
        assert list(frame.columns) == list(mixed_frame.columns)
        assert len(frame) == len(mixed_frame)


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        ("sklearn:mnist", "target", "unknown bundled dataset 'mnist'"),
        ("data/source/nowhere.csv", "target", "data file not found: data/source/nowhere.csv"),
    ],
)
def test_bad_sources_are_named(source, target, message):
    with pytest.raises(MlopsError, match=message):
        load_source(source, target)


def test_missing_target_column_lists_the_columns(tmp_path, mixed_frame):
    mixed_frame.to_csv(tmp_path / "data.csv", index=False)
    with pytest.raises(MlopsError, match="target column 'label' not found .*columns are: age, income, plan"):
        load_source(str(tmp_path / "data.csv"), "label")


def test_empty_and_unreadable_files(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("a,b,target\n")
    (tmp_path / "data.xlsx").write_bytes(b"PK\x03\x04")
    with pytest.raises(MlopsError, match="is empty"):
        load_source(str(tmp_path / "empty.csv"), "target")
    with pytest.raises(MlopsError, match="no data rows"):
        load_source(str(tmp_path / "header.csv"), "target")
    with pytest.raises(MlopsError, match="unsupported file type '.xlsx'"):
        load_source(str(tmp_path / "data.xlsx"), "target")


@pytest.mark.parametrize("tracked", ["data/source/mine.csv", "data/source"])
def test_data_tracked_by_dvc_but_absent_says_to_pull_or_commit_it(tracked, tmp_path, monkeypatch):
    """A clone (or a CI runner) without a DVC remote has the .dvc pointer and no data."""
    monkeypatch.chdir(tmp_path)
    Path(tracked).parent.mkdir(parents=True, exist_ok=True)
    Path(f"{tracked}.dvc").write_text(f"outs:\n- md5: 0123\n  path: {Path(tracked).name}\n")
    result = subprocess.run(
        [sys.executable, "-m", "mlops", "ingest", "--params", str(write_params(tmp_path))],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"mlops ingest: error: data/source/mine.csv is tracked by DVC ({tracked}.dvc) but its data is not here: "
        "`dvc pull` it from your DVC remote (in GitHub Actions: set the repository variable DVC_REMOTE_URL), "
        "or commit a small file to git instead (data/source/README.md)\n"
    )
    assert not paths.RAW.exists()


def write_params(root: Path) -> Path:
    params = {**MINIMAL_PARAMS, "data": {"source": "data/source/mine.csv", "target": "label"}}
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path
