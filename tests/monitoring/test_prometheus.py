"""The Prometheus side: rules check and unit tests (promtool), and a real Prometheus scraping
first a stand-in exporter (now) and then the real prediction service (once it is in the tree).

Prometheus and promtool come from Debian's `prometheus` package. Each test starts its own
Prometheus on a free loopback port with its own config and data directory, and stops it.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from mlops import http
from mlops.http import free_port
from mlops.schema import Schema
from tests.conftest import REPO_ROOT
from tests.waiting import wait_for_url, wait_until

PROMETHEUS, PROMTOOL = shutil.which("prometheus"), shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not found: apt-get install prometheus")
needs_prometheus = pytest.mark.skipif(PROMETHEUS is None, reason="prometheus not found: apt-get install prometheus")
RULES = sorted((REPO_ROOT / "deploy/prometheus/rules").glob("*.yml"))


@needs_promtool
def test_promtool_checks_the_rules():
    result = subprocess.run([PROMTOOL, "check", "rules", *map(str, RULES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULES)


TESTS = REPO_ROOT / "deploy/prometheus/tests"
RULE_TESTS = [TESTS / "alerts_test.yml", TESTS / "alerts_regression_test.yml"]  # classification, regression
MADE_UP = [TESTS / "made_up_training_mix.yml", TESTS / "made_up_prediction_distribution.yml"]


@needs_promtool
def test_every_rule_passes_its_promtool_unit_test_and_has_one():
    command = [PROMTOOL, "test", "rules", *map(str, RULE_TESTS)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_TESTS)

    alerts = {
        r["alert"]
        for f in [*RULES, *MADE_UP]
        for g in yaml.safe_load(f.read_text())["groups"]
        for r in g["rules"]
        if "alert" in r
    }
    spec = [test for path in RULE_TESTS for test in yaml.safe_load(path.read_text())["tests"]]
    tested = {case["alertname"] for test in spec for case in test.get("alert_rule_test", [])}
    fired = {case["alertname"] for test in spec for case in test.get("alert_rule_test", []) if case["exp_alerts"]}
    assert "PredictionDistributionShift" in alerts and "PredictionMixShift" in alerts
    assert alerts == tested == fired  # each alert is tested, and seen firing at least once


def test_the_rules_tests_use_exactly_what_alert_rules_writes_for_their_made_up_data():
    """The rule tests read the made-up fixtures instead of the rules written from your data."""
    from mlops.monitoring.alert_rules import class_mix_rules, distribution_rules, rules_yaml

    classes = rules_yaml(
        class_mix_rules({"class-a": 0.626374, "class-b": 0.373626}),
        0.25,
        "a made-up two-class training split and a psi_threshold of 0.25",
    )
    values = rules_yaml(
        distribution_rules([10.0, 20.0, 30.0, 40.0], [0.2] * 5, 0.25),
        0.25,
        "made-up test-split predictions (a fifth in each of five buckets) and a psi_threshold of 0.25",
        regression=True,
    )
    assert [path.read_text() for path in MADE_UP] == [classes, values]


def get_json(url: str) -> dict:
    return http.request(url, timeout=5).json()


def gunicorn_command(port: int) -> list[str]:
    """The service under gunicorn, with the project's configuration, on the loopback at `port`."""
    config = str(REPO_ROOT / "src/mlops/serving/gunicorn_conf.py")
    app = "mlops.serving.app:create_app()"
    return [sys.executable, "-m", "gunicorn", "-c", config, "--bind", f"127.0.0.1:{port}", app]


def wait_for(check, seconds: float = 60.0, what: str = "the condition"):
    """`check()`'s first truthy value: a server not up yet, or an answer without the data yet, is not yet."""
    return wait_until(check, seconds, what, interval=0.5, ignore=(OSError, ValueError, KeyError, IndexError))


@contextlib.contextmanager
def running_prometheus(tmp_path: Path, target: str, scrape_configs: list[dict] | None = None):
    """A Prometheus scraping `target` every second with the repository's rules (or, given
    `scrape_configs`, those jobs)."""
    port = free_port()
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    for rule_file in RULES:
        shutil.copy(rule_file, rules_dir)
    config = tmp_path / "prometheus.yml"
    jobs = scrape_configs or [{"job_name": "mlops-service", "static_configs": [{"targets": [target]}]}]
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [f"{rules_dir}/*.yml"],
                "scrape_configs": jobs,
            }
        )
    )
    command = [
        PROMETHEUS,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    api = f"http://127.0.0.1:{port}"
    with running_process(command, tmp_path / "prometheus.log"):
        wait_for(lambda: http.request(f"{api}/-/ready", timeout=2).status == 200, 30, "Prometheus ready")
        yield api


@contextlib.contextmanager
def running_process(command: list, log_path: Path, **popen):
    """Run `command` with its output in `log_path`; stop it (terminate, then kill) on the way out."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, **popen)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


def query(api: str, expr: str) -> list[dict]:
    return get_json(f"{api}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))["data"]["result"]


def firing(api: str) -> set[str]:
    return {
        a["labels"]["alertname"] for a in get_json(f"{api}/api/v1/alerts")["data"]["alerts"] if a["state"] == "firing"
    }


@pytest.mark.slow  # a real Prometheus server, waited on until it has scraped and fired the alert
@needs_prometheus
def test_prometheus_scrapes_a_stand_in_exporter_and_fires_the_drift_alert(tmp_path):
    """Stand-in exporter: the contract's metric names from prometheus_client, plus the drift
    gauges of `drift_gauge.DriftCollector` in the same registry, as the real service has them."""
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

    from mlops.monitoring.drift_gauge import DriftCollector

    registry = CollectorRegistry()
    requests = Counter("mlops_requests", "Requests", ["route", "status"], registry=registry)
    latency = Histogram("mlops_request_duration_seconds", "Latency", ["route", "status"], registry=registry)
    predictions = Counter("mlops_predictions", "Predicted rows", ["class"], registry=registry)
    Gauge("mlops_model_info", "Model", ["name", "version"], registry=registry).labels("clf", "7").set(1)
    report = tmp_path / "drift.json"
    registry.register(DriftCollector(report))
    mix = training_mix_classes()

    class Exporter(BaseHTTPRequestHandler):
        def do_GET(self):
            body = generate_latest(registry)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    exporter = ThreadingHTTPServer(("127.0.0.1", 0), Exporter)
    import threading

    threading.Thread(target=exporter.serve_forever, daemon=True).start()
    try:
        with running_prometheus(tmp_path, f"127.0.0.1:{exporter.server_address[1]}") as api:
            for _ in range(40):
                requests.labels("/predict", "200").inc()
                latency.labels("/predict", "200").observe(0.02)
                predictions.labels(sorted(mix)[0]).inc()
            samples = wait_for(lambda: query(api, 'mlops_requests_total{route="/predict"}'), what="the counter")
            assert samples[0]["metric"]["status"] == "200" and float(samples[0]["value"][1]) == 40
            buckets = query(api, 'mlops_request_duration_seconds_bucket{route="/predict", le="0.025"}')
            assert float(buckets[0]["value"][1]) == 40
            assert query(api, "mlops_model_info")[0]["metric"]["version"] == "7"
            assert not query(api, "mlops_drift_score")  # no drift report yet: no gauge
            shares = wait_for(lambda: query(api, "mlops:training_class_share"), what="the recording rule")
            assert {s["metric"]["class"] for s in shares} == mix

            report.write_text(json.dumps({"drift_score": 1.7, "drift_detected": True}))
            wait_for(lambda: {"DriftDetected", "DriftScoreHigh"} <= firing(api), 30, "the drift alerts")  # or raises
            assert float(query(api, "mlops_drift_score")[0]["value"][1]) == 1.7
    finally:
        exporter.shutdown()
        exporter.server_close()


def training_mix_classes() -> set[str]:
    """The classes in the committed training-mix rules (whatever the project's data is)."""
    groups = yaml.safe_load((REPO_ROOT / "deploy/prometheus/rules/generated.yml").read_text())["groups"]
    return {rule["labels"]["class"] for group in groups for rule in group["rules"] if "class" in rule.get("labels", {})}


def serving_missing() -> str | None:
    try:
        import mlops.serving.app  # noqa: F401
    except ImportError as exc:
        return f"THE REAL SERVICE IS NOT TESTED: mlops.serving is not importable here ({exc})"
    return None


@needs_prometheus
@pytest.mark.slow
@pytest.mark.skipif(serving_missing() is not None, reason=serving_missing() or "")
def test_prometheus_reads_the_real_service_request_counter_and_latency(tmp_path):
    """`make serve`'s gunicorn start on loopback, traffic from `mlops simulate`, read back via Prometheus."""
    from tests.conftest import copy_repository, env_for

    project = tmp_path / "project"
    project.mkdir()
    copy_repository(project)  # params.yaml and the expectation suite in gx/, as a clone has them
    env = env_for(project)
    mlops = [sys.executable, "-m", "mlops"]
    from mlops.cli import STAGES

    for stage in STAGES:  # the whole pipeline, export included: the service loads models/
        subprocess.run([*mlops, stage], cwd=project, env=env, check=True, capture_output=True)
    port = free_port()
    service_env = {
        **env,
        "MLOPS_MODEL_DIR": str(project / "models"),
        "PORT": str(port),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "multiproc"),
        "MLOPS_PREDICTION_LOG_DIR": str(tmp_path / "prediction-logs"),
        "MLOPS_DRIFT_REPORT": str(project / "reports/drift/drift.json"),
    }
    (tmp_path / "multiproc").mkdir()
    url = f"http://127.0.0.1:{port}"
    with running_process(gunicorn_command(port), tmp_path / "gunicorn.log", cwd=project, env=service_env):
        wait_for_url(f"{url}/health", 60, "the service")
        (tmp_path / "prom").mkdir()
        with running_prometheus(tmp_path / "prom", f"127.0.0.1:{port}") as api:
            replay = [*mlops, "simulate", "--url", url, "--rows", "60", "--batch-size", "20"]
            subprocess.run(replay, cwd=project, env=env, check=True, capture_output=True)
            wait_for(
                lambda: sum(float(s["value"][1]) for s in query(api, 'mlops_requests_total{route="/predict"}')) >= 3,
                what="3 /predict requests counted",
            )
            count = query(api, 'sum(mlops_request_duration_seconds_count{route="/predict"})')
            assert float(count[0]["value"][1]) >= 3
            p99 = query(
                api, 'histogram_quantile(0.99, sum by (le) (mlops_request_duration_seconds_bucket{route="/predict"}))'
            )
            assert 0 < float(p99[0]["value"][1]) < 10
            predicted = query(api, "sum(mlops_predictions_total)")
            assert float(predicted[0]["value"][1]) == 60
            assert "DriftDetected" not in firing(api)

            # Close the loop: shifted traffic -> prediction log -> `mlops drift` -> gauge -> firing alert.
            feature = Schema.load(project / "data/prepared/schema.json").numeric[0]
            shifted = [
                *mlops,
                "simulate",
                "--url",
                url,
                "--rows",
                "300",
                "--batch-size",
                "50",
                "--shift",
                f"{feature}=3",
            ]
            subprocess.run(shifted, cwd=project, env=env, check=True, capture_output=True)
            logs = tmp_path / "prediction-logs"
            wait_for(lambda: sum(len(p.read_text().splitlines()) for p in logs.glob("*.jsonl*")) >= 360, 30, "logs")
            drift = subprocess.run([*mlops, "drift", "--current", str(logs)], cwd=project, env=env, capture_output=True)
            assert drift.returncode == 3, drift.stdout + drift.stderr
            assert feature in (project / "reports/drift/drift.md").read_text()
            wait_for(lambda: "DriftDetected" in firing(api), 30, "the DriftDetected alert firing")
