"""The MLflow API apps behind a minimal stand-in of the server's authentication layer
(bearer token → principal and per-request client), served by uvicorn in the tests.

``uvicorn --factory _standalone_app:create_app`` reads ``LABLINE_HOME`` and the token table
``LABLINE_TEST_TOKENS`` (``token=name:role,...``)."""

from __future__ import annotations

import os
from typing import Any

from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount

import labline
from labline.server import Principal, Role
from labline.server.mlflow import (
    MLFLOW_MOUNTS,
    MlflowApiError,
    MlflowArtifactsApp,
    error_response_body,
)


def create_app(
    client: labline.Client | None = None, tokens: dict[str, Principal] | None = None
) -> Starlette:
    if client is None:
        client = labline.Client(labline.Settings.local(os.environ["LABLINE_HOME"]))
    if tokens is None:
        tokens = {}
        for entry in os.environ.get("LABLINE_TEST_TOKENS", "").split(","):
            if entry:
                token, _, who = entry.partition("=")
                name, _, role = who.partition(":")
                tokens[token] = Principal(name, Role(role))

    async def authenticate(request: Request, call_next: Any) -> Response:
        header = request.headers.get("authorization", "")
        principal = tokens.get(header.removeprefix("Bearer ").strip()) if header else None
        artifacts = "/api/2.0/mlflow-artifacts"
        path = request.url.path
        part_url = path.startswith(artifacts + "/") and MlflowArtifactsApp.is_public(
            path[len(artifacts) :]
        )
        if principal is None and part_url:
            return await call_next(request)  # a part URL: its own credential
        if principal is None:
            error = MlflowApiError("UNAUTHENTICATED", "a valid bearer token is required")
            return Response(error_response_body(error), 401, media_type="application/json")
        request.state.principal = principal
        request.state.client = client.as_actor(principal.name)
        return await call_next(request)

    app = Starlette(routes=[Mount(prefix, app=factory()) for prefix, factory in MLFLOW_MOUNTS])
    app.add_middleware(BaseHTTPMiddleware, dispatch=authenticate)
    return app
