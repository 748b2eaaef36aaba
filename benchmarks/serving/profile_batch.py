"""Where a 1,000-row /predict request spends its time, part by part, in one process.

    .venv/bin/python benchmarks/serving/profile_batch.py [--rows 1000]

Needs a pipeline run (models/, the test split). Prints the best of 5 timings of each part
(JSON parsing with json and with orjson, validation of rows and of columns, the out-of-range
count, the ONNX model, writing the answer), then of whole requests through Flask's test client
(no HTTP, no gunicorn) on each batch route: /predict, V2 with JSON and with binary tensors, and
Arrow on /invocations; and onnxruntime's own rows/s on the same batch: the ceiling the service
is measured against.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import timeit
from pathlib import Path

import numpy as np
import orjson

from mlops.serving.app import create_app
from mlops.serving.service import PredictionService

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))
from bench import arrow_body, test_rows, v2_binary, v2_inputs  # noqa: E402


def best_ms(function, number: int) -> float:
    return min(timeit.repeat(function, number=number, repeat=5)) / number * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args()
    records, _ = test_rows(ROOT)
    rows = [records[i % len(records)] for i in range(args.rows)]
    body = json.dumps({"instances": rows}).encode()
    service = PredictionService(ROOT / "models")
    validator = service.validator
    parsed = json.loads(body)["instances"]
    columns = validator.instances(parsed)
    _, probabilities = service.predictor.predict(columns)
    answer = {"predictions": ["x"] * len(rows), "probabilities": np.asarray(probabilities).round(6).tolist()}
    by_column = {name: [row[name] for row in parsed] for name in validator.columns}
    parts = {
        "parse, json.loads": lambda: json.loads(body),
        "parse, orjson.loads": lambda: orjson.loads(body),
        "validate rows (/predict)": lambda: validator.instances(parsed),
        "validate columns (V2, CSV, columnar)": lambda: validator.from_columns(by_column, "inputs"),
        "count out-of-range values": lambda: service.watch(columns) if service.watch else None,
        "the model (onnxruntime, via the predictor)": lambda: service.predictor.predict(columns),
        "write the answer, json.dumps": lambda: json.dumps(answer, separators=(",", ":")),
        "write the answer, orjson.dumps": lambda: orjson.dumps(answer),
    }
    print(f"{args.rows} rows, {len(validator.columns)} columns; best of 5, ms per request:")
    for name, function in parts.items():
        print(f"  {name:45s} {best_ms(function, 10):8.2f}")
    app = create_app(ROOT / "models")
    client = app.test_client()
    infer = f"/v2/models/{service.name}/infer"
    binary, headers = v2_binary(rows, ROOT / "models")
    routes = {
        "/predict, JSON rows": ("/predict", body, {"content_type": "application/json"}),
        "V2 /infer, JSON": (infer, json.dumps({"inputs": v2_inputs(rows, ROOT / "models")}).encode(), {}),
        "V2 /infer, binary tensors in and out": (infer, binary, {"headers": headers}),
        "/invocations, Arrow stream": (
            "/invocations",
            arrow_body(rows, ROOT / "models"),
            {"content_type": "application/vnd.apache.arrow.stream"},
        ),
    }
    print("whole requests through Flask's test client, ms per request:")
    for name, (path, data, options) in routes.items():
        assert client.post(path, data=data, **options).status_code == 200, name
        print(f"  {name:45s} {best_ms(lambda p=path, d=data, o=options: client.post(p, data=d, **o), 10):8.2f}")
    feed = service.predictor.feed(columns)
    session, outputs = service.predictor.session, service.predictor.outputs
    print(f"  {'onnxruntime session.run alone':45s} {best_ms(lambda: session.run(outputs, feed), 10):8.2f}")
    model_ms = best_ms(lambda: service.predictor.predict(columns), 10)
    print(f"onnxruntime in-process: {args.rows / model_ms * 1e3:,.0f} rows/s")
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
