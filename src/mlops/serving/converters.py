"""One column's value in a prediction request, checked and converted: a converter per column, built once at
start-up from the column's JSON Schema in the request contract (contract.py), and an id's check. Plain Python over
parsed JSON; a wrong value raises `Invalid`, to which the validator (validation.py) adds the row and column.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from mlops import dates
from mlops.serving.contract import FLOAT32_MAX, OTHER


class Invalid(Exception):
    """One value is wrong; the validator adds the row and column."""


def json_type(value: Any) -> str:
    names = {bool: "boolean", str: "string", int: "number", float: "number", list: "array", dict: "object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def number_converter(schema: dict[str, Any]) -> Callable[[Any], float]:
    """A numeric column's check, from its JSON Schema (mlops.serving.contract)."""
    low, high = schema["minimum"], schema["maximum"]
    nullable = "null" in schema["type"]

    def out_of_bounds(value: float) -> Invalid:
        if value != value or abs(value) == math.inf:
            return Invalid("must be a finite number within 32-bit float range (null for a missing value)")
        if abs(value) > FLOAT32_MAX:
            return Invalid("is outside 32-bit float range")
        return Invalid(f"{value} is outside the allowed range {low} to {high} (serve.out_of_range: reject)")

    def convert(value: Any) -> float:
        kind = type(value)
        if kind is float:
            if low <= value <= high:  # False for NaN too
                return value
            raise out_of_bounds(value)
        if kind is int:
            if low <= value <= high:
                return float(value)
            raise out_of_bounds(float(value) if abs(value) < 2**1024 else math.inf)
        if value is None:
            if nullable:
                return math.nan  # missing: the model's imputer fills it in, as in training
            raise Invalid("must not be null: it had no missing values in training (serve.out_of_range: reject)")
        raise Invalid(f"must be a number{' or null' if nullable else ''}, got {json_type(value)}")

    return convert


def category_converter(schema: dict[str, Any], missing: str) -> Callable[[Any], str]:
    """A categorical column's check, from its JSON Schema: an `enum` of the known categories, or any string."""
    reject_unknown = "enum" in schema
    grouping = schema.get(OTHER)  # a high-cardinality column: any value beyond the kept ones is grouping["value"]
    other = grouping["value"] if grouping else None
    categories = [c for c in (grouping["kept"] if grouping else schema.get("enum", [])) if c not in ("", None)]
    allow_missing = None in schema.get("enum", []) or "null" in schema.get("type", [])
    known = frozenset(categories) | ({missing} if allow_missing else set())
    listed = ", ".join(repr(c) for c in categories[:10]) + (", ..." if len(categories) > 10 else "")

    def convert(value: Any) -> str:
        kind = type(value)
        if kind is str:
            text = value.strip()
        elif value is None:
            if allow_missing:
                return missing
            raise Invalid("must not be missing: it had no missing values in training (serve.out_of_range: reject)")
        elif kind is int:
            text = str(value)
        elif kind is float and value.is_integer():
            text = str(int(value))  # 1.0 is category "1", as when training read it from a CSV
        else:
            raise Invalid(f"must be a string or null, got {json_type(value)}")
        if text in known:
            return text
        if text == missing:
            raise Invalid("must not be missing: it had no missing values in training (serve.out_of_range: reject)")
        if other is not None:
            return other
        if reject_unknown:
            shown = text if len(text) <= 40 else text[:40] + "..."
            raise Invalid(f"unknown category {shown!r}; known: {listed}")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise Invalid("is not valid Unicode text") from None
        return text

    return convert


def date_converter(schema: dict[str, Any], date: dict[str, Any]) -> Callable[[Any], tuple]:
    """A date column's check: text in its format, or null / "" for missing; gives (text, its parts)."""
    fmt, reference = date["format"], datetime.fromisoformat(date["reference"])
    nullable = "null" in schema["type"]

    def convert(value: Any) -> tuple:
        if dates.is_missing(value):
            if nullable:
                return None, dates.MISSING
            raise Invalid("must not be missing: it had no missing values in training (serve.out_of_range: reject)")
        if type(value) is not str:
            raise Invalid(f"must be a date as text in the format {fmt!r}, got {json_type(value)}")
        try:
            return value, dates.parts(dates.parse(value, fmt), reference)
        except ValueError:
            shown = value if len(value) <= 40 else value[:40] + "..."
            raise Invalid(f"{shown!r} is not a date in the format {fmt!r}") from None

    return convert


ID_INTEGERS = (-(2**63), 2**64 - 1)  # what every answer's JSON and the prediction log can write as a number


def id_value(value: Any) -> Any:
    """An id as given (text or a whole number), for the answer and the prediction log; never range-checked
    against training, since tomorrow's rows have new ids."""
    kind = type(value)
    if value is None or kind is str:
        return value
    if kind is float and value.is_integer():
        value, kind = int(value), int
    if kind is int:
        if ID_INTEGERS[0] <= value <= ID_INTEGERS[1]:
            return value
        raise Invalid("an id number must fit in 64 bits: send a longer one as text")
    raise Invalid(f"an id must be text or a whole number, got {json_type(value)}")


def is_id(value: Any) -> bool:
    try:
        id_value(value)
    except Invalid:
        return False
    return True
