"""The optional settings, run by the Actions engine: a real `mlflow server` and an S3-compatible DVC remote.

The test starts both on 127.0.0.1: MLflow's own server (SQLite store, artifacts served by it)
and moto's S3 server mode with dummy credentials, used by DVC through dvc-s3. The repository's
variables and secrets point the workflows at them, as a team would set them on GitHub.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from mlops.config import load_params
from mlops.http import free_port
from tests.actions.test_scenarios import manifest, pipeline_output, set_param
from tests.mlflow_server import BIN, stop
from tests.waiting import wait_for_url

pytestmark = [pytest.mark.slow, pytest.mark.container]


@pytest.fixture(scope="module")
def servers(world, tracking_server):
    s3_port = free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    s3 = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(s3_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    try:
        # 600 s: a start-up limit on a busy machine, not a speed check
        wait_for_url(f"http://127.0.0.1:{s3_port}/", 600, "moto's S3 server", s3)
        import boto3

        endpoint = f"http://127.0.0.1:{s3_port}"
        bucket = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                              aws_secret_access_key="testing")  # fmt: skip
        bucket.create_bucket(Bucket="dvc")
        world.variables.update(
            DVC_REMOTE_URL="s3://dvc/cache", DVC_REMOTE_ENDPOINT_URL=endpoint, MLFLOW_TRACKING_URI=tracking_server
        )
        # The read-only key as a repository secret, the write key in `release` (docs/workflows.md);
        # moto checks no key, so what proves who writes is which runs push (below).
        world.secrets.update(AWS_READ_ACCESS_KEY_ID="testing", AWS_READ_SECRET_ACCESS_KEY="testing")
        release = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        world.environments["release"] = {"secrets": release, "branches": {"main"}}
        yield {"s3": bucket, "mlflow": tracking_server}
    finally:
        stop(s3)  # in a session of its own: its workers go with it


def remote_objects(servers) -> dict[str, str]:
    """Key -> ETag of everything in the DVC remote's bucket."""
    pages = servers["s3"].get_paginator("list_objects_v2").paginate(Bucket="dvc")
    return {item["Key"]: item["ETag"] for page in pages for item in page.get("Contents", [])}


def versions(servers, name: str) -> list[str]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=servers["mlflow"])
    return sorted(v.version for v in client.search_model_versions(f"name='{name}'"))


def champion(servers, name: str) -> str:
    from mlflow import MlflowClient

    return str(MlflowClient(tracking_uri=servers["mlflow"]).get_model_version_by_alias(name, "champion").version)


def test_7_main_pushes_to_the_remote_and_the_registry_pull_requests_do_not_and_champion_waits_for_the_smoke_test(
    world, servers
):
    name = load_params(world.dev / "params.yaml").mlflow.registered_model
    sha = world.git("rev-parse", "origin/main")

    (first,) = world.push("main", sha)
    assert first.conclusion == "success", first.explain()
    assert versions(servers, name) == ["1"] and champion(servers, name) == "1"
    assert manifest(world, "model-1") is not None
    assert servers["s3"].list_objects_v2(Bucket="dvc").get("KeyCount", 0) > 0, "main pushed nothing to the remote"

    # A pull request trains, into a throwaway store, with the read-only key: the registry keeps
    # main's versions only, and the remote (data and run-cache) holds only what main wrote.
    params = load_params(world.dev / "params.yaml")
    key, value = next((k, v) for k, v in params.train.hyperparameters.items() if type(v) is int)
    world.commit("tune", "tune", lambda f: set_param(f, f"train.hyperparameters.{key}", value + 5))
    stored = remote_objects(servers)
    (pull,) = world.pull_request(world.open_pull_request("tune"), action="opened")
    assert pull.conclusion == "success", pull.explain()
    assert versions(servers, name) == ["1"]
    assert remote_objects(servers) == stored, "a pull request's run wrote to the DVC remote"

    # A new runner without the actions cache pulls from the remote instead of recomputing.
    shutil.rmtree(world.root / "storage" / "caches")
    sha = world.commit("main", "Docs", lambda f: (f / "NOTES.md").write_text("no stage reads this\n"))
    (second,) = world.push("main", sha)
    assert second.conclusion == "success", second.explain()
    assert "Running stage 'train'" not in pipeline_output(second)
    assert versions(servers, name) == ["1"] and champion(servers, name) == "1"

    # A merge whose image fails the smoke test: the new version is registered, champion stays.
    def retrain_and_break_the_image(folder):
        set_param(folder, f"train.hyperparameters.{key}", value + 9)
        dockerfile = folder / "Dockerfile"
        dockerfile.write_text(dockerfile.read_text() + '\nCMD ["python", "-c", "raise SystemExit(3)"]\n')

    sha = world.commit("main", "Retrain; a broken image", retrain_and_break_the_image)
    (broken,) = world.push("main", sha)
    assert broken.conclusion == "failure" and broken.jobs()["image"] == "failure", broken.explain()
    smoke = "Smoke-test the image (its predictions must equal the pipeline's)"
    assert broken.steps("image").get(smoke) == "failure", broken.steps("image")
    assert versions(servers, name) == ["1", "2"] and champion(servers, name) == "1"
    containers = subprocess.run(
        ["podman", "ps", "--all", "--format", "{{.Names}}"],
        env=world.podman,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    left = [c for c in containers if c.startswith(f"candidate-{broken.id}-")]
    assert left == [], f"the failed smoke test left {left} behind for the next run"
