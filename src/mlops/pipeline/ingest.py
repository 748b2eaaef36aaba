"""Stage `ingest`: materialise the raw dataset at data/raw/dataset.parquet.

The source, from params.yaml `data.source`, is either a dataset bundled with
scikit-learn (`sklearn:breast_cancer`, `sklearn:iris`, `sklearn:wine` to classify,
`sklearn:diabetes` for regression: set `data.task: regression`) or a CSV or
Parquet file of your own, kept under data/source/ and tracked with `dvc add`.
Nothing is downloaded.
"""

from __future__ import annotations

from mlops import paths
from mlops.config import Params
from mlops.dataset import load_source
from mlops.io import write_table


def main(params: Params) -> None:
    frame = load_source(params.data.source, params.data.target)
    write_table(frame, paths.RAW)
    print(f"ingest: {len(frame)} rows, {frame.shape[1]} columns from {params.data.source} -> {paths.RAW}")
