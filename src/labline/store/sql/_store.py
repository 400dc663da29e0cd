"""SQLStore: the SQLAlchemy implementation of :class:`~labline.store.MetadataStore`.

The engine, the schema-version check (Alembic, migrations shipped in this package) and the one
session scope that every method goes through live here; the methods themselves live in mixins
by area (``_tracking``, ``_hypotheses``, ``_registry``).
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from ..._exceptions import AlreadyExistsError, LablineError, SchemaVersionError, StorageError
from ...core._types import SchemaStatus
from .._base import MetadataStore
from ._calibration import CalibrationSQLMixin
from ._hypotheses import HypothesisSQLMixin
from ._labelled import LabelledSQLMixin
from ._lifecycle import LifecycleSQLMixin
from ._mlflow_models import MlflowModelSQLMixin
from ._registry import RegistrySQLMixin
from ._review import ReviewSQLMixin
from ._sweeps import SweepSQLMixin
from ._tokens import TokenSQLMixin

_MIGRATIONS = Path(__file__).parent / "migrations"


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def driver_message(e: BaseException) -> str:
    """The first line of the database driver's own message: never the SQL statement or its
    parameters, which SQLAlchemy appends and which can carry stored values."""
    orig = getattr(e, "orig", None) or e
    text = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {text[0][:300]}" if text else type(orig).__name__


def head_revision() -> str:
    """The schema revision this version of labline needs."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


class SQLStore(
    LifecycleSQLMixin,
    SweepSQLMixin,
    HypothesisSQLMixin,
    RegistrySQLMixin,
    CalibrationSQLMixin,
    ReviewSQLMixin,
    TokenSQLMixin,
    LabelledSQLMixin,
    MlflowModelSQLMixin,
    MetadataStore,
):
    """Metadata store on SQLite (WAL mode) or PostgreSQL.

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:////abs/path/labline.db`` or
            ``postgresql+psycopg://user@host:5432/db``.
        stale_after: seconds without a heartbeat after which a running run is reported stale.
        upgrade: bring an older schema up to date at start-up (a newer, unknown one is refused).

    Raises:
        SchemaVersionError: the database was written by a newer labline.
        StorageError: the database cannot be reached.

    Example:
        >>> store = SQLStore("sqlite:///:memory:")
        >>> store.create_experiment("digits").name
        'digits'
    """

    def __init__(self, url: str, *, stale_after: float = 30.0, upgrade: bool = True) -> None:
        self.url = url
        self.stale_after = stale_after
        u = make_url(url)
        self.dialect = u.get_backend_name()
        kwargs: dict[str, Any] = {}
        if self.dialect == "sqlite":
            if u.database and u.database != ":memory:":
                Path(u.database).parent.mkdir(parents=True, exist_ok=True)
                kwargs["connect_args"] = {"timeout": 60, "check_same_thread": False}
            else:
                kwargs["poolclass"] = sa.pool.StaticPool
                kwargs["connect_args"] = {"check_same_thread": False}
        else:
            kwargs["pool_pre_ping"] = True
        try:
            self.engine = sa.create_engine(url, **kwargs)
        except (exc.SQLAlchemyError, ImportError) as e:
            raise StorageError(
                f"cannot open metadata store {u.render_as_string()}: {driver_message(e)}"
            ) from e
        if self.dialect == "sqlite":
            self._setup_sqlite()
        self._write_engine = self.engine.execution_options(labline_write=True)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self._write_engine, expire_on_commit=False)
        self._lock = threading.Lock()
        self._check_schema(upgrade)

    # -- engine ------------------------------------------------------------------------------
    def _setup_sqlite(self) -> None:
        @event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
            # Let SQLAlchemy, not pysqlite, decide when transactions begin (see "begin" below).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @event.listens_for(self.engine, "begin")
        def _on_begin(conn: sa.Connection) -> None:
            # Writers take the write lock up front: a deferred transaction that reads and then
            # writes fails at once with SQLITE_BUSY when another process wrote in between,
            # while BEGIN IMMEDIATE waits for the lock (busy_timeout) and then succeeds.
            if conn.get_execution_options().get("labline_write"):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql("BEGIN")

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        if self.dialect == "sqlite":
            db = make_url(self.url).database
            if not db or db == ":memory:":
                yield
                return
            with open(f"{db}.migrate.lock", "a+b") as f:
                fcntl.flock(f, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(f, fcntl.LOCK_UN)
        else:
            key = zlib.crc32(b"labline-migrations")
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": key})
                conn.commit()
                try:
                    yield
                finally:
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()

    def _current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def _check_schema(self, upgrade: bool) -> None:
        head = head_revision()
        try:
            self._revision_at_open = self._current_revision()
            if self._revision_at_open == head:
                return
            with self._migration_lock():
                current = self._current_revision()
                if current == head:
                    return
                known = {
                    s.revision
                    for s in ScriptDirectory.from_config(_alembic_config()).walk_revisions()
                }
                if current is not None and current not in known:
                    raise SchemaVersionError(
                        f"the database schema is at revision {current!r}, unknown to this labline "
                        f"(which needs {head!r}); upgrade labline"
                    )
                if not upgrade:
                    raise SchemaVersionError(
                        f"the database schema is at revision {current!r}, this labline needs {head!r}; "
                        "run `labline db upgrade`"
                    )
                self.upgrade()
        except exc.SQLAlchemyError as e:
            raise StorageError(f"cannot open metadata store: {driver_message(e)}") from e

    def upgrade(self) -> None:
        """Apply every pending migration (the caller holds the migration lock)."""
        from alembic import command

        cfg = _alembic_config()
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def upgrade_schema(self) -> SchemaStatus:
        head = head_revision()
        try:
            with self._migration_lock():
                current = self._current_revision()
                if current != head:
                    known = {
                        s.revision
                        for s in ScriptDirectory.from_config(_alembic_config()).walk_revisions()
                    }
                    if current is not None and current not in known:
                        raise SchemaVersionError(
                            f"the database schema is at revision {current!r}, unknown to this "
                            f"labline (which needs {head!r}); upgrade labline"
                        )
                    self.upgrade()
        except exc.SQLAlchemyError as e:
            raise StorageError(f"cannot upgrade metadata store: {driver_message(e)}") from e
        return SchemaStatus(before=self._revision_at_open, after=head)

    def schema_revision(self) -> str | None:
        """The revision the database is at."""
        return self._current_revision()

    # -- the one session scope -----------------------------------------------------------------
    @contextlib.contextmanager
    def _session(self, *, write: bool = False) -> Iterator[Session]:
        """Commit on success, roll back on error, translate driver errors into labline's own."""
        session = (self._write if write else self._read)()
        try:
            yield session
            session.commit()
        except LablineError:
            session.rollback()
            raise
        except exc.IntegrityError as e:
            session.rollback()
            raise AlreadyExistsError(f"already exists: {driver_message(e)}") from e
        except exc.SQLAlchemyError as e:
            session.rollback()
            raise StorageError(f"metadata store error: {driver_message(e)}") from e
        finally:
            session.close()

    def close(self) -> None:
        """Dispose of the connection pool."""
        self.engine.dispose()
