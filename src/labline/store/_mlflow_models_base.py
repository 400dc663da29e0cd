"""Store contract for models logged through the MLflow API (MLflow 3 "logged models").

Contract (in addition to :class:`~labline.store.MetadataStore`'s):
    * A model's files are artifacts of its run (``run_id``, under ``models/<id>/``); this
      contract keeps only the model's record. Purging a run purges its models' records.
    * Params are write-once: setting a param again to the same value is a no-op, to another
      value a :class:`~labline.ParamConflictError` (nothing is changed); tags are
      last-write-wins.
    * Records are never changed in place: every update returns the new record.
    * Thread safe, as the metadata store is.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Mapping

from ..core._types import MlflowModel, MlflowModelStatus

__all__ = ["MlflowModelStoreBase"]


class MlflowModelStoreBase(abc.ABC):
    """Abstract MLflow-model methods; see the module docstring for the contract."""

    @abc.abstractmethod
    def add_mlflow_model(self, record: MlflowModel) -> MlflowModel:
        """Store a new model record (its ``created_at``/``updated_at`` are kept).

        Raises:
            AlreadyExistsError: the id is taken.
            NotFoundError: no such experiment or run.
            InvalidArgumentError: a malformed id, name, key or value.
        """

    @abc.abstractmethod
    def get_mlflow_model(self, model_id: str) -> MlflowModel:
        """The model (deleted ones too).

        Raises:
            NotFoundError: no such model.
        """

    @abc.abstractmethod
    def update_mlflow_model(
        self,
        model_id: str,
        *,
        status: MlflowModelStatus | None = None,
        status_message: str | None = None,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        delete_tags: Collection[str] = (),
        deleted: bool | None = None,
    ) -> MlflowModel:
        """Change a model and return the new record (``updated_at`` is now).

        Raises:
            NotFoundError: no such model, or a tag in ``delete_tags`` it does not have.
            ParamConflictError: a param already set to another value (nothing is changed).
            InvalidArgumentError: a malformed key or value.
        """

    @abc.abstractmethod
    def list_mlflow_models(
        self,
        experiment_ids: Collection[int] | None = None,
        *,
        name: str | None = None,
        source_run_id: str | None = None,
        include_deleted: bool = False,
    ) -> list[MlflowModel]:
        """Models of the given experiments (all when ``None``), newest first."""
