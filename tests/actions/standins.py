"""STAND-INS for the pinned actions the workflows use, for the Actions engine tests (act).

No remote action can be downloaded here, so act is told (``--local-repository``) to run a
local folder in place of each ``owner/repo@sha`` the workflows name. ``write_actions`` makes
those folders: an ``action.yml`` (node20, with the real action's inputs and defaults) whose
``main``/``post`` scripts run this file with the action's name. Each stand-in does its action's
job here, for real, against what the test world shares between runs (as GitHub shares it):

- actions/checkout: clones ``$GITHUB_SERVER_URL/$GITHUB_REPOSITORY`` (git's ``insteadOf`` maps
  it to the world's bare repository) at ``github.sha`` or ``ref``, optionally sparse
- actions/setup-python: a Python of the version asked, and, like a pip-cache hit, a ``.venv``
  over the test session's installed requirements when the checkout's requirements equal them
- actions/cache, actions/cache/restore: archives by key with ``restore-keys`` prefix matching,
  scoped like GitHub's (a branch sees its own caches and the default branch's)
- actions/upload-artifact, actions/download-artifact: files by name and run id, in the world's
  storage that the GitHub API stand-in also serves (``gh run download``)
- iterative/setup-cml: puts the ``cml`` stand-in (cml.py) on PATH
- docker/*: tags and labels computed as metadata-action does; build, load and push with
  podman through the ``docker`` stand-in the runner has on PATH; login to the world's registry;
  a push by digest with an SBOM and provenance as BuildKit makes them (provenance.py)
- actions/attest-build-provenance: a signed provenance statement for a digest, stored through
  the GitHub API stand-in (provenance.py: the world's key stands for Sigstore)

Run as ``python standins.py ACTION PHASE``: inputs come as ``INPUT_*`` variables, outputs go
to ``$GITHUB_OUTPUT``, state from main to post through ``$GITHUB_STATE``. Standard library only.
"""

from __future__ import annotations

import datetime
import fnmatch
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# action -> its inputs (with the real action's defaults) and whether it has a post step.
ACTIONS: dict[str, dict] = {
    "actions/checkout": {
        "inputs": {
            "repository": "${{ github.repository }}",
            "ref": "",
            "path": "",
            "persist-credentials": "true",
            "fetch-depth": "1",
            "sparse-checkout": "",
            "token": "${{ github.token }}",
        },
    },
    "actions/setup-python": {
        "inputs": {"python-version": "", "cache": "", "cache-dependency-path": ""},
    },
    "actions/cache": {
        "inputs": {"path": None, "key": None, "restore-keys": "", "fail-on-cache-miss": "false"},
        "post": True,
    },
    "actions/cache/restore": {
        "inputs": {"path": None, "key": None, "restore-keys": "", "fail-on-cache-miss": "false"},
    },
    "actions/upload-artifact": {
        "inputs": {
            "name": "artifact",
            "path": None,
            "if-no-files-found": "warn",
            "retention-days": "0",
            "include-hidden-files": "false",
            "overwrite": "false",
        },
    },
    "actions/download-artifact": {
        "inputs": {"name": "", "path": "", "run-id": "${{ github.run_id }}", "github-token": "", "pattern": ""},
    },
    "iterative/setup-cml": {"inputs": {"version": "latest", "vega": "true"}},
    "docker/setup-buildx-action": {"inputs": {"driver": "docker-container"}},
    "docker/metadata-action": {"inputs": {"images": "", "tags": "", "labels": "", "flavor": ""}},
    "docker/login-action": {"inputs": {"registry": "", "username": "", "password": ""}},
    "docker/build-push-action": {
        "inputs": {
            "context": ".",
            "file": "",
            "load": "false",
            "push": "false",
            "tags": "",
            "labels": "",
            "annotations": "",
            "build-args": "",
            "provenance": "",
            "sbom": "",
            "outputs": "",
        },
    },
    "actions/attest-build-provenance": {
        "inputs": {
            "subject-path": "",
            "subject-digest": "",
            "subject-name": "",
            "subject-checksums": "",
            "push-to-registry": "false",
            "show-summary": "true",
            "github-token": "${{ github.token }}",
        },
    },
}

USES = re.compile(r"^\s*(?:-\s+)?uses:\s*([\w.-]+/[\w./-]+)@([0-9a-f]{40})\b", re.MULTILINE)


def pinned_actions(root: Path) -> set[tuple[str, str]]:
    """Every (action, sha) the workflows and local actions under .github use."""
    found = set()
    for path in [*root.glob(".github/workflows/*.y*ml"), *root.glob(".github/actions/**/action.y*ml")]:
        found |= set(USES.findall(path.read_text()))
    return found


def write_actions(root: Path, destination: Path) -> list[str]:
    """Write a stand-in folder per pinned repository@sha; return act's --local-repository flags."""
    flags = []
    destination.mkdir(parents=True, exist_ok=True)
    for name in (
        "standins.py",
        "cml.py",
        "provenance.py",
    ):  # a copy: the runs use the stand-ins as they were at the start
        shutil.copy(HERE / name, destination / name)
    by_repo: dict[tuple[str, str], list[str]] = {}
    for action, sha in sorted(pinned_actions(root)):
        if action not in ACTIONS:
            raise KeyError(f"no stand-in for {action}: add one to tests/actions/standins.py")
        owner, repo, *sub = action.split("/")
        by_repo.setdefault((f"{owner}/{repo}", sha), []).append("/".join(sub))
    for (repo, sha), subs in by_repo.items():
        folder = destination / repo.replace("/", "__") / sha
        for sub in {"", *subs}:
            name = f"{repo}/{sub}".rstrip("/")
            if name in ACTIONS:
                write_action(folder / sub, name, destination / "standins.py")
        flags += ["--local-repository", f"{repo}@{sha}={folder}"]
    return flags


def write_action(folder: Path, name: str, script: Path) -> None:
    spec = ACTIONS[name]
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"name: STAND-IN for {name}", "inputs:"]
    for key, default in spec["inputs"].items():
        lines.append(f"  {key}:")
        lines.append("    required: true" if default is None else f"    default: {json.dumps(default)}")
    lines += ["runs:", "  using: node20", "  main: main.js"]
    if spec.get("post"):
        lines += ["  post: post.js", "  post-if: success()"]
    (folder / "action.yml").write_text("\n".join(lines) + "\n")
    for phase in ("main", "post"):
        (folder / f"{phase}.js").write_text(
            "const r = require('child_process').spawnSync(process.env.STANDIN_PYTHON || 'python3', "
            f"[{json.dumps(str(script))}, {json.dumps(name)}, {json.dumps(phase)}], "
            "{stdio: 'inherit'});\nprocess.exit(r.status === null ? 1 : r.status);\n"
        )


# ---------------------------------------------------------------- helpers for the stand-ins


def inp(name: str) -> str:
    return os.environ.get(f"INPUT_{name.upper().replace(' ', '_')}", "").strip()


def lines(name: str) -> list[str]:
    return [line.strip() for line in inp(name).splitlines() if line.strip()]


def output(name: str, value: str) -> None:
    with open(os.environ["GITHUB_OUTPUT"], "a") as out:
        out.write(f"{name}<<__STANDIN__\n{value}\n__STANDIN__\n")


def save_state(name: str, value: str) -> None:
    with open(os.environ["GITHUB_STATE"], "a") as out:
        out.write(f"{name}={value}\n")


def add_path(folder: Path) -> None:
    with open(os.environ["GITHUB_PATH"], "a") as out:
        out.write(f"{folder}\n")


def fail(message: str) -> None:
    print(f"::error::{message}")
    sys.exit(1)


def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, **kwargs)


def workspace() -> Path:
    return Path(os.environ["GITHUB_WORKSPACE"])


def world() -> Path:
    """What GitHub keeps between runs (caches, artifacts); set by the test harness."""
    return Path(os.environ["STANDIN_WORLD"])


def event() -> dict:
    return json.loads(Path(os.environ["GITHUB_EVENT_PATH"]).read_text())


# ---------------------------------------------------------------- actions/checkout


def checkout_main() -> None:
    target = workspace() / inp("path")
    if target.exists():  # the real action cleans a folder that is not already this repository
        for child in target.iterdir():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    target.mkdir(parents=True, exist_ok=True)
    url = f"{os.environ['GITHUB_SERVER_URL']}/{inp('repository')}"
    ref = inp("ref") or os.environ["GITHUB_SHA"]
    run("git", "init", "-q", str(target))
    run("git", "-C", str(target), "remote", "add", "origin", url)
    run(
        "git",
        "-C",
        str(target),
        "fetch",
        "-q",
        "origin",
        "+refs/heads/*:refs/remotes/origin/*",
        "+refs/pull/*:refs/remotes/pull/*",
    )
    sparse = lines("sparse-checkout")
    if sparse:
        run("git", "-C", str(target), "sparse-checkout", "set", *sparse)
    for candidate in (f"origin/{ref}", ref):
        if (
            subprocess.run(
                ["git", "-C", str(target), "rev-parse", "-q", "--verify", f"{candidate}^{{commit}}"],
                capture_output=True,
            ).returncode
            == 0
        ):
            run("git", "-C", str(target), "checkout", "-q", "--detach", candidate)
            break
    else:
        fail(f"checkout stand-in: no ref or commit {ref} in {url}")
    if inp("persist-credentials") == "true":
        token = inp("token")
        run("git", "-C", str(target), "config", "http.extraheader", f"AUTHORIZATION: basic {token}")
    with open(world() / "checkouts.jsonl", "a") as log:
        sha = subprocess.run(["git", "-C", str(target), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
        log.write(
            json.dumps(
                {"run_id": os.environ["GITHUB_RUN_ID"], "sha": sha.strip(), "event": os.environ["GITHUB_EVENT_NAME"]}
            )
            + "\n"
        )
    print(f"checked out {ref} of {url} into {target}")


# ---------------------------------------------------------------- actions/setup-python


def setup_python_main() -> None:
    version = inp("python-version")
    which = shutil.which(f"python{version}")
    if not which:
        fail(f"setup-python stand-in: no python{version} on this machine")
    found = subprocess.run(
        [which, "-c", "import sys; print(sys.executable)"], capture_output=True, text=True, check=True
    ).stdout.strip()
    tools = Path(os.environ["RUNNER_TEMP"]) / "standin-python" / version / "bin"
    tools.mkdir(parents=True, exist_ok=True)
    for name in ("python", "python3", f"python{version}"):
        link = tools / name
        if not link.exists():
            link.symlink_to(found)
    add_path(tools)
    output("python-version", version)
    output("python-path", str(tools / "python"))
    prepared = os.environ.get("STANDIN_PREPARED_VENV")
    if prepared and requirements_match(Path(os.environ["STANDIN_PREPARED_FROM"])):
        overlay_venv(Path(prepared), workspace() / ".venv")
        print(f"python {version}; .venv ready from the prepared requirements (a pip cache hit)")
    else:
        print(f"python {version}; no prepared requirements match: `make venv` installs them")


def requirements_match(source: Path) -> bool:
    names = ["pyproject.toml", *sorted(path.name for path in workspace().glob("requirements*.txt"))]
    return (
        all(
            (workspace() / name).is_file()
            and (source / name).is_file()
            and (workspace() / name).read_bytes() == (source / name).read_bytes()
            for name in names
        )
        and sorted(p.name for p in source.glob("requirements*.txt")) == names[1:]
    )


def overlay_venv(prepared: Path, venv: Path) -> None:
    """A venv whose packages are the prepared ones and whose `mlops` is the src/ beside it (the checkout's)."""
    python = sorted((prepared / "bin").glob("python3.*"))[0]
    run(str(python), "-m", "venv", "--without-pip", str(venv))
    packages = next((prepared / "lib").glob("python3*/site-packages"))
    own = next((venv / "lib").glob("python3*/site-packages"))
    (own / "_standin_prepared.pth").write_text(
        f"{venv.parent / 'src'}\nimport site; site.addsitedir({str(packages)!r})\n"
    )
    for script in (prepared / "bin").iterdir():
        target = venv / "bin" / script.name
        # pip-audit too: the runner's STAND-IN (world.py) answers, as PyPI's advisory service cannot.
        if target.exists() or script.name.startswith(("python", "activate", "pip")) or not script.is_file():
            continue
        head = script.read_bytes()[:200]
        if head.startswith(b"#!") and b"python" in head.split(b"\n", 1)[0]:
            body = script.read_text().split("\n", 1)[1]
            target.write_text(f"#!{venv / 'bin' / 'python'}\n{body}")
            target.chmod(0o755)
        else:
            target.symlink_to(script)
    installed = venv / "bin" / ".installed"  # the Makefile's marker: requirements installed
    installed.touch()


# ---------------------------------------------------------------- actions/cache


def cache_dir() -> Path:
    folder = world() / "caches"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def visible_caches() -> list[dict]:
    """Caches this run may restore: its own ref's, and the default branch's (GitHub's scoping)."""
    refs = {os.environ["GITHUB_REF"]}
    default = event().get("repository", {}).get("default_branch")
    if default:
        refs.add(f"refs/heads/{default}")
    if os.environ.get("GITHUB_BASE_REF"):
        refs.add(f"refs/heads/{os.environ['GITHUB_BASE_REF']}")
    entries = [json.loads(path.read_text()) for path in cache_dir().glob("*.json")]
    return sorted((e for e in entries if e["ref"] in refs), key=lambda e: e["created"], reverse=True)


def cache_path(path: str) -> Path:
    """A cache `path` as actions/cache reads it: `~` is the runner's home, relative is the workspace's."""
    return workspace() / os.path.expanduser(path)  # an absolute path replaces the workspace


def cache_restore() -> None:
    key, paths = inp("key"), lines("path")
    # GitHub versions an entry by its paths: a key saved for other paths does not match.
    caches = [c for c in visible_caches() if c["inputs"] == paths]
    match = next((c for c in caches if c["key"] == key), None)
    for prefix in lines("restore-keys"):
        if match:
            break
        match = next((c for c in caches if c["key"].startswith(prefix)), None)
    save_state("PRIMARY", key)
    output("cache-primary-key", key)
    if not match:
        if inp("fail-on-cache-miss") == "true":
            fail(f"Failed to restore cache entry. Exiting as fail-on-cache-miss is set. Input key: {key}")
        output("cache-hit", "false")
        print(f"Cache not found for input keys: {', '.join([key, *lines('restore-keys')])}")
        return
    unpacked = Path(os.environ["RUNNER_TEMP"]) / f"cache-{time.time_ns()}"
    with tarfile.open(cache_dir() / match["archive"]) as archive:
        archive.extractall(unpacked, filter="fully_trusted")
    for index, path in enumerate(match["inputs"]):
        if (unpacked / str(index)).exists():
            source, target = unpacked / str(index), cache_path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
            else:
                shutil.copy2(source, target)
    shutil.rmtree(unpacked)
    save_state("MATCHED", match["key"])
    output("cache-matched-key", match["key"])
    output("cache-hit", str(match["key"] == key).lower())
    print(f"Cache restored from key: {match['key']}")


def cache_save() -> None:
    key, paths = os.environ.get("STATE_PRIMARY", ""), lines("path")
    if os.environ.get("STATE_MATCHED") == key:
        print(f"Cache hit occurred on the primary key {key}, not saving cache.")
        return
    ref = os.environ["GITHUB_REF"]
    if any(c["key"] == key and c["ref"] == ref and c["inputs"] == paths for c in visible_caches()):
        print(f"Failed to save: Unable to reserve cache with key {key}, another job may be creating this cache.")
        return
    if not any(cache_path(path).exists() for path in paths):
        print("::warning::Path Validation Error: Path(s) specified in the action for caching do(es) not exist")
        return
    name = f"{time.time_ns()}"
    with tarfile.open(cache_dir() / f"{name}.tar", "w") as archive:
        for index, path in enumerate(paths):  # each path under its index: restored where `path` points then
            if cache_path(path).exists():
                archive.add(cache_path(path), arcname=str(index))
    entry = {"key": key, "ref": ref, "created": time.time(), "archive": f"{name}.tar", "inputs": paths}
    (cache_dir() / f"{name}.json").write_text(json.dumps(entry))
    print(f"Cache saved with key: {key}")


# ---------------------------------------------------------------- artifacts


def artifact_dir(run_id: str, name: str) -> Path:
    return world() / "runs" / run_id / "artifacts" / name


def upload_artifact() -> None:
    name, patterns = inp("name"), lines("path")
    include, exclude = [p for p in patterns if not p.startswith("!")], [p[1:] for p in patterns if p.startswith("!")]
    hidden = inp("include-hidden-files") == "true"
    files: dict[Path, Path] = {}
    roots = []
    for pattern in include:
        base = workspace() / pattern
        roots.append(Path(re.split(r"[*?\[]", str(base))[0].rstrip("/")) if glob.has_magic(pattern) else base)
        for match in glob.glob(str(base), recursive=True):
            match = Path(match)
            for file in [match] if match.is_file() else [f for f in match.rglob("*") if f.is_file()]:
                relative = file.relative_to(workspace())
                if any(
                    fnmatch.fnmatch(str(relative), e.rstrip("/"))
                    or fnmatch.fnmatch(str(relative), e.rstrip("/") + "/*")
                    for e in exclude
                ):
                    continue
                if not hidden and any(part.startswith(".") for part in relative.parts):
                    continue
                files[file] = relative
    if not files:
        message = f"No files were found with the provided path: {inp('path')}. No artifacts will be uploaded."
        how = inp("if-no-files-found")
        if how == "error":
            fail(message)
        print(f"::warning::{message}" if how == "warn" else message)
        return
    root = Path(os.path.commonpath(roots)) if len(roots) > 1 else roots[0]
    if root.is_file() or not root.exists():
        root = root.parent
    target = artifact_dir(os.environ["GITHUB_RUN_ID"], name)
    if target.exists():
        if inp("overwrite") != "true":
            fail(
                "Failed to CreateArtifact: Received non-retryable error: Failed request: (409) Conflict: "
                "an artifact with this name already exists on the workflow run"
            )
        shutil.rmtree(target)
    for file in files:
        destination = target / file.relative_to(root)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, destination)
    output("artifact-id", str(abs(hash((os.environ["GITHUB_RUN_ID"], name))) % 10**9))
    print(f"Artifact {name} has been successfully uploaded! {len(files)} files")


def download_artifact() -> None:
    run_id = os.environ["GITHUB_RUN_ID"]
    if inp("run-id") and inp("run-id") != run_id:
        if not inp("github-token"):
            fail("download-artifact: a run-id needs a github-token")
        run_id = inp("run-id")
    path = workspace() / inp("path") if inp("path") else workspace()
    runs = world() / "runs" / run_id / "artifacts"
    if inp("name"):
        source = runs / inp("name")
        if not source.is_dir():
            fail(f"Unable to download artifact(s): Artifact not found for name: {inp('name')}")
        shutil.copytree(source, path, dirs_exist_ok=True)
    else:
        for source in sorted(runs.glob("*")) if runs.is_dir() else []:
            if fnmatch.fnmatch(source.name, inp("pattern") or "*"):
                shutil.copytree(source, path / source.name, dirs_exist_ok=True)
    output("download-path", str(path))
    print(f"Downloaded to {path}")


# ---------------------------------------------------------------- CML and docker


def setup_cml() -> None:
    tools = Path(os.environ["RUNNER_TEMP"]) / "standin-cml"
    tools.mkdir(parents=True, exist_ok=True)
    cml = tools / "cml"
    cml.write_text(f'#!/bin/sh\nexec {sys.executable} {HERE / "cml.py"} "$@"\n')
    cml.chmod(0o755)
    add_path(tools)
    print(f"cml {inp('version')} (stand-in) on PATH")


def setup_buildx() -> None:
    done = subprocess.run(["docker", "version", "--format", "{{.Client.Version}}"], capture_output=True, text=True)
    if done.returncode != 0:
        fail(f"setup-buildx stand-in: docker does not answer: {done.stderr.strip()}")
    output("name", "standin-builder")
    output("driver", "docker")
    print(f"builder: docker {done.stdout.strip()} (podman) ")


def metadata() -> None:
    """docker/metadata-action for `type=sha` and `type=raw` tags and custom labels."""
    images = lines("images")
    sha = os.environ["GITHUB_SHA"]
    values = []
    for spec in lines("tags"):
        fields = dict(part.split("=", 1) for part in spec.split(","))
        kind = fields.pop("type")
        if fields.pop("enable", "true") != "true":
            continue
        if kind == "sha":
            value = sha if fields.get("format") == "long" else sha[:7]
            values.append(fields.get("prefix", "sha-") + value)
        elif kind == "raw":
            values.append(fields["value"])
        else:
            fail(f"metadata stand-in: tag type {kind} is not implemented")
    tags = [f"{image.lower()}:{value}" for image in images for value in values]
    repository = event().get("repository", {})
    created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    labels = {
        "org.opencontainers.image.title": repository.get("name", ""),
        "org.opencontainers.image.description": repository.get("description") or "",
        "org.opencontainers.image.url": repository.get("html_url", ""),
        "org.opencontainers.image.source": repository.get("html_url", ""),
        "org.opencontainers.image.version": values[0] if values else "",
        "org.opencontainers.image.created": created,
        "org.opencontainers.image.revision": sha,
        "org.opencontainers.image.licenses": "",
    }
    labels.update(dict(line.split("=", 1) for line in lines("labels")))
    output("tags", "\n".join(tags))
    output("labels", "\n".join(f"{k}={v}" for k, v in labels.items()))
    output("annotations", "\n".join(f"manifest:{k}={v}" for k, v in labels.items()))
    output("version", values[0] if values else "")
    output("json", json.dumps({"tags": tags, "labels": labels}))


def login() -> None:
    registry = inp("registry") or "docker.io"
    done = subprocess.run(
        ["docker", "login", registry, "--username", inp("username") or "x", "--password-stdin"],
        input=inp("password") or "x",
        text=True,
        capture_output=True,
    )
    if done.returncode != 0:
        fail(f"login to {registry} failed: {done.stderr.strip()}")
    print(f"Login Succeeded ({registry})")


def exporter() -> dict[str, str]:
    """`outputs: type=image,name=...,push-by-digest=true,...` as a dict ({} when not given)."""
    spec = inp("outputs")
    if not spec:
        return {}
    fields = dict(part.split("=", 1) for part in spec.split(","))
    if fields.get("type") != "image":
        fail(f"build-push stand-in: exporter {fields.get('type')} is not implemented")
    return fields


def build_push() -> None:
    import provenance  # beside this file in the stand-ins folder

    context = workspace() / inp("context")
    output_spec = exporter()
    attestations = inp("sbom") == "true" or inp("provenance") not in ("", "false")
    if inp("provenance") not in ("", "false", "true", "mode=min", "mode=max"):
        fail(f"Invalid provenance attestation: {inp('provenance')}")
    if attestations and inp("load") == "true":
        fail("ERROR: docker exporter does not currently support exporting manifest lists")  # buildx's answer
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    build_args = lines("build-args") + json.loads(os.environ.get("STANDIN_BUILD_ARGS") or "[]")
    args = ["docker", "build"]
    for line in build_args:
        args += ["--build-arg", line]
    for line in lines("labels"):
        args += ["--label", line]
    tags = lines("tags")
    for tag in tags:
        args += ["--tag", tag]
    if inp("file"):
        args += ["--file", str(workspace() / inp("file"))]
    iidfile = Path(os.environ["RUNNER_TEMP"]) / f"iid-{time.time_ns()}"
    args += ["--iidfile", str(iidfile), str(context)]
    print("+", " ".join(args), flush=True)
    if subprocess.run(args).returncode != 0:
        fail("buildx failed with: the image build failed")
    image_id = iidfile.read_text().strip()
    with open(world() / "builds.jsonl", "a") as log:
        log.write(
            json.dumps(
                {
                    "run_id": os.environ["GITHUB_RUN_ID"],
                    "image_id": image_id,
                    "tags": tags,
                    "push": inp("push") == "true",
                }
            )
            + "\n"
        )
    output("imageid", image_id)
    digest = image_id
    if output_spec.get("push-by-digest") == "true" and output_spec.get("push") == "true":
        dockerfile = workspace() / (inp("file") or "Dockerfile")
        built = provenance.build_provenance(context, dockerfile, build_args, lines("labels"), started)
        keep = inp("provenance") not in ("", "false")
        digest = provenance.push_with_attestations(
            image_id, output_spec["name"], inp("sbom") == "true", built if keep else None
        )
        print(f"pushed {output_spec['name']}@{digest} (by digest, no tag)")
    elif inp("push") == "true":
        for tag in tags:
            digestfile = Path(os.environ["RUNNER_TEMP"]) / f"digest-{time.time_ns()}"
            if subprocess.run(["docker", "push", "--digestfile", str(digestfile), tag]).returncode != 0:
                fail(f"pushing {tag} failed")
            digest = digestfile.read_text().strip()
    output("digest", digest)
    if inp("load") != "true" and inp("push") != "true":
        print("the image stays in the build cache (neither load nor push)")


def attest_build_provenance() -> None:
    import provenance

    if not inp("subject-digest") or not inp("subject-name"):
        fail("attest stand-in: subject-name and subject-digest are what publish.yml gives (no subject-path)")
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", inp("subject-digest")):
        fail(f"Invalid subject-digest: {inp('subject-digest')}")
    if inp("push-to-registry") == "true":
        fail("attest stand-in: push-to-registry is not implemented")
    made = provenance.attest(inp("subject-name"), inp("subject-digest"), inp("github-token"))
    bundle = Path(os.environ["RUNNER_TEMP"]) / f"attestation-{made['id']}.jsonl"
    bundle.write_text(json.dumps(made["bundle"]) + "\n")
    repository = os.environ["GITHUB_REPOSITORY"]
    output("bundle-path", str(bundle))
    output("attestation-id", str(made["id"]))
    output("attestation-url", f"https://github.com/{repository}/attestations/{made['id']}")
    print(f"Attestation created for {inp('subject-name')}@{inp('subject-digest')} (STAND-IN signature)")


HANDLERS = {
    ("actions/checkout", "main"): checkout_main,
    ("actions/setup-python", "main"): setup_python_main,
    ("actions/cache", "main"): cache_restore,
    ("actions/cache", "post"): cache_save,
    ("actions/cache/restore", "main"): cache_restore,
    ("actions/upload-artifact", "main"): upload_artifact,
    ("actions/download-artifact", "main"): download_artifact,
    ("iterative/setup-cml", "main"): setup_cml,
    ("docker/setup-buildx-action", "main"): setup_buildx,
    ("docker/metadata-action", "main"): metadata,
    ("docker/login-action", "main"): login,
    ("docker/build-push-action", "main"): build_push,
    ("actions/attest-build-provenance", "main"): attest_build_provenance,
}

if __name__ == "__main__":
    action, phase = sys.argv[1], sys.argv[2]
    handler = HANDLERS.get((action, phase))
    if handler is None:
        if phase == "post":
            sys.exit(0)
        fail(f"no stand-in for {action} ({phase})")
    handler()
