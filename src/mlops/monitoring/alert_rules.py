"""`mlops alert-rules`: write the Prometheus rules that hold facts of the pipeline.

deploy/prometheus/rules/generated.yml, rendered with a YAML library, holds for a classifier
- `mlops:training_class_share{class=...}`: one constant series per class, the share of each
  class in the training split, and the PredictionMixShift alert: the live share of a
  predicted class over the last hour is 20 points off its training share;
and for a regression model (data.task: regression)
- `mlops:reference_prediction_share{bin=...}`: the share of the model's test-split predictions
  in each bucket of the service's prediction histogram (its edges are the deciles of those
  predictions, in models/metadata.json), `mlops:prediction_share:rate1h{bin=...}`: the live
  share over the last hour, and the PredictionDistributionShift alert: the PSI between the two
  is over `monitor.psi_threshold` (an empty live bucket counts as EMPTY_SHARE);
and for both the DriftScoreHigh alert: the largest feature PSI of the newest drift report is
over `monitor.psi_threshold` in params.yaml.
Rerun after the data, the model or `monitor:` changes (`make monitor-up` does).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mlops import paths

MIX_SHIFT = 0.2  # PredictionMixShift: how far (in share) a class may move from its training share
MIN_PREDICTIONS = 100  # rows in the hour before a distribution alert may fire
EMPTY_SHARE = 0.0001  # the share an empty live bucket counts as in the PSI (ln 0 is not a number)
HISTOGRAM = "mlops_prediction_value"  # the service's histogram of predicted values (regression)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options = (  # (flag, default path, what it is for)
        ("--train", paths.TRAIN, "training split"),
        ("--schema", paths.SCHEMA, ""),
        ("--predictions", paths.PREDICTIONS, "regression: the model's test-split predictions"),
        ("--metadata", paths.MODEL_METADATA, "regression: the served model's prediction buckets"),
        ("--params", paths.PARAMS, "for monitor.psi_threshold"),
        ("--output", paths.PROMETHEUS_RULES, ""),
    )
    for flag, default, purpose in options:
        parser.add_argument(flag, default=str(default), help=f"{purpose} (default: %(default)s)".lstrip())


def class_shares(labels) -> dict[str, float]:
    counts = labels.astype(str).value_counts()
    return {str(label): round(float(count) / len(labels), 6) for label, count in sorted(counts.items())}


def bucket_shares(values, edges: list[float]) -> list[float]:
    """The share of `values` in each bucket: up to and including the first edge, ..., above the last."""
    import numpy as np

    counts = np.bincount(np.searchsorted(edges, np.asarray(values, dtype=float), side="left"), minlength=len(edges) + 1)
    return [round(float(count) / counts.sum(), 6) for count in counts]


def le_label(edge: float) -> str:
    """A bucket's `le` label exactly as the service's Prometheus client writes it."""
    from prometheus_client.utils import floatToGoString

    return floatToGoString(edge)


def class_mix_rules(shares: dict[str, float]) -> list[dict[str, Any]]:
    training_mix = [
        {"record": "mlops:training_class_share", "expr": f"vector({share})", "labels": {"class": label}}
        for label, share in shares.items()
    ]
    mix_shift = {
        "alert": "PredictionMixShift",
        "expr": f"abs(mlops:prediction_class_share:rate1h - on (class) mlops:training_class_share) > {MIX_SHIFT}"
        f" and on () sum(increase(mlops_predictions_total[1h])) >= {MIN_PREDICTIONS}",
        "for": "15m",
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": "Class {{ $labels.class }} is predicted {{ $value | humanizePercentage }} off its training share"
        },
    }
    return [*training_mix, mix_shift]


def distribution_rules(edges: list[float], shares: list[float], psi_threshold: float) -> list[dict[str, Any]]:
    """The live and the reference share of each prediction bucket, and the PSI alert between them."""
    count = f"sum(rate({HISTOGRAM}_count[1h]))"
    uppers = [le_label(edge) for edge in edges] + ["+Inf"]

    def below(le: str) -> str:
        return f'sum(rate({HISTOGRAM}_bucket{{le="{le}"}}[1h]))'

    rules: list[dict[str, Any]] = []
    for index, (upper, share) in enumerate(zip(uppers, shares, strict=True)):
        inside = below(upper) if index == 0 else f"({below(upper)} - {below(uppers[index - 1])})"
        bin_label = {"bin": str(index + 1)}
        rules.append({"record": "mlops:reference_prediction_share", "expr": f"vector({share})", "labels": bin_label})
        rules.append(
            {"record": "mlops:prediction_share:rate1h", "expr": f"{inside} / {count}", "labels": {**bin_label}}
        )
    live, reference = "mlops:prediction_share:rate1h", f"clamp_min(mlops:reference_prediction_share, {EMPTY_SHARE})"
    psi = (
        f"sum((clamp_min({live}, {EMPTY_SHARE}) - on (bin) {reference})"
        f" * on (bin) ln(clamp_min({live}, {EMPTY_SHARE}) / on (bin) {reference}))"
    )
    rules.append(
        {
            "alert": "PredictionDistributionShift",
            "expr": f"{psi} > {psi_threshold} and on () sum(increase({HISTOGRAM}_count[1h])) >= {MIN_PREDICTIONS}",
            "for": "15m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": 'The predicted values of the last hour are PSI {{ $value | printf "%.2f" }} away from '
                f"the test split's predictions (over {psi_threshold})"
            },
        }
    )
    return rules


def drift_rules(psi_threshold: float) -> list[dict[str, Any]]:
    return [
        {
            "alert": "DriftScoreHigh",
            "expr": f"max(mlops_drift_score) > {psi_threshold}",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": 'Drift score (largest feature PSI) is {{ $value | printf "%.2f" }}, '
                f"over {psi_threshold}"
            },
        }
    ]


def rules(prediction_rules: list[dict[str, Any]], psi_threshold: float, regression: bool = False) -> dict[str, Any]:
    """The rule groups, as Prometheus reads them."""
    name = "mlops-prediction-distribution" if regression else "mlops-training-mix"
    return {
        "groups": [
            {"name": name, "rules": prediction_rules},
            {"name": "mlops-drift-threshold", "rules": drift_rules(psi_threshold)},
        ]
    }


def rules_yaml(prediction_rules: list[dict[str, Any]], psi_threshold: float, sources: str, regression=False) -> str:
    import yaml

    what = (
        "# The shares of the test split's predictions in the service's prediction buckets, the live shares\n"
        "# and the PredictionDistributionShift alert on the PSI between them;\n"
        if regression
        else "# The class mix the model was trained on and the PredictionMixShift alert comparing the live mix\n"
        "# with it;\n"
    )
    header = (
        f"# Written by `mlops alert-rules` from {sources}: do not edit, rerun it when they change.\n"
        f"{what}# the drift score alert at monitor.psi_threshold.\n"
    )
    return header + yaml.safe_dump(
        rules(prediction_rules, psi_threshold, regression), sort_keys=False, allow_unicode=True, width=1000
    )


def run(args: argparse.Namespace) -> int:
    from mlops.config import load_params
    from mlops.errors import MlopsError
    from mlops.io import read_json, read_table, write_text
    from mlops.schema import Schema

    psi_threshold = load_params(args.params).monitor.psi_threshold
    schema = Schema.load(args.schema)
    if schema.regression:
        edges = read_json(args.metadata).get("prediction_buckets") if Path(args.metadata).is_file() else None
        if not edges:
            raise MlopsError(f"{args.metadata} has no prediction_buckets: run the pipeline first (make run)")
        predictions = read_table(args.predictions)["predicted"]
        shares = bucket_shares(predictions, edges)
        prediction_rules = distribution_rules(edges, shares, psi_threshold)
        sources = f"{args.predictions}, {args.metadata} and {args.params}"
        said = f"test-split prediction shares {shares} in {len(shares)} buckets"
    else:
        mix = class_shares(schema.target_series(read_table(args.train)))
        prediction_rules = class_mix_rules(mix)
        sources = f"{args.train} and {args.params}"
        said = f"training class mix {mix}"
    write_text(args.output, rules_yaml(prediction_rules, psi_threshold, sources, schema.regression))
    print(f"alert-rules: {said}, drift score alert over {psi_threshold} -> {args.output}")
    return 0
