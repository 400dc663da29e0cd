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
from ._logged_models import get_logged_model_or_404, mlflow_model_experiment_id
from ._runs import get_run_or_404, mlflow_experiment_id
from ._wire import list_folder

__all__ = ["ARTIFACT_ENDPOINTS", "resolve_artifact_path", "split_artifact_path"]


def split_artifact_path(path: str) -> tuple[str, str, str]:
    """``(experiment id, run id, path inside the run)`` of a proxy path: a run's
    ``<experiment>/<run id>/artifacts/<p>``, or a logged model's
    ``<experiment>/models/<model id>/artifacts/<p>`` (``("models", model id, p)`` is returned
    as ``(experiment, "models/<model id>", p)``).

    Raises:
        MlflowApiError: INVALID_PARAMETER_VALUE for any other shape.
    """
    parts = [p for p in path.strip("/").split("/") if p]
    if ".." in parts or len(parts) < 3:
        parts = []
    if len(parts) >= 4 and parts[1] == "models" and parts[3] == "artifacts":
        return parts[0], f"models/{parts[2]}", "/".join(parts[4:])
    if len(parts) < 3 or parts[2] != "artifacts":
        raise MlflowApiError(
            "INVALID_PARAMETER_VALUE",
            "artifact paths look like <experiment id>/<run id>/artifacts/<path> or "
            "<experiment id>/models/<model id>/artifacts/<path>",
        )
    return parts[0], parts[1], "/".join(parts[3:])


def resolve_artifact_path(call: Call, path: str) -> tuple[str, str]:
    """The run holding a proxy path's file and the file's path inside that run."""
    experiment_id, owner, inner = split_artifact_path(path)
    if owner.startswith("models/"):
        model = get_logged_model_or_404(call.client, owner.removeprefix("models/"))
        if mlflow_model_experiment_id(call.client, model) != experiment_id:
            raise MlflowApiError(
                "RESOURCE_DOES_NOT_EXIST", f"Logged model '{model.id}' is not in that experiment"
            )
        return model.run_id, f"{model.artifact_path}/{inner}".rstrip("/")
    run = get_run_or_404(call.client, owner)
    if mlflow_experiment_id(run) != experiment_id:
        raise MlflowApiError("RESOURCE_DOES_NOT_EXIST", f"Run '{owner}' is not in that experiment")
    return run.id, inner


def upload_artifact(call: Call) -> Mapping[str, Any]:
    if not split_artifact_path(call.path["path"])[2]:
        raise MlflowApiError("INVALID_PARAMETER_VALUE", "an upload needs a file path")
    run_id, inner = resolve_artifact_path(call, call.path["path"])
    assert call.upload is not None
    call.client.log_artifact_file(run_id, inner, call.upload)
    return {}


def download_artifact(call: Call) -> Response:
    run_id, inner = resolve_artifact_path(call, call.path["path"])
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
    run_id, inner = resolve_artifact_path(call, path)
    prefix = inner + "/" if inner else ""
    return {"files": list_folder(call.client, run_id, prefix)}


def delete_artifact(call: Call) -> Mapping[str, Any]:
    resolve_artifact_path(call, call.path["path"])
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
