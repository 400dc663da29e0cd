"""SQL implementation of the MLflow-model store (a mixin of :class:`SQLStore`)."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..._exceptions import InvalidArgumentError, NotFoundError, ParamConflictError
from ...core._grammar import check_actor, check_key, check_name
from ...core._types import MlflowModel, MlflowModelStatus
from ...core._validation import param_value
from .._mlflow_models_base import MlflowModelStoreBase
from ._mixin_base import SQLMixinBase, as_utc, utcnow
from ._models import ExperimentRow, RunRow
from ._models_mlflow import MlflowModelRow

_MODEL_ID = re.compile(r"m-[0-9a-f]{32}")


def _to_record(row: MlflowModelRow) -> MlflowModel:
    return MlflowModel(
        id=row.id,
        experiment_id=row.experiment_id,
        name=row.name,
        run_id=row.run_id,
        source_run_id=row.source_run_id,
        status=MlflowModelStatus(row.status),
        status_message=row.status_message,
        model_type=row.model_type,
        params=dict(row.params),
        tags=dict(row.tags),
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        created_by=row.created_by,
        deleted=row.deleted_at is not None,
    )


def _tags(tags: Mapping[str, str]) -> dict[str, str]:
    return {check_key("tag", k): str(v) for k, v in tags.items()}


def _params(params: Mapping[str, str]) -> dict[str, str]:
    return {check_key("param", k): param_value(k, v) for k, v in params.items()}


class MlflowModelSQLMixin(SQLMixinBase, MlflowModelStoreBase):
    """MLflow-model methods implemented with SQLAlchemy."""

    def add_mlflow_model(self, record: MlflowModel) -> MlflowModel:
        if not isinstance(record.id, str) or not _MODEL_ID.fullmatch(record.id):
            raise InvalidArgumentError("model id must be 'm-' and 32 lowercase hex digits")
        row = MlflowModelRow(
            id=record.id,
            experiment_id=record.experiment_id,
            run_id=record.run_id,
            source_run_id=record.source_run_id,
            name=check_name("model", record.name),
            status=MlflowModelStatus(record.status).value,
            status_message=record.status_message,
            model_type=record.model_type,
            params=_params(record.params),
            tags=_tags(record.tags),
            created_at=record.created_at,
            updated_at=record.updated_at,
            created_by=check_actor(record.created_by, "created_by"),
        )
        with self._session(write=True) as s:
            if s.get(ExperimentRow, record.experiment_id) is None:
                raise NotFoundError(f"experiment {record.experiment_id} does not exist")
            run = s.get(RunRow, record.run_id)
            if run is None or run.experiment_id != record.experiment_id:
                raise NotFoundError(f"run {record.run_id} is not in that experiment")
            s.add(row)
            s.flush()
            return _to_record(row)

    def _model_row(self, s: Session, model_id: str) -> MlflowModelRow:
        row = s.get(MlflowModelRow, model_id) if isinstance(model_id, str) else None
        if row is None:
            raise NotFoundError(f"logged model {model_id!r} does not exist")
        return row

    def get_mlflow_model(self, model_id: str) -> MlflowModel:
        with self._session() as s:
            return _to_record(self._model_row(s, model_id))

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
        new_params = _params(params or {})
        new_tags = _tags(tags or {})
        with self._session(write=True) as s:
            row = self._model_row(s, model_id)
            if status is not None:
                row.status = MlflowModelStatus(status).value
                row.status_message = status_message
            if new_params:
                merged = dict(row.params)
                for k, v in new_params.items():
                    if k in merged and merged[k] != v:
                        raise ParamConflictError(k, merged[k], v)
                    merged[k] = v
                row.params = merged
            if new_tags or delete_tags:
                merged = dict(row.tags)
                merged.update(new_tags)
                for key in delete_tags:
                    if key not in merged:
                        raise NotFoundError(f"logged model {model_id} has no tag {key!r}")
                    del merged[key]
                row.tags = merged
            if deleted is not None:
                row.deleted_at = utcnow() if deleted else None
            row.updated_at = utcnow()
            s.flush()
            return _to_record(row)

    def list_mlflow_models(
        self,
        experiment_ids: Collection[int] | None = None,
        *,
        name: str | None = None,
        source_run_id: str | None = None,
        include_deleted: bool = False,
    ) -> list[MlflowModel]:
        query = select(MlflowModelRow)
        if experiment_ids is not None:
            query = query.where(MlflowModelRow.experiment_id.in_(list(experiment_ids)))
        if name is not None:
            query = query.where(MlflowModelRow.name == name)
        if source_run_id is not None:
            query = query.where(MlflowModelRow.source_run_id == source_run_id)
        if not include_deleted:
            query = query.where(MlflowModelRow.deleted_at.is_(None))
        query = query.order_by(MlflowModelRow.created_at.desc(), MlflowModelRow.id)
        with self._session() as s:
            return [_to_record(r) for r in s.scalars(query)]
