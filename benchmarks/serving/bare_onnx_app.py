"""Reference (d): the least a Flask handler around the exported ONNX model can do, for comparison only.

No input checks, no metrics, no error handling: JSON in, onnxruntime, JSON out. The gap
between it and the service is what validation, metrics and logging cost.
"""

import json
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort
from flask import Flask, jsonify, request

model_dir = Path(os.environ.get("MLOPS_MODEL_DIR", "models"))
inputs = json.loads((model_dir / "metadata.json").read_text())["inputs"]
options = ort.SessionOptions()
options.intra_op_num_threads = options.inter_op_num_threads = 1  # as the service: gunicorn workers give parallelism
session = ort.InferenceSession(str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"])
app = Flask(__name__)


@app.post("/predict")
def predict():
    rows = request.get_json()["instances"]
    feed = {
        i["name"]: np.array([[row[i["column"]]] for row in rows], dtype=np.float32 if i["type"] == "float" else object)
        for i in inputs
    }
    labels, probabilities = session.run(None, feed)
    return jsonify({"predictions": labels.tolist(), "probabilities": probabilities.tolist()})
