"""Models logged through the MLflow API (MLflow 3 "logged models"), reached as
``client.mlflow_models``.

A logged model is a folder in MLflow's own format. Its files are artifacts of a run (the run
that produced it, or, when it has none, a run made to hold them) under ``models/<id>/``, so
they are content-addressed, checked on the way out and purged with the run. Registering one
makes it a labline package (see :mod:`labline.models._mlflow_format`): a registered version
like any other, which the parity gate replays and ``labline serve`` serves.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._exceptions import InvalidArgumentError, NotFoundError
from .core._grammar import check_artifact_path, check_key, check_model_name, check_name
from .core._types import MlflowModel, MlflowModelStatus, ModelVersion, RunStatus
from .models._mlflow_format import MLMODEL_FILE, convert_in_subprocess

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["HOLDER_TAG", "MlflowModels"]

HOLDER_TAG = "labline.holds_mlflow_model"
"""Tag of a run made to hold the files of a logged model that has no source run."""


class MlflowModels:
    """MLflow 3 logged models on a client's store (``client.mlflow_models``).

    Args:
        client: the client whose store, blobs and actor are used.

    Example:
        >>> import tempfile, labline
        >>> client = labline.Client(labline.Settings.local(tempfile.mkdtemp()))
        >>> run = client.create_run("digits")
        >>> model = client.mlflow_models.create("digits", "model", source_run_id=run.id)
        >>> model.status.value, model.artifact_path == f"models/{model.id}"
        ('PENDING', True)
        >>> client.close()
    """

    def __init__(self, client: Client) -> None:
        self._client = client

    @property
    def _store(self) -> Any:
        return self._client.store

    def create(
        self,
        experiment: str | int,
        name: str | None = None,
        *,
        source_run_id: str | None = None,
        model_type: str | None = None,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> MlflowModel:
        """Record a new logged model (``PENDING`` until its files are uploaded).

        Args:
            experiment: the experiment's id, or its name (created if new).
            name: the model's name (default: ``model``).
            source_run_id: the run that produced it; its files go there. Without one, a run
                named after the model is made to hold them.
            model_type: MLflow's free-text model type.
            params, tags: string key-value pairs.

        Raises:
            NotFoundError: no such experiment or source run.
            InvalidArgumentError: a bad name, key or value.
        """
        if isinstance(experiment, str):
            exp = self._store.get_or_create_experiment(experiment)
        else:
            exp = self._client.get_experiment(experiment)
        name = check_name("model", name or "model")
        if source_run_id is not None:
            holder = self._client.get_run(source_run_id).id
        else:
            holder = self._client.create_run(exp.id, name, tags={HOLDER_TAG: "true"}).id
            self._client.end_run(holder, RunStatus.FINISHED)
        now = datetime.now(UTC)
        record = MlflowModel(
            id=f"m-{uuid.uuid4().hex}",
            experiment_id=exp.id,
            name=name,
            run_id=holder,
            source_run_id=source_run_id,
            status=MlflowModelStatus.PENDING,
            status_message=None,
            model_type=model_type or None,
            params=dict(params or {}),
            tags=dict(tags or {}),
            created_at=now,
            updated_at=now,
            created_by=self._client.actor,
        )
        return self._store.add_mlflow_model(record)  # type: ignore[no-any-return]

    def get(self, model_id: str) -> MlflowModel:
        """One logged model (deleted ones too). Raises NotFoundError."""
        return self._store.get_mlflow_model(model_id)  # type: ignore[no-any-return]

    def finalize(
        self, model_id: str, status: MlflowModelStatus | str, message: str | None = None
    ) -> MlflowModel:
        """Mark the upload of a model's files done (``READY``) or failed (``UPLOAD_FAILED``).

        Raises:
            NotFoundError: no such model.
            InvalidArgumentError: an unknown status.
        """
        try:
            wanted = MlflowModelStatus(status)
        except ValueError:
            raise InvalidArgumentError(f"unknown logged model status {status!r}") from None
        return self._store.update_mlflow_model(  # type: ignore[no-any-return]
            model_id, status=wanted, status_message=message
        )

    def update(
        self,
        model_id: str,
        *,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        delete_tags: Collection[str] = (),
    ) -> MlflowModel:
        """Add write-once params, set tags (last write wins) or delete tags.

        Raises:
            NotFoundError: no such model, or no such tag to delete.
            ParamConflictError: a param already holds another value.
        """
        return self._store.update_mlflow_model(  # type: ignore[no-any-return]
            model_id, params=params, tags=tags, delete_tags=delete_tags
        )

    def delete(self, model_id: str) -> MlflowModel:
        """Mark a model deleted (its files stay with its run). Raises NotFoundError."""
        return self._store.update_mlflow_model(model_id, deleted=True)  # type: ignore[no-any-return]

    def search(
        self,
        experiments: Collection[str | int] | None = None,
        *,
        name: str | None = None,
        source_run_id: str | None = None,
        include_deleted: bool = False,
    ) -> list[MlflowModel]:
        """Logged models of the given experiments (all when ``None``), newest first.

        Raises:
            NotFoundError: an unknown experiment.
        """
        ids = None
        if experiments is not None:
            ids = [self._client.get_experiment(e).id for e in experiments]
        return self._store.list_mlflow_models(  # type: ignore[no-any-return]
            ids, name=name, source_run_id=source_run_id, include_deleted=include_deleted
        )

    def download(self, model_id: str, dst: str | Path) -> Path:
        """Copy a model's files (checked against their digests) into the folder ``dst``.

        Raises:
            NotFoundError: no such model, or none of its files were uploaded.
        """
        model = self.get(model_id)
        return self._download_folder(model.run_id, model.artifact_path, dst)

    def _download_folder(self, run_id: str, folder: str, dst: str | Path) -> Path:
        prefix = folder.strip("/") + "/"
        records = [a for a in self._client.list_artifacts(run_id) if a.path.startswith(prefix)]
        if not records:
            raise NotFoundError(f"run {run_id} has no files under {folder!r}")
        root = Path(dst)
        for record in records:
            self._client.download_artifact(run_id, record.path, root / record.path[len(prefix) :])
        return root

    def register(
        self,
        model_id: str,
        name: str,
        *,
        version: int | None = None,
        tags: Mapping[str, str] | None = None,
        description: str = "",
    ) -> ModelVersion:
        """Register a logged model as a version of ``name``: its scikit-learn flavour becomes
        a labline package (the input example it was logged with is the parity record), in a
        separate interpreter, and the package is verified and registered as any other.

        The version's ``meta["mlflow"]`` names the logged model (``model_id``, ``source``) and
        keeps the ``tags`` and ``description`` it was registered with (immutable, as the
        version is).

        Returns:
            The new version (or the existing one, if this package was registered before).

        Raises:
            NotFoundError: no such model, or none of its files were uploaded.
            InvalidArgumentError: a bad name, a model not READY, or a model labline cannot
                package (not the sklearn flavour, no input example); the message says which.
            ImmutableError: ``version`` is taken by other content.
        """
        model = self.get(model_id)
        if model.status is not MlflowModelStatus.READY:
            raise InvalidArgumentError(
                f"logged model {model_id} is {model.status.value}, not READY: its upload is "
                "not finished"
            )
        origin = {"model_id": model.id, "source": f"models:/{model.id}"}
        return self._register_folder(
            model.run_id,
            model.artifact_path,
            name,
            model.source_run_id,
            _with_card(origin, tags, description),
            version,
        )

    def register_run_folder(
        self,
        run_id: str,
        path: str,
        name: str,
        *,
        version: int | None = None,
        tags: Mapping[str, str] | None = None,
        description: str = "",
    ) -> ModelVersion:
        """Register an MLflow model a run logged among its artifacts at ``path`` (MLflow 2's
        ``log_model(sk_model, "model")``), as :meth:`register` does for a logged model.

        Raises:
            NotFoundError: the run has no files under ``path``.
            InvalidArgumentError: see :meth:`register`.
        """
        folder = check_artifact_path(path, "model path")
        origin = {"run_id": run_id, "path": folder, "source": f"runs:/{run_id}/{folder}"}
        return self._register_folder(
            run_id, folder, name, run_id, _with_card(origin, tags, description), version
        )

    def _register_folder(
        self,
        run_id: str,
        folder: str,
        name: str,
        source_run_id: str | None,
        origin: Mapping[str, Any],
        version: int | None,
    ) -> ModelVersion:
        check_model_name(name)
        with tempfile.TemporaryDirectory(prefix="labline-mlflow-model-") as tmp:
            source = self._download_folder(run_id, folder, Path(tmp) / "mlflow")
            if not (source / MLMODEL_FILE).is_file():
                raise InvalidArgumentError(f"{folder!r} of run {run_id} has no MLmodel file")
            package = Path(tmp) / "package"
            convert_in_subprocess(source, package, name=name, run_id=source_run_id)
            return self._client.registry.register_package(
                package, version=version, meta={"mlflow": dict(origin)}
            )


def _with_card(
    origin: dict[str, Any], tags: Mapping[str, str] | None, description: str
) -> dict[str, Any]:
    """``origin`` with the tags (keys checked as every tag key is) and description a version
    is registered with."""
    if tags:
        origin["tags"] = {check_key("tag", k): str(v) for k, v in tags.items()}
    if description:
        origin["description"] = str(description)
    return origin
