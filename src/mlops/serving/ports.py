"""One port rule for every platform: the variable the platform sets wins, else 8080."""

from __future__ import annotations

from collections.abc import Mapping

# Vertex AI sets AIP_HTTP_PORT, SageMaker SAGEMAKER_BIND_TO_PORT, Cloud Run and most hosts PORT.
PORT_VARIABLES = ("AIP_HTTP_PORT", "SAGEMAKER_BIND_TO_PORT", "PORT")
DEFAULT_PORT = 8080


def listen_port(environ: Mapping[str, str]) -> int:
    """The first of PORT_VARIABLES that is set, else DEFAULT_PORT; ValueError if it is not a port number."""
    for name in PORT_VARIABLES:
        raw = environ.get(name, "").strip()
        if raw:
            if not raw.isdigit() or not 0 < int(raw) < 65536:
                raise ValueError(f"{name}={raw!r} is not a port number (1 to 65535)")
            return int(raw)
    return DEFAULT_PORT
