"""SHA-256 hashing of bytes, files and folders."""

from __future__ import annotations

import hashlib
import mmap
import os
from pathlib import Path

_CHUNK = 1 << 20
_MMAP_MIN = 1 << 20


def sha256_bytes(data: bytes | bytearray | memoryview) -> str:
    """Return the hex SHA-256 digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex SHA-256 digest of the file at ``path`` without loading it into memory.

    Raises:
        FileNotFoundError: the file does not exist.
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size >= _MMAP_MIN:
            # Hashing the page cache through a read-only mapping avoids copying the bytes
            # into Python buffers: this runs at the speed of hashlib.sha256 on memory.
            try:
                with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                    return hashlib.sha256(mm).hexdigest()
            except (OSError, ValueError):  # not mappable (special file, size changed)
                f.seek(0)
        return hashlib.file_digest(f, "sha256").hexdigest()


def iter_files(root: str | os.PathLike[str]) -> list[Path]:
    """Return the regular files below ``root``, sorted, as paths relative to ``root``."""
    base = Path(root)
    return sorted(p.relative_to(base) for p in base.rglob("*") if p.is_file())


def sha256_read(path: str | os.PathLike[str]) -> tuple[bytes, str]:
    """Read the whole file at ``path`` and hash it; return ``(content, hex digest)``.

    The digest is computed over exactly the bytes returned, so a caller that checks the
    digest and then uses the content (imports code, unpickles) has no window in which the
    file could be swapped under it.

    Raises:
        FileNotFoundError: the file does not exist.
    """
    with open(path, "rb", buffering=0) as f:
        data = f.read()
    return data, hashlib.sha256(data).hexdigest()
