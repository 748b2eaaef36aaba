"""Synthetic data for the monitoring-loop tests: two numeric features, one categorical, two classes.

The true class follows a rule of the features, so labels for logged rows can be derived
from what the service logged, as a reviewer would supply them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TARGET = "outcome"
CLASSES = ["down", "up"]


def truth(frame: pd.DataFrame) -> np.ndarray:
    score = frame["load"] + 0.5 * frame["spread"] + np.where(frame["tier"] == "gold", 0.8, 0.0)
    return np.where(score > 0.4, "up", "down")


def frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """`rows` rows; `shift` moves `load` by that many standard deviations (the truth rule stays)."""
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            "load": rng.normal(0.0, 1.0, rows) + shift,
            "spread": rng.normal(0.0, 1.0, rows).round(4),
            "tier": rng.choice(["bronze", "silver", "gold"], rows),
        }
    )
    data["load"] = data["load"].round(4)
    data[TARGET] = truth(data)
    return data
