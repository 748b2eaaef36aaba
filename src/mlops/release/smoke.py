"""`mlops smoke --url URL`: does a running prediction service predict what the pipeline did?

Posts the test split (data/prepared/test.parquet) to URL/predict and compares the answers
with the `predicted` column of data/predictions/test.csv. Exit 0 when every row agrees,
1 with the first disagreements otherwise. Used on the built image before it is published.
A regression model's numbers agree within the ONNX-vs-scikit-learn gap the export stage
measured on the same rows (`parity` in models/metadata.json) plus the 6-decimal rounding
of the pipeline's predictions.

When the environment names a model signer (MLOPS_MODEL_PUBLIC_KEY, MLOPS_MODEL_CERTIFICATE_CHAIN
or MLOPS_MODEL_SIGNER_IDENTITY: docs/serving.md), smoke first verifies the model files
(--models) against their signature, before posting anything, and then checks that the service
serves that model: its GET /metadata must be the signed metadata.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mlops import http, paths
from mlops.errors import MlopsError
from mlops.io import plain

BATCH = 64
ROUNDING = 1e-6  # the pipeline's predictions file holds numbers rounded to 6 decimals


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", required=True, help="the service's base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--wait", type=float, default=0, metavar="SECONDS", help="wait this long for GET /ready first")
    parser.add_argument("--timeout", type=float, default=30, metavar="SECONDS", help="per request (default: 30)")
    parser.add_argument("--test", type=Path, default=paths.TEST, help="rows to post (default: %(default)s)")
    parser.add_argument("--expected", type=Path, default=paths.PREDICTIONS, help="default: %(default)s")
    parser.add_argument("--schema", type=Path, default=paths.SCHEMA, help="default: %(default)s")
    parser.add_argument(
        "--metadata", type=Path, default=paths.MODEL_METADATA, help="regression: the parity gap (default: %(default)s)"
    )
    parser.add_argument(
        "--models",
        type=Path,
        default=Path(paths.MODEL_METADATA).parent,
        help="signed model files (default: %(default)s)",
    )


def json_rows(frame) -> list[dict]:
    """Rows as JSON-ready dicts: NumPy scalars as Python numbers, NaN as null."""
    return plain(frame.astype(object).to_dict(orient="records"))


def predict_all(url: str, rows: list[dict], timeout: float) -> list:
    predicted: list = []
    for start in range(0, len(rows), BATCH):
        try:
            reply = http.request(f"{url}/predict", {"instances": rows[start : start + BATCH]}, timeout)
            body = reply.json() if reply.status == 200 else {}
        except (OSError, ValueError) as exc:
            raise MlopsError(f"POST {url}/predict failed: {type(exc).__name__}: {exc}") from exc
        if not isinstance(body, dict) or "predictions" not in body:
            raise MlopsError(f"POST {url}/predict answered {reply.status}: {reply.error_message()}")
        predicted += body["predictions"]
    return predicted


def compare(served: list, expected: list, show: int = 5, tolerance: float | None = None) -> list[str]:
    """One line per disagreement (at most `show`), plus a count; empty when all agree.

    Classes agree when equal as text; numbers (`tolerance` given) when within `tolerance`.
    """
    if len(served) != len(expected):
        return [f"the service returned {len(served)} predictions for {len(expected)} rows"]

    def agree(got, want) -> bool:
        if tolerance is None:
            return str(got) == str(want)
        return isinstance(got, int | float) and not isinstance(got, bool) and abs(got - float(want)) <= tolerance

    differ = [i for i, (got, want) in enumerate(zip(served, expected, strict=True)) if not agree(got, want)]
    lines = [f"row {i}: service said {served[i]!r}, pipeline said {expected[i]!r}" for i in differ[:show]]
    if differ:
        lines.insert(0, f"{len(differ)} of {len(expected)} predictions differ from the pipeline's")
    return lines


def check_serves(url: str, metadata: dict, timeout: float) -> None:
    """MlopsError unless the service's GET /metadata is `metadata` (plus the limits it adds)."""
    try:
        reply = http.request(f"{url}/metadata", timeout=timeout)
        served = reply.json() if reply.status == 200 else None
    except (OSError, ValueError) as exc:
        raise MlopsError(f"GET {url}/metadata failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(served, dict):
        raise MlopsError(f"GET {url}/metadata answered {reply.status}: {reply.error_message()}")
    served.pop("limits", None)
    if served != metadata:
        raise MlopsError(
            f"{url} does not serve the signed model: it serves version {served.get('version')!r} "
            f"created {served.get('created_at')!r}, the signed one is {metadata['version']!r} "
            f"created {metadata.get('created_at')!r}"
        )


def run(args: argparse.Namespace) -> int:
    from mlops.io import read_json, read_table
    from mlops.release.verify import verified
    from mlops.schema import Schema

    url = args.url.rstrip("/")
    signed = verified(args.models)  # None when no signer is configured
    schema = Schema.load(args.schema)
    test = read_table(args.test)
    expected = read_table(args.expected)
    if "predicted" not in expected.columns or len(expected) != len(test):
        raise MlopsError(f"{args.expected} does not match {args.test}: rerun the pipeline (make run)")
    if args.wait:
        problem = http.wait_until_ready(f"{url}/ready", args.wait)
        if problem:
            raise MlopsError(f"{url} was not ready within {args.wait:g} s ({problem})")
    if signed is not None:
        check_serves(url, signed.metadata, args.timeout)
    served = predict_all(url, json_rows(test[[*schema.ids, *schema.inputs]]), args.timeout)  # rows as they came
    tolerance = None
    if schema.regression:
        parity = read_json(args.metadata).get("parity") if args.metadata.is_file() else None
        tolerance = (parity or 0.0) + ROUNDING
    problems = compare(served, expected["predicted"].tolist(), tolerance=tolerance)
    if problems:
        raise MlopsError("; ".join(problems))
    print(f"smoke: {url} predicted all {len(served)} test rows as the pipeline did")
    return 0
