"""The request contract: one JSON Schema per column, generated once from the data schema.

The validator builds its checks from these schemas and /openapi.json publishes them, so
what the service accepts and what it documents cannot drift apart. Per column:

- numeric: JSON numbers within 32-bit float range, and null for a missing value. With
  `serve.out_of_range: reject` the bounds are the schema's `minimum`/`maximum` (the suite's
  allowed range) and null is refused where the schema says `nullable: false`. With `accept`
  (the default) such values get a prediction; `x-expected` carries the range and
  nullability they are counted against (mlops_out_of_range_total).
- categorical: the known categories, "" and null for missing; with
  `serve.unknown_categories: accept`, any string, an unseen one counted (mlops_out_of_range_total,
  problem unknown_category) and predicted as the encoder's unknown. A missing value where the
  schema says `nullable: false` is refused or counted as for numeric columns. A high-cardinality
  column (columns.max_categories) takes any string: one beyond its kept values (`x-other`) is their `value`.
- date (columns.dates): text in the column's strptime format, null or "" for missing; any date,
  seen in training or not, since the model reads its parts (mlops.dates).

Id columns and dropped columns are no part of it: a record may carry them (validation.py).
"""

from __future__ import annotations

from typing import Any

FLOAT32_MAX = 3.4028234663852886e38
EXPECTED = "x-expected"  # the training range and nullability of a column whose violations are counted, not refused
OTHER = "x-other"  # a high-cardinality column's kept values, and the value every other one becomes


def column_schema(feature: dict[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
    reject_out_of_range = metadata.get("out_of_range", "accept") == "reject"
    nullable = feature.get("nullable", True)
    if feature["kind"] == "numeric":
        low, high = feature.get("minimum"), feature.get("maximum")
        enforced_null = nullable or not reject_out_of_range
        schema: dict[str, Any] = {
            "type": ["number", "null"] if enforced_null else "number",
            "minimum": low if reject_out_of_range and low is not None else -FLOAT32_MAX,
            "maximum": high if reject_out_of_range and high is not None else FLOAT32_MAX,
        }
        seen = f"; expected {low} to {high}" if low is not None and high is not None else ""
        schema["description"] = f"numeric{'; null when missing' if enforced_null else ''}{seen}"
        if not reject_out_of_range:
            schema[EXPECTED] = {"minimum": low, "maximum": high, "nullable": nullable}
        return schema
    categories = feature.get("categories", [])
    missing = ["", None] if nullable or not reject_out_of_range else []
    when_missing = '; null or "" when missing' if missing else ""
    kind = ["string", "null"] if missing else "string"
    other = feature.get("other")
    if other:
        kept = [c for c in categories if c != other]
        schema = {"type": kind, "description": f"categorical; kept: {kept}; any other value is {other!r}{when_missing}"}
        schema[OTHER] = {"value": other, "kept": categories}
    elif metadata.get("unknown_categories", "reject") == "reject":
        schema = {"enum": [*categories, *missing], "description": f"categorical{when_missing}"}
    else:
        schema = {"type": kind, "description": f"categorical; known: {categories}{when_missing}"}
        schema[EXPECTED] = {"nullable": nullable, "categories": categories}
    if not reject_out_of_range and not nullable:
        schema[EXPECTED] = {**schema.get(EXPECTED, {}), "nullable": False}
    return schema


def date_schema(date: dict[str, Any], parts: list[dict[str, Any]], metadata: dict[str, Any]) -> dict[str, Any]:
    """A date column's: text in its format; null where training had missing dates or out_of_range accepts them."""
    nullable = all(part.get("nullable", True) for part in parts) or metadata.get("out_of_range", "accept") != "reject"
    when_missing = '; null or "" when missing' if nullable else ""
    return {
        "type": ["string", "null"] if nullable else "string",
        "description": f"a date as text in the format {date['format']!r}{when_missing}",
    }


def request_contract(metadata: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{column: JSON Schema of its values}, in schema order: a date column once, where its first part is."""
    schema = metadata["schema"]
    dates = {date["name"]: date for date in schema.get("dates", [])}
    contract: dict[str, dict[str, Any]] = {}
    for feature in schema["features"]:
        source = feature.get("source")
        if source is None:
            contract[feature["name"]] = column_schema(feature, metadata)
        elif source not in contract:
            parts = [f for f in schema["features"] if f.get("source") == source]
            contract[source] = date_schema(dates[source], parts, metadata)
    return contract
