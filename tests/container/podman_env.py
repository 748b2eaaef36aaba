"""Run container builds on a machine without a Docker daemon, using podman.

On a machine with a working Docker engine nothing here is needed. Otherwise
podman (as root; tested with Debian bookworm's podman 4.3 + runc) is configured
privately under a cache directory -- nothing under /etc is touched -- and,
because no container registry is reachable, a STAND-IN for ``python:3.11-slim``
is built from Debian packages with debootstrap and imported under a name of its
own, ``localhost/...`` (BASE_IMAGE below), that claims to be nothing official.
The tests pass it to builds as ``--build-arg BASE_IMAGE=...`` (build_flags);
``make image`` never uses it.

    eval "$(python tests/container/podman_env.py [CACHE_DIR])"
    eval "$CONTAINER_ENGINE" build "$CONTAINER_BUILD_FLAGS" -t IMAGE .

prepares everything and prints the ``export`` lines to run podman with (eval,
because the build flags are shell-quoted).
"""

from __future__ import annotations

import fcntl
import glob
import json
import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

# The stand-in base, for the tests only: a local name, never the official image's.
BASE_IMAGE = "localhost/mlops-template-test-base:python3.11"
# The repository's .cache, found from this file: as a script this runs without the tests package
# (tests.conftest.REPO_ROOT) on its path. test_podman_env checks the two agree.
DEFAULT_CACHE_DIR = Path(__file__).resolve().parents[2] / ".cache" / "podman"
BASE_PACKAGES = ["python3", "python3-venv", "python3-pip", "ca-certificates"]

# The host cannot raise its limits and podman's defaults ask for more than the
# hard limits here: containers then fail to start.
MAX_NPROC = 32768

# pip options worth passing into a build; values naming local files are dropped.
PIP_BUILD_OPTIONS = ["index-url", "extra-index-url", "trusted-host", "proxy", "default-timeout", "retries"]


def find_engine() -> str | None:
    """ "docker" if a Docker engine answers, else "podman" if installed, else None."""
    if shutil.which("docker"):
        try:
            info = subprocess.run(["docker", "info"], capture_output=True, timeout=30)
            if info.returncode == 0:
                return "docker"
        except subprocess.TimeoutExpired:
            pass
    if shutil.which("podman"):
        return "podman"
    return None


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def podman_env(cache_dir: Path = DEFAULT_CACHE_DIR) -> dict[str, str]:
    """Write containers.conf and storage.conf into cache_dir; return the env to run podman with."""
    cache_dir = Path(cache_dir).resolve()
    cache_dir.mkdir(parents=True, exist_ok=True)

    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    if nofile == resource.RLIM_INFINITY:
        nofile = 1048576
    if nproc == resource.RLIM_INFINITY or nproc > MAX_NPROC:
        nproc = MAX_NPROC

    # crun fails on this host's hybrid cgroups: runc with cgroupfs works.
    # There is no journald, hence the file events logger. The two directories
    # would otherwise default to /etc/containers/networks and /run/libpod.
    containers_conf = cache_dir / "containers.conf"
    _write_if_changed(
        containers_conf,
        f"""\
[containers]
default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]

[network]
network_config_dir = "{cache_dir / "networks"}"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "{cache_dir / "tmp"}"
""",
    )
    storage_conf = cache_dir / "storage.conf"
    _write_if_changed(
        storage_conf,
        f"""\
[storage]
driver = "overlay"
graphroot = "{cache_dir / "storage"}"
runroot = "{cache_dir / "run"}"
""",
    )

    env = dict(os.environ)
    env["CONTAINERS_CONF"] = str(containers_conf)
    env["CONTAINERS_STORAGE_CONF"] = str(storage_conf)
    # podman builds OCI images by default, which silently drop HEALTHCHECK.
    env["BUILDAH_FORMAT"] = "docker"
    return env


def _run(cmd: list[str], env: dict[str, str] | None = None, timeout: int = 900, hide: str | None = None) -> str:
    """Run cmd; on failure raise RuntimeError with the tail of its output.

    `hide` (the apt mirror) is masked in the message, which may end up in CI logs.
    """

    def error(message: str) -> RuntimeError:
        return RuntimeError(message.replace(hide, "MIRROR") if hide else message)

    try:
        proc = subprocess.run(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise error(f"timed out after {timeout}s: {shlex.join(cmd)}") from exc
    except FileNotFoundError as exc:
        raise error(f"{cmd[0]} is not installed (see .ci/apt-packages.txt)") from exc
    if proc.returncode != 0:
        tail = " | ".join(proc.stdout.strip().splitlines()[-10:])
        raise error(f"exit {proc.returncode} from {shlex.join(cmd)}: {tail}")
    return proc.stdout


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses, read at run time (never stored)."""
    uris = []
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        for line in Path(path).read_text().splitlines():
            if line.startswith("URIs:"):
                uris += line.split()[1:]
    for path in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]:
        if os.path.exists(path):
            for line in Path(path).read_text().splitlines():
                m = re.match(r"\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)", line)
                if m:
                    uris.append(m.group(1))
    for uri in uris:
        if not uri.rstrip("/").endswith("-security"):
            return uri
    raise RuntimeError("no Debian mirror found in /etc/apt/sources.list or sources.list.d")


def _build_rootfs_tarball(tarball: Path) -> None:
    rootfs = tarball.parent / "rootfs"
    if rootfs.exists():
        shutil.rmtree(rootfs)
    mirror = debian_mirror()
    _run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), mirror], hide=mirror)
    chroot_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive"}
    _run(
        ["chroot", str(rootfs), "apt-get", "install", "-y", "--no-install-recommends", *BASE_PACKAGES],
        env=chroot_env,
        hide=mirror,
    )
    _run(["chroot", str(rootfs), "apt-get", "clean"], env=chroot_env)
    # Trust the host's TLS-intercepting proxy, so that pip works inside builds
    # (Debian's pip uses the system CA bundle).
    for crt in glob.glob("/usr/local/share/ca-certificates/*.crt"):
        shutil.copy(crt, rootfs / "usr/local/share/ca-certificates")
    _run(["chroot", str(rootfs), "update-ca-certificates"], env=chroot_env)
    # Keep this machine's mirror out of the image: apt-get in a build finds no package.
    (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)
    (rootfs / "var/log/bootstrap.log").unlink(missing_ok=True)
    shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
    for marker in glob.glob(str(rootfs / "usr/lib/python3*/EXTERNALLY-MANAGED")):
        os.remove(marker)
    for name, target in [("python", "python3"), ("python3", "python3"), ("pip", "pip3"), ("pip3", "pip3")]:
        link = rootfs / "usr/local/bin" / name
        if not link.is_symlink():
            link.symlink_to(f"/usr/bin/{target}")
    partial = tarball.with_name(tarball.name + ".partial")
    _run(
        [
            "tar",
            "--numeric-owner",
            "-C",
            str(rootfs),
            "--exclude=./dev/*",
            "--exclude=./proc/*",
            "--exclude=./sys/*",
            "-cf",
            str(partial),
            ".",
        ]
    )
    partial.rename(tarball)
    shutil.rmtree(rootfs)


def ensure_base_image(env: dict[str, str], cache_dir: Path = DEFAULT_CACHE_DIR) -> None:
    """Import the debootstrap stand-in for python:3.11-slim as BASE_IMAGE unless that image exists.

    The rootfs tarball is kept in cache_dir: delete it to rebuild from scratch.
    """
    cache_dir = Path(cache_dir).resolve()
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / "base-image.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test runs build it once
        exists = subprocess.run(["podman", "image", "exists", BASE_IMAGE], env=env, capture_output=True, text=True)
        if exists.returncode == 0:
            return
        if exists.returncode != 1:  # 1 is "no such image"; anything else is podman failing
            raise RuntimeError(f"podman image exists failed: {exists.stderr.strip()}")
        tarball = cache_dir / "python-3.11-slim-rootfs.tar"
        if not tarball.exists():
            _build_rootfs_tarball(tarball)
        _run(
            [
                "podman",
                "import",
                "--change",
                "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--change",
                "ENV LANG=C.UTF-8",
                "--change",
                'CMD ["python3"]',
                str(tarball),
                BASE_IMAGE,
            ],
            env=env,
        )


def _is_local(value: str) -> bool:
    return value.startswith(("file:", "/", "~", "."))


def _python_with_pip() -> str | None:
    """This interpreter if it has pip, else the Python it was made from (a uv venv has no pip)."""
    for python in dict.fromkeys([sys.executable, getattr(sys, "_base_executable", sys.executable)]):
        if subprocess.run([python, "-c", "import pip"], capture_output=True, check=False).returncode == 0:
            return python
    return None


def pip_build_args() -> dict[str, str]:
    """The host's pip settings that also work inside a build, as PIP_* build args.

    pip's own merge of its config files and PIP_* variables is read; settings
    naming local files (file:// indexes, find-links dirs, constraint and cert
    files) are dropped. The Dockerfile must declare each one it wants to use
    with ``ARG``, e.g. ``ARG PIP_INDEX_URL``. An empty dict means that pip's
    defaults work as they are.
    """
    code = (
        "import json; from pip._internal.configuration import Configuration as C; "
        "c = C(isolated=False); c.load(); print(json.dumps(dict(c.items())))"
    )
    python = _python_with_pip()
    if python is None:
        return {}
    items = json.loads(_run([python, "-c", code], env=dict(os.environ)))
    args = {}
    for option in PIP_BUILD_OPTIONS:
        # pip's own precedence: [global], then [install], then PIP_* variables.
        value = None
        for section in ("global", "install", ":env:"):
            value = items.get(f"{section}.{option}", value)
        if value is None:
            continue
        kept = [v for v in value.split() if not _is_local(v)]
        if kept:
            args["PIP_" + option.upper().replace("-", "_")] = " ".join(kept)
    return args


def build_flags(engine: str) -> list[str]:
    """Flags for `ENGINE build` in the tests: with podman, the stand-in base (never pulled), plus the pip build args."""
    flags = ["--pull=never", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}"] if engine == "podman" else []
    for key, value in pip_build_args().items():
        flags += ["--build-arg", f"{key}={value}"]
    return flags


def main(argv: list[str]) -> int:
    cache_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_CACHE_DIR
    engine = find_engine()
    if engine is None:
        print("neither docker nor podman is installed: see .ci/apt-packages.txt", file=sys.stderr)
        return 1
    try:
        flags = build_flags(engine)
        if engine == "podman":
            start = time.monotonic()
            env = podman_env(cache_dir)
            ensure_base_image(env, cache_dir)
            print(f"# podman: {BASE_IMAGE} ready in {time.monotonic() - start:.0f}s", file=sys.stderr)
            for key in ("CONTAINERS_CONF", "CONTAINERS_STORAGE_CONF", "BUILDAH_FORMAT"):
                print(f"export {key}={shlex.quote(env[key])}")
    except RuntimeError as exc:
        print(f"podman_env: {exc}", file=sys.stderr)
        return 1
    print(f"export CONTAINER_ENGINE={engine}")
    print(f"export CONTAINER_BUILD_FLAGS={shlex.quote(shlex.join(flags))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
