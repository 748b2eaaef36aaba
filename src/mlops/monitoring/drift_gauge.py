"""The newest drift report as Prometheus gauges, for the service's /metrics.

The service's metrics registry holds a `DriftCollector`, so its /metrics answer has the gauges
of the newest `mlops drift` run without a push gateway: Prometheus scrapes them with the rest.

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
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily

ENV_REPORT = "MLOPS_DRIFT_REPORT"
# mlops.paths.DRIFT_REPORT, written again: the serving image has no PyYAML to read paths.yaml
# with (tests/unit/test_paths.py checks the two agree).
DEFAULT_REPORT = Path("reports/drift/drift.json")


def configured_report_path() -> Path:
    return Path(os.environ.get(ENV_REPORT) or DEFAULT_REPORT)


def read_gauges(path: Path) -> tuple[float, int] | None:
    """(drift score, 1 if drift was detected else 0) from the report at `path`; None when it has no readable,
    finite score."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        score = float(report["drift_score"])
        detected = 1 if report["drift_detected"] is True else 0
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (score, detected) if math.isfinite(score) else None


class DriftCollector:
    """The drift gauges, read from the report at each scrape; none when there is no readable report."""

    def __init__(self, report_path: Path | str | None = None):
        self.report_path = Path(report_path) if report_path is not None else None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauges = read_gauges(self.report_path or configured_report_path())
        if gauges is None:
            return
        score, detected = gauges
        yield GaugeMetricFamily("mlops_drift_score", "Largest per-feature PSI in the newest drift report.", score)
        yield GaugeMetricFamily("mlops_drift_detected", "1 when the newest drift report found drift, else 0.", detected)
