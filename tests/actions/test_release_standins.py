"""The release's proof, step by step and fast: the vulnerability scan, the attestation and its check.

publish.yml's scan (`.github/scan-requirements`) and deploy.yml's verification step run as
written, with bash, against the stand-ins the Actions-engine scenarios use where GitHub's
services cannot run here (tests/actions/provenance.py): pip-audit with the world's advisory
database, actions/attest-build-provenance storing a signed statement through the GitHub API
stand-in, and `gh attestation verify` reading it back. The whole publish job, with the image
pushed by digest with its SBOM and provenance, runs in test_scenarios.py (slow).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.actions import provenance
from tests.conftest import REPO_ROOT as ROOT

REPOSITORY = "example/ml-template"
DIGEST = "sha256:" + "ab" * 32


def shims(folder: Path) -> Path:
    """gh and pip-audit as the world's runner has them: gh's `attestation` and pip-audit by their stand-ins."""
    folder.mkdir(parents=True, exist_ok=True)
    real_gh = shutil.which("gh", path="/usr/bin:/usr/local/bin")
    script = Path(provenance.__file__)
    (folder / "gh").write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = attestation ]; then shift; exec {sys.executable} {script} gh-attestation "$@"; fi\n'
        f'exec {real_gh} "$@"\n'
    )
    (folder / "pip-audit").write_text(f'#!/bin/sh\nexec {sys.executable} {script} pip-audit "$@"\n')
    for shim in folder.iterdir():
        shim.chmod(0o755)
    return folder


# ---------------------------------------------------------------- the scan


def scan(tmp_path: Path, advisories: list[dict], ignored: str = "") -> subprocess.CompletedProcess:
    """publish.yml's scan step (a copy of the script beside a copy of the ignore list) on requirements-serve.txt."""
    (step,) = [
        s for s in workflow("publish.yml")["jobs"]["image"]["steps"] if s.get("name", "").startswith("Scan the serving")
    ]
    github = tmp_path / "repo/.github"
    github.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / ".github/scan-requirements", github)
    (github / "pip-audit-ignore.txt").write_text((ROOT / ".github/pip-audit-ignore.txt").read_text() + ignored)
    shutil.copy(ROOT / "requirements-serve.txt", tmp_path / "repo")
    world = tmp_path / "world"
    world.mkdir(exist_ok=True)
    (world / "vulnerabilities.json").write_text(json.dumps(advisories))
    env = {"PATH": f"{shims(tmp_path / 'bin')}:{os.environ['PATH']}", "STANDIN_WORLD": str(world)}
    return subprocess.run(
        ["bash", "-e", "-c", step["run"]], cwd=tmp_path / "repo", env=env, capture_output=True, text=True, timeout=60
    )


def workflow(name: str) -> dict:
    return yaml.safe_load((ROOT / ".github/workflows" / name).read_text())


def pinned(package: str) -> str:
    return provenance.pins(ROOT / "requirements-serve.txt")[package]


def test_the_scan_passes_clean_requirements_and_stops_on_a_known_vulnerability_unless_it_is_listed(tmp_path):
    done = scan(tmp_path, [])
    assert done.returncode == 0 and "No known vulnerabilities found" in done.stdout, done.stdout + done.stderr

    advisory = {"id": "GHSA-test-0001", "package": "flask", "versions": [pinned("flask")], "fix_versions": ["99.0"]}
    done = scan(tmp_path, [advisory])
    assert done.returncode == 1
    assert "Found 1 known vulnerability in 1 package" in done.stdout and "GHSA-test-0001" in done.stdout

    listed = "GHSA-test-0001  the service never calls the affected function; until 2027-01-31\n"
    done = scan(tmp_path, [advisory], ignored=listed)
    assert done.returncode == 0 and "1 ignored" in done.stdout, done.stdout + done.stderr

    # A finding on a version that is not the pinned one is not a finding.
    other = {**advisory, "id": "GHSA-test-0002", "versions": ["0.0.1"]}
    assert scan(tmp_path, [other]).returncode == 0


def test_the_ignore_list_holds_only_comments_or_advisories_with_a_reason():
    for line in (ROOT / ".github/pip-audit-ignore.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            advisory, _, reason = line.partition(" ")
            assert advisory.startswith(("PYSEC-", "GHSA-", "CVE-")) and reason.strip(), line


# ---------------------------------------------------------------- attest, then verify before deploying


def provenance_step() -> dict:
    """deploy.yml's step that verifies the image's attestation (another verifies the model's signature)."""
    steps = workflow("deploy.yml")["jobs"]["deploy"]["steps"]
    (step,) = [s for s in steps if s.get("name", "").startswith("Verify the image's build provenance")]
    return step


def verify(tmp_path: Path, env: dict, image: str) -> subprocess.CompletedProcess:
    """deploy.yml's verification step, run as the runner runs it."""
    step = provenance_step()
    path = f"{shims(tmp_path / 'bin')}:{env['PATH']}"
    run_env = {**env, "PATH": path, "IMAGE": image, "GITHUB_REPOSITORY": REPOSITORY, "GH_ENTERPRISE_TOKEN": "token"}
    return subprocess.run(["bash", "-e", "-c", step["run"]], env=run_env, capture_output=True, text=True, timeout=60)


def test_deploy_verifies_the_provenance_publish_attested_and_refuses_any_other(tmp_path, github):
    api, env, workspace = github
    image = f"ghcr.io/{REPOSITORY}"
    made = provenance.attest(image, DIGEST, "token")
    assert [a["id"] for a in api.state.attestations] == [made["id"]]

    done = verify(tmp_path, env, f"{image}@{DIGEST}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✓ Verification succeeded!" in done.stdout

    other = "sha256:" + "cd" * 32  # an image nobody attested
    done = verify(tmp_path, env, f"{image}@{other}")
    assert done.returncode == 1 and f"no attestations found for subject {other}" in done.stdout

    # The same digest attested by another workflow of the repository: not publish.yml's proof.
    api.state.attestations.clear()
    (workspace / ".github/workflows/publish.yml").rename(workspace / ".github/workflows/other.yml")
    provenance.attest(image, DIGEST, "token")
    done = verify(tmp_path, env, f"{image}@{DIGEST}")
    assert done.returncode == 1 and "its signer workflow is" in done.stdout and "other.yml" in done.stdout

    # A statement changed after signing.
    api.state.attestations.clear()
    (workspace / ".github/workflows/other.yml").rename(workspace / ".github/workflows/publish.yml")
    bundle = provenance.attest(image, DIGEST, "token")["bundle"]
    body = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    body["predicate"]["buildDefinition"]["externalParameters"]["workflow"]["repository"] = "https://github.com/x/y"
    tampered = base64.b64encode(json.dumps(body).encode()).decode()
    api.state.attestations[0]["bundle"]["dsseEnvelope"]["payload"] = tampered
    done = verify(tmp_path, env, f"{image}@{DIGEST}")
    assert done.returncode == 1 and "the signature does not verify" in done.stdout


def test_a_read_only_token_cannot_store_an_attestation(tmp_path, github):
    api, _, _ = github
    from urllib.error import HTTPError

    api.state.read_only_tokens.add("fork-token")
    with pytest.raises(HTTPError) as refused:
        provenance.attest(f"ghcr.io/{REPOSITORY}", DIGEST, "fork-token")
    assert refused.value.code == 403 and api.state.attestations == []


def test_deploy_stops_with_a_clear_error_where_gh_cannot_verify(tmp_path):
    """Debian's gh 2.23, as on this machine and some self-hosted runners, has no `gh attestation`."""
    step = provenance_step()
    real = shutil.which("gh", path="/usr/bin:/usr/local/bin")
    assert real, "gh (Debian's gh package) is needed: .ci/apt-packages.txt"
    if subprocess.run([real, "attestation", "--help"], capture_output=True).returncode == 0:
        pytest.skip("this gh has `gh attestation`: the error path is not reachable with it")
    env = {"PATH": os.environ["PATH"], "IMAGE": f"ghcr.io/{REPOSITORY}@{DIGEST}", "GITHUB_REPOSITORY": REPOSITORY}
    done = subprocess.run(["bash", "-e", "-c", step["run"]], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "has no 'gh attestation' (2.49 or newer has)" in done.stdout and "nothing was deployed" in done.stdout
