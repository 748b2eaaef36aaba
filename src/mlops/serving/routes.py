"""Every route declared once: its URL rule, its view and its OpenAPI operation in one call.

The app and each protocol adapter add their routes through `Routes`, which adds the rule to the
Flask app and its operation to the paths /openapi.json publishes, so the app cannot serve a route
its document lacks, nor document one it does not serve. A path parameter (`<name>`, `<version>`)
is documented from the rule itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask

from mlops.serving.openapi import Schemas

PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")  # werkzeug's <name> or <converter:name>


def openapi_path(rule: str) -> str:
    """/v2/models/<name> -> /v2/models/{name}"""
    return PARAMETER.sub(r"{\1}", rule)


class Routes:
    """The routes of one app and their OpenAPI paths; `schemas`: what the operations share."""

    def __init__(self, app: Flask, schemas: Schemas):
        self.app, self.schemas = app, schemas
        self.paths: dict[str, dict[str, Any]] = {}

    def add(
        self,
        method: str,
        rule: str,
        view: Callable,
        summary: str,
        responses: dict[str, Any],
        body: dict[str, Any] | None = None,
        endpoint: str | None = None,
        headers: list[dict[str, Any]] | None = None,
    ) -> None:
        """Serve `view` on `method rule`, documented by `summary`, `responses`, the request `body`'s content
        and the request `headers` it reads (OpenAPI parameters `in: header`)."""
        self.app.add_url_rule(rule, endpoint or view.__name__, view, methods=[method])
        operation: dict[str, Any] = {"summary": summary}
        parameters = [self.schemas.path_parameters[name] for name in PARAMETER.findall(rule)] + (headers or [])
        if parameters:
            operation["parameters"] = parameters
        if body is not None:
            operation["requestBody"] = {"required": True, "content": body}
        operation["responses"] = responses
        self.paths.setdefault(openapi_path(rule), {})[method.lower()] = operation

    def route(self, method: str, rule: str, summary: str, responses: dict[str, Any], body=None, headers=None):
        """`add` as a decorator; stack two for a view with two rules."""

        def decorate(view: Callable) -> Callable:
            self.add(method, rule, view, summary, responses, body, headers=headers)
            return view

        return decorate

    def get(self, rule: str, summary: str, responses: dict[str, Any]):
        return self.route("GET", rule, summary, responses)

    def post(self, rule: str, summary: str, responses: dict[str, Any], body: dict[str, Any], headers=None):
        return self.route("POST", rule, summary, responses, body, headers)

    def taken(self) -> set[str]:
        """The URL rules the app serves so far."""
        return {rule.rule for rule in self.app.url_map.iter_rules()}
