"""The newest drift report as Prometheus gauges, for the service's /metrics.

The service appends `metrics_text()` to its /metrics answer, so the gauges follow the
newest `mlops drift` run without a push gateway: Prometheus scrapes them with the rest.

    mlops_drift_score     the largest per-feature PSI in the newest drift report
    mlops_drift_detected  1 when the newest drift report found drift, else 0

The report is read at scrape time (it is a few kilobytes); nothing is exported when there
is none yet or it cannot be read. Its path is MLOPS_DRIFT_REPORT, by default
reports/drift/drift.json relative to the working directory.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

ENV_REPORT = "MLOPS_DRIFT_REPORT"
# mlops.paths.DRIFT_REPORT, written again: the serving image has no PyYAML to read paths.yaml
# with (tests/unit/test_paths.py checks the two agree).
DEFAULT_REPORT = Path("reports/drift/drift.json")


def configured_report_path() -> Path:
    return Path(os.environ.get(ENV_REPORT) or DEFAULT_REPORT)


def metrics_text(report_path: Path | str | None = None) -> str:
    """Prometheus exposition lines for the drift gauges, or "" when there is no readable report."""
    path = Path(report_path) if report_path is not None else configured_report_path()
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        score = float(report["drift_score"])
        detected = 1 if report["drift_detected"] is True else 0
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    if not math.isfinite(score):
        return ""
    return (
        "# HELP mlops_drift_score Largest per-feature PSI in the newest drift report.\n"
        "# TYPE mlops_drift_score gauge\n"
        f"mlops_drift_score {score!r}\n"
        "# HELP mlops_drift_detected 1 when the newest drift report found drift, else 0.\n"
        "# TYPE mlops_drift_detected gauge\n"
        f"mlops_drift_detected {detected}\n"
    )
