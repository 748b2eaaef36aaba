import json

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mlops.monitoring.drift_gauge import DriftCollector


def scraped(report=None) -> str:
    """What a scrape of a registry holding the collector answers."""
    registry = CollectorRegistry()
    registry.register(DriftCollector(report))
    return generate_latest(registry).decode()


def samples(text):
    return {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples}


def test_the_newest_report_becomes_two_valid_gauges(tmp_path):
    report = tmp_path / "drift.json"
    report.write_text(json.dumps({"drift_score": 0.731, "drift_detected": True}))
    text = scraped(report)
    assert samples(text) == {"mlops_drift_score": 0.731, "mlops_drift_detected": 1.0}
    assert "# TYPE mlops_drift_score gauge\n" in text and "# TYPE mlops_drift_detected gauge\n" in text
    report.write_text(json.dumps({"drift_score": 0.05, "drift_detected": False}))
    assert samples(scraped(report)) == {"mlops_drift_score": 0.05, "mlops_drift_detected": 0.0}


def test_no_report_or_a_broken_one_exports_nothing(tmp_path, monkeypatch):
    assert scraped(tmp_path / "missing.json") == ""
    broken = tmp_path / "broken.json"
    broken.write_text('{"drift_score": ')
    assert scraped(broken) == ""
    broken.write_text(json.dumps({"drift_score": "NaN", "drift_detected": True}))
    assert scraped(broken) == ""
    monkeypatch.setenv("MLOPS_DRIFT_REPORT", str(tmp_path / "from-env.json"))
    (tmp_path / "from-env.json").write_text(json.dumps({"drift_score": 0.3, "drift_detected": True}))
    assert samples(scraped())["mlops_drift_score"] == 0.3
