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
from mlops.io import write_json, write_text
from mlops.validation.checkpoint import validate_file
from mlops.validation.context import clear_results, open_context
from mlops.validation.summary import failure_message, summary_markdown


def main(params: Params, data: str | None = None) -> None:
    source = Path(data) if data else paths.RAW
    if not data and not source.is_file():
        raise MlopsError(f"{source} not found: run `dvc repro ingest` (or `make run`) first")
    if not paths.SUITE.is_file():
        raise MlopsError(f"no expectation suite at {paths.SUITE}: create one with `mlops expectations infer`")
    out_dir = paths.BATCH_VALIDATION_DIR if data else paths.VALIDATION_DIR
    clear_results()
    context = open_context()
    result = validate_file(source, context)
    context.build_data_docs()
    summary_path = out_dir / "summary.md"
    write_json(out_dir / "result.json", result)
    write_text(summary_path, summary_markdown(result))
    if not result["success"]:
        raise MlopsError(failure_message(result, summary_path))
    stats = result["statistics"]
    print(
        f"validate: {source} passed all {stats['evaluated']} expectations -> {out_dir}/ "
        f"(Data Docs: {paths.DATA_DOCS_DIR}/index.html)"
    )
