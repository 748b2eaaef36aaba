"""The serving image: the project's Dockerfile built with a freshly trained model, run, and asked for predictions.

One image build per session (a cold build takes minutes): the pipeline runs in a copy of
the repository, the image is built from that copy, one container serves every test.
Docker is used where a Docker engine answers, else podman (tests/container/podman_env.py
prepares it on a machine without a daemon or a reachable container registry).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import time
import uuid

import pandas as pd
import pytest
from podman_env import DEFAULT_CACHE_DIR, build_flags, ensure_base_image, find_engine, podman_env

from mlops import http
from mlops.http import free_port
from tests.conftest import REPO_ROOT, copy_repository, env_for

FORBIDDEN_PACKAGES = ("mlflow", "dvc", "great_expectations", "pytest", "sklearn", "pandas", "skl2onnx")


def test_hadolint_finds_nothing_in_the_dockerfile():
    binary = shutil.which("hadolint")  # tests/conftest.py puts the interpreter's bin directory on PATH
    assert binary, "hadolint not found: it comes with requirements-dev.txt (make venv)"
    result = subprocess.run([binary, "--no-color", "Dockerfile"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


class Engine:
    """docker or podman, with the environment and flags this machine needs."""

    def __init__(self, name: str):
        self.name = name
        if name == "podman":
            self.env = podman_env(DEFAULT_CACHE_DIR)
            ensure_base_image(self.env, DEFAULT_CACHE_DIR)
            self.run_flags, self.rm_flags = ["--health-interval=disable"], ["--time=0"]
        else:
            self.env, self.run_flags, self.rm_flags = None, [], []

    def __call__(self, *args: str, timeout: int = 120, check: bool = True) -> str:
        proc = subprocess.run([self.name, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if check:
            assert proc.returncode == 0, f"{self.name} {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr}"
        return proc.stdout.strip()


@pytest.fixture(scope="session")
def engine() -> Engine:
    name = find_engine()
    if name is None:
        reason = (
            "NO CONTAINER ENGINE: neither a Docker daemon nor podman is available, so the serving image "
            "is not tested; install the packages in .ci/apt-packages.txt"
        )
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI must run this test)")
        pytest.skip(reason)
    return Engine(name)


@pytest.fixture(scope="session")
def project(tmp_path_factory):
    """A copy of the repository in which the whole pipeline has run: models/ holds the exported model."""
    root = copy_repository(tmp_path_factory.mktemp("image-project"))
    result = subprocess.run(["dvc", "repro"], cwd=root, env=env_for(root), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return root


@pytest.fixture(scope="session")
def metadata(project) -> dict:
    return json.loads((project / "models/metadata.json").read_text())


@pytest.fixture(scope="session")
def image(engine, project, metadata):
    tag = f"localhost/mlops-serving-test:{uuid.uuid4().hex[:12]}"
    build_args = {"GIT_COMMIT": "0123abc", "MODEL_VERSION": metadata["version"], "SOURCE_URL": "https://example.org/x"}
    args = [f"--build-arg={key}={value}" for key, value in build_args.items()]
    try:
        engine("build", *build_flags(engine.name), *args, "-t", tag, str(project), timeout=1200)
        yield tag
    finally:
        engine("rmi", "-f", tag, check=False)


def call(url: str, body: dict | str | None = None, timeout: float = 10, content_type="application/json"):
    """(status, parsed JSON answer, or {} for an empty one)."""
    reply = http.request(url, body, timeout=timeout, content_type=content_type)
    return reply.status, json.loads(reply.body or b"{}")


def start_container(engine, image, port: int, ready_path: str, *args: str, env: dict[str, str] | None = None):
    """Run the image (with `args` after it, e.g. "serve") publishing `port`; (name, base URL) once ready_path is 200."""
    name = "mlops-serving-test-" + uuid.uuid4().hex[:12]
    host_port = free_port()
    flags = [f"--env={key}={value}" for key, value in (env or {}).items()]
    engine("run", "-d", "--name", name, "-p", f"127.0.0.1:{host_port}:{port}", *flags, *engine.run_flags, image, *args)
    url = f"http://127.0.0.1:{host_port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if call(url + ready_path, timeout=2)[0] == 200:
                return name, url
        except (OSError, ValueError):
            pass
        running = engine("inspect", "--format", "{{.State.Running}}", name, check=False)
        if running != "true" or time.monotonic() > deadline:
            logs = engine("logs", name, check=False)
            engine("rm", "-f", *engine.rm_flags, name, check=False)
            pytest.fail(f"the container never became ready (running: {running}); its log:\n{logs[-3000:]}")
        time.sleep(0.5)


@pytest.fixture(scope="session")
def container(engine, image):
    """(name, base URL) of the image run as it is, with no platform variables: port 8080."""
    name, url = start_container(engine, image, 8080, "/ready")
    try:
        yield name, url
    finally:
        engine("rm", "-f", *engine.rm_flags, name, check=False)


def feature_records(frame: pd.DataFrame, target: str) -> list[dict]:
    """The test split as JSON rows: NaN and the missing-category "" as null."""
    records = frame.drop(columns=[target]).to_dict(orient="records")
    return [
        {k: None if (isinstance(v, float) and math.isnan(v)) or v == "" else v for k, v in r.items()} for r in records
    ]


@pytest.mark.slow
@pytest.mark.container
def test_the_container_predicts_what_the_pipeline_predicted(container, project, metadata):
    _, url = container
    test_split = pd.read_parquet(project / "data/prepared/test.parquet")
    expected = pd.read_csv(project / "data/predictions/test.csv")["predicted"].astype(str).tolist()
    reply = http.request(url + "/predict", {"instances": feature_records(test_split, metadata["schema"]["target"])})
    status, body = reply.status, reply.json()
    assert status == 200, body
    assert body["predictions"] == expected
    assert body["model_version"] == metadata["version"]
    reply = http.request(url + "/predict", {"instances": [{"no such column": 1}]})
    status, body = reply.status, reply.json()
    assert status == 400 and body["error"]["code"] == "invalid_instances"


@pytest.mark.slow
@pytest.mark.container
def test_the_publish_workflows_smoke_test_passes_against_the_image(container, project):
    """`mlops smoke`, as publish.yml runs it on the built image before pushing it."""
    import sys

    _, url = container
    smoke = subprocess.run(
        [sys.executable, "-m", "mlops", "smoke", "--url", url, "--wait", "30"],
        cwd=project,
        env=env_for(project),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr


@pytest.mark.slow
@pytest.mark.container
def test_the_service_does_not_run_as_root(engine, container):
    name, _ = container
    # The owner of /proc/1 is the user of the container's main process (gunicorn's master).
    main_uid = engine("exec", name, "python", "-c", "import os; print(os.stat('/proc/1').st_uid)")
    cmdline = engine("exec", name, "python", "-c", "print(open('/proc/1/cmdline').read().replace(chr(0), ' '))")
    assert main_uid != "0" and engine("exec", name, "id", "-u") != "0"
    assert "gunicorn" in cmdline


@pytest.mark.slow
@pytest.mark.container
def test_the_healthcheck_passes_in_the_running_container(engine, image, container):
    name, _ = container
    check = json.loads(engine("image", "inspect", "--format", "{{json .Config.Healthcheck}}", image))
    assert check["Test"][0] == "CMD" and "/health" in " ".join(check["Test"])
    engine("exec", name, *check["Test"][1:])  # exit status 0, else the assertion in Engine fails


@pytest.mark.slow
@pytest.mark.container
def test_the_image_has_labels_a_port_and_only_the_serving_packages(engine, image, container, metadata):
    name, _ = container
    config = json.loads(engine("image", "inspect", "--format", "{{json .Config}}", image))
    labels = config["Labels"]
    assert labels["org.opencontainers.image.revision"] == "0123abc"
    assert labels["org.opencontainers.image.version"] == metadata["version"]
    assert labels["org.opencontainers.image.source"] == "https://example.org/x"
    assert "8080/tcp" in config["ExposedPorts"]
    assert labels["com.amazonaws.sagemaker.capabilities.accept-bind-to-port"] == "true"
    assert not {"PORT", "AIP_HTTP_PORT", "SAGEMAKER_BIND_TO_PORT"} & {v.split("=")[0] for v in config["Env"]}
    assert config["User"] not in ("", "0", "root")
    installed = engine(
        "exec", name, "python", "-c",
        f"import importlib.util as u; print(' '.join(m for m in {FORBIDDEN_PACKAGES!r} if u.find_spec(m)))",
    )  # fmt: skip
    assert installed == "", f"the image should not contain {installed}"
    size = int(engine("image", "inspect", "--format", "{{.Size}}", image))
    print(f"image size: {size / 1e6:.0f} MB")


@pytest.fixture(scope="session")
def test_split(project, metadata):
    """(records of the test split, the pipeline's predictions for them)."""
    frame = pd.read_parquet(project / "data/prepared/test.parquet")
    expected = pd.read_csv(project / "data/predictions/test.csv")["predicted"].astype(str).tolist()
    return feature_records(frame, metadata["schema"]["target"]), expected


def csv_rows(records: list[dict]) -> str:
    return "".join(",".join("" if v is None else repr(v) for v in record.values()) + "\n" for record in records)


@pytest.mark.slow
@pytest.mark.container
def test_kserve_v1_and_v2_routes_answer_the_pipelines_predictions(container, metadata, test_split):
    _, url = container
    records, expected = test_split
    name = metadata["name"]
    assert call(url + "/")[1] == {"status": "alive"}
    assert call(url + f"/v1/models/{name}:predict", {"instances": records}) == (200, {"predictions": expected})
    assert call(url + "/v2/health/ready") == (200, {"ready": True})
    columns = call(url + f"/v2/models/{name}")[1]["inputs"]
    inputs = [
        {"name": c["name"], "shape": [len(records)], "datatype": c["datatype"], "data": [r[c["name"]] for r in records]}
        for c in columns
    ]
    status, answer = call(url + f"/v2/models/{name}/infer", {"id": "c-1", "inputs": inputs})
    assert status == 200 and answer["id"] == "c-1" and answer["outputs"][0]["data"] == expected


@pytest.mark.slow
@pytest.mark.container
def test_sagemaker_starts_it_as_image_serve_on_its_port(engine, image, test_split):
    records, expected = test_split
    name, url = start_container(engine, image, 9090, "/ping", "serve", env={"SAGEMAKER_BIND_TO_PORT": "9090"})
    try:
        assert call(url + "/invocations", {"instances": records}) == (200, {"predictions": expected})
        assert call(url + "/invocations", csv_rows(records), content_type="text/csv") == (
            200,
            {"predictions": expected},
        )
        status, answer = call(url + "/invocations", "1,2\n", content_type="text/csv")
        assert status == 400 and answer["error"]["code"] == "invalid_instances"
    finally:
        engine("rm", "-f", *engine.rm_flags, name, check=False)


@pytest.mark.slow
@pytest.mark.container
def test_vertex_ai_runs_it_with_its_port_and_routes(engine, image, test_split):
    records, expected = test_split
    health, predict = "/v1/endpoints/1/deployedModels/2", "/v1/endpoints/1/deployedModels/2:predict"
    env = {"AIP_HTTP_PORT": "7080", "AIP_HEALTH_ROUTE": health, "AIP_PREDICT_ROUTE": predict, "PORT": "9999"}
    name, url = start_container(engine, image, 7080, health, env=env)
    try:
        body = {"instances": records, "parameters": {}}
        assert call(url + predict, body) == (200, {"predictions": expected})
    finally:
        engine("rm", "-f", *engine.rm_flags, name, check=False)
