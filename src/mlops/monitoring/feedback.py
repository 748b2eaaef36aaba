"""`mlops feedback`: join late labels to the logged predictions; report every label it cannot use.

    mlops feedback --labels labels.csv              # prediction logs in monitor.source (data/production)
    mlops feedback --labels labels.parquet --logs path/to/logs/

The labels file (CSV or Parquet) has the key, `label` (the true class) and optionally
`timestamp` (when the label was known). The key is the data's own id columns when params.yaml
declares them (columns.ids, as data/prepared/schema.json records them): labels keyed as a real
feedback table is, joined to the ids each request gave the service (logged with the features).
A row predicted more than once under the same ids is matched to its newest prediction. Without
id columns the key is `id`, the prediction id the service logged (row i of a request: its
X-Prediction-Id header and `-i`). Each label row gets one status, and only `matched` rows are used:

    matched        joined to its logged prediction
    duplicate      its key is in the file more than once: every copy is held back
    unmatched      a key that can match nothing: unlike any prediction id the service logs (another
                   key column?), or with an id column empty
    never_logged   a key in no log: for prediction ids, one like the service's; sampled out, dropped,
                   outside the fetched window, or (ids) sent without them
    unknown_class  the label is empty or not one of the model's classes (data/prepared/schema.json);
                   for a regression model (data.task: regression), empty or not a finite number

Writes
- data/feedback/labelled.parquet: the matched rows, features and the target column (`data.target`)
  plus the id columns, `id` (the prediction id; `prediction_id` when an id column is itself called
  `id`), `predicted_at`, `prediction`: live-metric rows, and candidate training rows for
  `mlops retrain-data`;
- reports/feedback/feedback.json and feedback.md: the key, the count of each status with examples,
  the logged predictions no label matched, and the live metrics against training's (concept
  drift, judged as `mlops drift --labels` does).
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
from mlops.monitoring.drift_command import logged_id

STATUSES = {
    "matched": "joined to its logged prediction",
    "duplicate": "id in the labels file more than once (every copy held back)",
    "unmatched": "id unlike any the service logs: it can match nothing",
    "never_logged": "id like the service's but in no log: sampled out, dropped or outside the window",
    "unknown_class": "label empty or not one of the model's classes",
}
REGRESSION_MEANINGS = {"unknown_class": "label empty or not a finite number (a regression model)"}
ID_MEANINGS = {  # when labels are keyed by the data's id columns
    "duplicate": "ids in the labels file more than once (every copy held back)",
    "unmatched": "an id column empty: it can match nothing",
    "never_logged": "ids no logged prediction has: sampled out, dropped, outside the window or sent without ids",
}
PREDICTION_ID = "id"
LABEL = "label"
TIMESTAMP = "timestamp"
KEY = "_key"  # the key as one text column in both frames: the join's
SEPARATOR = "\x1f"  # between the parts of a key of several id columns
EXAMPLES = 5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--labels",
        required=True,
        help="CSV/Parquet with the id columns (columns.ids; without them, id: the prediction id), label and "
        "optionally timestamp",
    )
    parser.add_argument("--logs", help="prediction logs, a file or directory (default: monitor.source in params)")
    parser.add_argument("--schema", default=str(paths.SCHEMA), help="(default: %(default)s)")
    parser.add_argument("--output", default=str(paths.LABELLED), help="the matched rows (default: %(default)s)")
    parser.add_argument("--report-dir", default=str(paths.FEEDBACK_DIR), help="(default: %(default)s)")
    parser.add_argument("--params", default=str(paths.PARAMS), help="(default: %(default)s)")


def read_labels(path: Path, ids: list[str] | None = None):
    """The labels file with its key, the data's `ids` or else the prediction id, and `label` as text, the key
    also as one text column, KEY, and `timestamp` (if any) as UTC times."""
    import pandas as pd

    from mlops.io import read_table
    from mlops.schema import categorical_strings

    keys = ids or [PREDICTION_ID]
    columns = (*keys, LABEL)
    labels = read_table(path, text_columns=columns)
    missing = [name for name in columns if name not in labels.columns]
    if missing:
        joined_on = "the id columns (columns.ids in params.yaml)" if ids else "the prediction id"
        raise MlopsError(
            f"{path}: no column {', '.join(repr(m) for m in missing)}; labels are joined on {joined_on}: a labels "
            f"file has the columns {', '.join(columns)} and optionally {TIMESTAMP} "
            f"(found: {', '.join(map(str, labels.columns))})"
        )
    labels = labels.reset_index(drop=True)
    for name in columns:  # as the schema holds classes: text, a missing value empty
        labels[name] = categorical_strings(labels[name])
    labels[KEY] = key_of(labels, keys)
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


def key_of(frame, columns: list[str]):
    """Each row's key as text: the one column's value, or the columns' joined; empty when any is missing."""
    from mlops.schema import categorical_strings

    parts = [categorical_strings(frame[name]) for name in columns]
    if len(parts) == 1:
        return parts[0]
    key = parts[0].str.cat(parts[1:], sep=SEPARATOR)
    key[(side_by_side(parts) == "").any(axis=1)] = ""
    return key


def side_by_side(columns):
    import pandas as pd

    return pd.concat(columns, axis=1)


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


def classify(labels, logged_keys, classes: list[str], regression: bool = False, by_ids: bool = False):
    """The status of each label row (see the module docstring); the first problem found wins."""
    import pandas as pd

    logged_keys = set(logged_keys)
    keys = labels[KEY]
    status = pd.Series("matched", index=labels.index, dtype=object)
    usable = numbers(labels[LABEL]).notna() if regression else labels[LABEL].isin(classes)
    status[~usable] = "unknown_class"
    not_logged = ~keys.isin(logged_keys)
    if by_ids:
        status[not_logged] = "never_logged"
        status[keys == ""] = "unmatched"
    else:
        looks_logged = like_logged(logged_keys)
        for index in labels.index[not_logged]:
            status[index] = "never_logged" if looks_logged(keys[index]) else "unmatched"
    status[keys.duplicated(keep=False) & (keys != "")] = "duplicate"
    return status


def join(labels, logged, schema, target: str):
    """Matched label rows joined to their logged rows (by KEY, in both); and every label row's status.

    By the data's ids, a key predicted more than once is joined to its newest prediction."""
    status = classify(labels, logged[KEY], schema.classes, schema.regression, by_ids=bool(schema.ids))
    matched = labels[status == "matched"].rename(columns={LABEL: target, TIMESTAMP: "labelled_at"})
    if schema.regression:
        matched[target] = numbers(matched[target])
    keep = [KEY, target] + (["labelled_at"] if "labelled_at" in matched.columns else [])
    if "predicted_at" in logged.columns:
        logged = logged.sort_values("predicted_at", kind="stable")
    newest = logged.drop_duplicates(KEY, keep="last")
    joined = newest.merge(matched[keep], on=KEY, how="inner", validate="one_to_one")
    return joined, status


def summarise(labels, status, concept: dict[str, Any], sources: dict[str, Any], task: str, ids) -> dict[str, Any]:
    """The report; `ids`: the data's id columns labels were joined on, none for the prediction id."""
    counts = {name: int((status == name).sum()) for name in STATUSES}
    examples = {}
    for name in STATUSES:
        rows = labels[status == name].head(EXAMPLES)
        if name != "matched" and len(rows):
            shown = rows[KEY].str.replace(SEPARATOR, " / ")
            examples[name] = [{"id": key, "label": label} for key, label in zip(shown, rows[LABEL], strict=True)]
    return {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "task": task,
        "key": list(ids) or [PREDICTION_ID],
        "joined_on": "ids" if ids else "prediction_id",
        **sources,
        "counts": counts,
        "problems": sum(count for name, count in counts.items() if name != "matched"),
        "examples": examples,
        "live": concept,
    }


def to_markdown(report: dict[str, Any]) -> str:
    labels, logs = report["labels"], report["logs"]
    by_ids = report.get("joined_on") == "ids"
    meanings = (
        STATUSES | (REGRESSION_MEANINGS if report.get("task") == "regression" else {}) | (ID_MEANINGS if by_ids else {})
    )
    key = ", ".join(f"`{name}`" for name in report.get("key", [PREDICTION_ID]))
    lines = [
        "### Labels joined to logged predictions",
        "",
        f"{labels['rows']} label rows in `{labels['path']}`, {logs['rows']} logged predictions in `{logs['path']}`, "
        f"joined on {key if by_ids else 'the prediction id'}: "
        f"**{report['counts']['matched']} matched, {report['problems']} held back.** "
        f"{logs['unlabelled']} logged predictions matched no label.",
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
    """What a training row needs (features, target), its ids (as text: one request may have sent a number, the
    next text), and what says where it came from (the prediction id as `id`, or `prediction_id` when an id
    column is called `id`)."""
    from mlops.schema import categorical_strings

    ids = [categorical_strings(joined[logged_id(name)]).rename(name) for name in schema.ids]
    prediction_id = "prediction_id" if PREDICTION_ID in schema.ids else PREDICTION_ID
    extra = joined[[c for c in ("id", "predicted_at", "prediction", "labelled_at") if c in joined.columns]]
    rows = [*ids, joined[[*schema.columns, target]], extra.rename(columns={PREDICTION_ID: prediction_id})]
    return side_by_side(rows).reset_index(drop=True)


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
    if list(params.columns.ids) != schema.ids:
        raise MlopsError(
            f"{args.schema} has the id columns {schema.ids}, params.yaml names {list(params.columns.ids)}: "
            "run `dvc repro` first"
        )
    labels_path = Path(args.labels)
    labels = read_labels(labels_path, schema.ids)
    logs_path = newest_batch(Path(args.logs or params.monitor.source))
    logged, skipped = load_current(logs_path, schema)
    if "id" not in logged.columns or logged["id"].isna().all():
        raise MlopsError(f"{logs_path} holds no prediction ids: point --logs at the service's prediction logs")
    logged = logged.dropna(subset=["id"])
    # The same log file fetched twice holds the same rows twice: one prediction, counted once.
    logged_duplicates = int(logged["id"].duplicated().sum())
    logged = logged.drop_duplicates(subset="id").reset_index(drop=True)
    logged[KEY] = key_of(logged, [logged_id(name) for name in schema.ids]) if schema.ids else logged["id"]
    with_key = logged[logged[KEY] != ""]

    joined, status = join(labels, with_key, schema, target)
    concept = concept_check(joined.rename(columns={target: schema.target}), schema, params.monitor)
    sources = {
        "labels": {"path": str(labels_path), "rows": len(labels)},
        "logs": {
            "path": str(logs_path),
            "rows": len(logged),
            "unreadable_lines": skipped,
            "repeated_rows": logged_duplicates,
            # by the data's ids: predictions sent without them, and earlier predictions of ids predicted again
            "without_key": len(logged) - len(with_key),
            "repredicted": int(with_key[KEY].duplicated().sum()),
            "unlabelled": len(logged) - len(joined),
        },
        "output": {"path": args.output, "rows": len(joined)},
    }
    report = summarise(labels, status, concept, sources, schema.task, schema.ids)
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
        f"feedback: {len(labels)} labels joined on {', '.join(schema.ids) or 'the prediction id'}: "
        f"{report['counts']['matched']} matched; "
        f"held back: {held_back}; {len(logged) - len(joined)} logged predictions unlabelled; "
        f"{live} -> {args.output}, {report_dir / paths.FEEDBACK_SUMMARY.name}"
    )
    return 0
