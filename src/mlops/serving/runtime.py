"""Load the exported model and run it.

`mlops.exported.read_files(model_dir)` reads the bytes the service serves, once: metadata.json
and the model file of its runtime, onnxruntime's model.onnx (the default) or, when the export
stage chose `serve.runtime: sklearn`, the skops-saved scikit-learn pipeline (imports scikit-learn
and pandas, only then), with the signature beside them when there is one. `load` builds the
predictor from those bytes, never from the disk again.

In gunicorn the master reads and checks the files once (mlops/serving/startup.py) and keeps
them here (`serve_files`); workers build their own predictor from the bytes they inherit
(`served_files`), so every worker, first or restarted, serves the same model whatever happens
to the files on disk.

A predictor takes validated columns ({column: [value per row]}, numbers as floats,
categories as strings) and returns (labels, probabilities as an [N, classes] array), or
for a regression model (metadata task: regression) (predicted numbers, None).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from mlops.exported import SKOPS_FILE, ModelFiles, StartupError, model_file, read_files


class OnnxPredictor:
    def __init__(self, model: Path | bytes, metadata: dict[str, Any], where: str = "the ONNX model"):
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
            where = model if isinstance(model, Path) else where
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
        # train.threshold: the graph predicts the more probable class; a thresholded model's labels come from here.
        decision, classes = metadata.get("decision"), metadata.get("classes") or []
        self.threshold = None
        if decision and len(classes) == 2:
            positive = decision["positive_class"]
            negative = next(label for label in classes if label != positive)
            self.threshold = (classes.index(positive), float(decision["threshold"]), positive, negative)

    def feed(self, columns: dict[str, list]) -> dict[str, np.ndarray]:
        """The session's inputs for validated columns."""
        feed = {}
        if self.float_inputs:
            block = np.array([columns[column] for column, _ in self.float_inputs], dtype=np.float32)[:, :, None]
            feed = {name: view for (_, name), view in zip(self.float_inputs, block, strict=True)}
        for column, name in self.string_inputs:
            feed[name] = np.array(columns[column], dtype=object).reshape(-1, 1)
        return feed

    def predict(self, columns: dict[str, list]) -> tuple[list, np.ndarray | None]:
        feed = self.feed(columns)
        if self.regression:
            (values,) = self.session.run(self.outputs, feed)
            return values.ravel().astype(np.float64).tolist(), None
        labels, probabilities = self.session.run(self.outputs, feed)
        if self.threshold is not None:
            column, threshold, positive, negative = self.threshold
            return np.where(probabilities[:, column] >= threshold, positive, negative).tolist(), probabilities
        return labels.tolist(), probabilities


class SklearnPredictor:
    def __init__(self, model: bytes, metadata: dict[str, Any], where: str = "the skops model"):
        from mlops.errors import MlopsError
        from mlops.io import load_model  # skops with a check of the types in the file: never pickle

        try:
            self.model = load_model(model, where)
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


def load(source: Path | str | ModelFiles) -> tuple[dict[str, Any], OnnxPredictor | SklearnPredictor]:
    """(metadata, predictor) for the model read from a directory, or from bytes read already; StartupError if it
    cannot be served."""
    files = source if isinstance(source, ModelFiles) else read_files(source)
    name = model_file(files.metadata)
    where = str(files.directory / name)
    if name == SKOPS_FILE:
        return files.metadata, SklearnPredictor(files.files[name], files.metadata, where)
    return files.metadata, OnnxPredictor(files.files[name], files.metadata, where)


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


_served: ModelFiles | None = None  # set in the gunicorn master; every worker forked after inherits it


def serve_files(files: ModelFiles) -> None:
    global _served  # the one model of this process and of the workers forked from it
    _served = files


def served_files() -> ModelFiles | None:
    """The model the gunicorn master read and checked, in the master and every worker it forked since; else None."""
    return _served
