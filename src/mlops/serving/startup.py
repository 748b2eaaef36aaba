"""What the gunicorn master does with the model before any worker starts, and again on SIGHUP.

`prepare(model_dir)` reads the model files once (mlops.exported.read_files), verifies their
signature when a key or signer is configured (mlops/signing.py), and builds the service
around them in a forked child, self-test included: the files come back only if a worker
could serve them.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from mlops import signing  # light: the signing library itself is imported only when a key or signer is set
from mlops.exported import ModelFiles, StartupError, read_files
from mlops.serving.runtime import first_line


def check(files: ModelFiles) -> str | None:
    """Why the service could not serve `files`, or None when a PredictionService builds and passes its self-test."""
    from mlops.serving.service import PredictionService

    try:
        service = PredictionService(files=files)
    except StartupError as exc:
        return str(exc)
    except Exception as exc:  # e.g. a prediction log setting that is not a number
        return first_line(exc)
    return service.problem


def check_in_child(files: ModelFiles) -> str | None:
    """`check(files)` in a forked child process: None, or why the model cannot be served.

    Not in the calling process: the gunicorn master must never hold an onnxruntime session, as a
    session inherited by forked workers hangs their exit in onnxruntime's teardown. A crash of
    the child (a model file that breaks the runtime) is reported, not shared.
    """
    with tempfile.TemporaryDirectory(prefix="mlops-check-") as scratch:
        return _check_in_child(files, scratch)


def _check_in_child(files: ModelFiles, scratch: str) -> str | None:
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave without running the parent's exit handlers
        os.close(reader)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = scratch  # its metric files must not join the workers'
        status = 1
        try:
            problem = check(files)
            os.write(writer, (problem or "").encode()[:4000])
            status = 1 if problem else 0
        finally:
            os._exit(status)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        message = pipe.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return f"loading the model crashed its check (signal {os.WTERMSIG(status)}): rerun `dvc repro export`"
    if os.WEXITSTATUS(status):
        return message or "the model check failed"
    return None


def prepare(model_dir: Path | str) -> ModelFiles:
    """The model in `model_dir` read once, its signature verified when one is required, checked: ready to serve."""
    files = read_files(model_dir)
    try:
        signing.verify_if_required(files)
    except signing.SignatureError as exc:
        raise StartupError(str(exc)) from None
    problem = check_in_child(files)
    if problem:
        raise StartupError(problem)
    return files
