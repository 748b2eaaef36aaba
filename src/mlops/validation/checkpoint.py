"""Run the suite over data: one checkpoint run over the whole frame, its result as plain JSON.

The validate stage, `mlops validate --data`, `mlops retrain-data` and the tests all go through
`validate_file` (the first three through `gate`), so what the tests check is what the pipeline runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops import paths
from mlops.errors import MlopsError
from mlops.io import plain, read_table, require_file, write_json, write_text
from mlops.validation.context import CHECKPOINT, clear_results, open_context
from mlops.validation.summary import failure_message, summary_markdown


def gate(source: Path, out_dir: Path) -> None:
    """Validate `source`; write result.json, summary.md and Data Docs; an MlopsError naming what failed."""
    require_file(source)  # before Great Expectations' import, which takes seconds
    if not paths.SUITE.is_file():
        raise MlopsError(f"no expectation suite at {paths.SUITE}: create one with `mlops expectations infer`")
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


def validate_file(path: Path | str, context) -> dict[str, Any]:
    """Validate a CSV or Parquet file; a file that cannot be read at all fails with the reason."""
    require_file(path)
    try:
        frame = read_table(path, allow_empty=True)
    except MlopsError as exc:
        return {
            "success": False,
            "data": str(path),
            "suite": paths.SUITE_NAME,
            "error": str(exc),
            "statistics": {"evaluated": 0, "successful": 0, "failed": 0},
            "expectations": [],
        }
    return {"data": str(path), **run_checkpoint(context, frame)}


def run_checkpoint(context, frame) -> dict[str, Any]:
    """Run the checkpoint over `frame` (its result is stored in gx/uncommitted/validations/)."""
    run = context.checkpoints.get(CHECKPOINT).run(batch_parameters={"dataframe": as_gx_sees_it(frame)})
    return to_result(next(iter(run.run_results.values())))


def as_gx_sees_it(frame):
    """The frame with pandas' extension dtypes replaced by the NumPy ones GX 1.24's type check knows.

    GX compares a column's dtype with the type names in the suite, and names none of pandas 3's
    `str`, nor `category`, `boolean`, `Int64` or `Float64` reliably. So text, categorical and
    nullable boolean columns reach it as `object` (GX then checks each value's type: str,
    bool), and nullable numbers as float64 with NaN for a missing value, as they are when
    read from a CSV file.
    """
    import pandas as pd

    as_object = (pd.StringDtype, pd.CategoricalDtype, pd.BooleanDtype)
    converted = {}
    for name, dtype in frame.dtypes.items():
        column = frame[name]
        if isinstance(dtype, as_object):
            converted[name] = column.astype(object).where(column.notna(), None)
        elif isinstance(dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_numeric_dtype(dtype):
            converted[name] = column.astype("float64")
    return frame.assign(**converted) if converted else frame


def to_result(validation) -> dict[str, Any]:
    """The JSON the summary, the pull-request report and the tests read."""
    expectations = []
    for item in validation.results:
        config = item.expectation_config
        kwargs = {key: value for key, value in config.kwargs.items() if key != "batch_id" and value is not None}
        entry = {
            "column": kwargs.get("column"),
            "expectation": config.type,
            "kwargs": kwargs,
            "observed": observed(item),
            "success": bool(item.success),
        }
        if config.description:
            entry["description"] = config.description
        expectations.append(plain(entry))
    expectations.sort(key=lambda entry: entry["column"] is not None)  # table-level checks (columns, rows) first
    failed = sum(not entry["success"] for entry in expectations)
    return {
        "success": failed == 0,
        "suite": paths.SUITE_NAME,
        "statistics": {"evaluated": len(expectations), "successful": len(expectations) - failed, "failed": failed},
        "expectations": expectations,
    }


def observed(item) -> Any:
    """What the data showed: an aggregate's value, or how many rows broke a row-wise rule (with examples)."""
    error = exception_message(item.exception_info or {})
    if error:
        return {"error": error}
    result = item.result or {}
    if "observed_value" in result:
        return result["observed_value"]
    if "unexpected_count" in result:
        return {
            "rows": result.get("element_count"),
            "unexpected_count": result["unexpected_count"],
            "unexpected_percent": result.get("unexpected_percent"),
            "examples": list(result.get("partial_unexpected_list") or [])[:5],
        }
    return result or None


def exception_message(info: dict[str, Any]) -> str | None:
    """GX reports an exception at the top level or per metric it could not compute."""
    for candidate in [info, *(value for value in info.values() if isinstance(value, dict))]:
        if candidate.get("raised_exception"):
            message = str(candidate.get("exception_message") or "exception").strip().splitlines()[0]
            return message.removeprefix("Error: ")[:300]
    return None
