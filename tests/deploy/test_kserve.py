"""The KServe InferenceService (deploy/kserve): KServe's own models, and the service's V2 routes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.deploy.conftest import assert_locked_down, env_of, gunicorn_binds, one, render, route_matches

MANIFEST = REPO_ROOT / "deploy" / "kserve" / "inferenceservice.yaml"
CHECKER = Path(__file__).with_name("kserve_check.py")


def inference_service() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


def predictor_container(service: dict) -> dict:
    (container,) = service["spec"]["predictor"]["containers"]
    return container


def check(python: Path, manifest: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), str(CHECKER), str(manifest)], capture_output=True, text=True)


@pytest.mark.slow
def test_the_inference_service_is_valid_for_kserves_models(kserve_python):
    result = check(kserve_python, MANIFEST)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_kserves_models_catch_a_misspelt_field_and_a_wrong_type(kserve_python, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        MANIFEST.read_text()
        .replace("averageUtilization:", "averageUtilisation:")
        .replace("minReplicas: 2", 'minReplicas: "2"')
    )
    result = check(kserve_python, bad)
    assert result.returncode == 1
    assert "has no field 'averageUtilisation'" in result.stdout
    assert "minReplicas: expected int" in result.stdout


def test_the_predictor_is_locked_down_and_scales_like_the_deployment():
    service = inference_service()
    assert service["apiVersion"] == "serving.kserve.io/v1beta1"
    predictor = service["spec"]["predictor"]
    assert predictor["automountServiceAccountToken"] is False
    assert_locked_down(predictor)
    # One measurement (docs/deploy.md) sets both autoscalers: same CPU request, same target.
    deployment = one(render("production"), "Deployment")["spec"]["template"]["spec"]["containers"][0]
    hpa = one(render("production"), "HorizontalPodAutoscaler")["spec"]["metrics"]
    assert predictor_container(service)["resources"]["requests"]["cpu"] == deployment["resources"]["requests"]["cpu"]
    assert predictor["autoScaling"]["metrics"] == hpa
    assert 1 <= predictor["minReplicas"] <= predictor["maxReplicas"]
    assert predictor_container(service)["image"].partition("@")[2].startswith("sha256:"), "deploy by digest"


def test_the_predictor_drains_like_the_deployment():
    """The same preStop pause, graceful timeout and grace period as deploy/k8s: in-flight and
    queued requests finish when a pod is replaced or its node drained."""
    pod = one(render("production"), "Deployment")["spec"]["template"]["spec"]
    (deployment,) = pod["containers"]
    predictor = inference_service()["spec"]["predictor"]
    container = predictor_container(inference_service())
    assert container["lifecycle"] == deployment["lifecycle"]
    assert env_of(container)["MLOPS_GRACEFUL_TIMEOUT"] == env_of(deployment)["MLOPS_GRACEFUL_TIMEOUT"]
    assert predictor["terminationGracePeriodSeconds"] == pod["terminationGracePeriodSeconds"]


def test_the_predictor_speaks_v2_on_the_services_port(service_app):
    """The container's port is where gunicorn listens, its probes are the service's V2 health
    routes, and the V2 model routes exist for the service's model."""
    service = inference_service()
    container = predictor_container(service)
    bound_ports = {port for _, port in gunicorn_binds(env_of(container))}
    assert {port["containerPort"] for port in container["ports"]} <= bound_ports
    annotations = service["metadata"]["annotations"]
    assert int(annotations["prometheus.kserve.io/port"]) in bound_ports
    assert route_matches(service_app, annotations["prometheus.kserve.io/path"], "GET")
    client = service_app.test_client()
    model = service_app.extensions["mlops"]["service"].name
    v2_routes = [
        ("GET", "/v2/health/live"),
        ("GET", "/v2/health/ready"),
        ("GET", f"/v2/models/{model}"),
        ("GET", f"/v2/models/{model}/ready"),
        ("POST", f"/v2/models/{model}/infer"),
    ]
    missing = [f"{method} {path}" for method, path in v2_routes if not route_matches(service_app, path, method)]
    assert not missing, (
        f"the service has no Open Inference (V2) route for {missing}: the InferenceService's probes and "
        "KServe's clients need them"
    )
    for probe in ("livenessProbe", "readinessProbe"):
        http_get = container[probe]["httpGet"]
        assert http_get["port"] in bound_ports
        assert client.get(http_get["path"]).status_code == 200, f"{probe} {http_get['path']}"
    assert {container["livenessProbe"]["httpGet"]["path"], container["readinessProbe"]["httpGet"]["path"]} == {
        "/v2/health/live",
        "/v2/health/ready",
    }
