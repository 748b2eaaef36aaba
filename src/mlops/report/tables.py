"""Markdown tables of the pull-request comment, and the tables of one run's facts: its parameters,
data, validation, confusion matrices and per-class scores, model size and latency.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mlops import paths
from mlops.report.runs import Run, short

MAX_TABLE_ROWS = 25  # rows of a table that grows with the data (slices, changed params)


def fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(header: list[str], rows: list[list[Any]], limit: int | None = None, more: str = "") -> str:
    """A Markdown table; past `limit` rows, the first ones and a line saying how many more (and where)."""
    shown = rows if limit is None or len(rows) <= limit else rows[:limit]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    lines += ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in shown]
    if len(shown) < len(rows):
        lines.append(f"\n…and {len(rows) - len(shown)} more{more}.")
    return "\n".join(lines)


def flat_params(params: dict[str, Any]) -> dict[str, str]:
    """{"train": {"n": 1}} -> {"train.n": "1"}, values written as in params.yaml."""
    from mlops.config import flatten

    return {key: json.dumps(value) if not isinstance(value, str) else value for key, value in flatten(params).items()}


def changed_params(pr: Run, base: Run | None) -> str:
    if base is None:
        return ""
    new, old = flat_params(pr.params), flat_params(base.params)
    keys = [key for key in sorted(set(new) | set(old)) if new.get(key) != old.get(key)]
    if not keys:
        return "No parameter changed."
    rows = [[f"`{key}`", old.get(key, "—"), new.get(key, "—")] for key in keys]
    return table(["param", base.label, "this PR"], rows, MAX_TABLE_ROWS * 2, " (all parameters in report.html)")


def all_params(pr: Run) -> str:
    every = table(["param", "value"], [[f"`{key}`", value] for key, value in sorted(flat_params(pr.params).items())])
    return f"<details><summary>All parameters of this PR</summary>\n\n{every}\n\n</details>"


def data_table(pr: Run, base: Run | None) -> str:
    def cells(name: str, key: str) -> list[Any]:
        row = [name, fmt(pr.facts.get(key))]
        return [*row, fmt(base.facts.get(key))] if base else row

    digest = ["dataset (md5 in dvc.lock)", f"`{(pr.dataset_md5 or 'n/a')[:12]}`"]
    if base:
        same = pr.dataset_md5 == base.dataset_md5
        digest[1] += "" if same or not pr.dataset_md5 else " (changed)"
        digest.append(f"`{(base.dataset_md5 or 'n/a')[:12]}`")
    header = ["data", "this PR"] + ([base.label] if base else [])
    rows = [digest, cells("rows in the dataset", "dataset_rows"), cells("training rows", "train_rows")]
    rows.append(cells("test rows", "test_rows"))
    return table(header, rows)


def validation_status(validation: dict[str, Any] | None) -> str:
    if validation is None:
        return f"**Data validation:** not available (no {paths.VALIDATION_SUMMARY} in this run)."
    status = {True: "✅ passed", False: "❌ failed", None: "see summary"}[validation["success"]]
    return f"**Data validation:** {status}"


def validation_details(validation: dict[str, Any] | None) -> str:
    if validation is None:
        return ""
    summary = validation["summary"].strip() or "(empty summary)"
    return f"<details><summary>Validation summary</summary>\n\n{summary}\n\n</details>"


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


def confusion_details(pr: Run, base: Run | None) -> str:
    classes = list(pr.per_class)
    return (
        "<details><summary><b>Confusion matrices and per-class scores (test split)</b></summary>\n\n"
        f"**This PR**\n\n{confusion(pr.plots.get('confusion_matrix', []), classes)}\n\n"
        + (f"**{base.label}**\n\n{confusion(base.plots.get('confusion_matrix', []), classes)}\n\n" if base else "")
        + f"{per_class_table(pr, base)}\n\n</details>"
    )


def size(value: int | None) -> str:
    if value is None:
        return "not available"
    return f"{value / 1024:.0f} KiB" if value < 1024 * 1024 else f"{value / 1024 / 1024:.1f} MiB"


def latency(facts: dict[str, Any]) -> str:
    if "onnx_latency_ms_p50" in facts:
        return f"{facts['onnx_latency_ms_p50']:.3f} ms (p95 {facts['onnx_latency_ms_p95']:.3f} ms)"
    if "onnx_latency_error" in facts:
        return f"not measured ({facts['onnx_latency_error']})"
    return f"not available (no {paths.ONNX_MODEL})"


def facts_table(pr: Run, base: Run | None) -> str:
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
