"""Reading runs: what one pipeline run produced, from a directory laid out like the repository
(this work tree, or main's artifact) or from what is committed at a git revision."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops import paths
from mlops.cv_files import read_cv_scores
from mlops.dataset import row_keys

# The plot data a run's report reads: a classifier's three, or a regression model's two, and importance.
PLOTS = ("confusion_matrix", "roc", "precision_recall", "predicted_vs_actual", "residuals", "feature_importance")
FACTS = paths.PR_REPORT_DIR / "facts.json"

Reader = Callable[[str], str | None]  # repository-relative path -> text, None when absent


@dataclass
class Run:
    """What one pipeline run produced: this pull request's, or the baseline's."""

    label: str
    commit: str | None
    metrics: dict[str, float]
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    plots: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    dataset_md5: str | None = None
    validation: dict[str, Any] | None = None  # {"success": bool | None, "summary": str}
    cv: dict[str, Any] | None = None  # reports/cv/scores.json, plan.json and timing.json in one dict
    root: Path | None = None  # where the run's binary files are (a directory run), else None
    checks: dict[str, Any] | None = None  # reports/checks.json: what the checks stage found

    def table(self, rel: Path):
        """A CSV or Parquet file of a directory run, or None when the run has none."""
        from mlops.io import read_table

        path = self.root / rel if self.root else None
        return read_table(path) if path and path.is_file() else None


def dir_reader(root: Path | str) -> Reader:
    root = Path(root)

    def read(rel: str) -> str | None:
        path = root / rel
        return path.read_text(encoding="utf-8") if path.is_file() else None

    return read


def git(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=check, timeout=120)


def resolve_commit(rev: str) -> str | None:
    """The full commit of `rev`, fetching it first when a shallow clone lacks it."""
    found = git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    if found.returncode == 0:
        return found.stdout.strip()
    branch = rev.removeprefix("origin/")
    fetched = git("fetch", "--quiet", "--no-tags", "--depth=1", "origin", branch, check=False)
    if fetched.returncode != 0:
        return None
    return git("rev-parse", "FETCH_HEAD").stdout.strip()


def git_reader(commit: str) -> Reader:
    def read(rel: str) -> str | None:
        shown = git("show", f"{commit}:{rel}", check=False)
        return shown.stdout if shown.returncode == 0 else None

    return read


def parse_csv(text: str | None) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text))) if text else []


def load_run(read: Reader, label: str, commit: str | None = None, root: Path | None = None) -> Run | None:
    """A run from its files, or None when it has no metrics (nothing to compare). Its commit: `commit`,
    else the one its report recorded (facts.json); never models/training.json's, which names the commit
    that trained the model, not the run's (a model restored from DVC's cache was trained elsewhere)."""
    import yaml

    metrics_text = read(str(paths.METRICS))
    if not metrics_text:
        return None
    facts = json.loads(read(str(FACTS)) or "{}")
    commit = commit or facts.get("commit")
    checks = read(str(paths.CHECKS))
    summary, result = read(str(paths.VALIDATION_SUMMARY)), read(str(paths.VALIDATION_RESULT))
    validation = None
    if summary is not None or result is not None:
        validation = {"success": json.loads(result).get("success") if result else None, "summary": summary or ""}
    return Run(
        label=label,
        commit=commit,
        metrics=json.loads(metrics_text),
        per_class=json.loads(read(str(paths.PER_CLASS)) or "{}"),
        params=yaml.safe_load(read(str(paths.PARAMS)) or "") or {},
        plots={name: parse_csv(read(f"{paths.PLOTS_DIR}/{name}.csv")) for name in PLOTS},
        facts=facts,
        dataset_md5=dataset_md5(read(str(paths.DVC_LOCK))),
        validation=validation,
        cv=read_cv_scores(read),
        root=root,
        checks=json.loads(checks) if checks else None,
    )


def dataset_md5(dvc_lock: str | None) -> str | None:
    """The hash DVC recorded for the raw dataset: it changes exactly when the data does."""
    import yaml

    if not dvc_lock:
        return None
    for stage in (yaml.safe_load(dvc_lock) or {}).get("stages", {}).values():
        for out in stage.get("outs", []):
            if out.get("path") == str(paths.RAW):
                return out.get("md5")
    return None


def holdout_predictions(run: Run):
    """The run's test-split predictions with each row's key (`key`), or None when they are not at hand."""

    predictions, test = run.table(paths.PREDICTIONS), run.table(paths.TEST)
    if predictions is None or test is None or len(predictions) != len(test):
        return None
    return predictions.assign(key=row_keys(test))


# What a baseline directory (`mlops report --baseline-dir DIR`) holds, laid out like the repository:
# (path, what the report makes of it). Only the metrics are required; each other file adds a section.
BASELINE_FILES = (
    (paths.METRICS, "the test-split metrics (required)"),
    (paths.PER_CLASS, "per-class scores"),
    (paths.CV_SCORES, "per-fold cross-validation scores: the verdict's evidence"),
    (paths.CV_PLAN, "which rows in which folds: pairs the folds with this run's"),
    (paths.CV_PREDICTIONS, "out-of-fold predictions: the slices"),
    (paths.PREDICTIONS, "per-row test predictions: the paired test-split intervals, calibration"),
    (paths.TEST, "the test split the predictions are for"),
    (paths.PLOTS_DIR, "plot data: the charts"),
    (paths.PARAMS, "the parameters: what changed"),
    (paths.DVC_LOCK, "the data's hash: whether the data changed"),
    (FACTS, "model size, latency, the run's commit, branch and workflow run (written by its own mlops report)"),
    (paths.VALIDATION_RESULT, "the data validation result"),
)


def baseline_files_help() -> str:
    """The lines of `mlops report --help` on what a baseline directory holds."""
    width = max(len(str(path)) for path, _ in BASELINE_FILES)
    lines = [f"  {path!s:<{width}}  {what}" for path, what in BASELINE_FILES]
    return (
        "A baseline directory (--baseline-dir) is a pipeline run laid out like the repository, such as the\n"
        "artifact pipeline-output of main's last training run, or a worktree of main where `dvc repro` ran:\n"
        + "\n".join(lines)
    )


def load_baseline(directories: list[Path], revision: str | None) -> tuple[Run | None, str]:
    """The first directory run with metrics, else what is committed at `revision`; and where it came from,
    for the report's "Baseline:" line."""
    for directory in directories:
        run = load_run(dir_reader(directory), "baseline", root=directory)
        if run:
            source = describe_directory(run, directory)
            return run, source
    if revision:
        commit = resolve_commit(revision)
        if commit:
            branch = revision.removeprefix("origin/")
            run = load_run(git_reader(commit), f"{branch}@{short(commit)}", commit)
            if run:
                return run, f"metrics committed on {branch}"
    return None, ""


def describe_directory(run: Run, directory: Path) -> str:
    """Name a directory run's commit in its label (`branch@commit`) and return where it came from: a git
    checkout holding only what is committed, the CI training run whose artifact train.yml downloaded
    (its report's facts name its commit, branch and workflow run), or a pipeline run elsewhere."""
    checkout = (directory / ".git").exists()
    if checkout:
        run.commit = git("-C", str(directory), "rev-parse", "HEAD").stdout.strip()
        branch = git("-C", str(directory), "rev-parse", "--abbrev-ref", "HEAD", check=False).stdout.strip()
        branch = branch if branch and branch != "HEAD" else "baseline"
    else:
        branch = run.facts.get("branch") or "baseline"
    run.label = f"{branch}@{short(run.commit)}" if run.commit else branch
    ran = run.root is not None and (run.root / paths.PREDICTIONS).is_file()
    if checkout and not ran:
        return f"metrics committed on {branch}"
    if run.facts.get("run_url"):  # its report ran in CI: train.yml downloads main's last successful run
        return f"the last successful training run on {branch}"
    if run.commit:
        return f"the pipeline run in {directory}, at {short(run.commit)}"
    return f"the pipeline run in {directory}; its commit is unknown (no .git, no {FACTS} there)"


def short(commit: str | None) -> str:
    return commit.removesuffix("-dirty")[:7] if commit else "unknown"


# ---------------------------------------------------------------- facts of the run in the work tree


def measure_facts() -> dict[str, Any]:
    """Model size, ONNX single-row latency, timings and row counts of the run in the work tree."""
    training = json.loads(paths.TRAINING_INFO.read_text()) if paths.TRAINING_INFO.is_file() else {}
    metadata = json.loads(paths.MODEL_METADATA.read_text()) if paths.MODEL_METADATA.is_file() else {}
    server, repo, run_id = (os.environ.get(f"GITHUB_{name}", "") for name in ("SERVER_URL", "REPOSITORY", "RUN_ID"))
    facts: dict[str, Any] = {
        "commit": os.environ.get("MLOPS_REPORT_COMMIT") or training.get("git_commit"),
        "branch": os.environ.get("GITHUB_REF_NAME") or current_branch(),
        "run_url": f"{server}/{repo}/actions/runs/{run_id}" if server and repo and run_id else None,
        "model_bytes": paths.MODEL.stat().st_size if paths.MODEL.is_file() else None,
        "onnx_bytes": paths.ONNX_MODEL.stat().st_size if paths.ONNX_MODEL.is_file() else None,
        "train_seconds": training.get("train_seconds"),
        "train_rows": training.get("train_rows"),
        "test_rows": count_rows(paths.PREDICTIONS),
        "dataset_rows": count_rows(paths.RAW),
        "model_version": metadata.get("version") or training.get("model_version"),
    }
    facts.update(onnx_latency(paths.ONNX_MODEL, paths.TEST, paths.SCHEMA))
    return facts


def current_branch() -> str | None:
    found = git("rev-parse", "--abbrev-ref", "HEAD", check=False)
    branch = found.stdout.strip() if found.returncode == 0 else ""
    return branch if branch and branch != "HEAD" else None


def count_rows(path: Path) -> int | None:
    if not path.is_file():
        return None
    if path.suffix in (".parquet", ".pq"):
        import pyarrow.parquet

        return pyarrow.parquet.ParquetFile(path).metadata.num_rows
    with open(path, newline="", encoding="utf-8") as handle:
        return max(sum(1 for _ in csv.reader(handle)) - 1, 0)


def onnx_latency(model: Path, test: Path, schema_path: Path, repeats: int = 200) -> dict[str, Any]:
    """Median and 95th percentile of one-row predictions through the service's ONNX runtime, in ms."""
    if not (model.is_file() and test.is_file() and schema_path.is_file()):
        return {}
    import time

    import numpy as np

    from mlops.exported import read_metadata
    from mlops.io import read_table
    from mlops.schema import Schema
    from mlops.serving import runtime

    schema = Schema.load(schema_path)
    row = schema.features_frame(read_table(test).head(1))
    columns = {name: row[name].tolist() for name in row.columns}
    try:
        metadata = read_metadata(model.parent)
        predictor = runtime.OnnxPredictor(model, metadata)
        for _ in range(20):
            predictor.predict(columns)
        timings = []
        for _ in range(repeats):
            started = time.perf_counter()
            predictor.predict(columns)
            timings.append((time.perf_counter() - started) * 1000)
    except Exception as exc:  # an export this report does not understand: say so, keep the rest
        return {"onnx_latency_error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"}
    return {
        "onnx_latency_ms_p50": round(float(np.percentile(timings, 50)), 4),
        "onnx_latency_ms_p95": round(float(np.percentile(timings, 95)), 4),
    }
