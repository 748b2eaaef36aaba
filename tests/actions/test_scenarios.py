"""The GitHub path, run by a real Actions engine (act) over a repository's life.

One fresh copy of the repository per module goes through what a template user does first:
the first push to main, a second push, a pull request pushed twice, a pull request with bad
data, a pull request from a fork, monitor.yml on a drifted batch. The runs share only what
GitHub shares between runs (the repository, caches, artifacts, the registry, the API's
state); each job starts in an empty folder. The tests run in order: each scenario starts
from the state the previous one left, as on GitHub. See tests/actions/world.py for what
stands in for what.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import urllib.error
import urllib.request

import pandas as pd
import pytest
import yaml

from mlops.config import load_params
from tests.actions.github_api import seconds

pytestmark = [pytest.mark.slow, pytest.mark.container]


def artifact(world, run, name: str):
    return world.root / "storage" / "runs" / str(run.id) / "artifacts" / name


def registry_get(world, path: str, accept: str) -> tuple[dict, str] | None:
    """A manifest (or blob) of the world's registry, and its digest; None when absent."""
    request = urllib.request.Request(
        f"http://{world.registry_url}/v2/example/ml-template/{path}", headers={"Accept": accept}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read()), response.headers.get("Docker-Content-Digest", "")
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


MANIFESTS = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"


def index(world, tag: str) -> tuple[dict, str] | None:
    """What a tag points at when the image was pushed with attestations: an OCI index, and its digest."""
    return registry_get(world, f"manifests/{tag}", f"application/vnd.oci.image.index.v1+json, {MANIFESTS}")


def manifest(world, tag: str) -> dict | None:
    """The linux/amd64 image manifest under a tag (through the index, when there is one)."""
    found = index(world, tag)
    if found is None:
        return None
    body, _ = found
    if body.get("mediaType") != "application/vnd.oci.image.index.v1+json":
        return body
    (image,) = [m for m in body["manifests"] if m["platform"] == {"architecture": "amd64", "os": "linux"}]
    return registry_get(world, f"manifests/{image['digest']}", MANIFESTS)[0]


def attestations(world, tag: str) -> dict[str, dict]:
    """predicate type -> in-toto statement, from the attestation manifest in the tag's index."""
    body, _ = index(world, tag)
    (entry,) = [m for m in body["manifests"] if m.get("annotations", {}).get("vnd.docker.reference.type")]
    attestation, _ = registry_get(world, f"manifests/{entry['digest']}", MANIFESTS)
    return {
        layer["annotations"]["in-toto.io/predicate-type"]: registry_get(world, f"blobs/{layer['digest']}", "*/*")[0]
        for layer in attestation["layers"]
    }


def builds(world, run) -> list[dict]:
    log = world.root / "storage" / "builds.jsonl"
    entries = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return [entry for entry in entries if entry["run_id"] == str(run.id)]


def smoke_tested(world) -> list[str]:
    log = world.root / "storage" / "docker-runs.log"
    return [line.split()[0] for line in log.read_text().splitlines() if line.strip()] if log.exists() else []


def ran(run) -> dict[str, str]:
    """The jobs that ran, and how they ended (act may list a job whose `if:` was false as skipped)."""
    return {job: result for job, result in run.jobs().items() if result != "skipped"}


def pipeline_output(run) -> str:
    """The pipeline's log: job `pipeline` on a branch or pull request, `pipeline-release` on main."""
    return run.output("pipeline-release") + run.output("pipeline")


def stage_lines(run) -> list[str]:
    return [line for line in pipeline_output(run).splitlines() if "stage" in line.lower()]


def set_param(folder, dotted: str, value) -> None:
    path = folder / "params.yaml"
    params = yaml.safe_load(path.read_text())
    node = params
    *parents, last = dotted.split(".")
    for key in parents:
        node = node[key]
    node[last] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))


# ---------------------------------------------------------------- scenario 1


def test_1_first_push_to_main_trains_and_pushes_the_image_that_passed_the_smoke_test(world):
    sha = world.git("rev-parse", "origin/main")
    payload = world.push_payload("main", sha)
    # ci: the lint job. Its other job runs `make test-fast`, which `make test` runs anyway.
    lint = world.run("ci.yml", "push", payload, sha, "main", job="lint")
    (train,) = world.push("main", sha)

    assert lint.conclusion == "success" and lint.jobs() == {"lint": "success"}, lint.explain()
    assert train.conclusion == "success", train.explain()
    # On main the pipeline runs as `pipeline-release`, in the environment `release`.
    assert ran(train) == {"validate": "success", "pipeline-release": "success", "image": "success"}, train.explain()
    assert (artifact(world, train, "pipeline-output") / "models/model.onnx").is_file()

    # One build; the image the smoke test ran is the image under every pushed tag.
    assert len(builds(world, train)) == 1, builds(world, train)
    tested = smoke_tested(world)
    assert len(tested) == 1 and tested[0], tested
    for tag in (sha, "latest"):
        pushed = manifest(world, tag)
        assert pushed is not None, f"{tag} was not pushed"
        assert pushed["config"]["digest"] == f"sha256:{tested[0]}", (tag, pushed["config"], tested)
    # Without a tracking server every run is model version 1: no `model-1` tag that means nothing.
    assert manifest(world, "model-1") is None


def test_1b_the_release_carries_its_sbom_and_provenance_and_an_attestation_of_its_digest(world):
    train = next(run for run in world.runs if run.workflow == "train.yml")
    steps = train.steps("image")
    assert steps["Scan the serving requirements for known vulnerabilities"] == "success", steps
    recorded = json.loads((artifact(world, train, "image") / "image.json").read_text())
    _, tagged = index(world, "latest")
    assert recorded == {"image": "ghcr.io/example/ml-template", "digest": tagged}
    assert index(world, train.sha)[1] == tagged  # one index under every tag

    # BuildKit's attestations in the index: an SBOM of the image and the build's provenance.
    found = attestations(world, "latest")
    sbom, built = found["https://spdx.dev/Document"], found["https://slsa.dev/provenance/v0.2"]
    image_digest = next(m["digest"] for m in index(world, "latest")[0]["manifests"] if m["platform"]["os"] == "linux")
    for statement in (sbom, built):
        assert statement["subject"][0]["digest"]["sha256"] == image_digest.removeprefix("sha256:")
    packages = {package["name"].lower() for package in sbom["predicate"]["packages"]}
    assert {"flask", "gunicorn", "onnxruntime"} <= packages
    assert built["predicate"]["buildConfig"]["dockerfile"] == (world.dev / "Dockerfile").read_text()  # mode=max

    # The provenance publish.yml attested, stored with GitHub, names that digest and publish.yml.
    (attested,) = [a for a in world.state.attestations if tagged in a["digests"]]
    payload = json.loads(base64.b64decode(attested["bundle"]["dsseEnvelope"]["payload"]))
    assert payload["predicateType"] == "https://slsa.dev/provenance/v1"
    builder = payload["predicate"]["runDetails"]["builder"]["id"]
    assert builder == "https://github.com/example/ml-template/.github/workflows/publish.yml@refs/heads/main"


# ---------------------------------------------------------------- scenario 2


def test_2_a_second_push_with_the_saved_cache_goes_green_with_the_same_metrics(world):
    first = next(run for run in world.runs if run.workflow == "train.yml")
    sha = world.commit("main", "Docs only", lambda folder: (folder / "NOTES.md").write_text("a change of no stage\n"))

    (train,) = world.push("main", sha, workflows=("train.yml",))

    assert train.conclusion == "success", train.explain()
    assert "Cache restored from key" in pipeline_output(train)
    metrics = "reports/metrics.json"
    before = json.loads((artifact(world, first, "pipeline-output") / metrics).read_text())
    after = json.loads((artifact(world, train, "pipeline-output") / metrics).read_text())
    assert after == before


def test_2b_the_second_push_retrains_nothing_that_did_not_change(world):
    second = [run for run in world.runs if run.workflow == "train.yml"][1]
    # Every stage comes back from DVC's run-cache in the restored cache, and validate (its result
    # in git, no run-cache entry) takes the validate job's result: the pipeline job runs no stage.
    reran = {line.split("'")[1] for line in stage_lines(second) if "Running stage" in line}
    assert reran == set(), f"stages reran although nothing changed: {reran}"
    assert "Stage 'train' is cached - skipping run, checking out outputs" in pipeline_output(second)


def test_2c_each_publish_is_recorded_and_a_revert_dispatch_finds_the_first_release_and_deploys_nothing_unsigned(
    world, tmp_path
):
    """deploy.yml's revert path: the job `release` finds the first release by its digest among the
    publish records, and the deploy runs on that release's commit, its image and its provenance;
    the world signs no model (no OIDC token here), so the model's check stops it before kubectl."""
    from tests.deploy.kubectl import KUBECTL_STAND_IN

    published = main_trained(world)[:2]
    records = [d for d in world.state.deployments.values() if d["task"] == "mlops:publish"]
    assert [(d["environment"], d["sha"]) for d in records] == [("release", run.sha) for run in published]
    digests = [json.loads((artifact(world, run, "image") / "image.json").read_text())["digest"] for run in published]
    assert [d["payload"]["digest"] for d in records] == digests and digests[0] != digests[1]
    assert {d["payload"]["version"] for d in records} == {"1"}  # no tracking server: every model is version 1

    record = tmp_path / "kubectl-record"
    record.mkdir()
    (world.bin / "kubectl-stand-in").write_text(KUBECTL_STAND_IN)
    (world.bin / "kubectl").write_text(
        f"#!/bin/sh\nexport REAL_KUBECTL={shutil.which('kubectl')} KUBECTL_RECORD={record}\n"
        f'exec bash {world.bin / "kubectl-stand-in"} "$@"\n'
    )
    (world.bin / "kubectl").chmod(0o755)
    world.environments["production"] = {"secrets": {"KUBECONFIG": "apiVersion: v1\n"}, "branches": {"main"}}
    inputs = {"environment": "production", "version": "", "digest": digests[0], "reason": "the second is worse"}
    payload = {"ref": "refs/heads/main", "inputs": inputs, "repository": world.repository_json()}
    try:
        main = world.git("rev-parse", "origin/main")
        deploy = world.run("deploy.yml", "workflow_dispatch", payload, main, "main", ref="refs/heads/main")
    finally:
        world.environments.pop("production")
        for name in ("kubectl", "kubectl-stand-in"):
            (world.bin / name).unlink()

    assert deploy.jobs()["release"] == "success", deploy.explain()
    assert f"commit={published[0].sha}" in deploy.output("release"), deploy.explain()
    steps = deploy.steps("deploy")
    assert steps["Find the image publish pushed for this commit, and the pipeline's test split"] == "success", steps
    assert steps["Revert: the image found is the release asked for"] == "success", steps
    assert steps["Verify the image's build provenance (attested by this repository's publish.yml)"] == "success"
    assert steps["Verify the model's signature (publish.yml signed it with Sigstore)"] == "failure", steps
    assert deploy.jobs()["deploy"] == "failure"
    assert list(record.iterdir()) == []  # nothing applied
    assert [d for d in world.state.deployments.values() if d["task"] == "mlops:revert"] == []  # nothing recorded


# ---------------------------------------------------------------- scenario 3


def comments(world, number: int) -> list[dict]:
    return world.state.comments_on(number)


def pr_report_runs(world, after: int) -> list:
    return [run for run in world.runs if run.workflow == "pr-report.yml" and run.id > after]


def main_trained(world) -> list:
    """The successful train.yml runs of pushes to main, oldest first."""
    return [r for r in world.runs if r.workflow == "train.yml" and r.event == "push" and r.conclusion == "success"]


def test_3_a_pull_request_gets_one_comment_updated_in_place_on_its_next_push(world):
    if not main_trained(world):  # run alone: the pull request's baseline is main's training output
        sha = world.git("rev-parse", "origin/main")
        payload = world.push_payload("main", sha)
        world.run("train.yml", "push", payload, sha, "main", follow=False, job="pipeline-release")
    params = load_params(world.dev / "params.yaml")
    hyperparameters = dict(params.train.hyperparameters)
    name, value = next((k, v) for k, v in hyperparameters.items() if isinstance(v, int) and not isinstance(v, bool))

    world.commit("tune", f"{name} = {value + 7}", lambda f: set_param(f, f"train.hyperparameters.{name}", value + 7))
    number = world.open_pull_request("tune")
    mark = world.state.next_id
    (train,) = world.pull_request(number, action="opened")

    assert train.conclusion == "success", train.explain()
    # The data is checked once: the pipeline job takes the validate job's result for the same data.
    assert "Stage 'validate' didn't change, skipping" in pipeline_output(train), train.explain()
    (report,) = pr_report_runs(world, mark)
    assert report.conclusion == "success", report.explain()
    (comment,) = comments(world, number)
    assert "Model report" in comment["body"] and "Verdict" in comment["body"]
    assert f"`train.hyperparameters.{name}` | {value} | {value + 7} |" in comment["body"]
    # The baseline is main's own training output, downloaded from its last successful push run.
    base = main_trained(world)[-1]
    assert f"Baseline: main@{base.sha[:7]} (the last successful training run on main)." in comment["body"]

    world.commit("tune", f"{name} = {value + 13}", lambda f: set_param(f, f"train.hyperparameters.{name}", value + 13))
    mark = world.state.next_id
    (train,) = world.pull_request(number)

    assert train.conclusion == "success", train.explain()
    assert [run.conclusion for run in pr_report_runs(world, mark)] == ["success"]
    (updated,) = comments(world, number)
    assert updated["id"] == comment["id"]
    assert f"`train.hyperparameters.{name}` | {value} | {value + 13} |" in updated["body"]
    # The cost line's feedback time: from the start of this train run to the comment, as GitHub recorded them.
    (cost,) = [line for line in updated["body"].splitlines() if line.startswith("Cost: ")]
    shown = re.search(r" Feedback: (?:(\d+) min )?(\d+) s from the start of this pull request's `train` run", cost)
    assert shown, cost
    recorded = seconds(updated["updated_at"]) - seconds(world.state.runs[train.id]["run_started_at"])
    assert abs(int(shown[1] or 0) * 60 + int(shown[2]) - recorded) <= 2, (cost, recorded)


# ---------------------------------------------------------------- scenario 4


def corrupt_first_feature(folder) -> None:
    """Point data.source at a copy of the data whose first feature is far out of every range."""
    from mlops.dataset import load_source

    params = load_params(folder / "params.yaml")
    frame = load_source(params.data.source, params.data.target)
    feature = next(column for column in frame.columns if column != params.data.target)
    frame[feature] = pd.to_numeric(frame[feature], errors="coerce").fillna(0) * 1000 + 10**9
    (folder / "data/source").mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "data/source/batch.csv", index=False)
    set_param(folder, "data.source", "data/source/batch.csv")


def test_4_a_pull_request_whose_data_fails_validation_gets_the_comment_naming_the_failures(world):
    world.commit("bad-data", "New data", corrupt_first_feature)
    number = world.open_pull_request("bad-data")
    mark = world.state.next_id
    (train,) = world.pull_request(number, action="opened")

    assert train.conclusion == "failure"
    assert train.jobs()["validate"] == "failure" and "pipeline" not in ran(train), train.explain()
    (report,) = pr_report_runs(world, mark)
    assert report.conclusion == "success", report.explain()
    (comment,) = comments(world, number)
    assert "the data failed validation" in comment["body"]
    result = json.loads((artifact(world, train, "data-validation") / "result.json").read_text())
    failed = [entry for entry in result["expectations"] if not entry["success"]]
    assert failed
    for entry in failed:
        assert entry["expectation"] in comment["body"]


# ---------------------------------------------------------------- scenario 5


def checkouts(world) -> list[dict]:
    log = world.root / "storage" / "checkouts.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_5_a_fork_pull_request_is_trained_without_secrets_and_commented_without_running_its_code(world):
    world.secrets["AWS_READ_ACCESS_KEY_ID"] = "a-secret-the-fork-must-not-see"
    world.commit("fork-change", "A fork's change", lambda f: set_param(f, "seed", 7))
    number = world.open_pull_request("fork-change", fork="someone/ml-template")
    mark = world.state.next_id
    (train,) = world.pull_request(number, action="opened")
    world.secrets.clear()

    assert train.conclusion == "success", train.explain()
    (report,) = pr_report_runs(world, mark)
    assert report.conclusion == "success", report.explain()
    assert len(comments(world, number)) == 1
    pull = world.state.pulls[number]
    pr_code = {pull["head"]["sha"], train.sha}  # the fork's commit and GitHub's merge commit
    for run in world.runs:
        if run.id <= mark:
            continue
        record = world.state.runs[run.id]
        event = json.loads((world.root / "runs" / str(run.id) / "event.json").read_text())
        privileged = record["privileged"]
        # From the payloads: the fork's own run is the pull_request event of a fork's head...
        is_fork_run = event.get("pull_request", {}).get("head", {}).get("repo", {}).get("fork") is True
        assert privileged != is_fork_run, (run.id, run.workflow)
        if privileged:  # ...and a run with a write token or secrets never checks out the PR's code.
            pr_checkouts = [c for c in checkouts(world) if c["run_id"] == str(run.id) and c["sha"] in pr_code]
            assert pr_checkouts == [], f"{run.workflow} (run {run.id}) checked out the fork's code"
    assert "a-secret-the-fork-must-not-see" not in train.output()


def test_5b_a_branch_run_stops_first_while_a_write_credential_is_a_repository_secret(world):
    """The old set-up (write keys as repository secrets): every branch's workflow could read them."""
    world.secrets["AWS_SECRET_ACCESS_KEY"] = "a-write-key-kept-where-every-branch-sees-it"
    try:
        sha = world.commit("kept-secret", "Any change", lambda f: (f / "NOTES.md").write_text("a branch\n"))
        (train,) = world.push("kept-secret", sha)
    finally:
        world.secrets.pop("AWS_SECRET_ACCESS_KEY")

    assert train.conclusion == "failure" and ran(train) == {"validate": "failure"}, train.explain()
    guard = "Refuse write credentials kept as repository secrets"
    assert train.steps("validate")[guard] == "failure", train.steps("validate")
    assert (
        "Write credentials are repository secrets, which a branch's own workflow file can read: AWS_SECRET_ACCESS_KEY"
        in (train.output("validate"))
    )
    assert "a-write-key-kept-where-every-branch-sees-it" not in train.output()


# ---------------------------------------------------------------- scenario 6


def project_data(folder):
    """The project's params and its source data, a file path read from the project copy."""
    from mlops.dataset import SKLEARN_PREFIX, load_source

    params = load_params(folder / "params.yaml")
    source = params.data.source
    return params, load_source(
        source if source.startswith(SKLEARN_PREFIX) else str(folder / source), params.data.target
    )


def first_feature(folder) -> str:
    params, frame = project_data(folder)
    return next(column for column in frame.columns if column != params.data.target)


def drift_issues(world) -> list[dict]:
    return [i for i in world.state.issues.values() if "drift" in {label["name"] for label in i["labels"]}]


def test_6_drift_opens_one_issue_updates_it_next_time_and_the_dispatched_training_goes_green(world):
    world.git("checkout", "-q", "--detach", "origin/main")  # the project as main has it
    sha = world.git("rev-parse", "origin/main")
    payload = {
        "ref": "refs/heads/main",
        "inputs": {"shift": f"{first_feature(world.dev)}=3"},
        "repository": world.repository_json(),
    }
    assert drift_issues(world) == [] and world.state.dispatches == []

    monitor = world.run("monitor.yml", "workflow_dispatch", payload, sha, "main")

    assert monitor.conclusion == "success", monitor.explain()
    assert ran(monitor) == {"detect": "success", "issue": "success", "retrain": "success"}, monitor.jobs()
    (issue,) = drift_issues(world)
    assert issue["state"] == "open" and "Drift" in issue["title"]
    assert [d["workflow"] for d in world.state.dispatches] == ["train.yml"]

    (train,) = world.dispatch_pending()
    assert train.conclusion == "success", train.explain()
    assert set(ran(train)) == {"validate", "pipeline-release", "image"}

    again = world.run("monitor.yml", "workflow_dispatch", payload, sha, "main")
    assert again.conclusion == "success", again.explain()
    (same,) = drift_issues(world)
    assert same["number"] == issue["number"]
    assert [c["body"] for c in world.state.comments_on(issue["number"])][-1].startswith("Drift found again")


# ---------------------------------------------------------------- scenario 6, with late labels


def log_labelled_predictions(world, folder, rows: int) -> tuple[str, str]:
    """A day of production as the service logs it, and its late labels: the model got every row wrong.

    Rows like the project's own data, so the next data version passes the validation suite; the
    logged predictions (and probabilities) are the other class, so the labels show concept drift.
    Written with the service's own prediction log.
    """
    from mlops.monitoring.prediction_log import PredictionLog, row_id

    params, frame = project_data(world.dev)
    batch = frame.sample(n=rows, random_state=7).reset_index(drop=True)
    labels = batch.pop(params.data.target).astype(str)
    numeric = batch.select_dtypes("floating").columns
    # New rows, not repeats of the source's (the next version leaves those out): a step towards
    # the median keeps every value inside the range the suite allows.
    batch[numeric] = batch[numeric] * 0.99 + frame[numeric].median() * 0.01
    classes = sorted(frame[params.data.target].astype(str).unique())  # the model's order, as scikit-learn sorts
    wrong = [next(c for c in classes if c != label) for label in labels]
    probabilities = [[float(predicted == c) for c in classes] for predicted in wrong]
    log = PredictionLog(folder / "logs")
    log.record(batch.to_dict("records"), wrong, probabilities, model_version="1", prediction_id="day1")
    log.close()
    ids = [row_id("day1", index) for index in range(rows)]
    pd.DataFrame({"id": ids, "label": labels}).to_csv(folder / "labels.csv", index=False)
    return str(folder / "logs"), str(folder / "labels.csv")


def retrain_pulls(world) -> list[dict]:
    return [p for p in world.state.pulls.values() if p["head"]["ref"] == "monitor/retrain-data"]


def test_6b_with_late_labels_monitor_opens_one_data_pull_request_and_training_on_it_comments(world, tmp_path):
    world.git("checkout", "-q", "--detach", "origin/main")
    if not main_trained(world):  # run alone: the pull request's baseline is main's training output
        world.push("main", world.git("rev-parse", "origin/main"), workflows=("train.yml",))
    logs, labels = log_labelled_predictions(world, tmp_path, rows=150)
    remote = world.root / "dvc-remote"
    world.variables.update(PREDICTION_LOG_URL=logs, LABELS_URL=labels, DVC_REMOTE_URL=str(remote))
    payload = {"ref": "refs/heads/main", "inputs": {"shift": ""}, "repository": world.repository_json()}
    try:
        monitor = world.run("monitor.yml", "workflow_dispatch", payload, world.git("rev-parse", "origin/main"), "main")
        assert monitor.conclusion == "success", monitor.explain()
        assert monitor.jobs().get("data") == "success", monitor.jobs()
        (pull,) = retrain_pulls(world)
        assert pull["state"] == "open" and pull["base"]["ref"] == "main"
        assert "150 labelled production rows" in pull["body"], pull["body"]
        world.git("fetch", "-q", "origin")
        branch_params = yaml.safe_load(world.git("show", "origin/monitor/retrain-data:params.yaml"))
        new_source, old_source = branch_params["data"]["source"], load_params(world.dev / "params.yaml").data.source
        assert new_source != old_source
        assert world.git("show", f"origin/monitor/retrain-data:{new_source}.dvc")  # tracked by DVC, not in git
        assert any(path.is_file() for path in remote.rglob("*")), "the new data version was not pushed"

        again = world.run("monitor.yml", "workflow_dispatch", payload, world.git("rev-parse", "origin/main"), "main")
        assert again.conclusion == "success", again.explain()
        (same,) = retrain_pulls(world)
        assert same["number"] == pull["number"]

        # Training on the pull request reads the new version from the remote and comments on it.
        world.git("fetch", "-q", "origin")
        mark = world.state.next_id
        (train,) = world.pull_request(pull["number"], action="opened")
        assert train.conclusion == "success", train.explain()
        assert "Running stage 'train'" in pipeline_output(train)
        (report,) = pr_report_runs(world, mark)
        assert report.conclusion == "success", report.explain()
        (comment,) = comments(world, pull["number"])
        assert f"`data.source` | {old_source} |" in comment["body"], comment["body"][:3000]
        latest = yaml.safe_load(world.git("show", "origin/monitor/retrain-data:params.yaml"))["data"]["source"]
        retrained = comment["body"].split("### Retrained on production rows")[1].split("###")[0]
        assert f"`{latest}`, the data plus 150 labelled production rows" in retrained, retrained  # the second run's
        # Main's model (from its training artifact) and the PR's, scored on fresh rows neither trained on.
        metric = load_params(world.dev / "params.yaml").report.metric
        assert "**On fresh labelled rows**:" in retrained and f"| **{metric}** |" in retrained, retrained
    finally:
        for name in ("PREDICTION_LOG_URL", "LABELS_URL", "DVC_REMOTE_URL"):
            world.variables.pop(name, None)
