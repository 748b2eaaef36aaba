"""`mlops promote`: point a model registry alias (default `champion`) at the exported model, and record it.

The version comes from models/metadata.json (else models/training.json). Meant for a team's
MLflow tracking server (MLFLOW_TRACKING_URI); the publish workflow runs it after the image
that serves this version has been pushed. The promotion is recorded (mlops/release/audit.py)
as a tag of the model version and, with --repo, as a GitHub deployment to the environment
`release`.
"""

from __future__ import annotations

import argparse

from mlops.errors import MlopsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--alias", default="champion", help="registry alias to move (default: %(default)s)")
    parser.add_argument("--image", default="", metavar="IMAGE@DIGEST", help="the image serving this version")
    parser.add_argument("--repo", metavar="OWNER/REPO", help="also record the promotion on this GitHub repository")


def set_alias(name: str, version: str, alias: str) -> None:
    from mlops import tracking

    mlflow = tracking.connect()
    try:
        mlflow.MlflowClient().set_registered_model_alias(name, alias, version)
    except Exception as exc:
        raise MlopsError(f"could not set alias {alias} on {name} version {version}: {exc}") from exc


def run(args: argparse.Namespace) -> int:
    from mlops import tracking
    from mlops.release import audit

    if args.image:
        audit.check_image(args.image)
    name, version = audit.model_version()
    set_alias(name, version, args.alias)
    print(f"promote: {name} version {version} is now '{args.alias}' at {tracking.tracking_uri()}")
    record = audit.local_record("promote", audit.RELEASE_ENVIRONMENT, args.image, audit.commit_of_checkout())
    _, places = audit.write(record, mlflow=True, repo=args.repo)
    print(f"promote: recorded in {' and '.join(places)}")
    return 0
