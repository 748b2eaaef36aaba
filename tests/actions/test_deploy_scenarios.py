"""deploy.yml's canary and revert paths, run by a real Actions engine (act) against the stand-ins.

Two releases of one model are published, as publish.yml leaves them: a successful train.yml run
of each commit with its artifacts (pipeline-output, image, model-signature), the image's
provenance attested (provenance.py) and the publish record (`mlops record --event publish`).
Then deploy.yml runs three times, as `gh workflow run deploy.yml` starts it:

- to staging, with the second release as a canary as good as the first: promoted, then deployed
- to production, with a canary that fails every fifth request: rolled back, nothing else deployed
- to production again, a revert to the first release by its digest: no canary, deployed, recorded

What stands in for the cluster: kubectl is the STAND-IN of tests/deploy/kubectl.py (`kustomize`
real; apply, rollout, get and delete recorded; `get` answers the image the cluster serves), and
the pods are gunicorn services of this repository on loopback, scraped every second by a real
Prometheus with the labels the cluster's ServiceMonitor gives them (namespace and track). The
smoke step's `kubectl port-forward` listens on 127.0.0.1:8080: there the test runs the service
of the release the cluster would then serve. No image is built: manifests name images by digest
and no pod pulls them.

The one line of deploy.yml the world's repository changes: whom the model's signature must come
from. deploy.yml trusts publish.yml's Sigstore identity (MLOPS_MODEL_SIGNER_IDENTITY); verifying
it needs a Fulcio certificate and a Rekor log entry, made with GitHub's OIDC token, and Sigstore's
trust root: none is here (act gives no OIDC token, so publish.yml signs nothing: scenario 2c of
test_scenarios.py stops there). The world trusts a key instead (MLOPS_MODEL_PUBLIC_KEY), as a team
that signs with its own key would, and its releases are signed with that key (`mlops sign --key`):
`mlops verify` and `mlops smoke` check the signatures for real.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mlops import http
from tests.actions import provenance
from tests.actions.world import REPOSITORY, TOKEN
from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.container]

IMAGE = f"ghcr.io/{REPOSITORY}"
MLOPS = str(Path(sys.executable).parent / "mlops")
SMOKE_PORT = 8080  # deploy.yml's smoke step: kubectl port-forward ... 8080:80
TRUSTED = "      MLOPS_MODEL_SIGNER_IDENTITY: "  # the job's env line naming whom to trust
NAMESPACES = {"staging": "mlops-staging", "production": "mlops-production"}
CANARY_STEPS = (
    "Start the canary (the new image beside the stable one, on a share of the traffic)",
    "Let the canary serve for canary.window (params.yaml)",
    "Check the canary against the stable release (Prometheus, over canary.window)",
    "Record the canary's decision (promoted or rolled back) in the audit trail",
    "Roll the canary back (the stable release keeps all the traffic)",
    "Remove the canary (promoted, its image now runs in the stable Deployment)",
)


# ---------------------------------------------------------------- the releases, as publish.yml leaves them


def trust_key(public_key: Path):
    """The world's change to deploy.yml: its releases are signed with a key, not with Sigstore."""

    def change(folder: Path) -> None:
        path = folder / ".github/workflows/deploy.yml"
        lines = path.read_text().splitlines(keepends=True)
        (at,) = [i for i, line in enumerate(lines) if line.startswith(TRUSTED)]
        lines[at] = f"      MLOPS_MODEL_PUBLIC_KEY: {public_key}\n"
        path.write_text("".join(lines))

    return change


def release_folder(project: Path, folder: Path, version: int, key: Path) -> Path:
    """The pipeline output of one release: the project's model as version `version`, signed with `key`."""
    from mlops import signing
    from mlops.io import load_model
    from mlops.schema import Schema

    shutil.copytree(project, folder)
    metadata = json.loads((folder / "models/metadata.json").read_text())
    (folder / "models/metadata.json").write_text(json.dumps({**metadata, "version": str(version)}))
    (folder / "models/model.sig").unlink(missing_ok=True)
    signing.sign(folder / "models", key)
    schema = Schema.load(folder / "data/prepared/schema.json")
    test = pd.read_parquet(folder / "data/prepared/test.parquet")
    predicted = load_model(folder / "models/model.skops").predict(schema.features_frame(test))
    (folder / "data/predictions").mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"predicted": [str(p) for p in predicted]}).to_csv(folder / "data/predictions/test.csv", index=False)
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    # A short window; 0.2 s of p99 margin keeps a stall of this busy machine from looking like a slow canary.
    params["canary"].update(window="10s", min_requests=20, min_p99_increase=0.2)
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    lock = {
        "schema": "2.0",
        "stages": {"ingest": {"outs": [{"path": "data/raw/dataset.parquet", "md5": f"d{version}"}]}},
    }
    (folder / "dvc.lock").write_text(yaml.safe_dump(lock))
    (folder / "reports/pr").mkdir(parents=True, exist_ok=True)
    (folder / "reports/pr/verdict.json").write_text(json.dumps({"status": "better"}))
    return folder


def publish(world, folder: Path, sha: str, digest: str) -> None:
    """What publish.yml leaves of a release: a train run of `sha` with its artifacts, an attestation
    of the image's digest, and the publish record."""
    run_id = world.state.new_id()
    world.state.runs[run_id] = {
        "id": run_id, "name": "train", "path": ".github/workflows/train.yml", "event": "push",
        "head_branch": "main", "head_sha": sha, "status": "completed", "conclusion": "success",
        "head_repository": {"full_name": REPOSITORY}, "privileged": True,
    }  # fmt: skip
    artifacts = world.root / "storage/runs" / str(run_id) / "artifacts"
    output = artifacts / "pipeline-output"
    for name in ("params.yaml", "dvc.lock", "reports", "models", "data/prepared", "data/predictions"):
        copy = shutil.copytree if (folder / name).is_dir() else shutil.copy
        (output / name).parent.mkdir(parents=True, exist_ok=True)
        copy(folder / name, output / name)
    (output / "models/model.sig").unlink()  # in its own artifact, as publish.yml uploads it
    (artifacts / "image").mkdir()
    (artifacts / "image/image.json").write_text(json.dumps({"image": IMAGE, "digest": digest}))
    (artifacts / "model-signature").mkdir()
    shutil.copy(folder / "models/model.sig", artifacts / "model-signature/model.sig")
    env = {
        **world.env(), "GH_TOKEN": TOKEN, "RUNNER_TEMP": str(folder), "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_REF": "refs/heads/main", "GITHUB_SHA": sha, "GITHUB_WORKSPACE": str(world.dev),
        "GITHUB_ACTOR": "publisher",
    }  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        provenance.attest(IMAGE, digest, TOKEN)
    done = subprocess.run(
        [MLOPS, "record", "--event", "publish", "--environment", "release",
         "--image", f"{IMAGE}@{digest}", "--repo", REPOSITORY],
        cwd=folder, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


# ---------------------------------------------------------------- the cluster's stand-ins


def services(tmp_path: Path, releases: dict[int, Path]) -> dict:
    """The pods: the first release (stable), the second as good, and the second failing every fifth request."""
    from tests.serving.conftest import Server

    faulty = {"app": "tests.deploy.canary_faults:create_app()", "PYTHONPATH": str(REPO_ROOT)}
    kinds = {"stable": (releases[1], {}), "good": (releases[2], {}), "errors": (releases[2], faulty)}
    started = {}
    for name, (release, env) in kinds.items():
        (tmp_path / name).mkdir()
        extra = {"CANARY_FAULT_ERROR_EVERY": "5", **env} if name == "errors" else env
        started[name] = Server(release / "models", tmp_path / name, workers=1, **extra)
    return started


@contextlib.contextmanager
def traffic(servers: dict, rows: list[dict]):
    """Requests to every service, spread over time, as users send them, until the block ends (at most 10 min)."""
    stop = threading.Event()

    def post(server) -> None:
        for i in range(12000):
            if stop.wait(0.1):
                return
            http.request(f"{server.url}/predict", {"instances": rows[(i * 5) % len(rows) :][:5]}, 10)

    threads = [threading.Thread(target=post, args=(server,)) for server in servers.values()]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def scrape_jobs(servers: dict) -> list[dict]:
    """The series as the cluster's ServiceMonitor labels them: each overlay's namespace, and the track."""

    def target(name: str) -> str:
        return servers[name].url.removeprefix("http://")

    return [
        {
            "job_name": f"pods-{overlay}",
            "static_configs": [
                {"targets": [target("stable")], "labels": {"namespace": NAMESPACES[overlay], "track": "stable"}},
                {"targets": [target(canary)], "labels": {"namespace": NAMESPACES[overlay], "track": "canary"}},
            ],
        }
        for overlay, canary in (("staging", "good"), ("production", "errors"))
    ]


@contextlib.contextmanager
def cluster(world, tmp_path: Path, serving: str):
    """kubectl's stand-in on the runner's PATH, answering that `serving` runs on 3 pods; what it recorded."""
    from tests.deploy.kubectl import KUBECTL_STAND_IN

    record = tmp_path / f"kubectl-{len(list(tmp_path.glob('kubectl-*')))}"
    record.mkdir()
    (world.bin / "kubectl-stand-in").write_text(KUBECTL_STAND_IN)
    (world.bin / "kubectl").write_text(
        f"#!/bin/sh\nexport REAL_KUBECTL={shutil.which('kubectl')} KUBECTL_RECORD={record}\n"
        f'export KUBECTL_LIVE="{serving} 3"\nexec {shutil.which("bash", path="/usr/bin:/bin")} '
        f'{world.bin / "kubectl-stand-in"} "$@"\n'
    )
    (world.bin / "kubectl").chmod(0o755)
    try:
        yield record
    finally:
        for name in ("kubectl", "kubectl-stand-in"):
            (world.bin / name).unlink()


@contextlib.contextmanager
def port_forwarded(release: Path, tmp_path: Path):
    """What `kubectl port-forward service/mlops-serving 8080:80` reaches: the release the cluster serves."""
    from tests.serving.conftest import Server

    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", SMOKE_PORT), timeout=1):
        pytest.fail(f"127.0.0.1:{SMOKE_PORT} is taken: deploy.yml's smoke step forwards the service there")
    folder = tmp_path / f"forwarded-{len(list(tmp_path.glob('forwarded-*')))}"
    folder.mkdir()
    # PORT wins over the free port Server picks (its port_variable): the smoke step's port.
    server = Server(release / "models", folder, workers=1, port_variable="UNUSED_PORT", PORT=str(SMOKE_PORT))
    server.url = f"http://127.0.0.1:{SMOKE_PORT}"
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def dispatch(world, inputs: dict):
    """deploy.yml started by hand (workflow_dispatch) on main, its inputs as GitHub gives them."""
    full = {"environment": "staging", "version": "", "digest": "", "reason": "", **inputs}
    payload = {"ref": "refs/heads/main", "inputs": full, "repository": world.repository_json()}
    main = world.git("rev-parse", "origin/main")
    return world.run("deploy.yml", "workflow_dispatch", payload, main, "main", ref="refs/heads/main")


def calls(record: Path) -> list[list[str]]:
    """kubectl's arguments, call by call."""
    count = len(list(record.glob("*.args")))
    return [(record / f"{n}.args").read_text().split() for n in range(count)]


def applied_images(record: Path, n: int) -> dict[str, str]:
    documents = yaml.safe_load_all((record / f"{n}.yaml").read_text())
    return {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["image"]
        for d in documents
        if d and d["kind"] == "Deployment"
    }


def new_records(world, before: set[int], task: str) -> list[dict]:
    return [d for i, d in sorted(world.state.deployments.items()) if i not in before and d["task"] == task]


# ---------------------------------------------------------------- the scenario


def test_a_canary_is_promoted_another_rolled_back_and_a_revert_skips_the_canary(world, tmp_path_factory):
    from tests.monitoring.test_prometheus import query, running_prometheus, wait_for
    from tests.serving.conftest import build_project, to_records
    from tests.serving.test_signing import write_key

    if not shutil.which("prometheus"):
        pytest.fail("prometheus is needed (.ci/apt-packages.txt)")
    tmp_path = tmp_path_factory.mktemp("deploy-scenarios")
    project = tmp_path / "project"
    project.mkdir()
    build_project(project)
    key = tmp_path / "team.pem"
    write_key(key)
    first = world.commit("main", "Trust the team's signing key", trust_key(key.with_suffix(".pub")))
    changed = difflib.unified_diff(
        (REPO_ROOT / ".github/workflows/deploy.yml").read_text().splitlines(),
        (world.dev / ".github/workflows/deploy.yml").read_text().splitlines(),
        n=0,
    )
    assert [line for line in changed if line[:1] in "+-" and line[:3] not in ("+++", "---")] == [
        next(line for line in (REPO_ROOT / ".github/workflows/deploy.yml").read_text().splitlines()
             if line.startswith(TRUSTED)).replace("      ", "-      ", 1),
        f"+      MLOPS_MODEL_PUBLIC_KEY: {key.with_suffix('.pub')}",
    ]  # fmt: skip
    second = world.commit("main", "A second release", lambda f: (f / "NOTES.md").write_text("release 2\n"))
    releases = {v: release_folder(project, tmp_path / f"release-{v}", v, key) for v in (1, 2)}
    digests = {1: "sha256:" + "a1" * 32, 2: "sha256:" + "b2" * 32}
    images = {v: f"{IMAGE}@{digest}" for v, digest in digests.items()}
    publish(world, releases[1], first, digests[1])
    publish(world, releases[2], second, digests[2])
    for environment in NAMESPACES:
        world.environments[environment] = {"secrets": {"KUBECONFIG": "apiVersion: v1\n"}, "branches": {"main"}}

    pods = services(tmp_path, releases)
    try:
        for server in pods.values():
            server.wait_ready()
        (tmp_path / "prometheus").mkdir()
        with running_prometheus(tmp_path / "prometheus", "", scrape_jobs(pods)) as api:
            rows = to_records(pd.read_parquet(project / "data/prepared/test.parquet"))
            # Every row once first: increase() leaves out a series' first sample.
            for server in pods.values():
                http.request(f"{server.url}/predict", {"instances": rows}, 10)
            wait_for(lambda: len(query(api, "mlops_requests_total")) >= 6, 30, "the pods' series")
            world.variables["PROMETHEUS_URL"] = api
            with traffic(pods, rows):
                # 1. staging: the second release as a canary beside the first, as good: promoted, deployed.
                before = set(world.state.deployments)
                with cluster(world, tmp_path, images[1]) as record, port_forwarded(releases[2], tmp_path):
                    promoted = dispatch(world, {"environment": "staging"})
                assert promoted.conclusion == "success", promoted.explain()
                assert ran(promoted) == {"deploy": "success"}  # no `release` job: not a revert
                steps = promoted.steps("deploy")
                assert {name: steps.get(name, "skipped") for name in CANARY_STEPS} == {
                    **dict.fromkeys(CANARY_STEPS, "success"),
                    CANARY_STEPS[4]: "skipped",
                }, steps
                assert "canary check: promote" in promoted.output("deploy")
                kubectl = calls(record)
                verbs = [args[0] for args in kubectl]
                assert verbs == ["get", "apply", "rollout", "apply", "rollout", "delete", "port-forward"], kubectl
                assert applied_images(record, 1) == {"mlops-serving": images[1], "mlops-serving-canary": images[2]}
                assert applied_images(record, 3) == {"mlops-serving": images[2]}
                assert kubectl[5][:3] == ["delete", "deployment", "mlops-serving-canary"]
                (canary,) = new_records(world, before, "mlops:canary")
                assert_canary_record(world, canary, "staging", "promote", images, second)
                (deployed,) = new_records(world, before, "mlops:deploy")
                assert (deployed["environment"], deployed["payload"]["digest"]) == ("staging", digests[2])

                # 2. production: a canary failing every fifth request: rolled back, nothing else applied.
                before = set(world.state.deployments)
                with cluster(world, tmp_path, images[1]) as record:
                    rolled_back = dispatch(world, {"environment": "production"})
                assert rolled_back.conclusion == "failure"
                steps = rolled_back.steps("deploy")
                assert {name: steps.get(name, "skipped") for name in CANARY_STEPS} == {
                    **dict.fromkeys(CANARY_STEPS, "success"),
                    CANARY_STEPS[4]: "failure",  # it exits 1: the run fails, the stable release serves
                }, steps
                assert "Apply the overlay with the image digest" not in steps, steps  # act lists no skipped step
                output = rolled_back.output("deploy")
                assert "canary check: roll back" in output and "server errors" in output
                kubectl = calls(record)
                assert [args[0] for args in kubectl] == ["get", "apply", "rollout", "delete", "delete"], kubectl
                assert applied_images(record, 1) == {"mlops-serving": images[1], "mlops-serving-canary": images[2]}
                (canary,) = new_records(world, before, "mlops:canary")
                details = assert_canary_record(world, canary, "production", "rollback", images, second)
                failed = [s["name"] for s in details["signals"] if not s["ok"]]
                assert failed == ["server errors"], details["signals"]
                assert new_records(world, before, "mlops:deploy") == []

        # 3. production: a revert to the first release, by its digest. The canary is skipped
        #    although PROMETHEUS_URL is set: the release served before.
        before = set(world.state.deployments)
        reason = "the second release fails requests"
        with cluster(world, tmp_path, images[2]) as record, port_forwarded(releases[1], tmp_path):
            reverted = dispatch(world, {"environment": "production", "digest": digests[1], "reason": reason})
        assert reverted.conclusion == "success", reverted.explain()
        assert ran(reverted) == {"release": "success", "deploy": "success"}
        steps = reverted.steps("deploy")
        assert {name: steps.get(name, "skipped") for name in CANARY_STEPS} == dict.fromkeys(CANARY_STEPS, "skipped")
        assert steps["Verify the model's signature (publish.yml signed it with Sigstore)"] == "success"
        assert steps["Smoke-test the live service (its predictions must equal the pipeline's)"] == "success"
        kubectl = calls(record)
        assert [args[0] for args in kubectl] == ["apply", "rollout", "port-forward"], kubectl
        assert applied_images(record, 0) == {"mlops-serving": images[1]}
        (revert,) = new_records(world, before, "mlops:revert")
        assert (revert["environment"], revert["sha"]) == ("production", first)
        payload = revert["payload"]
        assert (payload["digest"], payload["version"], payload["reason"]) == (digests[1], "1", reason)
        assert [s["state"] for s in world.state.deployment_statuses[revert["id"]]] == ["success"]
    finally:
        for server in pods.values():
            server.stop()
        for environment in NAMESPACES:
            world.environments.pop(environment, None)
        world.variables.pop("PROMETHEUS_URL", None)


def ran(run) -> dict[str, str]:
    return {job: result for job, result in run.jobs().items() if result != "skipped"}


def assert_canary_record(world, deployment: dict, environment: str, decision: str, images, commit: str) -> dict:
    """The canary's record on GitHub: a deployment of its commit whose status carries the decision."""
    assert (deployment["environment"], deployment["sha"]) == (environment, commit)
    (status,) = world.state.deployment_statuses[deployment["id"]][:1]
    assert (status["state"], status["environment"]) == ("success" if decision == "promote" else "failure", environment)
    assert status["description"].startswith(
        f"canary {deployment['payload']['model']} v2 {images[2].split('@')[1][:19]}"
    )
    details = deployment["payload"]["canary"]
    assert details["decision"] == decision and details["window"] == "10s"
    assert details["stable"]["image"] == images[1] and details["stable"]["version"] == "1"
    assert details["selectors"]["canary"] == f'namespace="{NAMESPACES[environment]}",track="canary"'
    assert [s["name"] for s in details["signals"]] == ["traffic", "server errors", "p99 latency", "prediction mix"]
    assert deployment["payload"]["version"] == "2" and deployment["payload"]["image"] == images[2]
    return details
