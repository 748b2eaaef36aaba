import os
import shutil
import subprocess
import sys
from pathlib import Path

from mlops.cli import TELEMETRY_OFF

REPO_ROOT = Path(__file__).resolve().parents[1]

# The tests never send telemetry, whoever runs them, and find the project's commands
# (mlops, dvc) in the interpreter's own environment even when it is not activated.
os.environ.update(TELEMETRY_OFF)
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def copy_repository(destination: Path) -> Path:
    """Copy the repository's tracked files (as they are in the work tree) into a new git repo."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = REPO_ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=destination, check=True)
    subprocess.run([*git, "add", "-A"], cwd=destination, check=True)
    subprocess.run([*git, "commit", "-qm", "copy"], cwd=destination, check=True)
    return destination


def env_for(root: Path) -> dict[str, str]:
    """Environment for commands run inside a copied repository: MLflow tracks inside the copy."""
    return {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}"}
