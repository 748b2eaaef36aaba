# The prediction service with the model of the last pipeline run (docs/container.md).
#   make image                      # runs `make run` first if models/ is empty
#   docker run --rm -p 8080:8080 mlops-template-serving         # also: IMAGE serve (SageMaker)
# The build context is the repository; .dockerignore lets in only what is copied below.

# The base: python:3.11-slim pinned by the digest of its image index (Python 3.11.15 on Debian
# trixie, as docker-library/repo-info recorded it on 2026-08-05), so that a build always starts
# from the same bytes. Dependabot (.github/dependabot.yml) proposes each new digest of the tag; it
# reads only `FROM` lines, hence the stage below. `--build-arg BASE_IMAGE=...` starts from
# another image instead (the tests' local stand-in), and this stage is then never built.
ARG BASE_IMAGE=python-base
FROM python:3.11-slim@sha256:90744cff8f32887f075c47d747a173ff333e9e98801667af93c357fa9f5e28ff AS python-base

# --- build: a virtualenv with only the service's pinned requirements --------------------
FROM ${BASE_IMAGE} AS build

# pip settings a build may need (e.g. a company package index); unset, pip's defaults apply.
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_TRUSTED_HOST
ARG PIP_DEFAULT_TIMEOUT
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

COPY requirements-serve.txt /tmp/requirements-serve.txt
# Then drop what serving never imports: pip, the packages' own test suites, and
# onnxruntime's model conversion tools (24 MB; the model check below proves the rest works).
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --requirement /tmp/requirements-serve.txt \
    && /opt/venv/bin/pip uninstall --yes --quiet pip setuptools \
    && find /opt/venv -type d -name tests -prune -exec rm -rf {} + \
    && rm -rf /opt/venv/lib/python3*/site-packages/onnxruntime/transformers \
        /opt/venv/lib/python3*/site-packages/onnxruntime/quantization \
        /opt/venv/lib/python3*/site-packages/onnxruntime/tools

WORKDIR /app
COPY src/mlops mlops
COPY models models
# Fail the build, not the first request, when the model cannot be served: load it and
# predict one example row as the service does at start-up.
RUN /opt/venv/bin/python -m compileall -q mlops \
    && /opt/venv/bin/python -c "from mlops.serving import runtime as r; m, p = r.load('models'); raise SystemExit(r.self_test(m, p))"

# --- the image: the virtualenv, the code, the model; no compilers, no pip --------------
FROM ${BASE_IMAGE}

ARG SOURCE_URL=unknown
ARG GIT_COMMIT=unknown
ARG MODEL_VERSION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="mlops-template-serving" \
      org.opencontainers.image.description="Prediction service (Flask + gunicorn + onnxruntime) with its model" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.revision="${GIT_COMMIT}" \
      org.opencontainers.image.version="${MODEL_VERSION}" \
      org.opencontainers.image.created="${CREATED}" \
      com.amazonaws.sagemaker.capabilities.accept-bind-to-port="true"

RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin app

COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app

WORKDIR /app
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    MLOPS_MODEL_DIR=/app/models

USER 10001:10001
# The port: AIP_HTTP_PORT (Vertex AI), SAGEMAKER_BIND_TO_PORT or PORT when the platform sets
# one, else 8080 (mlops/serving/ports.py). The image sets none of them.
EXPOSE 8080
# No curl in a slim image: the check is a few lines of the Python that is there anyway.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; from mlops.serving.ports import listen_port; urllib.request.urlopen(f'http://127.0.0.1:{listen_port(os.environ)}/health', timeout=4)"]

# `IMAGE serve` (as SageMaker starts it) or `IMAGE`: the entrypoint execs gunicorn, which is
# then PID 1, gets SIGTERM from `docker stop` and lets in-flight requests finish.
ENTRYPOINT ["python", "-m", "mlops.serving"]
CMD ["serve"]
