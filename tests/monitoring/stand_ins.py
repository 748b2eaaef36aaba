"""A stand-in for the prediction service's POST /predict, for testing `mlops simulate` alone.

It answers per the /predict contract, records each batch it got, and predicts "yes" when
the synthetic dataset's `size` is above 20, else "no". (The real service is tested with
Prometheus in test_prometheus.py.)
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StandInPredictService:
    def __init__(self, fail_every: int = 0) -> None:
        self.batches: list[list[dict]] = []
        self.fail_every = fail_every
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path != "/predict" or "instances" not in body:
                    return self.answer(404, {"error": {"code": "not_found", "message": self.path}})
                service.batches.append(body["instances"])
                if service.fail_every and len(service.batches) % service.fail_every == 0:
                    return self.answer(400, {"error": {"code": "bad_request", "message": "stand-in refusal"}})
                predictions = ["yes" if row["size"] > 20 else "no" for row in body["instances"]]
                probabilities = [[0.1, 0.9] if p == "yes" else [0.9, 0.1] for p in predictions]
                self.answer(200, {"predictions": predictions, "probabilities": probabilities, "model_version": "1"})

            def answer(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
