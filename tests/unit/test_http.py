"""mlops.http against a real HTTP server on the loopback: every status is a Reply, a dead port raises."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mlops import http


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        answers = {"/ok": (200, b'{"fine": true}'), "/broken": (500, b"Internal Server Error")}
        self.answer(*answers.get(self.path, (404, b'{"error": {"message": "no such route"}}')))

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.headers["Content-Type"] != "application/json" or "rows" not in body:
            self.answer(400, b'{"error": {"code": "bad_request", "message": "rows missing"}}')
        else:
            self.answer(200, json.dumps({"count": len(body["rows"])}).encode())

    def answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_get_and_post_json(url):
    assert http.request(f"{url}/ok").json() == {"fine": True}
    reply = http.request(f"{url}/count", {"rows": [1, 2, 3]})
    assert reply.status == 200 and reply.json() == {"count": 3}
    assert http.request(f"{url}/count", b'{"rows": []}').json() == {"count": 0}  # bytes go as they are


def test_error_statuses_are_replies_with_the_service_s_message(url):
    bad = http.request(f"{url}/count", {"other": 1})
    assert bad.status == 400 and bad.error_message() == "rows missing"
    broken = http.request(f"{url}/broken")
    assert broken.status == 500 and broken.error_message() == "Internal Server Error"
    assert http.request(f"{url}/nowhere").status == 404


def test_a_port_with_nothing_listening_raises_and_is_never_ready():
    port = http.free_port()
    with pytest.raises(OSError):
        http.request(f"http://127.0.0.1:{port}/")
    problem = http.wait_until_ready(f"http://127.0.0.1:{port}/", seconds=0)
    assert problem and "refused" in problem.lower()


def test_wait_until_ready_returns_once_the_url_answers_200(url):
    assert http.wait_until_ready(f"{url}/ok", seconds=5) is None
    assert http.wait_until_ready(f"{url}/broken", seconds=0) == f"GET {url}/broken answered 500"
