"""A raw Palmer penguins export, generated: the columns the file users download has and a tidy example lacks.

Shaped like the Palmer Station LTER tables (three studies, one a season, 2007 to 2009): a study name,
a sample number that runs within each species, long class names with spaces and parentheses
(`Species`), constant columns (`Region`, `Stage`), an individual's id that repeats when a bird is
sampled again another season (`Individual ID`), `Clutch Completion` Yes/No, the egg date as text,
measurements with missing values (two birds not measured at all), `Sex` MALE/FEMALE with missing
values and a stray ".", isotope ratios missing where there was not enough blood, and `Comments`:
free text, mostly missing. Species follows the measurements and the island (Chinstrap, the rare
class, lives on Dream only; Gentoo on Biscoe only). `later` gives a later batch of the same
source: the last season's late nests, with sample numbers and dates after the last.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

TARGET = "Species"
ID = "Individual ID"
DATE = "Date Egg"
ISLAND = "Island"
STUDIES = {"PAL0708": 2007, "PAL0809": 2008, "PAL0910": 2009}
SPECIES = {
    "Adelie Penguin (Pygoscelis adeliae)": 0.44,
    "Chinstrap penguin (Pygoscelis antarctica)": 0.20,
    "Gentoo penguin (Pygoscelis papua)": 0.36,
}
ISLANDS = {  # where each species nests, with the share of its birds on each island
    "Adelie Penguin (Pygoscelis adeliae)": {"Biscoe": 0.29, "Dream": 0.37, "Torgersen": 0.34},
    "Chinstrap penguin (Pygoscelis antarctica)": {"Dream": 1.0},
    "Gentoo penguin (Pygoscelis papua)": {"Biscoe": 1.0},
}
# Mean and standard deviation of culmen length, culmen depth, flipper length, body mass, δ15N, δ13C (females;
# males are larger), near the published figures.
MEASURES = {
    "Adelie Penguin (Pygoscelis adeliae)": [
        (37.3, 2.0),
        (17.6, 0.9),
        (188, 5.6),
        (3370, 260),
        (8.79, 0.4),
        (-25.8, 0.6),
    ],
    "Chinstrap penguin (Pygoscelis antarctica)": [
        (46.6, 3.1),
        (17.6, 0.8),
        (192, 5.8),
        (3530, 285),
        (9.25, 0.3),
        (-24.6, 0.2),
    ],
    "Gentoo penguin (Pygoscelis papua)": [(45.6, 2.0), (14.2, 0.5), (213, 4.0), (4680, 280), (8.19, 0.3), (-26.2, 0.5)],
}
MALE_EXTRA = [3.0, 1.4, 6.0, 640, 0.15, 0.05]
NAMES = [
    "Culmen Length (mm)",
    "Culmen Depth (mm)",
    "Flipper Length (mm)",
    "Body Mass (g)",
    "Delta 15 N (o/oo)",
    "Delta 13 C (o/oo)",
]
DECIMALS = [1, 1, 0, 0, 5, 5]
NOTES = [
    "Nest never observed with full clutch.",
    "Not enough blood for isotopes.",
    "Sexing primers did not amplify.",
    "No blood sample obtained for sexing.",
    "Adult not sampled.",
]


def penguins(rows: int = 344, seed: int = 0, seasons: dict[str, int] | None = None, first_day: int = 0, days: int = 40):
    """`rows` birds sampled in `seasons` ({study: year}), each laying its egg `first_day` to `first_day + days`
    days after 1 November of the study's year."""
    rng = np.random.default_rng(seed)
    seasons = seasons or STUDIES
    species = rng.choice(list(SPECIES), rows, p=list(SPECIES.values()))
    study = rng.choice(list(seasons), rows)
    island = np.array([rng.choice(list(ISLANDS[kind]), p=list(ISLANDS[kind].values())) for kind in species])
    male = rng.random(rows) < 0.5
    laid = [
        date(seasons[name], 11, 1) + timedelta(days=first_day + int(day))
        for name, day in zip(study, rng.integers(0, days, rows), strict=True)
    ]
    measures = {}
    for index, name in enumerate(NAMES):
        mean = np.array([MEASURES[kind][index][0] for kind in species]) + male * MALE_EXTRA[index]
        spread = np.array([MEASURES[kind][index][1] for kind in species])
        measures[name] = (mean + spread * rng.normal(0, 1, rows)).round(DECIMALS[index])
    frame = pd.DataFrame(
        {
            "studyName": study,
            "Sample Number": 0,  # numbered below, within each species in the order of sampling
            TARGET: species,
            "Region": "Anvers",
            ISLAND: island,
            "Stage": "Adult, 1 Egg Stage",
            ID: [f"N{rng.integers(1, 60)}A{rng.integers(1, 3)}" for _ in range(rows)],
            "Clutch Completion": np.where(rng.random(rows) < 0.9, "Yes", "No"),
            DATE: [day.isoformat() for day in laid],
            **measures,
            "Sex": np.where(male, "MALE", "FEMALE").astype(object),
            "Comments": None,
        }
    )
    frame = frame.sort_values([TARGET, DATE], kind="stable").reset_index(drop=True)
    frame["Sample Number"] = frame.groupby(TARGET).cumcount() + 1
    notes = frame["Comments"].astype(object)
    notes[frame["Clutch Completion"] == "No"] = NOTES[0]
    no_blood = rng.random(rows) < 0.04
    frame.loc[no_blood, NAMES[4:]] = np.nan
    notes[no_blood] = NOTES[1]
    unsexed = rng.random(rows) < 0.03
    frame.loc[unsexed, "Sex"] = None
    notes[unsexed] = rng.choice(NOTES[2:4], int(unsexed.sum()))
    if rows >= 100:  # two birds not measured at all, and one sexed "."
        frame.loc[[rows // 3, 2 * rows // 3], [*NAMES, "Sex"]] = np.nan
        notes[[rows // 3, 2 * rows // 3]] = NOTES[4]
        frame.loc[rows // 2, "Sex"] = "."
    frame["Comments"] = notes
    return frame


def later(frame: pd.DataFrame, rows: int = 200, seed: int = 1) -> pd.DataFrame:
    """The last season's late nests: eggs laid after the latest date in `frame`, sample numbers after the last
    of each species, individuals numbered after those seen."""
    last = date.fromisoformat(frame[DATE].max())
    study = max(STUDIES, key=STUDIES.get)
    offset = (last - date(STUDIES[study], 11, 1)).days + 1
    batch = penguins(rows, seed, seasons={study: STUDIES[study]}, first_day=offset, days=20)
    batch["Sample Number"] += batch[TARGET].map(frame.groupby(TARGET)["Sample Number"].max())
    batch[ID] = [f"N{60 + index // 2}A{1 + index % 2}" for index in range(rows)]
    return batch
