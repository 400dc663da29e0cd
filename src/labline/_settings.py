"""Explicit configuration.

Only entry points (the CLI, the servers, the module-level convenience functions in
``labline``) call :meth:`Settings.from_env`; everything below them receives a ``Settings``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


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
