"""The real service made deliberately worse, as a bad release would be, for the canary check's test.

gunicorn serves `tests.deploy.canary_faults:create_app()` with the service's own config; the
environment says what is wrong with it:
  CANARY_FAULT_DELAY=0.25       every /predict request takes 0.25 s longer (inside the service's timing)
  CANARY_FAULT_ERROR_EVERY=4    every 4th /predict request of a worker fails with a 500
Anything else is the service as it is: its metrics count what its clients see.
"""

from __future__ import annotations

import itertools
import os
import time

from flask import Flask, request

from mlops.serving.app import create_app as service_app
from mlops.serving.responses import json_response


def create_app() -> Flask:
    app = service_app()
    delay = float(os.environ.get("CANARY_FAULT_DELAY") or 0)
    every = int(os.environ.get("CANARY_FAULT_ERROR_EVERY") or 0)
    requests = itertools.count(1)

    @app.before_request  # after the service's own timer starts: its histogram sees the delay
    def fault():
        if request.path != "/predict":
            return None
        time.sleep(delay)
        if every and next(requests) % every == 0:
            return json_response({"error": {"code": "fault", "message": "a deliberate fault"}}, status=500)
        return None

    return app
