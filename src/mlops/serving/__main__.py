"""`python -m mlops.serving [serve]`: start gunicorn with the service's settings (the image's entrypoint).

SageMaker starts a container as `IMAGE serve`; other platforms run it without arguments.
Both exec gunicorn, which then is the container's main process and gets its signals.
"""

from __future__ import annotations

import os
import sys

from mlops.serving.ports import listen_port


def main(argv: list[str]) -> int:
    if argv not in ([], ["serve"]):
        print(f"mlops serve: error: unknown command {' '.join(argv)!r}; the only command is 'serve'", file=sys.stderr)
        return 2
    try:
        listen_port(os.environ)
    except ValueError as exc:
        print(f"mlops serve: error: {exc}", file=sys.stderr)
        return 1
    os.execv(sys.executable, [sys.executable, "-m", "gunicorn", "--config", "python:mlops.serving.gunicorn_conf"])
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
