"""Promotion, gc and blob verification through the HTTP store (``LABLINE_URI=http://...``),
with real tokens against a real uvicorn on 127.0.0.1: the parity gate replays on the server,
an engineer may promote (a researcher or viewer gets 403, skipping the gate is an admin's),
and ``labline gc`` over HTTP is carried out by the server for an admin."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import labline
from http_store_support import ThreadedServer
from labline.cli import main
from labline.server import ServerSettings, create_app
from labline.store.http import HttpStore

X, Y = load_iris(return_X_y=True)
ROLES = {"root": "admin", "ana": "researcher", "eng": "engineer", "vic": "viewer"}


class Team:
    """A server on a fresh store, a token per person, a client per person over HTTP."""

    def __init__(self, server: ThreadedServer, home: Path) -> None:
        self.server, self.home = server, home
        self.backing = labline.Client(labline.Settings.local(home / "server"))
        self.tokens = {n: self.backing.create_token(n, r).secret for n, r in ROLES.items()}
        server.switch.app = create_app(self.backing, ServerSettings())
        self.clients: dict[str, labline.Client] = {}

    def env(self, name: str) -> dict[str, str]:
        return {
            "LABLINE_HOME": str(self.home / name),
            "LABLINE_URI": self.server.url,
            "LABLINE_TOKEN": self.tokens[name],
        }

    def client(self, name: str) -> labline.Client:
        if name not in self.clients:
            self.clients[name] = labline.Client(labline.Settings.from_env(self.env(name)))
            assert isinstance(self.clients[name].store, HttpStore)
        return self.clients[name]

    def cli(self, name: str, *args: str) -> tuple[int, str, str]:
        r = CliRunner().invoke(main, list(args), env=self.env(name))
        return r.exit_code, r.stdout, r.stderr

    def close(self) -> None:
        for c in self.clients.values():
            c.close()
        self.server.switch.app = None
        self.backing.close()


@pytest.fixture
def team(http_server: ThreadedServer, tmp_path: Path) -> Iterator[Team]:
    made = Team(http_server, tmp_path)
    yield made
    made.close()


def _log_iris(client: labline.Client) -> int:
    with client.start_run("iris", capture_env=False) as run:
        model = LogisticRegression(max_iter=500).fit(X, Y)
        version = run.log_model(model, name="iris", input_example=X[:2], eval_inputs=X[:20])
    return version.version


def test_an_engineer_promotes_through_the_gate_on_the_server(team: Team) -> None:
    version = _log_iris(team.client("ana"))
    for name in ("ana", "vic"):  # researchers register, viewers read: neither promotes
        with pytest.raises(labline.PermissionDeniedError, match="'promote' right"):
            team.client(name).promote("iris", version, "production")
    with pytest.raises(labline.PermissionDeniedError, match="'admin' right"):
        team.client("eng").promote("iris", version, "production", skip_parity=True, reason="x")
    promotion = team.client("eng").promote("iris", version, "production", reason="ship it")
    assert promotion.parity is not None and promotion.parity.passed and promotion.parity.n == 20
    event = promotion.event
    assert (event.actor, event.to_version, event.reason) == ("eng", version, "ship it")
    assert event.parity.startswith("passed (20 examples")
    # the server's own store holds the move, recorded as the token's name
    (moved,) = team.backing.alias_history("iris", "production")
    assert moved.actor == "eng" and team.client("vic").get_alias("iris", "production").version == 1
    # recording a move with a parity outcome the caller reports stays an admin's
    with pytest.raises(labline.PermissionDeniedError):
        team.client("eng").store.set_alias(
            "iris", "staging", version, actor="eng", reason="", parity="passed (trust me)"
        )
    # an admin may still skip the gate, with a reason
    skipped = team.client("root").promote(
        "iris", version, "canary", skip_parity=True, reason="hotfix"
    )
    assert skipped.parity is None and skipped.event.parity == "skipped"


def test_labline_models_promote_over_http(team: Team) -> None:
    version = _log_iris(team.client("ana"))
    code, out, err = team.cli("eng", "models", "promote", "iris", str(version), "-a", "staging")
    assert code == 0, err
    assert "parity ok: 20 examples reproduced" in out and "iris@staging: unset → version 1" in out
    assert team.backing.get_alias("iris", "staging").version == version
    assert team.backing.alias_history("iris", "staging")[0].actor == "eng"
    code, out, err = team.cli("ana", "models", "promote", "iris", str(version), "-a", "prod")
    assert code != 0 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        "error: role 'researcher' of 'ana' lacks the 'promote' right this route needs"
    )


def test_gc_over_http_is_done_by_the_server_for_an_admin(team: Team, tmp_path: Path) -> None:
    ana = team.client("ana")
    kept = tmp_path / "kept.txt"
    kept.write_text("kept\n")
    gone = tmp_path / "gone.txt"
    gone.write_text("only the deleted run has this\n")
    with ana.start_run("gc", capture_env=False) as live:
        live.log_artifact(kept)
    with ana.start_run("gc", capture_env=False) as doomed:
        doomed.log_artifact(gone)
    ana.delete_run(doomed.id)
    with pytest.raises(labline.PermissionDeniedError, match="'admin' right"):
        ana.gc(grace=0)
    root = team.client("root")
    dry = root.gc(dry_run=True, grace=0)
    assert dry.dry_run and dry.runs_purged == (doomed.id,) and dry.blobs_removed == 1
    assert root.get_run(doomed.id).deleted_at is not None  # a dry run changed nothing
    report = root.gc(grace=0)
    assert report.runs_purged == (doomed.id,) and report.blobs_removed == 1
    assert report.bytes_freed == gone.stat().st_size
    with pytest.raises(labline.NotFoundError):
        root.get_run(doomed.id)
    assert ana.list_artifacts(live.id)[0].path == "kept.txt"  # referenced blobs stay
    code, out, err = team.cli("root", "gc", "--json", "--grace", "0")
    assert code == 0, err
    assert json.loads(out)["blobs_removed"] == 0
    code, out, err = team.cli("root", "gc", "--verify")
    assert code == 0, err
    assert "0 bad" in out
    code, out, err = team.cli("ana", "gc")
    assert code != 0 and "'admin' right" in err and len(err.strip().splitlines()) == 1
