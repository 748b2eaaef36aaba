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


def test_only_the_first_step_reads_the_kubeconfig_and_every_other_step_needs_it():
    steps = job()["steps"]
    first, rest = steps[0], steps[1:]
    assert first["env"]["KUBECONFIG_DATA"] == "${{ secrets.KUBECONFIG }}"
    assert "secrets.KUBECONFIG" not in json.dumps(rest)
    assert all(s.get("if", "").startswith("steps.cluster.outputs.configured == 'true'") for s in rest)
    assert first["id"] == "cluster"
    # The MLflow credentials go to the steps that write records only: the canary's decision, and
    # the last, which moves `champion` and tags the model version.
    reading = [s for s in rest if "secrets." in json.dumps(s)]
    assert [s["name"] for s in reading] == [
        "Record the canary's decision (promoted or rolled back) in the audit trail",
        rest[-1]["name"],
    ] and rest[-1]["name"].startswith("Record the deploy")
    for found in reading:
        assert {v for v in found["env"].values() if "secrets." in v} == {
            f"${{{{ secrets.{name} }}}}"
            for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")
        }


def test_a_revert_is_a_deploy_of_the_earlier_releases_commit_found_by_the_release_job():
    on = workflow()[True]["workflow_dispatch"]["inputs"]
    assert {name: on[name]["default"] for name in ("version", "digest", "reason")} == dict.fromkeys(
        ("version", "digest", "reason"), ""
    )
    release = workflow()["jobs"]["release"]
    assert release["if"] == "inputs.version != '' || inputs.digest != ''"
    assert "secrets." not in json.dumps(release) and release["permissions"] == {
        "contents": "read",
        "deployments": "read",
    }
    assert job()["needs"] == "release" and "needs.release.result != 'failure'" in job()["if"]
    # A revert is a run whose `release` succeeded: a skipped job's outputs are never read.
    revert_commit = "${{ needs.release.result == 'success' && needs.release.outputs.commit || github.sha }}"
    assert step("Find the image publish pushed")["env"]["COMMIT"] == revert_commit
    last = job()["steps"][-1]
    assert "mlops revert --deployed" in last["run"] and "mlops record --event deploy" in last["run"]
    assert (
        last["env"]["REVERT"] == "${{ needs.release.result == 'success' }}" and last["env"]["COMMIT"] == revert_commit
    )
    assert step("Revert: the image found")["if"].endswith("needs.release.result == 'success'")
    assert step("Start the canary")["if"].endswith("needs.release.result != 'success'")
    for found in job()["steps"]:
        text = json.dumps(found)
        assert "needs.release.outputs." not in text or "needs.release.result == 'success'" in text, found["name"]
    # No input reaches a script as text: each comes in through the environment.
    for found in [*release["steps"], *job()["steps"]]:
        assert "inputs." not in found.get("run", ""), found.get("name")


@pytest.mark.parametrize(("found", "asked", "passes"), [(IMAGE, IMAGE, True), (IMAGE, IMAGE[:-1] + "0", False)])
def test_a_revert_stops_when_the_commits_last_run_published_another_image(found, asked, passes, tmp_path):
    result, _ = run_step(step("Revert: the image found"), tmp_path, {"FOUND": found, "ASKED": asked})
    assert (result.returncode == 0) == passes
    if not passes:
        assert f"published {found}, not the release asked for ({asked}): nothing was deployed" in result.stdout


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


def test_the_artifacts_a_revert_downloads_are_kept_the_90_days_the_docs_say():
    kept = {}
    for name, job_id in (("train.yml", "pipeline"), ("publish.yml", "image")):
        steps = yaml.safe_load((REPO_ROOT / ".github/workflows" / name).read_text())["jobs"][job_id]["steps"]
        for found in steps:
            if str(found.get("uses", "")).startswith("actions/upload-artifact@"):
                kept[found["with"]["name"]] = found["with"]["retention-days"]
    assert {name: kept[name] for name in ("pipeline-output", "image", "model-signature")} == dict.fromkeys(
        ("pipeline-output", "image", "model-signature"), 90
    )
    assert "which GitHub\nkeeps 90 days (`retention-days`)" in (REPO_ROOT / "docs/deploy.md").read_text()
