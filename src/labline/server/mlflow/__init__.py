"""The MLflow tracking API on ``labline server``: the official ``mlflow`` client, pointed at
the server with ``MLFLOW_TRACKING_URI`` (and ``MLFLOW_TRACKING_TOKEN``), logs ordinary labline
runs, logs and registers models, and moves aliases through labline's parity gate.

Mount :class:`MlflowTrackingApp` at ``/api/2.0/mlflow`` and ``/ajax-api/2.0/mlflow`` and
:class:`MlflowArtifactsApp` at ``/api/2.0/mlflow-artifacts``, behind the layer that sets
``request.state.principal`` and ``request.state.client``.
"""

from __future__ import annotations

from ._app import Endpoint, MlflowAsgiApp
from ._artifacts import ARTIFACT_ENDPOINTS
from ._errors import MLFLOW_STATUS, MlflowApiError, error_response_body
from ._experiments import EXPERIMENT_ENDPOINTS
from ._logged_models import LOGGED_MODEL_ENDPOINTS
from ._model_registry import REGISTRY_ENDPOINTS
from ._multipart import MULTIPART_ENDPOINTS, is_part_path
from ._runs import RUN_ENDPOINTS

__all__ = [
    "MLFLOW_MOUNTS",
    "MLFLOW_STATUS",
    "MlflowApiError",
    "MlflowArtifactsApp",
    "MlflowTrackingApp",
    "error_response_body",
]

TRACKING_ENDPOINTS: tuple[Endpoint, ...] = (
    *EXPERIMENT_ENDPOINTS,
    *RUN_ENDPOINTS,
    *LOGGED_MODEL_ENDPOINTS,
    *REGISTRY_ENDPOINTS,
)


class MlflowTrackingApp(MlflowAsgiApp):
    """The MLflow tracking and registry REST API (mount at ``/api/2.0/mlflow``)."""

    def __init__(self) -> None:
        super().__init__(TRACKING_ENDPOINTS)


class MlflowArtifactsApp(MlflowAsgiApp):
    """The MLflow artifact proxy (mount at ``/api/2.0/mlflow-artifacts``)."""

    def __init__(self) -> None:
        super().__init__((*ARTIFACT_ENDPOINTS, *MULTIPART_ENDPOINTS))

    @staticmethod
    def is_public(path: str) -> bool:
        """Part URLs of a multipart upload carry their own credential (the upload id)."""
        return is_part_path(path)


MLFLOW_MOUNTS = (
    ("/api/2.0/mlflow", MlflowTrackingApp),
    ("/ajax-api/2.0/mlflow", MlflowTrackingApp),
    ("/api/2.0/mlflow-artifacts", MlflowArtifactsApp),
)
"""Where the server mounts each app (path prefix, app class)."""
