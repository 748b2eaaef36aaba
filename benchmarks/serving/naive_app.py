"""Baseline (c): the prediction service many tutorials ship, for comparison only.

Flask, the scikit-learn pipeline loaded with joblib (a pickle), a pandas DataFrame built
per request, no input checks, no metrics. bench.py makes the joblib file from
models/model.skops in its temporary directory: the project itself never ships a pickle.
"""

import os

import joblib
import pandas as pd
from flask import Flask, jsonify, request

model = joblib.load(os.environ["BENCH_JOBLIB_MODEL"])
app = Flask(__name__)


@app.post("/predict")
def predict():
    frame = pd.DataFrame(request.get_json()["instances"])
    return jsonify({"predictions": model.predict(frame).tolist()})
