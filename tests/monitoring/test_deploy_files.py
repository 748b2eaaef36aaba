"""The Grafana dashboard, the compose stack and the monitor workflow, checked statically."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

BIN = Path(sys.executable).parent
LOG_DIR_IN_CONTAINER = "/var/log/mlops/predictions"
CONTRACT_METRICS = {
    "mlops_requests_total",
    "mlops_request_duration_seconds_bucket",
    "mlops_request_duration_seconds_sum",
    "mlops_request_duration_seconds_count",
    "mlops_predictions_total",
    "mlops_model_info",
    "mlops_drift_score",
    "mlops_drift_detected",
}
PROMQL_WORDS = {
    "sum", "max", "min", "avg", "count", "by", "without", "on", "ignoring", "group_left", "group_right",
    "rate", "irate", "increase", "histogram_quantile", "scalar", "vector", "abs", "and", "or", "unless",
    "le", "offset", "bool", "topk", "bottomk", "clamp_min", "clamp_max", "time",
}  # fmt: skip


def recorded_metrics() -> set[str]:
    names = set()
    for path in (REPO_ROOT / "deploy/prometheus/rules").glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            names |= {rule["record"] for rule in group["rules"] if "record" in rule}
    return names


def metric_names(expr: str) -> set[str]:
    """Identifiers in a PromQL expression that name metrics (not functions, keywords, labels)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)  # label lists
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    return {word for word in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr) if word not in PROMQL_WORDS}


def test_the_metric_name_parser_sees_metrics_and_nothing_else():
    expr = 'sum by (le) (rate(mlops_request_duration_seconds_bucket{route="/predict"}[5m])) / on (class) x:y'
    assert metric_names(expr) == {"mlops_request_duration_seconds_bucket", "x:y"}


def test_every_dashboard_panel_queries_only_exported_or_recorded_metrics():
    dashboard = json.loads((REPO_ROOT / "deploy/grafana/dashboards/mlops.json").read_text())
    known = CONTRACT_METRICS | recorded_metrics()
    used = set()
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = metric_names(target["expr"])
            assert names and names <= known, f"{panel['title']}: {names - known}"
            used |= names
    titles = " ".join(panel["title"].lower() for panel in dashboard["panels"])
    for topic in ("traffic", "error", "latency", "prediction mix", "drift score", "model version"):
        assert topic in titles
    assert {"mlops_model_info", "mlops_drift_score", "mlops_predictions_total"} <= used


def test_grafana_provisioning_points_at_the_dashboard_and_prometheus():
    compose = yaml.safe_load((REPO_ROOT / "deploy/compose.yaml").read_text())
    datasource = yaml.safe_load((REPO_ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    provider = yaml.safe_load((REPO_ROOT / "deploy/grafana/provisioning/dashboards/mlops.yml").read_text())
    dashboard = json.loads((REPO_ROOT / "deploy/grafana/dashboards/mlops.json").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    uid = datasource["datasources"][0]["uid"]
    assert all(panel["datasource"]["uid"] == uid for panel in dashboard["panels"])
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{provider['providers'][0]['options']['path']}:ro" in mounts


def test_the_compose_stack_is_valid_and_wires_the_pieces_together():
    result = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", REPO_ROOT / "deploy/compose.yaml"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    compose = yaml.safe_load((REPO_ROOT / "deploy/compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"log-dir", "service", "prometheus", "grafana", "mlflow"}
    assert services["service"]["build"]["dockerfile"] == "Dockerfile"
    for name in ("prometheus", "grafana", "mlflow"):
        image = services[name]["image"]
        assert re.search(r":v?\d+\.\d+\.\d+$", image), f"{name}: pin an exact tag, not {image}"
    assert all(port.startswith("127.0.0.1:") for s in services.values() for port in s.get("ports", []))
    assert services["service"]["environment"]["MLOPS_PREDICTION_LOG_DIR"]  # logging on in the stack
    prometheus = yaml.safe_load((REPO_ROOT / "deploy/prometheus/prometheus.yml").read_text())
    assert prometheus["scrape_configs"][0]["static_configs"][0]["targets"] == ["service:8080"]


def test_the_log_dir_step_lets_the_service_user_write_a_directory_another_user_made(tmp_path):
    """The stand-in for the container engine: the one-shot step's own command runs here as root on a
    directory root made (as `mkdir` or the engine makes it), then the service's uid writes into it."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv (util-linux) to act as the container's root and as uid 10001")
    services = yaml.safe_load((REPO_ROOT / "deploy/compose.yaml").read_text())["services"]
    step, service = services["log-dir"], services["service"]
    assert step["user"] == "0:0" and service["depends_on"]["log-dir"]["condition"] == "service_completed_successfully"
    mount = next(volume for volume in service["volumes"] if volume.endswith(":" + LOG_DIR_IN_CONTAINER))
    assert mount in step["volumes"]
    uid = re.search(r"^USER (\d+)", (REPO_ROOT / "Dockerfile").read_text(), re.MULTILINE).group(1)

    host = Path(tempfile.mkdtemp(dir="/tmp"))  # outside pytest's private (0700) folder, so uid 10001 can reach it
    try:
        host.chmod(0o755)
        logs = host / "logs"
        logs.mkdir(mode=0o755)  # root's, as `mkdir` or the engine leaves it
        as_service = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "sh", "-c"]
        write = f"echo '{{}}' > {logs}/predictions-1.jsonl"
        assert subprocess.run([*as_service, write], capture_output=True).returncode != 0  # today's failure
        # As compose hands it to the container: `$$` is its escape for `$`.
        command = [part.replace("$$", "$").replace(LOG_DIR_IN_CONTAINER, str(logs)) for part in step["entrypoint"]]
        subprocess.run(command, check=True)
        subprocess.run([*as_service, write], check=True)
        assert (logs / "predictions-1.jsonl").stat().st_uid == int(uid)
        assert logs.stat().st_uid == 0  # the directory keeps its owner
    finally:
        shutil.rmtree(host)


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker client")
def test_docker_compose_config_accepts_the_stack_where_the_client_can():
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("this docker client has no compose plugin; the schema check above validates the file")
    result = subprocess.run(
        ["docker", "compose", "-f", REPO_ROOT / "deploy/compose.yaml", "config", "-q"], capture_output=True
    )
    assert result.returncode == 0, result.stderr


WORKFLOW = REPO_ROOT / ".github/workflows/monitor.yml"


@pytest.mark.parametrize(
    "command",
    [
        ["actionlint", str(WORKFLOW)],
        ["check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        ["zizmor", "--offline", "--persona", "pedantic", str(WORKFLOW)],
    ],
    ids=["actionlint", "schema", "zizmor"],
)
def test_the_monitor_workflow_has_zero_linter_findings(command):
    result = subprocess.run([BIN / command[0], *command[1:]], capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_monitor_workflow_is_least_privilege_and_pinned():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow[True]  # YAML reads the `on:` key as True
    assert "schedule" in triggers and "workflow_dispatch" in triggers
    assert workflow["permissions"] == {} and workflow["concurrency"]
    jobs = workflow["jobs"]
    assert {name: job["permissions"] for name, job in jobs.items()} == {
        "detect": {"contents": "read"},
        "issue": {"issues": "write"},
        "data": {"contents": "write", "pull-requests": "write"},
        "retrain": {"actions": "write"},
    }
    assert all(job["timeout-minutes"] <= 30 for job in jobs.values())
    uses = re.findall(r"uses: (\S+)", WORKFLOW.read_text())
    # Remote actions pinned to a commit; local ones (./.github/actions/...) come with the checkout.
    assert uses and all(
        re.fullmatch(r"[\w-]+/[\w-]+(/[\w-]+)*@[0-9a-f]{40}|\./\.github/actions/[\w-]+", ref) for ref in uses
    )
    assert "gh workflow run train.yml" in jobs["retrain"]["steps"][0]["run"]
    assert "retrain == 'true'" in jobs["retrain"]["if"]
