"""``/api/v1/blobs``: content-addressed blobs through the server.

* ``HEAD /blobs/{digest}`` says whether the server has a blob (an uploader skips what it has).
* ``PUT /blobs/{digest}`` uploads a whole blob; the digest is checked on arrival (400 naming
  ``digest`` on a mismatch, nothing stored).
* Large files go in chunks: ``POST /blobs/uploads`` opens an upload, ``PATCH
  /blobs/uploads/{id}?offset=N`` appends a chunk at ``N`` (409 with the current offset when it
  does not follow, so an interrupted upload resumes), ``POST /blobs/uploads/{id}/commit
  ?digest=...`` checks and stores it.
* ``GET /blobs/{digest}`` streams a blob, hashed as it is read.

Uploads are written to files under the server's home (``uploads/``), never held in memory.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from .. import Client, ConflictError, NotFoundError
from ._errors import ERROR_RESPONSES
from ._permissions import request_client, requires
from ._principal import Permission
from ._schemas_records import BlobOut, UploadOut

__all__ = ["router"]

router = APIRouter(prefix="/blobs", tags=["blobs"], responses=ERROR_RESPONSES)
ClientDep = Annotated[Client, Depends(request_client)]
READ, WRITE = requires(Permission.READ), requires(Permission.WRITE_RUNS)
DigestQuery = Annotated[str, Query(pattern=r"^(sha256:)?[0-9a-f]{64}$")]
_BINARY_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _uploads(client: Client) -> Path:
    folder = client.settings.home / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _upload_path(client: Client, upload_id: str) -> Path:
    if len(upload_id) != 32 or any(c not in "0123456789abcdef" for c in upload_id):
        raise NotFoundError(f"no upload {upload_id[:40]!r}")
    path = _uploads(client) / f"{upload_id}.part"
    if not path.is_file():
        raise NotFoundError(f"no upload {upload_id!r}")
    return path


async def _append_body(request: Request, path: Path) -> None:
    with open(path, "ab") as out:
        async for chunk in request.stream():
            if chunk:
                await run_in_threadpool(out.write, chunk)


@router.head(
    "/{digest}",
    dependencies=[READ],
    summary="Is a blob stored?",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def has_blob(client: ClientDep, digest: str) -> Response:
    """200 with its size when the server has the blob, else 404."""
    if not client.has_blob(digest):
        raise NotFoundError(f"no blob {digest}")
    return Response(
        status_code=200,
        media_type="application/octet-stream",
        headers={"content-length": str(client.blob_size(digest)), "x-labline-digest": digest},
    )


@router.get(
    "/{digest}",
    dependencies=[READ],
    summary="Download a blob",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def get_blob(client: ClientDep, digest: str) -> StreamingResponse:
    """The blob's bytes, streamed and hashed as they are read (a blob whose stored content
    changed ends the transfer early, so a client never receives altered bytes whole)."""
    size = client.blob_size(digest)
    return StreamingResponse(
        client.blob_chunks(digest),
        media_type="application/octet-stream",
        headers={"content-length": str(size), "x-labline-digest": digest},
    )


@router.put("/{digest}", dependencies=[WRITE], summary="Upload a blob", openapi_extra=_BINARY_BODY)
async def put_blob(request: Request, client: ClientDep, digest: str) -> BlobOut:
    """Store the body as the blob ``digest`` (checked on arrival: 400 naming ``digest`` when
    the bytes hash to something else). A blob the server has is not read again."""
    if await run_in_threadpool(client.has_blob, digest):
        return BlobOut(digest=digest, size=client.blob_size(digest))
    fd, tmp = tempfile.mkstemp(dir=_uploads(client), prefix="put-", suffix=".part")
    os.close(fd)
    path = Path(tmp)
    try:
        await _append_body(request, path)
        size = path.stat().st_size
        await run_in_threadpool(client.store_blob_file, path, digest)
    finally:
        path.unlink(missing_ok=True)
    return BlobOut(digest=digest, size=size)


@router.post("/uploads", dependencies=[WRITE], status_code=201, summary="Open a chunked upload")
def open_upload(client: ClientDep) -> UploadOut:
    """Open an upload; send its chunks in order with ``PATCH``, then ``commit``."""
    upload_id = secrets.token_hex(16)
    (_uploads(client) / f"{upload_id}.part").touch()
    return UploadOut(upload_id=upload_id, offset=0)


@router.get("/uploads/{upload_id}", dependencies=[WRITE], summary="An upload's offset")
def upload_offset(client: ClientDep, upload_id: str) -> UploadOut:
    """How many bytes of an upload arrived (where an interrupted upload resumes)."""
    return UploadOut(upload_id=upload_id, offset=_upload_path(client, upload_id).stat().st_size)


@router.patch(
    "/uploads/{upload_id}",
    dependencies=[WRITE],
    summary="Append a chunk",
    openapi_extra=_BINARY_BODY,
)
async def append_chunk(
    request: Request,
    client: ClientDep,
    upload_id: str,
    offset: Annotated[int, Query(ge=0, le=2**53)],
) -> UploadOut:
    """Append the body at ``offset`` (409 naming the current offset when it does not follow
    what arrived)."""
    path = _upload_path(client, upload_id)
    current = path.stat().st_size
    if offset != current:
        error = ConflictError(f"offset: upload {upload_id} has {current} bytes, not {offset}")
        error.field = "offset"  # type: ignore[attr-defined]
        raise error
    await _append_body(request, path)
    return UploadOut(upload_id=upload_id, offset=path.stat().st_size)


@router.post("/uploads/{upload_id}/commit", dependencies=[WRITE], summary="Finish an upload")
def commit_upload(client: ClientDep, upload_id: str, digest: DigestQuery) -> BlobOut:
    """Check the upload hashes to ``digest`` and store it as that blob (400 naming
    ``digest`` on a mismatch; the upload is discarded either way)."""
    path = _upload_path(client, upload_id)
    try:
        size = path.stat().st_size
        client.store_blob_file(path, digest)
    finally:
        path.unlink(missing_ok=True)
    return BlobOut(digest=digest, size=size)
