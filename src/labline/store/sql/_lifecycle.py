"""Lifecycle methods of SQLStore: experiments renamed, deleted and restored; child runs; the
purge of deleted metadata and the blob references ``gc`` must keep."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..._exceptions import AlreadyExistsError, InvalidArgumentError
from ...core._grammar import check_name
from ...core._types import PurgeResult, Run
from ._mixin_base import utcnow
from ._models import (
    MAX_NAME,
    ArtifactRow,
    DatasetRow,
    ExperimentRow,
    ExperimentTagRow,
    MetricBatchRow,
    MetricChunkRow,
    MetricSummaryRow,
    ParamRow,
    PredictionsRow,
    RunRow,
    TagRow,
)
from ._models_mlflow import MlflowModelRow
from ._models_registry import ModelVersionRow
from ._tracking import TrackingSQLMixin

_BATCH = 500  # ids per IN (...) list: well inside every backend's parameter limit

_RUN_TABLES = (
    MlflowModelRow,
    ParamRow,
    TagRow,
    MetricChunkRow,
    MetricBatchRow,
    MetricSummaryRow,
    DatasetRow,
    PredictionsRow,
    ArtifactRow,
)


def _batches(ids: Sequence[str]) -> Iterator[list[str]]:
    for i in range(0, len(ids), _BATCH):
        yield list(ids[i : i + _BATCH])


def _check_actor(actor: object) -> str:
    if not isinstance(actor, str) or not actor.strip() or len(actor) > MAX_NAME:
        raise InvalidArgumentError(
            f"actor must be a non-empty string of at most {MAX_NAME} characters"
        )
    return actor


class LifecycleSQLMixin(TrackingSQLMixin):
    """Experiments' life cycle, child runs, purge and blob references (on top of tracking)."""

    # -- experiments ---------------------------------------------------------------------------
    def rename_experiment(self, name_or_id: str | int, name: str) -> None:
        check_name("experiment", name)
        try:
            with self._session(write=True) as s:
                self._experiment_row(s, name_or_id).name = name
                s.flush()
        except AlreadyExistsError:
            raise AlreadyExistsError(f"experiment {name!r} already exists") from None

    def delete_experiment(self, name_or_id: str | int, *, actor: str) -> None:
        _check_actor(actor)
        with self._session(write=True) as s:
            row = self._experiment_row(s, name_or_id)
            if row.deleted_at is None:
                row.deleted_at, row.deleted_by = utcnow(), actor

    def restore_experiment(self, name_or_id: str | int) -> None:
        with self._session(write=True) as s:
            row = self._experiment_row(s, name_or_id)
            row.deleted_at, row.deleted_by = None, None

    # -- parents and children ------------------------------------------------------------------
    def child_runs(self, run_id: str) -> list[Run]:
        with self._session() as s:
            self._run_row(s, run_id)
            rows = s.scalars(
                select(RunRow)
                .where(RunRow.parent_id == run_id)
                .order_by(RunRow.created_at, RunRow.id)
            ).all()
            return self._runs(s, list(rows))

    # -- purge and references ------------------------------------------------------------------
    def _deleted_run_ids(self, s: Session) -> list[str]:
        """Runs that are deleted: every deleted run and every run of a deleted experiment."""
        deleted_experiments = select(ExperimentRow.id).where(ExperimentRow.deleted_at.is_not(None))
        condition = sa.or_(
            RunRow.experiment_id.in_(deleted_experiments), RunRow.deleted_at.is_not(None)
        )
        return list(s.scalars(select(RunRow.id).where(condition).order_by(RunRow.id)))

    def purge_deleted(self, *, dry_run: bool = False) -> PurgeResult:
        with self._session(write=not dry_run) as s:
            deleted = self._deleted_run_ids(s)
            linked: set[str] = set()
            for batch in _batches(deleted):
                linked.update(
                    r
                    for r in s.scalars(
                        select(ModelVersionRow.run_id).where(ModelVersionRow.run_id.in_(batch))
                    )
                    if r is not None
                )
            purged = [r for r in deleted if r not in linked]
            kept_experiments = set(
                s.scalars(select(RunRow.experiment_id).where(RunRow.id.in_(sorted(linked))))
            )
            experiments = [
                e
                for e in s.scalars(
                    select(ExperimentRow)
                    .where(ExperimentRow.deleted_at.is_not(None))
                    .order_by(ExperimentRow.id)
                )
                if e.id not in kept_experiments
            ]
            names = tuple(e.name for e in experiments)
            if not dry_run:
                for batch in _batches(purged):
                    # live children of a purged parent stay, as top-level runs
                    s.execute(
                        sa.update(RunRow).where(RunRow.parent_id.in_(batch)).values(parent_id=None)
                    )
                    for table in _RUN_TABLES:
                        s.execute(sa.delete(table).where(table.run_id.in_(batch)))
                    s.execute(sa.delete(RunRow).where(RunRow.id.in_(batch)))
                ids = [e.id for e in experiments]
                if ids:
                    s.execute(
                        sa.delete(ExperimentTagRow).where(ExperimentTagRow.experiment_id.in_(ids))
                    )
                    s.execute(sa.delete(ExperimentRow).where(ExperimentRow.id.in_(ids)))
        return PurgeResult(runs=tuple(purged), experiments=names, kept=tuple(sorted(linked)))

    def referenced_blob_digests(self, *, excluding_runs: Collection[str] = ()) -> set[str]:
        excluded = set(excluding_runs)
        with self._session() as s:
            if not excluded:
                refs: set[str] = set(s.scalars(select(ArtifactRow.digest).distinct()))
                refs.update(s.scalars(select(PredictionsRow.blob_digest).distinct()))
            else:  # a dry run of gc: what would stay referenced after the purge
                pairs = [
                    *s.execute(select(ArtifactRow.run_id, ArtifactRow.digest)),
                    *s.execute(select(PredictionsRow.run_id, PredictionsRow.blob_digest)),
                ]
                refs = {digest for run_id, digest in pairs if run_id not in excluded}
        return {_hex(d) for d in refs}

    def registered_package_digests(self) -> set[str]:
        with self._session() as s:
            return {_hex(d) for d in s.scalars(select(ModelVersionRow.digest).distinct())}


def _hex(digest: str) -> str:
    return digest.removeprefix("sha256:")
