"""`mlops alert-rules`: write the Prometheus rules that hold facts of the pipeline.

deploy/prometheus/rules/generated.yml, rendered with a YAML library, holds
- `mlops:training_class_share{class=...}`: one constant series per class, the share of each
  class in the training split; the PredictionMixShift alert (alerts.yml) compares the live
  share of each predicted class with it;
- the DriftScoreHigh alert: the largest feature PSI of the newest drift report is over
  `monitor.psi_threshold` in params.yaml.
Rerun after the data or `monitor:` changes (`make monitor-up` does).
"""

from __future__ import annotations

import argparse
from typing import Any

from mlops import paths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train", default=str(paths.TRAIN), help="training split (default: %(default)s)")
    parser.add_argument("--schema", default=str(paths.SCHEMA), help="(default: %(default)s)")
    parser.add_argument("--params", default=str(paths.PARAMS), help="for monitor.psi_threshold (default: %(default)s)")
    parser.add_argument("--output", default=str(paths.PROMETHEUS_RULES), help="(default: %(default)s)")


def class_shares(labels) -> dict[str, float]:
    counts = labels.astype(str).value_counts()
    return {str(label): round(float(count) / len(labels), 6) for label, count in sorted(counts.items())}


def rules(shares: dict[str, float], psi_threshold: float) -> dict[str, Any]:
    """The rule groups, as Prometheus reads them."""
    training_mix = [
        {"record": "mlops:training_class_share", "expr": f"vector({share})", "labels": {"class": label}}
        for label, share in shares.items()
    ]
    drift_score = {
        "alert": "DriftScoreHigh",
        "expr": f"max(mlops_drift_score) > {psi_threshold}",
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": f'Drift score (largest feature PSI) is {{{{ $value | printf "%.2f" }}}}, over {psi_threshold}'
        },
    }
    return {
        "groups": [
            {"name": "mlops-training-mix", "rules": training_mix},
            {"name": "mlops-drift-threshold", "rules": [drift_score]},
        ]
    }


def rules_yaml(shares: dict[str, float], psi_threshold: float, sources: str) -> str:
    import yaml

    header = (
        f"# Written by `mlops alert-rules` from {sources}: do not edit, rerun it when they change.\n"
        "# The class mix the model was trained on (PredictionMixShift in alerts.yml compares with it)\n"
        "# and the drift score alert at monitor.psi_threshold.\n"
    )
    return header + yaml.safe_dump(rules(shares, psi_threshold), sort_keys=False, allow_unicode=True, width=1000)


def run(args: argparse.Namespace) -> int:
    from mlops.config import load_params
    from mlops.io import read_table, write_text
    from mlops.schema import Schema

    psi_threshold = load_params(args.params).monitor.psi_threshold
    schema = Schema.load(args.schema)
    shares = class_shares(schema.target_series(read_table(args.train)))
    write_text(args.output, rules_yaml(shares, psi_threshold, f"{args.train} and {args.params}"))
    print(f"alert-rules: training class mix {shares}, drift score alert over {psi_threshold} -> {args.output}")
    return 0
