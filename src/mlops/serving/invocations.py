"""POST /invocations and GET /ping: MLflow's scoring protocol, which is also Amazon SageMaker's.

/invocations takes JSON in any of MLflow's input forms, or `text/csv` as SageMaker Batch
Transform sends it: one row per line, values in schema order, an empty field for a missing
value (a UTF-8 byte order mark before the first row is skipped, as `mlops validate` and
pandas skip it), or an Apache Arrow IPC stream, `application/vnd.apache.arrow.stream`
(columnar.py). A CSV body may start with a header line naming its columns, as the data has
them: then they come in any order, with the id columns (columns.ids) and dropped columns too.
The answer is {"predictions": [...]}, or with `Accept: text/csv` one predicted class (or
number, for regression) per line. When the request gives ids, the JSON answer adds "ids" (per
row, {id column: value} as given) and the CSV answer is a header line, the id columns and
`prediction`, then per row its ids and prediction. Either way the X-Prediction-Id header
carries the request's prediction id (the body keeps MLflow's form).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, request

from mlops.serving import columnar
from mlops.serving.openapi import Schemas, json_body, prediction_response
from mlops.serving.responses import (
    PREDICTION_ID_HEADER,
    json_response,
    keeping,
    read_body,
    read_json_body,
    unquoted,
)
from mlops.serving.routes import Routes
from mlops.serving.service import PredictionService, as_rows
from mlops.serving.validation import MAX_PROBLEMS, RequestError

MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
CSV = "text/csv"
CSV_STRUCTURE = b",\n"
CSV_DELETE = keeping(CSV_STRUCTURE)


def register(routes: Routes, service: PredictionService) -> None:
    schemas = routes.schemas
    body = {
        **json_body(invocation_schema(schemas)),
        CSV: {
            "schema": {"type": "string"},
            "description": "rows, values in schema order; or a header line naming the columns (any order, "
            "with id columns, echoed, and dropped ones) and rows in its order",
        },
        **columnar.openapi_content(),
    }
    summary = "Predict (MLflow scoring protocol, as used by MLflow clients and SageMaker)"
    answers = {"200": prediction_response("predictions", invocation_answer(schemas)), **schemas.errors}
    answers["200"]["content"][CSV] = {
        "schema": {"type": "string"},
        "description": "with Accept: text/csv, one prediction per line; when the request gives ids, a header "
        "line (the id columns, prediction) and per row its ids and prediction",
    }

    @routes.post("/invocations", summary, answers, body)
    def invocations() -> Response:
        if request.mimetype == CSV:
            columns = csv_columns(read_body(), service)
        elif request.mimetype == columnar.ARROW_STREAM:
            columns = columnar.arrow_columns(read_body(), service.validator)
        else:
            columns = json_columns(read_json_body(service.validator.max_json_values), service)
        prediction = service.predict(columns)
        ids = service.validator.given_ids(columns)
        if request.accept_mimetypes.best_match(["application/json", CSV]) == CSV:
            answer = Response(csv_answer(prediction.predictions, ids), mimetype=CSV)
            answer.headers[PREDICTION_ID_HEADER] = prediction.id
            return answer
        answer = {"predictions": prediction.predictions}
        if ids:
            answer["ids"] = as_rows(ids)
        return json_response(answer, prediction_id=prediction.id)

    readiness = {"200": {"description": "ready"}, "503": {"description": "not ready"}}

    @routes.get("/ping", "200 when the model is ready (SageMaker health check)", readiness)
    def ping() -> Response:
        return Response("", status=200 if service.ready else 503, mimetype="text/plain")


def invocation_answer(schemas: Schemas) -> dict[str, Any]:
    """MLflow's {"predictions": [...]}, with "ids" when the request gives the id columns (columns.ids)."""
    answer = {**schemas.labels, "properties": {**schemas.labels["properties"]}}
    if schemas.ids:
        answer["properties"]["ids"] = {
            "type": "array",
            "items": {"type": "object"},
            "description": "per row, its id columns as given; only when the request gives ids",
        }
    return answer


def invocation_schema(schemas: Schemas) -> dict[str, Any]:
    """The JSON body: exactly one of MLflow's input forms (MLFLOW_KEYS), with optional params."""
    split = {
        "type": "object",
        "required": ["columns", "data"],
        "properties": {
            "columns": {"type": "array", "items": {"enum": schemas.names}, "uniqueItems": True},
            "data": {"type": "array", "items": {"type": "array"}, "minItems": 1},
        },
    }
    forms = dict(zip(MLFLOW_KEYS, (split, schemas.records, schemas.instances, schemas.instances), strict=True))
    return {
        "description": "the MLflow scoring protocol; exactly one of these keys",
        "oneOf": [
            {
                "type": "object",
                "required": [key],
                "properties": {key: schema, "params": {"type": "object"}},
                "additionalProperties": False,
            }
            for key, schema in forms.items()
        ],
    }


def json_columns(body, service: PredictionService) -> dict[str, list]:
    validator = service.validator
    keys = [key for key in MLFLOW_KEYS if type(body) is dict and key in body]
    extra = sorted(str(key) for key in body if key not in MLFLOW_KEYS and key != "params") if type(body) is dict else []
    if len(keys) != 1 or extra:
        raise RequestError(
            400,
            "invalid_request",
            f"the body must be a JSON object with exactly one of {', '.join(MLFLOW_KEYS)}",
            {"found": keys, "unknown": extra},
        )
    key, value = keys[0], body[keys[0]]
    if key == "dataframe_split":
        return validator.split(value)
    if key in ("instances", "inputs") and type(value) is dict:
        return validator.from_columns(value, key)
    return validator.instances(value, key)


def csv_columns(body: bytes, service: PredictionService) -> dict[str, list]:
    """CSV rows in schema order to validated columns; numbers parsed for numeric columns, "" as missing."""
    validator = service.validator
    check_csv_size(body, validator.max_rows, validator.max_csv_fields)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RequestError(400, "invalid_csv", f"the CSV body is not UTF-8 text: {exc}") from None
    try:
        rows = [row for row in csv.reader(io.StringIO(text)) if row]
    except csv.Error as exc:
        raise RequestError(400, "invalid_csv", f"the body is not valid CSV: {exc}") from None
    names, order = validator.columns, "in schema order"
    if rows and is_header(rows[0], validator):
        names, order, rows = rows[0], "as the header names them", rows[1:]
        if len(set(names)) != len(names):
            raise RequestError(400, "invalid_csv", "the header line names a column twice")
        validator.check_names(names, "the CSV header")
    width = len(names)
    problems = []
    for index, row in enumerate(rows):
        if len(row) != width:
            problems.append({"row": index, "problem": f"has {len(row)} values; expected {width}, {order}"})
            if len(problems) >= MAX_PROBLEMS:
                break
    if problems:
        raise validator.invalid(problems, len(rows))
    numeric = dict(zip(validator.columns, validator.numeric, strict=True))
    columns = {}
    for position, name in enumerate(names):
        values = [row[position] for row in rows]
        # a number where the column is numeric; else text (ids too, as the data has them), "" missing
        columns[name] = [number(value) for value in values] if numeric.get(name) else [v or None for v in values]
    return validator.from_columns(columns, "the CSV rows")


def is_header(row: list[str], validator) -> bool:
    """Whether a CSV line names columns: all the model's, or a numeric one (whose value is never its name)."""
    named = set(row)
    numeric = {name for name, is_numeric in zip(validator.columns, validator.numeric, strict=True) if is_numeric}
    return named >= validator.column_set or bool(named & numeric)


def csv_answer(predictions: list, ids: dict[str, list]) -> str:
    """One prediction per line; with the request's ids, a header line and each row's ids before its prediction."""
    if not ids:
        return "".join(f"{value}\n" for value in predictions)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*ids, "prediction"])
    writer.writerows(zip(*ids.values(), predictions, strict=True))
    return out.getvalue()


def check_csv_size(body: bytes, max_rows: int, max_fields: int) -> None:
    """413 for more lines (blank ones included) or fields than a header line and `max_rows` full rows have,
    before parsing (a body of max_rows + 1 rows without a header is counted as rows once parsed)."""
    most_lines = max_rows + 1
    lines, fields = csv_size(body, body.translate(None, CSV_DELETE))
    if lines > most_lines or fields > max_fields:  # a quoted field may hold commas and line breaks: count again
        lines, fields = csv_size(body, unquoted(body, CSV_STRUCTURE))
    if lines > most_lines:
        raise RequestError(
            413,
            "too_many_rows",
            f"{lines} lines in one request; the limit is {max_rows} rows: split the batch",
            {"rows": lines, "max_rows": max_rows},
        )
    if fields > max_fields:
        raise RequestError(
            413,
            "too_many_values",
            f"the body holds {fields} CSV fields; the limit is {max_fields}, {max_rows} rows of "
            f"{max_fields // max_rows} values: split the batch",
            {"values": fields, "max_values": max_fields},
        )


def csv_size(body: bytes, structure: bytes) -> tuple[int, int]:
    """(lines, fields) of a CSV body from its commas and line breaks (`structure`); a last line without a
    line break counts."""
    breaks = structure.count(b"\n")
    lines = breaks + (0 if body.endswith(b"\n") or not body else 1)
    return lines, len(structure) - breaks + lines


def number(text: str):
    """A CSV field of a numeric column: a float, None when empty, else the text (which validation rejects)."""
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        return text
