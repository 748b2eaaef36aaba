import pytest

from mlops.errors import MlopsError
from mlops.pipeline.ingest import load_source


def test_bundled_dataset_has_class_names_as_target():
    frame = load_source("sklearn:breast_cancer", "target")
    assert frame.shape == (569, 31)
    assert set(frame["target"]) == {"benign", "malignant"}


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
