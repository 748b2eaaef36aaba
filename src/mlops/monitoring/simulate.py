"""`mlops simulate`: production-like traffic from the test split, optionally shifted.

    mlops simulate --url http://127.0.0.1:8080 --rows 500 --shift "worst radius=1"
    mlops simulate --output data/production/ --shift "mean texture=1.5" --label-noise 0.3

Rows are drawn with replacement from the test split. `--shift FEATURE=STDS` adds STDS
standard deviations (of the training split) to a numeric feature; for a categorical feature,
`FEATURE=SHARE` sets that share of rows to the rarest category. `--url` posts them to
/predict in batches; `--output` writes them, with the target column, as one CSV batch
(`--label-noise` flips a share of those labels: the input–output relationship changes; for a
regression model those rows get the target of another row, drawn at random).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from datetime import UTC, datetime
from pathlib import Path

from mlops import http, paths
from mlops.errors import MlopsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="base URL of the running service, e.g. http://127.0.0.1:8080")
    target.add_argument("--output", help="write a CSV batch: a .csv path, or a directory for a dated file")
    parser.add_argument("--rows", type=int, help="rows to send or write (default: as many as the test split)")
    parser.add_argument("--batch-size", type=int, default=32, help="rows per /predict request (default: %(default)s)")
    parser.add_argument(
        "--shift", action="append", default=[], metavar="FEATURE=AMOUNT", help="shift a feature (repeatable)"
    )
    parser.add_argument("--label-noise", type=float, default=0.0, help="share of labels to flip in --output")
    parser.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    parser.add_argument("--data", default=str(paths.TEST), help="rows to replay (default: %(default)s)")
    parser.add_argument("--reference", default=str(paths.TRAIN), help="scale of the shifts (default: %(default)s)")
    parser.add_argument("--schema", default=str(paths.SCHEMA), help="(default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default: %(default)s)")


def parse_shifts(specs: list[str], columns: list[str]) -> dict[str, float]:
    shifts = {}
    for spec in specs:
        name, sep, amount = spec.rpartition("=")
        if not sep or not name:
            raise MlopsError(f"--shift {spec!r}: expected FEATURE=AMOUNT, e.g. 'mean radius=1'")
        if name not in columns:
            raise MlopsError(f"--shift {spec!r}: no feature '{name}'; features are: {', '.join(columns)}")
        try:
            shifts[name] = float(amount)
        except ValueError as exc:
            raise MlopsError(f"--shift {spec!r}: '{amount}' is not a number") from exc
        if not math.isfinite(shifts[name]):
            raise MlopsError(f"--shift {spec!r}: the amount must be finite")
    return shifts


def shifted_rows(data, reference, schema, rows: int, shifts: dict[str, float], label_noise: float, seed: int):
    """`rows` rows drawn from `data`, shifted; the target column kept (flipped for `label_noise` of them)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    frame = data.sample(n=rows, replace=True, random_state=seed).reset_index(drop=True)
    features = schema.features_frame(frame)
    for name, amount in shifts.items():
        feature = next(f for f in schema.features if f.name == name)
        if feature.kind == "numeric":
            features[name] = features[name] + amount * float(schema.features_frame(reference)[name].std())
        else:
            if not 0 <= amount <= 1:
                raise MlopsError(f"--shift {name}={amount}: for a categorical feature give a share between 0 and 1")
            rarest = reference[name].astype(str).value_counts().index[-1]
            features.loc[rng.random(rows) < amount, name] = rarest
    for name in [*schema.ids, *(date.name for date in schema.dates)]:  # as the service takes them
        if name in frame.columns:
            features[name] = frame[name].to_numpy()
    if schema.target in frame.columns and schema.regression:
        values = schema.target_series(frame).to_numpy(copy=True)
        noisy = rng.random(rows) < label_noise
        values[noisy] = rng.choice(values, int(noisy.sum()))
        features[schema.target] = values
    elif schema.target in frame.columns:
        labels = frame[schema.target].astype(str).to_numpy(copy=True)
        flip = rng.random(rows) < label_noise
        others = {label: [c for c in schema.classes if c != label] for label in schema.classes}
        labels[flip] = [rng.choice(others[label]) if others.get(label) else label for label in labels[flip]]
        features[schema.target] = labels
    return features


def replay(url: str, frame, columns: list[str], batch_size: int, timeout: float, classes_too=True) -> dict[str, int]:
    """Post the rows to URL/predict; count requests, rows, errors and (`classes_too`) predicted classes."""
    endpoint = url.rstrip("/") + "/predict"
    counts = {"requests": 0, "rows": 0, "errors": 0}
    classes: dict[str, int] = {}
    records = json.loads(frame[columns].to_json(orient="records"))  # NaN becomes null
    for start in range(0, len(records), batch_size):
        batch = records[start : start + batch_size]
        counts["requests"] += 1
        try:
            reply = http.request(endpoint, {"instances": batch}, timeout)
        except OSError as exc:
            reason = getattr(exc, "reason", exc)
            raise MlopsError(f"cannot reach {endpoint} ({reason}): is the service running (make serve)?") from exc
        if reply.status != 200:
            counts["errors"] += 1
            if counts["errors"] == 1:
                print(f"simulate: {endpoint} answered {reply.status}: {reply.error_message()}")
            continue
        counts["rows"] += len(batch)
        for label in reply.json().get("predictions", []) if classes_too else []:
            classes[str(label)] = classes.get(str(label), 0) + 1
    return counts | {f"predicted {label}": n for label, n in sorted(classes.items())}


def output_path(output: str) -> Path:
    path = Path(output)
    if path.suffix.lower() == ".csv":
        return path
    return path / f"batch-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.csv"


def run(args: argparse.Namespace) -> int:
    from mlops.io import read_table, write_table
    from mlops.schema import Schema

    if args.batch_size < 1 or (args.rows is not None and args.rows < 1):
        raise MlopsError("--rows and --batch-size must be at least 1")
    if not 0 <= args.label_noise <= 1:
        raise MlopsError("--label-noise must be between 0 and 1")
    schema = Schema.load(args.schema)
    data = read_table(args.data)
    shifts = parse_shifts(args.shift, schema.columns)
    reference = read_table(args.reference) if shifts else data
    frame = shifted_rows(data, reference, schema, args.rows or len(data), shifts, args.label_noise, args.seed)
    described = ", ".join(f"{name} {amount:+g}" for name, amount in shifts.items()) or "no shift"
    if args.output:
        path = output_path(args.output)
        write_table(frame, path)
        print(f"simulate: wrote {len(frame)} rows ({described}) -> {path}")
        return 0
    started = time.perf_counter()
    columns = [name for name in [*schema.ids, *schema.inputs] if name in frame.columns]  # a row as the data has it
    counts = replay(args.url, frame, columns, args.batch_size, args.timeout, not schema.regression)
    seconds = time.perf_counter() - started
    summary = ", ".join(f"{key} {value}" for key, value in counts.items())
    print(f"simulate: {summary} ({described}) in {seconds:.1f} s")
    return 1 if counts["errors"] else 0
