"""Put a failed stage's last good outputs back, from DVC's cache.

`dvc repro` deletes a stage's outputs before it runs the stage's command. When the command then
fails (an unreachable tracking server, a model that cannot be fitted), the stage's previous
outputs would be missing although dvc.lock still records them and DVC's cache still holds them.
`restore_outputs` copies them back, so a failed stage never leaves the last good model missing
and `dvc status` shows only what really changed.

Reads dvc.lock and the cache's files directly: DVC itself holds the repository's lock while the
stage runs, and importing it would cost seconds.
"""

from __future__ import annotations

import configparser
import json
import shutil
from pathlib import Path

import yaml

from mlops import paths
from mlops.io import atomic_path


def cache_dir(root: Path = Path()) -> Path:
    """DVC's cache directory: `cache.dir` in .dvc/config.local or .dvc/config, else .dvc/cache."""
    for name in ("config.local", "config"):
        config = configparser.ConfigParser()
        config.read(root / ".dvc" / name)
        if config.has_option("cache", "dir"):
            return (root / ".dvc" / config.get("cache", "dir")).resolve()
    return root / ".dvc" / "cache"


def cached_file(cache: Path, md5: str) -> Path:
    return cache / "files" / "md5" / md5[:2] / md5[2:]


def recorded_files(stage: str, root: Path = Path()) -> dict[Path, Path]:
    """{output file: its cached copy} for every file of `stage`'s cached outputs that dvc.lock records."""
    lock_file = root / paths.DVC_LOCK
    if not lock_file.is_file():
        return {}
    outs = ((yaml.safe_load(lock_file.read_text(encoding="utf-8")) or {}).get("stages") or {}).get(stage, {})
    cache = cache_dir(root)
    files: dict[Path, Path] = {}
    for out in outs.get("outs") or []:
        md5, path = out.get("md5"), root / out["path"]
        if not md5:
            continue
        if not md5.endswith(".dir"):
            files[path] = cached_file(cache, md5)
            continue
        manifest = cached_file(cache, md5)
        if manifest.is_file():
            for entry in json.loads(manifest.read_text(encoding="utf-8")):
                files[path / entry["relpath"]] = cached_file(cache, entry["md5"])
    return files


def restore_outputs(stage: str, root: Path = Path()) -> list[Path]:
    """Copy back each recorded output file of `stage` that is missing and cached; return those restored."""
    restored = []
    for path, cached in recorded_files(stage, root).items():
        if path.exists() or not cached.is_file():
            continue
        with atomic_path(path) as tmp:
            shutil.copyfile(cached, tmp)
        restored.append(path)
    return restored
