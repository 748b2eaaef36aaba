"""The corruption matrix, derived from an expectation suite: what bad data a suite must catch.

`corruptions(suite, frame, target)` turns a good frame into bad ones, each paired with the
failures (expectation type, column) the suite must report for it. Cases come from the
suite's own rules, so they fit any dataset: a column is pushed out of its range only if
the suite gives it one. The project tests run it against the committed suite and the
project's data; the property tests against suites inferred from generated frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

UNSEEN = "\u2063never seen"  # no dataset holds this value
Failure = tuple[str, str | None]


@dataclass(frozen=True)
class Corruption:
    name: str
    frame: Any
    must_fail: frozenset[Failure]


class Suite:
    """The rules of a suite (its expectations as GX stores them) that hold for every row."""

    def __init__(self, expectations: list[dict[str, Any]]) -> None:
        self.expectations = expectations
        self.columns = (self.table("expect_table_columns_to_match_ordered_list") or {}).get("column_list", [])
        self.types = self.rules("expect_column_values_to_be_in_type_list")
        self.ranges = self.rules("expect_column_values_to_be_between")
        self.value_sets = self.rules("expect_column_values_to_be_in_set")
        self.not_null = [  # a column may allow some missing values (`mostly`), never all
            e["kwargs"]["column"]
            for e in expectations
            if e["type"] == "expect_column_values_to_not_be_null" and e["kwargs"].get("mostly", 1) > 0
        ]

    def rules(self, kind: str) -> dict[str, dict[str, Any]]:
        return {
            e["kwargs"]["column"]: e["kwargs"]
            for e in self.expectations
            if e["type"] == kind and "column" in e["kwargs"] and e["kwargs"].get("mostly", 1) == 1
        }

    def table(self, kind: str) -> dict[str, Any] | None:
        return next((e["kwargs"] for e in self.expectations if e["type"] == kind), None)


def corruptions(suite: Suite, frame, target: str, columns: list[str] | None = None) -> Iterator[Corruption]:
    """Bad versions of the good `frame`. Drops and renames for `columns` (default: all of them)."""
    import pandas as pd

    for column in suite.columns if columns is None else columns:
        if suite.table("expect_table_columns_to_match_set"):
            must = frozenset({("expect_table_columns_to_match_set", None)})
            yield Corruption(f"{column} dropped", frame.drop(columns=[column]), must)
            yield Corruption(f"{column} renamed", frame.rename(columns={column: f"{column}{UNSEEN}"}), must)
    if suite.not_null:
        nulled = frame.assign(**{name: pd.Series([None] * len(frame), dtype=object) for name in suite.not_null})
        yield Corruption(
            "every column nulled", nulled, frozenset(("expect_column_values_to_not_be_null", n) for n in suite.not_null)
        )
    if suite.types:
        retyped = {}
        for name, kwargs in suite.types.items():
            numeric = "float64" in kwargs["type_list"]  # numbers become text, text becomes numbers
            retyped[name] = [f"{UNSEEN}{i}" for i in range(len(frame))] if numeric else list(range(len(frame)))
        yield Corruption(
            "every column retyped",
            frame.assign(**{name: pd.Series(values, index=frame.index) for name, values in retyped.items()}),
            frozenset(("expect_column_values_to_be_in_type_list", name) for name in suite.types),
        )
    if suite.ranges or suite.value_sets:
        pushed = frame.copy()
        first = pushed.index[0]
        for name, kwargs in suite.ranges.items():
            low, high = kwargs.get("min_value"), kwargs.get("max_value")
            span = abs((high or 0) - (low or 0)) or 1.0
            pushed[name] = pushed[name].astype("float64")
            pushed.loc[first, name] = high + span if high is not None else low - span
        for name in suite.value_sets:
            pushed[name] = pushed[name].astype(object)
            pushed.loc[first, name] = UNSEEN
        yield Corruption(
            "every column out of its range or set",
            pushed,
            frozenset(
                [("expect_column_values_to_be_between", n) for n in suite.ranges]
                + [("expect_column_values_to_be_in_set", n) for n in suite.value_sets]
            ),
        )
    classes = suite.value_sets.get(target, {}).get("value_set", [])
    if classes:
        unseen = frame.assign(**{target: frame[target].astype(object)})
        unseen.loc[unseen.index[0], target] = UNSEEN
        yield Corruption("an unseen class", unseen, frozenset({("expect_column_values_to_be_in_set", target)}))
    if len(classes) > 1:
        # Every row the rarest class: its share is far above its upper bound ("not this class" `mostly`).
        rarest = frame[target].astype(str).value_counts().index[-1]
        kind = "expect_column_values_to_not_be_in_set"
        bounded = any(
            e["type"] == kind
            and e["kwargs"].get("column") == target
            and e["kwargs"]["value_set"] == [rarest]
            and e["kwargs"].get("mostly", 1) > 0
            for e in suite.expectations
        )
        if bounded:
            single = frame.assign(**{target: frame[target].map(lambda _: rarest)})
            yield Corruption("a single class", single, frozenset({(kind, target)}))
    table = {
        "expect_table_row_count_to_be_between": ("header only", lambda: frame.iloc[0:0]),
        "expect_table_columns_to_match_ordered_list": ("columns reordered", lambda: frame[[*reversed(frame.columns)]]),
        "expect_table_columns_to_match_set": ("a column added", lambda: frame.assign(**{UNSEEN: 1.0})),
    }
    for kind, (name, make) in table.items():
        if suite.table(kind) is not None and (kind != "expect_table_row_count_to_be_between" or len(frame)):
            yield Corruption(name, make(), frozenset({(kind, None)}))


def failures(result: dict[str, Any]) -> set[Failure]:
    return {(entry["expectation"], entry["column"]) for entry in result["expectations"] if not entry["success"]}


def missed(context, suite: Suite, cases) -> dict[str, list[Failure]]:
    """{case name: the failures it must cause that the suite did not report}, for each case that slipped through.

    Each corrupted frame is validated as the checkpoint validates data (the same batch definition, the
    same frame conversion, the same result), but only against the suite's expectations it must fail:
    an expectation's result does not depend on the others in its suite, and a run of the whole suite
    per case (159 expectations on the example) would cost seconds each.
    """
    import great_expectations as gx

    from mlops.validation.checkpoint import as_gx_sees_it, to_result
    from mlops.validation.context import ASSET, BATCH, DATA_SOURCE

    batches = context.data_sources.get(DATA_SOURCE).get_asset(ASSET).get_batch_definition(BATCH)
    slipped = {}
    for case in cases:
        chosen = [
            {"type": e["type"], "kwargs": e["kwargs"], "meta": e.get("meta") or {}}
            for e in suite.expectations
            if (e["type"], e["kwargs"].get("column")) in case.must_fail
        ]
        batch = batches.get_batch(batch_parameters={"dataframe": as_gx_sees_it(case.frame)})
        result = to_result(
            batch.validate(gx.ExpectationSuite(name=case.name, expectations=chosen), result_format="SUMMARY")
        )
        found = failures(result)
        if not case.must_fail <= found:
            slipped[case.name] = sorted(case.must_fail - found, key=str)
    return slipped
