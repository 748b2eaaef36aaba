"""Log each prediction's features and result to JSON Lines files, off the request path.

The service calls `record` after answering; it only samples rows and puts them on a bounded
queue (the standard library's QueueHandler), and a background thread (its QueueListener)
serialises and writes them with a RotatingFileHandler. When the queue is full (the disk
cannot keep up) rows are dropped and counted, never waited for: logging must not slow or
break a prediction. Each process writes its own file, `predictions-<pid>.jsonl`, rotated
by size to `.jsonl.1`, `.jsonl.2`, ... so several gunicorn workers never interleave lines.

Nothing is lost silently. A write that fails (a full disk, a directory the service may not
write) drops that batch, counts it by reason (`dropped`, and the service's /metrics counter
`mlops_prediction_log_dropped_total`) and says so on stderr (the first failure, then once a
minute while it lasts); the next batch tries again on a freshly opened file, so logging
resumes by itself once there is room. A batch is written whole or not at all: what a full disk
let through of a failed one is cut back off, so every row is either in the file or counted.
A worker that stops (SIGTERM, max requests) writes its queue first; its successor writes its
own file, and the counter keeps the dropped rows of workers that are gone.

One line per predicted row, `id` being the request's prediction id (the service returns it in
the X-Prediction-Id header) and the row's position in the request:
    {"time": "2026-01-01T12:00:00.000Z", "id": "9f...-0", "model_version": "3",
     "features": {"mean radius": 14.1, ...}, "prediction": "benign", "probabilities": [0.93, 0.07]}
`features` is a list (in schema order) when the request sent rows as lists. `mlops drift
--current DIR` reads these files.

Settings come from the environment, so the service needs no params file:
    MLOPS_PREDICTION_LOG_DIR      where to write; logging is off when unset
    MLOPS_PREDICTION_LOG_SAMPLE   share of rows to log, 0..1 (default 1)
    MLOPS_PREDICTION_LOG_MAX_MB   rotate a file past this size (default 10)
    MLOPS_PREDICTION_LOG_BACKUPS  rotated files kept per process, at least 1 (default 5)
"""

from __future__ import annotations

import contextlib
import json
import logging
import logging.handlers
import os
import queue
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops.io import plain

ENV_DIR = "MLOPS_PREDICTION_LOG_DIR"
ENV_SAMPLE = "MLOPS_PREDICTION_LOG_SAMPLE"
ENV_MAX_MB = "MLOPS_PREDICTION_LOG_MAX_MB"
ENV_BACKUPS = "MLOPS_PREDICTION_LOG_BACKUPS"
FILE_GLOB = "predictions-*.jsonl*"
QUEUE_FULL, WRITE_FAILED, UNEXPECTED = "queue_full", "write_failed", "unexpected_error"  # why rows were dropped
DROP_REASONS = (QUEUE_FULL, WRITE_FAILED, UNEXPECTED)
REPORT_EVERY_SECONDS = 60.0  # while writes keep failing, one line on stderr this often


def row_id(prediction_id: str, index: int) -> str:
    """A row's id: its request's prediction id and its position in the request (from 0)."""
    return f"{prediction_id}-{index}"


class PredictionLog:
    def __init__(
        self,
        directory: Path | str,
        sample: float = 1.0,
        max_bytes: int = 10 * 1024 * 1024,
        backups: int = 5,
        queue_size: int = 10_000,
        on_drop: Callable[[str, int], None] | None = None,
    ) -> None:
        if not 0.0 <= sample <= 1.0:
            raise ValueError(f"sample rate must be between 0 and 1, got {sample}")
        if backups < 1:
            raise ValueError(f"keep at least 1 rotated file, got {backups}")
        self.directory = Path(directory)
        self.sample = sample
        self.max_bytes = max_bytes
        self.backups = backups
        self.queue_size = queue_size
        self.dropped = 0  # rows not logged because the queue was full or writing failed
        self.on_drop = on_drop  # called with (reason, rows), e.g. to count them on /metrics
        self._random = random.Random()
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._handler: _QueueHandler | None = None
        self._listener: _Listener | None = None

    @classmethod
    def from_env(
        cls, environ: dict[str, str] | None = None, on_drop: Callable[[str, int], None] | None = None
    ) -> PredictionLog | None:
        """The log the environment asks for, or None when MLOPS_PREDICTION_LOG_DIR is unset."""
        environ = os.environ if environ is None else environ
        directory = environ.get(ENV_DIR, "").strip()
        if not directory:
            return None
        try:
            sample = float(environ.get(ENV_SAMPLE, "1"))
            max_mb = float(environ.get(ENV_MAX_MB, "10"))
            backups = int(environ.get(ENV_BACKUPS, "5"))
        except ValueError as exc:
            raise ValueError(f"prediction log settings: {exc}") from exc
        return cls(directory, sample=sample, max_bytes=int(max_mb * 1024 * 1024), backups=backups, on_drop=on_drop)

    @property
    def path(self) -> Path:
        return self.directory / f"predictions-{os.getpid()}.jsonl"

    def record(
        self, rows: list, predictions: list, probabilities: list, model_version: str, prediction_id: str | None = None
    ) -> None:
        """Queue the sampled rows for writing. Never blocks on I/O, never raises."""
        try:
            now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            prediction_id = prediction_id or uuid.uuid4().hex
            entries = []
            for index, row in enumerate(rows):
                if self.sample < 1.0 and self._random.random() >= self.sample:
                    continue
                entries.append(
                    {
                        "time": now,
                        "id": row_id(prediction_id, index),
                        "model_version": str(model_version),
                        "features": dict(row) if isinstance(row, dict) else list(row),
                        "prediction": predictions[index],
                        "probabilities": probabilities[index] if probabilities is not None else None,
                    }
                )
            if entries:
                self._writer().handle(logging.makeLogRecord({"entries": entries}))
        except Exception:  # logging must never break a prediction
            self.drop(UNEXPECTED, len(rows) if isinstance(rows, list) else 1)

    def drop(self, reason: str, rows: int) -> None:
        """Count rows that will not be written (from the request path or the writer thread)."""
        with self._lock:
            self.dropped += rows
        if self.on_drop is not None:
            with contextlib.suppress(Exception):  # counting must not break a prediction either
                self.on_drop(reason, rows)

    def close(self) -> None:
        """Write what is queued, then stop the writer thread."""
        with self._lock:
            listener, self._listener, self._handler = self._listener, None, None
        if listener is not None and self._pid == os.getpid():
            listener.stop()
            for handler in listener.handlers:
                handler.close()

    def _writer(self) -> _QueueHandler:
        # A thread does not survive fork (gunicorn forks workers), so each process starts its own.
        if self._handler is not None and self._pid == os.getpid():
            return self._handler
        with self._lock:
            if self._handler is None or self._pid != os.getpid():
                self._pid = os.getpid()
                records: queue.Queue = queue.Queue(maxsize=self.queue_size)
                files = _FileHandler(self, self.path, maxBytes=self.max_bytes, backupCount=self.backups)
                self._listener = _Listener(records, files)
                self._listener.start()
                self._handler = _QueueHandler(self, records)
            return self._handler


class _QueueHandler(logging.handlers.QueueHandler):
    """Puts a batch of rows on the queue as it is; a full queue drops it, counted."""

    def __init__(self, log: PredictionLog, records: queue.Queue) -> None:
        super().__init__(records)
        self.log = log

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record  # serialised by the writer thread, not on the request path

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.log.drop(QUEUE_FULL, len(record.entries))


class _Listener(logging.handlers.QueueListener):
    def enqueue_sentinel(self) -> None:
        self.queue.put(self._sentinel)  # on close, wait for room rather than fail on a full queue


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # The rotating handler formats each record twice (to check the size, then to write it).
        if not hasattr(record, "lines"):
            record.lines = "\n".join(json.dumps(plain(entry)) for entry in record.entries)
        return record.lines


class _FileHandler(logging.handlers.RotatingFileHandler):
    """A size-rotated JSON Lines file; a batch is written whole or not at all.

    A write that fails (say half-way, on a full disk) is cut back off the file, its rows are
    counted as dropped and the file is closed; the next batch opens it again, so a disk with
    room again or a directory made writable needs no restart.
    """

    def __init__(self, log: PredictionLog, path: Path, **rotation: Any) -> None:
        super().__init__(path, encoding="utf-8", delay=True, **rotation)
        self.log = log
        self.setFormatter(_JsonLines())
        self.failed_rows = 0  # since the last successful write
        self.reported_at: float | None = None

    def _open(self):
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()

    def emit(self, record: logging.LogRecord) -> None:
        size = None
        try:
            if self.shouldRollover(record):
                self.doRollover()
            if self.stream is None:
                self.stream = self._open()
            size = os.fstat(self.stream.fileno()).st_size  # every batch is flushed: its end is the file's
            self.stream.write(self.format(record) + self.terminator)
            self.flush()
        except Exception:
            self.undo(size)
            self.dropped(record, sys.exc_info()[1])
            return
        if self.failed_rows:
            print(
                f"prediction log: writing to {self.baseFilename} again, after dropping {self.failed_rows} row(s)",
                file=sys.stderr,
            )
            self.failed_rows, self.reported_at = 0, None

    def undo(self, size: int | None) -> None:
        """Close the file, dropping what its buffer holds, and cut off what reached it of the failed batch."""
        stream, self.stream = self.stream, None
        if stream is not None:
            try:
                stream.close()
            except (OSError, ValueError):  # the buffer could not be flushed (a full disk): let go of the file anyway
                with contextlib.suppress(OSError, ValueError):
                    os.close(stream.fileno())
        if size is not None:
            with contextlib.suppress(OSError):  # not a regular file, or gone: nothing to cut
                os.truncate(self.baseFilename, size)

    def dropped(self, record: logging.LogRecord, problem: BaseException | None) -> None:
        rows = len(record.entries)
        self.log.drop(WRITE_FAILED, rows)
        self.failed_rows += rows
        now = time.monotonic()
        if self.reported_at is None or now - self.reported_at >= REPORT_EVERY_SECONDS:
            self.reported_at = now
            print(
                f"prediction log: could not write to {self.baseFilename} ({problem}); {self.failed_rows} row(s) "
                "dropped so far, counted in mlops_prediction_log_dropped_total; predictions go on, and logging "
                "resumes once the file can be written",
                file=sys.stderr,
            )


def log_files(path: Path | str) -> list[Path]:
    """The prediction log files at `path` (a file or a directory), oldest first."""
    path = Path(path)
    if path.is_file():
        return [path]
    return sorted(path.glob(FILE_GLOB), key=lambda p: (p.stat().st_mtime, p.name))


def read_records(path: Path | str) -> tuple[list[dict[str, Any]], int]:
    """All records logged at `path`, and how many lines were unreadable (e.g. cut off by a crash)."""
    records, skipped = [], 0
    for file in log_files(path):
        with open(file, encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    skipped += 1
                    continue
                if isinstance(record, dict) and "features" in record and "prediction" in record:
                    records.append(record)
                else:
                    skipped += 1
    return records, skipped
