import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from mlops.errors import MlopsError
from mlops.model import build_model, estimators_for, use_cores
from mlops.pipeline.prepare import prepare
from mlops.pipeline.train import fit


@pytest.mark.parametrize("estimator", estimators_for("classification"))
def test_each_estimator_fits_mixed_data_with_missing_values(mixed_frame, estimator):
    train, test, schema = prepare(mixed_frame, "churned", test_size=0.25, seed=0)
    model = fit(train, schema, estimator, {}, seed=0)
    features = schema.features_frame(test)
    proba = model.predict_proba(features)
    assert proba.shape == (len(test), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (model.predict(features) == schema.target_series(test)).mean() > 0.7


def test_multiclass(iris_frame):
    train, test, schema = prepare(iris_frame, "target", test_size=0.2, seed=0)
    model = fit(train, schema, "logistic_regression", {"max_iter": 1000}, seed=0)
    assert list(model.classes_) == ["setosa", "versicolor", "virginica"]
    assert (model.predict(schema.features_frame(test)) == test["target"]).mean() > 0.9


def test_unseen_category_and_missing_values_at_prediction(mixed_frame):
    train, _, schema = prepare(mixed_frame, "churned", test_size=0.25, seed=0)
    model = fit(train, schema, "random_forest", {"n_estimators": 10}, seed=0)
    odd = pd.DataFrame({"age": [np.nan], "income": [np.nan], "plan": ["enterprise"], "region": [""]})
    assert model.predict_proba(odd).shape == (1, 2)


def test_same_seed_same_model(mixed_frame):
    train, test, schema = prepare(mixed_frame, "churned", test_size=0.25, seed=0)
    features = schema.features_frame(test)
    first = fit(train, schema, "random_forest", {"n_estimators": 15}, seed=3).predict_proba(features)
    second = fit(train, schema, "random_forest", {"n_estimators": 15}, seed=3).predict_proba(features)
    np.testing.assert_array_equal(first, second)


def test_unknown_hyperparameter_is_named_with_a_suggestion(mixed_frame):
    train, _, schema = prepare(mixed_frame, "churned", test_size=0.25, seed=0)
    with pytest.raises(MlopsError, match="unknown hyperparameter 'n_estimator' .*did you mean 'n_estimators'"):
        fit(train, schema, "random_forest", {"n_estimator": 10}, seed=0)


def test_unknown_estimator_lists_the_choices(mixed_frame):
    train, _, schema = prepare(mixed_frame, "churned", test_size=0.25, seed=0)
    with pytest.raises(MlopsError, match="unknown estimator 'svm'; choose one of: 'random_forest'"):
        fit(train, schema, "svm", {}, seed=0)


def test_bad_hyperparameter_value_is_a_clear_error(mixed_frame):
    train, _, schema = prepare(mixed_frame, "churned", test_size=0.25, seed=0)
    with pytest.raises(MlopsError, match="could not fit random_forest: .*n_estimators"):
        fit(train, schema, "random_forest", {"n_estimators": -3}, seed=0)


def test_a_new_estimator_is_one_entry_in_the_registry(tmp_path, mixed_frame):
    """Registered in model.ESTIMATORS, a new estimator is accepted by params.yaml, trained and scaled as declared."""
    import yaml

    from tests.unit.conftest import MINIMAL_PARAMS

    mixed_frame.to_csv(tmp_path / "data.csv", index=False)
    params = {**MINIMAL_PARAMS, "data": {"source": "data.csv", "target": "churned"}}
    params["train"] = {"estimator": "nearest_neighbours", "hyperparameters": {"n_neighbors": 7}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    script = textwrap.dedent(
        """
        from sklearn.neighbors import KNeighborsClassifier

        from mlops import model
        model.ESTIMATORS["nearest_neighbours"] = model.Estimator(KNeighborsClassifier, scale=True)

        from mlops.config import load_params
        from mlops.io import read_table
        from mlops.pipeline.prepare import prepare
        from mlops.pipeline.train import fit

        params = load_params("params.yaml")
        train, test, schema = prepare(read_table("data.csv"), "churned", test_size=0.25, seed=0)
        fitted = fit(train, schema, params.train.estimator, params.train.hyperparameters, seed=0)
        numeric_steps = fitted[0].named_transformers_["numeric"].named_steps
        print(type(fitted[-1]).__name__, fitted[-1].n_neighbors, "scale" in numeric_steps)
        """
    )
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["KNeighborsClassifier", "7", "True"]


def test_n_jobs_reaches_the_forest_while_it_fits_and_is_not_saved(mixed_frame, monkeypatch):
    from sklearn.ensemble import RandomForestClassifier

    cores_while_fitting = []
    real_fit = RandomForestClassifier.fit

    def recording_fit(self, *args, **kwargs):
        cores_while_fitting.append(self.n_jobs)
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(RandomForestClassifier, "fit", recording_fit)
    train, test, schema = prepare(mixed_frame, "churned", test_size=0.25, seed=0)
    parallel = fit(train, schema, "random_forest", {"n_estimators": 12}, seed=1, n_jobs=2)
    assert cores_while_fitting == [2]
    assert parallel.named_steps["estimator"].n_jobs is None  # whoever loads the model chooses
    serial = fit(train, schema, "random_forest", {"n_estimators": 12}, seed=1, n_jobs=1)
    features = schema.features_frame(test)
    np.testing.assert_array_equal(parallel.predict_proba(features), serial.predict_proba(features))


def test_n_jobs_is_left_alone_where_the_estimator_has_no_use_for_it(mixed_frame):
    _, _, schema = prepare(mixed_frame, "churned", test_size=0.25, seed=0)
    for name in ("logistic_regression", "gradient_boosting"):
        model = use_cores(build_model(schema, name, {}, seed=0), 2)
        assert model.named_steps["estimator"].get_params().get("n_jobs") is None, name
