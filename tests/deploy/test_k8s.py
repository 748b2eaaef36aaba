"""The Kubernetes manifests (deploy/k8s): rendered, validated and checked against the service."""

from __future__ import annotations

import subprocess
import sys

import pytest
from kubernetes_validate.utils import all_versions, major_minor

from tests.deploy.conftest import (
    IMAGE,
    K8S,
    OVERLAYS,
    assert_locked_down,
    by_kind,
    env_of,
    gunicorn_binds,
    one,
    render,
    route_matches,
)

# The last three Kubernetes minor versions kubernetes-validate bundles schemas for.
VERSIONS = sorted({major_minor(version) for version in all_versions()}, key=lambda v: tuple(map(int, v.split("."))))[
    -3:
]
# Custom resources: no schema in kubernetes-validate; checked by the tests below instead.
CUSTOM_KINDS = {"ServiceMonitor"}


def test_there_is_a_staging_and_a_production_overlay():
    assert {"staging", "production"} <= set(OVERLAYS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_renders_every_object_with_the_image_pinned_by_digest(overlay):
    documents = render(overlay)
    kinds = {document["kind"] for document in documents}
    assert {"Namespace", "ServiceAccount", "Deployment", "Service", "HorizontalPodAutoscaler"} <= kinds
    assert {"PodDisruptionBudget", "NetworkPolicy"} <= kinds
    (container,) = one(documents, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert container["image"] == IMAGE
    namespace = one(documents, "Namespace")["metadata"]["name"]
    assert all(doc["metadata"].get("namespace") == namespace for doc in documents if doc["kind"] != "Namespace")


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("version", VERSIONS)
def test_every_object_validates_strictly(overlay, version, tmp_path):
    documents = render(overlay)
    manifest = tmp_path / f"{overlay}.yaml"
    manifest.write_text(subprocess.run([K8S / "render", overlay, IMAGE], capture_output=True, text=True).stdout)
    result = subprocess.run(
        [sys.executable, "-m", "kubernetes_validate", "--strict", "-k", version, str(manifest)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for document in documents:
        name = f"{document['kind'].lower()}/{document['metadata']['name']}"
        if document["kind"] in CUSTOM_KINDS:
            assert f"WARN {manifest} Couldn't find schema for kind {document['kind']}" in result.stdout
        else:
            assert f"passed for resource {name} against version {version}" in result.stdout


def test_the_validator_rejects_an_unknown_field(tmp_path):
    """--strict has teeth: a misspelt field fails validation."""
    text = subprocess.run([K8S / "render", "staging", IMAGE], capture_output=True, text=True, check=True).stdout
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(text.replace("readOnlyRootFilesystem:", "readOnlyRootFileSystem:"))
    result = subprocess.run(
        [sys.executable, "-m", "kubernetes_validate", "--strict", "-k", VERSIONS[-1], str(manifest)],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "readOnlyRootFileSystem" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["staging", "ghcr.io/example-org/example-model:latest"], "not NAME@sha256:"),
        (["nowhere", IMAGE], "no overlay 'nowhere'"),
        (["staging"], "usage:"),
    ],
)
def test_render_refuses_a_tag_an_unknown_overlay_or_missing_arguments(args, message):
    result = subprocess.run([K8S / "render", *args], capture_output=True, text=True)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_run_unprivileged_on_a_read_only_root_without_a_token(overlay):
    documents = render(overlay)
    pod = one(documents, "Deployment")["spec"]["template"]["spec"]
    assert one(documents, "ServiceAccount")["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == one(documents, "ServiceAccount")["metadata"]["name"]
    assert pod["automountServiceAccountToken"] is False
    assert_locked_down(pod)
    namespace = one(documents, "Namespace")["metadata"]["labels"]
    assert namespace["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_and_scrape_target_are_the_services_routes_and_port(overlay, service_app):
    documents = render(overlay)
    pod_template = one(documents, "Deployment")["spec"]["template"]
    (container,) = pod_template["spec"]["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    binds = gunicorn_binds(env_of(container))
    bound_ports = {port for _, port in binds}
    assert set(ports.values()) <= bound_ports, f"the container declares {ports}, gunicorn binds {binds}"
    assert all(host in ("0.0.0.0", "::") for host, _ in binds), f"gunicorn must listen on all interfaces: {binds}"
    client = service_app.test_client()
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        http_get = container[probe]["httpGet"]
        port = ports.get(http_get["port"], http_get["port"])
        assert port in bound_ports, f"{probe} port {http_get['port']}"
        assert route_matches(service_app, http_get["path"], "GET"), f"{probe} path {http_get['path']} is no route"
        assert client.get(http_get["path"]).status_code == 200, f"{probe} {http_get['path']}"
    annotations = pod_template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) in bound_ports
    assert route_matches(service_app, annotations["prometheus.io/path"], "GET")
    scraped = client.get(annotations["prometheus.io/path"])
    assert scraped.status_code == 200 and b"# TYPE" in scraped.data
    service = one(documents, "Service")
    assert [port["targetPort"] for port in service["spec"]["ports"]] == ["http"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_selectors_and_references_find_the_pods(overlay):
    documents = render(overlay)
    deployment = one(documents, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]

    def selects(selector: dict) -> bool:
        return selector.items() <= labels.items()

    assert selects(deployment["spec"]["selector"]["matchLabels"])
    assert selects(one(documents, "Service")["spec"]["selector"])
    assert selects(one(documents, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"])
    policy = one(documents, "NetworkPolicy")["spec"]
    assert selects(policy["podSelector"]["matchLabels"])
    # In only on the service port; out nowhere.
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"] and policy.get("egress", []) == []
    assert [port["port"] for rule in policy["ingress"] for port in rule["ports"]] == ["http"]
    hpa = one(documents, "HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "mlops-serving"}
    assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"]
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    (cpu,) = [metric["resource"] for metric in hpa["metrics"] if metric["type"] == "Resource"]
    assert cpu["name"] == "cpu" and 0 < cpu["target"]["averageUtilization"] <= 100
    for monitor in by_kind(documents, "ServiceMonitor"):
        service = one(documents, "Service")
        assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
        service_ports = {port["name"] for port in service["spec"]["ports"]}
        assert all(endpoint["port"] in service_ports for endpoint in monitor["spec"]["endpoints"])
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert all(endpoint["path"] == annotations["prometheus.io/path"] for endpoint in monitor["spec"]["endpoints"])


def test_production_is_scraped_by_the_prometheus_operator():
    assert by_kind(render("production"), "ServiceMonitor")


def test_the_graceful_shutdown_fits_in_the_termination_grace_period():
    pod = one(render("production"), "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pause + int(env_of(container)["MLOPS_GRACEFUL_TIMEOUT"]) < pod["terminationGracePeriodSeconds"]
