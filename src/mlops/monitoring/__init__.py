"""Watching the served model: prediction logs, data/prediction/concept drift, Prometheus gauges, traffic replay."""
