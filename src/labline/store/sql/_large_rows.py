"""Reading rows that carry large binary columns (packed metric chunks).

PostgreSQL sends query results as text unless the client asks for binary: a ``bytea`` value
then travels hex-encoded, twice its size, encoded by the server and decoded by the driver.
For a million-point series (16 MB of steps and values) that is most of the read: fetched in
binary it took a fifth of the time on the benchmark machine (see ``benchmarks/bench_ui.py``).
SQLAlchemy has no switch for binary results, so on PostgreSQL with psycopg the statement runs
on the session's own connection (same transaction) through a binary cursor; any other database
(SQLite returns blobs as bytes anyway) runs it as usual.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, exc
from sqlalchemy.orm import Session

__all__ = ["fetch_large_rows"]


def fetch_large_rows(session: Session, query: Select[Any]) -> list[tuple[Any, ...]]:
    """All rows of ``query`` as tuples, binary columns fetched as binary where that is faster.

    Driver errors come out as SQLAlchemy's (``DBAPIError`` subclasses), as from
    ``session.execute``, so the store's session scope translates them.
    """
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql" or dialect.driver != "psycopg":
        return [tuple(row) for row in session.execute(query)]
    compiled = query.compile(dialect=dialect)
    statement, parameters = str(compiled), compiled.params
    driver_connection: Any = connection.connection.driver_connection
    try:
        with driver_connection.cursor(binary=True) as cursor:
            cursor.execute(statement, parameters)
            return [tuple(row) for row in cursor.fetchall()]
    except dialect.loaded_dbapi.Error as e:
        raise exc.DBAPIError.instance(
            statement, parameters, e, dialect.loaded_dbapi.Error, dialect=dialect
        ) from e
