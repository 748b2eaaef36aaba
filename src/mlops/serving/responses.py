"""Reading request bodies and writing JSON answers, shared by every protocol adapter."""

from __future__ import annotations

import json
from typing import Any

import orjson
from flask import Response, request

from mlops.serving.validation import RequestError

JSON = "application/json"
# The request's prediction id on every prediction answer; row i of the request has `<id>-<i>`,
# the id its row has in the prediction log, which late labels are joined on.
PREDICTION_ID_HEADER = "X-Prediction-Id"


def json_response(data: Any, status: int = 200, prediction_id: str | None = None) -> Response:
    response = Response(orjson.dumps(data), status=status, mimetype=JSON)
    if prediction_id is not None:
        response.headers[PREDICTION_ID_HEADER] = prediction_id
    return response


def read_json_body(untyped_ok: bool = False) -> Any:
    """The parsed JSON body; a RequestError for another content type or invalid JSON.

    `untyped_ok`: also take a body sent without a Content-Type (as tritonclient sends V2 requests).
    """
    if request.mimetype != JSON and not (untyped_ok and not request.mimetype):
        raise RequestError(
            415,
            "unsupported_media_type",
            f"the body must be JSON sent with Content-Type: application/json, not {request.mimetype or 'none'!r}",
        )
    body = request.get_data(cache=False)  # over MAX_CONTENT_LENGTH: werkzeug raises 413
    try:
        return orjson.loads(body)  # 3 to 4 times as fast as json.loads on a 1,000-row batch
    except orjson.JSONDecodeError:
        pass  # NaN, integers beyond 64 bits, lone surrogates: json reads them and validation answers as always
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise RequestError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
