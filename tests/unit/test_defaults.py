"""params.yaml shows every default the code applies: each key it leaves out takes the typed default in
config.py, so the value params.yaml shows must be that default (or a default reads two ways)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from mlops import paths
from mlops.config import Params, flatten
from tests.unit.conftest import MINIMAL_PARAMS

# Keys params.yaml shows as a comment: unset by default, or set by data.task.
COMMENTED = re.compile(r"^(\s*)# ([a-z0-9_]+: [^#]*?)\s*(#.*)?$")


def shown(text: str) -> dict[str, Any]:
    """params.yaml's keys and values, flattened, with the commented-out keys (`# metric: f1`) read too."""
    uncommented = "\n".join(COMMENTED.sub(r"\1\2", line) for line in text.splitlines())
    return flatten(yaml.safe_load(uncommented))


def disagreements(text: str) -> list[str]:
    """Each key whose value in `text` is not the typed default, and each default `text` does not show."""
    defaults = flatten(Params.model_validate(MINIMAL_PARAMS).model_dump())
    chosen = set(flatten(MINIMAL_PARAMS)) | {"train.hyperparameters"}  # no default: the project's own choices
    # ...and the data's own: README's step 3 (data.source, data.target, data.task: regression) and the column
    # roles `mlops expectations infer` writes for the user's table.
    own = ("train.hyperparameters.", "data.", "columns.")
    values = shown(text)
    problems = [
        f"params.yaml {key}: {values[key]!r}, but config.py's default is {defaults[key]!r}; change both "
        "(the default applies wherever the key is left out)"
        for key in values
        if key in defaults and key not in chosen and not key.startswith(own) and values[key] != defaults[key]
    ]
    problems += [
        f"params.yaml does not show {key} (default {defaults[key]!r})"
        for key in defaults
        if key not in chosen and key not in values and not any(name.startswith(f"{key}.") for name in values)
    ]
    return problems


def test_params_yaml_shows_every_typed_default_with_its_value():
    assert disagreements(paths.PARAMS.read_text(encoding="utf-8")) == []


def test_a_value_that_differs_from_its_default_is_reported():
    text = paths.PARAMS.read_text(encoding="utf-8")
    changed = re.sub(r"(?m)^(  max_drop:\s+)0\.01", r"\g<1>0.02", text)
    assert disagreements(changed) == [
        "params.yaml report.max_drop: 0.02, but config.py's default is 0.01; change both "
        "(the default applies wherever the key is left out)"
    ]
    commented = text.replace("# metric: balanced_accuracy ", "# metric: roc_auc ")
    assert [line.split(":")[0] for line in disagreements(commented)] == ["params.yaml report.metric"]
    dropped = re.sub(r"(?m)^  bins: 10 .*\n", "", text)
    assert disagreements(dropped) == ["params.yaml does not show monitor.bins (default 10)"]


def test_the_data_section_and_the_column_roles_are_the_datas_own_not_defaults(tmp_path):
    """A user's table sets `data.task: regression` (README's step 3) and fills `columns:` (mlops expectations
    infer); both differ from the defaults by design, and `make test-fast` stays green on the user's data."""
    from mlops.validation.roles import write_roles

    path = tmp_path / "params.yaml"
    path.write_text(paths.PARAMS.read_text(encoding="utf-8"), encoding="utf-8")
    roles = {"ids": {"customer id": None}, "drop": {"Region": None}, "dates": {"signup date": "%Y-%m-%d"}}
    path.write_text(re.sub(r"(?m)^(  task: )\w+", r"\1regression", path.read_text(encoding="utf-8")), encoding="utf-8")
    write_roles(path, {**roles, "max_categories": {"city": 30}}, {})
    written = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert written["data"]["task"] == "regression" and written["columns"]["dates"] == {"signup date": "%Y-%m-%d"}
    assert disagreements(path.read_text(encoding="utf-8")) == []
