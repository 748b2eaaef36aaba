"""What a validation result says, for people: the one-line failure and the Markdown summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops import paths

MAX_NAMED = 10  # failed expectations named in the one-line error; the summary lists them all
MAX_LISTED = 8  # list items shown in a summary cell


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
