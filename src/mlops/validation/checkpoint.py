"""Run the suite over data: one checkpoint run over the whole frame, its result as plain JSON.

The validate stage, `mlops validate --data` and the tests all go through `validate_file`,
so what the tests check is what the pipeline runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops import paths
from mlops.errors import MlopsError
from mlops.io import plain, read_table
from mlops.validation.context import CHECKPOINT


def validate_file(path: Path | str, context) -> dict[str, Any]:
    """Validate a CSV or Parquet file; a file that cannot be read at all fails with the reason."""
    if not Path(path).is_file():
        raise MlopsError(f"data file not found: {path}")
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
    run = context.checkpoints.get(CHECKPOINT).run(batch_parameters={"dataframe": text_as_object(frame)})
    return to_result(next(iter(run.run_results.values())))


def text_as_object(frame):
    """Text columns as `object`: GX 1.24's type check does not recognise pandas 3's `str` dtype
    (text read from a file), but `object` is a type the suite's text type list names."""
    import pandas as pd

    text = [name for name, dtype in frame.dtypes.items() if isinstance(dtype, pd.StringDtype)]
    return frame.astype(dict.fromkeys(text, object)) if text else frame


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
