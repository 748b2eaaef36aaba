"""The tables `make test-datasets` puts through README's "Your own data, step by step", and the steps.

`adopt` does the steps in a fresh copy of the repository, as tests/integration/test_datasets.py
and benchmarks/datasets_fast_tests.py both need them: the file into data/source/, `dvc add`,
data.source, data.target (and data.task) in params.yaml, `mlops expectations infer`, `dvc repro`
(make run's). Only files under data/, gx/, params.yaml and the pipeline's outputs change.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tests import churn, penguins
from tests.conftest import copy_repository, env_for, set_data_params


@dataclass(frozen=True)
class Table:
    source: str | None  # data.source: None for the template's example, a bundled dataset, or a file under data/source/
    frame: Callable[[], pd.DataFrame] | None  # writes the file
    target: str
    task: str = "classification"
    # A table of real-world shape (ids, dates as text, constants, free text) also says what a user meets next:
    later: Callable[[pd.DataFrame, int], pd.DataFrame] | None = None  # (the table, rows) -> the next batch
    unseen: dict[str, str] = field(default_factory=dict)  # a value no row had, for a categorical feature
    inferred: tuple[str, ...] = ()  # lines `mlops expectations infer` must print
    ids: tuple[str, ...] = ()  # the id columns infer finds
    not_features: tuple[str, ...] = ()  # columns the model must not read


def wine() -> pd.DataFrame:
    from sklearn.datasets import load_wine

    bunch = load_wine(as_frame=True)
    return bunch.data.assign(cultivar=[f"cultivar_{code}" for code in bunch.target])


def mixed(rows: int = 360, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dose = rng.normal(0, 1, rows)
    weight = rng.normal(70, 12, rows)
    colour = rng.choice(["red", "green", "blue"], rows).astype(object)
    visits = rng.integers(0, 12, rows)
    member = rng.random(rows) < 0.4
    score = 1.6 * dose + np.where(colour == "red", 1.8, 0.0) + 0.15 * visits + rng.normal(0, 0.25, rows)
    outcome = np.select([score < 0.3, score < 1.9], ["worse", "same"], "better")
    weight[rng.random(rows) < 0.1] = np.nan
    colour[rng.random(rows) < 0.12] = None
    return pd.DataFrame(
        {
            "dose": dose.round(4),
            "weight": weight.round(1),
            "colour": colour,
            "visits": visits,
            "member": member,
            "outcome": outcome,
        }
    )


TABLES = {
    "binary": Table(None, None, "target"),
    "multiclass": Table("data/source/wine.csv", wine, "cultivar"),
    "regression": Table("sklearn:diabetes", None, "progression", "regression"),
    "mixed": Table("data/source/visits.parquet", mixed, "outcome"),
    "churn": Table(
        "data/source/churn.csv",
        lambda: churn.churn(3000),
        churn.TARGET,
        later=churn.later,
        unseen={"plan (tier)": "gold"},
        inferred=(
            f"columns.ids: '{churn.ID}' looks like an id",
            f"columns.dates: '{churn.DATE}' holds dates",
            f"columns.max_categories: '{churn.CITY}' has 180 values",
        ),
        ids=(churn.ID,),
        not_features=(churn.ID, churn.DATE),
    ),
    "penguins": Table(
        "data/source/penguins_raw.csv",
        penguins.penguins,
        penguins.TARGET,
        later=penguins.later,
        unseen={"studyName": "PAL1011"},  # next season's study
        inferred=(
            "columns.drop: 'Region' is constant",
            "columns.drop: 'Stage' is constant",
            f"columns.drop: '{penguins.ID}' is named like an id",
            "columns.drop: 'Sample Number' is named like an id",
            f"columns.dates: '{penguins.DATE}' holds dates",
            "columns.drop: 'Comments' holds free text",
        ),
        not_features=(penguins.ID, "Sample Number", penguins.DATE, "Comments", "Region", "Stage"),
    ),
}


def run(command: list[str], cwd: Path, env: dict, timeout: int = 2400) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout + result.stderr


def adopt(name: str, folder: Path) -> tuple[Path, dict[str, str], str]:
    """A copy of the repository in `folder` after README's steps on table `name`: its root, the environment
    its commands run in (the copy's code, whatever .venv points at), and what infer and `dvc repro` printed."""
    table = TABLES[name]
    root = copy_repository(folder)
    env = {**env_for(root), "PYTHONPATH": str(root / "src")}
    if table.frame is not None:
        path = root / table.source
        frame = table.frame()
        frame.to_parquet(path, index=False) if path.suffix == ".parquet" else frame.to_csv(path, index=False)
        run(["dvc", "add", "-q", table.source], root, env)
    if table.source is not None:
        set_data_params(root / "params.yaml", source=table.source, target=table.target, task=table.task)
    (root / "gx/expectations/raw_dataset.json").unlink()  # the contract comes from the data, not the template
    inferred = run([sys.executable, "-m", "mlops", "expectations", "infer"], root, env)
    return root, env, inferred + run(["dvc", "repro"], root, env)
