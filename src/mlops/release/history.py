"""`mlops history ENVIRONMENT`: which release served an environment from when to when.

Read from the audit records (mlops/release/audit.py): GitHub's deployments of the environment
(--repo, default GITHUB_REPOSITORY), or the tags of the model's versions in MLflow
(--source mlflow). Each deploy, revert or promotion serves from its time until the next one's;
each canary decision is a row at its time ("until" -), its reason saying promoted or rolled back,
over which stable release and window, and which signals failed.
"""

from __future__ import annotations

import argparse
import os

from mlops.errors import MlopsError

COLUMNS = ("from", "until", "event", "version", "digest", "commit", "data", "verdict", "actor", "reason")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("environment", help="staging, production, ... (release: the promotions, i.e. champion)")
    parser.add_argument("--source", choices=("github", "mlflow"), default="github", help="default: %(default)s")
    parser.add_argument(
        "--repo", default=os.environ.get("GITHUB_REPOSITORY"), metavar="OWNER/REPO", help="default: GITHUB_REPOSITORY"
    )
    parser.add_argument("--model", help="--source mlflow: the registered model (default: the exported model's)")


def seconds(time: str) -> str:
    return time[:19] + "Z"


def rows(served) -> list[tuple[str, ...]]:
    return [
        (
            seconds(record.time),
            "-" if record.event == "canary" else seconds(until) if until else "now",
            record.event,
            record.version,
            record.digest[:19],
            record.commit[:12],
            record.data[:12],
            record.verdict,
            record.actor,
            record.reason,
        )
        for record, until in served
    ]


def table(lines: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in (COLUMNS, *lines)) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in (COLUMNS, *lines))  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from mlops.release import audit

    if args.source == "github":
        if not args.repo:
            raise MlopsError("which repository? give --repo OWNER/REPO (or set GITHUB_REPOSITORY)")
        records = audit.read_github(args.repo, args.environment)
    else:
        records = audit.read_mlflow(args.model or audit.model_version()[0], args.environment)
    entries = audit.timeline(records)
    if not entries:
        print(f"history: nothing was deployed to {args.environment} (no records)")
        return 0
    print(table(rows(entries)))
    return 0
