"""Regression (data.task: regression) on synthetic data: params, estimators, prepare, metrics, ONNX parity."""

import numpy as np
import pandas as pd
import pytest
import yaml

from mlops.config import load_params
from mlops.errors import MlopsError
from mlops.metrics import direction, regression_metrics
from mlops.model import estimators_for
from mlops.pipeline.prepare import prepare
from mlops.pipeline.train import fit
from tests import factories
from tests.unit.conftest import MINIMAL_PARAMS


@pytest.fixture
def numeric_target_frame() -> pd.DataFrame:
    """300 rows: two numeric features (one with missing values), one categorical, a continuous target."""
    columns = {
        "x1": factories.numeric(),
        "x2": factories.numeric(missing=0.08),
        "colour": factories.category(["red", "green", None]),
    }

    def amount(frame, rng):
        return (60 * frame["x1"] + 40 * frame["x2"] + rng.normal(0, 5, len(frame))) * 100 + 5_000

    return factories.table(300, 0, columns, amount, target="amount")


def params_file(tmp_path, **changes):
    params = {**MINIMAL_PARAMS, "data": {"source": "data.csv", "target": "amount", "task": "regression"}, **changes}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_task_defaults_to_classification_and_a_wrong_one_is_one_line(tmp_path):
    assert load_params(params_file(tmp_path, data={"source": "d.csv", "target": "y"})).data.task == "classification"
    with pytest.raises(
        MlopsError, match=r"^\S+params.yaml: data.task: Input should be 'classification' or 'regression'$"
    ):
        load_params(params_file(tmp_path, data={"source": "d.csv", "target": "y", "task": "regresion"}))


def test_an_estimator_without_a_regressor_is_refused_with_the_choices(tmp_path):
    with pytest.raises(MlopsError, match="estimator 'logistic_regression' does not do regression.*'ridge'"):
        load_params(params_file(tmp_path, train={"estimator": "logistic_regression"}))


def test_report_and_concept_metrics_default_to_error_metrics_and_class_metrics_are_refused(tmp_path):
    params = load_params(params_file(tmp_path))
    assert params.report.metric == "rmse" and params.monitor.concept_metrics == ["rmse", "mae"]
    with pytest.raises(MlopsError, match="f1 is not a regression metric"):
        load_params(params_file(tmp_path, report={"metric": "f1"}))


def test_error_metrics_count_lower_as_better():
    assert [direction(name) for name in ("rmse", "mae", "max_error", "r2")] == [-1, -1, -1, 1]
    metrics = regression_metrics(pd.Series([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0]))
    assert metrics["mae"] == pytest.approx(2 / 3, abs=1e-6) and metrics["max_error"] == 2.0
    assert metrics["rmse"] == pytest.approx(np.sqrt(4 / 3), abs=1e-6)


def test_prepare_keeps_a_numeric_target_and_refuses_text_in_it(numeric_target_frame):
    train, test, schema = prepare(numeric_target_frame, "amount", test_size=0.2, seed=0, task="regression")
    assert schema.task == "regression" and schema.classes == []
    assert schema.target_series(test).dtype == "float64" and len(train) == 240
    broken = numeric_target_frame.astype({"amount": object})
    broken.loc[3, "amount"] = "lots"
    with pytest.raises(MlopsError, match="target 'amount' has 1 value.*not finite numbers.*'lots'"):
        prepare(broken, "amount", test_size=0.2, seed=0, task="regression")


@pytest.mark.parametrize("estimator", estimators_for("regression"))
def test_each_regressor_fits_and_its_onnx_export_agrees(numeric_target_frame, estimator):
    from mlops.pipeline.export import RELATIVE_PREDICTION_TOLERANCE, onnx_inputs, regression_parity, to_onnx
    from mlops.serving.runtime import OnnxPredictor

    train, test, schema = prepare(numeric_target_frame, "amount", test_size=0.2, seed=0, task="regression")
    model = fit(train, schema, estimator, {}, seed=0)
    features = schema.features_frame(test)
    assert regression_metrics(schema.target_series(test), model.predict(features))["r2"] > 0.5
    onnx_model = to_onnx(model, schema)
    predictor = OnnxPredictor(
        onnx_model.SerializeToString(), {"task": "regression", "inputs": onnx_inputs(onnx_model, schema)}
    )
    largest, tolerance = regression_parity(model, predictor, features, None)
    assert largest <= tolerance
    assert tolerance == pytest.approx(RELATIVE_PREDICTION_TOLERANCE * np.abs(model.predict(features)).max())
    values, probabilities = predictor.predict({name: features[name].tolist() for name in features.columns})
    assert probabilities is None and all(isinstance(value, float) for value in values)
