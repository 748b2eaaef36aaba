"""`mlops drift`: compare production data with the training data; write reports/drift/.

    mlops drift                                   # newest batch in params monitor.source
    mlops drift --current logs/predictions/       # the service's prediction logs
    mlops drift --current batch.csv --labels batch.csv   # + concept drift from labels

Exit status: 0 no drift, 3 drift found (data, prediction or concept), 1 bad input.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops import paths
from mlops.errors import MlopsError
from mlops.metrics import probability_columns
from mlops.monitoring.concept import concept_check

EXIT_DRIFT = 3
MIN_ROWS = 2
FEW_ROWS = 30


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reference", default=str(paths.TRAIN), help="training-time data (default: %(default)s)")
    parser.add_argument(
        "--current",
        help="a CSV/Parquet batch, or prediction logs (file or directory); default: newest in monitor.source",
    )
    parser.add_argument("--labels", help="true labels for the current rows (column `id` to join on, else row order)")
    parser.add_argument("--schema", default=str(paths.SCHEMA), help="(default: %(default)s)")
    parser.add_argument(
        "--reference-predictions",
        default=str(paths.PREDICTIONS),
        help="the model's predictions on held-out data (default: %(default)s)",
    )
    parser.add_argument("--model", default=str(paths.MODEL), help="predicts a batch without predictions (if present)")
    parser.add_argument("--output-dir", default=str(paths.DRIFT_DIR), help="(default: %(default)s)")
    parser.add_argument("--params", default=str(paths.PARAMS), help="(default: %(default)s)")


def newest_batch(source: Path) -> Path:
    """The source itself when a file; in a directory, the prediction logs or the last batch by name."""
    from mlops.io import TABLE_SUFFIXES
    from mlops.monitoring.prediction_log import log_files

    if source.is_file():
        return source
    if not source.is_dir():
        raise MlopsError(
            f"{source} not found: pass --current, or write a sample with `mlops simulate --output {source}/`"
        )
    if log_files(source):
        return source
    batches = sorted(p for p in source.iterdir() if p.suffix.lower() in TABLE_SUFFIXES)
    if not batches:
        raise MlopsError(f"no CSV/Parquet batch or prediction log in {source}")
    return batches[-1]


def is_log(path: Path) -> bool:
    return path.is_dir() or ".jsonl" in path.name


def logged_id(name: str) -> str:
    """The column of `load_current`'s frame that holds id column `name` as logged (apart from the prediction
    `id` and the features, whatever the id column is called)."""
    return f"logged id: {name}"


def load_current(path: Path, schema):
    """Current rows as a frame: the features, plus `prediction`/`proba_<class>` when known, `id` and
    `predicted_at` when logged, and each id column (columns.ids) as `logged_id(name)` when the rows have it."""
    import pandas as pd

    from mlops.io import read_table
    from mlops.monitoring.prediction_log import read_records

    if not is_log(path):
        frame = read_table(path, text_columns=tuple(schema.ids))
        for name in schema.ids:
            if name in frame.columns:
                frame[logged_id(name)] = frame[name]
        return frame, 0
    if not path.exists():
        raise MlopsError(f"prediction log {path} not found")
    records, skipped = read_records(path)
    if not records:
        raise MlopsError(f"no prediction log records in {path}: is MLOPS_PREDICTION_LOG_DIR set for the service?")
    rows = [
        r["features"] if isinstance(r["features"], dict) else dict(zip(schema.columns, r["features"], strict=False))
        for r in records
    ]
    frame = pd.DataFrame(rows, columns=schema.columns)
    for name in schema.ids:  # as the request gave them (object: a long number stays whole); none for rows as lists
        values = [r["features"].get(name) if isinstance(r["features"], dict) else None for r in records]
        frame[logged_id(name)] = pd.Series(values, index=frame.index, dtype=object)
    frame["id"] = [r.get("id") for r in records]
    frame["predicted_at"] = [r.get("time") for r in records]
    if schema.regression:
        frame["prediction"] = [float(r["prediction"]) for r in records]
    else:
        frame["prediction"] = [str(r["prediction"]) for r in records]
    if all(
        isinstance(r.get("probabilities"), list) and len(r["probabilities"]) == len(schema.classes) for r in records
    ):
        for index, column in enumerate(probability_columns(schema.classes)):
            frame[column] = [float(r["probabilities"][index]) for r in records]
    return frame, skipped


def features_of(frame, schema, source):
    try:
        return schema.features_frame(frame)
    except MlopsError as exc:
        raise MlopsError(f"{source}: {exc} (the schema is {paths.SCHEMA})") from exc


def checked_probability_columns(classes: list[str]) -> list[str]:
    """The probabilities the drift check compares: for two classes one says it all; otherwise one per class."""
    return probability_columns(classes[-1:] if len(classes) == 2 else classes)


def add_model_predictions(frame, features, model_path: Path, classes: list[str], regression: bool = False) -> bool:
    """Predict a batch that came without predictions, when the model is at hand."""
    if "prediction" in frame.columns or not model_path.is_file():
        return "prediction" in frame.columns
    from mlops.io import load_model

    model = load_model(model_path)
    if regression:
        frame["prediction"] = model.predict(features).astype(float)
        return True
    frame["prediction"] = [str(label) for label in model.predict(features)]
    probabilities = model.predict_proba(features)
    for index, (label, column) in enumerate(zip(model.classes_, probability_columns(model.classes_), strict=True)):
        if str(label) in classes:
            frame[column] = probabilities[:, index]
    return True


def reference_predictions(path: Path, regression: bool = False):
    """The evaluate stage's predictions on the test split, renamed like the current side's."""
    from mlops.io import read_table

    if not path.is_file():
        return None
    frame = read_table(path)
    if "predicted" not in frame.columns:
        return None
    kind = float if regression else str
    return frame.rename(columns={"predicted": "prediction"}).assign(prediction=lambda f: f["prediction"].astype(kind))


def join_labels(current, labels, schema, source):
    """The current rows that have a true label (the target column of `labels`), joined on the prediction id
    (`id`, or `prediction_id` where mlops feedback gave `id` to an id column of the data) or row order."""
    if schema.target not in labels.columns:
        raise MlopsError(f"{source}: no column '{schema.target}' (the target) with the true labels")
    key = "prediction_id" if "prediction_id" in labels.columns else "id"
    if key in labels.columns and "id" in current.columns:
        labelled = labels[[key, schema.target]].rename(columns={key: "id"})
        joined = current.merge(labelled, on="id", how="inner")
    elif len(labels) == len(current):
        joined = current.assign(**{schema.target: labels[schema.target].to_numpy()})
    else:
        raise MlopsError(
            f"{source}: {len(labels)} labels for {len(current)} current rows and no `id` column to join on"
        )
    return joined.dropna(subset=[schema.target])


def analyse(args: argparse.Namespace) -> dict[str, Any]:
    from mlops.config import load_params
    from mlops.io import read_table
    from mlops.monitoring import drift
    from mlops.schema import Schema

    params = load_params(args.params).monitor
    schema = Schema.load(args.schema)
    current_path = newest_batch(Path(args.current or params.source))
    reference_frame = read_table(args.reference)
    current, skipped = load_current(current_path, schema)
    if len(current) < MIN_ROWS:
        raise MlopsError(f"{current_path} has {len(current)} row(s): drift needs at least {MIN_ROWS}")
    reference_features = features_of(reference_frame, schema, args.reference)
    current_features = features_of(current, schema, current_path)
    notes = []
    if skipped:
        notes.append(f"{skipped} unreadable log line(s) skipped")
    if len(current) < FEW_ROWS:
        notes.append(f"only {len(current)} current rows: the tests have little power")

    kinds = {feature.name: feature.kind for feature in schema.features}
    prediction_kinds: dict[str, drift.Kind] = {}
    ref_predictions = reference_predictions(Path(args.reference_predictions), schema.regression)
    if ref_predictions is not None and add_model_predictions(
        current, current_features, Path(args.model), schema.classes, schema.regression
    ):
        # Held-out predictions are the reference: on its own training rows a model is overconfident.
        if schema.regression:  # a number: KS test and PSI over the reference's quantile bins, as a feature
            prediction_kinds = {"prediction": "numeric"}
        else:
            checked = checked_probability_columns(schema.classes)
            prediction_kinds = {"prediction": "categorical"} | {
                c: "numeric" for c in checked if c in current and c in ref_predictions
            }
    else:
        notes.append("prediction drift not checked: no predictions on the reference or the current side")
    thresholds = drift.Thresholds.from_params(params)
    n_tests = len(kinds) + len(prediction_kinds)
    columns = drift.compare_columns(reference_features, current_features, kinds, thresholds, n_tests=n_tests)
    if prediction_kinds:
        columns += drift.compare_columns(
            ref_predictions, current, prediction_kinds, thresholds, role="prediction", n_tests=n_tests
        )
    result = drift.summarise(columns, thresholds)

    concept = None
    if args.labels:
        if "prediction" not in current.columns:
            raise MlopsError(f"concept drift needs predictions: log them, or keep the model at {args.model}")
        joined = join_labels(current, read_table(args.labels), schema, args.labels)
        concept = concept_check(joined, schema, params)
    concept_found = bool(concept and concept.get("drift"))
    return {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "drift_detected": result["data_drift"] or result["prediction_drift"] or concept_found,
        **{key: value for key, value in result.items() if key != "columns"},
        "concept_drift": concept_found,
        "features": len(kinds),
        "prediction_columns": list(prediction_kinds),
        "thresholds": thresholds.to_dict(),
        "reference": {"path": str(args.reference), "rows": len(reference_frame)},
        "current": {"path": str(current_path), "rows": len(current)},
        "notes": notes,
        "concept": concept,
        "columns": result["columns"],
    }


def run(args: argparse.Namespace) -> int:
    from mlops.io import write_json, write_text
    from mlops.monitoring.drift_report import to_html, to_markdown

    report = analyse(args)
    written = Path(args.output_dir) / paths.DRIFT_REPORT.name  # drift.json, beside it drift.md and drift.html
    write_text(written.with_suffix(".md"), to_markdown(report))
    write_text(written.with_suffix(".html"), to_html(report))
    write_json(written, report)  # last: the gauge and the workflow read it
    drifted = ", ".join(
        report["drifted_features"] + report["drifted_predictions"] + (["concept"] if report["concept_drift"] else [])
    )
    status = "DRIFT" if report["drift_detected"] else "no drift"
    print(
        f"drift: {status}; score {report['drift_score']:.3f}; drifted: {drifted or 'none'}; "
        f"report: {written.with_suffix('.md')}"
    )
    return EXIT_DRIFT if report["drift_detected"] else 0
