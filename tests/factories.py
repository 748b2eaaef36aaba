"""Synthetic data for the tests: the one place a test finds a frame to train, serve, monitor or report on.

Which generator for what:

- `classification()`: the template's example shape: numeric `size`, `weight` (with missing values),
  categorical `color` (with missing values), an unrelated `grade`, and a three-class `label`
  (low, mid, high) that the features decide up to some noise. Serving, deploy and report tests
  train on it.
- `regression()`: the same columns with a continuous `label`.
- `numeric_classes()`: numeric columns only (one with missing values) and two classes: a model
  that takes one [N, F] tensor.
- `noiseless(rows, seed, shift)`: two numeric features and one categorical whose class (`outcome`:
  down, up) follows `noiseless_truth` exactly, so a test can label logged rows as a reviewer
  would; `shift` moves `load` (covariate drift, the rule unchanged). The monitoring loop's data.
- `measurements(...)`: measurements on different scales, some driven by one hidden factor that
  also decides the binary target, the rest unrelated: a dataset a model learns well, whose
  important features are known.
- `table(rows, seed, columns, rule)`: the engine under the four above, for a test whose assertions
  need columns of its own (`numeric`, `gamma`, `integers`, `category` or a `Column` describe
  each column; `drawn_labels` is a target unrelated to them).
- `scores(classes, rows, seed, skill)`: a classifier's output without a model: actual class
  indices and probabilities.

Each is deterministic in its seed. `table` draws in a documented order, so a test whose assertions
depend on the values (a golden file, a statistical threshold) keeps them as long as it passes the
same columns, seed and sizes; a change here that moves them shows up as that test's failure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

Rule = Callable[[pd.DataFrame, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class Column:
    """How one column is drawn: `draw(rng, rows)`, rounded to `decimals`, then a `missing` share of it lost."""

    draw: Callable[[np.random.Generator, int], np.ndarray]
    decimals: int | None = None
    missing: float = 0.0
    sd: float = 1.0  # the unit of `table(shift=...)`


def numeric(mean: float = 0.0, sd: float = 1.0, *, decimals: int | None = None, missing: float = 0.0) -> Column:
    """Normal with `mean` and `sd`."""
    return Column(lambda rng, rows: rng.normal(mean, sd, rows), decimals, missing, sd)


def gamma(shape: float, scale: float, *, decimals: int | None = None, missing: float = 0.0) -> Column:
    """Gamma-distributed: never negative, skewed to the right (amounts, areas)."""
    return Column(lambda rng, rows: rng.gamma(shape, scale, rows), decimals, missing, np.sqrt(shape) * scale)


def integers(low: int, high: int) -> Column:
    """Whole numbers in [low, high)."""
    return Column(lambda rng, rows: rng.integers(low, high, rows))


def category(values: Sequence, p: Sequence[float] | None = None, *, missing: float = 0.0) -> Column:
    """One of `values` (with shares `p`; a None among them is a missing value)."""
    return Column(lambda rng, rows: rng.choice(list(values), rows, p=p).astype(object), missing=missing)


def table(
    rows: int,
    seed: int,
    columns: dict[str, Column],
    rule: Rule | None = None,
    *,
    target: str = "label",
    shift: dict[str, float] | None = None,
    unrelated: dict[str, Column] | None = None,
) -> pd.DataFrame:
    """`rows` rows of `columns`, then `target` = `rule(frame, rng)` (left out without a rule).

    In this order, from one generator: each column's values, with `shift` (column: standard
    deviations) added, rounded; the target, from the complete values (the rule may draw noise
    from rng); each column's missing values; then the `unrelated` columns (each with its missing
    values), which the rule does not see and whose presence leaves every other value as it was.
    """
    rng = np.random.default_rng(seed)
    shift = shift or {}
    unrelated = unrelated or {}
    frame = pd.DataFrame({name: _draw(column, rng, rows, shift.get(name)) for name, column in columns.items()})
    if rule is not None:
        frame[target] = rule(frame, rng)
    for name, column in columns.items():
        frame[name] = _lose_values(frame[name], column, rng)
    extra = {name: _lose_values(pd.Series(_draw(column, rng, rows)), column, rng) for name, column in unrelated.items()}
    frame = pd.concat([frame, pd.DataFrame(extra, index=frame.index)], axis=1)  # at once: there may be hundreds
    return frame[[*columns, *unrelated, *([target] if rule is not None else [])]]


def _draw(column: Column, rng: np.random.Generator, rows: int, shift: float | None = None) -> np.ndarray:
    values = column.draw(rng, rows)
    if shift is not None:
        values = values + shift * column.sd
    return values.round(column.decimals) if column.decimals is not None else values


def _lose_values(values: pd.Series, column: Column, rng: np.random.Generator) -> pd.Series:
    if not column.missing:
        return values
    values = values.copy()
    values[rng.random(len(values)) < column.missing] = None
    return values


def drawn_labels(values: Sequence, p: Sequence[float] | None = None) -> Rule:
    """A rule for `table`: the target is one of `values` (shares `p`), whatever the features."""
    return lambda frame, rng: rng.choice(list(values), len(frame), p=p)


# The example shape: what classification() and regression() share.
EXAMPLE = {
    "size": numeric(10, 3),
    "weight": numeric(50, 10, missing=0.05),
    "color": category(["red", "green", "blue"], missing=0.05),
}


def classification(rows: int = 240, seed: int = 0, *, target: str = "label") -> pd.DataFrame:
    """The example shape, `target` one of low, mid, high: a noisy score of size, weight and color red."""

    def rule(frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        red = np.where(frame["color"] == "red", 1.5, 0)
        score = frame["size"] / 3 + (frame["weight"] - 50) / 10 + red + rng.normal(0, 0.5, rows)
        return np.select([score < 3.2, score < 4.4], ["low", "mid"], "high")

    return table(rows, seed, EXAMPLE, rule, target=target, unrelated={"grade": integers(1, 4)})


def regression(rows: int = 240, seed: int = 2, *, target: str = "label") -> pd.DataFrame:
    """The example shape without `grade`, `target` a number: 20 size + 3 weight + 40 if red, plus noise."""

    def rule(frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        red = np.where(frame["color"] == "red", 40.0, 0.0)
        return (20 * frame["size"] + 3 * frame["weight"] + red + rng.normal(0, 5, rows)).to_numpy()

    return table(rows, seed, EXAMPLE, rule, target=target)


def numeric_classes(rows: int = 200, seed: int = 1, *, target: str = "label") -> pd.DataFrame:
    """`length`, `width` (with missing values), `target` yes or no: a noisy length + 2 width over 9."""

    def rule(frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        return np.where(frame["length"] + 2 * frame["width"] + rng.normal(0, 0.3, rows) > 9, "yes", "no")

    columns = {"length": numeric(5, 1), "width": numeric(2, 0.5, missing=0.05)}
    return table(rows, seed, columns, rule, target=target)


NOISELESS_TARGET = "outcome"
NOISELESS_CLASSES = ["down", "up"]


def noiseless_truth(frame: pd.DataFrame) -> np.ndarray:
    """The class of each row of `noiseless()` data, from its features alone."""
    score = frame["load"] + 0.5 * frame["spread"] + np.where(frame["tier"] == "gold", 0.8, 0.0)
    return np.where(score > 0.4, "up", "down")


def noiseless(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """`load`, `spread` (4 decimals), `tier`, and the class `noiseless_truth` gives; `shift` moves `load`
    by that many standard deviations (the rule stays, so the classes' shares move with it)."""
    columns = {
        "load": numeric(decimals=4),
        "spread": numeric(decimals=4),
        "tier": category(["bronze", "silver", "gold"]),
    }
    return table(
        rows, seed, columns, lambda frame, _: noiseless_truth(frame), target=NOISELESS_TARGET, shift={"load": shift}
    )


def measurements(
    rows: int,
    seed: int,
    informative: dict[str, float],
    unrelated: dict[str, float | Column] | None = None,
    *,
    loading: float = 1.0,
    spread: float = 1.0,
    decimals: int = 3,
    label_noise: float = 0.3,
    threshold: float = 0.0,
    classes: Sequence[str] = ("no", "yes"),
    target: str = "target",
) -> pd.DataFrame:
    """Positive measurements, `name: scale` each, around 2 x scale. The `informative` ones follow one
    hidden factor (`loading` times it, plus `spread` times their own noise); the `unrelated` ones are
    noise (or drawn as their `Column` says). All are rounded to `decimals`. `target` is `classes[1]`
    where the factor plus noise of sd `label_noise` is over `threshold`."""
    rng = np.random.default_rng(seed)
    factor = rng.normal(size=rows)
    columns = {
        name: scale * (2 + loading * factor + spread * rng.normal(size=rows)) for name, scale in informative.items()
    }
    for name, scale in (unrelated or {}).items():
        columns[name] = _draw(scale, rng, rows) if isinstance(scale, Column) else scale * (2 + rng.normal(size=rows))
    frame = pd.DataFrame(columns).round(decimals)
    frame[target] = np.where(factor + rng.normal(scale=label_noise, size=rows) > threshold, classes[1], classes[0])
    return frame


def scores(classes: int, rows: int, seed: int, skill: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(actual class indices, probabilities [rows, classes]) of a classifier: Dirichlet noise, with up to
    `skill` added to the actual class's probability before normalising (0: a guesser)."""
    rng = np.random.default_rng(seed)
    actual = rng.integers(0, classes, rows)
    proba = rng.dirichlet(np.ones(classes), rows)
    if skill:
        proba[np.arange(rows), actual] += skill * rng.random(rows)
        proba /= proba.sum(axis=1, keepdims=True)
    return actual, proba
