"""Stage `validate`: check the raw dataset against the expectation suite before anything trains on it.

One Great Expectations checkpoint run over the whole frame, with the suite committed in
gx/expectations/raw_dataset.json. It writes
- reports/validation/result.json: overall success and, per expectation, its column,
  kwargs, observed value and success (deterministic, so unchanged data changes nothing);
- reports/validation/summary.md: counts, then each failure as a table row;
- reports/validation/docs/: GX Data Docs HTML (a build artifact, git-ignored).
On failure it exits 1 naming each failed expectation, so DVC stops before `prepare`.

`mlops validate --data PATH` checks any CSV or Parquet file the same way and writes its
results to reports/validation/batch/, leaving the pipeline's files alone.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

from mlops import paths
from mlops.config import Params
from mlops.errors import MlopsError
from mlops.io import read_table, write_json, write_text

MAX_NAMED = 10  # failed expectations named in the one-line error; the summary lists them all
MAX_LISTED = 8  # list items shown in a summary cell


def main(params: Params, data: str | None = None) -> None:
    source = Path(data) if data else paths.RAW
    if not data and not source.is_file():
        raise MlopsError(f"{source} not found: run `dvc repro ingest` (or `make run`) first")
    out_dir = paths.BATCH_VALIDATION_DIR if data else paths.VALIDATION_DIR
    result = validate_file(source)
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


def validate_file(path: Path, root: Path | str = ".", context=None) -> dict[str, Any]:
    """Validate a CSV or Parquet file; a file that cannot be read at all fails with the reason.

    With an open GX `context`, validate without rebuilding Data Docs (the tests share one).
    """
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
    if context is not None:
        return {"data": str(path), **run_suite(context, frame, build_docs=False)}
    return {"data": str(path), **validate_frame(frame, root)}


def validate_frame(frame, root: Path | str = ".") -> dict[str, Any]:
    """Run the checkpoint (validation + Data Docs) over `frame`; return the result as plain data."""
    from mlops.validation.expectations import open_context

    root = Path(root)
    if not (root / paths.SUITE).is_file():
        raise MlopsError(f"no expectation suite at {paths.SUITE}: create one with `mlops expectations infer`")
    # Data Docs and stored results show this run only: they are a build artifact, not a history.
    shutil.rmtree(root / paths.DATA_DOCS_DIR, ignore_errors=True)
    shutil.rmtree(root / paths.GX_DIR / "uncommitted" / "validations", ignore_errors=True)
    return run_suite(open_context(root), frame, build_docs=True)


def run_suite(context, frame, build_docs: bool = True) -> dict[str, Any]:
    """One GX validation call over the whole frame: the checkpoint, or just its validation definition."""
    import pandas as pd

    from mlops.validation.expectations import CHECKPOINT

    # pandas 3 reads text into its `str` dtype, which GX's type-list check does not count as any
    # text type: give GX the text columns as objects, as pandas 2 read them.
    text = [name for name, dtype in frame.dtypes.items() if isinstance(dtype, pd.StringDtype)]
    batch = {"dataframe": frame.astype(dict.fromkeys(text, object)) if text else frame}
    if build_docs:
        run = context.checkpoints.get(CHECKPOINT).run(batch_parameters=batch)
        validation = next(iter(run.run_results.values()))
    else:
        validation = context.validation_definitions.get(CHECKPOINT).run(batch_parameters=batch, result_format="SUMMARY")
    return to_result(validation)


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


def plain(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN and infinities to None."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def failure_message(result: dict[str, Any], summary_path: Path) -> str:
    if "error" in result:
        return f"{result['error']}; details in {summary_path}"
    failed = [entry for entry in result["expectations"] if not entry["success"]]
    names = [f"{entry['expectation']}({entry['column'] or 'table'})" for entry in failed[:MAX_NAMED]]
    more = f" and {len(failed) - MAX_NAMED} more" if len(failed) > MAX_NAMED else ""
    return (
        f"{result['data']} failed {len(failed)} of {result['statistics']['evaluated']} expectations: "
        f"{', '.join(names)}{more}. Details in {summary_path}. If the data is right and the suite is out of date, "
        "regenerate it (`mlops expectations infer`) and review its diff"
    )


def summary_markdown(result: dict[str, Any]) -> str:
    stats = result["statistics"]
    verdict = "passed" if result["success"] else "failed"
    lines = [
        f"### Data validation {verdict}",
        "",
        f"`{result['data']}` against the suite `{result['suite']}` ({paths.SUITE}): "
        f"**{stats['successful']} of {stats['evaluated']} expectations met, {stats['failed']} failed.**",
        "",
    ]
    if "error" in result:
        lines += [f"The file could not be validated: {cell(result['error'])}", ""]
    failed = [entry for entry in result["expectations"] if not entry["success"]]
    if failed:
        lines += ["| Column | Expectation | Expected | Observed |", "|---|---|---|---|"]
        for entry in failed:
            column = entry["column"] or "(table)"
            lines.append(
                f"| {cell(column)} | `{entry['expectation']}` | {cell(expected_text(entry))} "
                f"| {cell(observed_text(entry))} |"
            )
        lines.append("")
    return "\n".join(lines)


def expected_text(entry: dict[str, Any]) -> str:
    if entry.get("description"):
        return entry["description"]
    kwargs = {key: value for key, value in entry["kwargs"].items() if key != "column"}
    ranges = kwargs.pop("quantile_ranges", None)
    parts = [f"{key}={short(value)}" for key, value in kwargs.items()]
    if ranges:
        parts += [f"q{q} in {bounds}" for q, bounds in zip(ranges["quantiles"], ranges["value_ranges"], strict=False)]
    return ", ".join(parts) or entry["expectation"].removeprefix("expect_column_values_to_").replace("_", " ")


def observed_text(entry: dict[str, Any]) -> str:
    seen = entry["observed"]
    expected_columns = entry["kwargs"].get("column_list") or entry["kwargs"].get("column_set")
    if expected_columns is not None and isinstance(seen, list):
        return column_difference(list(expected_columns), seen)
    if isinstance(seen, dict) and "unexpected_count" in seen:
        percent = seen.get("unexpected_percent") or 0.0
        return (
            f"{seen['unexpected_count']} of {seen['rows']} rows ({percent:.1f}%) unexpected, "
            f"e.g. {short(seen['examples'])}"
        )
    if isinstance(seen, dict) and "error" in seen:
        return f"error: {seen['error']}"
    if isinstance(seen, dict) and "quantiles" in seen:
        return ", ".join(f"q{q}={short(value)}" for q, value in zip(seen["quantiles"], seen["values"], strict=False))
    return short(seen)


def column_difference(expected: list[str], found: list[str]) -> str:
    missing = [name for name in expected if name not in found]
    extra = [name for name in found if name not in expected]
    parts = []
    if missing:
        parts.append(f"missing {short(missing)}")
    if extra:
        parts.append(f"unexpected {short(extra)}")
    if not parts:
        moved = next((i for i, (a, b) in enumerate(zip(expected, found, strict=False)) if a != b), None)
        parts.append("same columns" if moved is None else f"order differs from position {moved}: '{found[moved]}'")
    return "; ".join(parts)


def short(value: Any) -> str:
    if isinstance(value, list):
        items = ", ".join(short(item) for item in value[:MAX_LISTED])
        return f"[{items}, … {len(value)} items]" if len(value) > MAX_LISTED else f"[{items}]"
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value) if isinstance(value, str) else str(value)


def cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
