"""`mlops record`: write the audit record of a publish, a deploy or a canary's decision (mlops/release/audit.py).

Run from the folder holding the release's pipeline output (models/, dvc.lock, reports/pr/),
as publish.yml and deploy.yml do. The record goes to MLflow when MLFLOW_TRACKING_URI is set
(a tag of the model version) and to GitHub with --repo (a deployment of the commit to the
environment). `mlops promote` and `mlops revert` write their own.

A canary's record (`--event canary`) is of the canary's release, with the decision file that
`mlops canary check --decision` wrote and the stable image it was compared with (--stable);
the stable release's model version is looked up among the publish records.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from mlops.errors import MlopsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--event", required=True, choices=("publish", "deploy", "canary"), help="what happened")
    parser.add_argument("--environment", required=True, help="the GitHub environment (publish: release)")
    parser.add_argument("--image", required=True, metavar="IMAGE@DIGEST", help="the image, pinned by its digest")
    parser.add_argument("--commit", help="the release's git commit (default: GITHUB_SHA, else HEAD)")
    parser.add_argument("--repo", metavar="OWNER/REPO", help="also record it on this GitHub repository")
    parser.add_argument("--decision", type=Path, help="--event canary: the file `mlops canary check --decision` wrote")
    parser.add_argument("--stable", metavar="IMAGE@DIGEST", help="--event canary: the stable release's image")


def run(args: argparse.Namespace) -> int:
    import os

    from mlops.release import audit

    tracked = bool(os.environ.get("MLFLOW_TRACKING_URI"))
    if not (tracked or args.repo):
        raise MlopsError("nowhere to record: set MLFLOW_TRACKING_URI or give --repo OWNER/REPO")
    if (args.event == "canary") != bool(args.decision and args.stable):
        raise MlopsError("--decision and --stable go with --event canary, and it needs both")
    record = audit.local_record(
        args.event, args.environment, audit.check_image(args.image), args.commit or audit.commit_of_checkout()
    )
    if args.event == "canary":
        record = canary_record(record, args.decision, args.stable, args.repo)
    record, places = audit.write(record, mlflow=tracked, repo=args.repo)
    print(f"record: {record.summary()} -> {' and '.join(places)}")
    return 0


def canary_record(record, decision_file: Path, stable_image: str, repo: str | None):
    """The canary's release record with the decision and the stable release it was compared with."""
    import json

    from mlops.release import audit

    try:
        decision = json.loads(decision_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MlopsError(f"cannot read the canary's decision {decision_file}: {exc}") from None
    stable = audit.published(stable_image, repo, record.model)
    details = audit.canary_details(decision, stable, stable_image)
    return dataclasses.replace(record, canary=details, reason=audit.canary_reason(details))
