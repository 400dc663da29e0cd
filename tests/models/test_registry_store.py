"""Registry part of the store contract, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from labline import ImmutableError, InvalidArgumentError, NotFoundError
from labline.store.sql import SQLStore

D1, D2, D3 = ("sha256:" + c * 64 for c in "abc")


def _reg(store: SQLStore, name: str, digest: str, version: int | None = None) -> int:
    mv, _ = store.register_model_version(
        name, digest, run_id=None, created_by="t", meta={"adapter": "python"}, version=version
    )
    return mv.version


def test_versions_are_numbered_idempotent_and_immutable(store: SQLStore) -> None:
    assert _reg(store, "m", D1) == 1
    mv, created = store.register_model_version("m", D1, run_id=None, created_by="x", meta={})
    assert (mv.version, created, mv.created_by, mv.meta) == (1, False, "t", {"adapter": "python"})
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
