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
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .._exceptions import DigestMismatchError, NotFoundError, StorageError
from .._imports import import_optional
from ..core._grammar import Digest
from ..core._hashing import sha256_file

_COPY_CHUNK = 1 << 20


def _check_digest(digest: str) -> str:
    """The bare hex a blob is stored under (``sha256:<hex>`` or the hex itself)."""
    return Digest.parse(digest).hex


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
            raise NotFoundError(self._missing(digest)) from None

    def _missing(self, digest: str) -> str:
        """Why a blob the metadata names is not here, and (in a local folder) the likely
        cause: it was logged on another machine into that machine's folder."""
        message = f"no blob sha256:{_check_digest(digest)} in {self.root}"
        if self._local:
            message += (
                " (blobs are kept in this local folder; if a teammate logged it against a "
                "shared database, it is in their folder: share blobs with "
                "LABLINE_ARTIFACT_URI=s3://bucket/prefix (any fsspec URL everyone reaches) or "
                "use a team server, LABLINE_URI=http://host:port with LABLINE_TOKEN)"
            )
        return message

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
            raise DigestMismatchError(
                label or self._rel(digest), expected, actual, location=self.location(expected)
            )
        return data

    def location(self, digest: str) -> str:
        """Where the blob lives: a local path, or the URL in the object store."""
        if self._local:
            return str(self._dir / self._rel(digest))
        return f"{self.root.rstrip('/')}/{self._rel(digest)}"

    def rehash(self, digest: str) -> str | None:
        """Re-hash a stored blob: the hex SHA-256 of its content now, or ``None`` if it is gone."""
        h = hashlib.sha256()
        buf = bytearray(_COPY_CHUNK)
        view = memoryview(buf)
        try:
            with self.open(digest) as f:
                while n := f.readinto(view):  # type: ignore[attr-defined]
                    h.update(view[:n])
        except NotFoundError:
            return None
        return h.hexdigest()

    def verify(self, digest: str) -> None:
        """Re-hash a stored blob.

        Raises:
            DigestMismatchError: its content changed or it is gone; names its location.
        """
        expected = _check_digest(digest)
        actual = self.rehash(expected)
        if actual != expected:
            raise DigestMismatchError(
                self._rel(expected), expected, actual, location=self.location(expected)
            )

    def copy_verified(
        self, digest: str, dest: str | os.PathLike[str], *, label: str | None = None
    ) -> None:
        """Copy a blob to the local file ``dest``, hashing the bytes as they are written.

        One read of the blob: what is hashed is exactly what is written. ``dest`` is left
        behind on failure; callers write into a temporary folder they discard.

        Raises:
            NotFoundError: no such blob.
            DigestMismatchError: the blob's content differs from ``digest``; names ``label``
                (default: the blob's name) and the blob's location.
        """
        expected = _check_digest(digest)
        h = hashlib.sha256()
        buf = bytearray(_COPY_CHUNK)
        view = memoryview(buf)
        with self.open(expected) as src, open(dest, "wb") as out:
            while n := src.readinto(view):  # type: ignore[attr-defined]
                h.update(view[:n])
                out.write(view[:n])
        actual = h.hexdigest()
        if actual != expected:
            raise DigestMismatchError(
                label or self._rel(expected), expected, actual, location=self.location(expected)
            )

    def download_verified(
        self, digest: str, dest: str | os.PathLike[str], *, label: str | None = None
    ) -> Path:
        """Copy a blob to the file ``dest`` (see :meth:`copy_verified`), which appears, by an
        atomic rename, only if every byte matched ``digest``.

        Raises:
            NotFoundError: no such blob.
            DigestMismatchError: the stored content changed; nothing is left at ``dest``.
        """
        target = Path(dest)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        os.close(fd)
        try:
            self.copy_verified(digest, tmp, label=label)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def stat(self, digest: str) -> tuple[int, float]:
        """``(size in bytes, modification time in seconds since the epoch)`` of a blob.

        Raises:
            NotFoundError: no such blob.
        """
        rel = self._rel(digest)
        try:
            if self._local:
                st = (self._dir / rel).stat()
                return st.st_size, st.st_mtime
            info = self._fs.info(f"{self._base}/{rel}")
        except FileNotFoundError:
            raise NotFoundError(f"no blob sha256:{_check_digest(digest)} in {self.root}") from None
        except Exception as e:  # fsspec backends raise their own types
            raise StorageError(f"cannot read blob {digest} in {self.root}: {e}") from e
        when = info.get("mtime") or info.get("LastModified") or info.get("created") or 0.0
        return int(info.get("size") or 0), when.timestamp() if hasattr(
            when, "timestamp"
        ) else float(when)

    def delete(self, digest: str) -> None:
        """Remove a blob (``labline gc`` does, once nothing references it).

        Raises:
            NotFoundError: no such blob.
            StorageError: the store refused.
        """
        rel = self._rel(digest)
        try:
            if self._local:
                (self._dir / rel).unlink()
            else:
                self._fs.rm_file(f"{self._base}/{rel}")
        except FileNotFoundError:
            raise NotFoundError(f"no blob sha256:{_check_digest(digest)} in {self.root}") from None
        except OSError as e:
            raise StorageError(f"cannot remove blob {digest} from {self.root}: {e}") from e
        except Exception as e:  # fsspec backends raise their own types
            raise StorageError(f"cannot remove blob {digest} from {self.root}: {e}") from e

    def iter_digests(self) -> Iterator[str]:
        """The hex digest of every stored blob (by its name), in no particular order."""
        if self._local:
            for sub in sorted(self._dir.iterdir()):
                if len(sub.name) != 2 or not sub.is_dir():
                    continue
                for blob in sorted(sub.iterdir()):
                    name = blob.name
                    if Digest.is_hex(name) and name[:2] == sub.name:
                        yield name
            return
        try:
            paths = self._fs.find(self._base)
        except Exception as e:  # fsspec backends raise their own types
            raise StorageError(f"cannot list blobs in {self.root}: {e}") from e
        for path in sorted(paths):
            name = str(path).rsplit("/", 1)[-1]
            if Digest.is_hex(name):
                yield name
