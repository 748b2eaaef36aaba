import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def mixed_frame() -> pd.DataFrame:
    """200 rows: two numeric and two categorical features with missing values, a binary target."""
    rng = np.random.default_rng(0)
    n = 200
    age = rng.normal(40, 10, n)
    income = rng.normal(50_000, 15_000, n)
    plan = rng.choice(["basic", "pro", "team"], n)
    region = rng.choice(["north", "south", None], n, p=[0.45, 0.45, 0.1])
    churned = np.where((age > 42) | (plan == "basic"), "yes", "no")
    frame = pd.DataFrame({"age": age, "income": income, "plan": plan, "region": region, "churned": churned})
    frame.loc[::17, "income"] = np.nan
    return frame


@pytest.fixture
def iris_frame() -> pd.DataFrame:
    from mlops.dataset import load_bundled

    return load_bundled("iris", "target")


# The smallest complete params.yaml: the sections every stage needs (the others have defaults).
MINIMAL_PARAMS = {
    "seed": 0,
    "data": {"source": "sklearn:iris", "target": "target"},
    "prepare": {"test_size": 0.2},
    "train": {"estimator": "random_forest", "hyperparameters": {"n_estimators": 10}},
    "mlflow": {"experiment": "tests", "registered_model": "tests-model"},
}
