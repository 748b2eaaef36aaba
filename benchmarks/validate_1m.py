"""Benchmark the validate stage on a 1,000,000-row frame shaped like the default dataset.

    .venv/bin/python benchmarks/validate_1m.py [--rows 1000000] [--format parquet|csv]

Builds the frame by resampling the breast-cancer rows with a little noise, infers a suite
for it (so the row-count and distribution bounds fit 1M rows), then times
`mlops validate --data big.parquet` (as the stage reads data/raw; or .csv) in a fresh process:
wall time and peak memory (max RSS).
Everything happens in a temporary directory; the repository is left alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mlops.dataset import load_source
from mlops.validation.context import save_suite
from mlops.validation.expectations import SUITE_NOTES, infer_suite

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet", help="file type of the batch")
    args = parser.parse_args()
    os.environ.update(GX_ANALYTICS_ENABLED="false", DVC_NO_ANALYTICS="1", MLFLOW_DISABLE_TELEMETRY="true")

    source = load_source("sklearn:breast_cancer", "target")
    rng = np.random.default_rng(0)
    frame = source.sample(n=args.rows, replace=True, random_state=0).reset_index(drop=True)
    numeric = frame.columns.drop("target")
    frame[numeric] = frame[numeric] * rng.normal(1.0, 0.01, size=(args.rows, len(numeric)))

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "params.yaml").write_text((REPO / "params.yaml").read_text())
        data = root / f"big.{args.format}"
        if args.format == "csv":
            frame.to_csv(data, index=False)
        else:
            frame.to_parquet(data, index=False)
        started = time.perf_counter()
        cwd = Path.cwd()
        os.chdir(root)
        try:
            save_suite(infer_suite(frame, "target"), SUITE_NOTES, root)
        finally:
            os.chdir(cwd)
        infer_seconds = time.perf_counter() - started

        started = time.perf_counter()
        run = subprocess.run(
            [sys.executable, "-m", "mlops", "validate", "--data", data.name], cwd=root, capture_output=True, text=True
        )
        seconds = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if run.returncode != 0:
            sys.exit(f"validate failed:\n{run.stdout}{run.stderr}")

    print(f"machine: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs")
    print(f"rows: {args.rows:,} x {frame.shape[1]} columns, {args.format}")
    print(f"infer (in this process): {infer_seconds:.1f} s")
    print(f"mlops validate --data (fresh process, incl. ~3.3 s GX import and Data Docs): {seconds:.1f} s wall")
    print(f"peak memory of the validate process: {peak_mb:.0f} MB (max RSS)")
    print(run.stdout.strip())


if __name__ == "__main__":
    main()
