"""`mlops feedback`: join late labels to the logged predictions; report every label it cannot use.

    mlops feedback --labels labels.csv              # prediction logs in monitor.source (data/production)
    mlops feedback --labels labels.parquet --logs path/to/logs/

The labels file (CSV or Parquet) has the columns `id` (the prediction id the service logged),
`label` (the true class) and optionally `timestamp` (when the label was known). Each label row
gets one status, and only `matched` rows are used:

    matched        joined to its logged prediction
    duplicate      its id is in the file more than once: every copy is held back
    unmatched      an id unlike any the service logs (another key column?): it can match nothing
    never_logged   an id like the service's, in no log: sampled out, dropped, or outside the fetched window
    unknown_class  the label is empty or not one of the model's classes (data/prepared/schema.json);
                   for a regression model (data.task: regression), empty or not a finite number

Writes
- data/feedback/labelled.parquet: the matched rows, features and the target column (`data.target`)
  plus `id`, `predicted_at`, `prediction`: live-metric rows, and candidate training rows for
  `mlops retrain-data`;
- reports/feedback/feedback.json and feedback.md: the count of each status with examples, and the
  live metrics against training's (concept drift, judged as `mlops drift --labels` does).
Exit status: 0 when the join ran (whatever it found), 1 on bad input.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops import paths
from mlops.errors import MlopsError
from mlops.monitoring.concept import concept_check, drop_text

STATUSES = {
    "matched": "joined to its logged prediction",
    "duplicate": "id in the labels file more than once (every copy held back)",
    "unmatched": "id unlike any the service logs: it can match nothing",
    "never_logged": "id like the service's but in no log: sampled out, dropped or outside the window",
    "unknown_class": "label empty or not one of the model's classes",
}
REGRESSION_MEANINGS = {"unknown_class": "label empty or not a finite number (a regression model)"}
LABEL_COLUMNS = ("id", "label")
TIMESTAMP = "timestamp"
EXAMPLES = 5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--labels", required=True, help="CSV/Parquet with columns id, label and optionally timestamp")
    parser.add_argument("--logs", help="prediction logs, a file or directory (default: monitor.source in params)")
    parser.add_argument("--schema", default=str(paths.SCHEMA), help="(default: %(default)s)")
    parser.add_argument("--output", default=str(paths.LABELLED), help="the matched rows (default: %(default)s)")
    parser.add_argument("--report-dir", default=str(paths.FEEDBACK_DIR), help="(default: %(default)s)")
    parser.add_argument("--params", default=str(paths.PARAMS), help="(default: %(default)s)")


def read_labels(path: Path):
    """The labels file with `id` and `label` as text and `timestamp` (if any) as UTC times."""
    import pandas as pd

    from mlops.io import read_table
    from mlops.schema import categorical_strings

    labels = read_table(path, text_columns=LABEL_COLUMNS)
    missing = [name for name in LABEL_COLUMNS if name not in labels.columns]
    if missing:
        raise MlopsError(
            f"{path}: no column {', '.join(repr(m) for m in missing)}; a labels file has the columns "
            f"id, label and optionally {TIMESTAMP} (found: {', '.join(map(str, labels.columns))})"
        )
    labels = labels.reset_index(drop=True)
    for name in LABEL_COLUMNS:  # as the schema holds classes: text, a missing value empty
        labels[name] = categorical_strings(labels[name])
    if TIMESTAMP in labels.columns:
        times = pd.to_datetime(labels[TIMESTAMP], utc=True, errors="coerce", format="mixed")
        bad = times.isna() & labels[TIMESTAMP].notna()
        if bad.any():
            row = int(bad.idxmax())
            raise MlopsError(
                f"{path}: row {row + 1}: {TIMESTAMP} {labels.loc[row, TIMESTAMP]!r} is not a date and time "
                "(use ISO 8601, e.g. 2026-01-31T12:00:00Z)"
            )
        labels[TIMESTAMP] = times
    return labels


def like_logged(logged_ids) -> Any:
    """A test of whether an id has the form of the logged ones: a length they have, only their characters."""
    lengths = {len(i) for i in logged_ids}
    alphabet = set().union(*map(set, logged_ids)) if lengths else set()
    return lambda value: bool(value) and len(value) in lengths and set(value) <= alphabet


def numbers(labels):
    """Labels as floats; NaN where a label is empty or not a finite number."""
    import numpy as np
    import pandas as pd

    values = pd.to_numeric(labels, errors="coerce").astype(float)
    return values.where(np.isfinite(values))


def classify(labels, logged_ids, classes: list[str], regression: bool = False):
    """The status of each label row (see the module docstring); the first problem found wins."""
    import pandas as pd

    logged_ids = set(logged_ids)
    status = pd.Series("matched", index=labels.index, dtype=object)
    usable = numbers(labels["label"]).notna() if regression else labels["label"].isin(classes)
    status[~usable] = "unknown_class"
    looks_logged = like_logged(logged_ids)
    for index in labels.index[~labels["id"].isin(logged_ids)]:
        status[index] = "never_logged" if looks_logged(labels.at[index, "id"]) else "unmatched"
    status[labels["id"].duplicated(keep=False) & (labels["id"] != "")] = "duplicate"
    return status


def join(labels, logged, schema, target: str):
    """Matched label rows joined to their logged rows; and every label row's status."""
    status = classify(labels, logged["id"], schema.classes, schema.regression)
    matched = labels[status == "matched"].rename(columns={"label": target, TIMESTAMP: "labelled_at"})
    if schema.regression:
        matched[target] = numbers(matched[target])
    keep = ["id", target] + (["labelled_at"] if "labelled_at" in matched.columns else [])
    joined = logged.merge(matched[keep], on="id", how="inner", validate="one_to_one")
    return joined, status


def summarise(labels, status, concept: dict[str, Any], sources: dict[str, Any], task: str) -> dict[str, Any]:
    counts = {name: int((status == name).sum()) for name in STATUSES}
    examples = {}
    for name in STATUSES:
        rows = labels[status == name].head(EXAMPLES)
        if name != "matched" and len(rows):
            examples[name] = [{"id": row.id, "label": row.label} for row in rows.itertuples()]
    return {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "task": task,
        **sources,
        "counts": counts,
        "problems": sum(count for name, count in counts.items() if name != "matched"),
        "examples": examples,
        "live": concept,
    }


def to_markdown(report: dict[str, Any]) -> str:
    labels, logs = report["labels"], report["logs"]
    meanings = STATUSES | (REGRESSION_MEANINGS if report.get("task") == "regression" else {})
    lines = [
        "### Labels joined to logged predictions",
        "",
        f"{labels['rows']} label rows in `{labels['path']}`, {logs['rows']} logged predictions in `{logs['path']}`: "
        f"**{report['counts']['matched']} matched, {report['problems']} held back.**",
        "",
        "| Status | Rows | Meaning | Examples (id: label) |",
        "|---|---:|---|---|",
    ]
    for name, meaning in meanings.items():
        shown = ", ".join(f"`{e['id']}`: `{e['label']}`" for e in report["examples"].get(name, []))
        lines.append(f"| {name} | {report['counts'][name]} | {meaning} | {shown} |")
    lines += ["", *live_lines(report["live"]), ""]
    return "\n".join(lines)


def live_lines(concept: dict[str, Any]) -> list[str]:
    if "skipped" in concept:
        return [f"Live metrics not judged: {concept['skipped']}."]
    verdict = "concept drift" if concept["drift"] else "no concept drift"
    lines = [
        f"Live metrics on {concept['rows']} labelled rows: **{verdict}** (a metric worse by more than "
        f"{concept['max_drop']} than in training counts: a fall, or for an error a rise relative to training's).",
        "",
        "| Metric | Training | Live | Drop |",
        "|---|---:|---:|---:|",
    ]
    for row in concept["metrics"]:
        drop = "" if row["drop"] is None else drop_text(row) + (" ⚠" if row["drifted"] else "")
        training = "" if row["training"] is None else f"{row['training']:.4f}"
        lines.append(f"| {row['metric']} | {training} | {row['live']:.4f} | {drop} |")
    return lines


def candidate_rows(joined, schema, target: str):
    """What a training row needs (features, target), and what says where it came from."""
    extra = [c for c in ("id", "predicted_at", "prediction", "labelled_at") if c in joined.columns]
    return joined[[*schema.columns, target, *extra]].reset_index(drop=True)


def run(args: argparse.Namespace) -> int:
    from mlops.config import load_params
    from mlops.io import write_json, write_table, write_text
    from mlops.monitoring.drift_command import load_current, newest_batch
    from mlops.schema import Schema

    params = load_params(args.params)
    schema = Schema.load(args.schema)
    target = params.data.target
    if schema.target != target:
        raise MlopsError(
            f"{args.schema} is for the target '{schema.target}', params.yaml names '{target}': run `dvc repro` first"
        )
    labels_path = Path(args.labels)
    labels = read_labels(labels_path)
    logs_path = newest_batch(Path(args.logs or params.monitor.source))
    logged, skipped = load_current(logs_path, schema)
    if "id" not in logged.columns or logged["id"].isna().all():
        raise MlopsError(f"{logs_path} holds no prediction ids: point --logs at the service's prediction logs")
    logged = logged.dropna(subset=["id"])
    # The same log file fetched twice holds the same rows twice: one prediction, counted once.
    logged_duplicates = int(logged["id"].duplicated().sum())
    logged = logged.drop_duplicates(subset="id").reset_index(drop=True)

    joined, status = join(labels, logged, schema, target)
    concept = concept_check(joined.rename(columns={target: schema.target}), schema, params.monitor)
    sources = {
        "labels": {"path": str(labels_path), "rows": len(labels)},
        "logs": {
            "path": str(logs_path),
            "rows": len(logged),
            "unreadable_lines": skipped,
            "repeated_rows": logged_duplicates,
        },
        "output": {"path": args.output, "rows": len(joined)},
    }
    report = summarise(labels, status, concept, sources, schema.task)
    write_table(candidate_rows(joined, schema, target), args.output)
    report_dir = Path(args.report_dir)
    write_text(report_dir / paths.FEEDBACK_SUMMARY.name, to_markdown(report))
    write_json(report_dir / paths.FEEDBACK_REPORT.name, report)
    held_back = ", ".join(f"{report['counts'][name]} {name}" for name in STATUSES if name != "matched")
    live = (
        "live metrics not judged"
        if "skipped" in concept
        else ("concept drift" if concept["drift"] else "no concept drift")
    )
    print(
        f"feedback: {len(labels)} labels: {report['counts']['matched']} matched; held back: {held_back}; "
        f"{live} -> {args.output}, {report_dir / paths.FEEDBACK_SUMMARY.name}"
    )
    return 0
