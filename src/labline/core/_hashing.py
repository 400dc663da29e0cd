"""SHA-256 hashing of bytes, files and folders."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_CHUNK = 1 << 20


def sha256_bytes(data: bytes | bytearray | memoryview) -> str:
    """Return the hex SHA-256 digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex SHA-256 digest of the file at ``path``, read in 1 MiB chunks.

    Raises:
        FileNotFoundError: the file does not exist.
    """
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def iter_files(root: str | os.PathLike[str]) -> list[Path]:
    """Return the regular files below ``root``, sorted, as paths relative to ``root``."""
    base = Path(root)
    return sorted(p.relative_to(base) for p in base.rglob("*") if p.is_file())
