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
    cv: dict[str, Any] | None = None  # reports/cv/scores.json
    root: Path | None = None  # where the run's binary files are (a directory run), else None

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
    """A run from its files, or None when it has no metrics (nothing to compare)."""
    import yaml

    metrics_text = read(str(paths.METRICS))
    if not metrics_text:
        return None
    training = json.loads(read(str(paths.TRAINING_INFO)) or "{}")
    facts = json.loads(read(str(FACTS)) or "{}")
    commit = commit or facts.get("commit") or training.get("git_commit")
    summary, result = read(str(paths.VALIDATION_SUMMARY)), read(str(paths.VALIDATION_RESULT))
    validation = None
    if summary is not None or result is not None:
        validation = {"success": json.loads(result).get("success") if result else None, "summary": summary or ""}
    cv_text = read(str(paths.CV_SCORES))
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
        cv=json.loads(cv_text) if cv_text else None,
        root=root,
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


def load_baseline(directories: list[Path], revision: str | None) -> tuple[Run | None, str]:
    """The first directory run with metrics, else what is committed at `revision`; and where it came from."""
    for directory in directories:
        checkout = (directory / ".git").exists()
        commit = git("-C", str(directory), "rev-parse", "HEAD").stdout.strip() if checkout else None
        run = load_run(dir_reader(directory), "baseline", commit, root=directory)
        if run:
            run.label = f"main@{short(run.commit)}"
            trained = run.facts and not checkout
            return run, "the last successful training run on main" if trained else "metrics committed on main"
    if revision:
        commit = resolve_commit(revision)
        if commit:
            run = load_run(git_reader(commit), f"main@{short(commit)}", commit)
            if run:
                return run, f"metrics committed at {revision}"
    return None, ""


def short(commit: str | None) -> str:
    return commit.removesuffix("-dirty")[:7] if commit else "unknown"


# ---------------------------------------------------------------- facts of the run in the work tree


def measure_facts() -> dict[str, Any]:
    """Model size, ONNX single-row latency, timings and row counts of the run in the work tree."""
    training = json.loads(paths.TRAINING_INFO.read_text()) if paths.TRAINING_INFO.is_file() else {}
    metadata = json.loads(paths.MODEL_METADATA.read_text()) if paths.MODEL_METADATA.is_file() else {}
    facts: dict[str, Any] = {
        "commit": os.environ.get("MLOPS_REPORT_COMMIT") or training.get("git_commit"),
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
