"""The repository as a copier template (copier.yml, docs/upgrading.md), over a project's life:
a template repository at one commit (v1), a project generated from it non-interactively, the
project's own data, parameters, model.py and suite; then a template release (v2) touching a
workflow, src/ and README, and `copier update`: both sides' changes are there, and the
pipeline and the project's tests pass in the updated project. Then a release (v3) changing a
line the project changed too: copier leaves both versions in the file, between its markers.
A project cloned with "Use this template" starts following by writing .copier-answers.yml.

The project's tests run here are its own (tests/project: its data against its suite, its
model) and the unit tests of model.py (the file it edited), not its whole fast suite
(`make test-fast` in a project takes minutes: docs/benchmarks.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests import factories
from tests.actions.standins import overlay_venv
from tests.conftest import copy_repository

pytestmark = pytest.mark.slow

COPIER = [sys.executable, "-m", "copier"]
TARGET = "churned"
EXCLUDED = [  # the template's own proofs, never in a project (copier.yml's _exclude)
    "tests/actions/test_scenarios.py",
    "tests/container",
    "tests/ci",
    "tests/deploy/test_gitlab_ci.py",
    "tests/deploy/test_kubeflow_pipeline.py",
    "tests/template",
    "copier.yml",
    ".copier",
]
MODEL_EDIT = (
    '    "ridge": Estimator(regressor="sklearn.linear_model.Ridge", scale=True),\n',
    '    "ridge": Estimator(regressor="sklearn.linear_model.Ridge", scale=True),\n'
    '    "extra_trees": Estimator("sklearn.ensemble.ExtraTreesClassifier", parallel=True),  # ours\n',
)


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 900) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, command))}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout + done.stderr


def git(root: Path, *args: str) -> str:
    return run(["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", *args], root)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path.name} no longer holds {old!r}: update this test"
    path.write_text(text.replace(old, new, 1))


def churn_data(rows: int, seed: int) -> pd.DataFrame:
    """A project's own data: four measurements that tell churners apart, two that do not."""
    informative = {"tenure": 24, "monthly_spend": 60, "support_calls": 3, "logins": 20}
    unrelated = {"age": factories.integers(18, 80), "region_code": factories.integers(1, 9)}
    return factories.measurements(
        rows, seed, informative, unrelated, spread=0.4, decimals=2, label_noise=0.2, target=TARGET
    )


def release(template: Path, tag: str, changes: dict[str, tuple[str, str]]) -> None:
    for name, (old, new) in changes.items():
        edit(template / name, old, new)
    git(template, "commit", "-qam", f"template {tag}")
    git(template, "tag", tag)


def project_env(project: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{project / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
    }


def update(project: Path, tag: str) -> str:
    out = run([*COPIER, "update", "--trust", "--defaults", "--conflict", "inline", "--vcs-ref", tag], project)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "copier update", "--allow-empty")
    return out


V2 = {  # a workflow, src/ and README
    ".github/workflows/ci.yml": ("    timeout-minutes: 10\n", "    timeout-minutes: 12 # template v2\n"),
    "src/mlops/release/smoke.py": (
        '"""',
        '"""Template v2: smoke-tests a running service.\n\n',
    ),
    "README.md": ("## Reproducibility\n", "## Reproducibility\n\nTemplate v2 wrote this line.\n"),
    # the template's suite of its example data: never the project's (copier.yml's _skip_if_exists)
    "gx/expectations/raw_dataset.json": ('          "mean radius",\n', '          "mean radius v2",\n'),
}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """The template repository at one commit, tagged v1 (a release)."""
    root = copy_repository(tmp_path_factory.mktemp("template"))
    git(root, "tag", "v1")
    return root


def test_a_generated_project_takes_a_template_release_and_keeps_its_own_data_params_and_model(template, tmp_path):
    project = tmp_path / "churn-model"
    answers = ["project_name=churn-model", "task=classification", f"target={TARGET}"]
    answers.append("data_source=data/source/churn.csv")
    data = [part for answer in answers for part in ("--data", answer)]
    run([*COPIER, "copy", "--trust", "--defaults", *data, "--vcs-ref", "v1", str(template), str(project)], tmp_path)

    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert recorded["_commit"] == "v1" and recorded["_src_path"] == str(template)
    assert recorded["project_name"] == "churn-model" and recorded["data_source"] == "data/source/churn.csv"
    assert (project / "README.md").read_text().startswith("# churn-model\n")  # what `mlops rename` does
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["data"] == {"source": "data/source/churn.csv", "target": TARGET, "task": "classification"}
    assert params["mlflow"]["registered_model"] == "churn-model-model"
    for name in EXCLUDED:
        assert not (project / name).exists(), f"{name}: a template-only test reached the project"
    assert (project / "tests/project").is_dir() and (project / "tests/unit").is_dir()

    # The project's life: its data, parameters, model and suite.
    churn_data(rows=400, seed=3).to_csv(project / "data/source/churn.csv", index=False)
    edit(project / "params.yaml", "  estimator: random_forest ", "  estimator: extra_trees   ")
    edit(project / "params.yaml", "    n_estimators: 100\n", "    n_estimators: 30\n")
    edit(project / "src/mlops/model.py", *MODEL_EDIT)
    overlay_venv(Path(sys.prefix), project / ".venv")
    env = project_env(project)
    for command in (["mlops", "ingest"], ["mlops", "expectations", "infer"]):
        run(command, project, env)
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "churn-model: our data, parameters, model and suite")
    suite = (project / "gx/expectations/raw_dataset.json").read_text()

    release(template, "v2", V2)
    out = update(project, "v2")

    assert "conflict" not in out.lower(), out[-3000:]
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == "v2"
    # the template's release
    assert "timeout-minutes: 12 # template v2" in (project / ".github/workflows/ci.yml").read_text()
    assert "Template v2: smoke-tests" in (project / "src/mlops/release/smoke.py").read_text()
    readme = (project / "README.md").read_text()
    assert "Template v2 wrote this line." in readme and readme.startswith("# churn-model\n")
    # the project's own edits
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["data"]["source"] == "data/source/churn.csv"
    assert params["train"] == {**params["train"], "estimator": "extra_trees"}
    assert params["train"]["hyperparameters"]["n_estimators"] == 30
    assert MODEL_EDIT[1] in (project / "src/mlops/model.py").read_text()
    assert (project / "gx/expectations/raw_dataset.json").read_text() == suite  # not the template's
    assert (project / "data/source/churn.csv").is_file()
    for name in EXCLUDED:
        assert not (project / name).exists(), f"{name}: the update brought a template-only test"

    # The updated project works: its pipeline, its tests.
    run(["dvc", "repro"], project, env)
    metrics = json.loads((project / "reports/metrics.json").read_text())
    assert 0 <= metrics["f1"] <= 1
    assert json.loads((project / "models/metadata.json").read_text())["estimator"] == "extra_trees"
    tests = ["tests/project", "tests/unit/test_model.py"]
    pytest_command = [str(project / ".venv/bin/python"), "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider"]
    run([*pytest_command, *tests], project, env)

    # A release that changes a line the project changed: copier shows both, between its markers.
    git(project, "add", "-A")
    git(project, "commit", "-qm", "churn-model: trained")
    release(template, "v3", {"params.yaml": ("    n_estimators: 100\n", "    n_estimators: 200\n")})
    update(project, "v3")
    text = (project / "params.yaml").read_text()
    assert "<<<<<<< before updating" in text and ">>>>>>> after updating" in text
    mine, theirs = text.split("<<<<<<< before updating", 1)[1].split(">>>>>>> after updating", 1)[0].split("=======")
    assert "n_estimators: 30" in mine and "n_estimators: 200" in theirs


def test_a_use_this_template_clone_starts_following_with_an_answers_file(template, tmp_path):
    """A GitHub "Use this template" copy: the files at one commit, no history, no answers file."""
    clone = tmp_path / "clone"
    clone.mkdir()
    archive = subprocess.run(["git", "archive", "v1"], cwd=template, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(clone)], input=archive, check=True)
    git(clone, "init", "-q", "-b", "main")
    edit(clone / "params.yaml", "    n_estimators: 100\n", "    n_estimators: 50\n")
    # docs/upgrading.md's steps: the answers file naming the template and the commit it came from
    answers = {"_commit": "v1", "_src_path": str(template), "project_name": "mlops-template", "task": "classification"}
    answers |= {"data_source": "sklearn:breast_cancer", "target": "target"}
    (clone / ".copier-answers.yml").write_text(yaml.safe_dump(answers))
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", "from the template, with our parameters")
    if "v2" not in git(template, "tag"):
        release(template, "v2", V2)

    update(clone, "v2")

    assert "timeout-minutes: 12 # template v2" in (clone / ".github/workflows/ci.yml").read_text()
    assert "n_estimators: 50" in (clone / "params.yaml").read_text()
    assert yaml.safe_load((clone / ".copier-answers.yml").read_text())["_commit"] == "v2"
