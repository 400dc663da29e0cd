"""Rows with large binary columns: fetched as binary on PostgreSQL, as usual elsewhere; the
same rows either way, and driver errors still become labline's own."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa

from labline import StorageError
from labline.store.sql import SQLStore
from labline.store.sql._large_rows import fetch_large_rows
from labline.store.sql._models import MetricChunkRow


def test_binary_fetch_returns_the_rows_session_execute_returns(store_url: str) -> None:
    store = SQLStore(store_url)
    try:
        run = store.create_run(store.create_experiment("x").id, "r")
        values = np.random.default_rng(1).normal(size=50_000)
        store.append_metrics(run.id, {"m": (np.arange(values.size), np.zeros(values.size), values)})
        query = sa.select(MetricChunkRow.n, MetricChunkRow.steps_codec, MetricChunkRow.values)
        with store._session() as s:
            fast = fetch_large_rows(s, query.where(MetricChunkRow.run_id == run.id))
            usual = [tuple(r) for r in s.execute(query.where(MetricChunkRow.run_id == run.id))]
        assert fast == usual
        assert np.frombuffer(fast[0][2], dtype="<f8").tolist() == values.tolist()
    finally:
        store.close()


def test_a_driver_error_becomes_a_storage_error(store_url: str) -> None:
    store = SQLStore(store_url)
    try:
        missing = sa.table("no_such_table", sa.column("x"))
        with pytest.raises(StorageError), store._session() as s:
            fetch_large_rows(s, sa.select(missing.c.x))
    finally:
        store.close()
