"""Bad input at the command line: one line saying what is wrong, a non-zero exit, nothing lost."""

import subprocess
import sys

import pytest
import yaml

from mlops.cli import main
from tests.unit.conftest import MINIMAL_PARAMS as PARAMS


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")

    def with_params(**sections):
        (tmp_path / "params.yaml").write_text(yaml.safe_dump({**PARAMS, **sections}))
        return tmp_path

    with_params()
    return with_params


def run(command: str, capsys) -> tuple[int, str]:
    status = main([command])
    return status, capsys.readouterr().err


def test_source_file_missing(project, capsys):
    project(data={"source": "data/source/mine.csv", "target": "y"})
    status, err = run("ingest", capsys)
    assert status == 1
    assert err == "mlops ingest: error: data file not found: data/source/mine.csv\n"


def test_missing_target_column(project, capsys, tmp_path):
    (tmp_path / "mine.csv").write_text("a,b\n1,2\n3,4\n")
    project(data={"source": "mine.csv", "target": "y"})
    status, err = run("ingest", capsys)
    assert status == 1
    assert "target column 'y' not found in mine.csv; columns are: a, b" in err
    assert err.count("\n") == 1


def test_empty_dataset(project, capsys, tmp_path):
    (tmp_path / "mine.csv").write_text("a,b,y\n")
    project(data={"source": "mine.csv", "target": "y"})
    status, err = run("ingest", capsys)
    assert (status, err) == (1, "mlops ingest: error: mine.csv has no data rows\n")


def test_single_class_target(project, capsys, tmp_path):
    (tmp_path / "mine.csv").write_text("a,y\n" + "".join(f"{i},yes\n" for i in range(20)))
    project(data={"source": "mine.csv", "target": "y"})
    assert main(["ingest"]) == 0
    status, err = run("prepare", capsys)
    assert status == 1
    assert "target 'y' has a single class (yes)" in err
    assert not (tmp_path / "data/prepared/train.parquet").exists()


def test_unknown_model_type(project, capsys):
    project(train={"estimator": "svm", "hyperparameters": {}})
    status, err = run("train", capsys)
    assert status == 1
    assert err.startswith(
        "mlops train: error: params.yaml: train.estimator: unknown estimator 'svm'; choose one of: 'random_forest'"
    )


@pytest.mark.slow  # ingest, prepare and two trainings tracked in a new MLflow store
def test_failed_training_keeps_the_last_good_model(project, capsys, tmp_path):
    for stage in ("ingest", "prepare", "train"):
        assert main([stage]) == 0, capsys.readouterr().err
    model = tmp_path / "models/model.skops"
    good = model.read_bytes()
    project(train={"estimator": "random_forest", "hyperparameters": {"n_trees": 10}})
    status, err = run("train", capsys)
    assert status == 1
    assert "unknown hyperparameter 'n_trees' for random_forest" in err
    assert model.read_bytes() == good
    assert sorted(path.name for path in model.parent.iterdir()) == ["model.skops", "training.json"]


def test_the_console_script_prints_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mlops", "prepare"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr == "mlops prepare: error: params.yaml not found: run commands from the repository root\n"


def imported_by(*argv: str, cwd=None) -> tuple[str, set[str]]:
    """What `mlops ARGV` prints (standard output, then standard error), and the modules it imported."""
    code = (
        "import sys; from mlops.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print('MODULES', ' '.join(sys.modules), file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", code, *argv], cwd=cwd, capture_output=True, text=True, timeout=60)
    err, _, modules = result.stderr.rpartition("MODULES")
    return result.stdout + err, set(modules.split())


HEAVY = {"numpy", "pandas", "sklearn", "mlflow", "great_expectations"}  # a second or more each to import


def test_help_lists_every_command_and_imports_only_what_a_named_tool_needs():
    from mlops.cli import STAGES, TOOLS

    text, modules = imported_by("--help")
    assert all(name in text for name in [*STAGES, *TOOLS])
    assert not modules & {module for module, _ in TOOLS.values()}
    assert not modules & HEAVY

    text, modules = imported_by("drift", "--help")  # a tool's own options need its module
    assert "--reference" in text and "mlops.monitoring.drift_command" in modules
    assert "mlops.report" not in modules


def test_bad_parameters_and_missing_files_are_said_before_any_heavy_import(tmp_path):
    """params.yaml is checked (train.estimator too) and a missing input named without importing scikit-learn,
    Great Expectations, MLflow, pandas or NumPy: the one-line error comes at once."""
    params = {**PARAMS, "train": {"estimator": "svm", "hyperparameters": {}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    text, modules = imported_by("train", cwd=tmp_path)
    assert "train.estimator: unknown estimator 'svm'" in text
    assert not modules & HEAVY, modules & HEAVY

    (tmp_path / "params.yaml").write_text(yaml.safe_dump({**PARAMS, "data": {"source": "mine.csv", "target": "y"}}))
    for argv, error in (
        (["ingest"], "data file not found: mine.csv"),
        (["validate", "--data", "missing.csv"], "data file not found: missing.csv"),
    ):
        text, modules = imported_by(*argv, cwd=tmp_path)
        assert error in text
        assert not modules & HEAVY, (argv, modules & HEAVY)


def test_good_parameters_are_checked_without_scikit_learn(tmp_path):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    code = "import sys; from mlops.config import load_params; load_params(); print(' '.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not set(done.stdout.split()) & HEAVY
