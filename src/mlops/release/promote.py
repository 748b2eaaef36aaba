"""`mlops promote`: point a model registry alias (default `champion`) at the exported model.

The version comes from models/metadata.json (else models/training.json). Meant for a team's
MLflow tracking server (MLFLOW_TRACKING_URI); the publish workflow runs it after the image
that serves this version has been pushed.
"""

from __future__ import annotations

import argparse

from mlops import paths
from mlops.errors import MlopsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--alias", default="champion", help="registry alias to move (default: %(default)s)")


def model_version() -> tuple[str, str]:
    from mlops.io import read_json

    if paths.MODEL_METADATA.is_file():
        info = read_json(paths.MODEL_METADATA)
        return info["name"], str(info["version"])
    info = read_json(paths.TRAINING_INFO)
    return info["registered_model"], str(info["model_version"])


def run(args: argparse.Namespace) -> int:
    from mlops import tracking

    name, version = model_version()
    mlflow = tracking.connect()
    try:
        mlflow.MlflowClient().set_registered_model_alias(name, args.alias, version)
    except Exception as exc:
        raise MlopsError(f"could not set alias {args.alias} on {name} version {version}: {exc}") from exc
    print(f"promote: {name} version {version} is now '{args.alias}' at {tracking.tracking_uri()}")
    return 0
