"""A columnar body on POST /invocations: an Apache Arrow IPC stream (application/vnd.apache.arrow.stream).

What `pyarrow.ipc.new_stream` writes, or pandas through pyarrow: a schema with one field per
column, named as the column (and any of the id columns, echoed in the answer and logged, or
dropped columns, ignored), then record batches. Numeric columns take integer or floating-point
fields, null (or NaN) for a missing value; categorical columns take string fields (or integers,
read as their text, as in JSON), null for a missing value. The columns are checked as the JSON
column form is (validation.py) and the answer is /invocations' own.

Hostile bodies are refused before pyarrow builds anything large: the stream is read one message
at a time, and each record batch's row count and compression are read from its header first (a
compressed body could unpack to far more than the body limit: send uncompressed batches).
Dictionary-encoded and nested fields are refused.

pyarrow is imported on the first Arrow request, never at start-up. The serving image
(requirements-serve.txt) leaves it out, since it would more than double the image; there this
content type gets a 415 that says so, and the binary V2 route (binary_tensors.py) is the fast
batch path. `mlops serve` from the project's environment has it.
"""

from __future__ import annotations

import struct
from typing import Any

from mlops.serving.validation import RequestError, Validator

ARROW_STREAM = "application/vnd.apache.arrow.stream"
RECORD_BATCH_LENGTH, RECORD_BATCH_COMPRESSION = 0, 3  # field numbers in Arrow's Message.fbs RecordBatch table
MESSAGE_HEADER = 2  # the Message table's header field


def bad(message: str, status: int = 400, code: str = "invalid_arrow") -> RequestError:
    return RequestError(status, code, message)


def arrow_columns(body: bytes, validator: Validator) -> dict[str, list]:
    """Validated columns from an Arrow IPC stream; a RequestError for anything else."""
    try:
        import pyarrow as pa
        import pyarrow.ipc
    except ImportError:
        raise bad(
            f"this server cannot read {ARROW_STREAM}: pyarrow is not installed (the serving image leaves it "
            "out); send JSON or text/csv here, or binary tensors to /v2/models/<name>/infer",
            415,
            "unsupported_media_type",
        ) from None
    try:
        schema, batches = read_stream(pa, body, validator)
        table = pa.Table.from_batches(batches, schema)
    except (pa.ArrowException, OSError) as exc:  # pyarrow reports a stream cut short as an OSError
        raise bad(f"the body is not a valid Arrow IPC stream: {str(exc).strip().splitlines()[0][:200]}") from None
    columns: dict[str, Any] = {}
    for position, field in enumerate(schema):
        column = table.column(position)
        position_of = validator.position.get(field.name)  # None: an id or dropped column
        numeric = position_of is not None and validator.numeric[position_of]
        if numeric and (pa.types.is_integer(field.type) or pa.types.is_floating(field.type)):
            columns[field.name] = column.to_numpy()  # floating-point, NaN for a null, when any is null
        else:
            columns[field.name] = column.to_pylist()
    return validator.from_columns(columns, "the Arrow columns")


def read_stream(pa, body: bytes, validator: Validator) -> tuple[Any, list]:
    """(schema, record batches) of the stream, checked message by message before each is read."""
    reader = pa.ipc.MessageReader.open_stream(pa.py_buffer(body))
    first = next(iter(reader), None)
    if first is None:
        raise bad("the Arrow stream is empty: it needs a schema, then record batches")
    if first.type != "schema":
        raise bad(f"an Arrow stream starts with its schema, this one with a {first.type} message")
    schema = pa.ipc.read_schema(first)
    check_schema(pa, schema, validator)
    batches, rows = [], 0
    for message in reader:
        if message.type != "record batch":
            raise bad(f"a {message.type} message: send plain columns, not dictionary-encoded ones")
        length, compressed = batch_header(message.metadata.to_pybytes())
        if compressed:
            raise bad(
                "the record batches are compressed: send them uncompressed "
                "(ipc.IpcWriteOptions(compression=None)), so the body's size bounds what the server unpacks"
            )
        rows += length
        if rows > validator.max_rows:
            validator.check_count(rows)  # 413 before the batch is read
        batch = pa.ipc.read_record_batch(message, schema)
        batch.validate(full=True)  # offsets within their buffers, strings UTF-8
        batches.append(batch)
    validator.check_count(rows)
    return schema, batches


def check_schema(pa, schema, validator: Validator) -> None:
    names = schema.names
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise bad(f"the Arrow schema names {duplicates[:5]} more than once", code="invalid_columns")
    validator.check_names(names, "the Arrow columns")
    for field in schema:
        kind = field.type
        plain = (
            pa.types.is_integer(kind)
            or pa.types.is_floating(kind)
            or pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or pa.types.is_null(kind)
        )
        if not plain:
            raise bad(
                f"column {field.name!r} has Arrow type {kind}: send numbers (integer or floating point) "
                "or strings, not dictionary-encoded, nested or other types"
            )


def batch_header(metadata: bytes) -> tuple[int, bool]:
    """(rows, compressed) of a record batch, read from its flatbuffer header as Arrow's Message.fbs lays it out."""
    try:
        message = table(metadata, struct.unpack_from("<I", metadata, 0)[0])
        where = field(metadata, message, MESSAGE_HEADER)
        if not where:
            raise bad("a record batch message without its header")
        header = table(metadata, where + struct.unpack_from("<I", metadata, where)[0])
        where = field(metadata, header, RECORD_BATCH_LENGTH)
        length = struct.unpack_from("<q", metadata, where)[0] if where else 0
        compressed = bool(field(metadata, header, RECORD_BATCH_COMPRESSION))
    except struct.error:
        raise bad("a record batch's header is cut short or points outside itself") from None
    if length < 0:
        raise bad(f"a record batch says it has {length} rows")
    return length, compressed


def table(buffer: bytes, position: int) -> tuple[int, int]:
    """(position, vtable position) of the flatbuffer table at `position`."""
    vtable = position - struct.unpack_from("<i", buffer, position)[0]
    if not 0 <= vtable < len(buffer):
        raise struct.error("vtable outside the buffer")
    return position, vtable


def field(buffer: bytes, located: tuple[int, int], number: int) -> int:
    """Where field `number` of a table is in `buffer`; 0 when the table leaves it out."""
    position, vtable = located
    size = struct.unpack_from("<H", buffer, vtable)[0]
    entry = 4 + 2 * number
    if entry + 2 > size:
        return 0
    offset = struct.unpack_from("<H", buffer, vtable + entry)[0]
    return position + offset if offset else 0


def openapi_content() -> dict[str, Any]:
    """/invocations' Arrow request body, for its OpenAPI document (mlops.serving.openapi)."""
    return {
        ARROW_STREAM: {
            "schema": {"type": "string", "contentMediaType": ARROW_STREAM},
            "description": "an Apache Arrow IPC stream, one field per column, uncompressed record batches",
        }
    }
