"""The files of an exported model, as the service reads them: one home for their names and their reading.

The prediction service, `mlops sign`, `mlops verify` and the report read the model through
`read_files`, so all of them see the same bytes. The names are the file names of paths.yaml's
`model_metadata`, `onnx_model` and `model` (tests/unit/test_paths.py checks they agree): the
service cannot read paths.yaml, having no PyYAML in its image. Imports nothing heavy.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_MODEL_DIR = "models"  # MLOPS_MODEL_DIR's default, where the export stage writes
METADATA_FILE = "metadata.json"
ONNX_FILE = "model.onnx"
SKOPS_FILE = "model.skops"
SIGNATURE_FILE = "model.sig"  # `mlops sign` writes it: a Sigstore bundle over metadata.json and the model file
REQUIRED_KEYS = ("name", "version", "schema", "classes", "runtime", "unknown_categories")


class StartupError(Exception):
    """The service cannot start (e.g. the model cannot be served): one line saying why and what to do."""


@dataclass(frozen=True)
class ModelFiles:
    """A model as read once from its directory: what the service serves, whatever the disk holds later."""

    directory: Path
    metadata: dict[str, Any]
    files: dict[str, bytes]  # metadata.json and the runtime's model file: what the signature covers
    signature: bytes | None  # model.sig, when there is one

    @property
    def version(self) -> str:
        return str(self.metadata["version"])


def model_file(metadata: dict[str, Any]) -> str:
    """The file the service loads besides metadata.json: model.skops for serve.runtime sklearn, else model.onnx."""
    return SKOPS_FILE if metadata["runtime"] == "sklearn" else ONNX_FILE


def parse_metadata(raw: bytes, path: Path) -> dict[str, Any]:
    try:
        metadata = json.loads(raw)
    except ValueError as exc:
        raise StartupError(f"{path} is not valid JSON ({exc}): rerun `dvc repro export`") from None
    missing = [key for key in REQUIRED_KEYS if not isinstance(metadata, dict) or key not in metadata]
    if missing:
        raise StartupError(f"{path} lacks {', '.join(missing)}: rerun `dvc repro export`")
    return metadata


def read_bytes(path: Path, missing: str) -> bytes:
    """The file's bytes; StartupError saying `missing` (what to do) when it is not there."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise StartupError(f"{path} not found: {missing}") from None
    except OSError as exc:
        raise StartupError(f"{path} could not be read ({exc.strerror})") from None


def read_metadata(model_dir: Path) -> dict[str, Any]:
    path = model_dir / METADATA_FILE
    return parse_metadata(read_bytes(path, "run the pipeline (make run) or set MLOPS_MODEL_DIR"), path)


def read_files(model_dir: Path | str) -> ModelFiles:
    """The bytes of the model in `model_dir` the service would serve; StartupError if any is missing."""
    model_dir = Path(model_dir)
    raw = read_bytes(model_dir / METADATA_FILE, "run the pipeline (make run) or set MLOPS_MODEL_DIR")
    metadata = parse_metadata(raw, model_dir / METADATA_FILE)
    name = model_file(metadata)
    model = read_bytes(model_dir / name, "rerun `dvc repro export`")
    signature_path = model_dir / SIGNATURE_FILE
    signature = signature_path.read_bytes() if signature_path.is_file() else None
    return ModelFiles(model_dir, metadata, {METADATA_FILE: raw, name: model}, signature)


def configured_model_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The service's model directory: MLOPS_MODEL_DIR, else DEFAULT_MODEL_DIR."""
    return Path(environ.get("MLOPS_MODEL_DIR") or DEFAULT_MODEL_DIR)
