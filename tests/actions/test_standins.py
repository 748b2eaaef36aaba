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
