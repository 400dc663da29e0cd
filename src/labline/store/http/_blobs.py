"""Blobs through ``labline server``: the blob store of ``LABLINE_URI=http://...``.

Uploads are content-addressed: the digest is computed locally, a ``HEAD`` skips what the server
already has, and the server checks the digest on arrival. Files larger than
``CHUNKED_ABOVE`` go in chunks of ``CHUNK_BYTES`` (an interrupted upload resumes at the offset
the server reports). Downloads are streamed to disk and hashed as they arrive.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ..._exceptions import (
    ConflictError,
    DigestMismatchError,
    InvalidArgumentError,
    NotFoundError,
)
from ...artifacts import BlobStore
from ...core._grammar import Digest
from ...core._hashing import sha256_file
from ._transport import HttpTransport

__all__ = ["CHUNKED_ABOVE", "CHUNK_BYTES", "HttpBlobStore"]

CHUNKED_ABOVE = 64 * 1024 * 1024
"""Files larger than this are uploaded in chunks."""

CHUNK_BYTES = 16 * 1024 * 1024
"""Size of one chunk of a chunked upload."""


class HttpBlobStore(BlobStore):
    """The blobs of a ``labline server`` (see the module docstring). Thread-safe."""

    def __init__(self, transport: HttpTransport, *, chunked_above: int = CHUNKED_ABOVE) -> None:
        # no local folder: every blob lives on the server
        self.root = f"{transport.base_url}/api/v1/blobs"
        self._local = False
        self._http = transport
        self.chunked_above = chunked_above

    def local_path(self, digest: str) -> Path | None:
        """None: the blobs are on the server."""
        return None

    def location(self, digest: str) -> str:
        """The blob's URL on the server."""
        return f"{self.root}/{Digest.parse(digest).hex}"

    def exists(self, digest: str) -> bool:
        """Whether the server has the blob (one ``HEAD``)."""
        response = self._http.request("HEAD", f"/blobs/{Digest.parse(digest).hex}", ok=(404,))
        return response.status_code == 200

    def put_bytes(self, data: bytes | bytearray | memoryview) -> str:
        """Upload ``data`` unless the server has it; return its hex digest."""
        digest = hashlib.sha256(data).hexdigest()
        if not self.exists(digest):
            self._http.request(
                "PUT",
                f"/blobs/{digest}",
                content=bytes(data),
                headers={"content-type": "application/octet-stream"},
                idempotent=True,
            )
        return digest

    def put_file(self, path: str | os.PathLike[str]) -> str:
        """Upload the file at ``path`` unless the server has it (in chunks when large);
        return its hex digest."""
        digest = sha256_file(path)
        if self.exists(digest):
            return digest
        size = Path(path).stat().st_size
        if size <= self.chunked_above:
            self._http.request(
                "PUT",
                f"/blobs/{digest}",
                content=Path(path).read_bytes(),
                headers={"content-type": "application/octet-stream"},
                idempotent=True,
            )
            return digest
        upload = self._http.json("POST", "/blobs/uploads", idempotent=False)["upload_id"]
        offset = 0
        with open(path, "rb") as f:
            while offset < size:
                f.seek(offset)
                chunk = f.read(CHUNK_BYTES)
                try:
                    reply = self._http.json(
                        "PATCH",
                        f"/blobs/uploads/{upload}",
                        params={"offset": offset},
                        content=chunk,
                        headers={"content-type": "application/octet-stream"},
                        idempotent=False,
                    )
                    offset = int(reply["offset"])
                except ConflictError:  # a retried chunk arrived after all: resume where it is
                    offset = int(self._http.json("GET", f"/blobs/uploads/{upload}")["offset"])
        self._http.json(
            "POST",
            f"/blobs/uploads/{upload}/commit",
            params={"digest": digest},
            idempotent=False,
        )
        return digest

    def copy_verified(
        self, digest: str, dest: str | os.PathLike[str], *, label: str | None = None
    ) -> None:
        """Stream a blob into the local file ``dest``, hashing it as it arrives.

        Raises:
            NotFoundError: the server has no such blob.
            DigestMismatchError: the bytes differ from ``digest``.
        """
        expected = Digest.parse(digest).hex
        h = hashlib.sha256()
        with self._http.stream(f"/blobs/{expected}") as response, open(dest, "wb") as out:
            for chunk in response.iter_bytes(1 << 20):
                h.update(chunk)
                out.write(chunk)
        if h.hexdigest() != expected:
            raise DigestMismatchError(
                label or f"sha256:{expected}",
                expected,
                h.hexdigest(),
                location=self.location(expected),
            )

    def open(self, digest: str) -> IO[bytes]:
        """The blob's bytes, downloaded (and verified) into a temporary file opened for
        reading. Raises NotFoundError."""
        fd, tmp = tempfile.mkstemp(prefix="labline-blob-")
        os.close(fd)
        try:
            self.copy_verified(digest, tmp)
            return open(tmp, "rb")  # the caller closes it
        finally:
            os.unlink(tmp)  # the open file keeps the bytes until it is closed

    def get_bytes(self, digest: str) -> bytes:
        """A whole blob. Raises NotFoundError."""
        return self._http.request("GET", f"/blobs/{Digest.parse(digest).hex}").content

    def stat(self, digest: str) -> tuple[int, float]:
        """``(size, now)``: the server keeps blob times to itself. Raises NotFoundError."""
        response = self._http.request("HEAD", f"/blobs/{Digest.parse(digest).hex}", ok=(404,))
        if response.status_code == 404:
            raise NotFoundError(f"no blob sha256:{Digest.parse(digest).hex} on {self.root}")
        return int(response.headers.get("content-length", 0)), time.time()

    def delete(self, digest: str) -> None:
        """Refused: unreferenced blobs are collected on the server (``POST /api/v1/gc``)."""
        raise InvalidArgumentError(_GC_ON_SERVER)

    def iter_digests(self) -> Iterator[str]:
        """Refused: unreferenced blobs are collected on the server (``POST /api/v1/gc``)."""
        raise InvalidArgumentError(_GC_ON_SERVER)


_GC_ON_SERVER = (
    "blobs behind labline server are collected by the server: run `labline gc` where it runs, "
    "or POST /api/v1/gc with an admin token"
)
