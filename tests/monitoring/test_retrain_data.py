"""`mlops retrain-data` in a real git + DVC repository with a Great Expectations suite inferred
from synthetic data: the new version, its policy, the validation gate, and what failure leaves."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import yaml

from mlops import paths
from mlops.cli import main
from mlops.config import load_params
from mlops.monitoring.retrain_data import EXIT_NO_LABELS, new_rows, recent_rows, set_data_source
from tests import factories
from tests.unit.conftest import MINIMAL_PARAMS

SOURCE = "data/source/events.csv"
PARAMS_TEXT = """# the project's parameters
data:
  source: {source}   # where the rows come from
  target: outcome
seed: 0
"""


def candidates(rows: int, seed: int, age_days: float = 1.0, shift: float = 0.0) -> pd.DataFrame:
    """Labelled production rows as `mlops feedback` writes them."""
    frame = factories.noiseless(rows, seed, shift)
    now = datetime.now(UTC)
    times = [(now - timedelta(days=age_days, minutes=i)).isoformat().replace("+00:00", "Z") for i in range(rows)]
    return frame.assign(id=[f"{seed:04d}{i:028x}" for i in range(rows)], predicted_at=times, prediction="up")


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A git + DVC repository whose data.source is a tracked synthetic file with a suite inferred from it."""
    from mlops.validation.context import save_suite
    from mlops.validation.expectations import infer_suite

    monkeypatch.chdir(tmp_path)
    subprocess.run(["git", "init", "-q"], check=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], check=True)
    source = factories.noiseless(400, seed=0)
    paths.SOURCE_DIR.mkdir(parents=True)
    source.to_csv(SOURCE, index=False)
    subprocess.run([sys.executable, "-m", "dvc", "add", "-q", SOURCE], check=True)
    save_suite(infer_suite(source, factories.NOISELESS_TARGET), "inferred from the synthetic source")
    params = {k: v for k, v in MINIMAL_PARAMS.items() if k not in ("data", "seed")}
    params["monitor"] = {"retrain": {"max_production_rows": 50, "max_age_days": 30}}
    paths.PARAMS.write_text(PARAMS_TEXT.format(source=SOURCE) + yaml.safe_dump(params))
    return tmp_path


def data_files():
    return sorted(p.name for p in paths.SOURCE_DIR.iterdir() if not p.name.startswith(".git"))


@pytest.mark.slow  # git, DVC and Great Expectations in a new repository
def test_the_new_version_adds_recent_new_rows_up_to_the_cap_and_is_tracked(repo, capsys):
    source = pd.read_csv(SOURCE)
    labelled = pd.concat(
        [
            candidates(70, seed=5),  # 50 of these fit under the cap
            candidates(10, seed=6, age_days=40),  # older than max_age_days
            candidates(5, seed=7, age_days=0.5).assign(**source.head(5).to_dict("list")),  # newest, but repeats
        ]
    )
    paths.LABELLED.parent.mkdir(parents=True)
    labelled.to_parquet(paths.LABELLED)
    assert main(["retrain-data"]) == 0
    new_source = load_params().data.source
    assert new_source != SOURCE and new_source.startswith("data/source/events-") and new_source.endswith(".csv")
    built = pd.read_csv(new_source)
    assert list(built.columns) == list(source.columns)
    assert len(built) == 400 + 50 and built.head(400).equals(source)  # the old rows first, unchanged
    newest = candidates(70, seed=5).head(50)  # the repeats (newer) are left out, then the cap takes these
    assert built.tail(50).reset_index(drop=True).equals(newest[list(source.columns)])
    assert (repo / f"{new_source}.dvc").is_file()
    dvc_status = [sys.executable, "-m", "dvc", "status", f"{new_source}.dvc"]
    status = subprocess.run(dvc_status, capture_output=True, text=True)
    assert "up to date" in status.stdout.lower()  # tracked: the cache holds exactly this file
    text = paths.PARAMS.read_text()
    assert f"  source: {new_source}   # where the rows come from\n" in text and text.startswith("# the project's")
    facts = yaml.safe_load(paths.RETRAIN_REPORT.read_text())
    assert facts["production_rows"] == {"offered": 85, "too_old": 10, "repeated": 5, "over_cap": 20, "added": 50}
    assert pd.read_csv(SOURCE).equals(source)  # the previous version stays as it was
    assert "50 labelled production rows" in capsys.readouterr().out


@pytest.mark.slow  # git, DVC and Great Expectations in a new repository
def test_data_that_fails_validation_leaves_no_file_and_params_untouched(repo, capsys):
    labelled = candidates(20, seed=5)
    labelled.loc[3, "load"] = 1e9  # far outside the range the suite allows
    paths.LABELLED.parent.mkdir(parents=True)
    labelled.to_parquet(paths.LABELLED)
    before = (paths.PARAMS.read_text(), data_files())
    assert main(["retrain-data"]) == 1
    error = capsys.readouterr().err
    assert " failed " in error and "expect_column_values_to_be_between(load)" in error
    assert error.count("\n") == 1
    assert (paths.PARAMS.read_text(), data_files()) == before
    assert not any(p.name.startswith(".retrain-") for p in paths.SOURCE_DIR.iterdir())


@pytest.mark.slow  # git, DVC and Great Expectations in a new repository
def test_without_labelled_rows_it_says_retraining_needs_labels_with_its_own_exit_status(repo, capsys):
    before = (paths.PARAMS.read_text(), data_files())
    assert main(["retrain-data"]) == EXIT_NO_LABELS
    assert "retraining needs labels" in capsys.readouterr().out
    paths.LABELLED.parent.mkdir(parents=True)
    candidates(3, seed=5).head(0).to_parquet(paths.LABELLED)
    assert main(["retrain-data"]) == EXIT_NO_LABELS
    assert "no label matched a logged prediction" in capsys.readouterr().out
    candidates(3, seed=5, age_days=400).to_parquet(paths.LABELLED)
    assert main(["retrain-data"]) == EXIT_NO_LABELS
    assert "3 older than monitor.retrain.max_age_days" in capsys.readouterr().out
    assert (paths.PARAMS.read_text(), data_files()) == before


@pytest.mark.slow  # git, DVC and Great Expectations in a new repository
def test_when_dvc_cannot_track_it_the_new_file_goes_and_params_stay(repo, capsys):
    import shutil

    shutil.rmtree(repo / ".dvc")  # no longer a DVC repository
    paths.LABELLED.parent.mkdir(parents=True)
    candidates(20, seed=5).to_parquet(paths.LABELLED)
    before = (paths.PARAMS.read_text(), data_files())
    assert main(["retrain-data"]) == 1
    assert "`dvc add data/source/events-" in capsys.readouterr().err
    assert (paths.PARAMS.read_text(), data_files()) == before


def test_recency_keeps_rows_within_max_age_newest_first():
    now = datetime(2026, 6, 1, tzinfo=UTC)
    rows = pd.DataFrame(
        {"n": range(5), "predicted_at": ["2026-05-31T00:00:00Z", "2026-01-01T00:00:00Z", "2026-05-30T00:00:00.5Z", None,
                                         "2026-05-31T12:00:00Z"]}
    )  # fmt: skip
    assert recent_rows(rows, max_age_days=10, now=now)["n"].tolist() == [4, 0, 2]  # undated: not recent


def test_production_rows_repeating_the_source_or_each_other_are_dropped():
    source = pd.DataFrame({"a": [1, 1, 2], "b": ["x", "x", "y"]})
    production = pd.DataFrame({"a": [2, 3, 3, 4], "b": ["y", "z", "z", "y"]})
    assert new_rows(source, production).to_dict("list") == {"a": [3, 4], "b": ["z", "y"]}


def test_setting_data_source_keeps_the_rest_of_params_yaml(tmp_path):
    params = tmp_path / "params.yaml"
    text = "# top\nseed: 0\ndata:\n  # where from\n  source: 'old.csv'  # a comment\n  target: y\n"
    text += "monitor:\n  source: keep\n"
    params.write_text(text + yaml.safe_dump({k: v for k, v in MINIMAL_PARAMS.items() if k not in ("data", "seed")}))
    set_data_source(params, "data/source/new.csv")
    assert params.read_text().startswith(text.replace("'old.csv'", "data/source/new.csv"))
    flow = tmp_path / "flow.yaml"
    flow.write_text(yaml.safe_dump(MINIMAL_PARAMS, default_flow_style=True))
    from mlops.errors import MlopsError

    with pytest.raises(MlopsError, match="set it to data/source/new.csv yourself"):
        set_data_source(flow, "data/source/new.csv")


def test_a_new_version_is_named_after_the_source_in_its_format():
    from mlops.monitoring.retrain_data import version_path

    now = datetime(2026, 6, 1, 12, 30, 5, tzinfo=UTC)
    assert version_path("sklearn:wine", now).as_posix() == "data/source/wine-20260601T123005Z.csv"
    assert version_path("data/source/events.parquet", now).as_posix() == "data/source/events-20260601T123005Z.parquet"
    again = version_path("data/source/events-20260101T000000Z.csv", now)
    assert again.as_posix() == "data/source/events-20260601T123005Z.csv"  # not events-...-...


PERIODS = [("off", True), ("7d", True), ("4w", True), ("weekly", False), ("0d", False)]


@pytest.mark.parametrize(("value", "valid"), PERIODS)
def test_retrain_every_is_off_or_a_period(tmp_path, value, valid):
    from mlops.errors import MlopsError

    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({**MINIMAL_PARAMS, "monitor": {"retrain_every": value}}))
    if valid:
        assert load_params(params).monitor.retrain_every == value
    else:
        with pytest.raises(MlopsError, match="monitor.retrain_every"):
            load_params(params)


NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("every", "source", "due"),
    [
        ("off", "data/source/events-20250101T000000Z.csv", False),
        ("7d", "data/source/events.csv", True),  # never rebuilt
        ("7d", "sklearn:wine", True),
        ("7d", "data/source/events-20260309T120000Z.csv", False),  # six days old
        ("7d", "data/source/events-20260308T120000Z.csv", True),
        ("2w", "data/source/events-20260305T120000Z.csv", False),
        ("2w", "data/source/events-20260301T120000Z.parquet", True),
    ],
)
def test_a_version_is_due_when_retrain_every_has_passed_since_the_one_in_use(every, source, due):
    from mlops.monitoring.retrain_data import is_due

    assert is_due(every, source, NOW) is due


def test_due_prints_true_or_false_and_builds_nothing(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({**MINIMAL_PARAMS, "monitor": {"retrain_every": "7d"}}))
    result = subprocess.run(
        [sys.executable, "-m", "mlops", "retrain-data", "--due", "--params", str(params)],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0 and result.stdout == "true\n", result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


def test_labelled_rows_may_lack_a_dropped_column_but_not_a_feature():
    from mlops.errors import MlopsError
    from mlops.monitoring.retrain_data import align_types

    source = pd.DataFrame({"size": [1.5, 2.5], "comments": ["a note", None], "label": ["a", "b"]})
    labelled = pd.DataFrame({"label": ["b"], "size": ["3.5"], "predicted_at": ["2026-01-01T00:00:00Z"]})
    aligned = align_types(labelled, source, unused=["comments"])
    assert list(aligned.columns) == ["size", "comments", "label"]
    assert aligned["size"].tolist() == [3.5] and aligned["comments"].isna().all()
    with pytest.raises(MlopsError, match=r"lack the data's column\(s\) comments: rerun `mlops feedback`"):
        align_types(labelled, source)
