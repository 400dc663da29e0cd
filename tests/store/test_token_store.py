"""The token-store contract on every backend: hashes only, lookup by hash, revoke once,
active counts; and the token use cases on Client (issue, authenticate, list, revoke)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

import labline
from http_store_support import SQL_BACKENDS
from labline import Role
from labline.store.sql import SQLStore


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("store", SQL_BACKENDS, indirect=True)
def test_tokens_are_stored_by_hash_and_revoked_once(store: SQLStore) -> None:
    soon = datetime.now(UTC) + timedelta(days=1)
    a = store.add_token(
        name="alice",
        role=Role.RESEARCHER,
        secret_hash=_hash("a"),
        prefix="ll_aaaa",
        expires_at=soon,
        created_by="root",
    )
    assert (a.name, a.role, a.created_by, a.revoked_at) == ("alice", Role.RESEARCHER, "root", None)
    assert abs((a.expires_at - soon).total_seconds()) < 1e-3
    found, stored = store.find_token(_hash("a"))
    assert found == a and stored == _hash("a")
    with pytest.raises(labline.NotFoundError):
        store.find_token(_hash("b"))
    with pytest.raises(labline.NotFoundError):
        store.find_token("not a hash")
    with pytest.raises(labline.AlreadyExistsError):
        store.add_token(
            name="bob",
            role=Role.VIEWER,
            secret_hash=_hash("a"),
            prefix="ll_x",
            expires_at=None,
            created_by="root",
        )
    assert store.count_active_tokens(datetime.now(UTC)) == 1
    assert store.count_active_tokens(soon + timedelta(seconds=1)) == 0
    r1 = store.revoke_token(a.id, actor="ops")
    r2 = store.revoke_token(a.id, actor="someone-else")
    assert r1.revoked_by == r2.revoked_by == "ops" and r1.revoked_at == r2.revoked_at
    assert store.count_active_tokens(datetime.now(UTC)) == 0
    assert [t.id for t in store.list_tokens()] == [a.id]
    with pytest.raises(labline.NotFoundError):
        store.revoke_token(999, actor="ops")
    with pytest.raises(labline.NotFoundError):
        store.revoke_token(2**40, actor="ops")
    with pytest.raises(labline.InvalidArgumentError, match="hex"):
        store.add_token(
            name="c",
            role=Role.VIEWER,
            secret_hash="ABC",
            prefix="x",
            expires_at=None,
            created_by="root",
        )
    with pytest.raises(labline.InvalidArgumentError, match="token name"):
        store.add_token(
            name="",
            role=Role.VIEWER,
            secret_hash=_hash("c"),
            prefix="x",
            expires_at=None,
            created_by="root",
        )


def test_client_tokens_keep_no_secret_in_the_database(
    client: labline.Client, store_url: str
) -> None:
    issued = client.create_token("alice", "researcher", expires="30d")
    assert issued.secret.startswith("ll_") and len(issued.secret) == 3 + 43
    assert issued.secret not in repr(issued)
    assert client.authenticate(issued.secret).name == "alice"
    engine = sa.create_engine(store_url)
    try:
        with engine.connect() as conn:
            rows = [tuple(map(str, r)) for r in conn.execute(sa.text("SELECT * FROM tokens"))]
    finally:
        engine.dispose()
    dump = repr(rows)
    assert issued.secret not in dump and issued.secret[10:] not in dump
    assert _hash(issued.secret) in dump
    other = client.create_token("bob", Role.VIEWER)
    assert other.secret != issued.secret
    assert [t.name for t in client.list_tokens()] == ["alice", "bob"]
    assert [t.name for t in client.revoke_token("alice")] == ["alice"]
    with pytest.raises(labline.AuthenticationError, match="revoked"):
        client.authenticate(issued.secret)
    assert [t.name for t in client.list_tokens()] == ["bob"]
    assert len(client.list_tokens(include_inactive=True)) == 2
    with pytest.raises(labline.NotFoundError, match="no active token named 'alice'"):
        client.revoke_token("alice")
    with pytest.raises(labline.AuthenticationError) as e:
        client.authenticate(other.secret[:-1] + ("A" if other.secret[-1] != "A" else "B"))
    assert other.secret[3:] not in str(e.value)


@pytest.mark.parametrize(
    ("role", "expires", "match"),
    [
        ("root", None, "role must be one of"),
        ("viewer", "0d", "expires"),
        ("viewer", "soon", "expires"),
    ],
)
def test_bad_token_requests_name_the_field(
    client: labline.Client, role: str, expires: str | None, match: str
) -> None:
    with pytest.raises(labline.InvalidArgumentError, match=match):
        client.create_token("x", role, expires=expires)


def test_migration_0010_matches_the_orm_table(sql_store: SQLStore) -> None:
    store = sql_store
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from labline.store.sql._models import Base

    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = [d for d in compare_metadata(ctx, Base.metadata) if "tokens" in repr(d)]
    assert diffs == []
