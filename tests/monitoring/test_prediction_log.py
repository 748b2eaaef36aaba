import json
import os
import threading

import pytest

from mlops.monitoring.prediction_log import PredictionLog, log_files, read_records

ROWS = [{"size": 14.2, "texture": "a"}, {"size": 20.5, "texture": "b"}]


def test_from_env_is_off_without_a_directory_and_reads_the_settings(tmp_path):
    assert PredictionLog.from_env({}) is None
    log = PredictionLog.from_env(
        {
            "MLOPS_PREDICTION_LOG_DIR": str(tmp_path),
            "MLOPS_PREDICTION_LOG_SAMPLE": "0.25",
            "MLOPS_PREDICTION_LOG_MAX_MB": "2",
        }
    )
    assert log.directory == tmp_path and log.sample == 0.25 and log.max_bytes == 2 * 1024 * 1024
    with pytest.raises(ValueError):
        PredictionLog.from_env({"MLOPS_PREDICTION_LOG_DIR": str(tmp_path), "MLOPS_PREDICTION_LOG_SAMPLE": "2"})
    with pytest.raises(ValueError, match="at least 1 rotated file"):
        PredictionLog.from_env({"MLOPS_PREDICTION_LOG_DIR": str(tmp_path), "MLOPS_PREDICTION_LOG_BACKUPS": "0"})


def test_records_are_json_lines_with_features_prediction_and_probabilities(tmp_path):
    log = PredictionLog(tmp_path)
    log.record(ROWS, ["no", "yes"], [[0.9, 0.1], [0.2, 0.8]], model_version="3")
    log.record([[1.0, "a"]], ["no"], [[0.7, 0.3]], model_version="3")  # rows sent as lists
    log.close()
    lines = log.path.read_text().splitlines()
    first = json.loads(lines[0])
    assert len(lines) == 3
    assert first["features"] == ROWS[0] and first["prediction"] == "no" and first["probabilities"] == [0.9, 0.1]
    assert first["model_version"] == "3" and first["time"].endswith("Z") and len(first["id"]) == 32
    assert json.loads(lines[2])["features"] == [1.0, "a"]
    records, skipped = read_records(tmp_path)
    assert [r["prediction"] for r in records] == ["no", "yes", "no"] and skipped == 0


def test_sampling_logs_about_the_requested_share(tmp_path):
    log = PredictionLog(tmp_path, sample=0.2)
    log._random.seed(0)
    for _ in range(100):
        log.record(ROWS * 10, ["no"] * 20, [[0.5, 0.5]] * 20, "1")
    log.close()
    logged = len(read_records(tmp_path)[0])
    assert 300 < logged < 500  # 2000 rows at 20 %
    PredictionLog(tmp_path / "none", sample=0.0).record(ROWS, ["a", "b"], [[1.0], [1.0]], "1")
    assert not (tmp_path / "none").exists()


def test_files_rotate_by_size_and_keep_the_configured_backups(tmp_path):
    log = PredictionLog(tmp_path, max_bytes=2000, backups=2)
    for _ in range(60):
        log.record(ROWS, ["no", "yes"], [[0.9, 0.1], [0.2, 0.8]], "1")
    log.close()
    files = sorted(p.name for p in log_files(tmp_path))
    assert files == sorted([log.path.name, f"{log.path.name}.1", f"{log.path.name}.2"])
    assert all(p.stat().st_size <= 2000 for p in log_files(tmp_path))
    records, skipped = read_records(tmp_path)
    assert 0 < len(records) < 120 and skipped == 0  # the oldest rotated away


def test_record_never_raises_and_never_blocks_on_a_stuck_writer(tmp_path):
    log = PredictionLog(tmp_path, queue_size=2)
    os.mkfifo(log.path)  # opening it to write waits for a reader: the writer hangs like a stuck disk
    caller = threading.Thread(
        target=lambda: [log.record(ROWS, ["no", "yes"], [[0.9, 0.1], [0.2, 0.8]], "1") for _ in range(50)]
    )
    caller.start()
    caller.join(60)
    assert not caller.is_alive()  # every call came back while the writer was stuck
    log.record(None, None, None, "1")  # garbage in: counted, not raised
    assert log.dropped >= 2 * (50 - 3) + 1  # all but the queued rows and the ones being written

    written: list[bytes] = []
    reader = threading.Thread(target=lambda: written.extend(open(log.path, "rb")))  # noqa: SIM115
    reader.start()
    log.close()  # unstuck: the queued rows are written
    reader.join(60)
    assert len(written) == 100 - (log.dropped - 1)


def test_an_unwritable_directory_drops_rows_without_raising(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    log = PredictionLog(blocker / "logs")
    log.record(ROWS, ["no", "yes"], [[0.9, 0.1], [0.2, 0.8]], "1")
    log.close()
    assert log.dropped == 2


def test_a_line_cut_off_by_a_crash_is_skipped_and_counted(tmp_path):
    good = {"features": {"x": 1}, "prediction": "a", "probabilities": [1.0]}
    (tmp_path / "predictions-1.jsonl").write_text(json.dumps(good) + "\n" + '{"features": {"x": ')
    records, skipped = read_records(tmp_path)
    assert records == [good] and skipped == 1
