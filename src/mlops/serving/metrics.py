"""Prometheus metrics of the service, correct across gunicorn workers.

Under gunicorn, gunicorn_conf.py sets PROMETHEUS_MULTIPROC_DIR (a fresh temporary
directory) before the workers start; prometheus_client then keeps each worker's values
in memory-mapped files there and /metrics adds them up. Run without it (Flask's test
client, `flask run`), the metrics live in this process.
"""

from __future__ import annotations

import os
from collections import Counter as Tally

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.registry import Collector

# Latency buckets in seconds: fine-grained around the expected 1-5 ms.
BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(
        self, name: str, version: str, buckets: tuple[float, ...] = (), collectors: tuple[Collector, ...] = ()
    ):
        """`collectors`: more metrics, read at each scrape in this process (say, the drift gauges)."""
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = CollectorRegistry()
        self.collectors = collectors
        self.requests = Counter(
            "mlops_requests", "HTTP requests by route and status", ["route", "status"], registry=self.registry
        )
        self.duration = Histogram(
            "mlops_request_duration_seconds",
            "Time to answer a request, by route and status",
            ["route", "status"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "mlops_predictions", "Predicted rows by predicted class", ["class"], registry=self.registry
        )
        # Regression only (buckets given): the distribution of predicted values, for the prediction-shift alert.
        self.values = (
            Histogram(
                "mlops_prediction_value",
                "Predicted values (regression), in buckets bounded by the training target's deciles",
                buckets=buckets,
                registry=self.registry,
            )
            if buckets
            else None
        )
        self.out_of_range = Counter(
            "mlops_out_of_range",
            "Values training never had (outside its range, missing where it had none, an unseen category), by column "
            "(predicted anyway)",
            ["column", "problem"],
            registry=self.registry,
        )
        self.log_dropped = Counter(
            "mlops_prediction_log_dropped",
            "Predicted rows the prediction log could not write, by reason (queue_full, write_failed, ...)",
            ["reason"],
            registry=self.registry,
        )
        model_info = Gauge(
            "mlops_model_info", "The model being served", ["name", "version"], registry=self.registry,
            multiprocess_mode="livemax",  # live workers only: after a reload (SIGHUP) the old version goes
        )  # fmt: skip
        model_info.labels(name, version).set(1)
        self._request_children: dict[tuple[str, str], tuple] = {}
        self._class_children: dict[str, Counter] = {}

    def observe_request(self, route: str, status: str, seconds: float) -> None:
        children = self._request_children.get((route, status))
        if children is None:  # label lookups cost more than the increments; do each once
            children = (self.requests.labels(route, status), self.duration.labels(route, status))
            self._request_children[(route, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def count_predictions(self, labels: list[str]) -> None:
        for label, count in Tally(labels).items() if len(labels) > 1 else ((labels[0], 1),):
            child = self._class_children.get(label)
            if child is None:
                child = self._class_children[label] = self.predictions.labels(label)
            child.inc(count)

    def observe_values(self, values: list[float]) -> None:
        if self.values is not None:
            for value in values:
                self.values.observe(value)

    def count_out_of_range(self, counts: dict[tuple[str, str], int]) -> None:
        for (column, problem), count in counts.items():
            self.out_of_range.labels(column, problem).inc(count)

    def count_log_dropped(self, reason: str, rows: int) -> None:
        self.log_dropped.labels(reason).inc(rows)

    def exposition(self) -> bytes:
        if not self.multiprocess:
            registry = self.registry
        else:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry) + b"".join(map(exposition, self.collectors))


def exposition(collector: Collector) -> bytes:
    """One collector's metrics in Prometheus text format."""
    registry = CollectorRegistry()
    registry.register(collector)
    return generate_latest(registry)
