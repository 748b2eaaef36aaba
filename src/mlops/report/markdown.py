"""The pull-request comment in Markdown: renders on GitHub, charts as Mermaid blocks.

A comment holds at most 65,536 characters. A report over `LIMIT` drops whole sections,
least needed first, and says which (they stay in report.html); long tables keep their
first rows and say how many more there are. Nothing is cut inside a table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mlops import paths
from mlops.metrics import direction
from mlops.report.judge import Comparison, TestComparison, signed
from mlops.report.runs import Run, short
from mlops.report.statistics import Interval

LIMIT = 60_000  # GitHub refuses comments over 65,536 characters; room for CML's watermark
CURVE_POINTS = 21  # Mermaid charts: points per curve (at most 30 keep the comment light)
TOP_FEATURES = 10
MAX_TABLE_ROWS = 25  # rows of a table that grows with the data (slices, changed params)


def fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def marker(name: str, delta: float) -> str:
    if abs(delta) < 5e-7:
        return "⚪ ="
    better = delta * direction(name) > 0
    return f"{'🟢' if better else '🔴'} {'▲' if delta > 0 else '▼'}"


def table(header: list[str], rows: list[list[Any]], limit: int | None = None, more: str = "") -> str:
    """A Markdown table; past `limit` rows, the first ones and a line saying how many more (and where)."""
    shown = rows if limit is None or len(rows) <= limit else rows[:limit]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    lines += ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in shown]
    if len(shown) < len(rows):
        lines.append(f"\n…and {len(rows) - len(shown)} more{more}.")
    return "\n".join(lines)


def interval_cell(interval: Interval) -> str:
    return f"{signed(interval.low)} to {signed(interval.high)}"


def significance(metric: str, interval: Interval) -> str:
    """🟢/🔴 when the interval excludes zero in the better/worse direction, ⚪ when it straddles it."""
    if interval.low > 0 or interval.high < 0:
        return "🟢" if interval.estimate * direction(metric) > 0 else "🔴"
    return "⚪"


# ---------------------------------------------------------------- the sections


def headline(comparison: Comparison) -> str:
    verdict, metric = comparison.verdict, comparison.settings.metric
    against = f" against {comparison.base.label}" if comparison.base else ""
    if verdict.status == "invalid":
        return f"## {verdict.icon} Model report: {verdict.words}"
    if verdict.status in ("none", "unknown"):
        return f"## {verdict.icon} Model report: {metric} {comparison.pr.metrics[metric]:.4f}, {verdict.words}{against}"
    worse = len(comparison.slices.worse) if comparison.slices else 0
    caveat = f", but {worse} slice{'s' if worse > 1 else ''} got worse" if worse else ""
    return f"## {verdict.icon} Model report: {verdict.words} in {metric}{against}{caveat}"


def verdict_section(comparison: Comparison, context: dict[str, str]) -> str:
    verdict, settings, base = comparison.verdict, comparison.settings, comparison.base
    lines = [f"**Verdict:** {verdict.icon} {verdict.sentence}."]
    evidence = verdict.evidence
    if evidence:
        lines.append(
            f"{evidence.method.capitalize()}, p = {evidence.interval.p_value:.3g}. Rule (`report` in params.yaml): "
            f"better when the interval lies above {signed(settings.min_effect)}, worse when below "
            f"{signed(-settings.max_drop)}, else no detectable change."
        )
        if evidence.note:
            lines.append(f"⚠️ {evidence.note}.")
    if base:
        lines.append(f"Baseline: {base.label} ({context.get('baseline_source', 'main')}).")
    else:
        lines.append("Baseline: no baseline yet (no successful training run or committed metrics on main).")
    cost = cost_line(comparison.pr, comparison.regression)
    if cost:
        lines.append(cost)
    return "  \n".join(lines)


def cost_line(pr: Run, regression: bool = False) -> str:
    cv = pr.cv
    if not cv:
        return ""
    sample = ""
    if cv["rows"] < cv["rows_available"]:
        kind = "random" if regression else "stratified"
        sample = f" on a {kind} subsample of {cv['rows']:,} of {cv['rows_available']:,} rows (`report.cv_max_rows`)"
    return (
        f"Cost: this run cross-validated its model in {cv['seconds']:.1f} s, {cv['fits']} fits of "
        f"{cv['train_rows']:,} rows each{sample}; main's per-fold scores come from main's own run."
    )


def cv_section(comparison: Comparison) -> str:
    pr, base = comparison.pr, comparison.base
    if not pr.cv:
        return f"No cross-validation scores in this run ({paths.CV_SCORES}): run the `crossval` stage."
    if base is None or not base.cv:
        means = [[name, fmt(sum(values) / len(values))] for name, values in pr.cv["metrics"].items()]
        missing = "" if base is None else " main's run has no per-fold scores to compare with."
        intro = f"Mean over {pr.cv['folds']}×{pr.cv['repeats']} folds.{missing}"
        return intro + "\n\n" + table(["metric", "this PR"], means)
    rows = []
    for name, evidence in comparison.cv_by_metric.items():
        old = base.cv["metrics"][name]
        new = pr.cv["metrics"][name]
        shown = f"**{name}**" if name == comparison.settings.metric else name
        rows.append(
            [shown, fmt(sum(old) / len(old)), fmt(sum(new) / len(new)), signed(evidence.interval.estimate, 4),
             interval_cell(evidence.interval), significance(name, evidence.interval)]
        )  # fmt: skip
    first = next(iter(comparison.cv_by_metric.values()), None)
    basis = f"Means over {first.basis}; {first.method}." if first else ""
    level = f"{comparison.settings.level:.0%}"
    return basis + "\n\n" + table(["metric", base.label, "this PR", "Δ", f"{level} interval", ""], rows)


def test_section(comparison: Comparison) -> str:
    pr, base, test = comparison.pr, comparison.base, comparison.test
    level = f"{comparison.settings.level:.0%}"
    if base is None:
        return table(["metric", "this PR"], [[name, fmt(value)] for name, value in pr.metrics.items()])
    if test is None:
        rows = []
        for name, value in pr.metrics.items():
            old = base.metrics.get(name)
            rows.append([name, fmt(old), fmt(value), signed(value - old, 4) if old is not None else "", ""])
        note = comparison.test_missing or "no per-row predictions"
        return f"Point estimates only: {note}.\n\n" + table(["metric", base.label, "this PR", "Δ", ""], rows)
    if test.paired:
        intro = (
            f"Both runs scored the same {test.rows[0]} test rows: paired bootstrap "
            f"({comparison.settings.bootstrap} resamples)."
        )
    else:
        intro = f"⚠️ Unpaired: {test.note}."
    rows = [
        interval_row(comparison, name, base.metrics.get(name), value, test.intervals.get(name))
        for name, value in pr.metrics.items()
    ]
    text = intro + "\n\n" + table(["metric", base.label, "this PR", "Δ", f"{level} interval", ""], rows)
    return text + mcnemar_line(test, base.label)


def interval_row(comparison: Comparison, name: str, old: float | None, new: float, interval: Interval | None):
    """A metric's row: main's value, this PR's, the difference, its interval and whether it is significant."""
    cells = [interval_cell(interval), significance(name, interval)] if interval else ["n/a", ""]
    shown = f"**{name}**" if name == comparison.settings.metric else name
    return [shown, fmt(old), fmt(new), signed(new - old, 4) if old is not None else "n/a", *cells]


def mcnemar_line(test: TestComparison, base_label: str) -> str:
    if not test.mcnemar:
        return ""
    only_new, only_old, p_value = test.mcnemar
    return (
        f"\n\nMcNemar's exact test on accuracy: {only_new} rows right only in this PR, {only_old} right only "
        f"in {base_label}, p = {p_value:.3g}."
    )


def retrained_section(comparison: Comparison) -> str:
    """Main's model and this PR's on rows neither trained on, when this PR retrains on a new data version."""
    retrained, base = comparison.retrained, comparison.base
    if retrained is None or base is None:
        return ""
    text = (
        f"This PR trains on `{retrained.source}`, the data plus {retrained.added} labelled production rows "
        f"(`mlops retrain-data`). Both models scored the same rows, only rows neither trained on; paired bootstrap "
        f"({comparison.settings.bootstrap} resamples)."
    )
    if retrained.missing:
        return f"{text}\n\nNot compared: {retrained.missing}."
    if not retrained.sets:
        return f"{text}\n\nNot compared: no such rows (none of the fresh rows fell in this PR's test split)."
    level = f"{comparison.settings.level:.0%}"
    for held in retrained.sets:
        rows = [
            interval_row(comparison, name, old, new, held.test.intervals.get(name))
            for name, (old, new) in held.scores.items()
        ]
        text += (
            f"\n\n**On {held.name}**: {held.rows} of {held.offered} rows (the others trained this PR's model).\n\n"
            + table(["metric", base.label, "this PR", "Δ", f"{level} interval", ""], rows)
        )
        text += mcnemar_line(held.test, base.label)
    return text


def slices_section(comparison: Comparison) -> str:
    slices, metric = comparison.slices, comparison.settings.metric
    if slices is None:
        return f"Not compared: {comparison.slices_missing}."
    if slices.unavailable:
        return f"Not compared: {slices.unavailable}."
    checked = len(slices.checked)
    how = (
        f"{checked} slices of at least {comparison.settings.slice_min_rows} rows (each categorical value, quantile "
        f"bins of the most important numeric features), out-of-fold predictions, paired bootstrap; intervals at "
        f"{slices.level:.2%} so that all {checked} hold together at {comparison.settings.level:.0%}."
    )
    if not slices.worse:
        return f"No slice got significantly worse. Checked {how}"
    rows = []
    for item in slices.worse:
        estimate = signed(item.interval.estimate)
        rows.append([item.name, item.rows, fmt(item.old), fmt(item.new), estimate, interval_cell(item.interval)])
    header = ["slice", "rows", comparison.base.label, "this PR", "Δ", "interval"]
    return (
        f"🔴 **{len(slices.worse)} slice{'s' if len(slices.worse) > 1 else ''} got significantly worse in {metric}** "
        f"(by more than report.max_drop, {comparison.settings.max_drop:g}), whatever the average says:\n\n"
        + table(header, rows, MAX_TABLE_ROWS, " in report.html")
        + f"\n\nChecked {how}"
    )


def calibration_section(comparison: Comparison) -> str:
    runs = comparison.calibration
    if not runs:
        return "Not available: no per-row test predictions."
    rows = [[label, fmt(item.brier), fmt(item.ece), item.rows] for label, item in runs.items()]
    text = table(["run", "Brier score", "expected calibration error", "test rows"], rows)
    first = next(iter(runs.values()))
    binary = len(comparison.pr.per_class) == 2
    what = "the positive class's probability" if binary else "the top class's probability"
    return (
        text
        + f"\n\nLower is better for both. Reliability of this PR over 10 bins of {what}: bars the observed frequency "
        "(0 in an empty bin), line where a calibrated model would be.\n\n" + mermaid_reliability(first.bins)
    )


def mermaid_reliability(bins: list[dict[str, float]]) -> str:
    by_bin = {round(item["low"] * 10): item for item in bins}
    observed = [round(by_bin[index]["observed"], 3) if index in by_bin else 0 for index in range(10)]
    labels = ", ".join(f'"{(index + 0.5) / 10:.2f}"' for index in range(10))
    ideal = ", ".join(f"{(index + 0.5) / 10:g}" for index in range(10))
    return (
        "```mermaid\n---\nconfig:\n  xyChart: {width: 560, height: 320}\n"
        '  themeVariables: {xyChart: {plotColorPalette: "#2563eb, #9ca3af"}}\n---\n'
        'xychart-beta\n    title "Reliability (this PR, test split)"\n'
        f'    x-axis "predicted probability" [{labels}]\n    y-axis "observed frequency" 0 --> 1\n'
        f"    bar [{', '.join(f'{value:g}' for value in observed)}]\n    line [{ideal}]\n```"
    )


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


def mermaid_chart(title: str, x_axis: str, y_title: str, series: list[tuple[str, str, list[float]]]) -> str:
    """An xychart with a labelled x axis; `series`: (bar | line, colour, values), drawn in that order."""
    palette = ", ".join(colour for _, colour, _ in series)
    lines = "\n".join(f"    {kind} [{', '.join(f'{value:.4g}' for value in values)}]" for kind, _, values in series)
    return (
        "```mermaid\n---\nconfig:\n  xyChart: {width: 560, height: 320}\n"
        f'  themeVariables: {{xyChart: {{plotColorPalette: "{palette}"}}}}\n---\n'
        f'xychart-beta\n    title "{title}"\n    x-axis {x_axis}\n    y-axis "{y_title}"\n{lines}\n```'
    )


def axis_labels(title: str, values) -> str:
    return f'"{title}" [' + ", ".join(f'"{value:.4g}"' for value in values) + "]"


def predicted_vs_actual(pr: Run, base: Run | None, bins: int = 10) -> str:
    """Mean prediction in each tenth of this PR's actual values (by rank), the baseline's on the same
    ranges, and the mean actual value (where a perfect model's line would be). Mermaid has no scatter."""
    import numpy as np

    def points(run: Run) -> tuple[np.ndarray, np.ndarray]:
        rows = run.plots.get("predicted_vs_actual", [])
        return tuple(np.array([float(row[key]) for row in rows]) for key in ("actual", "predicted"))  # type: ignore[return-value]

    actual, predicted = points(pr)
    if len(actual) == 0:
        return "not available"
    edges = np.unique(np.quantile(actual, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        return "not available (every actual value is the same)"

    def means(values: np.ndarray, of: np.ndarray) -> list[float]:
        which = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
        return [
            float(of[which == index].mean()) if (which == index).any() else float("nan")
            for index in range(len(edges) - 1)
        ]

    ideal = means(actual, actual)
    series = [("line", "#2563eb", means(actual, predicted))]
    if base is not None and base.plots.get("predicted_vs_actual"):
        base_actual, base_predicted = points(base)
        series.append(("line", "#9ca3af", means(base_actual, base_predicted)))
    series.append(("line", "#d0d7de", ideal))
    keep = [index for index in range(len(ideal)) if all(np.isfinite(values[index]) for _, _, values in series)]
    series = [(kind, colour, [values[index] for index in keep]) for kind, colour, values in series]
    legend = f"blue: this PR, grey: {base.label}, light: actual" if len(series) == 3 else "blue: this PR, light: actual"
    return mermaid_chart(
        f"Predicted vs actual, mean per tenth of the actual values ({legend})",
        axis_labels("actual (mean of the tenth)", [ideal[index] for index in keep]),
        "mean prediction",
        series,
    )


def residual_histogram(pr: Run, base: Run | None, bins: int = 12) -> str:
    """The share of test rows in each bin of actual minus predicted: bars this PR, a line the baseline."""
    import numpy as np

    def residuals(run: Run | None) -> np.ndarray:
        rows = run.plots.get("residuals", []) if run else []
        return np.array([float(row["residual"]) for row in rows])

    new, old = residuals(pr), residuals(base)
    if len(new) == 0:
        return "not available"
    both = np.concatenate([new, old])
    low, high = float(both.min()), float(both.max())
    if low == high:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, bins + 1)
    series = [("bar", "#2563eb", (np.histogram(new, edges)[0] / len(new)).tolist())]
    if len(old):
        series.append(("line", "#9ca3af", (np.histogram(old, edges)[0] / len(old)).tolist()))
    legend = f"bars: this PR, line: {base.label}" if len(old) else "this PR"
    centres = (edges[:-1] + edges[1:]) / 2
    return mermaid_chart(
        f"Residuals, actual minus predicted ({legend})", axis_labels("residual", centres), "share of rows", series
    )


def mermaid_importance(rows: list[dict[str, str]], score: str = "accuracy") -> str:
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
        f'    y-axis "drop in {score} when shuffled" {min([*values, 0.0]):g} --> {top_value * 1.1:.3g}\n'
        f"    bar [{', '.join(f'{value:g}' for value in values)}]\n```"
    )


def charts(pr: Run, base: Run | None, regression: bool = False) -> str:
    from mlops.figures import CURVES

    if regression:
        parts = [predicted_vs_actual(pr, base), residual_histogram(pr, base)]
        parts.append(mermaid_importance(pr.plots.get("feature_importance", []), "R²"))
        return "<details open><summary><b>Charts (test split)</b></summary>\n\n" + "\n\n".join(parts) + "\n\n</details>"
    legend = f"blue: this PR, grey: {base.label}" if base else "this PR"
    parts = []
    for name, (x, y, title, _) in CURVES.items():
        runs = [run for run in (pr, base) if run and run.plots.get(name)]
        if runs:
            lines = [resample(curve_points(run.plots[name], x, y), name) for run in runs]
            parts.append(mermaid_curve(f"{title} ({legend})", x, y, lines))
    parts.append(mermaid_importance(pr.plots.get("feature_importance", [])))
    return "<details open><summary><b>Charts (test split)</b></summary>\n\n" + "\n\n".join(parts) + "\n\n</details>"


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


# ---------------------------------------------------------------- the whole comment


def sections(comparison: Comparison, context: dict[str, str]) -> list[tuple[str, str, int]]:
    """(title for a trimming note, text, priority): priority 0 is never dropped; higher numbers go first."""
    pr, base, regression = comparison.pr, comparison.base, comparison.regression
    changed = changed_params(pr, base)
    retrained = retrained_section(comparison)
    calibration = "" if regression else "### Calibration (test split)\n\n" + calibration_section(comparison)
    return [
        ("", headline(comparison), 0),
        ("", verdict_section(comparison, context), 0),
        ("", "### Cross-validation (the verdict's evidence)\n\n" + cv_section(comparison), 0),
        ("", "### Slices\n\n" + slices_section(comparison), 0),
        ("", "### Test split\n\n" + test_section(comparison), 0),
        ("", retrained and "### Retrained on production rows\n\n" + retrained, 0),
        ("the calibration chart", calibration, 3),
        ("", "### What changed\n\n" + (changed + "\n\n" if changed else "") + data_table(pr, base), 0),
        ("", validation_status(pr.validation), 0),
        ("the validation summary", validation_details(pr.validation), 2),
        ("the list of all parameters", all_params(pr), 5),
        ("", "### Model\n\n" + facts_table(pr, base), 0),
        ("the confusion matrices and per-class scores", "" if regression else confusion_details(pr, base), 4),
        ("the charts", charts(pr, base, regression), 1),
        ("", context_line(pr, context), 0),
    ]


def render(comparison: Comparison, context: dict[str, str], limit: int | None = LIMIT) -> str:
    """The comment; over `limit` characters, whole sections are dropped (highest priority number first)."""
    parts = [part for part in sections(comparison, context) if part[1]]
    dropped: list[str] = []
    while limit is not None and len(join(parts, dropped)) > limit:
        candidates = [part for part in parts if part[2] > 0]
        if not candidates:
            break
        victim = max(candidates, key=lambda part: part[2])
        parts.remove(victim)
        dropped.append(victim[0])
    return join(parts, dropped)


def join(parts: list[tuple[str, str, int]], dropped: list[str]) -> str:
    texts = [text for _, text, _ in parts]
    if dropped:
        texts.insert(
            -1,
            f"✂️ Trimmed to fit GitHub's comment limit: {', '.join(dropped)} (all in report.html, in the run's "
            "artifacts).",
        )
    return "\n\n".join(texts) + "\n"
