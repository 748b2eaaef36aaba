"""Model files: the real model of every registered estimator loads; a crafted one is refused without running.

The corpus is skops files written by hand, each a payload that writes a marker file when
built. Each must be refused with one line naming its types, and the marker must not appear.
"""

from __future__ import annotations

import contextlib
import io
import json
import pickle
import zipfile

import numpy as np
import pytest

from mlops.errors import MlopsError
from mlops.io import MODEL_TYPES, load_model, save_model
from mlops.model import ESTIMATORS, build_model
from mlops.schema import Feature, Schema
from tests import factories


def synthetic_table(task: str, classes: int, rows: int = 60, seed: int = 0):
    """Numeric and categorical features with missing values in both: every branch of the preprocessor."""
    columns = {"size": factories.numeric(), "color": factories.category(["red", "green", "blue"])}

    def target(frame, rng):
        return rng.normal(size=rows) if task == "regression" else np.array([str(i % classes) for i in range(rows)])

    frame = factories.table(rows, seed, columns, target, target="y")
    frame.loc[:2, "size"] = np.nan
    frame.loc[3:4, "color"] = ""  # a blank, the other way a category goes missing
    features = [Feature("size", "numeric"), Feature("color", "categorical", categories=["blue", "green", "red"])]
    schema = Schema(features, "y", [] if task == "regression" else sorted(set(frame["y"])), task)
    return frame, schema


def fitted_models():
    """(label, fitted pipeline, features, its skops file) for every estimator in model.py and every task it does."""
    import skops.io as sio

    cases = []
    for name, entry in ESTIMATORS.items():
        for task, classes in (("classification", 2), ("classification", 3), ("regression", 0)):
            if entry.make(task) is None:
                continue
            frame, schema = synthetic_table(task, classes)
            model = build_model(schema, name, {"n_estimators": 5} if entry.parallel else {}, 0)
            features = schema.features_frame(frame)
            model.fit(features, schema.target_series(frame))
            cases.append((f"{name} {task} {classes or ''}".strip(), model, features, sio.dumps(model)))
    return cases


@pytest.fixture(scope="module")
def models():
    return fitted_models()


def test_the_trusted_types_are_exactly_what_the_registered_estimators_need(models):
    import skops.io as sio

    needed = sorted({name for *_, data in models for name in sio.get_untrusted_types(data=data)})
    assert needed == sorted(MODEL_TYPES), f"set MODEL_TYPES in src/mlops/io.py to {tuple(needed)}"
    tasks = {label.split()[1] for label, *_ in models}
    assert tasks == {"classification", "regression"} and len(models) >= len(ESTIMATORS)


def test_the_real_model_of_every_registered_estimator_loads(models, tmp_path):
    for label, model, features, data in models:
        assert np.array_equal(load_model(data, label).predict(features), model.predict(features)), label
    save_model(model, tmp_path / "model.skops")  # and from a file, as the pipeline's stages read it
    assert np.array_equal(load_model(tmp_path / "model.skops").predict(features), model.predict(features))


def skops_zip(schema: dict, files: dict[str, bytes] | None = None) -> bytes:
    """A skops file with this schema (the root node) and these extra members."""
    from skops.io._protocol import PROTOCOL

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", json.dumps({**schema, "protocol": PROTOCOL, "_skops_version": "0.16.0"}))
        for name, data in (files or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def text(value: str) -> dict:
    return {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode", "content": json.dumps(value)}


def json_value(value) -> dict:
    kind = type(value).__name__ if value is not None else "NoneType"
    return {"__class__": kind, "__module__": "builtins", "__loader__": "JsonNode", "content": json.dumps(value)}


def call(module: str, function: str, *args: dict) -> dict:
    """A node that skops builds as `module.function(*args)`."""
    arguments = {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode", "content": list(args)}
    node = {"__class__": function, "__module__": module, "__loader__": "ConstructorFromReduceNode"}
    return {**node, "content": arguments}


def a_list(*items: dict) -> dict:
    return {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": list(items)}


class Touch:
    """Unpickling it creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def corpus(marker, tmp_path) -> dict[str, tuple[bytes, list[str]]]:
    """name -> (the crafted file, the types its refusal must name)."""
    touch = f"open({str(marker)!r}, 'w').close()"
    shell = f"__import__('os').system('touch {marker}')"
    pickled = tmp_path / "payload.npy"
    pickled.write_bytes(pickle.dumps(Touch(marker)))
    real = real_model_schema()
    nested = json.loads(json.dumps(real[0]))
    estimator = nested["content"]["content"]["steps"]["content"][1]["content"][1]
    estimator["content"]["content"]["criterion"] = call("builtins", "exec", text(touch))
    # list(map(getattr(__import__("os"), "system"), ["touch marker"]))
    system = call("builtins", "getattr", call("builtins", "__import__", text("os")), text("system"))
    system_via_getattr = call("builtins", "map", system, a_list(text(f"touch {marker}")))
    getattr_types = ["builtins.__import__", "builtins.getattr", "builtins.list", "builtins.map"]
    methodcaller = {"__class__": "methodcaller", "__module__": "operator", "__loader__": "OperatorFuncNode"}
    methodcaller["attrs"] = call("builtins", "tuple", text("system"), text(f"touch {marker}"))["content"]
    return {
        "exec": (skops_zip(call("builtins", "exec", text(touch))), ["builtins.exec"]),
        "eval": (skops_zip(call("builtins", "eval", text(shell))), ["builtins.eval"]),
        "getattr chain": (skops_zip(call("builtins", "list", system_via_getattr)), getattr_types),
        "numpy.load with pickle allowed": (
            skops_zip(call("numpy", "load", text(str(pickled)), json_value(None), json_value(True))),
            ["numpy.load"],
        ),
        "os.system": (skops_zip(call("os", "system", text(f"touch {marker}"))), ["os.system"]),
        "operator.methodcaller": (skops_zip(methodcaller), ["operator.methodcaller"]),
        "a reduce nested in a real model": (skops_zip(nested, real[1]), ["builtins.exec"]),
    }


def real_model_schema() -> tuple[dict, dict[str, bytes]]:
    """The schema and arrays of a real random forest pipeline's skops file."""
    import skops.io as sio

    frame, schema = synthetic_table("classification", 2)
    model = build_model(schema, "random_forest", {"n_estimators": 2}, 0)
    model.fit(schema.features_frame(frame), schema.target_series(frame))
    with zipfile.ZipFile(io.BytesIO(sio.dumps(model))) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(members.pop("schema.json")), members


@pytest.mark.parametrize(
    "case",
    ["exec", "eval", "getattr chain", "numpy.load with pickle allowed", "os.system", "operator.methodcaller",
     "a reduce nested in a real model"],
)  # fmt: skip
def test_a_crafted_model_file_is_refused_without_running(case, tmp_path):
    marker = tmp_path / "ran"
    data, types = corpus(marker, tmp_path)[case]
    path = tmp_path / "model.skops"
    path.write_bytes(data)
    for source in (path, data):
        with pytest.raises(MlopsError) as refused:
            load_model(source)
        message = str(refused.value)
        assert "\n" not in message and "not a model's" in message
        named = message.split(": ", 1)[1].split(" (")[0].split(", ")
        assert named == types, message
    assert not marker.exists(), "the payload ran"


@pytest.mark.parametrize("case", ["exec", "eval", "getattr chain", "numpy.load with pickle allowed", "os.system"])
def test_the_crafted_files_are_real_payloads(case, tmp_path):
    """What the refusal stops: loading them with every type trusted runs them."""
    import skops.io as sio

    marker = tmp_path / "ran"
    data, _ = corpus(marker, tmp_path)[case]
    with contextlib.suppress(Exception):  # the payload runs before what it returns fails to build a model
        sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    assert marker.exists()


def test_a_tree_pointing_outside_itself_is_refused(tmp_path):
    schema, members = real_model_schema()
    tree_files = [name for name in members if np.load(io.BytesIO(members[name])).dtype.names]
    nodes = np.load(io.BytesIO(members[tree_files[0]]))
    nodes["left_child"][0] = 10**6  # the root's left child, far past the last node
    buffer = io.BytesIO()
    np.save(buffer, nodes, allow_pickle=False)
    members[tree_files[0]] = buffer.getvalue()
    with pytest.raises(MlopsError, match=r"^the model holds a decision tree that is not one \(node 0 points outside"):
        load_model(skops_zip(schema, members))


def test_a_file_that_is_not_a_skops_file_is_refused(tmp_path):
    for data in (b"not a zip file", skops_zip({"__class__": "x", "__module__": "y", "__loader__": "NoSuchNode"})):
        with pytest.raises(MlopsError, match=r"^the model could not be loaded \("):
            load_model(data)
    with pytest.raises(MlopsError, match="model not found"):
        load_model(tmp_path / "missing.skops")
