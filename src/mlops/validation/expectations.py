"""`mlops expectations infer`: write a starter expectation suite from the current data.

The suite lands in the Great Expectations file data context under gx/ as
gx/expectations/raw_dataset.json. Review it like code: read the diff, widen or tighten
bounds, delete what does not hold for your data, commit it.

What it infers, column by column (a class target gets its allowed labels and class shares; a
regression target, `data.task: regression`, is a numeric column: type, range, mean and quantiles):
- the exact column set and order, and the row count (at least `--min-rows`, at most 100x today's);
- numeric columns: a numeric dtype, not-null (`mostly` when the data has a few nulls), the
  observed range widened by a margin, the mean and quantiles within sampling-noise bounds;
- other columns: a text dtype, not-null, the set of known values, which a batch may exceed in
  NEW_CATEGORY_SHARE of its rows (a new value is drift, which `mlops drift` measures, not corruption);
- columns with a role (`columns` in params.yaml, which infer fills in first: mlops.validation.roles):
  an id is unique and present, never range-checked; a date is text in its format, its year
  within DATE_MARGIN_YEARS of the years seen; a dropped column is only named in the column set.

Distribution bounds sit Z standard errors from the observed value for a batch of
`min_rows` rows, so a fresh sample of good data fails about once in a million checks,
while a feature shifted by a few standard deviations fails for sure.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from mlops import paths
from mlops.dataset import load_raw
from mlops.errors import MlopsError
from mlops.io import plain
from mlops.schema import NUMERIC_DTYPES

Z = 5.0  # standard errors between an observed statistic and its bound
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
MAX_ROWS_FACTOR = 100  # a batch 100x the size of today's data is more likely a duplication bug than growth
RANGE_MARGIN = 0.1  # the allowed range is the observed one widened by this share on each side
TEXT_TYPES = ["str", "string", "object", "category", "bool"]
NEW_CATEGORY_SHARE = 0.05  # of a batch's rows may hold category values the data had not: drift, not corruption
DATE_MARGIN_YEARS = 5  # a date this long before the earliest seen or after the latest is implausible


def expectation(kind: str, description: str | None = None, **kwargs: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"type": kind, "kwargs": kwargs}
    if description:
        config["description"] = description
    return config


def infer_suite(
    frame, target: str, min_rows: int | None = None, task: str = "classification", roles=None
) -> list[dict[str, Any]]:
    """Expectation configurations (plain dicts, as GX stores them) describing `frame`; `roles`: params.yaml's
    `columns` (ColumnsParams), whose id, date and dropped columns get their own checks."""
    import pandas as pd

    if target not in frame.columns:
        raise MlopsError(f"target column '{target}' not found; columns are: {', '.join(map(str, frame.columns))}")
    rows = len(frame)
    if rows < 2:
        raise MlopsError("need at least 2 rows to infer expectations")
    min_rows = min_rows or math.ceil(rows / 2)
    columns = [str(name) for name in frame.columns]
    suite = [
        expectation("expect_table_columns_to_match_set", column_set=columns, exact_match=True),
        expectation("expect_table_columns_to_match_ordered_list", column_list=columns),
        expectation("expect_table_row_count_to_be_between", min_value=min_rows, max_value=MAX_ROWS_FACTOR * rows),
    ]
    ids, drop = set(getattr(roles, "ids", [])), set(getattr(roles, "drop", []))
    date_formats: dict[str, str] = dict(getattr(roles, "dates", {}))
    for name in columns:
        column = frame[name]
        if name in drop:
            continue  # the model never reads it: its presence (the column set) is all that is checked
        suite.append(not_null(column, min_rows))
        if column.notna().sum() == 0:
            continue  # nothing but missing values: nothing more to say about it
        if name in ids:
            suite.append(
                expectation("expect_column_values_to_be_unique", "An id: unique, never range-checked", column=name)
            )
        elif name in date_formats:
            suite.extend(date_expectations(column, date_formats[name]))
        elif name == target and task != "regression":
            suite.extend(target_expectations(column, min_rows))
        elif pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            suite.extend(numeric_expectations(column, min_rows))
        else:
            values = sorted({plain(value) for value in column.dropna()}, key=str)
            suite.append(expectation("expect_column_values_to_be_in_type_list", column=name, type_list=TEXT_TYPES))
            suite.append(
                expectation(
                    "expect_column_values_to_be_in_set",
                    f"Known values; a new one is drift (mlops drift) unless in over {NEW_CATEGORY_SHARE:.0%} of rows",
                    column=name,
                    value_set=values,
                    mostly=1 - NEW_CATEGORY_SHARE,
                )
            )
    return suite


def not_null(column, min_rows: int) -> dict[str, Any]:
    share = float(column.notna().mean())
    if share == 1.0:
        return expectation("expect_column_values_to_not_be_null", column=column.name)
    mostly = max(0.0, share - Z * math.sqrt(share * (1 - share) / min_rows))
    return expectation("expect_column_values_to_not_be_null", column=column.name, mostly=round_to(mostly, up=False))


def numeric_expectations(column, min_rows: int) -> list[dict[str, Any]]:
    name, values = column.name, column.dropna().astype("float64")
    low, high = float(values.min()), float(values.max())
    margin = RANGE_MARGIN * (high - low) or RANGE_MARGIN * abs(high) or RANGE_MARGIN
    # A column that never goes below zero (a count, an area) keeps zero as its floor.
    floor = max(0.0, low - margin) if low >= 0 else low - margin
    spread_of_values = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    mean_error = Z * spread_of_values / math.sqrt(min_rows)
    mean = float(values.mean())
    ranges = []
    for q in QUANTILES:
        # Distribution-free: the sample q-quantile of a batch lies between the population's
        # (q - d)- and (q + d)-quantiles, d being Z standard errors of a proportion.
        spread = Z * math.sqrt(q * (1 - q) / min_rows)
        lower, upper = values.quantile([max(0.0, q - spread), min(1.0, q + spread)]).tolist()
        ranges.append([round_to(lower, up=False), round_to(upper, up=True)])
    return [
        expectation("expect_column_values_to_be_in_type_list", column=name, type_list=list(NUMERIC_DTYPES)),
        expectation(
            "expect_column_values_to_be_between",
            column=name,
            min_value=round_to(floor, up=False),
            max_value=round_to(high + margin, up=True),
        ),
        expectation(
            "expect_column_mean_to_be_between",
            column=name,
            min_value=round_to(mean - mean_error, up=False),
            max_value=round_to(mean + mean_error, up=True),
        ),
        expectation(
            "expect_column_quantile_values_to_be_between",
            column=name,
            quantile_ranges={"quantiles": list(QUANTILES), "value_ranges": ranges},
        ),
    ]


def target_expectations(column, min_rows: int) -> list[dict[str, Any]]:
    """The allowed labels, and the share of each class within sampling-noise bounds."""
    name = column.name
    shares = column.dropna().map(plain).value_counts(normalize=True)
    labels = sorted(shares.index.tolist(), key=str)
    found = [expectation("expect_column_values_to_be_in_set", column=name, value_set=labels)]
    for label in labels:
        share = float(shares[label])
        error = Z * math.sqrt(share * (1 - share) / min_rows)
        lower = round_to(max(0.0, share - error), up=False)
        others_at_least = round_to(max(0.0, 1 - share - error), up=False)  # `mostly` of "not this label"
        # "At least `lower` of the rows are this class" and "at most `upper` are": GX's
        # `mostly` on a one-label set bounds that label's share from below.
        found.append(
            expectation(
                "expect_column_values_to_be_in_set",
                f"Share of class {label!r} is at least {lower}",
                column=name,
                value_set=[label],
                mostly=lower,
            )
        )
        found.append(
            expectation(
                "expect_column_values_to_not_be_in_set",
                f"Share of class {label!r} is at most {round(1 - others_at_least, 6)}",
                column=name,
                value_set=[label],
                mostly=others_at_least,
            )
        )
    return found


def round_to(value: float, up: bool, digits: int = 4) -> float:
    """Round to `digits` significant digits, away from the bound's inside (so it only widens)."""
    if value == 0 or not math.isfinite(value):
        return float(value)
    step = 10.0 ** (math.floor(math.log10(abs(value))) - digits + 1)
    rounded = (math.ceil if up else math.floor)(value / step) * step
    return float(f"{rounded:.{digits + 2}g}")


def date_expectations(column, fmt: str) -> list[dict[str, Any]]:
    """Text in its format, its year within DATE_MARGIN_YEARS of the years seen: later dates pass, a typo's 2204
    does not. (A regular expression over the text: GX compares dates only as datetimes, not as text.)"""
    from mlops import dates

    found = [
        expectation("expect_column_values_to_be_in_type_list", column=column.name, type_list=TEXT_TYPES),
        expectation("expect_column_values_to_match_strftime_format", column=column.name, strftime_format=fmt),
    ]
    years = set()
    for value in column.dropna().astype(str).unique().tolist():
        try:
            years.add(dates.parse(value, fmt).year)
        except ValueError:
            continue
    if years and "%Y" in fmt:
        low, high = max(1, min(years) - DATE_MARGIN_YEARS), max(years) + DATE_MARGIN_YEARS
        found.append(
            expectation(
                "expect_column_values_to_match_regex",
                f"Dates in the years {low} to {high}: {DATE_MARGIN_YEARS} years around those seen",
                column=column.name,
                regex=year_pattern(fmt, low, high),
            )
        )
    return found


def year_pattern(fmt: str, low: int, high: int) -> str:
    """A regular expression matching text in strptime format `fmt` whose year (%Y) is from `low` to `high`."""
    import re

    fields = {"%Y": "(?:" + "|".join(str(year) for year in range(low, high + 1)) + ")", "%%": "%"}
    fields |= dict.fromkeys(("%m", "%d", "%H", "%I", "%M", "%S"), r"\d{1,2}")

    def pattern(part: str) -> str:
        return fields.get(part, ".+?") if part.startswith("%") else re.escape(part)  # .+?: %b, %f, %z...

    return "^" + "".join(pattern(part) for part in re.split(r"(%.)", fmt) if part) + "$"


SUITE_NOTES = (
    "Started by `mlops expectations infer`, then reviewed: edit any bound here and commit it. "
    f"Ranges: observed min/max widened by {RANGE_MARGIN:.0%} of the span (floor 0 for non-negative columns). "
    f"Mean, quantile and class-share bounds: {Z:g} standard errors for a batch of the minimum row count. "
    "docs/validation.md explains each check."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    infer = actions.add_parser("infer", help="write a starter suite from the data (then review and edit it)")
    infer.add_argument(
        "--data",
        default=None,
        help="CSV or Parquet file to learn from (default: data.source in params.yaml, read as `ingest` writes it)",
    )
    infer.add_argument(
        "--params", default=str(paths.PARAMS), help="parameters file, for data.target (default: %(default)s)"
    )
    infer.add_argument(
        "--min-rows",
        type=int,
        default=None,
        help="smallest batch you will validate (default: half the rows); distribution bounds widen for smaller batches",
    )


def run(args: argparse.Namespace) -> int:
    from mlops.config import load_params
    from mlops.io import read_table
    from mlops.validation.context import save_suite
    from mlops.validation.roles import find_roles, roles_of, write_roles

    params = load_params(args.params)
    target = params.data.target
    if args.min_rows is not None and args.min_rows < 1:
        raise MlopsError("--min-rows must be at least 1")
    frame = read_table(args.data) if args.data else load_raw(params.data.source, target)
    findings = find_roles(frame, target, params.data.task, params.columns.named)
    for finding in findings:
        print(f"expectations: {finding.line()}")
    roles = roles_of(params.columns)
    for finding in findings:
        roles[finding.role][finding.column] = finding.value
    if findings:
        write_roles(Path(args.params), roles, {(f.role, f.column): f.why for f in findings})
    columns = load_params(args.params).columns if findings else params.columns  # as the pipeline will read them
    configs = infer_suite(frame, target, args.min_rows, params.data.task, columns)
    suite_path = save_suite(configs, SUITE_NOTES)
    wrote = f" and {len(findings)} column role(s) -> {args.params}" if findings else ""
    print(
        f"expectations: {len(configs)} expectations for {frame.shape[1]} columns of {args.data or params.data.source}"
        f" -> {suite_path}{wrote}\n"
        f"Review the suite{' and the roles' if findings else ''} (git diff), edit what does not fit your data, "
        "then commit it."
    )
    return 0
