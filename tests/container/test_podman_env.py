"""The container toolchain works here: build with pip through the proxy, run non-root, serve."""

import json
import subprocess
import time
import uuid

import pytest
from podman_env import BASE_IMAGE, DEFAULT_CACHE_DIR, build_flags, ensure_base_image, find_engine, podman_env

from mlops import http
from mlops.http import free_port
from tests.conftest import REPO_ROOT

DOCKERFILE = """\
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_TRUSTED_HOST
ARG PIP_DEFAULT_TIMEOUT
ARG GREETING=unset
RUN pip install --no-cache-dir six && python -c "import six"
RUN echo "$GREETING" > /greeting && useradd --create-home --uid 10001 app
USER app
WORKDIR /home/app
HEALTHCHECK --interval=30s CMD python -c "print('ok')"
EXPOSE 8000
CMD ["python", "-m", "http.server", "8000", "--bind", "0.0.0.0"]
"""


def test_the_stand_in_base_has_a_local_name_and_reaches_only_test_builds():
    assert BASE_IMAGE.startswith("localhost/"), "the stand-in must not claim an official image's name"
    flags = build_flags("podman")
    assert flags[flags.index("--build-arg") + 1] == f"BASE_IMAGE={BASE_IMAGE}"
    recipe = subprocess.run(
        ["make", "-n", "image", "CONTAINER_ENGINE=podman"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    build = next(line for line in recipe.splitlines() if "podman build" in line)
    assert "--pull=never" not in recipe and "podman_env" not in recipe and "BASE_IMAGE" not in recipe, build


def test_the_default_cache_is_the_repositorys_own():
    assert DEFAULT_CACHE_DIR == REPO_ROOT / ".cache" / "podman"


def _get(url: str, deadline: float) -> bytes:
    while True:
        try:
            return http.request(url, timeout=2).body
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@pytest.mark.container
def test_build_and_run_non_root_image(tmp_path):
    engine = find_engine()
    if engine is None:
        pytest.skip(
            "NO CONTAINER ENGINE: neither a Docker daemon nor podman is available; "
            "install the packages in ci-apt-packages.txt to run container tests"
        )
    start = time.monotonic()

    def log(step):  # shown by pytest -s, or when the test fails
        print(f"{time.monotonic() - start:6.1f}s {step}", flush=True)

    if engine == "podman":
        env = podman_env(DEFAULT_CACHE_DIR)
        ensure_base_image(env, DEFAULT_CACHE_DIR)
        log("base image ready")
        # --layers=false: no cached pip layer, so pip really reaches the index each run.
        build_extra, run_extra, rm_extra = ["--layers=false"], ["--health-interval=disable"], ["--time=0"]
    else:
        env, build_extra, run_extra, rm_extra = None, ["--no-cache"], [], []

    def engine_run(*args, timeout=600):
        proc = subprocess.run([engine, *args], env=env, capture_output=True, text=True, timeout=timeout)
        assert proc.returncode == 0, f"{engine} {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout.strip()

    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    tag = f"localhost/podman-env-test:{uuid.uuid4().hex[:12]}"
    name = "podman-env-test-" + tag.rsplit(":", 1)[1]
    port = free_port()
    try:
        engine_run(
            "build",
            *build_flags(engine),
            *build_extra,
            "--build-arg",
            "GREETING=hello",
            "--label",
            "org.example.test=yes",
            "-t",
            tag,
            str(tmp_path),
        )
        log("image built")

        def inspect(field):
            return json.loads(engine_run("image", "inspect", "--format", f"{{{{json {field}}}}}", tag))

        assert inspect(".Config.Labels")["org.example.test"] == "yes"
        # podman keeps HEALTHCHECK only in docker format (BUILDAH_FORMAT=docker)
        assert inspect(".Config.Healthcheck")["Test"][0] == "CMD-SHELL"

        engine_run("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8000", *run_extra, tag)
        body = _get(f"http://127.0.0.1:{port}/", time.monotonic() + 30)
        log("container answered")
        assert b"Directory listing" in body
        assert engine_run("exec", name, "id", "-u") != "0"
        assert engine_run("exec", name, "cat", "/greeting") == "hello"
    finally:
        subprocess.run([engine, "rm", "-f", *rm_extra, name], env=env, capture_output=True)
        subprocess.run([engine, "rmi", "-f", tag], env=env, capture_output=True)
        log("cleaned up")
