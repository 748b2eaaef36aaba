"""Log each prediction's features and result to JSON Lines files, off the request path.

The service calls `record` after answering; it only samples rows and puts them on a bounded
queue (the standard library's QueueHandler), and a background thread (its QueueListener)
serialises and writes them with a RotatingFileHandler. When the queue is full (the disk
cannot keep up) rows are dropped and counted, never waited for: logging must not slow or
break a prediction. Each process writes its own file, `predictions-<pid>.jsonl`, rotated
by size to `.jsonl.1`, `.jsonl.2`, ... so several gunicorn workers never interleave lines.

One line per predicted row:
    {"time": "2026-01-01T12:00:00.000Z", "id": "9f...", "model_version": "3",
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

import json
import logging
import logging.handlers
import os
import queue
import random
import sys
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops.io import plain

ENV_DIR = "MLOPS_PREDICTION_LOG_DIR"
ENV_SAMPLE = "MLOPS_PREDICTION_LOG_SAMPLE"
ENV_MAX_MB = "MLOPS_PREDICTION_LOG_MAX_MB"
ENV_BACKUPS = "MLOPS_PREDICTION_LOG_BACKUPS"
FILE_GLOB = "predictions-*.jsonl*"


class PredictionLog:
    def __init__(
        self,
        directory: Path | str,
        sample: float = 1.0,
        max_bytes: int = 10 * 1024 * 1024,
        backups: int = 5,
        queue_size: int = 10_000,
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
        self._random = random.Random()
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._handler: _QueueHandler | None = None
        self._listener: _Listener | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> PredictionLog | None:
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
        return cls(directory, sample=sample, max_bytes=int(max_mb * 1024 * 1024), backups=backups)

    @property
    def path(self) -> Path:
        return self.directory / f"predictions-{os.getpid()}.jsonl"

    def record(self, rows: list, predictions: list, probabilities: list, model_version: str) -> None:
        """Queue the sampled rows for writing. Never blocks on I/O, never raises."""
        try:
            now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            entries = []
            for index, row in enumerate(rows):
                if self.sample < 1.0 and self._random.random() >= self.sample:
                    continue
                entries.append(
                    {
                        "time": now,
                        "id": uuid.uuid4().hex,
                        "model_version": str(model_version),
                        "features": dict(row) if isinstance(row, dict) else list(row),
                        "prediction": predictions[index],
                        "probabilities": probabilities[index] if probabilities is not None else None,
                    }
                )
            if entries:
                self._writer().handle(logging.makeLogRecord({"entries": entries}))
        except Exception:  # logging must never break a prediction
            self.dropped += len(rows) if isinstance(rows, list) else 1

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
            self.log.dropped += len(record.entries)


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
    """A size-rotated JSON Lines file; a failed write drops the rows, counted, with one line on stderr."""

    def __init__(self, log: PredictionLog, path: Path, **rotation: Any) -> None:
        super().__init__(path, encoding="utf-8", delay=True, **rotation)
        self.log = log
        self.setFormatter(_JsonLines())

    def _open(self):
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()

    def handleError(self, record: logging.LogRecord) -> None:
        self.log.dropped += len(record.entries)
        problem = sys.exc_info()[1]
        print(f"prediction log: could not write {len(record.entries)} row(s): {problem}", file=sys.stderr)


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
