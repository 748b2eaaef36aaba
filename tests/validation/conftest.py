"""Shared fixtures: a synthetic dataset, and one GX context per session holding a suite inferred from it.

Template tests: they never read the committed suite or data, so they hold whatever the
project's data is (tests/project/ checks that data against the committed suite).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests import factories
from tests.unit.conftest import MINIMAL_PARAMS

FEATURE = "length"  # a numeric feature without missing values
NON_NEGATIVE = "area"
TEXT = "grade"
CLASSES = ("no", "yes")


def make_frame(rows: int = 500, seed: int = 0) -> pd.DataFrame:
    """Numeric features (one with missing values, one never negative, one below zero), text, a binary target."""
    columns = {
        FEATURE: factories.numeric(12, 3, decimals=3),
        "width": factories.numeric(5, 1, decimals=3, missing=0.05),
        NON_NEGATIVE: factories.gamma(4, 150, decimals=1),
        "temperature": factories.numeric(-2, 4, decimals=2),
        TEXT: factories.category(["A", "B", "C"]),
    }
    return factories.table(rows, seed, columns, factories.drawn_labels(CLASSES, [0.7, 0.3]), target="target")


@pytest.fixture(scope="session")
def clean_frame():
    """The synthetic data as the ingest stage writes it and validate reads it back (through CSV)."""
    import io

    buffer = io.StringIO()
    make_frame().to_csv(buffer, index=False)
    buffer.seek(0)
    return pd.read_csv(buffer)


@pytest.fixture(scope="session")
def gx_root(tmp_path_factory, clean_frame) -> Path:
    """A project directory: params.yaml and gx/ with the suite inferred from clean_frame."""
    from mlops.validation.context import save_suite
    from mlops.validation.expectations import SUITE_NOTES, infer_suite

    root = tmp_path_factory.mktemp("gx_root")
    (root / "params.yaml").write_text(yaml.safe_dump({**MINIMAL_PARAMS, "data": {"source": "x", "target": "target"}}))
    save_suite(infer_suite(clean_frame, "target"), SUITE_NOTES, root)
    return root


@pytest.fixture(scope="session")
def gx_context(gx_root):
    from mlops.validation.context import open_context

    return open_context(gx_root)
