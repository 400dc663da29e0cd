"""Authentication and roles: 401 for a missing, bad, revoked or expired token; 403 for a role
without the right; the token's name is the actor of every write; loopback without tokens."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from server_support import ASGIClient, bearer

import labline
from labline.server import Role, ServerSettings
from labline.server._run import check_can_start


def test_a_request_without_a_token_gets_401_once_tokens_exist(http: ASGIClient) -> None:
    r = http.get("/api/v1/experiments")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"]["type"] == "AuthenticationError"
    assert "labline server token create" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer ll_not-a-real-token",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer " + "x" * 5000,
    ],
)
def test_a_bad_token_gets_401_and_is_never_echoed(http: ASGIClient, header: str) -> None:
    r = http.get("/api/v1/experiments", headers={"Authorization": header})
    assert r.status_code == 401
    secret = header.partition(" ")[2]
    assert not secret or secret not in r.text


def test_revoked_and_expired_tokens_are_refused(
    http: ASGIClient, client: labline.Client, tokens: dict[Role, str]
) -> None:
    assert http.get("/api/v1/experiments", headers=bearer(tokens[Role.VIEWER])).status_code == 200
    client.revoke_token("viewer-user")
    r = http.get("/api/v1/experiments", headers=bearer(tokens[Role.VIEWER]))
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]
    short = client.create_token("brief", "viewer", expires="1s").secret
    assert http.get("/api/v1/experiments", headers=bearer(short)).status_code == 200
    time.sleep(1.1)
    r = http.get("/api/v1/experiments", headers=bearer(short))
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]


def test_a_role_without_the_right_gets_403_naming_it(
    http: ASGIClient, tokens: dict[Role, str]
) -> None:
    r = http.post("/api/v1/experiments", json={"name": "x"}, headers=bearer(tokens[Role.VIEWER]))
    assert r.status_code == 403
    err = r.json()["error"]
    assert err["type"] == "PermissionDeniedError" and "write_runs" in err["message"]
    ok = http.post(
        "/api/v1/experiments", json={"name": "x"}, headers=bearer(tokens[Role.RESEARCHER])
    )
    assert ok.status_code == 201


def test_the_token_name_is_the_actor_of_writes(
    http: ASGIClient, client: labline.Client, tokens: dict[Role, str]
) -> None:
    with client.start_run("exp", capture_env=False) as run:
        run.log_metric("m", 1.0)
    r = http.delete(f"/api/v1/runs/{run.id}", headers=bearer(tokens[Role.RESEARCHER]))
    assert r.status_code == 200 and r.json()["deleted_by"] == "researcher-user"
    assert client.get_run(run.id).deleted_by == "researcher-user"
    who = http.get("/api/v1/whoami", headers=bearer(tokens[Role.ENGINEER])).json()
    assert who == {
        "name": "engineer-user",
        "role": "engineer",
        "permissions": ["calibrate", "enqueue", "promote", "read"],
    }


def test_loopback_without_tokens_runs_open_as_the_server_user(
    app_factory: Callable[..., ASGIClient], client: labline.Client
) -> None:
    http = app_factory(host="127.0.0.1")
    who = http.get("/api/v1/whoami").json()
    assert who["name"] == client.actor and who["role"] == "admin"
    # a token, when sent, is still checked
    assert http.get("/api/v1/whoami", headers=bearer("ll_wrong")).status_code == 401
    # once a token exists the open door closes (within token_check_seconds)
    fast = app_factory(host="127.0.0.1", token_check_seconds=0.0)
    assert fast.get("/api/v1/whoami").status_code == 200
    secret = client.create_token("alice", "viewer").secret
    assert fast.get("/api/v1/whoami").status_code == 401
    assert fast.get("/api/v1/whoami", headers=bearer(secret)).json()["name"] == "alice"


def test_health_needs_no_token(http: ASGIClient) -> None:
    assert http.get("/api/v1/health").json() == {"status": "ok"}


def test_a_server_beyond_loopback_without_tokens_refuses_to_start(
    client: labline.Client,
) -> None:
    with pytest.raises(labline.InvalidArgumentError, match="labline server token create"):
        check_can_start(client, ServerSettings(host="0.0.0.0"))
    check_can_start(client, ServerSettings(host="127.0.0.1"))  # loopback: fine
    client.create_token("admin", "admin")
    check_can_start(client, ServerSettings(host="0.0.0.0"))  # a token exists: fine


def test_a_bound_beyond_loopback_server_needs_a_token_for_every_request(
    app_factory: Callable[..., ASGIClient], client: labline.Client
) -> None:
    secret = client.create_token("ops", "viewer").secret
    client.revoke_token("ops")
    http = app_factory(host="0.0.0.0")
    assert http.get("/api/v1/experiments").status_code == 401
    assert secret  # revoked: no working token, yet the server never opens up
    assert http.get("/api/v1/experiments", headers=bearer(secret)).status_code == 401


def test_the_token_cookie_authenticates_a_browser(
    http: ASGIClient, tokens: dict[Role, str]
) -> None:
    http.cookies.set("labline_token", tokens[Role.VIEWER])
    assert http.get("/api/v1/whoami").json()["name"] == "viewer-user"
