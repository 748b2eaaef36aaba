"""The audit trail and the revert, against a real `mlflow server` and the GitHub API stand-in.

Three releases are published, promoted and deployed to production as publish.yml and deploy.yml
record them (`mlops record`, `mlops promote`), the third turns out bad, and `mlops revert` puts
the second back: its provenance verified (the `gh attestation` stand-in, tests/actions/provenance.py),
its overlay applied with its digest (the kubectl stand-in, tests/deploy/kubectl.py), `champion`
moved back, and the revert recorded with its reason. `mlops history` then tells who served when,
the same from GitHub's deployments and from MLflow's tags.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from mlops.cli import main
from mlops.config import CanaryParams
from mlops.release import audit
from mlops.release.canary import Figures, decision_of, signals
from tests.actions import provenance
from tests.actions.test_release_standins import shims
from tests.actions.world import REPOSITORY
from tests.conftest import REPO_ROOT
from tests.deploy.kubectl import kubectl_stand_in

pytestmark = pytest.mark.slow  # an mlflow server

IMAGE = f"ghcr.io/{REPOSITORY}"
PUBLISH = ["record", "--event", "publish", "--environment", "release", "--image"]  # as publish.yml records


def new_commit(tmp_path: Path, message: str) -> str:
    """A commit pushed to main of the stand-in's repository (stand_in_api's clone is tmp_path/work)."""
    work = tmp_path / "work"
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", message], check=True)
    subprocess.run([*git, "push", "-q", "origin", "HEAD:main"], check=True, capture_output=True)
    return subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()


def pipeline_output(folder: Path, model: str, version: int) -> None:
    """What a release's pipeline output says about it: the model version, DVC's data hash, the verdict."""
    (folder / "models").mkdir(parents=True, exist_ok=True)
    (folder / "models/metadata.json").write_text(json.dumps({"name": model, "version": str(version)}))
    lock = {
        "schema": "2.0",
        "stages": {"ingest": {"outs": [{"path": "data/raw/dataset.parquet", "md5": f"data{version}"}]}},
    }
    (folder / "dvc.lock").write_text(yaml.safe_dump(lock))
    (folder / "reports/pr").mkdir(parents=True, exist_ok=True)
    (folder / "reports/pr/verdict.json").write_text(json.dumps({"status": "better", "text": "..."}))


@pytest.fixture
def project(github, tracking_server, tmp_path, monkeypatch):
    """A project folder (deploy/ as the repository has it), gh and kubectl stand-ins, MLflow at the server."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "deploy").symlink_to(REPO_ROOT / "deploy")
    monkeypatch.chdir(folder)
    kubectl = kubectl_stand_in(tmp_path)
    monkeypatch.setenv("PATH", f"{shims(tmp_path / 'gh-bin')}:{kubectl['PATH']}")
    monkeypatch.setenv("REAL_KUBECTL", kubectl["REAL_KUBECTL"])
    monkeypatch.setenv("KUBECTL_RECORD", kubectl["KUBECTL_RECORD"])
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_server)
    monkeypatch.setenv("GITHUB_ACTOR", "release-manager")
    return folder, Path(kubectl["KUBECTL_RECORD"])


def release(tmp_path, folder, model: str, version: int, monkeypatch) -> tuple[str, str]:
    """Publish, promote and deploy one release to production, as the workflows do; its commit and image."""
    commit, image = publish(tmp_path, folder, model, version, monkeypatch)
    assert main(["promote", "--image", image, "--repo", REPOSITORY]) == 0
    deploy = ["record", "--event", "deploy", "--environment", "production", "--image", image, "--commit", commit]
    assert main([*deploy, "--repo", REPOSITORY]) == 0
    return commit, image


def publish(tmp_path, folder, model: str, version: int, monkeypatch) -> tuple[str, str]:
    """Register, publish and attest one release as publish.yml does; its commit and image."""
    from mlflow import MlflowClient

    commit = new_commit(tmp_path, f"release {version}")
    digest = "sha256:" + f"{version:02d}" * 32
    image = f"{IMAGE}@{digest}"
    MlflowClient().create_model_version(model, source=f"s3://models/{model}/{version}")  # not a local path: refused
    pipeline_output(folder, model, version)
    monkeypatch.setenv("GITHUB_SHA", commit)  # publish runs on the release's commit
    provenance.attest(IMAGE, digest, "token")  # publish.yml attests the digest
    assert (
        main(["record", "--event", "publish", "--environment", "release", "--image", image, "--repo", REPOSITORY]) == 0
    )
    return commit, image


def applied_image(record: Path) -> str:
    (applied,) = sorted(record.glob("*.yaml"))
    (deployment,) = [d for d in yaml.safe_load_all(applied.read_text()) if d and d["kind"] == "Deployment"]
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"]


def registered_model(name: str):
    """A client of the test's MLflow server, where a model `name` is now registered."""
    from mlflow import MlflowClient

    client = MlflowClient()
    client.create_registered_model(name)
    return client


def history_rows(capsys, *args: str, environment: str = "production") -> list[dict[str, str]]:
    """`mlops history ENVIRONMENT`'s table, a dict per row (columns as the header places them)."""
    capsys.readouterr()
    assert main(["history", environment, *args]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    names = header.split()
    starts = [header.index(name) for name in names]
    ends = [*starts[1:], None]
    return [{n: line[a:b].strip() for n, a, b in zip(names, starts, ends, strict=True)} for line in lines]


def test_three_releases_a_bad_one_and_its_revert_are_recorded_and_the_history_tells_who_served_when(
    github, project, tmp_path, monkeypatch, capsys
):
    api, _, _ = github
    folder, kubectl_record = project
    client = registered_model("churn")
    releases = [release(tmp_path, folder, "churn", version, monkeypatch) for version in (1, 2, 3)]
    assert client.get_model_version_by_alias("churn", "champion").version == "3"

    # GitHub Actions' own deployment of a job that names the environment: no payload, not a record.
    (actions,) = audit.gh_api(f"repos/{REPOSITORY}/deployments", {"ref": "main", "environment": "production"})
    audit.gh_api(f"repos/{REPOSITORY}/deployments/{actions['id']}/statuses", {"state": "success"})
    before = history_rows(capsys, "--repo", REPOSITORY)
    assert [(row["event"], row["version"]) for row in before] == [("deploy", "1"), ("deploy", "2"), ("deploy", "3")]
    assert [row["digest"] for row in before] == [image.split("@")[1][:19] for _, image in releases]
    assert [row["commit"] for row in before] == [commit[:12] for commit, _ in releases]
    assert before[-1]["until"] == "now"  # version 3 serves; each earlier one until the next took over
    assert [row["until"] for row in before[:-1]] == [row["from"] for row in before[1:]]
    assert {row["actor"] for row in before} == {"release-manager"}
    promotions = history_rows(capsys, "--repo", REPOSITORY, environment="release")
    assert [(row["event"], row["version"]) for row in promotions] == [("promote", v) for v in "123"]

    monkeypatch.setenv("GITHUB_ACTOR", "on-call")
    reason = "version 3 mislabels churners"
    assert main(["revert", "--environment", "production", "--version", "2", "--reason", reason]) == 0

    # The earlier digest applied to production's overlay, and waited for.
    commit, image = releases[1]
    assert applied_image(kubectl_record) == image
    rollout = (kubectl_record / "1.args").read_text().split()
    assert rollout[:3] == ["rollout", "status", "deployment/mlops-serving"]
    assert rollout[rollout.index("--namespace") + 1] == "mlops-production"
    # The alias back.
    assert client.get_model_version_by_alias("churn", "champion").version == "2"
    # The record: on GitHub a deployment of the release's commit to production...
    *_, last = sorted(api.state.deployments.values(), key=lambda d: d["id"])
    assert (last["task"], last["environment"], last["sha"]) == ("mlops:revert", "production", commit)
    payload = last["payload"]
    assert payload["digest"] == image.split("@")[1] and payload["version"] == "2" and payload["reason"] == reason
    assert payload["actor"] == "on-call" and payload["data"] == "data2" and payload["verdict"] == "better"
    assert [s["state"] for s in api.state.deployment_statuses[last["id"]]] == ["success"]
    # ...and in MLflow a tag of version 2 holding the same record.
    tags = client.get_model_version("churn", "2").tags
    (revert_tag,) = [key for key in tags if key.startswith("mlops.record.") and key.endswith(".revert.production")]
    assert json.loads(tags[revert_tag]) == payload
    assert tags["mlops.image"] == image and tags["mlops.commit"] == commit and tags["mlops.data_version"] == "data2"
    assert tags["mlops.verdict"] == "better"
    assert not any(key.endswith(".revert.production") for key in client.get_model_version("churn", "3").tags)

    after = history_rows(capsys, "--repo", REPOSITORY)
    assert after[:2] == before[:2] and len(after) == 4
    assert after[2]["until"] == after[3]["from"]  # version 3 served until the revert
    revert = after[3]
    assert (revert["event"], revert["version"], revert["until"], revert["actor"]) == ("revert", "2", "now", "on-call")
    assert revert["reason"] == reason and revert["digest"] == image.split("@")[1][:19]
    assert history_rows(capsys, "--source", "mlflow", "--model", "churn") == after  # one trail, two places


def test_a_revert_that_cannot_be_done_says_why_in_one_line_and_changes_nothing(
    github, project, tmp_path, monkeypatch, capsys
):
    api, _, _ = github
    folder, kubectl_record = project
    client = registered_model("ambiguous")
    release(tmp_path, folder, "ambiguous", 1, monkeypatch)
    # Without a tracking server every model is version 1: two images of "version 1".
    commit = new_commit(tmp_path, "same version, new image")
    monkeypatch.setenv("GITHUB_SHA", commit)
    unattested = f"{IMAGE}@sha256:{'ee' * 32}"
    assert (
        main(["record", "--event", "publish", "--environment", "release", "--image", unattested, "--repo", REPOSITORY])
        == 0
    )
    written = len(api.state.deployments)

    def revert(*args: str) -> str:
        capsys.readouterr()
        assert main(["revert", "--environment", "production", "--reason", "bad", *args]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        return err

    assert "no published release has version 7" in revert("--version", "7")
    ambiguous = revert("--version", "1")
    assert "version 1 names 2 published images" in ambiguous and "give --digest" in ambiguous
    assert "could not verify the provenance" in revert("--digest", unattested.split("@")[1])
    assert "which release?" in revert()
    assert "say why in --reason" in revert("--version", "1", "--reason", " ")
    assert list(kubectl_record.iterdir()) == []  # nothing applied
    assert client.get_model_version_by_alias("ambiguous", "champion").version == "1"
    assert len(api.state.deployments) == written  # nothing recorded


def canary_decision(folder: Path, canary: Figures) -> Path:
    """The decision file `mlops canary check --decision` writes, for a canary that did `canary`."""
    stable = Figures(requests=1000, errors=0, p99=0.004, mix={"stay": 700, "churn": 300})
    judged = signals(stable, canary, CanaryParams())
    decision = decision_of(
        judged, stable, canary, CanaryParams(), prometheus="http://127.0.0.1:9090", window="10m",
        selectors={"stable": 'track="stable"', "canary": 'track="canary"'},
    )  # fmt: skip
    path = folder / f"decision-{len(list(folder.glob('decision-*')))}.json"
    path.write_text(json.dumps(decision))
    return path


def test_each_canary_decision_is_recorded_with_its_signals_and_the_history_lists_it(
    github, project, tmp_path, monkeypatch, capsys
):
    api, _, _ = github
    folder, _ = project
    client = registered_model("canaried")
    _, stable = release(tmp_path, folder, "canaried", 1, monkeypatch)
    commit, image = publish(tmp_path, folder, "canaried", 2, monkeypatch)
    monkeypatch.setenv("GITHUB_ACTOR", "deployer")

    # Version 2 as a canary beside version 1: 32 ms at p99 against 4 ms, rolled back.
    slow = canary_decision(folder, Figures(requests=110, errors=0, p99=0.032, mix={"stay": 77, "churn": 33}))
    canary = ["record", "--event", "canary", "--environment", "production", "--image", image, "--stable", stable]
    capsys.readouterr()
    assert main([*canary, "--decision", str(slow), "--commit", commit, "--repo", REPOSITORY]) == 0
    assert "rolled back, v1 " in capsys.readouterr().out

    *_, last = sorted(api.state.deployments.values(), key=lambda d: d["id"])
    assert (last["task"], last["environment"], last["sha"]) == ("mlops:canary", "production", commit)
    (status,) = api.state.deployment_statuses[last["id"]]
    assert (status["state"], status["environment"]) == ("failure", "production")
    digest = image.split("@")[1]
    assert (
        status["description"]
        == (
            f"canary canaried v2 {digest[:19]} by deployer: rolled back, v1 {stable.split('@')[1][:19]} serves on: "
            "p99 latency over 10m"
        )[:140]
    )
    recorded = last["payload"]["canary"]
    assert recorded["decision"] == "rollback" and recorded["window"] == "10m"
    assert recorded["stable"] == {"image": stable, "digest": stable.split("@")[1], "model": "canaried", "version": "1"}
    assert [(s["name"], s["ok"]) for s in recorded["signals"]] == [
        ("traffic", True), ("server errors", True), ("p99 latency", False), ("prediction mix", True),
    ]  # fmt: skip
    assert recorded["signals"][2]["figures"] == "canary 32.0 ms, stable 4.0 ms (not over 1.5x and 25 ms more)"
    assert recorded["limits"]["max_p99_ratio"] == 1.5
    assert last["payload"]["actor"] == "deployer" and last["payload"]["version"] == "2"
    tags = client.get_model_version("canaried", "2").tags  # on the canary's model version
    (key,) = [key for key in tags if key.startswith("mlops.record.") and key.endswith(".canary.production")]
    assert json.loads(tags[key]) == last["payload"]

    # Tried again, as good as version 1: promoted, then deployed.
    good = canary_decision(folder, Figures(requests=110, errors=0, p99=0.004, mix={"stay": 76, "churn": 34}))
    assert main([*canary, "--decision", str(good), "--commit", commit, "--repo", REPOSITORY]) == 0
    *_, promoted = sorted(api.state.deployments.values(), key=lambda d: d["id"])
    assert [s["state"] for s in api.state.deployment_statuses[promoted["id"]]] == ["success"]
    deploy = ["record", "--event", "deploy", "--environment", "production", "--image", image, "--commit", commit]
    assert main([*deploy, "--repo", REPOSITORY]) == 0

    rows = history_rows(capsys, "--repo", REPOSITORY)
    assert [(row["event"], row["version"], row["until"]) for row in rows] == [
        ("deploy", "1", rows[3]["from"]),  # version 1 served through both canaries, until version 2's deploy
        ("canary", "2", "-"),
        ("canary", "2", "-"),
        ("deploy", "2", "now"),
    ]
    assert rows[1]["reason"].startswith("rolled back, v1 ") and rows[1]["reason"].endswith("p99 latency over 10m")
    assert rows[2]["reason"].startswith("promoted over v1 ") and rows[2]["actor"] == "deployer"
    assert history_rows(capsys, "--source", "mlflow", "--model", "canaried") == rows  # one trail, two places


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--event", "canary"], "--decision and --stable go with --event canary"),
        (["--event", "deploy", "--decision", "d.json", "--stable", IMAGE + "@sha256:" + "01" * 32], "go with"),
        (["--event", "canary", "--decision", "missing.json"], "cannot read the canary's decision missing.json"),
        (["--event", "canary", "--decision", "odd.json"], "not a decision of `mlops canary check`"),
    ],
)
def test_a_canary_record_without_its_decision_is_refused_in_one_line(argv, message, github, project, capsys):
    folder, _ = project
    pipeline_output(folder, "refused", 1)
    (folder / "odd.json").write_text('{"decision": "promote"}')
    stable = ["--stable", IMAGE + "@sha256:" + "01" * 32] if "--stable" not in argv and "--decision" in argv else []
    image = IMAGE + "@sha256:" + "02" * 32
    assert main(["record", *argv, *stable, "--environment", "production", "--image", image, "--repo", REPOSITORY]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert message in line
    assert github[0].state.deployments == {}  # nothing recorded
