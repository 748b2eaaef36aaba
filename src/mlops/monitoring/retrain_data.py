"""`mlops retrain-data`: the next version of the training data, with the labelled production rows.

    mlops feedback --labels labels.csv     # first: data/feedback/labelled.parquet
    mlops retrain-data                     # data/source/<name>-<UTC time>.csv, tracked with DVC

The new version is the current `data.source` plus the labelled production rows that
`mlops feedback` matched, chosen by `monitor.retrain` in params.yaml: none predicted longer
ago than `max_age_days`, none that repeats a row already in the data, and of the rest the
newest `max_production_rows`. It must pass the same validation gate as any data (`mlops validate
--data`, results in reports/validation/batch/) before it is written; then `dvc add` tracks it
and `data.source` in params.yaml names it. On any failure the current data and params.yaml
stay as they were and no new file is left behind. reports/retrain.json says what went in.

Exit status: 0 built, 1 bad input or data that fails validation, 4 no labelled rows to add
(retraining needs labels: run `mlops feedback` first).

`mlops retrain-data --due` builds nothing: it prints `true` when `monitor.retrain_every` says a
new version is due (the current `data.source` was built longer ago than that period, going by
the time in its name, or never), else `false`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mlops import paths
from mlops.dataset import SKLEARN_PREFIX, load_source
from mlops.errors import MlopsError
from mlops.validation.checkpoint import gate

EXIT_NO_LABELS = 4
VERSION_SUFFIX = re.compile(r"-\d{8}T\d{6}Z$")  # what a built version adds to the source's name


class NoLabels(Exception):
    """Nothing labelled to add: not a failure, but no new version either."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--labelled", default=str(paths.LABELLED), help="from mlops feedback (default: %(default)s)")
    parser.add_argument("--params", default=str(paths.PARAMS), help="(default: %(default)s)")
    parser.add_argument(
        "--due", action="store_true", help="only print whether monitor.retrain_every says a version is due (true/false)"
    )


def is_due(retrain_every: str, source: str, now: datetime) -> bool:
    """Whether a new version is due: `retrain_every` ("off", "7d", "4w") since the version `source` names."""
    if retrain_every == "off":
        return False
    period = timedelta(days=int(retrain_every[:-1]) * (7 if retrain_every.endswith("w") else 1))
    built = VERSION_SUFFIX.search(Path(source).stem)
    if built is None:  # the original data, never rebuilt here
        return True
    return now - datetime.strptime(built[0], "-%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) >= period


def recent_rows(rows, max_age_days: float, now: datetime):
    """The rows predicted within `max_age_days` of `now` (an undated row is not), newest first."""
    import pandas as pd

    predicted_at = pd.to_datetime(rows["predicted_at"], utc=True, errors="coerce", format="ISO8601")
    recent = predicted_at >= pd.Timestamp(now - timedelta(days=max_age_days))
    return rows[recent].assign(_at=predicted_at[recent]).sort_values("_at", ascending=False, kind="stable")


def align_types(rows, like, unused=()):
    """`rows` with `like`'s columns and, where the values allow, its dtypes (ids logged as text stay comparable).
    A column in `unused` (columns.drop: the model never reads it, so requests need not send it) is left empty
    where the rows lack it."""
    import pandas as pd

    missing = [name for name in like.columns if name not in rows.columns and name not in unused]
    if missing:
        raise MlopsError(f"the labelled rows lack the data's column(s) {', '.join(missing)}: rerun `mlops feedback`")
    out = rows.reindex(columns=list(like.columns))
    for name in like.columns:
        dtype = like[name].dtype
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            values = pd.to_numeric(out[name], errors="coerce")
            if pd.api.types.is_integer_dtype(dtype) and values.notna().all() and (values % 1 == 0).all():
                values = values.astype(dtype)
            out[name] = values
    return out.reset_index(drop=True)


def new_rows(source, production):
    """The production rows that repeat no row of the source nor an earlier production row."""
    import pandas as pd

    merged = pd.concat([source, production], ignore_index=True)
    return production[~merged.duplicated().to_numpy()[len(source) :]]


def version_path(source: str, now: datetime) -> Path:
    """data/source/<name>-<UTC time><suffix>: the source's name and format (CSV for a bundled dataset)."""
    if source.startswith(SKLEARN_PREFIX):
        stem, suffix = source.removeprefix(SKLEARN_PREFIX), ".csv"
    else:
        stem, suffix = VERSION_SUFFIX.sub("", Path(source).stem), Path(source).suffix
    return paths.SOURCE_DIR / f"{stem}-{now.strftime('%Y%m%dT%H%M%SZ')}{suffix}"


def set_data_source(params_path: Path, value: str) -> None:
    """Point `data.source` in params.yaml at `value`, keeping the file's comments and layout."""
    from mlops.config import load_params
    from mlops.io import write_text

    text = params_path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    in_data = False
    for index, line in enumerate(lines):
        if re.match(r"data:\s*(#.*)?$", line):
            in_data = True
        elif in_data and re.match(r"\S", line):
            break
        elif in_data and (match := re.match(r"(\s+source:\s*)(\"[^\"]*\"|'[^']*'|[^\s#]+)(.*)", line, re.DOTALL)):
            lines[index] = f"{match[1]}{value}{match[3]}"
            write_text(params_path, "".join(lines))
            if load_params(params_path).data.source == value:
                return
            write_text(params_path, text)
            break
    raise MlopsError(f"could not set data.source in {params_path}: set it to {value} yourself")


def dvc_add(path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "dvc", "add", str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        raise MlopsError(f"`dvc add {path}` failed: {lines[-1] if lines else 'no message'}")


@contextlib.contextmanager
def staged(path: Path):
    """A path with `path`'s name in a hidden directory beside it, moved into place only on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=".retrain-"))
    try:
        yield staging / path.name
        os.replace(staging / path.name, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def build(params, labelled_path: Path, params_path: Path, now: datetime) -> dict[str, Any]:
    import pandas as pd

    from mlops.io import read_table, write_table

    if not labelled_path.is_file():
        raise NoLabels(f"no labelled rows ({labelled_path} not found): run `mlops feedback --labels FILE` first")
    labelled = read_table(labelled_path, allow_empty=True)
    if labelled.empty:
        raise NoLabels(f"{labelled_path} holds no labelled rows: no label matched a logged prediction")
    settings = params.monitor.retrain
    source = load_source(params.data.source, params.data.target)
    recent = align_types(recent_rows(labelled, settings.max_age_days, now), source, params.columns.drop)
    fresh = new_rows(source, recent)
    added = fresh.head(settings.max_production_rows)
    counts = {
        "offered": len(labelled),
        "too_old": len(labelled) - len(recent),
        "repeated": len(recent) - len(fresh),
        "over_cap": len(fresh) - len(added),
        "added": len(added),
    }
    if added.empty:
        raise NoLabels(
            f"none of the {len(labelled)} labelled rows is new and recent enough ({counts['too_old']} "
            f"older than monitor.retrain.max_age_days, {counts['repeated']} already in the data)"
        )
    data = pd.concat([source, added], ignore_index=True)
    target = version_path(params.data.source, now)
    if target.exists():
        raise MlopsError(f"{target} exists already: wait a second and run again")
    with staged(target) as candidate:
        write_table(data, candidate)
        gate(candidate, paths.BATCH_VALIDATION_DIR)  # the pipeline's gate; raises on data that fails it
    try:
        dvc_add(target)
    except MlopsError:
        target.unlink(missing_ok=True)
        target.with_name(target.name + ".dvc").unlink(missing_ok=True)
        raise
    set_data_source(params_path, target.as_posix())
    return {
        "created_at": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "previous_source": params.data.source,
        "source": target.as_posix(),
        "rows": {"previous": len(source), "total": len(data)},
        "production_rows": counts,
        "policy": settings.model_dump(),
    }


def run(args: argparse.Namespace) -> int:
    from mlops.config import load_params
    from mlops.io import write_json

    params = load_params(args.params)
    if args.due:
        print(str(is_due(params.monitor.retrain_every, params.data.source, datetime.now(UTC))).lower())
        return 0
    try:
        report = build(params, Path(args.labelled), Path(args.params), datetime.now(UTC))
    except NoLabels as exc:
        print(f"retrain-data: nothing to build: retraining needs labels; {exc}")
        return EXIT_NO_LABELS
    write_json(paths.RETRAIN_REPORT, report)
    rows, added = report["rows"], report["production_rows"]
    print(
        f"retrain-data: {report['source']}: {rows['previous']} + {added['added']} labelled production rows "
        f"= {rows['total']} (left out: {added['too_old']} too old, {added['over_cap']} over the cap, "
        f"{added['repeated']} repeated); tracked with DVC; params.yaml data.source points at it"
    )
    return 0
