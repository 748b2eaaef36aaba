"""`mlops record`: write the audit record of a publish or a deploy (mlops/release/audit.py).

Run from the folder holding the release's pipeline output (models/, dvc.lock, reports/pr/),
as publish.yml and deploy.yml do. The record goes to MLflow when MLFLOW_TRACKING_URI is set
(a tag of the model version) and to GitHub with --repo (a deployment of the commit to the
environment). `mlops promote` and `mlops revert` write their own.
"""

from __future__ import annotations

import argparse

from mlops.errors import MlopsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--event", required=True, choices=("publish", "deploy"), help="what happened")
    parser.add_argument("--environment", required=True, help="the GitHub environment (publish: release)")
    parser.add_argument("--image", required=True, metavar="IMAGE@DIGEST", help="the image, pinned by its digest")
    parser.add_argument("--commit", help="the release's git commit (default: GITHUB_SHA, else HEAD)")
    parser.add_argument("--repo", metavar="OWNER/REPO", help="also record it on this GitHub repository")


def run(args: argparse.Namespace) -> int:
    import os

    from mlops.release import audit

    record = audit.local_record(
        args.event, args.environment, audit.check_image(args.image), args.commit or audit.commit_of_checkout()
    )
    record, places = audit.write(record, mlflow=bool(os.environ.get("MLFLOW_TRACKING_URI")), repo=args.repo)
    if not places:
        raise MlopsError("nowhere to record: set MLFLOW_TRACKING_URI or give --repo OWNER/REPO")
    print(f"record: {record.summary()} -> {' and '.join(places)}")
    return 0
