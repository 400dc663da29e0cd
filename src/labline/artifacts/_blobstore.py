"""BlobStore: content-addressed blobs named by their SHA-256.

Identical content is stored once. A blob is written to a temporary name and renamed into
place, so a crash mid-write never leaves a truncated blob under a valid digest; readers that
want certainty call :meth:`BlobStore.verify`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any

from .._exceptions import DigestMismatchError, InvalidArgumentError, NotFoundError, StorageError
from .._imports import import_optional
from ..core._hashing import sha256_file

_HEX = frozenset("0123456789abcdef")


def _check_digest(digest: str) -> str:
    d = digest.removeprefix("sha256:")
    if len(d) != 64 or not set(d) <= _HEX:
        raise InvalidArgumentError(f"not a SHA-256 hex digest: {digest[:80]!r}")
    return d


class BlobStore:
    """Blobs under ``root`` (a local path or an fsspec URL such as ``s3://bucket/prefix``).

    Thread- and process-safe: writes are atomic renames of complete files, and two writers of
    the same content write the same bytes.

    Example:
        >>> import tempfile
        >>> blobs = BlobStore(tempfile.mkdtemp())
        >>> d = blobs.put_bytes(b"hello")
        >>> blobs.get_bytes(d)
        b'hello'
    """

    def __init__(self, root: str) -> None:
        self.root = root
        self._local = "://" not in root or root.startswith("file://")
        if self._local:
            self._dir = Path(root.removeprefix("file://"))
            self._dir.mkdir(parents=True, exist_ok=True)
            self._fs: Any = None
        else:
            fsspec = import_optional("fsspec", "all")
            self._fs, self._base = fsspec.core.url_to_fs(root)

    def _rel(self, digest: str) -> str:
        d = _check_digest(digest)
        return f"{d[:2]}/{d}"

    def local_path(self, digest: str) -> Path | None:
        """The blob's path on local disk, or None for remote stores."""
        return self._dir / self._rel(digest) if self._local else None

    def exists(self, digest: str) -> bool:
        """Whether a blob with this digest is stored."""
        if self._local:
            return (self._dir / self._rel(digest)).is_file()
        return bool(self._fs.exists(f"{self._base}/{self._rel(digest)}"))

    def put_bytes(self, data: bytes | bytearray | memoryview) -> str:
        """Store ``data``; return its hex SHA-256 digest."""
        digest = hashlib.sha256(data).hexdigest()
        if self.exists(digest):
            return digest
        if self._local:
            target = self._dir / self._rel(digest)
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        else:
            try:
                self._fs.pipe_file(f"{self._base}/{self._rel(digest)}", bytes(data))
            except Exception as e:  # fsspec backends raise their own types
                raise StorageError(f"cannot write blob {digest} to {self.root}: {e}") from e
        return digest

    def put_file(self, path: str | os.PathLike[str]) -> str:
        """Store the file at ``path`` (streamed, not read into memory); return its digest."""
        digest = sha256_file(path)
        if self.exists(digest):
            return digest
        if self._local:
            target = self._dir / self._rel(digest)
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            os.close(fd)
            try:
                shutil.copyfile(path, tmp)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        else:
            try:
                self._fs.put_file(str(path), f"{self._base}/{self._rel(digest)}")
            except Exception as e:
                raise StorageError(f"cannot write blob {digest} to {self.root}: {e}") from e
        return digest

    def open(self, digest: str) -> IO[bytes]:
        """Open a blob for reading. Raises NotFoundError."""
        try:
            if self._local:
                return open(self._dir / self._rel(digest), "rb")
            f: IO[bytes] = self._fs.open(f"{self._base}/{self._rel(digest)}", "rb")
            return f
        except FileNotFoundError:
            raise NotFoundError(f"no blob sha256:{_check_digest(digest)} in {self.root}") from None

    def get_bytes(self, digest: str) -> bytes:
        """Read a whole blob. Raises NotFoundError."""
        with self.open(digest) as f:
            return f.read()

    def get_verified_bytes(self, digest: str, *, label: str | None = None) -> bytes:
        """Read a whole blob and check it still hashes to ``digest`` (one read, no window
        between check and use).

        Raises:
            NotFoundError: no such blob.
            DigestMismatchError: its content changed; names ``label`` (or the blob path).
        """
        data = self.get_bytes(digest)
        actual = hashlib.sha256(data).hexdigest()
        expected = _check_digest(digest)
        if actual != expected:
            raise DigestMismatchError(label or self._rel(digest), expected, actual)
        return data

    def verify(self, digest: str) -> None:
        """Re-hash a stored blob. Raises DigestMismatchError if its content changed."""
        h = hashlib.sha256()
        with self.open(digest) as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        actual = h.hexdigest()
        if actual != _check_digest(digest):
            raise DigestMismatchError(self._rel(digest), _check_digest(digest), actual)
