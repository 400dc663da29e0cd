"""Large data files of a package: hashed through a private memory map, loaded from that map.

A :class:`MappedFile` maps the file once. :meth:`MappedFile.sha256` hashes the mapping (one
read of the file, at the speed of SHA-256 itself), and loaders then take the weights from the
same mapping: safetensors tensors and ``.npy`` arrays are views of it (no copy at all). Pages
are handed back to the page cache as soon as they have been hashed, so hashing holds no second
copy of the file in the process's memory; views fault their pages back in when first used.
skops, which copies every array it reads out of its zip file anyway, reads the file itself
through :meth:`MappedFile.open` (no page faults), refused if the file changed since it was
mapped.

The mapping is private (copy-on-write): a model that writes to its weights changes its own
copy, never the file. It is only used for data formats whose loaders run no code of the
file's choosing; code and pickles are read into memory and hashed from those bytes.
"""

from __future__ import annotations

import hashlib
import mmap
import os
from pathlib import Path
from typing import BinaryIO, TypeAlias

from .._exceptions import IntegrityError

_HASH_CHUNK = 16 << 20  # a multiple of every page size
_PAGE = mmap.PAGESIZE
_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)


class MappedFile:
    """A file mapped once (private, copy-on-write), to be hashed and then loaded in place.

    Args:
        path: the file; must not be empty.

    Raises:
        FileNotFoundError, IsADirectoryError, NotADirectoryError: no regular file at ``path``.
        ValueError: the file is empty.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        # the mapping keeps its own reference to the file: the descriptor is not needed after
        with open(path, "rb", buffering=0) as f:
            st = os.fstat(f.fileno())
            self.size = st.st_size
            self._identity = _identity(st)
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)

    def __repr__(self) -> str:
        return f"<MappedFile {self.path} {self.size} bytes>"

    def release(self, start: int, stop: int) -> None:
        """Hand the whole pages inside ``[start, stop)`` back to the page cache.

        Unwritten pages of a private mapping are the file's own pages: dropping them frees
        this process's share of memory and the next access reads them back from the cache.
        """
        first = -(-start // _PAGE) * _PAGE
        last = stop // _PAGE * _PAGE
        if _DONTNEED is not None and last > first:
            self._map.madvise(_DONTNEED, first, last - first)

    def sha256(self) -> str:
        """The hex SHA-256 of the mapped bytes (one pass; pages released as they are hashed)."""
        h = hashlib.sha256()
        with memoryview(self._map) as view:
            for start in range(0, self.size, _HASH_CHUNK):
                stop = min(start + _HASH_CHUNK, self.size)
                h.update(view[start:stop])
                self.release(start, stop)
        return h.hexdigest()

    def buffer(self) -> memoryview:
        """A writable view of the whole mapping: arrays built on it share its pages."""
        return memoryview(self._map)

    def open(self) -> BinaryIO:
        """Open the mapped file for reading, for loaders that copy what they read anyway.

        Reading through the file costs no page faults, unlike reading the mapping. The file
        must still be the one that was mapped and hashed: same inode, size and modification
        time (a file replaced or rewritten since is refused).

        Raises:
            IntegrityError: the file changed since it was mapped.
        """
        f = open(self.path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
        if _identity(os.fstat(f.fileno())) != self._identity:
            f.close()
            raise IntegrityError(f"{str(self.path)!r} changed after it was verified")
        return f


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


PackageFile: TypeAlias = bytes | MappedFile
"""A verified file of a package as a loader receives it: its bytes, or the verified mapping."""
