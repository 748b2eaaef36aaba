"""`mlops report`: how this run's model compares with a baseline, as the pull-request comment.

Writes reports/pr/report.md (the comment: renders on GitHub, charts as Mermaid), report.html
(self-contained, figures inlined), comparison PNGs and facts.json (model size, ONNX latency,
rows; a later run reads it back when this run becomes its baseline).

The baseline is, in order: `--baseline-dir DIR` (the artifact of main's last training run,
laid out like the repository), else `--baseline REV` (what is committed at REV: metrics,
plots, params, dvc.lock), else none ("no baseline yet").
"""

from __future__ import annotations

import argparse
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
from mlops.errors import MlopsError

LOWER_IS_BETTER = {"log_loss"}
CURVE_POINTS = 21  # Mermaid charts: points per curve (at most 30 keep the comment light)
TOP_FEATURES = 10
PLOTS = ("confusion_matrix", "roc", "precision_recall", "feature_importance")
FACTS = paths.PR_REPORT_DIR / "facts.json"
WATERMARK = "mlops-model-report"  # the CML watermark title: one comment per pull request

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


@dataclass(frozen=True)
class Rule:
    metric: str
    max_drop: float
    fail_on_regression: bool


@dataclass(frozen=True)
class Verdict:
    status: str  # "better", "within", "regression" or "none"
    text: str

    @property
    def icon(self) -> str:
        return {"better": "✅", "within": "✅", "regression": "❌"}.get(self.status, "ℹ️")


# ---------------------------------------------------------------- reading runs


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


def load_run(read: Reader, label: str, commit: str | None = None) -> Run | None:
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
    )


def dataset_md5(dvc_lock: str | None) -> str | None:
    """The hash DVC recorded for data/raw/dataset.parquet: it changes exactly when the data does."""
    import yaml

    if not dvc_lock:
        return None
    for stage in (yaml.safe_load(dvc_lock) or {}).get("stages", {}).values():
        for out in stage.get("outs", []):
            if out.get("path") == str(paths.RAW):
                return out.get("md5")
    return None


# ---------------------------------------------------------------- measuring this run


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

    from mlops.io import read_table
    from mlops.schema import Schema
    from mlops.serving import runtime

    schema = Schema.load(schema_path)
    row = schema.features_frame(read_table(test).head(1))
    columns = {name: row[name].tolist() for name in row.columns}
    try:
        metadata = runtime.read_metadata(model.parent)
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


# ---------------------------------------------------------------- judging


def judge(pr: Run, base: Run | None, rule: Rule) -> Verdict:
    metric = rule.metric
    if metric not in pr.metrics:
        raise MlopsError(
            f"params.yaml report.metric '{metric}' is not in {paths.METRICS}; choose one of: {', '.join(pr.metrics)}"
        )
    if base is None or metric not in base.metrics:
        return Verdict("none", f"no baseline yet: {metric} is {pr.metrics[metric]:.4f}, nothing to compare with")
    gain = pr.metrics[metric] - base.metrics[metric]
    if metric in LOWER_IS_BETTER:
        gain = -gain
    rule_text = f"{metric} must not {'rise' if metric in LOWER_IS_BETTER else 'drop'} by more than {rule.max_drop:g}"
    if gain > 1e-12:
        return Verdict("better", f"better: {rule_text}, and it improved by {abs(gain):.4f}")
    if -gain <= rule.max_drop + 1e-12:
        return Verdict("within", f"within tolerance: {rule_text}; it moved by {abs(gain):.4f}")
    return Verdict("regression", f"regression: {rule_text}, and it got worse by {abs(gain):.4f}")


# ---------------------------------------------------------------- rendering


def short(commit: str | None) -> str:
    return commit.removesuffix("-dirty")[:7] if commit else "unknown"


def fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def marker(name: str, delta: float) -> str:
    if abs(delta) < 5e-7:
        return "⚪ ="
    better = (delta < 0) if name in LOWER_IS_BETTER else (delta > 0)
    return f"{'🟢' if better else '🔴'} {'▲' if delta > 0 else '▼'}"


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    lines += ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def metrics_table(pr: Run, base: Run | None, rule: Rule) -> str:
    header = ["metric", "this PR"] + ([base.label, "Δ", ""] if base else [])
    rows = []
    for name, value in pr.metrics.items():
        shown = f"**{name}**" if name == rule.metric else name
        row = [shown, fmt(value)]
        if base:
            old = base.metrics.get(name)
            row += [fmt(old), f"{value - old:+.4f}", marker(name, value - old)] if old is not None else ["n/a", "", ""]
        rows.append(row)
    return table(header, rows)


def flat_params(params: dict[str, Any]) -> dict[str, str]:
    """{"train": {"n": 1}} -> {"train.n": "1"}, values written as in params.yaml."""
    from mlops.config import flatten

    return {key: json.dumps(value) if not isinstance(value, str) else value for key, value in flatten(params).items()}


def params_section(pr: Run, base: Run | None) -> str:
    new = flat_params(pr.params)
    if base is None:
        changed = ""
    else:
        old = flat_params(base.params)
        keys = [key for key in sorted(set(new) | set(old)) if new.get(key) != old.get(key)]
        if keys:
            rows = [[f"`{key}`", old.get(key, "—"), new.get(key, "—")] for key in keys]
            changed = table(["param", base.label, "this PR"], rows) + "\n\n"
        else:
            changed = "No parameter changed.\n\n"
    every = table(["param", "value"], [[f"`{key}`", value] for key, value in sorted(new.items())])
    return f"{changed}<details><summary>All parameters of this PR</summary>\n\n{every}\n\n</details>"


def data_section(pr: Run, base: Run | None) -> str:
    def cells(name: str, key: str) -> list[Any]:
        row = [name, fmt(pr.facts.get(key))]
        return [*row, fmt(base.facts.get(key))] if base else row

    digest = [
        "dataset (md5 in dvc.lock)",
        f"`{(pr.dataset_md5 or 'n/a')[:12]}`",
    ]
    if base:
        same = pr.dataset_md5 == base.dataset_md5
        digest[1] += "" if same or not pr.dataset_md5 else " (changed)"
        digest.append(f"`{(base.dataset_md5 or 'n/a')[:12]}`")
    header = ["data", "this PR"] + ([base.label] if base else [])
    rows = [digest, cells("rows in the dataset", "dataset_rows"), cells("training rows", "train_rows")]
    rows.append(cells("test rows", "test_rows"))
    return table(header, rows) + "\n\n" + validation_section(pr.validation)


def validation_section(validation: dict[str, Any] | None) -> str:
    if validation is None:
        return "**Data validation:** not available (no reports/validation/summary.md in this run)."
    status = {True: "✅ passed", False: "❌ failed", None: "see summary"}[validation["success"]]
    summary = validation["summary"].strip() or "(empty summary)"
    return f"**Data validation:** {status}\n\n<details><summary>Validation summary</summary>\n\n{summary}\n\n</details>"


def confusion(rows: list[dict[str, str]], classes: list[str]) -> str:
    if not rows:
        return "not available"
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row["actual"], row["predicted"])
        counts[key] = counts.get(key, 0) + 1
    labels = classes or sorted({label for pair in counts for label in pair})
    body = [[f"**{actual}**"] + [counts.get((actual, predicted), 0) for predicted in labels] for actual in labels]
    return table(["actual ↓ / predicted →", *labels], body)


def per_class_table(pr: Run, base: Run | None) -> str:
    rows = []
    for label, values in pr.per_class.items():
        old = base.per_class.get(label, {}) if base else {}
        row = [f"**{label}**"]
        for key in ("precision", "recall", "f1"):
            row.append(fmt(values.get(key)) + (f" ({fmt(old.get(key))})" if base else ""))
        rows.append([*row, values.get("support", "")])
    suffix = f" ({base.label})" if base else ""
    return table(["class", f"precision{suffix}", f"recall{suffix}", f"f1{suffix}", "support"], rows)


def resample(points: list[tuple[float, float]], kind: str, n: int = CURVE_POINTS) -> list[float]:
    """A curve on an even grid of n x values in [0, 1], as Mermaid's numeric x axis needs.

    ROC: the best true-positive rate reached at or before each false-positive rate.
    Precision-recall: the best precision at that recall or above (interpolated precision).
    """
    grid = [i / (n - 1) for i in range(n)]
    values = []
    for x in grid:
        if kind == "roc":
            reached = [y for px, y in points if px <= x + 1e-9]
        else:
            reached = [y for px, y in points if px >= x - 1e-9]
        values.append(round(max(reached), 3) if reached else 0.0)
    return values


def curve_points(rows: list[dict[str, str]], x: str, y: str) -> list[tuple[float, float]]:
    return [(float(row[x]), float(row[y])) for row in rows]


def mermaid_curve(title: str, x_title: str, y_title: str, lines: list[list[float]]) -> str:
    series = "\n".join(f"    line [{', '.join(f'{value:g}' for value in line)}]" for line in lines)
    return (
        "```mermaid\n---\nconfig:\n  xyChart: {width: 560, height: 320}\n"
        '  themeVariables: {xyChart: {plotColorPalette: "#2563eb, #9ca3af"}}\n---\n'
        f'xychart-beta\n    title "{title}"\n    x-axis "{x_title}" 0 --> 1\n    y-axis "{y_title}" 0 --> 1\n'
        f"{series}\n```"
    )


def mermaid_importance(rows: list[dict[str, str]]) -> str:
    top = rows[:TOP_FEATURES]
    if not top:
        return "not available"
    labels = ", ".join('"' + row["feature"].replace('"', "'") + '"' for row in top)
    values = [float(row["importance"]) for row in top]
    top_value = max([*values, 0.001])
    return (
        "```mermaid\n---\nconfig:\n  xyChart: {width: 560, height: 360}\n"
        '  themeVariables: {xyChart: {plotColorPalette: "#2563eb"}}\n---\n'
        f'xychart-beta horizontal\n    title "Permutation importance, top {len(top)} (this PR)"\n'
        f"    x-axis [{labels}]\n"
        f'    y-axis "drop in accuracy when shuffled" {min([*values, 0.0]):g} --> {top_value * 1.1:.3g}\n'
        f"    bar [{', '.join(f'{value:g}' for value in values)}]\n```"
    )


def charts_section(pr: Run, base: Run | None) -> str:
    legend = f"blue: this PR, grey: {base.label}" if base else "this PR"
    parts = []
    for name, x, y, title in (
        ("roc", "fpr", "tpr", "ROC curve"),
        ("precision_recall", "recall", "precision", "Precision-recall curve"),
    ):
        runs = [run for run in (pr, base) if run and run.plots.get(name)]
        if not runs:
            continue
        lines = [resample(curve_points(run.plots[name], x, y), name) for run in runs]
        parts.append(mermaid_curve(f"{title} ({legend})", x, y, lines))
    parts.append(mermaid_importance(pr.plots.get("feature_importance", [])))
    return "\n\n".join(parts)


def size(value: int | None) -> str:
    if value is None:
        return "not available"
    return f"{value / 1024:.0f} KiB" if value < 1024 * 1024 else f"{value / 1024 / 1024:.1f} MiB"


def latency(facts: dict[str, Any]) -> str:
    if "onnx_latency_ms_p50" in facts:
        return f"{facts['onnx_latency_ms_p50']:.3f} ms (p95 {facts['onnx_latency_ms_p95']:.3f} ms)"
    if "onnx_latency_error" in facts:
        return f"not measured ({facts['onnx_latency_error']})"
    return "not available (no models/model.onnx)"


def facts_section(pr: Run, base: Run | None) -> str:
    def row(name: str, show: Callable[[dict[str, Any]], str]) -> list[str]:
        return [name, show(pr.facts)] + ([show(base.facts) if base.facts else "not available"] if base else [])

    def seconds(facts: dict[str, Any]) -> str:
        return f"{facts['train_seconds']:.2f} s" if facts.get("train_seconds") is not None else "n/a"

    rows = [
        row("model size (skops)", lambda facts: size(facts.get("model_bytes"))),
        row("model size (ONNX)", lambda facts: size(facts.get("onnx_bytes"))),
        row("ONNX single-row latency (median)", latency),
        row("training time", seconds),
        row("training rows", lambda facts: fmt(facts.get("train_rows"))),
        row("model version", lambda facts: fmt(facts.get("model_version"))),
    ]
    return table(["model", "this PR", *([base.label] if base else [])], rows)


def context_line(pr: Run, context: dict[str, str]) -> str:
    parts = [f"Commit `{short(pr.commit)}`"]
    if context.get("run_url"):
        parts.append(f"[workflow run]({context['run_url']})")
        parts.append(f"[report.html, figures and model in the run's artifacts]({context['run_url']}#artifacts)")
    return " · ".join(parts)


def render_markdown(pr: Run, base: Run | None, rule: Rule, verdict: Verdict, context: dict[str, str]) -> str:
    metric = rule.metric
    if base and metric in base.metrics:
        delta = pr.metrics[metric] - base.metrics[metric]
        headline = f"{metric} {base.metrics[metric]:.4f} → {pr.metrics[metric]:.4f} ({delta:+.4f}) against {base.label}"
    else:
        headline = f"{metric} {pr.metrics[metric]:.4f}, no baseline yet"
    baseline_note = (
        f"Baseline: {base.label} ({context.get('baseline_source', 'main')})."
        if base
        else "Baseline: no baseline yet (no successful training run or committed metrics on main)."
    )
    classes = list(pr.per_class)
    sections = [
        f"## {verdict.icon} Model report: {headline}",
        f"**Verdict:** {verdict.icon} {verdict.text} (rule: `report` in params.yaml).  \n{baseline_note}",
        metrics_table(pr, base, rule),
        "### What changed\n\n" + params_section(pr, base) + "\n\n" + data_section(pr, base),
        "### Model\n\n" + facts_section(pr, base),
        "<details><summary><b>Confusion matrices and per-class scores</b></summary>\n\n"
        f"**This PR**\n\n{confusion(pr.plots.get('confusion_matrix', []), classes)}\n\n"
        + (f"**{base.label}**\n\n{confusion(base.plots.get('confusion_matrix', []), classes)}\n\n" if base else "")
        + f"{per_class_table(pr, base)}\n\n</details>",
        "<details open><summary><b>Charts</b></summary>\n\n" + charts_section(pr, base) + "\n\n</details>",
        context_line(pr, context),
    ]
    return "\n\n".join(sections) + "\n"


# ---------------------------------------------------------------- HTML and figures


def draw_comparison(pr: Run, base: Run | None, out_dir: Path) -> list[Path]:
    """ROC and precision-recall curves of this run and the baseline on one chart each, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mlops.io import atomic_path

    drawn = []
    for name, x, y, title in (
        ("roc", "fpr", "tpr", "ROC curve"),
        ("precision_recall", "recall", "precision", "Precision-recall curve"),
    ):
        if not pr.plots.get(name):
            continue
        fig, ax = plt.subplots(figsize=(5, 4))
        for run, color in ((base, "#9ca3af"), (pr, "#2563eb")):  # this run drawn last, on top
            if run and run.plots.get(name):
                points = curve_points(run.plots[name], x, y)
                ax.plot([p[0] for p in points], [p[1] for p in points], color=color, label=run.label)
        ax.set(xlabel=x, ylabel=y, title=title, xlim=(0, 1), ylim=(0, 1.02))
        ax.legend(loc="lower right" if name == "roc" else "lower left")
        target = out_dir / f"{name}.png"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
        plt.close(fig)
        drawn.append(target)
    return drawn


HTML_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; max-width: 960px; margin: 2em auto; padding: 0 1em; color: #1f2328; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1em; }}
th, td {{ border: 1px solid #d0d7de; padding: 4px 10px; text-align: left; }}
th {{ background: #f6f8fa; }}
img {{ max-width: 100%; }}
.figures {{ display: flex; flex-wrap: wrap; gap: 1em; }}
</style></head><body>
{body}
<h3>Figures</h3>
<div class="figures">{figures}</div>
</body></html>
"""


def render_html(markdown: str, figures: list[Path]) -> str:
    """The report as one HTML file: Mermaid blocks (which need a script) give way to inlined PNGs."""
    import base64
    import html
    import re

    from markdown_it import MarkdownIt

    without_mermaid = re.sub(r"```mermaid\n.*?```\n?", "", markdown, flags=re.DOTALL).replace(
        "<details>", "<details open>"
    )
    body = MarkdownIt("commonmark", {"html": True}).enable("table").render(without_mermaid)
    images = "".join(
        f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,'
        f'{base64.b64encode(path.read_bytes()).decode()}"><figcaption>{html.escape(path.stem)}</figcaption></figure>'
        for path in figures
        if path.is_file()
    )
    return HTML_PAGE.format(title="Model report", body=body, figures=images or "<p>none</p>")


# ---------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--baseline", metavar="REV", help="compare with what is committed at REV (e.g. origin/main)")
    parser.add_argument(
        "--baseline-dir",
        metavar="DIR",
        type=Path,
        action="append",
        default=[],
        help="compare with a run's files laid out like the repository (repeatable: the first that has metrics wins)",
    )
    parser.add_argument("--out", type=Path, default=paths.PR_REPORT_DIR, help="output folder (default: %(default)s)")
    parser.add_argument("--params", default=str(paths.PARAMS), help="parameters file (default: %(default)s)")


def load_baseline(args: argparse.Namespace) -> tuple[Run | None, str]:
    for directory in args.baseline_dir:
        checkout = (directory / ".git").exists()
        commit = git("-C", str(directory), "rev-parse", "HEAD").stdout.strip() if checkout else None
        run = load_run(dir_reader(directory), "baseline", commit)
        if run:
            run.label = f"main@{short(run.commit)}"
            trained = run.facts and not checkout
            return run, "the last successful training run on main" if trained else "metrics committed on main"
    if args.baseline:
        commit = resolve_commit(args.baseline)
        if commit:
            run = load_run(git_reader(commit), f"main@{short(commit)}", commit)
            if run:
                return run, f"metrics committed at {args.baseline}"
    return None, ""


def run(args: argparse.Namespace) -> int:
    from mlops.config import load_params
    from mlops.io import write_json, write_text

    params = load_params(args.params)
    rule = Rule(params.report.metric, params.report.max_drop, params.report.fail_on_regression)
    write_json(args.out / "facts.json", measure_facts())
    pr = load_run(dir_reader("."), "this PR")
    if pr is None:
        raise MlopsError(f"{paths.METRICS} not found: run the pipeline first (make run)")
    pr.facts = json.loads((args.out / "facts.json").read_text())
    base, source = load_baseline(args)
    verdict = judge(pr, base, rule)
    server, repo, run_id = (os.environ.get(f"GITHUB_{name}", "") for name in ("SERVER_URL", "REPOSITORY", "RUN_ID"))
    context = {"baseline_source": source}
    if server and repo and run_id:
        context["run_url"] = f"{server}/{repo}/actions/runs/{run_id}"
    markdown = render_markdown(pr, base, rule, verdict, context)
    figures = draw_comparison(pr, base, args.out)
    figures += [paths.FIGURES_DIR / f"{name}.png" for name in ("confusion_matrix", "feature_importance")]
    write_text(args.out / "report.md", markdown)
    write_text(args.out / "report.html", render_html(markdown, figures))
    write_json(args.out / "verdict.json", {"status": verdict.status, "text": verdict.text, "baseline": source})
    print(f"report: {verdict.icon} {verdict.text} -> {args.out / 'report.md'}")
    if verdict.status == "regression" and rule.fail_on_regression:
        raise MlopsError(f"{verdict.text} (report.fail_on_regression is true in {args.params})")
    return 0
