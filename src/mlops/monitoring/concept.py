"""Concept drift: the metrics of labelled live predictions against training's, each judged worse or not.

`mlops drift --labels` and `mlops feedback` both judge it here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops import paths
from mlops.errors import MlopsError
from mlops.io import read_json
from mlops.metrics import (
    LOWER_IS_BETTER,
    PROBABILITY_METRICS,
    compute_metrics,
    label_metrics,
    probability_columns,
    regression_metrics,
)


def concept_check(joined, schema, params, training_metrics_path: Path = paths.METRICS) -> dict[str, Any]:
    """Live metrics of labelled predictions against training's: concept drift, or why it was not judged."""
    import numpy as np

    rows = len(joined)
    if rows < params.concept_min_rows:
        return {"skipped": f"{rows} labelled rows, fewer than monitor.concept_min_rows={params.concept_min_rows}"}
    if schema.regression:
        return regression_concept_check(joined, schema, params, training_metrics_path) | {"rows": rows}
    proba_columns = probability_columns(schema.classes)
    y_true, y_pred = joined[schema.target].astype(str), joined["prediction"].astype(str)
    if all(column in joined.columns for column in proba_columns):
        metrics = compute_metrics(y_true, y_pred, joined[proba_columns].to_numpy(np.float64), schema.classes)
    else:
        needing = [name for name in params.concept_metrics if name in PROBABILITY_METRICS]
        if needing:
            raise MlopsError(
                f"monitor.concept_metrics {', '.join(needing)} need the predicted probabilities, which these "
                "predictions lack: log them (the service does), or take them out of the list"
            )
        metrics = label_metrics(y_true, y_pred, schema.classes)
    live = {name: metrics[name] for name in params.concept_metrics}
    return concept_drift(live, read_json(training_metrics_path), params.concept_max_drop) | {"rows": rows}


def regression_concept_check(joined, schema, params, training_metrics_path: Path) -> dict[str, Any]:
    """The error metrics of labelled numeric predictions against training's (errors: their relative rise)."""
    import pandas as pd

    actual = pd.to_numeric(joined[schema.target], errors="coerce")
    if actual.isna().any():
        bad = joined.loc[actual.isna(), schema.target].head(3).tolist()
        raise MlopsError(f"the target '{schema.target}' of a regression model must be numbers; got {bad}")
    metrics = regression_metrics(actual.astype(float), joined["prediction"].astype(float))
    live = {name: metrics[name] for name in params.concept_metrics}
    return concept_drift(live, read_json(training_metrics_path), params.concept_max_drop)


def concept_drift(live: dict[str, float], training: dict[str, float], max_drop: float) -> dict[str, Any]:
    """Each live metric against its training value: drifted when it got worse by more than `max_drop`.

    `drop` is how much worse: the fall of a metric where higher is better (accuracy, R², ...); for
    one where lower is better (an error in the target's units: RMSE, MAE, max error) its rise relative
    to the training value, so 0.05 means 5% larger errors whatever the units.
    """
    rows = []
    for name, value in live.items():
        baseline = training.get(name)
        if baseline is None:
            drop = None
        elif name in LOWER_IS_BETTER:
            drop = round((float(value) - float(baseline)) / max(abs(float(baseline)), 1e-12), 6)
        else:
            drop = round(float(baseline) - float(value), 6)
        rows.append(
            {
                "metric": name,
                "training": baseline,
                "live": value,
                "drop": drop,
                "relative": name in LOWER_IS_BETTER,
                "drifted": drop is not None and drop > max_drop,
            }
        )
    return {"drift": any(row["drifted"] for row in rows), "max_drop": max_drop, "metrics": rows}


def drop_text(row: dict[str, Any]) -> str:
    """How much worse a live metric is: a fall in its units, or for an error its relative rise in percent."""
    return f"{row['drop']:+.1%}" if row.get("relative") else f"{row['drop']:+.4f}"
