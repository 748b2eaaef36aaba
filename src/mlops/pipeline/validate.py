"""Stage `validate`: check the raw dataset against the expectation suite before anything trains on it.

One run of the Great Expectations checkpoint over the whole frame, with the suite committed
in gx/expectations/raw_dataset.json. It writes
- reports/validation/result.json: overall success and, per expectation, its column,
  kwargs, observed value and success (deterministic, so unchanged data changes nothing);
- reports/validation/summary.md: counts, then each failure as a table row;
- reports/validation/docs/: GX Data Docs HTML (a build artifact, git-ignored).
On failure it exits 1 naming each failed expectation, so DVC stops before `prepare`.

`mlops validate --data PATH` checks any CSV or Parquet file the same way and writes its
results to reports/validation/batch/, leaving the pipeline's files alone.
"""

from __future__ import annotations

from pathlib import Path

from mlops import paths
from mlops.config import Params
from mlops.errors import MlopsError
from mlops.validation.checkpoint import gate


def main(params: Params, data: str | None = None) -> None:
    source = Path(data) if data else paths.RAW
    if not data and not source.is_file():
        raise MlopsError(f"{source} not found: run `dvc repro ingest` (or `make run`) first")
    gate(source, paths.BATCH_VALIDATION_DIR if data else paths.VALIDATION_DIR)
