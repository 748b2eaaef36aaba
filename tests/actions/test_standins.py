"""The actions/cache stand-in, run as act runs it (a script with INPUT_* variables), between two runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.actions import standins
from tests.actions.conftest import stand_in_api
from tests.conftest import REPO_ROOT as ROOT


def run_cache(
    world: Path, run: Path, phase: str, inputs: dict[str, str], state: dict[str, str], ref: str = "refs/heads/main"
) -> dict[str, str]:
    """One phase of actions/cache in a run whose workspace and home are under `run`: its outputs and state."""
    for folder in ("workspace", "home", "temp"):
        (run / folder).mkdir(parents=True, exist_ok=True)
    event = run / "event.json"
    event.write_text(json.dumps({"repository": {"default_branch": "main"}}))
    files = {"GITHUB_OUTPUT": run / "output", "GITHUB_STATE": run / "state"}
    for file in files.values():
        file.write_text("")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(run / "home"),
        "GITHUB_WORKSPACE": str(run / "workspace"),
        "RUNNER_TEMP": str(run / "temp"),
        "GITHUB_REF": ref,
        "GITHUB_EVENT_PATH": str(event),
        "STANDIN_WORLD": str(world),
        **{name: str(path) for name, path in files.items()},
        **{f"INPUT_{name.upper()}": value for name, value in inputs.items()},
        **{f"STATE_{name}": value for name, value in state.items()},
    }
    done = subprocess.run(
        [sys.executable, standins.__file__, "actions/cache", phase], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    outputs = dict(line.split("=", 1) for line in files["GITHUB_STATE"].read_text().splitlines())
    chunks = files["GITHUB_OUTPUT"].read_text().split("\n")  # name<<DELIMITER, value lines, DELIMITER
    while chunks and chunks[0]:
        name, delimiter = chunks[0].split("<<", 1)
        close = chunks.index(delimiter, 1)
        outputs[name] = "\n".join(chunks[1:close])
        chunks = chunks[close + 1 :]
    return outputs


def test_a_cache_of_a_home_path_is_restored_into_the_next_runs_home_and_only_for_the_same_paths(tmp_path):
    world = tmp_path / "world"
    first, second, third = tmp_path / "run1", tmp_path / "run2", tmp_path / "run3"
    inputs = {"path": "~/.cache/tool\n.dvc/cache", "key": "tool-abc", "restore-keys": "tool-"}
    saved = run_cache(world, first, "main", inputs, {})
    assert saved["cache-hit"] == "false"
    (first / "home/.cache/tool").mkdir(parents=True)
    (first / "home/.cache/tool/wheel").write_text("built once")
    (first / "workspace/.dvc/cache").mkdir(parents=True)
    (first / "workspace/.dvc/cache/object").write_text("a stage's output")
    run_cache(world, first, "post", inputs, {"PRIMARY": saved["PRIMARY"]})

    restored = run_cache(world, second, "main", {**inputs, "key": "tool-def"}, {})
    assert restored["cache-matched-key"] == "tool-abc" and restored["cache-hit"] == "false"
    assert (second / "home/.cache/tool/wheel").read_text() == "built once"
    assert (second / "workspace/.dvc/cache/object").read_text() == "a stage's output"
    assert not (second / "workspace/~").exists()

    # The same key for other paths is another cache entry on GitHub: nothing to restore.
    other = run_cache(world, third, "main", {**inputs, "path": "~/.cache/tool"}, {})
    assert other["cache-hit"] == "false" and "cache-matched-key" not in other
    assert not (third / "home/.cache/tool").exists()


def test_the_default_branch_never_restores_a_cache_a_branch_saved(tmp_path):
    """GitHub's scoping, which keeps a branch's DVC cache (and a model it planted there) out of main's runs."""
    world = tmp_path / "world"
    inputs = {"path": ".dvc/cache", "key": "dvc-Linux-branch", "restore-keys": "dvc-Linux-"}
    branch = "refs/heads/feature"
    saved = run_cache(world, tmp_path / "branch", "main", inputs, {}, ref=branch)
    (tmp_path / "branch/workspace/.dvc/cache").mkdir(parents=True)
    (tmp_path / "branch/workspace/.dvc/cache/object").write_text("planted")
    run_cache(world, tmp_path / "branch", "post", inputs, {"PRIMARY": saved["PRIMARY"]}, ref=branch)

    on_main = run_cache(world, tmp_path / "main", "main", {**inputs, "key": "dvc-Linux-main"}, {})
    assert on_main["cache-hit"] == "false" and "cache-matched-key" not in on_main
    assert not (tmp_path / "main/workspace/.dvc/cache").exists()
    again = run_cache(world, tmp_path / "again", "main", {**inputs, "key": "dvc-Linux-next"}, {}, ref=branch)
    assert again["cache-matched-key"] == "dvc-Linux-branch"  # the branch itself still has it


def test_the_api_stand_in_keeps_one_open_pull_request_per_branch_as_the_monitor_workflow_asks_it(tmp_path):
    """The monitor workflow's own `gh api` calls: look the branch's pull request up, open it, edit it."""
    api, env = stand_in_api(tmp_path, branches=("main", "monitor/retrain-data"))

    def gh(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["gh", "api", *args], env=env, capture_output=True, text=True)

    lookup = "repos/example/ml-template/pulls?head=example:monitor/retrain-data&state=open&per_page=1"
    create = ["--method", "POST", "repos/example/ml-template/pulls", "-f", "title=Retrain", "-f", "base=main"]
    try:
        assert gh(lookup, "--jq", ".[0].number // empty").stdout.strip() == ""
        opened = gh(*create, "-f", "head=monitor/retrain-data", "-f", "body=first")
        assert opened.returncode == 0, opened.stderr
        number = json.loads(opened.stdout)["number"]
        assert gh(lookup, "--jq", ".[0].number // empty").stdout.strip() == str(number)

        again = gh(*create, "-f", "head=monitor/retrain-data")
        assert again.returncode != 0 and "already exists" in again.stdout + again.stderr
        no_branch = gh(*create, "-f", "head=nowhere")
        assert no_branch.returncode != 0

        edited = gh("--method", "PATCH", f"repos/example/ml-template/pulls/{number}", "-f", "body=second")
        assert edited.returncode == 0, edited.stderr
        assert [p["body"] for p in api.state.pulls.values()] == ["second"]
        other_owner = "repos/example/ml-template/pulls?head=someone:monitor/retrain-data"
        assert gh(other_owner, "--jq", "length").stdout.strip() == "0"
    finally:
        api.close()


def workflow_step(
    tmp_path: Path,
    env: dict[str, str],
    workflow: str,
    job: str,
    step_id: str,
    checkout: dict[str, str] | None = None,
    **variables: str,
):
    """A workflow's own `run` step, run as a runner runs it (in a fresh workspace holding the `checkout`
    files): the process and its outputs."""
    steps = yaml.safe_load((ROOT / ".github/workflows" / workflow).read_text())["jobs"][job]["steps"]
    (step,) = [s for s in steps if s.get("id") == step_id]
    workspace, temp, output = tmp_path / "workspace", tmp_path / "runner-temp", tmp_path / "github-output"
    for folder in (workspace, temp):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
    for name, text in (checkout or {}).items():
        (workspace / name).write_text(text)
    output.write_text("")
    env = {**env, "GITHUB_REPOSITORY": "example/ml-template", "GH_TOKEN": "token", **variables}
    env.update(RUNNER_TEMP=str(temp), GITHUB_OUTPUT=str(output))
    done = subprocess.run(["bash", "-e", "-c", step["run"]], env=env, cwd=workspace, capture_output=True, text=True)
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    return done, outputs


def add_runs(api, runs: list[tuple[str, str, str, str]], artifacts: dict[str, str]) -> list[int]:
    """train.yml runs (event, branch, conclusion, head sha), oldest first, each with these artifact files."""
    ids = []
    for event, branch, conclusion, sha in runs:
        run_id = api.state.new_id()
        api.state.runs[run_id] = {
            "id": run_id, "path": ".github/workflows/train.yml", "event": event, "head_branch": branch,
            "head_sha": sha, "status": "completed", "conclusion": conclusion,
        }  # fmt: skip
        for name, text in artifacts.items():
            file = api.state.storage / "runs" / str(run_id) / "artifacts" / name
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(text.replace("RUN", str(run_id)))
        ids.append(run_id)
    return ids


def test_the_pull_requests_baseline_is_the_output_of_mains_last_successful_push_run(tmp_path):
    """Across runs: older successes, a newer failure on main and a pull request's run are not the baseline."""
    api, env = stand_in_api(tmp_path)
    try:
        done, outputs = workflow_step(tmp_path, env, "train.yml", "pipeline", "baseline", DEFAULT_BRANCH="main")
        assert done.returncode == 0, done.stderr
        assert outputs == {} and "No artifact from a successful run on main" in done.stdout

        runs = [
            ("push", "main", "success", "a" * 40),
            ("push", "main", "success", "b" * 40),
            ("pull_request", "tune", "success", "c" * 40),
            ("push", "main", "failure", "d" * 40),
            ("workflow_dispatch", "main", "success", "e" * 40),
        ]
        ids = add_runs(api, runs, {"pipeline-output/reports/metrics.json": '{"run": RUN}'})
        done, outputs = workflow_step(tmp_path, env, "train.yml", "pipeline", "baseline", DEFAULT_BRANCH="main")
        assert done.returncode == 0, done.stderr
        downloaded = Path(outputs["dir"]) / "reports/metrics.json"
        assert json.loads(downloaded.read_text()) == {"run": ids[1]}  # the newer successful push to main
    finally:
        api.close()


def test_deploy_finds_the_image_and_test_split_of_the_commits_successful_train_run(tmp_path):
    api, env = stand_in_api(tmp_path)
    image = '{"image": "ghcr.io/example/ml-template", "digest": "sha256:RUN"}'
    artifacts = {
        "image/image.json": image,
        "pipeline-output/data/prepared/test.parquet": "RUN",
        "pipeline-output/dvc.lock": "the lock of run RUN",
    }
    try:
        ids = add_runs(api, [("push", "main", "success", "a" * 40), ("push", "main", "failure", "b" * 40)], artifacts)
        checkout = {"dvc.lock": "the checkout's lock"}  # the artifact holds files the checkout has too
        done, outputs = workflow_step(tmp_path, env, "deploy.yml", "deploy", "published", checkout, COMMIT="a" * 40)
        assert done.returncode == 0, done.stderr
        assert outputs == {"image": f"ghcr.io/example/ml-template@sha256:{ids[0]}", "run_id": str(ids[0])}
        assert (tmp_path / "workspace/data/prepared/test.parquet").read_text() == str(ids[0])
        assert (tmp_path / "workspace/dvc.lock").read_text() == f"the lock of run {ids[0]}"  # the release's own

        done, outputs = workflow_step(tmp_path, env, "deploy.yml", "deploy", "published", COMMIT="b" * 40)
        assert done.returncode != 0 and outputs == {}
        assert f"No successful train run for {'b' * 40}" in done.stdout
    finally:
        api.close()


def test_the_api_stand_in_records_when_a_comment_was_posted_and_updated(tmp_path, monkeypatch):
    """GitHub's created_at and updated_at, to the second: benchmarks/pr_feedback.py times push -> comment by them."""
    import ssl
    import urllib.request

    from tests.actions import github_api

    state = github_api.State(repository="example/repo", bare=tmp_path / "bare", storage=tmp_path / "storage")
    state.pulls[1] = {"number": 1}
    api = github_api.GitHubAPI(state, tmp_path / "api")
    context = ssl.create_default_context(cafile=str(api.cert))

    def call(method: str, path: str, body: dict) -> dict:
        request = urllib.request.Request(f"{api.url}/repos/example/repo/{path}", json.dumps(body).encode(),
                                         {"Authorization": "token t"}, method=method)  # fmt: skip
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return json.loads(response.read())

    clock = iter([1_800_000_000, 1_800_000_042])
    monkeypatch.setattr(github_api, "clock", lambda: next(clock))
    try:
        posted = call("POST", "issues/1/comments", {"body": "first"})
        updated = call("PATCH", f"issues/comments/{posted['id']}", {"body": "second"})
    finally:
        api.close()
    assert posted["created_at"] == posted["updated_at"] == "2027-01-15T08:00:00Z"
    assert updated["created_at"] == "2027-01-15T08:00:00Z" and updated["updated_at"] == "2027-01-15T08:00:42Z"


def test_the_api_stand_in_keeps_deployments_and_their_statuses_as_github_answers_them(tmp_path):
    """What `mlops record` and `mlops history` ask of GitHub's deployments API, through the real gh."""
    api, env = stand_in_api(tmp_path)
    repo = "repos/example/ml-template"
    sha = subprocess.run(
        ["git", "--git-dir", str(tmp_path / "repo.git"), "rev-parse", "main"], capture_output=True, text=True
    ).stdout.strip()

    def gh(*args: str, body: dict | None = None) -> tuple[int, object]:
        extra = ["--method", "POST", "--input", "-"] if body is not None else []
        done = subprocess.run(
            ["gh", "api", *args, *extra], env=env, capture_output=True, text=True, input=json.dumps(body or {})
        )
        return done.returncode, json.loads(done.stdout) if done.stdout.strip().startswith(("{", "[")) else done.stdout

    def deploy(environment: str, **fields) -> int:
        code, made = gh(f"{repo}/deployments", body={"ref": sha, "environment": environment, **fields})
        assert code == 0, made
        code, status = gh(f"{repo}/deployments/{made['id']}/statuses", body={"state": "success"})
        assert code == 0 and status["state"] == "success", status
        return made["id"]

    try:
        code, refused = gh(f"{repo}/deployments", body={"ref": "no-such-branch", "environment": "staging"})
        assert code != 0 and refused["message"] == "No ref found for: no-such-branch"
        first = deploy("staging", task="mlops:deploy", payload={"version": "1"})
        code, made = gh(f"{repo}/deployments/{first}")
        assert made["sha"] == sha and made["payload"] == {"version": "1"} and made["production_environment"] is False
        second = deploy("staging")
        third = deploy("production")
        fourth = deploy("production")
        # auto_inactive: the earlier staging deployment is inactive now; production ones are left, as documented.
        code, statuses = gh(f"{repo}/deployments/{first}/statuses")
        assert [s["state"] for s in statuses] == ["inactive", "success"]  # newest first
        assert [s["state"] for s in gh(f"{repo}/deployments/{third}/statuses")[1]] == ["success"]
        long_description = {"state": "success", "description": "x" * 141}
        code, too_long = gh(f"{repo}/deployments/{fourth}/statuses", body=long_description)
        assert code != 0 and "too long" in too_long["message"]

        code, listed = gh(f"{repo}/deployments?environment=staging")
        assert [d["id"] for d in listed] == [second, first]
        code, tasks = gh(f"{repo}/deployments?task=mlops:deploy")
        assert [d["id"] for d in tasks] == [first]
        done = subprocess.run(
            ["gh", "api", "--paginate", f"{repo}/deployments?per_page=3"], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        pages, at, text = [], 0, done.stdout
        while text[at:].strip():
            page, at = json.JSONDecoder().raw_decode(text, at + len(text[at:]) - len(text[at:].lstrip()))
            pages.append([d["id"] for d in page])
        assert pages == [[fourth, third, second], [first]]  # a page at a time, following the Link header
    finally:
        api.close()


def test_deploy_finds_the_release_to_put_back_by_version_or_digest_and_wants_a_reason(tmp_path, monkeypatch):
    """deploy.yml's job `release` (a revert), against publish records in the API stand-in."""
    from mlops.release import audit

    api, env = stand_in_api(tmp_path)
    sha = subprocess.run(
        ["git", "--git-dir", str(tmp_path / "repo.git"), "rev-parse", "main"], capture_output=True, text=True
    ).stdout.strip()
    images = [f"ghcr.io/example/ml-template@sha256:{digit * 64}" for digit in "12"]
    for env_name in ("GH_HOST", "GH_ENTERPRISE_TOKEN", "SSL_CERT_FILE", "GH_CONFIG_DIR"):
        monkeypatch.setenv(env_name, env[env_name])
    for version, image in enumerate(images, start=1):
        record = audit.Record("publish", "release", "churn", str(version), image, sha, "md5", "better", "someone")
        audit.write(record, mlflow=False, repo="example/ml-template")

    def find(**inputs: str):
        inputs = {"OVERLAY": "production", "VERSION": "", "DIGEST": "", "REASON": "v2 is worse", **inputs}
        return workflow_step(tmp_path, env, "deploy.yml", "release", "find", **inputs)

    try:
        done, outputs = find(VERSION="1")
        assert done.returncode == 0, done.stderr
        assert outputs == {"commit": sha, "image": images[0], "version": "1", "model": "churn"}
        done, outputs = find(DIGEST=images[1].split("@")[1])
        assert done.returncode == 0 and outputs["image"] == images[1], done.stderr
        done, outputs = find(VERSION="1", REASON="")
        assert done.returncode != 0 and outputs == {} and "say why in --reason" in done.stderr
        done, outputs = find(VERSION="3")
        assert done.returncode != 0 and outputs == {} and "no published release has version 3" in done.stderr

        # After the deploy of the release found, the last step records the revert (no tracking server here).
        last = {"OVERLAY": "production", "REVERT": "true", "VERSION": "1", "DIGEST": "", "REASON": "v2 is worse"}
        done, _ = workflow_step(tmp_path, {**env, "MLFLOW_TRACKING_URI": ""}, "deploy.yml", "deploy", "record", **last)
        assert done.returncode == 0, done.stderr
        assert "the registry alias 'champion' was not moved" in done.stdout
        *_, revert = sorted(api.state.deployments.values(), key=lambda d: d["id"])
        assert (revert["task"], revert["environment"], revert["sha"]) == ("mlops:revert", "production", sha)
        assert revert["payload"]["image"] == images[0] and revert["payload"]["reason"] == "v2 is worse"
    finally:
        api.close()
