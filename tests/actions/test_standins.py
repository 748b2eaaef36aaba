"""The actions/cache stand-in, run as act runs it (a script with INPUT_* variables), between two runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.actions import standins


def run_cache(world: Path, run: Path, phase: str, inputs: dict[str, str], state: dict[str, str]) -> dict[str, str]:
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
        "GITHUB_REF": "refs/heads/main",
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


def test_the_api_stand_in_keeps_one_open_pull_request_per_branch_as_the_monitor_workflow_asks_it(tmp_path):
    """The monitor workflow's own `gh api` calls: look the branch's pull request up, open it, edit it."""
    from tests.actions.github_api import GitHubAPI, State

    bare = tmp_path / "repo.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(bare), str(work)], check=True, capture_output=True)
    commit = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q"]
    subprocess.run([*commit, "--allow-empty", "-m", "start"], check=True)
    subprocess.run(
        ["git", "-C", str(work), "push", "-q", "origin", "HEAD:main", "HEAD:monitor/retrain-data"], check=True
    )
    api = GitHubAPI(State("example/ml-template", bare, tmp_path / "storage"), tmp_path / "api")
    env = {**os.environ, "GH_HOST": api.host, "GH_ENTERPRISE_TOKEN": "token", "SSL_CERT_FILE": str(api.cert)}
    env.update(GH_PROMPT_DISABLED="1", GH_CONFIG_DIR=str(tmp_path / "gh"))

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
