"""``labline server token create|list|revoke`` (with and without --json), on the store and
through a server with an admin token, and the server's refusal to listen beyond loopback
without a token."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

import labline
from http_store_support import ThreadedServer
from labline.cli import main
from labline.server import ServerSettings, create_app
from labline.store.http import HttpTransport


def _run(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env={"LABLINE_HOME": str(home)})
    return result.exit_code, result.stdout, result.stderr


def test_token_create_list_revoke(tmp_path: Path) -> None:
    code, out, _ = _run(
        tmp_path,
        "server",
        "token",
        "create",
        "--name",
        "alice",
        "--role",
        "researcher",
        "--expires",
        "30d",
        "--json",
    )
    assert code == 0
    created = json.loads(out)
    assert created["name"] == "alice" and created["role"] == "researcher"
    assert created["secret"].startswith("ll_") and created["active"] is True
    with labline.Client(labline.Settings.local(tmp_path)) as client:
        assert client.authenticate(created["secret"]).name == "alice"
    code, out, err = _run(
        tmp_path, "server", "token", "create", "--name", "bob", "--role", "viewer"
    )
    assert code == 0 and "ll_" in out and "Shown once" in err
    code, out, _ = _run(tmp_path, "server", "token", "list", "--json")
    listed = json.loads(out)
    assert [t["name"] for t in listed] == ["alice", "bob"]
    assert "secret" not in out and created["secret"] not in out
    code, out, _ = _run(tmp_path, "server", "token", "revoke", "alice", "--json")
    assert code == 0 and [t["name"] for t in json.loads(out)] == ["alice"]
    code, out, _ = _run(tmp_path, "server", "token", "list", "--all", "--json")
    assert [t["active"] for t in json.loads(out)] == [False, True]
    code, out, _ = _run(tmp_path, "server", "token", "list")
    assert code == 0 and "bob" in out and "alice" not in out


def test_token_errors_are_one_line(tmp_path: Path) -> None:
    code, _, err = _run(
        tmp_path,
        "server",
        "token",
        "create",
        "--name",
        "a",
        "--role",
        "viewer",
        "--expires",
        "soon",
    )
    assert code == 1 and err.startswith("error: expires must be") and err.count("\n") == 1
    code, _, err = _run(tmp_path, "server", "token", "revoke", "nobody")
    assert code == 1 and "no active token named 'nobody'" in err
    code, _, err = _run(tmp_path, "server", "token", "revoke")
    assert code == 2


def test_server_refuses_a_public_address_without_tokens(tmp_path: Path) -> None:
    code, _, err = _run(tmp_path, "server", "--host", "0.0.0.0", "--port", "0")
    assert code == 1
    assert "labline server token create --name <you> --role admin" in err


def test_tokens_through_a_server_are_for_admins_and_keep_secrets_home(
    http_server: ThreadedServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``labline server token create|list|revoke`` with LABLINE_URI=http://...: an admin token
    manages tokens; the new secret is printed here, and is in no answer or log of the server."""
    caplog.set_level(logging.DEBUG)
    backing = labline.Client(labline.Settings.local(tmp_path / "server"))
    admin = backing.create_token("root", "admin").secret
    researcher = backing.create_token("ana", "researcher").secret
    http_server.switch.app = create_app(backing, ServerSettings())
    # every request the CLI's HTTP store sends, and every answer, as text
    wire: list[str] = []
    send = HttpTransport.request

    def recorded(self: HttpTransport, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = send(self, method, path, **kwargs)
        wire.extend([json.dumps(kwargs.get("json_body")), response.text])
        return response

    monkeypatch.setattr(HttpTransport, "request", recorded)
    try:
        with httpx.Client(base_url=http_server.url) as http:

            def cli(token: str, *args: str) -> tuple[int, str, str]:
                env = {
                    "LABLINE_HOME": str(tmp_path / "cli"),
                    "LABLINE_URI": http_server.url,
                    "LABLINE_TOKEN": token,
                }
                result = CliRunner().invoke(main, ["server", "token", *args], env=env)
                return result.exit_code, result.stdout, result.stderr

            def whoami(secret: str) -> httpx.Response:
                return http.get("/api/v1/whoami", headers={"authorization": f"Bearer {secret}"})

            code, out, _ = cli(admin, "create", "--name", "bob", "--role", "viewer", "--json")
            assert code == 0, out
            created = json.loads(out)
            secret = created["secret"]
            assert secret.startswith("ll_") and created["created_by"] == "root"
            assert whoami(secret).json()["name"] == "bob"
            assert whoami(secret).json()["role"] == "viewer"
            code, out, _ = cli(admin, "list", "--json")
            assert code == 0 and [t["name"] for t in json.loads(out)] == ["root", "ana", "bob"]
            assert secret not in out
            # every other role: 403, one line, nothing created
            code, _, err = cli(researcher, "create", "--name", "eve", "--role", "admin")
            assert code == 1 and err.count("\n") == 1 and "admin" in err
            code, _, err = cli(researcher, "list")
            assert code == 1 and "admin" in err
            assert [t.name for t in backing.list_tokens()] == ["root", "ana", "bob"]
            code, out, _ = cli(admin, "revoke", "bob", "--json")
            assert code == 0 and [t["name"] for t in json.loads(out)] == ["bob"]
            assert whoami(secret).status_code == 401
            # the secret never travelled: in no request, answer or log line
            assert len(wire) >= 8 and all(secret not in text for text in wire)
            assert any(created["prefix"] in text for text in wire)  # what did travel
            assert secret not in caplog.text and secret[10:] not in caplog.text
    finally:
        http_server.switch.app = None
        backing.close()
