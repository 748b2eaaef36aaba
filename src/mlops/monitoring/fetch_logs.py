"""`mlops fetch-logs`: copy the newest prediction logs from storage into data/production/.

    PREDICTION_LOG_URL=s3://my-bucket/prediction-logs/ mlops fetch-logs --days 7

The URL is read through DVC's own filesystems (the ones `dvc get-url` uses), so any storage
DVC reaches works with its usual credentials: s3:// (AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL for
an S3-compatible server, ...; needs `dvc-s3`), gs:// (`dvc-gs`), azure:// (`dvc-azure`), ssh://,
http(s)://, or a local directory. Every prediction log file (`predictions-*.jsonl*`) under the
URL modified within the last `--days` is copied; a file in a sub-folder gets the folder in its
name, so two hosts' `predictions-1.jsonl` stay apart. The copy is complete before anything in
the output changes: then the log files fetched last time are replaced; other files stay.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

from mlops import paths
from mlops.errors import MlopsError

ENV_URL = "PREDICTION_LOG_URL"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help=f"where the service's logs are (default: ${ENV_URL})")
    parser.add_argument("--days", type=float, default=7.0, help="files modified this recently (default: %(default)s)")
    parser.add_argument("--output", default=str(paths.PRODUCTION_DIR), help="(default: %(default)s)")


def local_name(relative: str) -> str:
    """host-a/predictions-12.jsonl.1 -> predictions-host-a-12.jsonl.1 (still a log file name)."""
    *folders, name = PurePosixPath(relative).parts
    if not folders:
        return name
    return name.replace("predictions-", f"predictions-{'-'.join(folders)}-", 1)


def modified(fs, path: str) -> datetime | None:
    try:
        when = fs.fs.modified(path)
    except (NotImplementedError, AttributeError, OSError, KeyError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def newest_logs(fs, root: str, since: datetime) -> list[tuple[str, str]]:
    """(remote path, local name) of each log file under `root` modified since `since` (or of unknown age)."""
    from mlops.monitoring.prediction_log import FILE_GLOB

    chosen = []
    for path in sorted(fs.find(root)):
        relative = PurePosixPath(path).relative_to(PurePosixPath(root)).as_posix()
        if not fnmatch.fnmatch(PurePosixPath(path).name, FILE_GLOB):
            continue
        when = modified(fs, path)
        if when is None or when >= since:
            chosen.append((path, local_name(relative)))
    return chosen


def fetch(url: str, output: Path, days: float, now: datetime | None = None) -> list[Path]:
    """Copy the log files under `url` modified within `days` into `output`; return what is there now."""
    from dvc.fs import parse_external_url

    from mlops.monitoring.prediction_log import log_files

    try:
        fs, root = parse_external_url(url)
        exists = fs.exists(root)
    except Exception as exc:  # DVC raises many kinds: unknown scheme, missing plugin, credentials
        raise MlopsError(f"cannot read {url}: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc}") from exc
    if not exists:
        raise MlopsError(f"{url} not found: check {ENV_URL} (a folder holding the service's predictions-*.jsonl)")
    since = (now or datetime.now(UTC)) - timedelta(days=days)
    found = newest_logs(fs, root.rstrip("/"), since)
    if not found:
        raise MlopsError(f"no prediction log modified in the last {days:g} days under {url}")
    output.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=output, prefix=".fetch-"))
    try:
        for remote, name in found:
            fs.get_file(remote, str(staging / name))
        for old in log_files(output):
            old.unlink()
        for _, name in found:
            os.replace(staging / name, output / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [output / name for _, name in found]


def run(args: argparse.Namespace) -> int:
    url = args.url or os.environ.get(ENV_URL, "").strip()
    if not url:
        raise MlopsError(f"no log location: set {ENV_URL} (e.g. s3://my-bucket/prediction-logs/) or pass --url")
    if args.days <= 0:
        raise MlopsError("--days must be more than 0")
    files = fetch(url, Path(args.output), args.days)
    size = sum(f.stat().st_size for f in files)
    print(f"fetch-logs: {len(files)} log file(s), {size / 1e6:.1f} MB, from {url} -> {args.output}/")
    return 0
