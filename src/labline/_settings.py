"""Explicit configuration.

Only entry points (the CLI, the servers, the module-level convenience functions in
``labline``) call :meth:`Settings.from_env`; everything below them receives a ``Settings``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ._exceptions import InvalidArgumentError


def redact_uri(uri: str) -> str:
    """``uri`` with its password replaced by ``***``, fit for a message or a log line.

    Example:
        >>> redact_uri("postgresql+psycopg://ann:s3cret@db:5432/labline")
        'postgresql+psycopg://ann:***@db:5432/labline'
    """
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


@dataclass(frozen=True)
class Settings:
    """Where labline keeps its metadata and artifacts.

    Attributes:
        home: local folder of the embedded store (``./.labline`` by default).
        uri: metadata store URL: ``sqlite:///...``, ``postgresql+psycopg://...``, or
            ``http://host:port`` for a ``labline server`` (its blobs then go through it too).
        artifact_uri: artifact root: a local path or any fsspec URL (``s3://bucket/prefix``);
            unused with a server.
        token: the ``labline server`` token (``LABLINE_TOKEN``); never shown in a repr.
        max_buffered_points: metric points a run may hold in memory before they are written
            (``LABLINE_MAX_BUFFERED_POINTS``); beyond it ``log_metric`` blocks until the
            writer catches up (a store that is down), and warns once.
    """

    home: Path
    uri: str
    artifact_uri: str
    token: str | None = field(default=None, repr=False)
    max_buffered_points: int = 20_000_000

    @property
    def is_remote(self) -> bool:
        """Whether the store is a ``labline server`` (``http://`` or ``https://``)."""
        return self.uri.startswith(("http://", "https://"))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``LABLINE_HOME``, ``LABLINE_URI``, ``LABLINE_ARTIFACT_URI``, ``LABLINE_TOKEN``
        and ``LABLINE_MAX_BUFFERED_POINTS``.

        Example:
            >>> s = Settings.from_env({"LABLINE_HOME": "/tmp/x"})
            >>> s.uri
            'sqlite:////tmp/x/labline.db'
        """
        env = os.environ if environ is None else environ
        home = Path(env.get("LABLINE_HOME") or Path.cwd() / ".labline").absolute()
        uri = env.get("LABLINE_URI") or f"sqlite:///{home / 'labline.db'}"
        artifact_uri = env.get("LABLINE_ARTIFACT_URI") or str(home / "blobs")
        token = env.get("LABLINE_TOKEN") or None
        limit = env.get("LABLINE_MAX_BUFFERED_POINTS", "").strip()
        if limit and not (limit.isdigit() and int(limit) > 0):
            raise InvalidArgumentError("LABLINE_MAX_BUFFERED_POINTS must be a positive integer")
        return cls(
            home=home,
            uri=uri,
            artifact_uri=artifact_uri,
            token=token,
            max_buffered_points=int(limit) if limit else 20_000_000,
        )

    @classmethod
    def local(cls, home: str | os.PathLike[str]) -> Settings:
        """Settings for an embedded store rooted at ``home``."""
        h = Path(home).absolute()
        return cls(home=h, uri=f"sqlite:///{h / 'labline.db'}", artifact_uri=str(h / "blobs"))

    @property
    def shares_metadata_only(self) -> bool:
        """Whether runs go to a shared database (PostgreSQL) while blobs stay in a local folder,
        out of teammates' reach.

        Example:
            >>> from pathlib import Path
            >>> db = "postgresql+psycopg://db/labline"
            >>> Settings(Path("/h"), db, "/h/blobs").shares_metadata_only
            True
            >>> Settings(Path("/h"), db, "s3://team/blobs").shares_metadata_only
            False
        """
        shared = self.uri.split(":", 1)[0].startswith("postgresql")
        local = "://" not in self.artifact_uri or self.artifact_uri.startswith("file://")
        return shared and local
