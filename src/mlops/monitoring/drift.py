"""Drift statistics on DataFrames: PSI plus a two-sample test per column, and the verdicts.

A column drifted when both hold:
- its distribution test is significant: Kolmogorov–Smirnov for numeric columns, chi-square
  for categorical ones, at `p_value` divided by the number of columns tested (Bonferroni),
  so thirty features do not give thirty chances of a false alarm;
- its population stability index (PSI) is at least `psi`, so a shift too small to matter
  (which a test on a large batch always finds significant) is not an alarm.
The data drifted when at least `min_drifted` feature columns drifted.

Everything here takes frames or arrays and returns plain data; reading and writing is elsewhere.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

Kind = Literal["numeric", "categorical"]
HISTOGRAM_BINS = 20
MAX_HISTOGRAM_CATEGORIES = 20


@dataclass(frozen=True)
class Thresholds:
    """When a column, and the data, count as drifted: `monitor:` in params.yaml."""

    psi: float
    p_value: float
    min_drifted: int
    bins: int

    @classmethod
    def from_params(cls, monitor) -> Thresholds:
        """From config.MonitorParams, which holds the defaults."""
        return cls(monitor.psi_threshold, monitor.p_value, monitor.min_drifted_features, monitor.bins)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _shares(counts: np.ndarray) -> np.ndarray:
    """Bin shares with add-half smoothing, so an empty bin does not make PSI infinite."""
    counts = np.asarray(counts, dtype=float)
    return (counts + 0.5) / (counts.sum() + 0.5 * len(counts))


def psi_from_counts(reference_counts, current_counts) -> float:
    expected, actual = _shares(reference_counts), _shares(current_counts)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def quantile_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges at the reference's quantiles (fewer when values repeat)."""
    inner = np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1])
    return np.unique(inner)


def numeric_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per quantile bin, plus a last bin for missing values."""
    missing = np.isnan(values)
    binned = np.bincount(np.searchsorted(edges, values[~missing], side="right"), minlength=len(edges) + 1)
    return np.append(binned, missing.sum())


def numeric_drift(reference, current, bins: int) -> dict[str, Any]:
    from scipy import stats

    reference = np.asarray(reference, dtype=float)
    current = np.asarray(current, dtype=float)
    ref_present, cur_present = reference[~np.isnan(reference)], current[~np.isnan(current)]
    if len(ref_present) == 0 or len(cur_present) == 0:
        statistic, p_value = 0.0, 1.0
        edges = np.array([])
    else:
        result = stats.ks_2samp(ref_present, cur_present)
        statistic, p_value = float(result.statistic), float(result.pvalue)
        edges = quantile_edges(ref_present, bins)
    psi = psi_from_counts(numeric_counts(reference, edges), numeric_counts(current, edges))
    return {"test": "ks", "statistic": statistic, "p_value": p_value, "psi": psi}


def categorical_drift(reference, current) -> dict[str, Any]:
    from scipy import stats

    reference = np.asarray(reference, dtype=object).astype(str)
    current = np.asarray(current, dtype=object).astype(str)
    categories = sorted(set(reference) | set(current))
    ref_counts = np.array([np.sum(reference == c) for c in categories])
    cur_counts = np.array([np.sum(current == c) for c in categories])
    if len(categories) < 2:
        statistic, p_value = 0.0, 1.0
    else:
        result = stats.chi2_contingency(np.vstack([ref_counts, cur_counts]), correction=False)
        statistic, p_value = float(result.statistic), float(result.pvalue)
    psi = psi_from_counts(ref_counts, cur_counts)
    return {"test": "chi2", "statistic": statistic, "p_value": p_value, "psi": psi}


def histogram(reference, current, kind: Kind) -> dict[str, Any]:
    """Shares of reference and current per bin (numeric) or category, for the HTML report."""
    if kind == "numeric":
        reference = np.asarray(reference, dtype=float)
        current = np.asarray(current, dtype=float)
        both = np.concatenate([reference, current])
        both = both[~np.isnan(both)]
        if len(both) == 0:
            return {"labels": [], "reference": [], "current": []}
        edges = np.histogram_bin_edges(both, bins=HISTOGRAM_BINS)
        ref_counts = np.histogram(reference[~np.isnan(reference)], bins=edges)[0]
        cur_counts = np.histogram(current[~np.isnan(current)], bins=edges)[0]
        labels = [f"{edges[i]:.4g}" for i in range(len(edges) - 1)]
    else:
        reference = np.asarray(reference, dtype=object).astype(str)
        current = np.asarray(current, dtype=object).astype(str)
        values, counts = np.unique(np.concatenate([reference, current]), return_counts=True)
        labels = [str(v) for v in values[np.argsort(-counts, kind="stable")][:MAX_HISTOGRAM_CATEGORIES]]
        ref_counts = np.array([np.sum(reference == label) for label in labels])
        cur_counts = np.array([np.sum(current == label) for label in labels])
    return {
        "labels": labels,
        "reference": (ref_counts / max(len(reference), 1)).round(4).tolist(),
        "current": (cur_counts / max(len(current), 1)).round(4).tolist(),
    }


def compare_columns(
    reference,
    current,
    kinds: dict[str, Kind],
    thresholds: Thresholds,
    role: str = "feature",
    n_tests: int | None = None,
    with_histograms: bool = True,
) -> list[dict[str, Any]]:
    """Statistics and verdict of each column in `kinds` between two frames.

    `n_tests` is the number of columns tested in all (for the Bonferroni correction) when
    several calls make up one report; by default the columns of this call.
    """
    cutoff = thresholds.p_value / (n_tests or max(len(kinds), 1))
    columns = []
    for name, kind in kinds.items():
        ref_values, cur_values = reference[name].to_numpy(), current[name].to_numpy()
        if kind == "numeric":
            result = numeric_drift(ref_values, cur_values, thresholds.bins)
        else:
            result = categorical_drift(ref_values, cur_values)
        drifted = result["p_value"] < cutoff and result["psi"] >= thresholds.psi
        column = {"column": name, "kind": kind, "role": role, **result, "drifted": drifted}
        if with_histograms:
            column["histogram"] = histogram(ref_values, cur_values, kind)
        columns.append(column)
    return columns


def summarise(columns: list[dict[str, Any]], thresholds: Thresholds) -> dict[str, Any]:
    """The verdicts over all columns, and the columns worst first.

    The data verdict counts feature columns, the prediction verdict prediction columns.
    The drift score is the largest feature PSI.
    """
    columns = sorted(columns, key=lambda c: (not c["drifted"], -c["psi"], c["p_value"]))
    features = [c for c in columns if c["role"] == "feature"]
    drifted_features = [c["column"] for c in features if c["drifted"]]
    drifted_predictions = [c["column"] for c in columns if c["role"] == "prediction" and c["drifted"]]
    return {
        "data_drift": len(drifted_features) >= thresholds.min_drifted,
        "prediction_drift": bool(drifted_predictions),
        "drift_score": round(max((c["psi"] for c in features), default=0.0), 6),
        "drifted_features": drifted_features,
        "drifted_predictions": drifted_predictions,
        "share_drifted": round(len(drifted_features) / max(len(features), 1), 6),
        "p_value_cutoff": thresholds.p_value / max(len(columns), 1),
        "columns": columns,
    }
