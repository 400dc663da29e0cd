"""Explicit configuration.

Only entry points (the CLI, the servers, the module-level convenience functions in
``labline``) call :meth:`Settings.from_env`; everything below them receives a ``Settings``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


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
        uri: metadata store URL: ``sqlite:///...`` or ``postgresql+psycopg://...``.
        artifact_uri: artifact root: a local path or any fsspec URL (``s3://bucket/prefix``).
    """

    home: Path
    uri: str
    artifact_uri: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``LABLINE_HOME``, ``LABLINE_URI`` and ``LABLINE_ARTIFACT_URI``.

        Example:
            >>> s = Settings.from_env({"LABLINE_HOME": "/tmp/x"})
            >>> s.uri
            'sqlite:////tmp/x/labline.db'
        """
        env = os.environ if environ is None else environ
        home = Path(env.get("LABLINE_HOME") or Path.cwd() / ".labline").absolute()
        uri = env.get("LABLINE_URI") or f"sqlite:///{home / 'labline.db'}"
        artifact_uri = env.get("LABLINE_ARTIFACT_URI") or str(home / "blobs")
        return cls(home=home, uri=uri, artifact_uri=artifact_uri)

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
