"""``labline server token create|list|revoke`` (with and without --json), and the server's
refusal to listen beyond loopback without a token."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

import labline
from labline.cli import main


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
