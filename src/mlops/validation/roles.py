"""What `mlops expectations infer` sees in each column, and the roles it writes into params.yaml.

A column that is not an ordinary feature gets a role (`columns` in params.yaml, docs/data.md):
- an id (`ids`): text or whole numbers, unique in every row, none missing;
- a date (`dates`): text that parses, every value of it, in one of DATE_FORMATS;
- a constant (`drop`): one value, or none;
- an id of something other than the row (`drop`): named like an id, more than HIGH_CARDINALITY values, some
  of them in several rows (a bird sampled again, a sample number that restarts with each species): text, or
  whole numbers that number densely;
- free text (`drop`): text whose values are mostly sentences (a median of FREE_TEXT_WORDS words or more);
- a category with too many values (`max_categories`): more than HIGH_CARDINALITY, of which the
  model keeps the KEPT_CATEGORIES most frequent;
- a leak (`drop`): a feature that alone predicts the target (cross-validated balanced accuracy,
  or R² for regression, of at least LEAK_SCORE with a small tree on that column alone).

Roles already in params.yaml stay as they are; the findings add to them. The `columns` block of
params.yaml is rewritten as text, each entry with a comment saying why; every other line of the
file, comments included, stays as it was.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from mlops import dates
from mlops.errors import MlopsError

DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y/%m/%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
)
HIGH_CARDINALITY = 50  # a category with more values than this is grouped
KEPT_CATEGORIES = 30  # ...into its this many most frequent values and (other)
MIN_ID_ROWS = 20  # fewer rows than this: a column unique in each is no evidence of an id
FREE_TEXT_WORDS = 4  # the median value of a text column this many words long or more: free text, not a category
DENSE_NUMBERING = 0.9  # whole numbers taking at least this share of the values between their min and max: numbering
LEAK_SCORE = 0.99
LEAK_ROWS = 20_000  # the leak check's sample
ID_NAME = re.compile(r"(^|[^a-z])(id|ids|key|uuid|guid|number|no)($|[^a-z])|identifier", re.IGNORECASE)
ROLES = ("ids", "drop", "dates", "max_categories")


@dataclass(frozen=True)
class Finding:
    column: str
    role: str  # a key of params.yaml's `columns`
    value: object  # dates: the format; max_categories: how many kept; otherwise None
    why: str  # the comment beside it in params.yaml, and the line infer prints

    def line(self) -> str:
        return f"columns.{self.role}: {self.column!r} {self.why}"


def is_text(column) -> bool:
    import pandas as pd

    return not pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def whole_numbers(column) -> bool:
    import pandas as pd

    if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
        return False
    values = column.dropna()
    return bool(len(values)) and bool((values == values.round()).all())


def looks_like_id(column) -> bool:
    rows = len(column)
    if rows < MIN_ID_ROWS or column.isna().any() or column.nunique() != rows:
        return False
    if is_text(column):
        return True
    # Whole numbers unique per row: an id when named like one or numbered densely (1, 2, 3...), not a measurement.
    span = float(column.max()) - float(column.min()) + 1
    return whole_numbers(column) and (bool(ID_NAME.search(str(column.name))) or span <= 2 * rows)


def looks_like_other_id(column) -> bool:
    """Named like an id, with many values, some repeated: it numbers something (a bird, a sample within a
    species), not the row, so it is neither a row id nor a feature that generalises."""
    present = column.dropna()
    distinct = present.nunique()
    if not ID_NAME.search(str(column.name)) or distinct <= HIGH_CARDINALITY or distinct == len(present):
        return False
    if is_text(column):
        return True
    span = float(present.max()) - float(present.min()) + 1
    return whole_numbers(column) and distinct >= DENSE_NUMBERING * span


def looks_like_free_text(column) -> bool:
    """Text whose distinct values are mostly sentences: a comment field, which a one-hot category cannot use."""
    import statistics

    if not is_text(column):
        return False
    values = column.dropna().astype(str).unique().tolist()
    return bool(values) and statistics.median(len(value.split()) for value in values) >= FREE_TEXT_WORDS


def date_format(column) -> str | None:
    """The first of DATE_FORMATS every present value of a text column parses in; None when none fits."""
    if not is_text(column):
        return None
    values = [str(value) for value in column.dropna().unique().tolist()]
    if not values:
        return None
    for fmt in DATE_FORMATS:
        try:
            for value in values:
                dates.parse(value, fmt)
        except ValueError:
            continue
        return fmt
    return None


def leak_score(column, target, task: str) -> float:
    """How well this one column predicts the target: cross-validated balanced accuracy, or R² for regression."""
    import numpy as np
    from sklearn.model_selection import cross_val_score
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    if is_text(column):
        codes, _ = column.factorize()  # missing: -1, a value of its own
        values = codes.astype(float).reshape(-1, 1)
    else:
        numbers = column.astype(float)
        values = numbers.fillna(numbers.median() if numbers.notna().any() else 0.0).to_numpy().reshape(-1, 1)
    if task == "regression":
        model, scoring, labels = DecisionTreeRegressor(max_depth=6, random_state=0), "r2", target.astype(float)
    else:
        labels = target.astype(str)
        if labels.value_counts().min() < 3:
            return 0.0
        model, scoring = DecisionTreeClassifier(max_depth=4, random_state=0), "balanced_accuracy"
    scores = cross_val_score(model, values, labels, cv=3, scoring=scoring)
    return float(np.mean(scores))


def find_roles(frame, target: str, task: str = "classification", known: dict[str, str] | None = None) -> list[Finding]:
    """A finding for each column that looks like an id, a date, a constant, a high-cardinality category or a leak
    (columns with a role in `known`, {column: role}, are left as they are)."""
    known = known or {}
    findings: list[Finding] = []
    leak_candidates = []
    for name in frame.columns:
        if name == target or name in known:
            continue
        column = frame[name]
        present = column.dropna()
        if present.nunique() <= 1:
            seen = f"({present.iloc[0]!r} in every row)" if len(present) else "(no value at all)"
            findings.append(Finding(name, "drop", None, f"is constant {seen}: nothing to learn from"))
        elif looks_like_id(column):
            findings.append(Finding(name, "ids", None, f"looks like an id (unique in each of {len(frame)} rows)"))
        elif looks_like_other_id(column):
            why = (
                f"is named like an id and has {present.nunique()} values, some in several rows: "
                "it numbers something other than the row; dropped"
            )
            findings.append(Finding(name, "drop", None, why))
        elif (fmt := date_format(column)) is not None:
            parsed = sorted(dates.parse(str(value), fmt) for value in present.unique().tolist())
            span = f"{parsed[0]:%Y-%m-%d} to {parsed[-1]:%Y-%m-%d}"
            findings.append(Finding(name, "dates", fmt, f"holds dates ({span}): read as year, month, weekday, days"))
        elif looks_like_free_text(column):
            why = f"holds free text ({present.nunique()} values, most a sentence): dropped; delete this line to keep it"
            findings.append(Finding(name, "drop", None, why))
        elif is_text(column) and present.nunique() > HIGH_CARDINALITY:
            why = f"has {present.nunique()} values: the {KEPT_CATEGORIES} most frequent kept, the rest one (other)"
            findings.append(Finding(name, "max_categories", KEPT_CATEGORIES, why))
        else:
            leak_candidates.append(name)
    labelled = frame[frame[target].notna()]
    labelled = labelled.sample(n=min(len(labelled), LEAK_ROWS), random_state=0)  # seconds, whatever the data's size
    for name in leak_candidates:
        score = leak_score(labelled[name], labelled[target], task)
        if score >= LEAK_SCORE:
            measure = "R²" if task == "regression" else "balanced accuracy"
            why = f"alone predicts {target!r} ({measure} {score:.3f}): a leak? dropped; delete this line to keep it"
            findings.append(Finding(name, "drop", None, why))
    return findings


def roles_of(params_columns) -> dict[str, dict[str, object]]:
    """{role: {column: value}} of the `columns` section of the parameters (ColumnsParams)."""
    return {
        "ids": dict.fromkeys(params_columns.ids),
        "drop": dict.fromkeys(params_columns.drop),
        "dates": dict(params_columns.dates),
        "max_categories": dict(params_columns.max_categories),
    }


def yaml_text(value: object) -> str:
    """A scalar as YAML: JSON's quoting for text (column names may hold spaces, colons, '#', '%'), numbers bare."""
    return json.dumps(value, ensure_ascii=False)


def columns_block(
    roles: dict[str, dict[str, object]], notes: dict[str, str], why: dict[tuple[str, str], str], width: int = 34
) -> list[str]:
    """The `columns:` section: each role, its note (the comment params.yaml had for it), each entry with its why."""

    def commented(text: str, comment: str) -> str:
        return f"{text.ljust(width - 1)} # {comment}" if comment else text

    lines = ["columns:"]
    for role in ROLES:
        entries = roles[role]
        if not entries:
            lines.append(commented(f"  {role}: {'[]' if role in ('ids', 'drop') else '{}'}", notes.get(role, "")))
            continue
        lines.append(commented(f"  {role}:", notes.get(role, "")))
        for column, value in entries.items():
            text = f"    - {yaml_text(column)}" if role in ("ids", "drop") else f"    {yaml_text(column)}: "
            text += "" if role in ("ids", "drop") else yaml_text(value)
            lines.append(commented(text, why.get((role, column), "")))
    return lines


def entry_column(entry: str) -> str:
    """The column an entry line of the columns block names: `    - "customer id"` or `    "signup date": "%Y"`."""
    import yaml

    try:
        parsed = yaml.safe_load(entry.strip())
    except yaml.YAMLError:
        return ""
    if isinstance(parsed, list) and parsed:
        return str(parsed[0])
    return str(next(iter(parsed))) if isinstance(parsed, dict) and parsed else ""


ROLE_LINE = re.compile(r"^  (ids|drop|dates|max_categories):.*?(?:\s#\s?(.*))?$")
TOP_LEVEL = re.compile(r"^[A-Za-z_][\w-]*:")


def write_roles(path: Path, roles: dict[str, dict[str, object]], why: dict[tuple[str, str], str]) -> None:
    """Rewrite the `columns:` block of params.yaml at `path` (added after `data:` when missing); nothing else."""
    from mlops.config import ColumnsParams
    from mlops.io import atomic_path

    lines = path.read_text(encoding="utf-8").splitlines()
    notes = {role: field.description or "" for role, field in ColumnsParams.model_fields.items()}
    start = next((i for i, line in enumerate(lines) if line.startswith("columns:")), None)
    if start is None:
        data = next((i for i, line in enumerate(lines) if line.startswith("data:")), None)
        if data is None:
            raise MlopsError(f"{path} has no data: section: cannot place the columns: section")
        start = end = next((i for i in range(data + 1, len(lines)) if TOP_LEVEL.match(lines[i])), len(lines))
        new = [*columns_block(roles, notes, why), ""]
    else:
        end = next((i for i in range(start + 1, len(lines)) if TOP_LEVEL.match(lines[i])), len(lines))
        while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
            end -= 1  # blank lines and the next section's comments belong to it
        role = None
        for line in lines[start + 1 : end]:
            match = ROLE_LINE.match(line)
            if match:
                role = match.group(1)
                if match.group(2):
                    notes[role] = match.group(2).strip()
            elif role and line.startswith("    ") and " # " in line:
                entry, comment = line.rsplit(" # ", 1)
                why.setdefault((role, entry_column(entry)), comment.strip())  # a reviewed entry keeps its comment
        new = columns_block(roles, notes, why)
    text = "\n".join([*lines[:start], *new, *lines[end:]]) + "\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
