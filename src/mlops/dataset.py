"""The data: the source a project names in params.yaml (`data.source`), loaded as a frame, and the
identity of a row (a hash of its content) that cross-validation and the report pair rows by.
(pipeline/ingest.py says what a source can be). Below the pipeline, validation, monitoring and the
report, which all read it.
"""

from __future__ import annotations

from pathlib import Path

from mlops import paths
from mlops.errors import MlopsError
from mlops.io import read_table, write_table

BUNDLED = ("breast_cancer", "iris", "wine", "diabetes")
SKLEARN_PREFIX = "sklearn:"


def load_source(source: str, target: str):
    """Return the source dataset as a DataFrame with a `target` column."""
    if source.startswith(SKLEARN_PREFIX):
        frame = load_bundled(source.removeprefix(SKLEARN_PREFIX), target)
    else:
        check_present(Path(source))
        frame = read_table(Path(source))
    if target not in frame.columns:
        raise MlopsError(
            f"target column '{target}' not found in {source}; columns are: {', '.join(map(str, frame.columns))}. "
            "Set data.target in params.yaml"
        )
    return frame


def load_raw(source: str, target: str):
    """The source as the validate stage will see it: written as the raw data is, and read back.

    A round trip through the raw file can change what a frame holds (in CSV, text of digits
    becomes numbers and a nullable integer a float), so a suite inferred from this frame fits the raw data.
    """
    import tempfile

    frame = load_source(source, target)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / paths.RAW.name
        write_table(frame, path)
        return read_table(path)


def check_present(path: Path) -> None:
    """A file tracked with `dvc add` reaches a clone (and CI) only through a DVC remote: say so."""
    if path.exists():
        return
    candidates = (p.with_name(p.name + ".dvc") for p in (path, *path.parents) if p.name)
    pointer = next((candidate for candidate in candidates if candidate.is_file()), None)
    if pointer is not None:
        raise MlopsError(
            f"{path} is tracked by DVC ({pointer}) but its data is not here: `dvc pull` it from your DVC remote "
            "(in GitHub Actions: set the repository variable DVC_REMOTE_URL), or commit a small file to git "
            f"instead ({paths.SOURCE_DIR}/README.md)"
        )


def load_bundled(name: str, target: str):
    """A scikit-learn dataset, with class names (not codes) as the target; a regression one's numbers as they are."""
    if name not in BUNDLED:
        raise MlopsError(f"unknown bundled dataset '{name}'; choose one of: {', '.join(BUNDLED)}")
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, f"load_{name}")(as_frame=True)
    frame = bunch.data.copy()
    names = bunch.get("target_names")
    frame[target] = bunch.target.to_numpy() if names is None else [str(names[code]) for code in bunch.target]
    return frame


def row_keys(frame):
    """A 64-bit hash of each row's content (column names and values, not its position)."""
    import pandas as pd

    return pd.util.hash_pandas_object(frame[sorted(frame.columns)], index=False).to_numpy()
