"""report.html and its PNGs: the same report in one self-contained file, figures inlined."""

from __future__ import annotations

from pathlib import Path

from mlops import figures
from mlops.report.charts import curve_points
from mlops.report.results import Comparison

PAGE = """<!doctype html>
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


def draw(comparison: Comparison, out_dir: Path) -> list[Path]:
    """This run's and the baseline's ROC and precision-recall curves, and this run's reliability, as PNG;
    for a regression model, both runs' predicted against actual values and their residuals."""
    pr, base = comparison.pr, comparison.base
    if comparison.regression:
        return draw_regression(pr, base, out_dir)
    drawn = []
    for name, (x, y, _, _) in figures.CURVES.items():
        if not pr.plots.get(name):
            continue
        series = []
        for run, color in ((base, "#9ca3af"), (pr, "#2563eb")):  # this run drawn last, on top
            if run and run.plots.get(name):
                points = curve_points(run.plots[name], x, y)
                series.append((run.label, [p[0] for p in points], [p[1] for p in points], color))
        drawn.append(figures.curve(name, series, out_dir / f"{name}.png"))
    if comparison.calibration:
        series = [
            (label, [b["predicted"] for b in item.bins], [b["observed"] for b in item.bins], color)
            for (label, item), color in zip(comparison.calibration.items(), ("#2563eb", "#9ca3af"), strict=False)
        ]
        drawn.append(figures.curve("Reliability (test split)", series, out_dir / "reliability.png", diagonal=True))
    return drawn


def render(markdown: str, pictures: list[Path]) -> str:
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
        for path in pictures
        if path.is_file()
    )
    return PAGE.format(title="Model report", body=body, figures=images or "<p>none</p>")


def draw_regression(pr, base, out_dir: Path) -> list[Path]:
    plt = figures.pyplot()
    runs = [(run, colour) for run, colour in ((base, "#9ca3af"), (pr, "#2563eb")) if run]  # this run on top
    drawn = []
    for name, x, y, title in (
        ("predicted_vs_actual", "actual", "predicted", "Predicted vs actual (test split)"),
        ("residuals", "predicted", "residual", "Residuals, actual minus predicted (test split)"),
    ):
        if not pr.plots.get(name):
            continue
        fig, ax = plt.subplots(figsize=(5, 4))
        for run, colour in runs:
            points = curve_points(run.plots.get(name, []), x, y)
            ax.scatter([p[0] for p in points], [p[1] for p in points], s=10, alpha=0.6, color=colour, label=run.label)
        if name == "residuals":
            ax.axhline(0, color="#d0d7de", linestyle="--", linewidth=1)
        else:
            low, high = ax.get_xlim()
            ax.plot([low, high], [low, high], color="#d0d7de", linestyle="--", linewidth=1)
        ax.set(xlabel=x, ylabel=y, title=title)
        ax.legend(loc="upper left")
        drawn.append(figures.save(fig, out_dir / f"{name}.png"))
    return drawn
