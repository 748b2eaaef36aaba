"""Load the exported model and run it.

`load(model_dir)` reads metadata.json and returns a predictor for its runtime: onnxruntime
on model.onnx (the default), or the skops-saved scikit-learn pipeline when the export
stage chose `serve.runtime: sklearn` (imports scikit-learn and pandas, only then).

A predictor takes validated columns ({column: [value per row]}, numbers as floats,
categories as strings) and returns (labels, probabilities as an [N, classes] array), or
for a regression model (metadata task: regression) (predicted numbers, None).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

METADATA_FILE = "metadata.json"
ONNX_FILE = "model.onnx"
SKOPS_FILE = "model.skops"
REQUIRED_KEYS = ("name", "version", "schema", "classes", "runtime", "unknown_categories")


class StartupError(Exception):
    """The service cannot start (e.g. the model cannot be served): one line saying why and what to do."""


def read_metadata(model_dir: Path) -> dict[str, Any]:
    path = model_dir / METADATA_FILE
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StartupError(f"{path} not found: run the pipeline (make run) or set MLOPS_MODEL_DIR") from None
    except (OSError, ValueError) as exc:
        raise StartupError(f"{path} is not valid JSON ({exc}): rerun `dvc repro export`") from None
    missing = [key for key in REQUIRED_KEYS if not isinstance(metadata, dict) or key not in metadata]
    if missing:
        raise StartupError(f"{path} lacks {', '.join(missing)}: rerun `dvc repro export`")
    return metadata


class OnnxPredictor:
    def __init__(self, model: Path | bytes, metadata: dict[str, Any]):
        import onnxruntime as ort

        options = ort.SessionOptions()
        # One request is one small matrix: threads cost more than they give; gunicorn workers give parallelism.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        source = str(model) if isinstance(model, Path) else model
        try:
            self.session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own error types for a bad file
            where = model if isinstance(model, Path) else "the ONNX model"
            raise StartupError(f"{where} could not be loaded ({first_line(exc)}): rerun `dvc repro export`") from None
        expected = metadata.get("inputs") or []
        actual = [(i.name, i.type) for i in self.session.get_inputs()]
        wanted = [(i["name"], "tensor(float)" if i["type"] == "float" else "tensor(string)") for i in expected]
        if actual != wanted:
            raise StartupError("model.onnx does not match metadata.json (inputs differ): rerun `dvc repro export`")
        # Feed plan, built once: numeric columns become one float32 block, sliced into per-input views.
        self.float_inputs = [(i["column"], i["name"]) for i in expected if i["type"] == "float"]
        self.string_inputs = [(i["column"], i["name"]) for i in expected if i["type"] != "float"]
        self.regression = metadata.get("task") == "regression"
        self.outputs = [output.name for output in self.session.get_outputs()[: 1 if self.regression else 2]]

    def predict(self, columns: dict[str, list]) -> tuple[list, np.ndarray | None]:
        feed = {}
        if self.float_inputs:
            block = np.array([columns[column] for column, _ in self.float_inputs], dtype=np.float32)[:, :, None]
            feed = {name: view for (_, name), view in zip(self.float_inputs, block, strict=True)}
        for column, name in self.string_inputs:
            feed[name] = np.array(columns[column], dtype=object).reshape(-1, 1)
        if self.regression:
            (values,) = self.session.run(self.outputs, feed)
            return values.ravel().astype(np.float64).tolist(), None
        labels, probabilities = self.session.run(self.outputs, feed)
        return labels.tolist(), probabilities


class SklearnPredictor:
    def __init__(self, path: Path, metadata: dict[str, Any]):
        from mlops.errors import MlopsError
        from mlops.io import load_model  # skops with a check of the types in the file: never pickle

        try:
            self.model = load_model(path)
        except MlopsError as exc:
            raise StartupError(str(exc)) from None
        self.columns = [feature["name"] for feature in metadata["schema"]["features"]]
        self.regression = metadata.get("task") == "regression"

    def predict(self, columns: dict[str, list]) -> tuple[list, np.ndarray | None]:
        import pandas as pd

        frame = pd.DataFrame({name: columns[name] for name in self.columns})
        if self.regression:
            return np.asarray(self.model.predict(frame), dtype=np.float64).tolist(), None
        return [str(label) for label in self.model.predict(frame)], self.model.predict_proba(frame)


def load(model_dir: Path | str) -> tuple[dict[str, Any], OnnxPredictor | SklearnPredictor]:
    """(metadata, predictor) for the model in `model_dir`; StartupError if it cannot be served."""
    model_dir = Path(model_dir)
    metadata = read_metadata(model_dir)
    if metadata["runtime"] == "sklearn":
        return metadata, SklearnPredictor(model_dir / SKOPS_FILE, metadata)
    path = model_dir / ONNX_FILE
    if not path.is_file():
        raise StartupError(f"{path} not found: rerun `dvc repro export`")
    return metadata, OnnxPredictor(path, metadata)


def example_row(metadata: dict[str, Any]) -> dict[str, Any]:
    """A plausible input row from the schema: mid-range numbers, the first known category."""
    row: dict[str, Any] = {}
    for feature in metadata["schema"]["features"]:
        if feature["kind"] == "numeric":
            low, high = feature.get("minimum"), feature.get("maximum")
            row[feature["name"]] = round((low + high) / 2, 6) if low is not None and high is not None else 0.0
        else:
            categories = feature.get("categories") or [metadata.get("missing_category", "")]
            row[feature["name"]] = categories[0]
    return row


def self_test(metadata: dict[str, Any], predictor) -> str | None:
    """Predict the example row; None when the answer is well-formed, else what is wrong."""
    row = example_row(metadata)
    try:
        labels, probabilities = predictor.predict({name: [value] for name, value in row.items()})
    except Exception as exc:
        return f"self-test prediction failed: {first_line(exc)}"
    if metadata.get("task") == "regression":
        if len(labels) != 1 or not isinstance(labels[0], float) or not math.isfinite(labels[0]):
            return f"self-test predicted {labels!r}, not one finite number"
        return None
    classes = metadata["classes"]
    if len(labels) != 1 or labels[0] not in classes:
        return f"self-test predicted {labels!r}, not one of the classes {classes}"
    values = [float(p) for p in np.asarray(probabilities).ravel()]
    if len(values) != len(classes) or not all(math.isfinite(p) for p in values) or abs(sum(values) - 1) > 1e-3:
        return f"self-test probabilities {values} are not a distribution over {len(classes)} classes"
    return None


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def check(model_dir: Path | str) -> str | None:
    """Why the model in `model_dir` cannot be served, or None when it loads and passes its self-test."""
    try:
        metadata, predictor = load(model_dir)
    except StartupError as exc:
        return str(exc)
    return self_test(metadata, predictor)


if __name__ == "__main__":  # `python -m mlops.serving.runtime MODEL_DIR`: the start-up check gunicorn_conf.py runs
    import sys

    problem = check(sys.argv[1])
    if problem:
        print(f"mlops serve: error: {problem}", file=sys.stderr)
    raise SystemExit(1 if problem else 0)
