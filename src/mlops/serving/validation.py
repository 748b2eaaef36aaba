"""Check prediction requests against the training schema and turn them into model input.

Everything a request can get wrong becomes a `RequestError` (a 4xx status, a code, a
message and details naming the rows and columns at fault). The checks are plain Python
over the parsed JSON, one converter per column built once at start-up: no pandas.

What each column accepts is its JSON Schema in the request contract (contract.py, also
published in /openapi.json): numbers within bounds, or null for missing; categories as
strings (integers are read as their text, as in training), or null / "" for missing; dates as
text in the column's format (mlops.dates turns them into the model's date features). A record
may also carry the id columns (echoed in the answer and logged) and the dropped columns (ignored).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlops import dates
from mlops.serving.contract import EXPECTED, request_contract
from mlops.serving.converters import (
    Invalid,
    category_converter,
    date_converter,
    id_value,
    is_id,
    json_type,
    number_converter,
)

MAX_PROBLEMS = 20  # reported per request; more are counted, not listed

INSTANCE_FORMATS = "a list of objects {column: value} or of rows [value, ...] in schema order"


class RequestError(Exception):
    def __init__(self, status: int, code: str, message: str, details: Any = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details

    def body(self, plain: bool = False) -> dict[str, Any]:
        """The answer's body: {"error": {"code", "message", "details"}}, or `plain`ly {"error": message} as
        KServe and the Open Inference Protocol have it."""
        if plain:
            return {"error": self.message}
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def shorten(names: list[str], most: int = 5) -> str:
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more


class Validator:
    """Turns `instances` (records, rows or columns) into {column: [value per row]} for the predictor."""

    def __init__(self, metadata: dict[str, Any], max_rows: int):
        schema = metadata["schema"]
        kinds = {f["name"]: f["kind"] for f in schema["features"]}
        date_columns = {date["name"]: date for date in schema.get("dates", [])}
        missing = self.missing = metadata.get("missing_category", "")
        self.contract = request_contract(metadata)
        self.columns: list[str] = list(self.contract)
        self.numeric: list[bool] = [kinds.get(name) == "numeric" for name in self.columns]
        self.column_set = frozenset(self.columns)
        self.position = {name: index for index, name in enumerate(self.columns)}
        self.converters = [
            date_converter(column, date_columns[name])
            if name in date_columns
            else number_converter(column)
            if numeric
            else category_converter(column, missing)
            for (name, column), numeric in zip(self.contract.items(), self.numeric, strict=True)
        ]
        # A numeric column's bounds and whether it may be missing, for columns given as arrays (from_columns).
        self.bounds = {
            name: (schema["minimum"], schema["maximum"], "null" in schema["type"])
            for name, schema, numeric in zip(self.columns, self.contract.values(), self.numeric, strict=True)
            if numeric
        }
        self.dates = list(date_columns)
        self.ids: list[str] = list(schema.get("ids", []))
        # What a record may hold besides the columns: its ids (echoed and logged) and dropped columns (ignored).
        self.optional = frozenset([*self.ids, *schema.get("dropped", [])])
        # Columns whose out-of-range values and unexpected nulls are counted (serve.out_of_range: accept).
        self.expected = {name: schema[EXPECTED] for name, schema in self.contract.items() if EXPECTED in schema}
        self.max_rows = max_rows
        # What a body may hold before it is parsed (responses.read_json_body, invocations.csv_columns):
        # JSON values enough for max_rows rows in the widest form (V2's [N, 1] inputs, two per value),
        # with room for names, shapes and parameters; CSV fields enough for max_rows full rows and a
        # header. A row may carry its ids and dropped columns too.
        width = len(self.columns) + len(self.optional)
        self.max_json_values = 2 * (width + 1) * (max_rows + 32) + 1024
        self.max_csv_fields = width * (max_rows + 1)

    def check_count(self, count: int) -> None:
        if count == 0:
            raise RequestError(400, "empty_instances", "instances is empty: send at least one row")
        if count > self.max_rows:
            raise RequestError(
                413,
                "too_many_rows",
                f"{count} rows in one request; the limit is {self.max_rows}: split the batch",
                {"rows": count, "max_rows": self.max_rows},
            )

    def instances(self, instances: Any, field: str = "instances") -> dict[str, list]:
        """Records and/or rows: [{column: value}, ...] or [[value, ...], ...]."""
        if not isinstance(instances, list):
            raise RequestError(400, "invalid_request", f"{field} must be {INSTANCE_FORMATS}")
        self.check_count(len(instances))
        out: dict[str, list] = {name: [] for name in self.columns}
        ids: dict[str, list] = {name: [] for name in self.ids}
        plan = [(name, convert, out[name]) for name, convert in zip(self.columns, self.converters, strict=True)]
        width = len(plan)
        problems: list[dict[str, Any]] = []
        for index, instance in enumerate(instances):
            kind = type(instance)
            if kind is dict:
                if instance.keys() != self.column_set and not self.with_optional(instance):
                    problems.append(self.column_problem(index, instance))
                else:
                    for name, convert, values in plan:
                        try:
                            values.append(convert(instance[name]))
                        except Invalid as exc:
                            problems.append({"row": index, "column": name, "problem": str(exc)})
                    for name in self.ids:
                        try:
                            ids[name].append(id_value(instance.get(name)))
                        except Invalid as exc:
                            problems.append({"row": index, "column": name, "problem": str(exc)})
            elif kind is list:
                if len(instance) != width:
                    problems.append(
                        {"row": index, "problem": f"has {len(instance)} values; expected {width}, in schema order"}
                    )
                else:
                    for (name, convert, values), value in zip(plan, instance, strict=True):
                        try:
                            values.append(convert(value))
                        except Invalid as exc:
                            problems.append({"row": index, "column": name, "problem": str(exc)})
                    for name in self.ids:
                        ids[name].append(None)
            else:
                problems.append({"row": index, "problem": f"is a JSON {json_type(instance)}; {INSTANCE_FORMATS}"})
            if len(problems) >= MAX_PROBLEMS:
                break
        if problems:
            raise self.invalid(problems, len(instances))
        return self.finish(out, ids)

    def given_ids(self, columns: dict[str, list]) -> dict[str, list]:
        """The id columns of validated `columns` that the request gave, a value in one row at least."""
        return {name: columns[name] for name in self.ids if any(value is not None for value in columns[name])}

    def with_optional(self, record: dict) -> bool:
        """Whether a record holds every column and, besides them, only ids and dropped columns."""
        keys = record.keys()
        return bool(self.optional) and keys >= self.column_set and keys - self.column_set <= self.optional

    def finish(self, out: dict[str, list], ids: dict[str, list] | None = None) -> dict[str, list]:
        """The model's columns: each date column as its text and its parts' features; the ids beside them."""
        for name in self.dates:
            converted = out[name]
            out[name] = [text for text, _ in converted]
            for index, part in enumerate(dates.PARTS):
                out[dates.part_name(name, part)] = [values[index] for _, values in converted]
        if ids:
            out.update(ids)
        return out

    def column_problem(self, index: int, record: dict) -> dict[str, Any]:
        missing = [name for name in self.columns if name not in record]
        unknown = sorted(str(name) for name in record if name not in self.column_set and name not in self.optional)
        parts = []
        if missing:
            parts.append(f"missing column(s): {shorten(missing)}")
        if unknown:
            parts.append(f"unknown column(s): {shorten(unknown)}")
        return {"row": index, "problem": "; ".join(parts), "missing": missing, "unknown": unknown}

    def invalid(self, problems: list[dict[str, Any]], rows: int) -> RequestError:
        first = problems[0]
        where = f"row {first['row']}" + (f", column '{first['column']}'" if "column" in first else "")
        more = f" (and more: {len(problems)} problems listed in details)" if len(problems) > 1 else ""
        return RequestError(
            400, "invalid_instances", f"{where}: {first['problem']}{more}", {"problems": problems, "rows": rows}
        )

    def split(self, split: Any) -> dict[str, list]:
        """The MLflow `dataframe_split` form: {"columns": [...], "data": [[...], ...]} (columns optional)."""
        if not isinstance(split, dict) or not isinstance(split.get("data"), list):
            raise RequestError(400, "invalid_request", 'dataframe_split must be {"columns": [...], "data": [[...]]}')
        columns, data = split.get("columns"), split["data"]
        if columns is None or columns == self.columns:
            return self.instances(data, "dataframe_split.data")
        if not isinstance(columns, list) or not all(type(c) is str for c in columns):
            raise RequestError(400, "invalid_request", "dataframe_split.columns must be a list of column names")
        named = dict.fromkeys(columns)
        if len(named) != len(columns) or (named.keys() != self.column_set and not self.with_optional(named)):
            problem = self.column_problem(0, named)
            raise RequestError(400, "invalid_columns", f"dataframe_split.columns: {problem['problem'] or 'duplicates'}")
        if set(columns) != self.column_set:  # ids or dropped columns too: as records
            rows = [dict(zip(columns, row, strict=True)) if type(row) is list and len(row) == len(columns) else row
                    for row in data]  # fmt: skip
            return self.instances(rows, "dataframe_split.data")
        order = [columns.index(name) for name in self.columns]
        rows = [[row[i] for i in order] if type(row) is list and len(row) == len(order) else row for row in data]
        return self.instances(rows, "dataframe_split.data")

    def from_columns(self, columns: Any, field: str) -> dict[str, list]:
        """The column-oriented form: {column: [value per row], ...}, each column checked as a whole.

        A numeric column may also be a one-dimensional numpy array of numbers (binary and columnar
        bodies), NaN for a missing value: it is checked at once and passed on as float64.
        """
        if type(columns) is not dict:
            raise RequestError(400, "invalid_request", f"{field} must be an object {{column: [value per row]}}")
        self.check_names(columns, field)
        lengths = {len(v) if type(v) is list or type(v) is np.ndarray else -1 for v in columns.values()}
        if len(lengths) != 1 or -1 in lengths:
            raise RequestError(400, "invalid_request", f"{field}: each column must be a list, all of the same length")
        count = lengths.pop()
        self.check_count(count)
        out: dict[str, list] = {}
        problems: list[dict[str, Any]] = []
        for name, convert in zip(self.columns, self.converters, strict=True):
            values = columns[name]
            if type(values) is np.ndarray:
                checked = self.numbers(name, values)
                if checked is not None:
                    out[name] = checked
                    continue
                values = [None if value != value else value for value in values.tolist()]  # find what is wrong
            try:
                out[name] = [convert(value) for value in values]
            except Invalid:  # the slow path, only for a bad request: find every bad row of this column
                for index, value in enumerate(values):
                    try:
                        convert(value)
                    except Invalid as exc:
                        problems.append({"row": index, "column": name, "problem": str(exc)})
                        if len(problems) >= MAX_PROBLEMS:
                            break
            if len(problems) >= MAX_PROBLEMS:
                break
        ids: dict[str, list] = {}
        for name in self.ids:
            given = columns.get(name)
            if type(given) is np.ndarray:  # integer ids from a binary or columnar body
                given = given.tolist()
            try:
                ids[name] = [id_value(value) for value in given] if given is not None else [None] * count
            except Invalid as exc:
                row = next(index for index, value in enumerate(given) if not is_id(value))
                problems.append({"row": row, "column": name, "problem": str(exc)})
        if problems:
            raise self.invalid(problems, count)
        return self.finish(out, ids)

    def check_names(self, names, field: str) -> None:
        """A RequestError (invalid_columns) unless `names` (an iterable or a dict) are the schema's columns."""
        problem = self.column_problem(0, dict.fromkeys(names))
        if problem["missing"] or problem["unknown"]:
            del problem["row"]
            raise RequestError(400, "invalid_columns", f"{field}: {problem['problem']}", problem)

    def numbers(self, name: str, values: np.ndarray) -> np.ndarray | None:
        """A numeric column given as an array, as float64 (NaN: missing), if every value passes; else None."""
        low, high, nullable = self.bounds.get(name, (None, None, False))
        if low is None or values.dtype.kind not in "fiu":
            return None
        values = values.astype(np.float64, copy=False)
        with np.errstate(invalid="ignore"):
            passed = (values >= low) & (values <= high)  # False for NaN
        if nullable:
            passed |= np.isnan(values)
        return values if passed.all() else None
