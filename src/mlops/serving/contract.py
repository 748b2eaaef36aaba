"""The request contract: one JSON Schema per column, generated once from the data schema.

The validator builds its checks from these schemas and /openapi.json publishes them, so
what the service accepts and what it documents cannot drift apart. Per column:

- numeric: JSON numbers within 32-bit float range, and null for a missing value. With
  `serve.out_of_range: reject` the bounds are the schema's `minimum`/`maximum` (the suite's
  allowed range) and null is refused where the schema says `nullable: false`. With `accept`
  (the default) such values get a prediction; `x-expected` carries the range and
  nullability they are counted against (mlops_out_of_range_total).
- categorical: the known categories, "" and null for missing; with
  `serve.unknown_categories: ignore`, any string. A missing value where the schema says
  `nullable: false` is refused or counted as for numeric columns.
"""

from __future__ import annotations

from typing import Any

FLOAT32_MAX = 3.4028234663852886e38
EXPECTED = "x-expected"  # the training range and nullability of a column whose violations are counted, not refused


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
    if metadata.get("unknown_categories", "reject") == "reject":
        schema = {"enum": [*categories, *missing], "description": f"categorical{when_missing}"}
    else:
        kind = ["string", "null"] if missing else "string"
        schema = {"type": kind, "description": f"categorical; known: {categories}{when_missing}"}
    if not reject_out_of_range and not nullable:
        schema[EXPECTED] = {"nullable": False}
    return schema


def request_contract(metadata: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{column: JSON Schema of its values}, in schema order."""
    return {f["name"]: column_schema(f, metadata) for f in metadata["schema"]["features"]}
