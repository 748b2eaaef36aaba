"""The crossval stage's results, in three files: the per-fold metrics (a DVC metrics file), the plan
(which rows each fold holds, committed) and the timing (cached, not committed), so that `dvc metrics`
shows metrics alone and a rerun changes no committed file by its timing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlops import paths
from mlops.io import write_json

CV_TIMING_KEYS = ("seconds",)


def write_cv_scores(scores: dict[str, Any], root: Path = Path()) -> None:
    """Write the crossval stage's results: the per-fold metrics, the plan and the timing, each to its file."""
    write_json(root / paths.CV_SCORES, {"metrics": scores["metrics"]})
    plan = {key: value for key, value in scores.items() if key not in ("metrics", *CV_TIMING_KEYS)}
    write_json(root / paths.CV_PLAN, plan)
    write_json(root / paths.CV_TIMING, {key: scores[key] for key in CV_TIMING_KEYS if key in scores})


def read_cv_scores(read) -> dict[str, Any] | None:
    """What write_cv_scores wrote, as one dict again; `read(path)` gives a repository file's text or None.
    None without the metrics; without the plan (a run before it had one, kept in scores.json) or the timing
    (a run read from git), their keys are missing."""
    texts = [read(str(path)) for path in (paths.CV_SCORES, paths.CV_PLAN, paths.CV_TIMING)]
    if not texts[0]:
        return None
    merged: dict[str, Any] = {}
    for text in reversed(texts):
        merged.update(json.loads(text) if text else {})
    return merged
