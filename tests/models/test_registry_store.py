"""Registry part of the store contract, on SQLite, PostgreSQL and a labline server (over
HTTP, where a package is registered only once its manifest blob is stored)."""

from __future__ import annotations

import hashlib

import pytest

from http_store_support import recorded_actor, stored_blob
from labline import ImmutableError, InvalidArgumentError, NotFoundError
from labline.store import MetadataStore
from labline.store.sql import SQLStore

PACKAGES = [f"manifest {c}".encode() for c in "abc"]
D1, D2, D3 = ("sha256:" + hashlib.sha256(p).hexdigest() for p in PACKAGES)


@pytest.fixture
def store(store: MetadataStore) -> MetadataStore:
    for package in PACKAGES:
        stored_blob(store, package)
    return store


def _reg(store: SQLStore, name: str, digest: str, version: int | None = None) -> int:
    mv, _ = store.register_model_version(
        name, digest, run_id=None, created_by="t", meta={"adapter": "python"}, version=version
    )
    return mv.version


def test_versions_are_numbered_idempotent_and_immutable(store: SQLStore) -> None:
    assert _reg(store, "m", D1) == 1
    mv, created = store.register_model_version("m", D1, run_id=None, created_by="x", meta={})
    assert (mv.version, created, mv.created_by, mv.meta) == (
        1,
        False,
        recorded_actor(store, "t"),
        {"adapter": "python"},
    )
    assert _reg(store, "m", D2) == 2
    with pytest.raises(ImmutableError):
        _reg(store, "m", D3, version=2)
    with pytest.raises(ImmutableError):
        _reg(store, "m", D1, version=5)  # same content, other number
    assert _reg(store, "m", D3, version=7) == 7
    assert [v.version for v in store.list_model_versions("m")] == [1, 2, 7]
    assert store.get_model_version("m", 2).digest == D2
    assert _reg(store, "other", D1) == 1  # numbering is per name
    with pytest.raises(NotFoundError):
        store.get_model_version("m", 3)
    with pytest.raises(NotFoundError):
        store.list_model_versions("nope")
    with pytest.raises(InvalidArgumentError):
        _reg(store, "bad/name", D1)
    with pytest.raises(InvalidArgumentError):
        _reg(store, "m", "sha256:xyz")


def test_out_of_range_versions_and_long_actors_are_refused_alike_on_every_backend(
    store: SQLStore,
) -> None:
    # PostgreSQL raised StorageError (INTEGER / VARCHAR(250) overflow) where SQLite stored them.
    _reg(store, "m", D1)
    for bad in (0, -1, 2**31, 2**40, True):
        with pytest.raises(InvalidArgumentError, match="version must be an integer from 1 to"):
            _reg(store, "m", D2, version=bad)
    for missing in (0, -1, 2**31, 2**40):
        with pytest.raises(NotFoundError, match=f"no model version m/{missing}"):
            store.get_model_version("m", missing)
        with pytest.raises(NotFoundError):
            store.set_alias("m", "prod", missing, actor="a", reason="", parity="skipped")
    for actor in ("x" * 251, "", "   ", "ana\nbo"):
        with pytest.raises(InvalidArgumentError, match="actor"):
            store.set_alias("m", "prod", 1, actor=actor, reason="r", parity="skipped")
        with pytest.raises(InvalidArgumentError, match="created_by"):
            store.register_model_version("m", D2, run_id=None, created_by=actor, meta={})
    assert [v.version for v in store.list_model_versions("m")] == [1]  # nothing was stored
    assert store.alias_history("m") == []
    ev = store.set_alias("m", "prod", 1, actor="x" * 250, reason="r", parity="skipped")
    assert ev.actor == recorded_actor(store, "x" * 250)
    assert _reg(store, "m", D2, version=2**31 - 1) == 2**31 - 1


def test_aliases_keep_an_append_only_history(store: SQLStore) -> None:
    _reg(store, "m", D1)
    _reg(store, "m", D2)
    e1 = store.set_alias("m", "production", 1, actor="a", reason="r1", parity="passed")
    e2 = store.set_alias("m", "production", 2, actor="b", reason="r2", parity="skipped")
    store.set_alias("m", "staging", 2, actor="c", reason="", parity="passed")
    assert (e1.seq, e1.from_version, e1.to_version) == (1, None, 1)
    assert (e2.seq, e2.from_version, e2.to_version) == (2, 1, 2)
    rec = store.get_alias("m", "production")
    assert (rec.version, rec.digest, rec.seq) == (2, D2, 2)
    assert [a.alias for a in store.list_aliases("m")] == ["production", "staging"]
    assert [e.reason for e in store.alias_history("m", "production")] == ["r1", "r2"]
    assert len(store.alias_history("m")) == 3
    (model,) = store.list_registered_models()
    assert model.latest_version == 2 and dict(model.aliases) == {"production": 2, "staging": 2}
    with pytest.raises(NotFoundError):
        store.set_alias("m", "production", 9, actor="a", reason="", parity="passed")
    with pytest.raises(InvalidArgumentError):
        store.set_alias("m", "3", 1, actor="a", reason="", parity="passed")
    with pytest.raises(NotFoundError):
        store.get_alias("m", "canary")
    assert len(store.alias_history("m", "production")) == 2  # failed moves left no trace


def test_migration_0003_matches_the_orm_tables(sql_store: SQLStore) -> None:
    store = sql_store
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from labline.store.sql._models import Base

    ours = {"registered_models", "model_versions", "model_aliases", "model_alias_events"}
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(ctx, Base.metadata)

    def table_of(d: object) -> str | None:
        item = d[0] if isinstance(d, list) else d
        for part in item[1:] if isinstance(item, tuple) else ():
            name = getattr(part, "name", None) if not isinstance(part, str) else None
            table = getattr(part, "table", None)
            if table is not None:
                return str(table.name)
            if name in ours:
                return str(name)
            if isinstance(part, str) and part in ours:
                return part
        return None

    assert [d for d in diffs if table_of(d) in ours] == []


def test_a_model_exists_before_its_first_version_with_an_editable_card(store: SQLStore) -> None:
    from http_store_support import recorded_actor, stored_blob
    from labline import AlreadyExistsError

    m = store.create_registered_model(
        "card", created_by="ana", description="digits, v0", tags={"team": "cv"}
    )
    assert (m.name, m.latest_version, dict(m.aliases)) == ("card", None, {})
    assert (m.description, dict(m.tags), m.created_by) == (
        "digits, v0",
        {"team": "cv"},
        recorded_actor(store, "ana"),
    )
    assert store.get_registered_model("card") == m
    assert [x.name for x in store.list_registered_models()] == ["card"]
    assert store.list_model_versions("card") == []
    with pytest.raises(AlreadyExistsError):
        store.create_registered_model("card", created_by="bo")
    with pytest.raises(InvalidArgumentError):
        store.create_registered_model("bad/name", created_by="bo")
    with pytest.raises(InvalidArgumentError, match="created_by"):
        store.create_registered_model("ok", created_by="")

    edited = store.update_registered_model("card", description="digits", tags={"stage": "dev"})
    assert edited.description == "digits" and dict(edited.tags) == {"team": "cv", "stage": "dev"}
    assert edited.updated_at is not None and edited.updated_at >= m.created_at
    kept = store.update_registered_model("card", tags={"stage": "prod"}, delete_tags=["team"])
    assert kept.description == "digits" and dict(kept.tags) == {"stage": "prod"}
    with pytest.raises(NotFoundError, match="team"):  # nothing of the call is applied
        store.update_registered_model("card", description="x", delete_tags=["team"])
    assert store.get_registered_model("card").description == "digits"
    with pytest.raises(NotFoundError):
        store.get_registered_model("nope")
    with pytest.raises(NotFoundError):
        store.update_registered_model("nope", description="x")

    package = "sha256:" + stored_blob(store, b"the card's first package")
    assert _reg(store, "card", package) == 1  # the first version joins the model and its card
    got = store.get_registered_model("card")
    assert got.latest_version == 1 and got.description == "digits"
    with pytest.raises(ImmutableError, match="versions"):
        store.delete_registered_model("card")
    store.create_registered_model("scratch", created_by="ana")
    store.delete_registered_model("scratch")
    with pytest.raises(NotFoundError):
        store.get_registered_model("scratch")
    with pytest.raises(NotFoundError):
        store.delete_registered_model("scratch")
    assert [x.name for x in store.list_registered_models()] == ["card"]
