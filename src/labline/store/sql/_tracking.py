"""Tracking methods of SQLStore: experiments, runs, params, tags, metric chunks, data records."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..._exceptions import (
    AlreadyExistsError,
    ImmutableError,
    InvalidArgumentError,
    NotFoundError,
    ParamConflictError,
    StorageError,
)
from ...core._grammar import check_actor, check_key, check_name, is_run_id
from ...core._run_query import FilterExpr, OrderKey, mentions_status, numeric_text
from ...core._types import (
    ArtifactRecord,
    DatasetRecord,
    Experiment,
    MetricSeries,
    MetricSummary,
    PredictionsRecord,
    Run,
    RunStatus,
)
from ...core._validation import check_metric_batch, param_value
from .._base import MetricBatchId, MetricChunk
from ._large_rows import fetch_large_rows
from ._metric_codec import decode_steps, decode_timestamps, encode_steps, encode_timestamps
from ._mixin_base import SQLMixinBase, as_utc, utcnow
from ._models import (
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
from ._run_search import RunSearchSQL

_HOST = socket.gethostname()


PreparedChunks = tuple[
    list[tuple[str, npt.NDArray[np.int64], npt.NDArray[np.float64]]], list[dict[str, Any]]
]
"""Checked series (key, steps, values) and their packed chunk rows, ready to insert."""


def prepare_metric_chunks(run_id: str, chunks: Mapping[str, MetricChunk]) -> PreparedChunks:
    """Check and pack metric chunks into rows (outside any transaction)."""
    prepared = []
    rows = []
    for key, (steps, ts, values) in chunks.items():
        check_key("metric", key)
        st = np.ascontiguousarray(steps, dtype="<i8")
        tt = np.ascontiguousarray(ts, dtype="<f8")
        vv = np.ascontiguousarray(values, dtype="<f8")
        if not (st.shape == tt.shape == vv.shape) or st.ndim != 1:
            raise InvalidArgumentError(
                f"metric {key!r}: steps, timestamps and values differ in length"
            )
        if not len(vv):
            continue
        prepared.append((key, st, vv))
        steps_codec, steps_blob = encode_steps(st)
        timestamps_codec, timestamps_blob = encode_timestamps(tt)
        rows.append(
            {
                "run_id": run_id,
                "key": key,
                "n": len(vv),
                "steps_codec": steps_codec,
                "steps": steps_blob,
                "timestamps_codec": timestamps_codec,
                "timestamps": timestamps_blob,
                "values": vv.tobytes(),
            }
        )
    return prepared, rows


def _concat(parts: list[npt.NDArray[Any]]) -> npt.NDArray[Any]:
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _nan_if_none(x: float | None) -> float:
    return float("nan") if x is None else x


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _experiment(row: ExperimentRow, tags: Mapping[str, str]) -> Experiment:
    return Experiment(
        id=row.id,
        name=row.name,
        created_at=as_utc(row.created_at),
        deleted_at=as_utc(row.deleted_at) if row.deleted_at else None,
        deleted_by=row.deleted_by,
        tags=dict(tags),
    )


def _experiment_tags(s: Session, experiment_ids: Sequence[int] | None) -> dict[int, dict[str, str]]:
    """``{experiment id: {key: value}}`` of the given experiments (all when ``None``)."""
    q = select(ExperimentTagRow).order_by(ExperimentTagRow.experiment_id, ExperimentTagRow.key)
    if experiment_ids is not None:
        q = q.where(ExperimentTagRow.experiment_id.in_(list(experiment_ids)))
    out: dict[int, dict[str, str]] = {}
    for t in s.scalars(q):
        out.setdefault(t.experiment_id, {})[t.key] = t.value
    return out


def _clean_tags(tags: Mapping[str, str]) -> dict[str, str]:
    return {check_key("tag", k): str(v) for k, v in tags.items()}


class TrackingSQLMixin(SQLMixinBase):
    """Experiments, runs and what is logged on them."""

    # -- experiments ---------------------------------------------------------------------------
    def create_experiment(self, name: str, *, tags: Mapping[str, str] | None = None) -> Experiment:
        check_name("experiment", name)
        clean = _clean_tags(tags or {})
        try:
            with self._session(write=True) as s:
                row = ExperimentRow(name=name, created_at=utcnow())
                s.add(row)
                s.flush()
                s.add_all(
                    ExperimentTagRow(experiment_id=row.id, key=k, value=v) for k, v in clean.items()
                )
                return _experiment(row, clean)
        except AlreadyExistsError:
            raise AlreadyExistsError(f"experiment {name!r} already exists") from None

    def get_or_create_experiment(self, name: str) -> Experiment:
        check_name("experiment", name)
        with self._session() as s:
            row = s.scalar(select(ExperimentRow).where(ExperimentRow.name == name))
            if row is not None:
                if row.deleted_at is not None:
                    raise InvalidArgumentError(
                        f"experiment {name!r} is deleted; restore it (labline experiments "
                        "restore) or use another name"
                    )
                return _experiment(row, _experiment_tags(s, [row.id]).get(row.id, {}))
        try:
            return self.create_experiment(name)
        except AlreadyExistsError:  # another process created it between our read and write
            return self.get_experiment(name)

    def get_experiment(self, name_or_id: str | int) -> Experiment:
        with self._session() as s:
            row = self._experiment_row(s, name_or_id)
            return _experiment(row, _experiment_tags(s, [row.id]).get(row.id, {}))

    @staticmethod
    def _experiment_row(s: Session, name_or_id: str | int) -> ExperimentRow:
        if isinstance(name_or_id, int):
            row = s.get(ExperimentRow, name_or_id)
        else:
            row = s.scalar(select(ExperimentRow).where(ExperimentRow.name == name_or_id))
        if row is None:
            raise NotFoundError(f"no experiment {name_or_id!r}")
        return row

    def list_experiments(self, *, include_deleted: bool = False) -> list[Experiment]:
        with self._session() as s:
            q = select(ExperimentRow).order_by(ExperimentRow.id)
            if not include_deleted:
                q = q.where(ExperimentRow.deleted_at.is_(None))
            rows = list(s.scalars(q))
            tags = _experiment_tags(s, None)
            return [_experiment(r, tags.get(r.id, {})) for r in rows]

    def set_experiment_tags(self, name_or_id: str | int, tags: Mapping[str, str]) -> None:
        clean = _clean_tags(tags)
        with self._session(write=True) as s:
            exp_id = self._experiment_row(s, name_or_id).id
            existing = {
                t.key: t
                for t in s.scalars(
                    select(ExperimentTagRow).where(
                        ExperimentTagRow.experiment_id == exp_id,
                        ExperimentTagRow.key.in_(list(clean)),
                    )
                )
            }
            for k, v in clean.items():
                if k in existing:
                    existing[k].value = v
                else:
                    s.add(ExperimentTagRow(experiment_id=exp_id, key=k, value=v))

    def delete_experiment_tag(self, name_or_id: str | int, key: str) -> None:
        with self._session(write=True) as s:
            row = self._experiment_row(s, name_or_id)
            tag = s.get(ExperimentTagRow, (row.id, key)) if isinstance(key, str) else None
            if tag is None:
                raise NotFoundError(f"experiment {row.name!r} has no tag {key!r}")
            s.delete(tag)

    # -- runs ----------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: int,
        name: str,
        *,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        env: Mapping[str, Any] | None = None,
        host: str = "",
        pid: int = 0,
        parent_id: str | None = None,
        created_by: str = "",
        run_id: str | None = None,
        created_at: datetime | None = None,
    ) -> Run:
        if run_id is None:
            run_id = uuid.uuid4().hex
        elif not is_run_id(run_id):
            raise InvalidArgumentError("run_id must be 32 lowercase hex digits")
        if created_at is not None and created_at.tzinfo is None:
            raise InvalidArgumentError("created_at must have a timezone")
        created_by = check_actor(created_by, "created_by") if created_by else ""
        name = check_name("run", name) if name else f"run-{run_id[:8]}"
        clean_params = {check_key("param", k): param_value(k, v) for k, v in (params or {}).items()}
        clean_tags = {check_key("tag", k): str(v) for k, v in (tags or {}).items()}
        now = created_at or utcnow()
        with self._session(write=True) as s:
            if s.get(ExperimentRow, experiment_id) is None:
                raise NotFoundError(f"no experiment with id {experiment_id}")
            if parent_id is not None:
                parent = self._run_row(s, parent_id)
                if parent.experiment_id != experiment_id:
                    raise InvalidArgumentError(
                        f"parent run {parent_id} is in another experiment; a child run is "
                        "started in its parent's experiment"
                    )
            s.add(
                RunRow(
                    id=run_id,
                    experiment_id=experiment_id,
                    name=name,
                    status=RunStatus.RUNNING.value,
                    created_at=now,
                    heartbeat_at=now,
                    env=dict(env or {}),
                    host=host,
                    pid=pid,
                    parent_id=parent_id,
                    created_by=created_by,
                )
            )
            s.flush()
            s.add_all(
                ParamRow(run_id=run_id, key=k, value=v, value_num=numeric_text(v))
                for k, v in clean_params.items()
            )
            s.add_all(TagRow(run_id=run_id, key=k, value=v) for k, v in clean_tags.items())
        return self.get_run(run_id)

    def _status(self, row: RunRow) -> RunStatus:
        status = RunStatus(row.status)
        if status is not RunStatus.RUNNING:
            return status
        if row.host == _HOST and row.pid and not _pid_alive(row.pid):
            return RunStatus.STALE
        beat = as_utc(row.heartbeat_at or row.created_at)
        if utcnow() - beat > timedelta(seconds=self.stale_after):
            return RunStatus.STALE
        return status

    def _runs(self, s: Session, rows: Sequence[RunRow]) -> list[Run]:
        if not rows:
            return []
        ids = [r.id for r in rows]
        exps = {
            e.id: e.name
            for e in s.scalars(
                select(ExperimentRow).where(ExperimentRow.id.in_({r.experiment_id for r in rows}))
            )
        }
        params: dict[str, dict[str, str]] = {i: {} for i in ids}
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        metrics: dict[str, dict[str, MetricSummary]] = {i: {} for i in ids}
        # plain column tuples, not ORM objects: a page of 50 runs has thousands of these rows
        for run_id, key, value in s.execute(
            select(ParamRow.run_id, ParamRow.key, ParamRow.value).where(ParamRow.run_id.in_(ids))
        ):
            params[run_id][key] = value
        for run_id, key, value in s.execute(
            select(TagRow.run_id, TagRow.key, TagRow.value).where(TagRow.run_id.in_(ids))
        ):
            tags[run_id][key] = value
        m = MetricSummaryRow
        for run_id, key, last, step, lo, hi, count in s.execute(
            select(
                m.run_id, m.key, m.last_value, m.last_step, m.min_value, m.max_value, m.count
            ).where(m.run_id.in_(ids))
        ):
            metrics[run_id][key] = MetricSummary(
                key=key,
                last_value=_nan_if_none(last),
                last_step=step,
                min_value=_nan_if_none(lo),
                max_value=_nan_if_none(hi),
                count=count,
            )
        return [
            Run(
                id=r.id,
                experiment_id=r.experiment_id,
                experiment=exps[r.experiment_id],
                name=r.name,
                status=self._status(r),
                created_at=as_utc(r.created_at),
                ended_at=as_utc(r.ended_at) if r.ended_at else None,
                heartbeat_at=as_utc(r.heartbeat_at) if r.heartbeat_at else None,
                error=r.error,
                params=dict(sorted(params[r.id].items())),
                tags=dict(sorted(tags[r.id].items())),
                env=dict(r.env),
                metrics=dict(sorted(metrics[r.id].items())),
                parent_id=r.parent_id,
                created_by=r.created_by or "",
                deleted_at=as_utc(r.deleted_at) if r.deleted_at else None,
                deleted_by=r.deleted_by,
            )
            for r in rows
        ]

    @staticmethod
    def _run_row(s: Session, run_id: str) -> RunRow:
        row = s.get(RunRow, run_id) if isinstance(run_id, str) else None
        if row is None:
            raise NotFoundError(f"no run {run_id!r}")
        return row

    def get_run(self, run_id: str) -> Run:
        with self._session() as s:
            return self._runs(s, [self._run_row(s, run_id)])[0]

    def search_runs(
        self,
        *,
        experiment: str | int | None = None,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        run_ids: Sequence[str] | None = None,
        status: RunStatus | None = None,
        filter: FilterExpr | None = None,
        order_by: Sequence[OrderKey] = (),
        offset: int = 0,
        limit: int | None = None,
        include_deleted: bool = False,
    ) -> list[Run]:
        with self._session() as s:
            q = select(RunRow)
            if not include_deleted:
                q = q.where(
                    RunRow.experiment_id.in_(
                        select(ExperimentRow.id).where(ExperimentRow.deleted_at.is_(None))
                    )
                )
                q = q.where(RunRow.deleted_at.is_(None))
            if experiment is not None:
                q = q.where(RunRow.experiment_id == self._experiment_row(s, experiment).id)
            for k, v in (params or {}).items():
                q = q.where(
                    RunRow.id.in_(
                        select(ParamRow.run_id).where(ParamRow.key == k, ParamRow.value == str(v))
                    )
                )
            for k, v in (tags or {}).items():
                q = q.where(
                    RunRow.id.in_(
                        select(TagRow.run_id).where(TagRow.key == k, TagRow.value == str(v))
                    )
                )
            if run_ids is not None:
                q = q.where(RunRow.id.in_(list(run_ids)))
            needs_status = status is not None or mentions_status(filter, order_by)
            search = RunSearchSQL(
                self.dialect,
                self._status_sql(s) if needs_status else sa.literal(""),
            )
            if status is not None:
                q = q.where(search.status == status.value)
            if filter is not None:
                q = q.where(search.where(filter))
            q = search.order(q, order_by)
            if offset:
                q = q.offset(offset)
            if limit is not None:
                q = q.limit(limit)
            return self._runs(s, list(s.scalars(q)))

    def _status_sql(self, s: Session) -> sa.ColumnElement[str]:
        """A run's status as :meth:`_status` reports it, as SQL: ``stale`` for a running run
        without a recent heartbeat or whose writer on this host is gone. Which local writers
        are gone is asked of the OS first (a few rows: the running runs of this host)."""
        local = s.execute(
            select(RunRow.id, RunRow.pid).where(
                RunRow.status == RunStatus.RUNNING.value, RunRow.host == _HOST, RunRow.pid != 0
            )
        ).all()
        gone = [run_id for run_id, pid in local if not _pid_alive(pid)]
        cutoff = utcnow() - timedelta(seconds=self.stale_after)
        if self.dialect == "sqlite":
            cutoff = cutoff.replace(tzinfo=None)  # stored as naive UTC text
        beat = sa.func.coalesce(RunRow.heartbeat_at, RunRow.created_at)
        stale = sa.and_(
            RunRow.status == RunStatus.RUNNING.value,
            sa.or_(beat < sa.literal(cutoff, RunRow.created_at.type), RunRow.id.in_(gone)),
        )
        return sa.case((stale, RunStatus.STALE.value), else_=RunRow.status)

    def set_run_status(
        self,
        run_id: str,
        status: RunStatus,
        error: str | None = None,
        *,
        ended_at: datetime | None = None,
    ) -> None:
        if status not in (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.RUNNING):
            raise InvalidArgumentError(f"cannot set run status to {status.value!r}")
        if ended_at is not None and ended_at.tzinfo is None:
            raise InvalidArgumentError("ended_at must have a timezone")
        with self._session(write=True) as s:
            row = self._run_row(s, run_id)
            row.status = status.value
            row.error = error
            row.ended_at = None if status is RunStatus.RUNNING else (ended_at or utcnow())

    def resume_run(self, run_id: str, *, host: str = "", pid: int = 0) -> Run:
        with self._session(write=True) as s:
            q = select(RunRow).where(RunRow.id == run_id)
            if self.dialect != "sqlite":  # SQLite's write transaction already serialises
                q = q.with_for_update()
            row = s.scalar(q) if isinstance(run_id, str) else None
            if row is None:
                raise NotFoundError(f"no run {run_id!r}")
            if self._status(row) is RunStatus.RUNNING:
                raise InvalidArgumentError(
                    f"run {run_id} is still running in another process; it can be resumed "
                    "once it has ended (or its process is gone)"
                )
            now = utcnow()
            row.status = RunStatus.RUNNING.value
            row.error, row.ended_at, row.heartbeat_at = None, None, now
            row.host, row.pid = host, pid
        return self.get_run(run_id)

    def rename_run(self, run_id: str, name: str) -> None:
        check_name("run", name)
        with self._session(write=True) as s:
            self._run_row(s, run_id).name = name

    def delete_run(self, run_id: str, *, actor: str) -> None:
        check_actor(actor)
        with self._session(write=True) as s:
            row = self._run_row(s, run_id)
            if row.deleted_at is None:
                row.deleted_at, row.deleted_by = utcnow(), actor

    def restore_run(self, run_id: str) -> None:
        with self._session(write=True) as s:
            row = self._run_row(s, run_id)
            row.deleted_at, row.deleted_by = None, None

    def heartbeat(self, run_id: str) -> None:
        with self._session(write=True) as s:
            res = s.execute(
                sa.update(RunRow).where(RunRow.id == run_id).values(heartbeat_at=utcnow())
            )
            if res.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFoundError(f"no run {run_id!r}")

    # -- params, tags, metrics -----------------------------------------------------------------
    def log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        clean = {check_key("param", k): param_value(k, v) for k, v in params.items()}
        with self._session(write=True) as s:
            self._run_row(s, run_id)
            existing = {
                p.key: p.value
                for p in s.scalars(
                    select(ParamRow).where(ParamRow.run_id == run_id, ParamRow.key.in_(list(clean)))
                )
            }
            for k, v in clean.items():
                if k in existing and existing[k] != v:
                    raise ParamConflictError(k, existing[k], v)
            s.add_all(
                ParamRow(run_id=run_id, key=k, value=v, value_num=numeric_text(v))
                for k, v in clean.items()
                if k not in existing
            )

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        clean = {check_key("tag", k): str(v) for k, v in tags.items()}
        with self._session(write=True) as s:
            self._run_row(s, run_id)
            existing = {
                t.key: t
                for t in s.scalars(
                    select(TagRow).where(TagRow.run_id == run_id, TagRow.key.in_(list(clean)))
                )
            }
            for k, v in clean.items():
                if k in existing:
                    existing[k].value = v
                else:
                    s.add(TagRow(run_id=run_id, key=k, value=v))

    def delete_tag(self, run_id: str, key: str) -> None:
        with self._session(write=True) as s:
            self._run_row(s, run_id)
            row = s.get(TagRow, (run_id, key)) if isinstance(key, str) else None
            if row is None:
                raise NotFoundError(f"run {run_id} has no tag {key!r}")
            s.delete(row)

    def append_metrics(
        self,
        run_id: str,
        chunks: Mapping[str, MetricChunk],
        *,
        batch: MetricBatchId | None = None,
    ) -> None:
        # packed before the transaction, so that the write lock is held for the write only
        prepared = prepare_metric_chunks(run_id, chunks)
        if batch is not None:
            batch = check_metric_batch(batch)
        try:
            with self._session(write=True) as s:
                row = self._run_row(s, run_id)
                row.heartbeat_at = utcnow()
                if batch is not None:
                    if s.get(MetricBatchRow, batch) is not None:
                        return  # stored before: the writer retried after a lost answer
                    s.add(MetricBatchRow(writer=batch[0], seq=batch[1], run_id=run_id))
                    s.flush()
                self._write_metric_chunks(s, run_id, prepared)
        except AlreadyExistsError:
            if batch is None:
                raise
            # a concurrent retry of the same batch committed first (PostgreSQL): stored once
            with self._session() as s:
                if s.get(MetricBatchRow, batch) is None:
                    raise

    def _write_metric_chunks(self, s: Session, run_id: str, prepared: PreparedChunks) -> None:
        """Insert packed chunks and update their series' summaries inside the session ``s``."""
        keyed, rows = prepared
        if not keyed:
            return
        keys = [p[0] for p in keyed]
        q = select(MetricSummaryRow).where(
            MetricSummaryRow.run_id == run_id, MetricSummaryRow.key.in_(keys)
        )
        if self.dialect != "sqlite":
            q = q.with_for_update()
        summaries = {m.key: m for m in s.scalars(q)}
        s.execute(sa.insert(MetricChunkRow), rows)
        for key, st, vv in keyed:
            finite = vv[~np.isnan(vv)]
            lo = float(finite.min()) if len(finite) else float("nan")
            hi = float(finite.max()) if len(finite) else float("nan")
            m = summaries.get(key)
            last = float(vv[-1])
            if m is None:
                s.add(
                    MetricSummaryRow(
                        run_id=run_id,
                        key=key,
                        last_value=last,
                        last_step=int(st[-1]),
                        min_value=lo,
                        max_value=hi,
                        count=len(vv),
                    )
                )
            else:
                m.last_value, m.last_step, m.count = last, int(st[-1]), m.count + len(vv)
                m.min_value = float(np.fmin(_nan_if_none(m.min_value), lo))
                m.max_value = float(np.fmax(_nan_if_none(m.max_value), hi))

    def get_metric_series(self, run_id: str, key: str) -> MetricSeries:
        rows = self._metric_chunks(run_id, key, timestamps=True)
        return MetricSeries(
            run_id=run_id,
            key=key,
            steps=_concat([decode_steps(codec, blob, n) for n, codec, blob, *_ in rows]),
            timestamps=_concat([decode_timestamps(r[3], r[4], r[0]) for r in rows]),
            values=self._metric_values(run_id, key, rows),
        )

    def get_metric_steps_values(
        self, run_id: str, key: str
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        rows = self._metric_chunks(run_id, key, timestamps=False)
        steps = _concat([decode_steps(codec, blob, n) for n, codec, blob, _ in rows])
        return steps, self._metric_values(run_id, key, rows)

    def _metric_chunks(self, run_id: str, key: str, *, timestamps: bool) -> list[tuple[Any, ...]]:
        """``(n, steps_codec, steps, [timestamps_codec, timestamps,] values)`` of every chunk
        of a series, in logging order (large binary columns fetched as binary)."""
        columns: list[Any] = [MetricChunkRow.n, MetricChunkRow.steps_codec, MetricChunkRow.steps]
        if timestamps:
            columns += [MetricChunkRow.timestamps_codec, MetricChunkRow.timestamps]
        query = (
            select(*columns, MetricChunkRow.values)
            .where(MetricChunkRow.run_id == run_id, MetricChunkRow.key == key)
            .order_by(MetricChunkRow.id)
        )
        with self._session() as s:
            self._run_row(s, run_id)
            rows = fetch_large_rows(s, query)
        if not rows:
            raise NotFoundError(f"run {run_id!r} has no metric {key!r}")
        return rows

    @staticmethod
    def _metric_values(
        run_id: str, key: str, rows: list[tuple[Any, ...]]
    ) -> npt.NDArray[np.float64]:
        values = np.frombuffer(b"".join(r[-1] for r in rows), dtype="<f8")
        if len(values) != sum(r[0] for r in rows):
            raise StorageError(f"metric {key!r} of run {run_id} has a chunk of the wrong length")
        return values

    # -- datasets, predictions, artifacts ------------------------------------------------------
    def add_dataset(self, record: DatasetRecord) -> None:
        check_name("dataset", record.name)
        with self._session(write=True) as s:
            self._run_row(s, record.run_id)
            row = s.get(DatasetRow, (record.run_id, record.name))
            if row is not None:
                if row.fingerprint != record.fingerprint:
                    raise InvalidArgumentError(
                        f"dataset {record.name!r} of run {record.run_id} was logged with fingerprint "
                        f"{row.fingerprint}; refusing a different one ({record.fingerprint})"
                    )
                return
            s.add(
                DatasetRow(
                    run_id=record.run_id,
                    name=record.name,
                    fingerprint=record.fingerprint,
                    kind=record.kind,
                    n_rows=record.n_rows,
                    meta=dict(record.meta),
                )
            )

    def list_datasets(self, run_id: str) -> list[DatasetRecord]:
        with self._session() as s:
            self._run_row(s, run_id)
            return [
                DatasetRecord(
                    run_id=r.run_id,
                    name=r.name,
                    fingerprint=r.fingerprint,
                    kind=r.kind,
                    n_rows=r.n_rows,
                    meta=dict(r.meta),
                )
                for r in s.scalars(
                    select(DatasetRow).where(DatasetRow.run_id == run_id).order_by(DatasetRow.name)
                )
            ]

    def add_predictions(self, record: PredictionsRecord) -> None:
        with self._session(write=True) as s:
            self._run_row(s, record.run_id)
            if s.get(PredictionsRow, (record.run_id, record.dataset)) is not None:
                raise AlreadyExistsError(
                    f"run {record.run_id} already has predictions on dataset {record.dataset!r}"
                )
            s.add(
                PredictionsRow(
                    run_id=record.run_id,
                    dataset=record.dataset,
                    dataset_fingerprint=record.dataset_fingerprint,
                    ids_digest=record.ids_digest,
                    blob_digest=record.blob_digest,
                    n_rows=record.n_rows,
                    has_proba=record.has_proba,
                    classes=None if record.classes is None else list(record.classes),
                    created_at=record.created_at,
                )
            )

    def list_predictions(
        self, run_id: str | None = None, *, dataset_fingerprint: str | None = None
    ) -> list[PredictionsRecord]:
        with self._session() as s:
            q = select(PredictionsRow)
            if run_id is not None:
                self._run_row(s, run_id)
                q = q.where(PredictionsRow.run_id == run_id)
            if dataset_fingerprint is not None:
                q = q.where(PredictionsRow.dataset_fingerprint == dataset_fingerprint)
            return [
                PredictionsRecord(
                    run_id=r.run_id,
                    dataset=r.dataset,
                    dataset_fingerprint=r.dataset_fingerprint,
                    ids_digest=r.ids_digest,
                    blob_digest=r.blob_digest,
                    n_rows=r.n_rows,
                    has_proba=r.has_proba,
                    classes=None if r.classes is None else tuple(r.classes),
                    created_at=as_utc(r.created_at),
                )
                for r in s.scalars(q.order_by(PredictionsRow.run_id, PredictionsRow.dataset))
            ]

    def add_artifacts(self, records: Sequence[ArtifactRecord]) -> None:
        with self._session(write=True) as s:
            for run_id in {r.run_id for r in records}:
                self._run_row(s, run_id)
            for rec in records:
                row = s.get(ArtifactRow, (rec.run_id, rec.path))
                if row is None:
                    s.add(
                        ArtifactRow(
                            run_id=rec.run_id, path=rec.path, digest=rec.digest, size=rec.size
                        )
                    )
                elif row.digest != rec.digest:
                    raise ImmutableError(
                        f"artifact {rec.path!r} of run {rec.run_id} is already stored with "
                        f"sha256:{row.digest}; refusing to replace it with sha256:{rec.digest}"
                    )
                s.flush()

    def list_artifacts(self, run_id: str) -> list[ArtifactRecord]:
        with self._session() as s:
            self._run_row(s, run_id)
            return [
                ArtifactRecord(run_id=r.run_id, path=r.path, digest=r.digest, size=r.size)
                for r in s.scalars(
                    select(ArtifactRow)
                    .where(ArtifactRow.run_id == run_id)
                    .order_by(ArtifactRow.path)
                )
            ]
