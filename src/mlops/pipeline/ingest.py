"""Stage `ingest`: materialise the raw dataset at data/raw/dataset.parquet.

The source, from params.yaml `data.source`, is either a dataset bundled with
scikit-learn (`sklearn:breast_cancer`, `sklearn:iris`, `sklearn:wine` to classify,
`sklearn:diabetes` for regression: set `data.task: regression`) or a CSV or
Parquet file of your own, kept under data/source/ and tracked with `dvc add`.
Nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

from mlops import paths
from mlops.config import Params
from mlops.errors import MlopsError
from mlops.io import read_table, write_table

BUNDLED = ("breast_cancer", "iris", "wine", "diabetes")
SKLEARN_PREFIX = "sklearn:"


def load_source(source: str, target: str):
    """Return the source dataset as a DataFrame with a `target` column."""
    if source.startswith(SKLEARN_PREFIX):
        frame = load_bundled(source.removeprefix(SKLEARN_PREFIX), target)
    else:
        frame = read_table(Path(source))
    if target not in frame.columns:
        raise MlopsError(
            f"target column '{target}' not found in {source}; columns are: {', '.join(map(str, frame.columns))}. "
            "Set data.target in params.yaml"
        )
    return frame


def load_bundled(name: str, target: str):
    """A scikit-learn dataset, with class names (not codes) as the target; a regression one's numbers as they are."""
    if name not in BUNDLED:
        raise MlopsError(f"unknown bundled dataset '{name}'; choose one of: {', '.join(BUNDLED)}")
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, f"load_{name}")(as_frame=True)
    frame = bunch.data.copy()
    names = bunch.get("target_names")
    frame[target] = bunch.target.to_numpy() if names is None else [str(names[code]) for code in bunch.target]
    return frame


def main(params: Params) -> None:
    frame = load_source(params.data.source, params.data.target)
    write_table(frame, paths.RAW)
    print(f"ingest: {len(frame)} rows, {frame.shape[1]} columns from {params.data.source} -> {paths.RAW}")
