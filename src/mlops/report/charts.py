"""The report's charts as Mermaid xychart blocks, which GitHub renders in a comment: ROC and
precision-recall curves, reliability, permutation importance, and for regression predicted
against actual values and a histogram of residuals. Mermaid has no scatter plot, so curves are
resampled on an even grid and points summarised in bins.
"""

from __future__ import annotations

from mlops.report.runs import Run

CURVE_POINTS = 21  # points per curve (at most 30 keep the comment light)
TOP_FEATURES = 10


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
