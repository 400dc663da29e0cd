"""Metric chunk codecs: exact round trips, the smaller codec chosen, and the 0004 migration."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sqlalchemy as sa

import labline
from labline.store.sql import SQLStore
from labline.store.sql._metric_codec import (
    decode_steps,
    decode_timestamps,
    encode_steps,
    encode_timestamps,
)

I64 = np.iinfo(np.int64)


def _step_cases(rng: np.random.Generator) -> list[np.ndarray]:
    n = 1000
    return [
        np.arange(n, dtype=np.int64),
        np.arange(0, 10 * n, 10, dtype=np.int64),
        np.zeros(n, dtype=np.int64),
        np.concatenate([np.arange(5), np.arange(100, 50, -1), np.full(7, 3), [9]]).astype(np.int64),
        rng.integers(I64.min, I64.max, n, dtype=np.int64, endpoint=True),
        np.array([I64.max - 2, I64.max - 1, I64.max, I64.min, I64.min + 1], dtype=np.int64),
        np.array([I64.max, I64.min, I64.max, I64.min, I64.max], dtype=np.int64),
        np.array([], dtype=np.int64),
        np.array([7], dtype=np.int64),
        np.array([7, 3], dtype=np.int64),
        np.array([1, 2, 3, 4], dtype=np.int64),
        np.repeat(np.arange(50, dtype=np.int64), 20),
    ]


def test_steps_round_trip_exactly_and_regular_ones_shrink() -> None:
    rng = np.random.default_rng(0)
    for steps in _step_cases(rng):
        codec, blob = encode_steps(steps)
        np.testing.assert_array_equal(decode_steps(codec, blob, len(steps)), steps)
        assert len(blob) <= 8 * len(steps)
    for regular in _step_cases(rng)[:3]:
        assert encode_steps(regular) == ("runs", encode_steps(regular)[1])
        assert len(encode_steps(regular)[1]) == 24
    for _ in range(200):  # piecewise progressions of random lengths, strides and starts
        parts = [
            int(rng.integers(-(10**12), 10**12)) + int(rng.integers(-5, 5)) * np.arange(k)
            for k in rng.integers(1, 30, rng.integers(1, 8))
        ]
        steps = np.concatenate(parts).astype(np.int64)
        codec, blob = encode_steps(steps)
        np.testing.assert_array_equal(decode_steps(codec, blob, len(steps)), steps)


def test_timestamps_round_trip_bit_for_bit() -> None:
    rng = np.random.default_rng(1)
    cases = [
        np.repeat([1.7e9, 1.7e9 + 0.02, 1.7e9 + 0.04], [400, 1, 599]),
        rng.random(500) * 1e9,
        np.array([0.0, -0.0, -0.0, math.nan, math.nan, math.inf, -math.inf, 0.0]),
        np.array([], dtype=np.float64),
        np.array([5.0]),
        np.full(10, math.nan),
    ]
    for ts in cases:
        codec, blob = encode_timestamps(ts)
        back = decode_timestamps(codec, blob, len(ts))
        assert back.tobytes() == ts.astype("<f8").tobytes()
        assert len(blob) <= 8 * len(ts)
    assert encode_timestamps(cases[0])[0] == "rle" and len(encode_timestamps(cases[0])[1]) == 48
    assert encode_timestamps(cases[1])[0] == "raw"


def test_unreadable_chunks_are_storage_errors() -> None:
    with pytest.raises(labline.StorageError, match="unreadable steps"):
        decode_steps("runs", np.zeros(3, dtype="<i8").tobytes(), 0)
    with pytest.raises(labline.StorageError, match="unreadable steps"):
        decode_steps("zstd", b"", 0)
    with pytest.raises(labline.StorageError, match="unreadable timestamps"):
        decode_timestamps("raw", b"\0" * 8, 2)


def _raw_chunks(store: SQLStore) -> list[tuple[int, bytes, bytes]]:
    with store.engine.connect() as conn:
        return [
            (r[0], r[1], r[2])
            for r in conn.execute(sa.text("SELECT n, steps, timestamps FROM metric_chunks"))
        ]


def test_migration_0004_downgrades_to_raw_chunks_and_upgrades_back(store_url: str) -> None:
    from alembic import command

    from labline.store.sql._store import _alembic_config

    store = SQLStore(store_url)
    run = store.create_run(store.create_experiment("x").id, "r")
    n = 1000
    steps, ts = np.arange(n, dtype=np.int64) * 3, np.repeat([1.0e9, 2.0e9], [600, 400])
    values = np.linspace(0, 1, n)
    store.append_metrics(run.id, {"loss": (steps, ts, values)})
    assert [len(s) + len(t) for _, s, t in _raw_chunks(store)] == [24 + 32]  # encoded
    cfg = _alembic_config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003_registry")
    [(count, raw_steps, raw_ts)] = _raw_chunks(store)
    assert count == n  # what labline before 0004 reads: plain arrays
    np.testing.assert_array_equal(np.frombuffer(raw_steps, "<i8"), steps)
    np.testing.assert_array_equal(np.frombuffer(raw_ts, "<f8"), ts)
    store.close()
    store = SQLStore(store_url)  # upgrades again; the raw chunk reads as before
    s = store.get_metric_series(run.id, "loss")
    np.testing.assert_array_equal(s.steps, steps)
    np.testing.assert_array_equal(s.timestamps, ts)
    np.testing.assert_array_equal(s.values, values)
    store.close()


def test_migration_0004_matches_the_orm_table(sql_store: SQLStore) -> None:
    store = sql_store
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from labline.store.sql._models import Base

    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(ctx, Base.metadata)
    assert [d for d in diffs if "metric_chunks" in repr(d)] == []
