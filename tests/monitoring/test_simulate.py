"""`mlops simulate` against a stand-in of the prediction service (the real one is tested in test_prometheus)."""

import pandas as pd
import pytest

from mlops.cli import main
from mlops.monitoring.simulate import parse_shifts, shifted_rows

from .conftest import CLASSES
from .stand_ins import StandInPredictService


@pytest.fixture
def stand_in():
    service = StandInPredictService()
    yield service
    service.close()


def test_replays_rows_in_batches_per_the_predict_contract(project, stand_in, capsys):
    assert main(["simulate", "--url", stand_in.url, "--rows", "70", "--batch-size", "32"]) == 0
    assert [len(batch) for batch in stand_in.batches] == [32, 32, 6]
    test = pd.read_parquet(project / "data/prepared/test.parquet")
    features = [c for c in test.columns if c != "target"]
    assert list(stand_in.batches[0][0]) == features  # named columns, no target
    out = capsys.readouterr().out
    assert "requests 3, rows 70, errors 0" in out and f"predicted {CLASSES[0]}" in out


def test_a_shift_moves_the_feature_by_whole_training_standard_deviations(project, stand_in, dataset):
    train, test, schema = dataset
    assert main(["simulate", "--url", stand_in.url, "--rows", "400", "--shift", "size=2", "--seed", "1"]) == 0
    sent = pd.DataFrame([row for batch in stand_in.batches for row in batch])
    plain = shifted_rows(test, train, schema, 400, {}, 0.0, seed=1)
    assert (sent["size"] - plain["size"]).to_numpy() == pytest.approx(2 * train["size"].std())
    assert (sent["weight"] == plain["weight"]).all()


def test_service_errors_are_counted_and_fail_the_run(project, capsys):
    service = StandInPredictService(fail_every=2)
    try:
        assert main(["simulate", "--url", service.url, "--rows", "40", "--batch-size", "10"]) == 1
    finally:
        service.close()
    assert "errors 2" in capsys.readouterr().out


def test_an_unreachable_service_is_one_clear_line(project, capsys):
    assert main(["simulate", "--url", "http://127.0.0.1:9", "--rows", "5"]) == 1
    assert "cannot reach http://127.0.0.1:9/predict" in capsys.readouterr().err


def test_label_noise_flips_the_requested_share(dataset):
    train, test, schema = dataset
    clean = shifted_rows(test, train, schema, 1000, {}, 0.0, seed=5)
    noisy = shifted_rows(test, train, schema, 1000, {}, 0.3, seed=5)
    assert 0.25 < (clean["target"] != noisy["target"]).mean() < 0.35


@pytest.mark.parametrize(
    ("spec", "message"),
    [("radius", "expected FEATURE=AMOUNT"), ("nope=1", "no feature 'nope'"), ("size=big", "not a number")],
)
def test_bad_shifts_say_what_is_wrong(spec, message):
    from mlops.errors import MlopsError

    with pytest.raises(MlopsError, match=message):
        parse_shifts([spec], ["size"])
