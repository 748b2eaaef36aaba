"""Reading and writing files: tables, JSON, models. Every write is atomic.

A write goes to a temporary file beside the target and is renamed over it only once
complete, so a failed stage never leaves a half-written file where a good one was.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlops.errors import MlopsError

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")

# The types a model file may hold beyond those skops itself deems safe (plain values and
# containers, NumPy ufuncs, scikit-learn's public estimators): exactly what the fitted
# pipelines of the estimators in model.py need, and nothing else. Exact names, never prefixes:
# `builtins.exec` or `numpy.load` in a file is refused before any of it is built.
# tests/unit/test_model_files.py fits every registered estimator and checks this is still
# exactly the list they need; if you add an estimator to model.py that needs more, that
# test prints the new list to put here.
MODEL_TYPES = ("numpy.dtype", "sklearn.tree._tree.Tree")


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path; on success rename it to `path`, on error remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the mode open() would
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: Path | str, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: Path | str, data: Any) -> None:
    write_text(path, json.dumps(plain(data), indent=2, sort_keys=False) + "\n")


def plain(value: Any) -> Any:
    """The value as JSON can hold it: NumPy scalars and arrays as Python values, NaN and infinities as None."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):  # a NumPy scalar or array
        return plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# Of the crossval stage's results, the keys that go to reports/cv/timing.json (they differ run to run);
# "metrics" goes to reports/cv/scores.json (the metrics file) and the rest, the plan, to reports/cv/plan.json.
def read_json(path: Path | str) -> Any:
    path = Path(path)
    if not path.exists():
        raise MlopsError(f"{path} not found: run the pipeline first (make run)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise MlopsError(f"{path} is not valid JSON ({exc}): delete it and rerun the pipeline") from exc


def require_file(path: Path | str) -> Path:
    """`path`, if it is a file; else an MlopsError naming it."""
    path = Path(path)
    if not path.is_file():
        raise MlopsError(f"data file not found: {path}")
    return path


def read_table(path: Path | str, allow_empty: bool = False, text_columns: tuple[str, ...] = ()):
    """Read a CSV or Parquet file into a DataFrame, with a clear error for anything else.

    With `allow_empty`, an empty file is a frame without columns and a header-only file
    one without rows (validation reports what is missing instead of refusing to look).
    `text_columns` of a CSV are read as written (an id `007` stays `007`, not 7).
    """
    path = require_file(path)  # before pandas' import, which takes a second
    import pandas as pd

    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path, dtype=dict.fromkeys(text_columns, str))
        elif suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            raise MlopsError(f"{path}: unsupported file type '{suffix}'; use one of {', '.join(TABLE_SUFFIXES)}")
    except pd.errors.EmptyDataError as exc:
        if allow_empty:
            return pd.DataFrame()
        raise MlopsError(f"{path} is empty: it needs a header row and at least one data row") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MlopsError(f"{path} could not be read as {suffix[1:].upper()}: {first_line}") from exc
    if frame.empty and not allow_empty:
        raise MlopsError(f"{path} has no data rows")
    return frame


def write_table(frame, path: Path | str) -> None:
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)


def file_sha256(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_model(model, path: Path | str) -> None:
    """Save a fitted scikit-learn pipeline with skops (never pickle)."""
    import skops.io as sio

    with atomic_path(path) as tmp:
        sio.dump(model, tmp)


def trusted_types(untrusted: list[str], source: str) -> list[str]:
    """`untrusted` (what skops lists for a file) when all are in MODEL_TYPES; else MlopsError naming the others."""
    foreign = sorted(set(untrusted) - set(MODEL_TYPES))
    if foreign:
        raise MlopsError(
            f"{source} holds types that are not a model's, so it was not loaded: {', '.join(foreign)} "
            f"(a model file may hold only {', '.join(MODEL_TYPES)} beyond skops's safe types; "
            "an estimator added to model.py that needs more: see MODEL_TYPES in mlops/io.py)"
        )
    return untrusted


def load_model(source: Path | str | bytes, name: str = "the model"):
    """The fitted pipeline in a skops file, given as its path or its bytes (called `name` in errors).

    The one way a model file is read. Refused with MlopsError, before anything in it is built:
    a file that is not a skops file, and one holding a type outside skops's safe ones and
    MODEL_TYPES. A decision tree whose node indices point outside the tree, which
    scikit-learn would follow without bounds checks when predicting, is refused after loading.
    """
    import skops.io as sio

    if isinstance(source, bytes):
        data, where = source, name
    else:
        path = Path(source)
        if not path.is_file():
            raise MlopsError(f"model not found: {path}; run the pipeline first (make run)")
        data, where = path.read_bytes(), str(path)
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:  # not a zip, no schema, bad JSON, an unknown node type...
        raise MlopsError(f"{where} could not be loaded ({type(exc).__name__}): rerun `dvc repro train`") from exc
    trusted = trusted_types(untrusted, where)
    try:
        model = sio.loads(data, trusted=trusted)
    except Exception as exc:  # a corrupt or truncated file raises many kinds of error
        raise MlopsError(f"{where} could not be loaded ({type(exc).__name__}): rerun `dvc repro train`") from exc
    if "sklearn.tree._tree.Tree" in trusted:
        check_trees(model, where)
    return model


def check_trees(model, where: str) -> None:
    """MlopsError unless every decision tree in `model` only points at its own nodes and the model's features."""
    import numpy as np
    from sklearn.pipeline import Pipeline
    from sklearn.tree._tree import Tree

    pipeline = next(find_instances(model, Pipeline), None)  # the outermost: a decision threshold wraps it
    features = getattr(pipeline.steps[-1][1] if pipeline else model, "n_features_in_", None)
    for tree in find_instances(model, Tree):
        count = tree.node_count
        problem = None
        if not 0 < count <= tree.capacity:
            problem = f"{count} nodes in room for {tree.capacity}"
        elif features is not None and tree.n_features != features:
            problem = f"{tree.n_features} features where the estimator has {features}"
        else:
            index = np.arange(count)
            left, right, feature = tree.children_left, tree.children_right, tree.feature
            split = left != -1  # a leaf has no children; a split's lie further on, so no path can loop
            bad = np.where(
                split,
                (left <= index) | (left >= count) | (right <= index) | (right >= count)
                | (feature < 0) | (feature >= tree.n_features),
                right != -1,
            )  # fmt: skip
            if bad.any():
                problem = f"node {int(np.argmax(bad))} points outside the tree or its features"
        if problem:
            raise MlopsError(f"{where} holds a decision tree that is not one ({problem}), so it was not loaded")


def find_instances(value, kind: type, seen: set[int] | None = None) -> Iterator:
    """Every `kind` object reachable from `value` through attributes, containers and object arrays."""
    seen = set() if seen is None else seen
    if id(value) in seen or isinstance(value, str | bytes | int | float | bool) or value is None:
        return
    seen.add(id(value))
    if isinstance(value, kind):
        yield value
        return
    if isinstance(value, dict):
        children = list(value.values())
    elif isinstance(value, list | tuple | set):
        children = list(value)
    elif getattr(value, "dtype", None) is not None:  # a NumPy array: only object arrays hold objects
        children = list(value.ravel()) if value.dtype == object and hasattr(value, "ravel") else []
    else:
        children = list(getattr(value, "__dict__", {}).values())
    for child in children:
        yield from find_instances(child, kind, seen)
