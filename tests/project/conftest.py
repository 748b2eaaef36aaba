"""Project tests: they check YOUR data and model, whatever they are.

Every case here is derived from params.yaml (the data source, the target, the thresholds
under `checks:`) and from the reviewed expectation suite in gx/, never from the example
dataset's column or class names, so swapping the data keeps these tests meaningful and
green without editing them. Add tests of your own in test_yours.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from mlops import paths
from mlops.config import Params, load_params
from mlops.errors import MlopsError
from mlops.schema import Schema
from tests.conftest import REPO_ROOT


@dataclass(frozen=True)
class Trained:
    model: object
    schema: Schema
    train: object  # the prepared splits, as `mlops prepare` writes them
    test: object


@pytest.fixture(scope="session")
def params() -> Params:
    return load_params(REPO_ROOT / paths.PARAMS)


@pytest.fixture(scope="session")
def raw(params):
    """The project's data as `mlops ingest` reads it (relative sources resolve from the repository root)."""
    import contextlib

    from mlops.dataset import load_source

    with contextlib.chdir(REPO_ROOT):
        try:
            return load_source(params.data.source, params.data.target)
        except MlopsError as exc:
            if "tracked by DVC" in str(exc):  # a clone without `dvc pull`: nothing to test yet, and why
                pytest.skip(str(exc))
            raise


@pytest.fixture(scope="session")
def suite_schema(params) -> Schema:
    from mlops.schema import load_suite_schema

    return load_suite_schema(REPO_ROOT / paths.SUITE, params.data.target, params.data.task)


@pytest.fixture(scope="session")
def trained(params, raw, suite_schema) -> Trained:
    """The model `make run` would train, fitted in memory on the same split."""
    from mlops.pipeline.prepare import prepare
    from mlops.pipeline.train import fit

    data = params.data
    train, test, schema = prepare(
        raw, data.target, params.prepare.test_size, params.seed, suite_schema, data.task, params.columns
    )
    settings = params.train
    model = fit(
        train, schema, settings.estimator, settings.hyperparameters, params.seed, class_weight=settings.class_weight
    )
    return Trained(model, schema, train, test)
