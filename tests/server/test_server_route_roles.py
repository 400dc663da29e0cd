"""Every route × every role, generated from the app's route table: a role holding the route's
permission never gets 401/403, a role lacking it gets 403. A route of ``/api/v1`` (or of a
sub-app's endpoint table) that declares no permission fails this test."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from server_support import ASGIClient, bearer

import labline
from labline.server import (
    API_PREFIX,
    PUBLIC,
    ROLE_PERMISSIONS,
    DeclaredRoute,
    Permission,
    Role,
    ServerSettings,
    create_app,
    route_permissions,
)

# Values for path parameters: well formed, naming nothing that exists (token ids stay clear of
# the tokens this test uses, so revoking cannot lock it out).
PARAMS = {
    "run_id": "0" * 32,
    "token_id": "987654",
    "hypothesis_id": "987654",
    "version": "1",
    "name": "no-model",
    "alias": "prod",
    "experiment": "no-experiment",
    "key": "loss",
    "path": "a/b.txt",
    "item_id": "987654",
    "decision_id": "987654",
    "calibration_id": "987654",
    "sweep": "no-sweep",
    "trial_id": "987654",
    "number": "0",
    "dataset": "no-dataset",
    "model_id": "m-" + "0" * 32,
    "tag_key": "team",
    "upload_id": "0" * 32,
    "part_number": "1",
    "digest": "0" * 64,
}


def _concrete(path: str) -> str:
    def value(m: re.Match[str]) -> str:
        name = m.group(1).split(":")[0]
        assert name in PARAMS, f"add a value for path parameter {name!r} to PARAMS"
        return PARAMS[name]

    return re.sub(r"\{([^}]+)\}", value, path)


def _declared(client: labline.Client) -> list[DeclaredRoute]:
    app = create_app(client, ServerSettings())
    return list(route_permissions(app.routes))


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[labline.Client, dict[Role, str]]]:
    client = labline.Client(labline.Settings.local(tmp_path_factory.mktemp("roles")))
    tokens = {role: client.create_token(f"{role.value}-user", role).secret for role in Role}
    yield client, tokens
    client.close()


def test_every_api_route_declares_a_permission(
    world: tuple[labline.Client, dict[Role, str]],
) -> None:
    routes = _declared(world[0])
    assert len([r for r in routes if r.path.startswith(API_PREFIX)]) >= 45
    undeclared = [
        f"{'/'.join(r.methods)} {r.path}"
        for r in routes
        if r.permission is None and (r.path.startswith("/api/") or "mlflow" in r.path)
    ]
    assert undeclared == []


def test_a_new_route_without_a_permission_is_caught(
    world: tuple[labline.Client, dict[Role, str]],
) -> None:
    from fastapi import APIRouter

    from labline.server import _app

    router = APIRouter()

    @router.get("/sneaky")
    def sneaky() -> dict[str, str]:
        return {}

    app = create_app(world[0])
    app.fastapi.include_router(router, prefix=_app.API_PREFIX)
    found = [r for r in route_permissions(app.routes) if r.path.endswith("/sneaky")]
    assert [(r.path, r.permission) for r in found] == [(f"{API_PREFIX}/sneaky", None)]


def _cases(client: labline.Client) -> Iterator[tuple[str, str, Permission | str]]:
    for route in _declared(client):
        if route.permission is None:
            continue
        for method in route.methods:
            if method != "HEAD":
                yield method, route.path, route.permission


def test_every_route_for_every_role(world: tuple[labline.Client, dict[Role, str]]) -> None:
    client, tokens = world
    http = ASGIClient(create_app(client, ServerSettings()))
    checked = 0
    wrong: list[str] = []
    try:
        for method, path, permission in _cases(client):
            url = _concrete(path)
            for role in Role:
                # the review page's writes also need its CSRF header; other routes ignore it
                kwargs = {"headers": {**bearer(tokens[role]), "X-Labline-Review": "1"}}
                if method in ("POST", "PUT", "PATCH"):
                    kwargs["json"] = {}
                r = http.request(method, url, **kwargs)
                allowed = permission == PUBLIC or permission in ROLE_PERMISSIONS[role]
                checked += 1
                if r.status_code == 401 or (r.status_code == 403) == allowed:
                    wrong.append(f"{method} {path} as {role.value}: {r.status_code}")
                if r.status_code >= 500:
                    wrong.append(f"{method} {path} as {role.value}: {r.status_code} {r.text[:200]}")
    finally:
        http.close()
    assert wrong == []
    assert checked >= 5 * 80
