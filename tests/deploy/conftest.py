"""What the deployment files are checked against: the service as the code defines it.

Routes come from the Flask app's url_map (built around a small synthetic model), the port
from the gunicorn config evaluated in the container's environment (the image's ENV plus
the manifest's env), so the checks follow the service wherever it changes.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests import factories
from tests.conftest import REPO_ROOT, copy_repository, env_for
from tests.serving.conftest import TARGET

K8S = REPO_ROOT / "deploy" / "k8s"
OVERLAYS = sorted(path.name for path in (K8S / "overlays").iterdir() if path.is_dir())
# A well-formed digest: rendering never pulls the image.
IMAGE = "ghcr.io/example-org/example-model@sha256:" + "0123456789abcdef" * 4


def synthetic_project(root: Path, rows: int, data_seed: int, **params) -> dict:
    """A copy of the repository at `root` on numeric synthetic data with `params` over the
    committed ones: its suite inferred, then `dvc repro`. Returns the params written."""
    copy_repository(root)
    frame = factories.classification(rows, data_seed)
    frame = frame.select_dtypes(exclude=["object", "string"]).assign(**{TARGET: frame[TARGET]})
    frame.to_csv(root / "data/source/synthetic.csv", index=False)
    written = yaml.safe_load((root / "params.yaml").read_text())
    written["data"].update(source="data/source/synthetic.csv", target=TARGET)  # data.task as committed
    written.update(**params)
    (root / "params.yaml").write_text(yaml.safe_dump(written, sort_keys=False))
    env = env_for(root)
    for command in (["mlops", "ingest"], ["mlops", "expectations", "infer"], ["dvc", "repro"]):
        done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return written


def npm_tool(spec: str) -> Path:
    """The command of the npm package `spec` (name@version), installed once into .cache/<name>/."""
    name, _, version = spec.rpartition("@")
    folder = REPO_ROOT / ".cache" / name
    binary = folder / "node_modules" / ".bin" / name
    installed = folder / "node_modules" / name / "package.json"
    if not (binary.exists() and json.loads(installed.read_text()).get("version") == version):
        folder.mkdir(parents=True, exist_ok=True)
        command = ["npm", "install", "--prefix", str(folder), "--no-audit", "--no-fund", "--silent", spec]
        subprocess.run(command, check=True, timeout=600)
    return binary


def git(root: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", *args]
    return subprocess.run(command, cwd=root, check=True, capture_output=True, text=True).stdout.strip()


def synthetic_origin(tmp_path_factory) -> tuple[Path, Path]:
    """A bare origin whose main holds a project on synthetic data with its pipeline's results,
    and that project's DVC cache (what a CI cache would restore)."""
    root = tmp_path_factory.mktemp("synthetic-project")
    train = {"estimator": "random_forest", "hyperparameters": {"n_estimators": 10}}
    synthetic_project(root, rows=240, data_seed=5, seed=1, train=train)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "synthetic project")
    bare = tmp_path_factory.mktemp("origin") / "project.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(root), str(bare)], check=True)
    return bare, root / ".dvc" / "cache"


def clone_at(origin: tuple[Path, Path], work: Path, branch: str, change=None) -> Path:
    """A clean clone of synthetic_origin's repository at `branch` (with `change` committed there),
    its DVC cache restored as a CI cache would, and a .venv over the test session's packages."""
    from tests.actions.standins import overlay_venv

    bare, dvc_cache = origin
    subprocess.run(["git", "clone", "--quiet", str(bare), str(work)], check=True)
    shutil.copytree(dvc_cache, work / ".dvc" / "cache")
    if branch != "main":
        git(work, "checkout", "-q", "-b", branch)
    if change:
        change(work)
        git(work, "commit", "-qam", "change")
    overlay_venv(Path(sys.prefix), work / ".venv")
    return work


def more_trees(work: Path) -> None:
    """A pull request's change: more trees in params.yaml."""
    params = yaml.safe_load((work / "params.yaml").read_text())
    params["train"]["hyperparameters"]["n_estimators"] = 20
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def render(overlay: str, image: str = IMAGE) -> list[dict]:
    result = subprocess.run([K8S / "render", overlay, image], capture_output=True, text=True, check=True)
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def by_kind(documents: list[dict], kind: str) -> list[dict]:
    return [document for document in documents if document["kind"] == kind]


def one(documents: list[dict], kind: str) -> dict:
    (found,) = by_kind(documents, kind)
    return found


def image_env(dockerfile: Path = REPO_ROOT / "Dockerfile") -> dict[str, str]:
    """The ENV of the Dockerfile's last stage (PATH left out: it refers to the base image's)."""
    lines = dockerfile.read_text().replace("\\\n", " ").splitlines()
    last_stage = max(i for i, line in enumerate(lines) if line.upper().startswith("FROM "))
    env = {}
    for line in lines[last_stage:]:
        if line.upper().startswith("ENV "):
            for pair in shlex.split(line[4:]):
                name, _, value = pair.partition("=")
                env[name] = value
    env.pop("PATH", None)
    return env


def gunicorn_binds(container_env: dict[str, str]) -> list[tuple[str, int]]:
    """Where gunicorn listens in a container with this environment (host, port) pairs."""
    env = {"PATH": os.environ["PATH"], **image_env(), **container_env}
    code = "import json, mlops.serving.gunicorn_conf as c; print(json.dumps(c.bind))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    binds = json.loads(out)
    binds = [binds] if isinstance(binds, str) else binds
    pairs = []
    for bind in binds:
        host, _, port = bind.rpartition(":")
        pairs.append((host.strip("[]"), int(port)))
    return pairs


def env_of(container: dict) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container.get("env", []) if "value" in item}


def assert_locked_down(pod: dict) -> None:
    """A pod spec's security settings: unprivileged, read-only root, writes only to emptyDirs."""
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert all(set(volume) == {"name", "emptyDir"} for volume in volumes.values()), "only emptyDir volumes"
    for container in pod["containers"]:
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security.get("privileged", False) is False
        assert security["capabilities"]["drop"] == ["ALL"]
        assert "add" not in security["capabilities"]
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]) and {"cpu", "memory"} <= set(resources["limits"])
        # Every directory the service writes to is a mounted emptyDir.
        mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
        env = env_of(container)
        written = {"PROMETHEUS_MULTIPROC_DIR", "TMPDIR"} | ({"MLOPS_PREDICTION_LOG_DIR"} & set(env))
        for variable in sorted(written):
            assert variable in env, f"{variable} is unset: the service would write to the read-only root"
            assert env[variable] in mounts, f"{variable}={env[variable]} is not on a writable volume"
            assert mounts[env[variable]] in volumes


@pytest.fixture(scope="session")
def deploy_project(tmp_path_factory):
    """A project folder with a small synthetic model exported (models/) and its test split."""
    from tests.serving.conftest import build_project

    root = tmp_path_factory.mktemp("deploy-project")
    build_project(root)
    return root


@pytest.fixture(scope="session")
def service_app(deploy_project):
    """The prediction service's Flask app around a small synthetic model."""
    from mlops.serving.app import create_app

    return create_app(deploy_project / "models")


def route_matches(app, path: str, method: str) -> bool:
    """True when the app has a route answering `method path`."""
    from werkzeug.exceptions import HTTPException

    try:
        app.url_map.bind("localhost").match(path, method=method)
    except HTTPException:
        return False
    return True
