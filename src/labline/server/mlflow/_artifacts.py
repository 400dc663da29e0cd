"""The MLflow artifact proxy (``/api/2.0/mlflow-artifacts``): upload, download and list a
run's files. ``mlflow-artifacts:/<experiment>/<run>/artifacts/<path>`` is the run's artifact
``<path>``; every file is stored content-addressed and checked on the way out."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from typing import Any

from starlette.background import BackgroundTask
from starlette.responses import FileResponse, Response

from ... import NotFoundError
from .._principal import Permission
from ._app import Call, Endpoint
from ._errors import MlflowApiError
from ._runs import get_run_or_404, mlflow_experiment_id

__all__ = ["ARTIFACT_ENDPOINTS", "split_artifact_path"]


def split_artifact_path(path: str) -> tuple[str, str]:
    """``(run id, path inside the run)`` of a proxy path ``<experiment>/<run>/artifacts/<p>``.

    Raises:
        MlflowApiError: INVALID_PARAMETER_VALUE for any other shape.
    """
    parts = [p for p in path.strip("/").split("/") if p]
    if len(parts) < 3 or parts[2] != "artifacts" or ".." in parts:
        raise MlflowApiError(
            "INVALID_PARAMETER_VALUE",
            "artifact paths look like <experiment id>/<run id>/artifacts/<path>",
        )
    return parts[1], "/".join(parts[3:])


def _run_for(call: Call, path: str) -> tuple[str, str]:
    run_id, inner = split_artifact_path(path)
    run = get_run_or_404(call.client, run_id)
    if mlflow_experiment_id(run) != path.strip("/").split("/")[0]:
        raise MlflowApiError("RESOURCE_DOES_NOT_EXIST", f"Run '{run_id}' is not in that experiment")
    return run.id, inner


def upload_artifact(call: Call) -> Mapping[str, Any]:
    run_id, inner = _run_for(call, call.path["path"])
    if not inner:
        raise MlflowApiError("INVALID_PARAMETER_VALUE", "an upload needs a file path")
    assert call.upload is not None
    call.client.log_artifact_file(run_id, inner, call.upload)
    return {}


def download_artifact(call: Call) -> Response:
    run_id, inner = _run_for(call, call.path["path"])
    fd, tmp = tempfile.mkstemp(prefix="labline-mlflow-download-")
    os.close(fd)
    try:
        call.client.download_artifact(run_id, inner, tmp)
    except NotFoundError:
        os.unlink(tmp)
        raise MlflowApiError(
            "RESOURCE_DOES_NOT_EXIST", f"No artifact '{inner}' in run '{run_id}'"
        ) from None
    except BaseException:
        os.unlink(tmp)
        raise
    return FileResponse(
        tmp,
        media_type="application/octet-stream",
        background=BackgroundTask(os.unlink, tmp),
    )


def list_artifacts(call: Call) -> Mapping[str, Any]:
    path = call.fields.text("path", required=False)
    if not path:
        return {"files": []}
    run_id, inner = _run_for(call, path)
    prefix = inner + "/" if inner else ""
    entries: dict[str, dict[str, Any]] = {}
    for record in call.client.list_artifacts(run_id):
        if not record.path.startswith(prefix):
            continue
        head, slash, _ = record.path[len(prefix) :].partition("/")
        if slash:
            entries.setdefault(head, {"path": head, "is_dir": True})
        else:
            entries[head] = {"path": head, "is_dir": False, "file_size": record.size}
    return {"files": [entries[k] for k in sorted(entries)]}


def delete_artifact(call: Call) -> Mapping[str, Any]:
    _run_for(call, call.path["path"])
    raise MlflowApiError(
        "NOT_IMPLEMENTED",
        "labline keeps a run's artifacts immutable; delete the run instead (gc erases it)",
    )


_R, _W = Permission.READ, Permission.WRITE_RUNS
ARTIFACT_ENDPOINTS = (
    Endpoint("/artifacts", ("GET",), _R, list_artifacts),
    Endpoint("/artifacts/{path:path}", ("GET",), _R, download_artifact),
    Endpoint("/artifacts/{path:path}", ("PUT",), _W, upload_artifact, body="file"),
    Endpoint("/artifacts/{path:path}", ("DELETE",), _W, delete_artifact, body="none"),
)
