"""A customer-churn export, generated: the columns a real one has that an example dataset lacks.

An id (`customer id`, numbered in signup order), a date as text (`signup date`), a 180-value
`city` with missing values, names with spaces, parentheses, a euro sign and a dash, and a rare
positive class (`Churn`: about 19% Yes). `later` gives next month's batch of the same source:
new ids, later dates, cities the first batch never had.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

TARGET = "Churn"
ID = "customer id"
DATE = "signup date"
CITY = "city"
CITIES = [f"City {index:03d}" for index in range(180)]


def churn(rows: int = 1500, seed: int = 0, first_id: int = 100_001, start: date = date(2019, 1, 1), days: int = 2000):
    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, len(CITIES) + 1)  # a few big cities, a long tail of small ones
    drawn = rng.choice(CITIES, max(rows - len(CITIES), 0), p=weights / weights.sum())
    city = rng.permutation(np.concatenate([CITIES[:rows], drawn])).astype(object)  # every city at least once
    city[rng.random(rows) < 0.06] = None
    signup = np.sort(rng.integers(0, days, rows))
    tenure = rng.integers(1, 72, rows)
    charge = rng.normal(65, 20, rows).clip(15, 140).round(2)
    calls = rng.poisson(1.5, rows)
    plan = rng.choice(["basic", "plus", "premium"], rows, p=[0.5, 0.3, 0.2])
    big_city = np.isin(city, CITIES[:5])
    risk = -1.55 + 0.55 * calls - 0.04 * tenure + 0.02 * (charge - 65) + 0.5 * (plan == "basic") + 0.3 * big_city
    churned = rng.random(rows) < 1 / (1 + np.exp(-risk))
    return pd.DataFrame(
        {
            ID: first_id + np.arange(rows),
            DATE: [(start + timedelta(days=int(day))).isoformat() for day in signup],
            CITY: city,
            "tenure - months": tenure,
            "Monthly charge (€)": charge,
            "support calls": calls,
            "plan (tier)": plan,
            TARGET: np.where(churned, "Yes", "No"),
        }
    )


def later(frame: pd.DataFrame, rows: int = 400, seed: int = 1) -> pd.DataFrame:
    """Next month's batch: ids after the last, dates after the latest, a few cities never seen."""
    last = date.fromisoformat(frame[DATE].max())
    batch = churn(rows, seed, first_id=int(frame[ID].max()) + 1, start=last + timedelta(days=1), days=30)
    unseen = ["Newtown", "Port Unseen", "Newtown"][:rows]
    batch.loc[batch.index[: len(unseen)], CITY] = unseen
    return batch
