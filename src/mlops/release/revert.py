"""`mlops revert`: put an earlier published release back in service, in one step, and record why.

The release is found among the publish records on GitHub (mlops/release/audit.py) by its model
version or its image digest. Then, as deploy.yml deploys: its image's provenance is verified
(`gh attestation verify`: attested by this repository's publish.yml), the environment's overlay
is rendered with that digest and applied (kubectl, as configured), the rollout is awaited; the
registry alias (champion) moves back to its version when MLFLOW_TRACKING_URI names the registry;
and a `revert` record, with the reason, is written to MLflow and GitHub.

deploy.yml runs it twice around its own steps: `--find` (the release's commit and image, as
$GITHUB_OUTPUT lines) before, and `--deployed` (the alias and the record) after its smoke test.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
from pathlib import Path

from mlops.errors import MlopsError

RENDER = Path("deploy/k8s/render")
SIGNER_WORKFLOW = ".github/workflows/publish.yml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--environment", required=True, help="the overlay of deploy/k8s and its GitHub environment")
    parser.add_argument("--version", help="the model version to put back")
    parser.add_argument("--digest", metavar="sha256:...", help="the image digest to put back")
    parser.add_argument("--reason", required=True, help="why: kept in the record")
    parser.add_argument(
        "--repo", default=os.environ.get("GITHUB_REPOSITORY"), metavar="OWNER/REPO", help="default: GITHUB_REPOSITORY"
    )
    parser.add_argument("--alias", default="champion", help="the registry alias to move back (default: %(default)s)")
    step = parser.add_mutually_exclusive_group()
    step.add_argument("--find", action="store_true", help="only print the release (commit=, image=, version= lines)")
    step.add_argument(
        "--deployed", action="store_true", help="its image is applied and smoke-tested already: move the alias, record"
    )


def check(args: argparse.Namespace) -> None:
    if not (args.version or args.digest):
        raise MlopsError("which release? give --version N or --digest sha256:... (mlops history lists them)")
    if not args.reason.strip():
        raise MlopsError("say why in --reason: the record keeps it")
    if not args.repo:
        raise MlopsError("which repository? give --repo OWNER/REPO (or set GITHUB_REPOSITORY)")


def verify_provenance(image: str, repo: str) -> None:
    from mlops.release.audit import tool

    tool(
        ["gh", "attestation", "verify", f"oci://{image}", "--repo", repo,
         "--signer-workflow", f"{repo}/{SIGNER_WORKFLOW}"],
        f"verify the provenance of {image} (attested by {repo}'s publish.yml)",
    )  # fmt: skip


def apply(environment: str, image: str) -> str:
    """Render the overlay with the image, apply it and wait for the rollout; the namespace."""
    import yaml

    from mlops.release.audit import tool

    if not RENDER.is_file():
        raise MlopsError(f"{RENDER} not found: run mlops revert from the repository's root")
    manifests = tool([str(RENDER), environment, image], f"render the overlay {environment}")
    (deployment,) = [d for d in yaml.safe_load_all(manifests) if d and d.get("kind") == "Deployment"]
    namespace, name = deployment["metadata"]["namespace"], deployment["metadata"]["name"]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="manifests-") as file:
        file.write(manifests)
        file.flush()
        tool(["kubectl", "apply", "-f", file.name], f"apply the overlay {environment}")
    tool(
        ["kubectl", "rollout", "status", f"deployment/{name}", "--namespace", namespace, "--timeout=10m"],
        f"roll out {image} in {namespace}",
    )
    return namespace


def run(args: argparse.Namespace) -> int:
    from mlops.release import audit

    check(args)
    release = audit.find_release(args.repo, version=args.version, digest=args.digest)
    if args.find:
        print(f"commit={release.commit}\nimage={release.image}\nversion={release.version}\nmodel={release.model}")
        return 0
    if not args.deployed:
        verify_provenance(release.image, args.repo)
        namespace = apply(args.environment, release.image)
        print(f"revert: {release.image} rolled out in {namespace} ({args.environment})")
    tracked = bool(os.environ.get("MLFLOW_TRACKING_URI"))
    if tracked:
        from mlops.release.promote import set_alias

        set_alias(release.model, release.version, args.alias)
        print(f"revert: {release.model} version {release.version} is '{args.alias}' again")
    else:
        print(f"revert: no MLFLOW_TRACKING_URI: the registry alias '{args.alias}' was not moved")
    record = dataclasses.replace(
        release,
        event="revert",
        environment=args.environment,
        reason=args.reason.strip(),
        actor=audit.actor(),
        run=audit.run_url(),
        time="",
    )
    record, places = audit.write(record, mlflow=tracked, repo=args.repo)
    print(f"revert: recorded in {' and '.join(places)}")
    return 0
