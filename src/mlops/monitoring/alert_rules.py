"""`mlops alert-rules`: write the training class mix as Prometheus recording rules.

The PredictionMixShift alert compares the live share of each predicted class with
`mlops:training_class_share{class=...}`, one constant series per class, written here from
the training split. Rerun after the data changes (`make monitor-up` does).
"""

from __future__ import annotations

import argparse
import json

from mlops import paths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train", default=str(paths.TRAIN), help="training split (default: %(default)s)")
    parser.add_argument("--schema", default=str(paths.SCHEMA), help="(default: %(default)s)")
    parser.add_argument("--output", default=str(paths.PROMETHEUS_TRAINING_MIX), help="(default: %(default)s)")


def class_shares(labels) -> dict[str, float]:
    counts = labels.astype(str).value_counts()
    return {str(label): round(float(count) / len(labels), 6) for label, count in sorted(counts.items())}


def rules_yaml(shares: dict[str, float], source: str) -> str:
    lines = [
        f"# Written by `mlops alert-rules` from {source}: the class mix the model was trained on.",
        "# Rerun it when the training data changes. PredictionMixShift in alerts.yml compares with it.",
        "groups:",
        "  - name: mlops-training-mix",
        "    rules:",
    ]
    for label, share in shares.items():
        lines += [
            "      - record: mlops:training_class_share",
            f"        expr: vector({share})",
            "        labels:",
            f"          class: {json.dumps(label)}",
        ]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    from mlops.io import read_table, write_text
    from mlops.schema import Schema

    schema = Schema.load(args.schema)
    shares = class_shares(schema.target_series(read_table(args.train)))
    write_text(args.output, rules_yaml(shares, args.train))
    print(f"alert-rules: training class mix {shares} -> {args.output}")
    return 0
