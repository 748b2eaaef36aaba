"""The hostile corpus (hostile.py) through Flask's test client: every case gets its 4xx, in the route's
error form, without a prediction, and the growing bodies are refused before parsing builds anything.

Bodies that are not hostile but sit at the edges the checks draw are here too: the most rows a
request may hold, in every form, must still be taken; so must text with commas and brackets in it,
surrogate pairs, and a CSV body that starts with a UTF-8 byte order mark.
"""

from __future__ import annotations

import csv
import io
import json
import tracemalloc

import pytest

from tests.serving.hostile import CORPUS, CSV, VERTEX_PREDICT

MODEL = "test-model"
MAX_ROWS = 100  # serve.max_batch_rows at the tests' scale
SIZE = 256 * 1024  # bytes of each growing body: 100 to 200 times what 100 rows need
# What refusing a growing body may allocate: its bytes a few times over (the test client's copy, the
# read, the count: 2.3 to 3.3 times), never what parsing it would build (10 to 55 times its size).
MEMORY_PER_BODY_BYTE = 5


@pytest.fixture
def app(make_app):
    return make_app(MLOPS_MAX_BATCH_ROWS=MAX_ROWS, AIP_PREDICT_ROUTE=VERTEX_PREDICT)


@pytest.fixture
def record(records):
    """A record without missing values: valid in every protocol's typed form."""
    return next(r for r in records if None not in r.values())


def predicted(app) -> float:
    text = app.test_client().get("/metrics").get_data(as_text=True)
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("mlops_predictions_total{")
    )


@pytest.mark.parametrize("case", CORPUS, ids=lambda case: f"{case.route}: {case.name}")
def test_a_hostile_body_gets_its_4xx_and_no_prediction(app, record, case):
    body = case.body(SIZE, record)
    client = app.test_client()
    tracemalloc.start()
    try:
        response = client.post(case.path(MODEL), data=body, content_type=case.content_type, headers=case.headers)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    text = response.get_data(as_text=True)
    assert response.status_code == case.status, text
    assert "Traceback" not in text
    error = response.get_json()["error"]
    message = error if case.path(MODEL).startswith(("/v1/models", "/v2")) else error["message"]
    assert type(message) is str and case.says in message, message
    assert predicted(app) == 0
    if case.grows and case.status == 413:  # refused unparsed: what answering took is a few copies of the body
        assert peak < MEMORY_PER_BODY_BYTE * len(body), f"{peak:,} bytes allocated for a {len(body):,}-byte body"


def test_every_growing_case_grows_with_the_size(record):
    for case in [case for case in CORPUS if case.grows]:
        assert case.grows and len(case.body(2 * SIZE, record)) > 1.9 * len(case.body(SIZE, record)), case.name


def as_csv(rows) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([["" if v is None else v for v in r.values()] for r in rows])
    return out.getvalue()


def v2_inputs(rows, nested=False):
    inputs = []
    for name in rows[0]:
        data = [row[name] for row in rows]
        datatype = "BYTES" if name == "color" else "FP64"
        shape, data = ([len(rows), 1], [[v] for v in data]) if nested else ([len(rows)], data)
        inputs.append({"name": name, "shape": shape, "datatype": datatype, "data": data, "parameters": {"a": 1}})
    return inputs


FULL_FORMS = {
    "records": lambda rows: ("/predict", {"instances": rows}),
    "rows": lambda rows: ("/predict", {"instances": [list(r.values()) for r in rows]}),
    "dataframe_split": lambda rows: (
        "/invocations",
        {"dataframe_split": {"columns": list(rows[0]), "data": [list(r.values()) for r in rows]}},
    ),
    "columns": lambda rows: ("/invocations", {"inputs": {name: [r[name] for r in rows] for name in rows[0]}}),
    "V1": lambda rows: (f"/v1/models/{MODEL}:predict", {"instances": rows}),
    "Vertex": lambda rows: (VERTEX_PREDICT, {"instances": rows, "parameters": {"k": [{"a": [1, 2]}] * 20}}),
    "V2 [N]": lambda rows: (f"/v2/models/{MODEL}/infer", {"id": "x", "inputs": v2_inputs(rows)}),
    "V2 [N, 1]": lambda rows: (
        f"/v2/models/{MODEL}/infer",
        {"id": "x", "inputs": v2_inputs(rows, nested=True), "outputs": [{"name": "label"}], "parameters": {}},
    ),
}


@pytest.mark.parametrize("form", FULL_FORMS)
def test_the_most_rows_a_request_may_hold_are_taken_in_every_form(app, records, form):
    rows = [records[i % len(records)] for i in range(MAX_ROWS)]
    path, body = FULL_FORMS[form](rows)
    response = app.test_client().post(path, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert predicted(app) == MAX_ROWS


def test_the_most_rows_are_taken_as_csv_too(app, records):
    rows = [records[i % len(records)] for i in range(MAX_ROWS)]
    response = app.test_client().post("/invocations", data=as_csv(rows), content_type=CSV)
    assert response.status_code == 200 and len(response.get_json()["predictions"]) == MAX_ROWS


def test_one_csv_row_over_the_limit_is_refused(app, records):
    rows = [records[i % len(records)] for i in range(MAX_ROWS + 1)]
    response = app.test_client().post("/invocations", data=as_csv(rows), content_type=CSV)
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "too_many_rows"


def test_commas_and_brackets_in_strings_are_text_not_values(app, records):
    """Text full of what looks like structure is counted as text: the request is parsed and answered."""
    noise = ",[{" * 10_000
    body = {"instances": records[:2], "parameters": {noise: noise, "pair": "\ud83d\ude00", "quote": 'a\\"b' * 99}}
    response = app.test_client().post(VERTEX_PREDICT, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    quoted = f'"{noise}{chr(10) * 500}"'  # a quoted CSV field with commas and line breaks: one field
    response = app.test_client().post("/invocations", data=f"1,2,{quoted},1\n", content_type=CSV)
    assert response.status_code == 400 and "unknown category" in response.get_json()["error"]["message"]


def test_a_csv_body_may_start_with_a_byte_order_mark(app, records):
    """As `mlops validate` (pandas) reads a CSV file that starts with one."""
    plain = app.test_client().post("/invocations", data=as_csv(records[:5]), content_type=CSV)
    marked = app.test_client().post("/invocations", data="\ufeff" + as_csv(records[:5]), content_type=CSV)
    assert plain.status_code == marked.status_code == 200
    assert plain.get_json() == marked.get_json()
