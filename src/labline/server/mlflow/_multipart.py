"""Multipart upload through the artifact proxy (``/mlflow-artifacts/mpu/create|complete|abort``),
which the MLflow client uses for large files when ``MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD`` is
on.

``create`` (a caller who may write the run) opens an upload: a random 128-bit id and one
part URL per part, ``/mlflow-artifacts/mpu/part/<id>/<n>``. Like a presigned URL, a part URL
is its own credential (the client sends parts without the bearer token): it accepts bytes for
that open upload and part only. ``complete`` (the same caller again) checks every part
against the ETag (SHA-256) it was given, joins them and stores the file as the run's artifact;
``abort`` drops the parts. Parts wait in a folder of the server's temporary directory;
uploads left open for a day are removed by the next ``create``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from starlette.responses import Response

from .._permissions import PUBLIC
from .._principal import Permission
from ._app import Call, Endpoint
from ._errors import MlflowApiError

__all__ = ["MULTIPART_ENDPOINTS", "is_part_path"]

MAX_PARTS = 10_000
MAX_AGE_SECONDS = 24 * 3600
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


def is_part_path(path: str) -> bool:
    """Whether a path of the artifact app is a part URL (reached without a token)."""
    return path.startswith("/mpu/part/")


def _root() -> Path:
    root = Path(tempfile.gettempdir()) / "labline-mlflow-mpu"
    root.mkdir(mode=0o700, exist_ok=True)
    return root


def _upload_dir(upload_id: str) -> Path:
    if not _UPLOAD_ID.fullmatch(upload_id):
        raise MlflowApiError("RESOURCE_DOES_NOT_EXIST", "no such multipart upload")
    folder = _root() / upload_id
    if not (folder / "upload.json").is_file():
        raise MlflowApiError("RESOURCE_DOES_NOT_EXIST", "no such multipart upload")
    return folder


def _sweep_old() -> None:
    cutoff = time.time() - MAX_AGE_SECONDS
    for folder in _root().iterdir():
        try:
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


def _target(call: Call) -> tuple[str, str]:
    """The run and path the upload goes to: the proxy path and the request's file name."""
    from ._artifacts import resolve_artifact_path

    name = call.fields.text("path")
    base = call.path.get("path", "").strip("/")
    file_name = name.replace("\\", "/").rsplit("/", 1)[-1]
    if not file_name or file_name in (".", ".."):
        raise MlflowApiError("INVALID_PARAMETER_VALUE", "Invalid value for parameter 'path'")
    return resolve_artifact_path(call, f"{base}/{file_name}")


def create_upload(call: Call) -> Mapping[str, Any]:
    run_id, inner = _target(call)
    num_parts = call.fields.integer("num_parts", default=1)
    if not 1 <= num_parts <= MAX_PARTS:
        raise MlflowApiError(
            "INVALID_PARAMETER_VALUE", f"num_parts must be 1 to {MAX_PARTS}, got {num_parts}"
        )
    _sweep_old()
    upload_id = secrets.token_hex(16)
    folder = _root() / upload_id
    folder.mkdir(mode=0o700)
    meta = {"run_id": run_id, "path": inner, "num_parts": num_parts, "actor": call.principal.name}
    (folder / "upload.json").write_text(json.dumps(meta))
    base = call.base_url.rstrip("/")
    return {
        "upload_id": upload_id,
        "credentials": [
            {
                "url": f"{base}/api/2.0/mlflow-artifacts/mpu/part/{upload_id}/{n}",
                "part_number": n,
                "headers": {},
            }
            for n in range(1, num_parts + 1)
        ],
    }


def upload_part(call: Call) -> Response:
    folder = _upload_dir(call.path["upload_id"])
    meta = json.loads((folder / "upload.json").read_text())
    try:
        number = int(call.path["part_number"])
    except ValueError:
        number = 0
    if not 1 <= number <= meta["num_parts"]:
        raise MlflowApiError("INVALID_PARAMETER_VALUE", "no such part in this upload")
    assert call.upload is not None
    digest = hashlib.sha256()
    with open(call.upload, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    os.replace(call.upload, folder / f"part-{number:05d}")
    etag = f'"{digest.hexdigest()}"'
    return Response(b"", status_code=200, headers={"ETag": etag})


def complete_upload(call: Call) -> Mapping[str, Any]:
    run_id, inner = _target(call)
    folder = _upload_dir(call.fields.text("upload_id"))
    meta = json.loads((folder / "upload.json").read_text())
    if (meta["run_id"], meta["path"], meta["actor"]) != (run_id, inner, call.principal.name):
        raise MlflowApiError("INVALID_PARAMETER_VALUE", "this upload is for another file")
    parts = call.fields.items("parts")
    numbers = [_part_number(p) for p in parts]
    if sorted(numbers) != list(range(1, meta["num_parts"] + 1)):
        raise MlflowApiError(
            "INVALID_PARAMETER_VALUE", f"complete needs parts 1 to {meta['num_parts']}, each once"
        )
    joined = folder / "joined"
    with open(joined, "wb") as out:
        for part in sorted(parts, key=_part_number):
            number = _part_number(part)
            path = folder / f"part-{number:05d}"
            if not path.is_file():
                raise MlflowApiError("INVALID_PARAMETER_VALUE", f"part {number} was not uploaded")
            digest = hashlib.sha256()
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
                    out.write(chunk)
            if str(part.get("etag", "")).strip('"') != digest.hexdigest():
                raise MlflowApiError(
                    "INVALID_PARAMETER_VALUE", f"part {number}: its ETag does not match its bytes"
                )
    try:
        call.client.log_artifact_file(run_id, inner, joined)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {}


def _part_number(part: Mapping[str, Any]) -> int:
    value = part.get("part_number")
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise MlflowApiError("INVALID_PARAMETER_VALUE", "every part needs a part_number") from None


def abort_upload(call: Call) -> Mapping[str, Any]:
    _target(call)
    folder = _upload_dir(call.fields.text("upload_id"))
    meta = json.loads((folder / "upload.json").read_text())
    if meta["actor"] != call.principal.name:
        raise MlflowApiError("PERMISSION_DENIED", "only who opened an upload may abort it")
    shutil.rmtree(folder, ignore_errors=True)
    return {}


_W = Permission.WRITE_RUNS
MULTIPART_ENDPOINTS = (
    Endpoint("/mpu/create/{path:path}", ("POST",), _W, create_upload),
    Endpoint("/mpu/complete/{path:path}", ("POST",), _W, complete_upload),
    Endpoint("/mpu/abort/{path:path}", ("POST",), _W, abort_upload),
    Endpoint("/mpu/part/{upload_id}/{part_number}", ("PUT",), PUBLIC, upload_part, body="file"),
)
