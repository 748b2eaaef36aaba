"""Run one stage outside DVC, from and to artifact folders: the Kubeflow pipeline's components.

A stage reads and writes paths relative to the repository root (mlops.paths). Here it runs in
a scratch folder laid out the same way: the project's own files (the expectation suite in gx/,
the data under data/source/), params.yaml written from the given parameters, and each input
artifact's files at the paths they had where they were made. Every file the stage writes
becomes the output artifact, under the same relative paths, so the next stage finds it.
Without a tracking server (MLFLOW_TRACKING_URI), MLflow's local store (mlflow.db, mlruns/) is
such a file too: train's run travels to evaluate and export, which log to it.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from mlops import paths

# The project's files a stage may read that no other stage writes.
PROJECT_FILES = (paths.GX_DIR, paths.SOURCE_DIR)


def files_under(root: Path) -> set[Path]:
    return {path.relative_to(root) for path in root.rglob("*") if path.is_file()}


def run_stage(
    stage: str, params: dict[str, Any] | str, project_dir: str | Path, inputs: list[str | Path], output: str | Path
) -> list[str]:
    """Run `mlops.pipeline.<stage>` on `inputs` (artifact folders); write its files to `output`.

    `params`: params.yaml's content, as a mapping or as JSON text; empty: project_dir's
    params.yaml. Returns the relative paths written, sorted.
    """
    from mlops.config import Params

    project_dir = Path(project_dir)
    if not params:
        params = yaml.safe_load((project_dir / paths.PARAMS).read_text())
    elif isinstance(params, str):
        params = json.loads(params)
    with tempfile.TemporaryDirectory(prefix=f"mlops-{stage}-") as scratch:
        workspace = Path(scratch) / "project"
        workspace.mkdir()
        for relative in PROJECT_FILES:
            if (project_dir / relative).is_dir():
                shutil.copytree(project_dir / relative, workspace / relative)
        (workspace / paths.PARAMS).write_text(yaml.safe_dump(params, sort_keys=False))
        for folder in inputs:
            shutil.copytree(folder, workspace, dirs_exist_ok=True)
        before = {path: (workspace / path).stat().st_mtime_ns for path in files_under(workspace)}
        with contextlib.chdir(workspace):
            importlib.import_module(f"mlops.pipeline.{stage}").main(Params.model_validate(params))
        written = sorted(
            path
            for path in files_under(workspace)
            if path not in before or (workspace / path).stat().st_mtime_ns != before[path]
        )
        output = Path(output)
        for path in written:
            (output / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(workspace / path, output / path)
    return [str(path) for path in written]
