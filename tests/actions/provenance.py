"""STAND-INS for the release's proof, where GitHub's services and BuildKit cannot run here.

- ``push_with_attestations``: what docker/build-push-action does with ``sbom: true``,
  ``provenance: mode=max`` and ``outputs: type=image,push-by-digest=true,...``: the built image
  goes to the registry under no tag, inside an OCI image index that also holds an attestation
  manifest (BuildKit's layout: platform unknown/unknown, ``vnd.docker.reference.*``
  annotations) with two in-toto statements, an SPDX SBOM of the image's Python packages (read
  from the image itself; BuildKit's scanner lists the Debian packages too) and a SLSA v0.2
  provenance of the build (its Dockerfile, build arguments, base image). Returns the index's
  digest, which is what BuildKit reports as the image's digest.
- ``imagetools_create``: ``docker buildx imagetools create --tag T SOURCE@DIGEST``: the same
  index under each tag (no new digest).
- ``attest``: actions/attest-build-provenance: a SLSA v1 provenance statement for a subject
  digest, naming the workflow file that attests (GitHub puts the reusable workflow's path in
  the OIDC token's ``job_workflow_ref``), in a DSSE envelope signed with the world's own key
  (a STAND-IN for Sigstore's short-lived certificate: no Fulcio or Rekor here), stored through
  the GitHub API stand-in (``POST /repos/OWNER/REPO/attestations``).
- ``gh_attestation``: ``gh attestation verify oci://IMAGE@DIGEST --repo R --signer-workflow W``
  (gh 2.49 and newer; Debian's 2.23 has no ``attestation``): fetches the digest's attestations
  from the API stand-in and succeeds only for one whose signature holds under the world's key,
  whose subject is the digest, whose repository is R and whose signer workflow is W.

- ``pip_audit``: ``pip-audit --requirement FILE ... --ignore-vuln ID``, with the advisories of
  the world's own database (``vulnerabilities.json`` in its storage; PyPI's cannot be reached
  here): the same findings table and exit status, 1 on a finding not ignored.

The registry is Debian's ``docker-registry`` standing for ghcr.io (``STANDIN_REGISTRY``).
Standard library only (plus openssl), as standins.py.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
IN_TOTO = "application/vnd.in-toto+json"
SPDX = "https://spdx.dev/Document"
SLSA_V02 = "https://slsa.dev/provenance/v0.2"
SLSA_V1 = "https://slsa.dev/provenance/v1"
DSSE_PAYLOAD = "application/vnd.in-toto+json"


# ---------------------------------------------------------------- the registry standing for ghcr.io


def registry_path(name: str) -> tuple[str, str]:
    """ghcr.io/owner/repo -> (registry host, repository path) in the world's registry."""
    host, _, path = name.partition("/")
    if host == "ghcr.io":
        host = os.environ["STANDIN_REGISTRY"]
    return host, path


def http(method: str, url: str, data: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.status, dict(response.headers), response.read()


def put_blob(host: str, path: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    try:
        http("HEAD", f"http://{host}/v2/{path}/blobs/{digest}")
        return digest
    except urllib.error.HTTPError:
        pass
    _, headers, _ = http("POST", f"http://{host}/v2/{path}/blobs/uploads/")
    location = headers["Location"]
    location = location if location.startswith("http") else f"http://{host}{location}"
    separator = "&" if "?" in location else "?"
    http("PUT", f"{location}{separator}digest={digest}", data, {"Content-Type": "application/octet-stream"})
    return digest


def put_manifest(host: str, path: str, reference: str, body: bytes, media_type: str) -> str:
    http("PUT", f"http://{host}/v2/{path}/manifests/{reference}", body, {"Content-Type": media_type})
    return "sha256:" + hashlib.sha256(body).hexdigest()


def get_manifest(host: str, path: str, reference: str) -> tuple[bytes, str]:
    accept = ", ".join(
        [INDEX, OCI_MANIFEST, DOCKER_MANIFEST, "application/vnd.docker.distribution.manifest.list.v2+json"]
    )
    _, headers, body = http("GET", f"http://{host}/v2/{path}/manifests/{reference}", headers={"Accept": accept})
    return body, headers.get("Content-Type", "")


# ---------------------------------------------------------------- docker/build-push-action, BuildKit's side


def image_packages(image: str) -> list[tuple[str, str]]:
    """(name, version) of every Python distribution installed in the image, read by its own Python."""
    code = (
        "import importlib.metadata as m, json; "
        "print(json.dumps(sorted({(d.metadata['Name'], d.version) for d in m.distributions()})))"
    )
    # create + start, not `docker run`: the runner's docker shim logs each `run` as a smoke test.
    container = docker("create", "--entrypoint", "python", image, "-c", code).stdout.strip()
    try:
        done = docker("start", "--attach", container)
    finally:
        docker("rm", "--force", container)
    return [tuple(item) for item in json.loads(done.stdout.strip().splitlines()[-1])]


def docker(*args: str) -> subprocess.CompletedProcess:
    """The runner's `docker` (podman, set up by the world's shim)."""
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True, timeout=600)


def statement(subject_name: str, subject_digest: str, predicate_type: str, predicate: dict) -> dict:
    return {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": predicate_type,
        "subject": [{"name": subject_name, "digest": {"sha256": subject_digest.removeprefix("sha256:")}}],
        "predicate": predicate,
    }


def sbom(image: str, name: str) -> dict:
    created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    packages = [
        {
            "SPDXID": f"SPDXRef-Package-python-{index}",
            "name": package,
            "versionInfo": version,
            "downloadLocation": "NOASSERTION",
            "externalRefs": [
                {
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": f"pkg:pypi/{package.lower()}@{version}",
                },
            ],
        }
        for index, (package, version) in enumerate(image_packages(image))
    ]
    return {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"sbom-{name}",
        "documentNamespace": f"https://example.invalid/standin/{hashlib.sha256(image.encode()).hexdigest()}",
        "creationInfo": {
            "created": created,
            "creators": ["Tool: STAND-IN for BuildKit's SBOM scanner (tests/actions)"],
        },
        "packages": packages,
    }


def build_provenance(context: Path, dockerfile: Path, build_args: list[str], labels: list[str], started: str) -> dict:
    """SLSA v0.2 provenance as BuildKit writes it with mode=max (the fields this project reads)."""
    base = next(
        (
            line.split()[1]
            for line in dockerfile.read_text().splitlines()
            if line.upper().startswith("FROM ") and "@" in line
        ),
        None,
    )
    overridden = {arg.split("=", 1)[0]: arg.split("=", 1)[1] for arg in build_args if "=" in arg}
    materials = [{"uri": f"pkg:docker/{overridden.get('BASE_IMAGE', base)}"}] if base else []
    return {
        "builder": {
            "id": "{}/{}/actions/runs/{}".format(
                os.environ.get("GITHUB_SERVER_URL", ""),
                os.environ.get("GITHUB_REPOSITORY", ""),
                os.environ.get("GITHUB_RUN_ID", ""),
            )
        },
        "buildType": "https://mobyproject.org/buildkit@v1",
        "materials": materials,
        "invocation": {
            "configSource": {"entryPoint": dockerfile.name},
            "parameters": {"frontend": "dockerfile.v0", "args": overridden, "labels": labels},
        },
        "buildConfig": {"dockerfile": dockerfile.read_text()},
        "metadata": {
            "buildStartedOn": started,
            "buildFinishedOn": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "completeness": {"parameters": True, "environment": True, "materials": False},
            "reproducible": False,
        },
        "standin": "STAND-IN for BuildKit's provenance attestation (tests/actions/provenance.py)",
    }


def push_with_attestations(image_id: str, name: str, attach_sbom: bool, attach_provenance: dict | None) -> str:
    """Push the local image by digest inside an index with its attestations; the index's digest."""
    host, path = registry_path(name)
    with tempfile.TemporaryDirectory() as folder:
        docker("push", "--quiet", "--format", "v2s2", image_id.removeprefix("sha256:"), f"dir:{folder}")
        manifest_body = (Path(folder) / "manifest.json").read_bytes()
        manifest = json.loads(manifest_body)
        for blob in [manifest["config"], *manifest["layers"]]:
            data = (Path(folder) / blob["digest"].removeprefix("sha256:")).read_bytes()
            assert put_blob(host, path, data) == blob["digest"]
    image_digest = put_manifest(
        host, path, "sha256:" + hashlib.sha256(manifest_body).hexdigest(), manifest_body, DOCKER_MANIFEST
    )
    entries = [
        {
            "mediaType": DOCKER_MANIFEST,
            "digest": image_digest,
            "size": len(manifest_body),
            "platform": {"architecture": "amd64", "os": "linux"},
        }
    ]
    statements = []
    if attach_sbom:
        statements.append((SPDX, statement(name, image_digest, SPDX, sbom(image_id.removeprefix("sha256:"), name))))
    if attach_provenance is not None:
        statements.append((SLSA_V02, statement(name, image_digest, SLSA_V02, attach_provenance)))
    if statements:
        layers = []
        for predicate_type, body in statements:
            data = json.dumps(body).encode()
            layers.append(
                {
                    "mediaType": IN_TOTO,
                    "digest": put_blob(host, path, data),
                    "size": len(data),
                    "annotations": {"in-toto.io/predicate-type": predicate_type},
                }
            )
        config = json.dumps(
            {
                "architecture": "unknown",
                "os": "unknown",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]},
            }
        ).encode()
        attestation = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": put_blob(host, path, config),
                    "size": len(config),
                },
                "layers": layers,
            }
        ).encode()
        digest = put_manifest(
            host, path, "sha256:" + hashlib.sha256(attestation).hexdigest(), attestation, OCI_MANIFEST
        )
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": digest,
                "size": len(attestation),
                "platform": {"architecture": "unknown", "os": "unknown"},
                "annotations": {
                    "vnd.docker.reference.digest": image_digest,
                    "vnd.docker.reference.type": "attestation-manifest",
                },
            }
        )
    index = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": entries}).encode()
    return put_manifest(host, path, "sha256:" + hashlib.sha256(index).hexdigest(), index, INDEX)


def imagetools_create(args: list[str]) -> int:
    """`docker buildx imagetools create --tag T [--tag T2] NAME@DIGEST`: the source under each tag."""
    tags, sources, rest = [], [], list(args)
    while rest:
        arg = rest.pop(0)
        if arg in ("--tag", "-t"):
            tags.append(rest.pop(0))
        elif arg.startswith("--tag="):
            tags.append(arg.split("=", 1)[1])
        elif arg.startswith("-"):
            print(f"imagetools stand-in: option {arg} is not implemented", file=sys.stderr)
            return 2
        else:
            sources.append(arg)
    if len(sources) != 1 or "@" not in sources[0] or not tags:
        print("imagetools stand-in: one NAME@DIGEST source and at least one --tag", file=sys.stderr)
        return 2
    name, digest = sources[0].split("@", 1)
    host, path = registry_path(name)
    body, media_type = get_manifest(host, path, digest)
    for tag in tags:
        tag_name, _, tag_value = tag.rpartition(":")
        tag_host, tag_path = registry_path(tag_name)
        if (tag_host, tag_path) != (host, path):
            print(f"imagetools stand-in: {tag} is in another repository than {name}", file=sys.stderr)
            return 2
        assert put_manifest(host, path, tag_value, body, media_type) == digest
        print(f"{tag}: {digest}")
    return 0


# ---------------------------------------------------------------- Sigstore's part, with the world's key


def key_folder() -> Path:
    folder = Path(os.environ["STANDIN_WORLD"]) / "signing-standin"
    folder.mkdir(parents=True, exist_ok=True)
    key = folder / "key.pem"
    if not key.exists():
        subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key)], check=True)
        subprocess.run(
            ["openssl", "ec", "-in", str(key), "-pubout", "-out", str(folder / "public.pem")],
            check=True,
            capture_output=True,
        )
    return folder


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what the signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def sign(data: bytes) -> str:
    done = subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", str(key_folder() / "key.pem")],
        input=data,
        capture_output=True,
        check=True,
    )
    return base64.b64encode(done.stdout).decode()


def signature_holds(data: bytes, signature: str) -> bool:
    with tempfile.NamedTemporaryFile() as sig:
        sig.write(base64.b64decode(signature))
        sig.flush()
        done = subprocess.run(
            ["openssl", "dgst", "-sha256", "-verify", str(key_folder() / "public.pem"), "-signature", sig.name],
            input=data,
            capture_output=True,
        )
    return done.returncode == 0


def api(method: str, path: str, body: dict | None, token: str):
    context = ssl.create_default_context(cafile=os.environ.get("STANDIN_CA") or os.environ.get("SSL_CERT_FILE"))
    base = os.environ.get("STANDIN_GITHUB_API") or f"https://{os.environ['GH_HOST']}/api/v3"
    request = urllib.request.Request(
        f"{base}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60, context=context) as response:
        return json.loads(response.read() or b"{}")


def signer_workflow() -> str:
    """The workflow file holding the attest step: what GitHub's OIDC token names as job_workflow_ref."""
    workspace = Path(os.environ["GITHUB_WORKSPACE"])
    files = [
        p
        for p in sorted((workspace / ".github/workflows").glob("*.y*ml"))
        if "actions/attest-build-provenance@" in p.read_text()
    ]
    if len(files) != 1:
        raise SystemExit(f"attest stand-in: {len(files)} workflow files attest; cannot tell which one signs")
    return f".github/workflows/{files[0].name}"


def attest(subject_name: str, subject_digest: str, token: str) -> dict:
    repository, server = os.environ["GITHUB_REPOSITORY"], os.environ.get("GITHUB_SERVER_URL", "https://github.com")
    ref, sha = os.environ["GITHUB_REF"], os.environ["GITHUB_SHA"]
    workflow = signer_workflow()
    body = statement(
        subject_name,
        subject_digest,
        SLSA_V1,
        {
            "buildDefinition": {
                "buildType": "https://actions.github.io/buildtypes/workflow/v1",
                "externalParameters": {
                    "workflow": {"ref": ref, "repository": f"{server}/{repository}", "path": workflow}
                },
                "internalParameters": {"github": {"event_name": os.environ.get("GITHUB_EVENT_NAME", "")}},
                "resolvedDependencies": [{"uri": f"git+{server}/{repository}@{ref}", "digest": {"gitCommit": sha}}],
            },
            "runDetails": {
                "builder": {"id": f"{server}/{repository}/{workflow}@{ref}"},
                "metadata": {
                    "invocationId": f"{server}/{repository}/actions/runs/{os.environ.get('GITHUB_RUN_ID', '')}"
                },
            },
        },
    )
    body["_type"] = "https://in-toto.io/Statement/v1"
    payload = json.dumps(body).encode()
    bundle = {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": "STAND-IN: the test world's key, not a Sigstore certificate"}},
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": DSSE_PAYLOAD,
            "signatures": [{"sig": sign(pae(DSSE_PAYLOAD, payload))}],
        },
    }
    stored = api("POST", f"/repos/{repository}/attestations", {"bundle": bundle}, token)
    return {"bundle": bundle, "id": stored["id"]}


# ---------------------------------------------------------------- gh attestation verify


def verify_bundle(bundle: dict, digest: str, repository: str, workflow: str) -> str | None:
    """None when the bundle proves the digest came from `workflow` of `repository`; else the reason."""
    envelope = bundle.get("dsseEnvelope", {})
    payload = base64.b64decode(envelope.get("payload", ""))
    if not any(
        signature_holds(pae(envelope.get("payloadType", ""), payload), s["sig"]) for s in envelope.get("signatures", [])
    ):
        return "the signature does not verify"
    body = json.loads(payload)
    if body.get("predicateType") != SLSA_V1:
        return f"predicate type {body.get('predicateType')} is not {SLSA_V1}"
    if not any(s.get("digest", {}).get("sha256") == digest.removeprefix("sha256:") for s in body.get("subject", [])):
        return "its subject is another digest"
    definition = body["predicate"]["buildDefinition"]["externalParameters"]["workflow"]
    if not definition["repository"].endswith(f"/{repository}"):
        return f"it was built in {definition['repository']}, not {repository}"
    builder = body["predicate"]["runDetails"]["builder"]["id"]
    if not builder.split("@")[0].endswith(f"/{workflow}"):
        return f"its signer workflow is {builder}, not {workflow}"
    return None


def gh_attestation(args: list[str]) -> int:
    """`gh attestation verify oci://NAME@DIGEST --repo OWNER/REPO --signer-workflow OWNER/REPO/PATH`."""
    if not args or args[0] in ("--help", "-h") or args[:2] == ["verify", "--help"]:
        print("Verify an artifact's attestations (STAND-IN for gh attestation, tests/actions/provenance.py)")
        return 0
    if args[0] != "verify":
        print(f"attestation stand-in: `{args[0]}` is not implemented", file=sys.stderr)
        return 2
    options, target, rest = {}, None, list(args[1:])
    while rest:
        arg = rest.pop(0)
        if arg.startswith("--"):
            key, _, value = arg[2:].partition("=")
            options[key] = value or rest.pop(0)
        else:
            target = arg
    if not target or not target.startswith("oci://") or "@sha256:" not in target or "repo" not in options:
        print("attestation stand-in: verify oci://NAME@sha256:DIGEST --repo OWNER/REPO", file=sys.stderr)
        return 2
    digest = target.rsplit("@", 1)[1]
    workflow = options.get("signer-workflow", "")
    repository = options["repo"]
    workflow_path = workflow.removeprefix(f"{repository}/") if workflow else ""
    token = os.environ.get("GH_ENTERPRISE_TOKEN") or os.environ.get("GH_TOKEN", "")
    print(f"Loaded digest {digest} for {target}")
    try:
        found = api("GET", f"/repos/{repository}/attestations/{digest}", None, token).get("attestations", [])
    except urllib.error.HTTPError as error:
        if error.code != 404:
            raise
        found = []
    if not found:
        print(f"✗ Loading attestations from GitHub API failed\n\nError: no attestations found for subject {digest}")
        return 1
    reasons = [verify_bundle(item["bundle"], digest, repository, workflow_path or "") for item in found]
    if None in reasons:
        print(
            f"Loaded {len(found)} attestation(s) from GitHub API\n"
            f"✓ Verification succeeded!\n\n{digest} was attested by:"
        )
        print(f"REPO {repository}  WORKFLOW {workflow_path}")
        return 0
    print(f"✗ Verification failed\n\nError: {'; '.join(sorted(set(r for r in reasons if r)))}")
    return 1


# ---------------------------------------------------------------- pip-audit


def pins(requirements: Path) -> dict[str, str]:
    found = {}
    for line in requirements.read_text().splitlines():
        name, sep, version = line.split(";")[0].split("\\")[0].strip().partition("==")
        if sep and not name.startswith(("#", "-")):
            found[name.lower().replace("_", "-")] = version.strip()
    return found


def pip_audit(args: list[str]) -> int:
    requirements, ignored, rest = None, set(), list(args)
    while rest:
        arg = rest.pop(0)
        if arg in ("-r", "--requirement"):
            requirements = Path(rest.pop(0))
        elif arg == "--ignore-vuln":
            ignored.add(rest.pop(0))
        elif arg == "--progress-spinner":
            rest.pop(0)
        elif arg not in ("--require-hashes", "--disable-pip", "--strict"):
            print(f"pip-audit stand-in: {arg} is not implemented", file=sys.stderr)
            return 2
    if requirements is None:
        print("pip-audit stand-in: only --requirement FILE is implemented", file=sys.stderr)
        return 2
    database = Path(os.environ["STANDIN_WORLD"]) / "vulnerabilities.json"
    advisories = json.loads(database.read_text()) if database.exists() else []
    pinned = pins(requirements)
    findings = [
        a
        for a in advisories
        if pinned.get(a["package"].lower().replace("_", "-")) in a["versions"] and a["id"] not in ignored
    ]
    skipped = sum(1 for a in advisories if a["id"] in ignored and pinned.get(a["package"].lower()) in a["versions"])
    if not findings:
        print("No known vulnerabilities found" + (f", {skipped} ignored" if skipped else ""))
        return 0
    packages = {a["package"] for a in findings}
    print(
        f"Found {len(findings)} known vulnerabilit{'y' if len(findings) == 1 else 'ies'} "
        f"in {len(packages)} package{'s' * (len(packages) > 1)}"
    )
    print("Name Version ID Fix Versions")
    for a in findings:
        print(
            a["package"],
            pinned[a["package"].lower().replace("_", "-")],
            a["id"],
            ",".join(a.get("fix_versions", [])),
        )
    return 1


if __name__ == "__main__":  # the docker, gh and pip-audit shims call these
    command, arguments = sys.argv[1], sys.argv[2:]
    if shutil.which("openssl") is None:
        raise SystemExit("openssl is needed by the signing stand-in")
    commands = {"imagetools": imagetools_create, "gh-attestation": gh_attestation, "pip-audit": pip_audit}
    sys.exit(commands[command](arguments))
