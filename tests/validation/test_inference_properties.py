"""Property tests of `mlops expectations infer`: a suite inferred from any frame fits it, and stays strict.

Frames are generated: integer, float, boolean, text and categorical columns, each with or
without missing values, a constant column, high-cardinality text, from a handful of rows to
thousands. A suite inferred from a frame must pass on that frame, on its rows shuffled and
on random 80% samples, whether the frame stays in memory or goes through a CSV or Parquet
file and the ingest stage (what `mlops expectations infer` and `mlops validate` read); and
it must still catch every corruption derived from it (tests/corruption.py).
"""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops.validation.checkpoint import run_checkpoint
from mlops.validation.context import open_context, save_suite
from mlops.validation.expectations import SUITE_NOTES, infer_suite
from tests.corruption import Suite, corruptions, failures, missed

TARGET = "target"
KINDS = ("integer", "float", "boolean", "text", "category", "constant", "free text")


def column(kind: str, rows: int, missing: bool, rng: np.random.Generator) -> pd.Series:
    if kind == "integer":
        values = pd.Series(rng.integers(-50, 1000, rows))
    elif kind == "float":
        values = pd.Series(rng.lognormal(2, 1, rows) * rng.choice([-1, 1]))
    elif kind == "boolean":
        values = pd.Series(rng.random(rows) < 0.3)
    elif kind == "text":
        values = pd.Series(rng.choice(["north", "south", "east", "west"], rows))
    elif kind == "category":
        values = pd.Series(pd.Categorical(rng.choice(["small", "medium", "large"], rows)))
    elif kind == "constant":
        values = pd.Series([rng.choice([7, 0.25])] * rows) if rng.random() < 0.5 else pd.Series(["same"] * rows)
    else:  # free text: nearly every value different
        values = pd.Series([f"note {i} {rng.integers(1_000_000)}" for i in range(rows)])
    if missing and rows > 2:
        holes = rng.random(rows) < 0.15
        holes[0] = True  # at least one missing value, and at least one present
        holes[1] = False
        values = values.astype(object).where(~holes, None) if kind in ("boolean",) else values.mask(holes)
    return values


@st.composite
def frames(draw) -> pd.DataFrame:
    rows = draw(st.sampled_from([3, 8, 40, 250, 3000]))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=5))
    missing = draw(st.lists(st.booleans(), min_size=len(kinds), max_size=len(kinds)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    frame = pd.DataFrame(
        {f"{kind} {i}": column(kind, rows, gap, rng) for i, (kind, gap) in enumerate(zip(kinds, missing, strict=True))}
    )
    classes = draw(st.sampled_from([["no", "yes"], ["a", "b", "c"]]))
    frame[TARGET] = rng.choice(classes, rows)
    return frame


@pytest.fixture(scope="module")
def gx_root(tmp_path_factory):
    return tmp_path_factory.mktemp("gx_properties")


def suite_for(frame, root):
    """Infer a suite from `frame` and store it (with its checkpoint) in the context under root."""
    configs = infer_suite(frame, TARGET)
    save_suite(configs, SUITE_NOTES, root)
    return configs, open_context(root)


def as_ingested(frame, kind: str, directory) -> pd.DataFrame:
    """`frame` kept in memory, or saved as the user's CSV/Parquet source and read as the raw data."""
    from mlops.dataset import load_raw

    if kind == "memory":
        return frame
    source = directory / f"source.{kind}"
    frame.to_csv(source, index=False) if kind == "csv" else frame.to_parquet(source, index=False)
    with contextlib.chdir(directory):
        return load_raw(source.name, TARGET)


PROPERTY_SETTINGS = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,  # the same frames on every run: a failure is reproducible, never a flake
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.slow
@PROPERTY_SETTINGS
@given(frame=frames(), storage=st.sampled_from(["memory", "csv", "parquet"]), seed=st.integers(0, 1000))
def test_an_inferred_suite_passes_on_its_frame_shuffled_and_sampled(frame, storage, seed, gx_root, tmp_path):
    data = as_ingested(frame, storage, tmp_path)
    _, context = suite_for(data, gx_root)
    samples = {
        "the frame": data,
        "shuffled": data.sample(frac=1.0, random_state=seed),
        "an 80% sample": data.sample(frac=0.8, random_state=seed) if len(data) >= 5 else data,
    }
    for name, sample in samples.items():
        result = run_checkpoint(context, sample)
        assert result["success"], (name, storage, sorted(failures(result), key=str), data.dtypes.to_dict())


@pytest.mark.slow
@settings(PROPERTY_SETTINGS, max_examples=6)
@given(frame=frames(), storage=st.sampled_from(["memory", "csv", "parquet"]))
def test_an_inferred_suite_catches_the_corruption_matrix(frame, storage, gx_root, tmp_path):
    data = as_ingested(frame, storage, tmp_path)
    configs, context = suite_for(data, gx_root)
    suite = Suite(configs)
    slipped = missed(context, suite, corruptions(suite, data, TARGET, columns=[str(data.columns[0])]))
    assert not slipped, (storage, slipped, data.dtypes.to_dict())


def test_the_example_frame_of_each_kind_fits_its_suite_in_memory_csv_and_parquet(gx_root, tmp_path):
    """One frame with every kind of column, with missing values, through all three storages (fast)."""
    rng = np.random.default_rng(1)
    rows = 120
    frame = pd.DataFrame({kind: column(kind, rows, True, rng) for kind in KINDS})
    frame[TARGET] = rng.choice(["no", "yes"], rows)
    for storage in ("memory", "csv", "parquet"):
        data = as_ingested(frame, storage, tmp_path)
        _, context = suite_for(data, gx_root)
        result = run_checkpoint(context, data.sample(frac=0.8, random_state=3))
        assert result["success"], (storage, sorted(failures(result), key=str))
