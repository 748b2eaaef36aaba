"""`mlops fetch-logs`: the newest prediction logs copied through DVC's filesystems, from a local
folder and from an S3-compatible server (moto) on loopback."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pytest

from mlops.cli import main
from mlops.monitoring.fetch_logs import ENV_URL, fetch, local_name
from mlops.monitoring.prediction_log import read_records

from .s3_server import make_bucket, s3_server

LINE = '{"time": "2026-01-01T00:00:00.000Z", "id": "%s", "model_version": "1", "features": [1], "prediction": "up"}\n'


def write_log(path, ids, age_days=0.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(LINE % i for i in ids))
    when = time.time() - age_days * 86400
    os.utime(path, (when, when))


def test_only_log_files_modified_within_the_window_are_copied_with_folders_in_their_names(tmp_path):
    store = tmp_path / "store"
    write_log(store / "predictions-1.jsonl", ["a"])
    write_log(store / "host-b" / "predictions-1.jsonl.2", ["b"], age_days=2)
    write_log(store / "predictions-9.jsonl", ["old"], age_days=30)
    (store / "notes.txt").write_text("not a log")
    output = tmp_path / "production"
    (output).mkdir()
    (output / "batch.csv").write_text("x\n1\n")  # not a log: stays
    write_log(output / "predictions-stale.jsonl", ["stale"])  # fetched last time: replaced

    files = fetch(str(store), output, days=7)
    assert sorted(f.name for f in files) == ["predictions-1.jsonl", "predictions-host-b-1.jsonl.2"]
    assert sorted(p.name for p in output.iterdir()) == ["batch.csv", *sorted(f.name for f in files)]
    assert sorted(r["id"] for r in read_records(output)[0]) == ["a", "b"]


def test_local_names_keep_the_log_file_pattern():
    assert local_name("predictions-3.jsonl") == "predictions-3.jsonl"
    assert local_name("2026/11/host-a/predictions-3.jsonl.1") == "predictions-2026-11-host-a-3.jsonl.1"


def test_nothing_changes_when_the_copy_fails(tmp_path, monkeypatch):
    store = tmp_path / "store"
    write_log(store / "predictions-1.jsonl", ["new"])
    write_log(store / "predictions-2.jsonl", ["new2"])
    output = tmp_path / "production"
    write_log(output / "predictions-old.jsonl", ["old"])
    from dvc_objects.fs.local import LocalFileSystem

    calls = []

    def failing_get_file(self, rpath, lpath, **kwargs):
        calls.append(rpath)
        if len(calls) == 2:
            raise OSError("connection reset")
        return original(self, rpath, lpath, **kwargs)

    original = LocalFileSystem.get_file
    monkeypatch.setattr(LocalFileSystem, "get_file", failing_get_file)
    with pytest.raises(OSError):
        fetch(str(store), output, days=7)
    assert [p.name for p in output.iterdir()] == ["predictions-old.jsonl"]


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["fetch-logs"], {}, f"no log location: set {ENV_URL}"),
        (["fetch-logs", "--url", "{tmp}/missing"], {}, "missing not found: check PREDICTION_LOG_URL"),
        (["fetch-logs", "--url", "{tmp}", "--days", "1"], {}, "no prediction log modified in the last 1 days"),
        (["fetch-logs", "--url", "nosuch://bucket/x"], {}, "cannot read nosuch://bucket/x"),
    ],
)
def test_bad_locations_get_one_line(tmp_path, monkeypatch, capsys, argv, env, message):
    monkeypatch.delenv(ENV_URL, raising=False)
    monkeypatch.chdir(tmp_path)
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 1
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1 and "Traceback" not in error


@pytest.mark.slow
def test_logs_are_fetched_from_an_s3_compatible_server(tmp_path, monkeypatch, capsys):
    with s3_server(tmp_path / "moto.log") as env:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        client = make_bucket(env, "prediction-logs")
        client.put_object(Bucket="prediction-logs", Key="svc/host-a/predictions-7.jsonl", Body=(LINE % "s3a").encode())
        client.put_object(Bucket="prediction-logs", Key="svc/predictions-8.jsonl.1", Body=(LINE % "s3b").encode())
        client.put_object(Bucket="prediction-logs", Key="svc/readme.txt", Body=b"not a log")
        monkeypatch.setenv(ENV_URL, "s3://prediction-logs/svc/")
        monkeypatch.chdir(tmp_path)
        assert main(["fetch-logs"]) == 0
        assert "2 log file(s)" in capsys.readouterr().out
        assert sorted(r["id"] for r in read_records(tmp_path / "data/production")[0]) == ["s3a", "s3b"]
        # Objects are as old as their upload: a window that ends before it finds nothing.
        later = datetime.now(UTC) + timedelta(days=3)
        with pytest.raises(Exception, match="no prediction log modified in the last 1 days"):
            fetch("s3://prediction-logs/svc/", tmp_path / "again", days=1, now=later)
