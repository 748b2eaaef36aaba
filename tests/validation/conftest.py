"""Shared fixtures: the default dataset and one GX context (a copy of the repository's gx/) per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def clean_frame():
    """The default dataset as the ingest stage writes it and validate reads it back (through CSV)."""
    import io

    import pandas as pd

    from mlops.pipeline.ingest import load_source

    buffer = io.StringIO()
    load_source("sklearn:breast_cancer", "target").to_csv(buffer, index=False)
    buffer.seek(0)
    return pd.read_csv(buffer)


@pytest.fixture(scope="session")
def gx_root(tmp_path_factory) -> Path:
    """A copy of the committed gx/ (and params.yaml), so runs leave the repository alone."""
    root = tmp_path_factory.mktemp("gx_root")
    shutil.copytree(REPO / "gx", root / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    return root


@pytest.fixture(scope="session")
def gx_context(gx_root):
    from mlops.validation.context import open_context

    return open_context(gx_root)
