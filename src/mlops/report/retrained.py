"""A pull request whose data is a new version from `mlops retrain-data`: did retraining help?

Both models, main's and this PR's, score the same rows, and only rows that neither trained on:
- the fresh labelled rows (the production rows the version added, `reports/retrain.json`)
  that fell in this PR's test split; main's model never saw any of them;
- the rows of main's test split that this PR's model did not train on (the new version is split
  afresh, so most of main's test rows are in this PR's training rows).
Both are paired comparisons (bootstrap intervals, McNemar's test for a classifier), on the
model files themselves: main's come in the artifact of its last training run.
"""

from __future__ import annotations

import json

import numpy as np

from mlops import paths
from mlops.config import ReportParams
from mlops.dataset import load_source, row_keys
from mlops.errors import MlopsError
from mlops.metrics import PROBABILITY_PREFIX, probability_columns
from mlops.report import statistics
from mlops.report.comparisons import as_predictions, compare_test
from mlops.report.results import HeldOut, Retrained
from mlops.report.runs import Run
from mlops.schema import Schema


def data_source(run: Run) -> str | None:
    return (run.params.get("data") or {}).get("source")


def retrain_facts(pr: Run, base: Run) -> dict | None:
    """reports/retrain.json when this PR's data is the version it describes and main's is not, else None."""
    path = pr.root / paths.RETRAIN_REPORT if pr.root else None
    if path is None or not path.is_file():
        return None
    facts = json.loads(path.read_text(encoding="utf-8"))
    source = data_source(pr)
    if facts.get("source") != source or data_source(base) == source:
        return None
    return facts


def keys(frame, schema: Schema) -> np.ndarray:
    """Each row's hash over its features and target, as the model sees them."""

    return row_keys(schema.features_frame(frame).assign(_target=schema.target_series(frame).to_numpy()))


def scored(model_dir, frame, schema: Schema, row_key: np.ndarray):
    """One model's predictions on `frame`, in the report's form: actual, predicted, proba_<class>, key."""
    import pandas as pd

    from mlops.exported import StartupError
    from mlops.serving import runtime

    try:
        metadata, predictor = runtime.load(model_dir)
    except StartupError as exc:
        raise MlopsError(str(exc)) from None
    own = Schema.from_dict(metadata["schema"])
    features = own.features_frame(frame)
    predicted, proba = predictor.predict({name: features[name].tolist() for name in features.columns})
    out = pd.DataFrame({"actual": schema.target_series(frame).to_numpy(), "predicted": predicted})
    if proba is not None:
        classes = [str(label) for label in metadata["classes"]]
        out = pd.concat([out, pd.DataFrame(np.asarray(proba), columns=probability_columns(classes))], axis=1)
    return out.assign(key=row_key)


def held_out(name: str, frame, row_key, offered: int, pr: Run, base: Run, schema: Schema, settings: ReportParams):
    """Both models scored on `frame` (its rows' keys `row_key`), compared row by row."""
    classes = [] if schema.regression else schema.classes
    new = scored(pr.root / paths.ONNX_MODEL.parent, frame, schema, row_key)
    old = scored(base.root / paths.ONNX_MODEL.parent, frame, schema, row_key)
    missing = set(old.filter(like=PROBABILITY_PREFIX).columns) ^ set(new.filter(like=PROBABILITY_PREFIX).columns)
    if missing:
        raise MlopsError(f"the two models predict different classes ({', '.join(sorted(missing))})")
    metrics = [name for name in pr.metrics if name in statistics.SCORED]
    ones = np.ones((1, len(frame)))
    scores = {
        metric: tuple(float(statistics.score(metric, as_predictions(run, classes), ones)[0]) for run in (old, new))
        for metric in metrics
    }
    return HeldOut(name, len(frame), offered, compare_test(new, old, classes, metrics, settings), scores)


def compare_retrained(pr: Run, base: Run, settings: ReportParams) -> Retrained | None:
    """Both models on the rows neither trained on, when this PR retrains on a new data version."""

    facts = retrain_facts(pr, base)
    if facts is None:
        return None
    result = Retrained(facts["source"], facts["production_rows"]["added"])
    if not (pr.root / paths.SCHEMA).is_file():
        result.missing = f"this run has no {paths.SCHEMA}"
        return result
    schema = Schema.load(pr.root / paths.SCHEMA)
    base_test, pr_train, pr_test = base.table(paths.TEST), pr.table(paths.TRAIN), pr.table(paths.TEST)
    if base.root is None or base_test is None or not (base.root / paths.ONNX_MODEL.parent).is_dir():
        result.missing = f"{base.label}'s model and test split are not at hand (they travel in its training artifact)"
        return result
    if pr_train is None or pr_test is None:
        result.missing = f"this run has no train and test splits ({paths.TRAIN.parent}/)"
        return result
    try:
        source = load_source(str(pr.root / facts["source"]), schema.target)
        fresh = source.iloc[facts["rows"]["previous"] :]
        test_keys, base_keys = keys(pr_test, schema), keys(base_test, schema)
        fresh_test = np.isin(test_keys, keys(fresh, schema))
        unseen = ~np.isin(base_keys, keys(pr_train, schema))
        for name, frame, row_key, offered in (
            ("fresh labelled rows", pr_test[fresh_test], test_keys[fresh_test], len(fresh)),
            (f"{base.label}'s test split", base_test[unseen], base_keys[unseen], len(base_test)),
        ):
            if len(frame):
                result.sets.append(
                    held_out(name, frame.reset_index(drop=True), row_key, offered, pr, base, schema, settings)
                )
    except MlopsError as exc:
        result.missing = str(exc)
    return result
