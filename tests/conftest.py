import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlops.cli import TELEMETRY_OFF

REPO_ROOT = Path(__file__).resolve().parents[1]
KSERVE_REQUIREMENTS = REPO_ROOT / "requirements-kserve.txt"

# The tests never send telemetry, whoever runs them, and find the project's commands
# (mlops, dvc) in the interpreter's own environment even when it is not activated.
os.environ.update(TELEMETRY_OFF)
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])

PODMAN_FOLDERS = {"actions", "container"}  # the tests that build and run images with podman


def scope_of(nodeid: str) -> str:
    """A test's unit of work on make test's workers: its folder under tests/, the podman folders as one."""
    parts = nodeid.split("::")[0].split("/")
    folder = parts[1] if len(parts) > 2 else "tests"
    return "podman" if folder in PODMAN_FOLDERS else folder


def pytest_xdist_make_scheduler(config, log):
    """`make test` runs on pytest-xdist workers with `--dist loadscope`, a scope being a test folder:
    its session fixtures (a trained project, a running service) are made once, and the podman
    tests run one after another, so no two image builds or smoke tests race."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FolderScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid)

    return FolderScheduling(config, log)


def copy_repository(destination: Path, source: Path = REPO_ROOT) -> Path:
    """Copy the repository (`source`) into a new git repo: the files git sees (as they are in the work
    tree) and the data tracked with `dvc add` (git-ignored, so git does not see it), with its
    DVC cache entries, so `dvc status` and `dvc push` in the copy find it."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=source,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    names = [name for name in filter(None, (entry.decode() for entry in listed)) if (source / name).is_file()]
    for name in names:
        _copy(source / name, destination / name)
    for pointer in (name for name in names if name.endswith(".dvc")):
        for out in yaml.safe_load((source / pointer).read_text()).get("outs", []):
            data = Path(pointer).parent / out["path"]
            if (source / data).exists():
                _copy(source / data, destination / data)
            for entry in _cache_entries(source, out.get("md5", "")):
                _copy(source / entry, destination / entry)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=destination, check=True)
    subprocess.run([*git, "add", "-A"], cwd=destination, check=True)
    subprocess.run([*git, "commit", "-qm", "copy"], cwd=destination, check=True)
    return destination


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        shutil.copy2(source, target)


def _cache_entries(source: Path, md5: str) -> list[Path]:
    """The local DVC cache files holding one output (a directory's manifest lists its files)."""
    if not md5:
        return []
    entry = Path(".dvc/cache/files/md5") / md5[:2] / md5[2:]
    if not (source / entry).is_file():
        return []
    if not md5.endswith(".dir"):
        return [entry]
    manifest = json.loads((source / entry).read_text())
    return [entry, *(path for item in manifest for path in _cache_entries(source, item["md5"]))]


def set_data_params(path: Path, **values: str) -> None:
    """README's step 3 as a person does it: change values under `data:` in params.yaml, keep its comments."""
    import re

    text = path.read_text()
    for key, value in values.items():
        text = re.sub(rf"(?m)^(  {key}: )\S+", lambda m, value=value: m.group(1) + value, text, count=1)
    path.write_text(text)


def make_variable(name: str, makefile: Path = REPO_ROOT / "Makefile") -> str:
    """A variable's value as the Makefile sets it (`NAME = value`, one line)."""
    import re

    found = re.search(rf"(?m)^{name} = (.*)$", makefile.read_text())
    assert found, f"{makefile} sets no {name}"
    return found.group(1).strip()


def fast_tests_command(python: str = sys.executable) -> list[str]:
    """`make test-fast`'s pytest command (its parallel options and markers, read from the Makefile) for `python`."""
    return [python, "-m", "pytest", *make_variable("PYTEST_PARALLEL").split(), "-m", make_variable("FAST_MARKERS")]


def env_for(root: Path) -> dict[str, str]:
    """Environment for commands run inside a copied repository: MLflow tracks inside the copy."""
    return {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}"}


@pytest.fixture(scope="session")
def kserve_python() -> str:
    """A Python with requirements-kserve.txt installed, in a virtualenv of its own under .cache/
    (kserve cannot share .venv: it pins pandas<3). Made once, reused while the pins are unchanged."""
    venv = REPO_ROOT / ".cache" / "kserve-venv"
    python = venv / "bin" / "python"
    stamp = venv / ".requirements"
    wanted = KSERVE_REQUIREMENTS.read_text()
    if not (python.exists() and stamp.exists() and stamp.read_text() == wanted):
        uv = shutil.which("uv")
        if uv:
            commands = [
                [uv, "venv", "-q", "--allow-existing", "-p", sys.executable, str(venv)],
                [uv, "pip", "install", "-q", "--python", str(python), "-r", str(KSERVE_REQUIREMENTS)],
            ]
        else:
            commands = [
                [sys.executable, "-m", "venv", str(venv)],
                [str(python), "-m", "pip", "install", "-q", "-r", str(KSERVE_REQUIREMENTS)],
            ]
        for command in commands:
            result = subprocess.run(command, capture_output=True, text=True, timeout=900)
            assert result.returncode == 0, f"could not install the kserve package: {result.stderr[-2000:]}"
        stamp.write_text(wanted)
    return str(python)


@pytest.fixture
def tmpfs(tmp_path):
    """A real filesystem of its own, mounted on tmp_path / "mnt" (needs root or password-less sudo)."""
    point = tmp_path / "mnt"
    point.mkdir()
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    mounted = []

    def mount(options: str):
        result = subprocess.run(
            [*sudo, "mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True
        )
        if result.returncode:
            pytest.skip(f"cannot mount a tmpfs here (needs root or sudo): {result.stderr.decode().strip()}")
        mounted.append(point)
        if sudo:
            subprocess.run([*sudo, "chmod", "0777", str(point)], check=True)
        return point

    def remount(options: str):
        subprocess.run([*sudo, "mount", "-o", f"remount,{options}", str(point)], check=True)

    mount.remount = remount
    yield mount
    for path in mounted:
        subprocess.run([*sudo, "umount", str(path)], check=False)
