"""deploy.yml's wiring: what triggers it, what it needs, and what its steps do with a cluster.

The job's steps run as written, with bash, against a STAND-IN for kubectl that records what
would be applied (no cluster here); `kubectl kustomize` is the real one. The whole job runs
in the Actions-engine tests.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.deploy.conftest import IMAGE, OVERLAYS
from tests.deploy.kubectl import kubectl_stand_in

WORKFLOW = REPO_ROOT / ".github/workflows/deploy.yml"


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def job() -> dict:
    return workflow()["jobs"]["deploy"]


def step(name_start: str) -> dict:
    (found,) = [s for s in job()["steps"] if s.get("name", "").startswith(name_start)]
    return found


def run_step(
    found: dict, tmp_path: Path, env: dict[str, str], cwd: Path = REPO_ROOT
) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    """Run a `run:` step as the runner does (bash -e), in a clone-like work dir; its outputs."""
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    files = {name: tmp_path / name for name in ("output", "env", "summary")}
    for path in files.values():
        path.touch()
    full_env = {
        **os.environ,
        **{key: str(value) for key, value in job()["env"].items() if "${{" not in str(value)},
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_OUTPUT": str(files["output"]),
        "GITHUB_ENV": str(files["env"]),
        "GITHUB_STEP_SUMMARY": str(files["summary"]),
        **env,
    }
    result = subprocess.run(["bash", "-e", "-c", found["run"]], cwd=cwd, env=full_env, capture_output=True, text=True)
    outputs = dict(line.split("=", 1) for line in files["output"].read_text().splitlines() if "=" in line)
    return result, outputs


def test_it_runs_only_by_hand_in_the_chosen_protected_environment():
    on = workflow()[True] if True in workflow() else workflow()["on"]
    assert set(on) == {"workflow_dispatch"}
    choice = on["workflow_dispatch"]["inputs"]["environment"]
    assert choice["type"] == "choice" and sorted(choice["options"]) == OVERLAYS
    assert job()["environment"] == "${{ inputs.environment }}"
    assert job()["env"]["OVERLAY"] == "${{ inputs.environment }}"
    assert workflow()["concurrency"]["cancel-in-progress"] is False, "a deployment is never cut off half-way"


def test_only_the_first_step_reads_the_secret_and_every_other_step_needs_it():
    steps = job()["steps"]
    first, rest = steps[0], steps[1:]
    assert first["env"]["KUBECONFIG_DATA"] == "${{ secrets.KUBECONFIG }}"
    assert "secrets." not in json.dumps(rest)
    assert all(s.get("if", "").startswith("steps.cluster.outputs.configured == 'true'") for s in rest)
    assert first["id"] == "cluster"


def test_without_a_kubeconfig_secret_it_deploys_nothing_and_says_so(tmp_path):
    result, outputs = run_step(step("Write the kubeconfig"), tmp_path, {"KUBECONFIG_DATA": "", "OVERLAY": "staging"})
    assert result.returncode == 0
    assert outputs == {"configured": "false"}
    assert "::notice::No KUBECONFIG secret in the 'staging' environment" in result.stdout
    assert not (tmp_path / "runner-temp/kubeconfig").exists()


def test_with_the_secret_it_writes_a_private_kubeconfig(tmp_path):
    result, outputs = run_step(step("Write the kubeconfig"), tmp_path, {"KUBECONFIG_DATA": "apiVersion: v1\n"})
    assert result.returncode == 0 and outputs == {"configured": "true"}
    kubeconfig = tmp_path / "runner-temp/kubeconfig"
    assert kubeconfig.read_text() == "apiVersion: v1\n\n"
    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
    assert (tmp_path / "env").read_text() == f"KUBECONFIG={kubeconfig}\n"


@pytest.fixture
def kubectl(tmp_path):
    return kubectl_stand_in(tmp_path)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_it_applies_the_overlay_with_the_published_digest_then_waits_for_that_rollout(overlay, tmp_path, kubectl):
    env = {**kubectl, "OVERLAY": overlay, "IMAGE": IMAGE}
    result, outputs = run_step(step("Apply the overlay"), tmp_path, env)
    assert result.returncode == 0, result.stderr
    record = Path(kubectl["KUBECTL_RECORD"])
    assert (record / "0.args").read_text().split() == ["apply", "-f", str(tmp_path / "runner-temp/manifests.yaml")]
    applied = [doc for doc in yaml.safe_load_all((record / "0.yaml").read_text()) if doc]
    (deployment,) = [doc for doc in applied if doc["kind"] == "Deployment"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE
    assert outputs["namespace"] == deployment["metadata"]["namespace"]
    assert IMAGE in (tmp_path / "summary").read_text()

    wait = step("Wait for the rollout")
    assert wait["env"]["NAMESPACE"] == "${{ steps.apply.outputs.namespace }}"
    result, _ = run_step(wait, tmp_path, {**kubectl, "NAMESPACE": outputs["namespace"]})
    assert result.returncode == 0
    args = (record / "1.args").read_text().split()
    assert args[:3] == ["rollout", "status", f"deployment/{deployment['metadata']['name']}"]
    assert args[args.index("--namespace") + 1] == outputs["namespace"]


def test_a_tag_instead_of_a_digest_is_refused_before_anything_is_applied(tmp_path, kubectl):
    env = {**kubectl, "OVERLAY": "staging", "IMAGE": "ghcr.io/example-org/example-model:latest"}
    result, _ = run_step(step("Apply the overlay"), tmp_path, env)
    assert result.returncode != 0
    assert list(Path(kubectl["KUBECTL_RECORD"]).iterdir()) == []


def test_the_image_comes_from_publish_and_the_smoke_test_from_mlops_smoke():
    published = step("Find the image publish pushed")["run"]
    publish = (REPO_ROOT / ".github/workflows/publish.yml").read_text()
    # publish uploads an `image` artifact with image.json; deploy downloads that one.
    assert "name: image" in publish and "image.json" in publish
    assert "--name image" in published and "image.json" in published and "--name pipeline-output" in published
    assert step("Apply the overlay")["env"]["IMAGE"] == "${{ steps.published.outputs.image }}"
    smoke = step("Smoke-test the live service")["run"]
    forwarded = smoke.split("port-forward", 1)[1].split()[3]  # --namespace NS service/NAME LOCAL:REMOTE
    local_port = forwarded.split(":")[0]
    assert f"mlops smoke --url http://127.0.0.1:{local_port}" in smoke
    service_port = forwarded.split(":")[1]
    service = yaml.safe_load((REPO_ROOT / "deploy/k8s/base/service.yaml").read_text())
    assert int(service_port) in [port["port"] for port in service["spec"]["ports"]]
