"""The prediction log under gunicorn on loopback (two workers): every prediction route returns
the request's prediction id, each row's id is the one the log wrote for it (so late labels can be
joined), and a log that cannot be written never fails a prediction and is counted on /metrics."""

from __future__ import annotations

import json
import os
import re
import signal

import pytest

from mlops import http
from mlops.monitoring.prediction_log import read_records
from mlops.serving.responses import PREDICTION_ID_HEADER
from tests.waiting import wait_until

pytestmark = pytest.mark.slow
VERTEX_PREDICT = "/vertex/predict"


def test_each_route_returns_the_ids_the_prediction_log_has_for_its_rows(serve, records, expected, tmp_path):
    logs = tmp_path / "logs"
    server = serve(MLOPS_PREDICTION_LOG_DIR=str(logs), AIP_PREDICT_ROUTE=VERTEX_PREDICT)
    name = http.request(server.url + "/v1/models").json()["models"][0]
    complete = [index for index, row in enumerate(records) if None not in row.values()][:3]
    rows, labels = [records[i] for i in complete], [expected[0][i] for i in complete]
    columns = {column: [row[column] for row in rows] for column in rows[0]}
    v2_inputs = [
        {"name": column, "shape": [len(values)], "datatype": "BYTES" if column == "color" else "FP64", "data": values}
        for column, values in columns.items()
    ]
    csv_rows = "\n".join(",".join("" if row[c] is None else str(row[c]) for c in columns) for row in rows)
    calls = {
        "/predict": ({"instances": rows}, "application/json"),
        "/invocations": ({"dataframe_records": rows}, "application/json"),
        "/invocations (CSV)": (csv_rows, "text/csv"),
        f"/v1/models/{name}:predict": ({"instances": rows}, "application/json"),
        f"/v2/models/{name}/infer": ({"inputs": v2_inputs}, "application/json"),
        VERTEX_PREDICT: ({"instances": rows, "parameters": {}}, "application/json"),
    }
    returned: dict[str, list[str]] = {}  # route -> the row ids it gave
    for route, (body, content_type) in calls.items():
        reply = http.request(server.url + route.split(" ")[0], body, content_type=content_type)
        assert reply.status == 200, (route, reply.body)
        prediction_id = reply.headers[PREDICTION_ID_HEADER.lower()]
        returned[route] = [f"{prediction_id}-{row}" for row in range(len(rows))]
        if route == "/predict":
            assert reply.json()["prediction_ids"] == returned[route]
        if route.startswith("/v2/"):
            answer = reply.json()
            assert answer["parameters"] == {"prediction_id": prediction_id} and answer["id"] == prediction_id
    assert len({ids[0] for ids in returned.values()}) == len(calls), "each request has an id of its own"

    # The V2 request's own id is kept; the prediction id still comes with it.
    reply = http.request(server.url + f"/v2/models/{name}/infer", {"id": "mine", "inputs": v2_inputs})
    assert reply.json()["id"] == "mine"
    assert reply.json()["parameters"]["prediction_id"] == reply.headers["x-prediction-id"]
    server.stop()  # SIGTERM: each worker writes its queue before it goes

    logged = {record["id"]: record for record in read_records(logs)[0]}
    for route, ids in returned.items():
        assert [logged[i]["prediction"] for i in ids] == labels, route
        assert [logged[i]["features"] for i in ids] == [json.loads(json.dumps(row)) for row in rows], route


def dropped_on_metrics(server) -> dict[str, float]:
    text = http.request(server.url + "/metrics").body.decode()
    return {m[1]: float(m[2]) for m in re.finditer(r'mlops_prediction_log_dropped_total\{reason="(\w+)"\} (\S+)', text)}


def test_a_read_only_log_directory_fails_no_prediction_and_is_counted_across_worker_restarts(
    serve, records, expected, tmpfs
):
    directory = tmpfs("size=1m,ro")
    server = serve(MLOPS_PREDICTION_LOG_DIR=str(directory))
    assert dropped_on_metrics(server) == {"queue_full": 0.0, "write_failed": 0.0, "unexpected_error": 0.0}
    for _ in range(10):
        reply = http.request(server.url + "/predict", {"instances": records})
        assert reply.status == 200 and reply.json()["predictions"] == expected[0]
    until_counted(server, 10 * len(records))

    original = server.workers()
    os.kill(original[0], signal.SIGTERM)  # gunicorn starts a new worker; the counter keeps the old one's rows
    wait_until(lambda: len(server.workers()) == 2 and original[0] not in server.workers(), 60, "a new worker")
    for _ in range(10):
        assert http.request(server.url + "/predict", {"instances": records}).status == 200
    until_counted(server, 20 * len(records))
    assert "Read-only file system" in server.stderr.read_text()


def until_counted(server, rows: int) -> None:
    """The writer threads count failures as they come to them: wait (bounded) for all of them."""
    wait_until(lambda: dropped_on_metrics(server)["write_failed"] >= rows, 60, f"{rows} dropped rows counted")
    assert dropped_on_metrics(server)["write_failed"] == rows
