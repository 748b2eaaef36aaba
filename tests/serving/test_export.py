import json

import onnx
import pytest

from mlops.errors import MlopsError
from mlops.serving import runtime
from tests import factories

from .conftest import build_project

CONTRACT_KEYS = {
    "name", "version", "git_commit", "dataset_sha256", "metrics", "schema", "classes",
    "created_at", "runtime", "parity", "unknown_categories",
}  # fmt: skip


def test_export_writes_an_onnx_model_and_the_metadata_the_service_needs(model_dir):
    metadata = json.loads((model_dir / "metadata.json").read_text())
    assert metadata.keys() >= CONTRACT_KEYS
    assert metadata["version"] == "7" and metadata["runtime"] == "onnx"
    assert metadata["classes"] == ["high", "low", "mid"]
    assert 0 <= metadata["parity"] <= 1e-5
    assert metadata["created_at"].endswith("Z")
    kinds = {f["name"]: f["kind"] for f in metadata["schema"]["features"]}
    assert kinds == {"size": "numeric", "weight": "numeric", "color": "categorical", "grade": "numeric"}
    graph = onnx.load(model_dir / "model.onnx").graph
    elem = {i.name: i.type.tensor_type.elem_type for i in graph.input}
    assert elem == {"size": onnx.TensorProto.FLOAT, "weight": onnx.TensorProto.FLOAT,
                    "color": onnx.TensorProto.STRING, "grade": onnx.TensorProto.FLOAT}  # fmt: skip


def test_onnx_matches_sklearn_on_the_test_split(model_dir, test_frame, expected):
    _, predictor = runtime.load(model_dir)
    features = test_frame.drop(columns=["label"])
    labels, probabilities = predictor.predict({name: features[name].tolist() for name in features.columns})
    assert labels == expected[0]
    assert abs(probabilities - expected[1]).max() <= 1e-5


def test_class_disagreements_on_a_tie_are_not_failures():
    from mlops.pipeline.export import class_disagreements

    proba = [[0.5, 0.5], [0.9, 0.1], [0.5000001, 0.4999999], [0.3, 0.7]]
    sklearn_labels = ["a", "a", "a", "b"]
    onnx_labels = ["b", "a", "b", "a"]  # row 0 and 2 are ties; row 3 is a real disagreement
    assert class_disagreements(sklearn_labels, onnx_labels, proba, ["a", "b"], 1e-5) == (3, 2)
    assert class_disagreements(sklearn_labels, onnx_labels, proba, ["a", "b"], 1e-9) == (3, 1)


def test_a_parity_failure_stops_the_export(tmp_path):
    with pytest.raises(MlopsError, match=r"parity check failed: .*largest probability difference"):
        build_project(tmp_path, parity_tolerance=1e-15)
    assert not (tmp_path / "models/model.onnx").exists()


def test_an_unconvertible_model_fails_unless_the_sklearn_runtime_is_chosen(tmp_path):
    from sklearn.pipeline import Pipeline
    from sklearn.semi_supervised import LabelSpreading  # skl2onnx has no converter for it

    from mlops.model import build_preprocessor
    from mlops.schema import infer_schema

    schema = infer_schema(factories.classification(), "label")
    model = Pipeline([("preprocess", build_preprocessor(schema)), ("estimator", LabelSpreading())])
    with pytest.raises(MlopsError, match=r"skl2onnx cannot convert this model.*serve.runtime: sklearn"):
        build_project(tmp_path, estimator=model)

    build_project(tmp_path, estimator=model, runtime="sklearn")
    metadata = json.loads((tmp_path / "models/metadata.json").read_text())
    assert metadata["runtime"] == "sklearn" and metadata["parity"] is None
    assert not (tmp_path / "models/model.onnx").exists()
    _, predictor = runtime.load(tmp_path / "models")
    assert isinstance(predictor, runtime.SklearnPredictor)


def test_a_forest_whose_conversion_needs_more_memory_than_is_free_is_refused_before_converting(tmp_path):
    from mlops.io import load_model
    from mlops.pipeline import export

    build_project(tmp_path)
    model = load_model(tmp_path / "models/model.skops")
    nodes = export.tree_nodes(model)
    assert nodes == sum(tree.tree_.node_count for tree in model.steps[-1][1].estimators_) > 20
    needed = nodes * export.BYTES_PER_TREE_NODE

    export.check_conversion_memory(model, available=needed)  # just enough
    export.check_conversion_memory(model, available=None)  # not known (no /proc/meminfo): no check
    with pytest.raises(MlopsError, match=rf"needs about .* GB of memory \({nodes:,} tree nodes\).*min_samples_leaf"):
        export.check_conversion_memory(model, available=needed - 1)


def test_the_nodes_of_gradient_boostings_trees_are_counted_and_a_linear_model_has_none():
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    from mlops.pipeline import export

    features, labels = [[0.0], [1.0], [2.0], [3.0]], [0, 1, 0, 1]
    boosting = GradientBoostingClassifier(n_estimators=3, max_depth=1).fit(features, labels)
    assert export.tree_nodes(boosting) == 3 * 3  # three stumps: a split and two leaves each
    assert export.tree_nodes(LogisticRegression().fit(features, labels)) == 0


def test_the_free_memory_is_read_from_the_kernel():
    import os

    from mlops.pipeline import export

    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0 < export.available_memory() <= total


def test_an_export_refused_for_memory_says_what_to_change_and_keeps_the_last_onnx_model(tmp_path, monkeypatch):
    """The machine's free memory is the one stand-in: a forest cannot be made to exhaust it in a test."""
    import contextlib

    from mlops.pipeline import export

    from .conftest import params

    build_project(tmp_path)
    onnx_before = (tmp_path / "models/model.onnx").read_bytes()
    monkeypatch.setattr(export, "available_memory", lambda: 1_000)
    with contextlib.chdir(tmp_path), pytest.raises(MlopsError, match=r"min_samples_leaf.*serve.runtime: sklearn"):
        export.export(params())
    assert (tmp_path / "models/model.onnx").read_bytes() == onnx_before


@pytest.mark.slow
@pytest.mark.parametrize(
    ("estimator", "hyperparameters"),
    [
        ("random_forest", {"n_estimators": 300, "min_samples_leaf": 2}),
        ("gradient_boosting", {"n_estimators": 200}),
        ("logistic_regression", {"C": 10.0, "max_iter": 2000}),
    ],
)
def test_every_estimator_passes_the_parity_gate_on_a_larger_dataset(tmp_path, estimator, hyperparameters):
    """Large models too: a tree whose input went through float32 scaling could split the other way."""
    import contextlib

    from mlops import paths
    from mlops.io import save_model, write_json, write_table
    from mlops.pipeline import export, prepare, train

    from .conftest import TARGET, params

    with contextlib.chdir(tmp_path):
        train_frame, test_frame, schema = prepare.prepare(factories.classification(rows=1000), TARGET, 0.2, 42)
        write_table(train_frame, paths.TRAIN)
        write_table(test_frame, paths.TEST)
        schema.save(paths.SCHEMA)
        save_model(train.fit(train_frame, schema, estimator, hyperparameters, 42), paths.MODEL)
        write_json(paths.TRAINING_INFO, {"registered_model": "test-model", "model_version": "1"})
        write_json(paths.METRICS, {})
        metadata = export.export(params())
    assert metadata["runtime"] == "onnx"
    assert metadata["parity"] <= 1e-5
