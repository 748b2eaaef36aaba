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
    assert first["model_version"] == "3" and first["time"].endswith("Z")
    assert first["id"].endswith("-0") and json.loads(lines[1])["id"] == first["id"][:-1] + "1"  # one request
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


def test_row_ids_are_the_request_id_and_the_row_position_sampled_or_not(tmp_path):
    log = PredictionLog(tmp_path, sample=0.5)
    log._random.seed(1)
    log.record(ROWS * 10, ["low", "high"] * 10, [[0.5, 0.5]] * 20, "1", prediction_id="req")
    log.close()
    ids = [record["id"] for record in read_records(tmp_path)[0]]
    assert 0 < len(ids) < 20 and all(i.startswith("req-") for i in ids)
    positions = [int(i.removeprefix("req-")) for i in ids]
    assert positions == sorted(positions) and all(
        ROWS[p % 2] == r["features"] for p, r in zip(positions, read_records(tmp_path)[0], strict=True)
    )


class Drops:
    """The on_drop callback, as the service's counter gets it."""

    def __init__(self):
        self.calls: list[tuple[str, int]] = []

    def __call__(self, reason: str, rows: int) -> None:
        self.calls.append((reason, rows))

    def total(self, reason: str = "write_failed") -> int:
        return sum(rows for why, rows in self.calls if why == reason)


def write_batches(log: PredictionLog, batches: int, prefix: str) -> None:
    for number in range(batches):
        log.record(ROWS, ["low", "high"], [[0.9, 0.1], [0.2, 0.8]], "1", prediction_id=f"{prefix}{number}")
    log.close()


def test_a_full_device_drops_every_row_counted_and_logging_resumes_when_it_can_write(tmp_path, capfd):
    drops = Drops()
    log = PredictionLog(tmp_path, on_drop=drops)
    log.path.symlink_to("/dev/full")  # every write fails: no space left on device
    write_batches(log, 30, "full")
    assert log.dropped == drops.total() == 60
    messages = capfd.readouterr().err.splitlines()
    assert len(messages) == 1 and "No space left on device" in messages[0]  # one line, not one per batch
    assert "mlops_prediction_log_dropped_total" in messages[0]

    log.path.unlink()  # room again
    write_batches(log, 3, "after")
    records, skipped = read_records(tmp_path)
    assert [r["id"] for r in records] == [f"after{n}-{row}" for n in range(3) for row in (0, 1)] and skipped == 0
    assert log.dropped == 60


def test_a_read_only_directory_drops_rows_counted_and_logging_resumes_once_writable(tmpfs, capfd):
    directory = tmpfs("size=1m,ro")
    drops = Drops()
    log = PredictionLog(directory, on_drop=drops)
    write_batches(log, 5, "ro")
    assert log.dropped == drops.total() == 10
    assert "Read-only file system" in capfd.readouterr().err

    tmpfs.remount("rw")
    write_batches(log, 2, "rw")
    assert [r["id"] for r in read_records(directory)[0]] == ["rw0-0", "rw0-1", "rw1-0", "rw1-1"]
    assert log.dropped == 10


def test_a_full_disk_keeps_whole_batches_only_and_counts_every_other_row(tmpfs):
    directory = tmpfs("size=64k")
    filler = directory / "filler"
    filler.write_bytes(b"x" * (64 * 1024 - 6000))  # room for a few dozen lines
    drops = Drops()
    log = PredictionLog(directory, on_drop=drops)
    write_batches(log, 100, "full")
    records, skipped = read_records(log.path)
    assert 0 < len(records) < 200 and skipped == 0  # no line cut off half-way
    assert len(records) + log.dropped == 200 and drops.total() == log.dropped  # every row written or counted
    assert [r["id"] for r in records] == [f"full{n}-{row}" for n in range(len(records) // 2) for row in (0, 1)]

    filler.unlink()
    write_batches(log, 3, "room")
    after = [r["id"] for r in read_records(log.path)[0]]
    assert after[len(records) :] == [f"room{n}-{row}" for n in range(3) for row in (0, 1)]
