"""Stage `export`: convert the trained pipeline to ONNX and write what the prediction service needs.

models/model.onnx has one input per feature column (float for numeric, string for
categorical). models/metadata.json describes the model (version, commit, dataset hash,
metrics, input schema, classes) and carries the serving settings from params.yaml, so the
service never reads params.yaml.

The parity gate runs the ONNX model the way the service does (mlops.serving.runtime) on the
test split: probabilities agree within serve.parity_tolerance, and class predictions equal
scikit-learn's except on a tie (two classes' probabilities within that tolerance); a regression
model's predictions agree within serve.prediction_tolerance, an absolute difference in the
target's units (unset: 1e-5 times the largest absolute prediction, what float32 rounding in
ONNX leaves). If conversion or parity fails the stage fails, unless serve.runtime is `sklearn`,
in which case the service loads models/model.skops instead.
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops import paths
from mlops.config import Params
from mlops.errors import MlopsError
from mlops.io import atomic_path, load_model, read_json, read_table, write_json
from mlops.schema import MISSING_CATEGORY, Schema
from mlops.serving import runtime
from mlops.threshold import decision_of, pipeline_of

# skl2onnx holds a whole tree ensemble in memory while converting it: 840-850 bytes per tree node,
# measured on forests of 0.2 and 0.8 million nodes (docs/benchmarks.md, the pipeline benchmark).
# The upper figure, so the estimate errs towards stopping with a message rather than being killed.
BYTES_PER_TREE_NODE = 850


def final_estimator(model):
    """The estimator at the end of a scikit-learn Pipeline, or the model itself."""
    return model.steps[-1][1] if hasattr(model, "steps") else model


def tree_nodes(model) -> int:
    """Nodes in the fitted trees of the model's estimator; 0 for an estimator without trees."""
    trees = getattr(final_estimator(model), "estimators_", [])
    trees = trees.ravel() if hasattr(trees, "ravel") else trees  # a forest's list, gradient boosting's 2-D array
    return sum(tree.tree_.node_count for tree in trees if hasattr(tree, "tree_"))


def available_memory() -> int | None:
    """Bytes the kernel can give without swapping (MemAvailable in /proc/meminfo); None where unknown."""
    try:
        lines = Path("/proc/meminfo").read_text().splitlines()
    except OSError:
        return None
    return next((int(line.split()[1]) * 1024 for line in lines if line.startswith("MemAvailable:")), None)


def check_conversion_memory(model, available: int | None) -> None:
    """Refuse, before converting, a tree ensemble whose conversion would exhaust the machine's memory."""
    nodes = tree_nodes(model)
    needed = nodes * BYTES_PER_TREE_NODE
    if available is not None and needed > available:
        raise MlopsError(
            f"converting this model to ONNX needs about {needed / 1e9:.1f} GB of memory ({nodes:,} tree nodes) "
            f"and {available / 1e9:.1f} GB are free. Grow smaller trees: in params.yaml's train.hyperparameters, "
            "min_samples_leaf: 20 and max_samples: 0.25 (docs/benchmarks.md, the pipeline benchmark)"
        )


def to_onnx(model, schema: Schema):
    """The ONNX graph of a fitted pipeline: one [N, 1] input per column; outputs label and probabilities
    (classification) or the predicted value ([N, 1], regression)."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    inputs = [
        (f.name, FloatTensorType([None, 1]) if f.kind == "numeric" else StringTensorType([None, 1]))
        for f in schema.features
    ]
    # zipmap off: probabilities as one float matrix, not a list of dicts (much faster to serve).
    options = {} if schema.regression else {id(final_estimator(model)): {"zipmap": False}}
    try:
        return convert_sklearn(model, initial_types=inputs, options=options)
    except Exception as exc:  # skl2onnx raises many kinds of error for what it cannot convert
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise MlopsError(
            f"skl2onnx cannot convert this model ({type(exc).__name__}: {first_line}). Use an estimator it supports"
        ) from exc


def onnx_inputs(onnx_model, schema: Schema) -> list[dict[str, str]]:
    """Which ONNX input feeds which column (skl2onnx renames e.g. 'mean radius' to 'mean_radius')."""
    graph_inputs = list(onnx_model.graph.input)
    if len(graph_inputs) != len(schema.features):
        raise MlopsError(f"the ONNX model has {len(graph_inputs)} inputs for {len(schema.features)} feature columns")
    return [
        {"column": f.name, "name": graph_input.name, "type": "float" if f.kind == "numeric" else "string"}
        for f, graph_input in zip(schema.features, graph_inputs, strict=True)
    ]


def parity(model, predictor, features, tolerance: float) -> tuple[float, int, int]:
    """(largest probability difference, rows whose class differs, rows whose class differs on a tie).

    A tie is a row where scikit-learn gives both classes probabilities within `tolerance`
    (say 30 of 60 trees each): float32 rounding in ONNX may pick either, and neither is wrong.
    """
    import numpy as np

    columns = {name: features[name].tolist() for name in features.columns}
    onnx_labels, onnx_proba = predictor.predict(columns)
    sklearn_proba = model.predict_proba(features)
    largest = float(np.max(np.abs(np.asarray(onnx_proba, dtype=np.float64) - sklearn_proba)))
    differing, ties = class_disagreements(
        [str(label) for label in model.predict(features)],
        onnx_labels,
        sklearn_proba,
        [str(c) for c in model.classes_],
        tolerance,
        decision_of(model),
    )
    return largest, differing, ties


def regression_parity(model, predictor, features, tolerance: float | None) -> tuple[float, float]:
    """(largest absolute prediction difference, the tolerance it is held to) on these rows."""
    import numpy as np

    columns = {name: features[name].tolist() for name in features.columns}
    onnx_values, _ = predictor.predict(columns)
    sklearn_values = np.asarray(model.predict(features), dtype=np.float64)
    largest = float(np.max(np.abs(np.asarray(onnx_values, dtype=np.float64) - sklearn_values)))
    if tolerance is None:
        tolerance = RELATIVE_PREDICTION_TOLERANCE * max(float(np.max(np.abs(sklearn_values))), 1e-12)
    return largest, tolerance


# serve.prediction_tolerance when unset, relative to the largest prediction: float32 keeps about
# seven significant digits, and sums over many trees lose a few more.
RELATIVE_PREDICTION_TOLERANCE = 1e-5


def check_parity(model, predictor, features, schema: Schema, params: Params) -> tuple[float, bool, str]:
    """(largest difference, whether it fails the gate, a one-line summary) of ONNX vs scikit-learn."""
    rows = f"ONNX vs scikit-learn on {len(features)} test rows"
    if schema.regression:
        largest, tolerance = regression_parity(model, predictor, features, params.serve.prediction_tolerance)
        summary = f"{rows}: largest prediction difference {largest:.3g} (tolerance {tolerance:.3g}, the target's units)"
        return largest, largest > tolerance, summary
    tolerance = params.serve.parity_tolerance
    largest, differing, ties = parity(model, predictor, features, tolerance)
    summary = (
        f"{rows}: largest probability difference {largest:.2e} "
        f"(tolerance {tolerance:g}), {differing - ties} class prediction(s) differ"
        + (f", {ties} more on a tie between classes" if ties else "")
    )
    return largest, differing > ties or largest > tolerance, summary


def class_disagreements(
    sklearn_labels, onnx_labels, sklearn_proba, classes, tolerance: float, decision: dict | None = None
) -> tuple[int, int]:
    """(rows whose predicted class differs, of those the ones that are ties within `tolerance`: two classes
    as probable, or with a decision threshold, the positive class's probability at the threshold)."""
    differing = ties = 0
    for row, (ours, theirs) in enumerate(zip(sklearn_labels, onnx_labels, strict=True)):
        if ours == theirs:
            continue
        differing += 1
        if decision:
            gap = sklearn_proba[row][classes.index(decision["positive_class"])] - decision["threshold"]
        else:
            gap = sklearn_proba[row][classes.index(ours)] - sklearn_proba[row][classes.index(theirs)]
        ties += bool(abs(gap) <= tolerance)
    return differing, ties


def build_metadata(
    params: Params, schema: Schema, classes: list[str], inputs, parity_gap: float | None, buckets: list[float] | None
) -> dict:
    """`buckets`: regression's prediction histogram edges (the deciles of the test split's predictions)."""
    training = read_json(paths.TRAINING_INFO)
    return {
        "name": training.get("registered_model") or params.mlflow.registered_model,
        "task": schema.task,
        "version": str(training.get("model_version") or "0"),
        "git_commit": training.get("git_commit", "unknown"),
        "dataset_sha256": training.get("dataset_sha256"),
        "estimator": training.get("estimator", params.train.estimator),
        "mlflow_run_id": training.get("run_id"),
        "metrics": read_json(paths.METRICS),
        "schema": schema.to_dict(),
        "classes": classes,
        "missing_category": MISSING_CATEGORY,
        "inputs": inputs,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "runtime": params.serve.runtime,
        "parity": parity_gap,
        "unknown_categories": params.serve.unknown_categories,
        "out_of_range": params.serve.out_of_range,
        "max_batch_rows": params.serve.max_batch_rows,
        "prediction_buckets": buckets,
        "decision": training.get("decision"),
    }


def bucket_edges(predictions) -> list[float]:
    """The deciles of predicted values (distinct, rounded): the upper edges of the service's histogram buckets."""
    import numpy as np

    values = np.asarray(predictions, dtype=float)
    return sorted({round(float(value), 6) for value in np.quantile(values, np.linspace(0.1, 0.9, 9))})


def export(params: Params) -> dict[str, Any]:
    """Convert, check parity, write model.onnx and metadata.json; returns the metadata."""
    schema = Schema.load(paths.SCHEMA)
    model = load_model(paths.MODEL)
    pipeline = pipeline_of(model)  # what ONNX holds; the service applies the decision threshold, if any
    features = schema.features_frame(read_table(paths.TEST))
    classes = [] if schema.regression else [str(label) for label in model.classes_]
    # The service's prediction histogram: what the model predicts on data it did not train on, in tenths.
    buckets = bucket_edges(model.predict(features)) if schema.regression else None
    fallback = params.serve.runtime == "sklearn"

    try:
        check_conversion_memory(pipeline, available_memory())
        onnx_model = to_onnx(pipeline, schema)
        inputs = onnx_inputs(onnx_model, schema)
    except MlopsError as exc:
        if not fallback:
            raise MlopsError(f"{exc}; or set serve.runtime: sklearn to serve the scikit-learn model") from exc
        print(f"export: warning: {exc}; the service will run {paths.MODEL} (serve.runtime: sklearn)")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(paths.ONNX_MODEL)  # never leave an ONNX file of an older model beside this one's metadata
        metadata = build_metadata(params, schema, classes, None, None, buckets)
        write_json(paths.MODEL_METADATA, metadata)
        return metadata

    onnx_bytes = onnx_model.SerializeToString()
    metadata = build_metadata(params, schema, classes, inputs, None, buckets)
    predictor = runtime.OnnxPredictor(onnx_bytes, metadata)
    largest, failed, summary = check_parity(model, predictor, features, schema, params)
    metadata["parity"] = round(largest, 9)
    if failed:
        if not fallback:
            raise MlopsError(f"parity check failed: {summary}. Set serve.runtime: sklearn to serve the skops model")
        print(f"export: warning: parity check failed: {summary}; serving {paths.MODEL} (serve.runtime: sklearn)")

    with atomic_path(paths.ONNX_MODEL) as tmp:
        tmp.write_bytes(onnx_bytes)
    write_json(paths.MODEL_METADATA, metadata)
    print(f"export: {summary} -> {paths.ONNX_MODEL}, {paths.MODEL_METADATA} (runtime {params.serve.runtime})")
    return metadata


def main(params: Params) -> None:
    metadata = export(params)
    print("export: " + json.dumps({key: metadata[key] for key in ("name", "version", "runtime", "parity")}))
