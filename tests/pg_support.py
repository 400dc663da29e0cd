"""The PostgreSQL server the tests use (127.0.0.1:5432, db ``test``, or ``LABLINE_TEST_PG``):
whether it is reachable, and a fresh schema per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

PG_BASE = os.environ.get("LABLINE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(
            PG_BASE.replace("postgresql+psycopg", "postgresql"), connect_timeout=3
        ):
            return True
    except Exception:
        return False


PG_AVAILABLE = _pg_available()
REQUIRE_PG = os.environ.get("CI") == "true" or os.environ.get("LABLINE_REQUIRE_PG") == "1"


def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    raw = PG_BASE.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(raw, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(raw, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
