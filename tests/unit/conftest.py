import numpy as np
import pandas as pd
import pytest

from tests import factories


@pytest.fixture
def mixed_frame() -> pd.DataFrame:
    """200 rows: two numeric and two categorical features with missing values, a binary target."""
    columns = {
        "age": factories.numeric(40, 10),
        "income": factories.numeric(50_000, 15_000),
        "plan": factories.category(["basic", "pro", "team"]),
        "region": factories.category(["north", "south", None], p=[0.45, 0.45, 0.1]),
    }

    def churned(frame, _):
        return np.where((frame["age"] > 42) | (frame["plan"] == "basic"), "yes", "no")

    frame = factories.table(200, 0, columns, churned, target="churned")
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
