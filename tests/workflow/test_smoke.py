"""`mlops smoke`: against a small STAND-IN for the prediction service (a local HTTP server
started here). The real service is checked by the container test once it exists."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from mlops.cli import main
from mlops.release import smoke
from mlops.schema import Feature, Schema


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    """A tiny test split, its schema, and the pipeline's predictions for it."""
    test = pd.DataFrame(
        {"size": [1.0, 2.5, float("nan"), 4.0], "colour": ["red", "blue", "red", ""], "y": list("abab")}
    )
    schema = Schema([Feature("size", "numeric"), Feature("colour", "categorical", ["blue", "red"])], "y", ["a", "b"])
    paths = {"test": tmp_path / "test.parquet", "expected": tmp_path / "test.csv", "schema": tmp_path / "schema.json"}
    test.to_parquet(paths["test"])
    pd.DataFrame({"actual": list("abab"), "predicted": list("abba")}).to_csv(paths["expected"], index=False)
    schema.save(paths["schema"])
    return paths


class StandInService:
    """Answers /ready and /predict like the contracted service; predictions come from `answer`."""

    def __init__(self, answer, ready_after: int = 0):
        self.answer, self.ready_after, self.requests = answer, ready_after, []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                owner.ready_after -= 1
                self.reply(200 if owner.ready_after < 0 else 503, {"ready": owner.ready_after < 0})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append(body)
                status, payload = owner.answer(body["instances"])
                self.reply(status, payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def by_colour(rows):  # the pipeline predicted a, b, b, a for these rows
    return 200, {"predictions": ["b" if row["colour"] == "blue" or row["size"] is None else "a" for row in rows]}


def cli(files, url, *extra):
    return main(["smoke", "--url", url, "--test", str(files["test"]), "--expected", str(files["expected"]),
                 "--schema", str(files["schema"]), *extra])  # fmt: skip


def test_agreeing_service_passes_and_gets_json_rows(files, capsys):
    service = StandInService(by_colour, ready_after=2)
    try:
        assert cli(files, service.url, "--wait", "10") == 0
    finally:
        service.close()
    assert "predicted all 4 test rows as the pipeline did" in capsys.readouterr().out
    rows = service.requests[0]
    assert rows == {"instances": [
        {"size": 1.0, "colour": "red"}, {"size": 2.5, "colour": "blue"},
        {"size": None, "colour": "red"}, {"size": 4.0, "colour": ""},
    ]}  # fmt: skip


def test_a_disagreeing_service_fails_naming_the_rows(files, capsys):
    service = StandInService(lambda rows: (200, {"predictions": ["a"] * len(rows)}))
    try:
        assert cli(files, service.url) == 1
    finally:
        service.close()
    err = capsys.readouterr().err
    assert "2 of 4 predictions differ from the pipeline's" in err
    assert "row 1: service said 'a', pipeline said 'b'" in err


def test_an_error_answer_is_reported_in_one_line(files, capsys):
    service = StandInService(lambda rows: (400, {"error": {"code": "bad_input", "message": "colour: unknown"}}))
    try:
        assert cli(files, service.url) == 1
    finally:
        service.close()
    assert capsys.readouterr().err.strip().endswith("answered 400: colour: unknown")


def test_no_service_within_the_wait_is_a_clear_error(files, capsys):
    assert cli(files, "http://127.0.0.1:9", "--wait", "1") == 1
    assert "was not ready within 1 s" in capsys.readouterr().err


def test_compare_counts_length_mismatch():
    assert smoke.compare(["a"], ["a", "b"]) == ["the service returned 1 predictions for 2 rows"]
    assert smoke.compare(["a", "b"], ["a", "b"]) == []
