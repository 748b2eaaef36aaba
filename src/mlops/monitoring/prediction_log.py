"""Log each prediction's features and result to JSON Lines files, off the request path.

The service calls `record` after answering; it only samples rows and puts them on a bounded
queue, and a background thread serialises and writes them. When the queue is full (the disk
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
    MLOPS_PREDICTION_LOG_BACKUPS  rotated files kept per process (default 5)
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import random
import sys
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ENV_DIR = "MLOPS_PREDICTION_LOG_DIR"
ENV_SAMPLE = "MLOPS_PREDICTION_LOG_SAMPLE"
ENV_MAX_MB = "MLOPS_PREDICTION_LOG_MAX_MB"
ENV_BACKUPS = "MLOPS_PREDICTION_LOG_BACKUPS"
FILE_GLOB = "predictions-*.jsonl*"
_STOP = object()


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
        self.directory = Path(directory)
        self.sample = sample
        self.max_bytes = max_bytes
        self.backups = backups
        self.queue_size = queue_size
        self.dropped = 0  # rows not logged because the queue was full or writing failed
        self._random = random.Random()
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None

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
            if not entries:
                return
            self._ensure_writer()
            try:
                self._queue.put_nowait(entries)
            except queue.Full:
                self.dropped += len(entries)
        except Exception:  # logging must never break a prediction
            self.dropped += len(rows) if isinstance(rows, list) else 1

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop the writer thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            self._queue.put(_STOP)
            thread.join(timeout)

    def _ensure_writer(self) -> None:
        # A thread does not survive fork (gunicorn forks workers), so each process starts its own.
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._queue = queue.Queue(maxsize=self.queue_size)
                self._thread = threading.Thread(
                    target=self._write_loop, args=(self._queue,), name="prediction-log", daemon=True
                )
                self._thread.start()

    def _write_loop(self, entries_queue: queue.Queue) -> None:
        while True:
            entries = entries_queue.get()
            if entries is _STOP:
                return
            try:
                data = "".join(json.dumps(entry, default=_plain) + "\n" for entry in entries).encode()
                self._append(data)
            except Exception as exc:
                self.dropped += len(entries)
                print(f"prediction log: could not write {len(entries)} row(s): {exc}", file=sys.stderr)

    def _append(self, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_size + len(data) > self.max_bytes:
                self._rotate(path)
        with open(path, "ab") as handle:
            handle.write(data)

    def _rotate(self, path: Path) -> None:
        if self.backups <= 0:
            path.unlink()
            return
        for index in range(self.backups - 1, 0, -1):
            older = path.with_name(f"{path.name}.{index}")
            if older.exists():
                os.replace(older, path.with_name(f"{path.name}.{index + 1}"))
        os.replace(path, path.with_name(f"{path.name}.1"))


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


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
