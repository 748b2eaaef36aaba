"""PNG charts with matplotlib: the pipeline's figures and the report's comparisons are drawn here."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

# One curve: (label or None, x values, y values, colour or None).
Series = tuple[str | None, Sequence[float], Sequence[float], str | None]

CURVES = {  # name -> (x column, y column, title, legend corner)
    "roc": ("fpr", "tpr", "ROC curve", "lower right"),
    "precision_recall": ("recall", "precision", "Precision-recall curve", "lower left"),
}


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: Path) -> Path:
    """Write the figure as PNG atomically (no timestamp inside, so reruns give the same bytes) and close it."""
    from mlops.io import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    pyplot().close(fig)
    return path


def curve(name: str, series: list[Series], path: Path, diagonal: bool = False) -> Path:
    """One chart of the curves named in CURVES (or 'reliability'), each series a line, drawn last on top."""
    fallback = ("predicted probability", "observed frequency", name, "upper left")
    x_title, y_title, title, corner = CURVES.get(name, fallback)
    fig, ax = pyplot().subplots(figsize=(5, 4))
    if diagonal:
        ax.plot([0, 1], [0, 1], color="#d0d7de", linestyle="--", linewidth=1)
    for label, xs, ys, color in series:
        ax.plot(list(xs), list(ys), color=color, label=label, marker="o" if diagonal else None)
    ax.set(xlabel=x_title, ylabel=y_title, title=title, xlim=(0, 1), ylim=(0, 1.02))
    if any(label for label, *_ in series):
        ax.legend(loc=corner)
    return save(fig, path)
