"""Reading request bodies and writing JSON answers, shared by every protocol adapter.

A body is refused (413) past the largest body, with or without Content-Length, and a JSON body
before it is parsed when it holds more values than `serve.max_batch_rows` rows need: parsing
builds some 60 to 100 bytes per value, so a worker's memory follows the row limit, not the
shape of the body.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import orjson
from flask import Response, request
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

from mlops.serving.validation import RequestError

JSON = "application/json"
# The request's prediction id on every prediction answer; row i of the request has `<id>-<i>`,
# the id its row has in the prediction log, which late labels are joined on.
PREDICTION_ID_HEADER = "X-Prediction-Id"
QUOTE = ord('"')
CHUNK = 1 << 16  # bytes at a time when counting outside quotes: numpy temporaries of a few times this
SURROGATE = re.compile("[\ud800-\udfff]")


def json_response(data: Any, status: int = 200, prediction_id: str | None = None) -> Response:
    response = Response(orjson.dumps(data), status=status, mimetype=JSON)
    if prediction_id is not None:
        response.headers[PREDICTION_ID_HEADER] = prediction_id
    return response


def read_body() -> bytes:
    """The whole request body; 413 past the largest body, whether it came with Content-Length or chunked."""
    body = request.get_data(cache=False)  # Content-Length over MAX_CONTENT_LENGTH: werkzeug raises 413
    limit = request.max_content_length
    # Without Content-Length (chunked), werkzeug stops at the limit and returns what it read as if that
    # were all: one more byte from the server's stream tells a body of exactly the limit from a longer one.
    if request.content_length is None and limit is not None and len(body) >= limit:
        try:
            more = request.environ["wsgi.input"].read(1)
        except (OSError, ValueError):  # the chunks end badly past the limit: the client's fault, as werkzeug says
            raise ClientDisconnected() from None
        if more:
            raise RequestEntityTooLarge()
    return body


def keeping(kept: bytes) -> bytes:
    """The `delete` argument of bytes.translate that keeps only the bytes of `kept`."""
    return bytes(byte for byte in range(256) if byte not in kept)


def unquoted(body: bytes, kept: bytes) -> bytes:
    """The bytes of `kept` that `body` holds outside "quoted" text, in order.

    A quoted CSV field's "" escape opens and closes again, so it counts rightly as inside; JSON's
    escaped quotes are removed before. 64 KiB at a time, in numpy: no object per string.
    """
    table = np.zeros(256, dtype=bool)
    table[list(kept)] = True
    found, inside = [], 0
    data = np.frombuffer(body, dtype=np.uint8)
    for start in range(0, len(data), CHUNK):
        chunk = data[start : start + CHUNK]
        quotes = np.cumsum(chunk == QUOTE, dtype=np.uint8)  # parity is all that matters: wrapping is harmless
        quotes += inside
        found.append(chunk[table[chunk] & ((quotes & 1) == 0)].tobytes())
        inside = int(quotes[-1]) & 1
    return b"".join(found)


JSON_STRUCTURE = b",[{"
JSON_DELETE = keeping(JSON_STRUCTURE)


def count_json_values(body: bytes, most: int) -> int:
    """How many values parsing `body` would build at most: its commas and opening brackets, those
    inside strings left out when counting them too would pass `most`."""
    if len(body) <= most:  # every value takes a byte at least
        return len(body)
    found = len(body.translate(None, JSON_DELETE))  # every such byte, strings' included: 1 to 3 GB/s
    if found <= most or b'"' not in body:
        return found
    # Escaped backslashes, then escaped quotes, so every quote left opens or closes a string. Outside
    # strings a backslash is invalid JSON: the parser stops there, before anything this count missed.
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    return len(unquoted(body, JSON_STRUCTURE))


def read_json_body(max_values: int, untyped_ok: bool = False) -> Any:
    """The parsed JSON body; a RequestError for another content type, invalid JSON, text that is not
    Unicode, or more than `max_values` values (the validator's `max_json_values`), refused unparsed.

    `untyped_ok`: also take a body sent without a Content-Type (as tritonclient sends V2 requests).
    """
    if request.mimetype != JSON and not (untyped_ok and not request.mimetype):
        raise RequestError(
            415,
            "unsupported_media_type",
            f"the body must be JSON sent with Content-Type: application/json, not {request.mimetype or 'none'!r}",
        )
    return parse_json(read_body(), max_values)


def parse_json(body: bytes, max_values: int) -> Any:
    """`body` parsed as JSON, with read_json_body's checks (all but the content type's)."""
    values = count_json_values(body, max_values)
    if values > max_values:
        raise RequestError(
            413,
            "too_many_values",
            f"the body holds {values} JSON values; a request of the most rows allowed needs at most "
            f"{max_values}: split the batch",
            {"values": values, "max_values": max_values},
        )
    try:
        return orjson.loads(body)  # 3 to 4 times as fast as json.loads on a 1,000-row batch
    except orjson.JSONDecodeError:
        pass  # NaN, integers beyond 64 bits, lone surrogates: json reads them; validation answers the first two
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise RequestError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
    surrogate = lone_surrogate(parsed)
    if surrogate is not None:
        raise RequestError(
            400,
            "invalid_unicode",
            f"a string in the body holds the lone surrogate U+{ord(surrogate):04X}, which is not a Unicode "
            "character: send text as UTF-8 (a character beyond U+FFFF as a pair of \\u escapes)",
        )
    return parsed


def read_instances(validator, message: str, *other: str) -> dict[str, list]:
    """The validated columns of an {"instances": [...]} body (/predict, KServe V1, Vertex AI); the `other` keys
    (say "parameters") are accepted and ignored; any other body is a 400 saying `message`."""
    body = read_json_body(validator.max_json_values)
    if type(body) is not dict or "instances" not in body or not body.keys() <= {"instances", *other}:
        raise RequestError(400, "invalid_request", message)
    return validator.instances(body["instances"])


def lone_surrogate(value: Any) -> str | None:
    """The first lone surrogate (U+D800 to U+DFFF) in any string or key of a parsed JSON value, else None.

    json.loads lets them through (as \\u escapes or UTF-8-encoded surrogates); they cannot be written
    back out as UTF-8, so a request holding one is refused before it reaches the model.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            if not item.isascii() and (found := SURROGATE.search(item)):
                return found.group()
        elif kind is list:
            stack.extend(item)
        elif kind is dict:
            stack.extend(item)
            stack.extend(item.values())
    return None
