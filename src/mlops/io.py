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

# Types a saved model may contain. Anything else in a model file is refused on load.
TRUSTED_MODULE_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.")


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


def read_json(path: Path | str) -> Any:
    path = Path(path)
    if not path.exists():
        raise MlopsError(f"{path} not found: run the pipeline first (make run)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise MlopsError(f"{path} is not valid JSON ({exc}): delete it and rerun the pipeline") from exc


def read_table(path: Path | str, allow_empty: bool = False, text_columns: tuple[str, ...] = ()):
    """Read a CSV or Parquet file into a DataFrame, with a clear error for anything else.

    With `allow_empty`, an empty file is a frame without columns and a header-only file
    one without rows (validation reports what is missing instead of refusing to look).
    `text_columns` of a CSV are read as written (an id `007` stays `007`, not 7).
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise MlopsError(f"data file not found: {path}")
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
    """Trust the scikit-learn, NumPy and SciPy types skops lists; refuse anything else."""
    foreign = [name for name in untrusted if not name.startswith(TRUSTED_MODULE_PREFIXES)]
    if foreign:
        raise MlopsError(f"{source} contains types that are not trusted: {', '.join(foreign)}")
    return untrusted


def load_model(path: Path | str):
    import skops.io as sio

    path = Path(path)
    if not path.is_file():
        raise MlopsError(f"model not found: {path}; run the pipeline first (make run)")
    try:
        return sio.load(path, trusted=trusted_types(sio.get_untrusted_types(file=path), str(path)))
    except MlopsError:
        raise
    except Exception as exc:  # a corrupt or truncated file raises many kinds of error
        raise MlopsError(f"{path} could not be loaded ({type(exc).__name__}): rerun `dvc repro train`") from exc
