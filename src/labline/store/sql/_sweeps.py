"""Sweep methods of SQLStore: sweeps, trials, and their mirror as ordinary run data."""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from ..._exceptions import (
    AlreadyExistsError,
    ImmutableError,
    InvalidArgumentError,
    NotFoundError,
)
from ...core._grammar import check_actor, check_key
from ...core._run_query import numeric_text
from ...core._types import (
    SWEEP_TAG,
    TRIAL_STATE_TAG,
    TRIAL_TAG,
    RunStatus,
    Sweep,
    Trial,
    TrialParam,
    TrialState,
)
from ...core._validation import MAX_PARAM_VALUE_LEN
from .._sweeps_base import AttrKind
from ._mixin_base import as_utc, utcnow
from ._models import MAX_KEY, ExperimentRow, ParamRow, RunRow, TagRow
from ._models_sweeps import SweepRow, TrialRow
from ._tracking import TrackingSQLMixin, prepare_metric_chunks

_DIRECTIONS = ("minimize", "maximize")
_RUN_STATUS = {
    TrialState.RUNNING: RunStatus.RUNNING,
    TrialState.WAITING: RunStatus.RUNNING,
    TrialState.COMPLETE: RunStatus.FINISHED,
    TrialState.PRUNED: RunStatus.FINISHED,
    TrialState.FAIL: RunStatus.FAILED,
}
STATE_TAG = TRIAL_STATE_TAG
USER_ATTR_TAG = "sweep.attr."


def _dumps(value: Any) -> str:
    # Python's JSON keeps NaN and ±Inf (as NaN/Infinity), which attribute values may be
    return json.dumps(value, allow_nan=True)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _sweep(row: SweepRow, experiment: str) -> Sweep:
    return Sweep(
        id=row.id,
        name=row.name,
        run_id=row.run_id,
        experiment=experiment,
        directions=tuple(_loads(row.directions)),
        metrics=tuple(_loads(row.metrics)),
        user_attrs=_loads(row.user_attrs),
        system_attrs=_loads(row.system_attrs),
        created_at=as_utc(row.created_at),
    )


def _trial(row: TrialRow) -> Trial:
    values = _loads(row.values)
    return Trial(
        id=row.id,
        sweep_id=row.sweep_id,
        number=row.number,
        run_id=row.run_id,
        state=TrialState(row.state),
        values=None if values is None else tuple(float(v) for v in values),
        datetime_start=row.datetime_start,
        datetime_complete=row.datetime_complete,
        params={
            k: TrialParam(internal=v[0], distribution=v[1], display=v[2])
            for k, v in _loads(row.params).items()
        },
        intermediate_values={int(k): float(v) for k, v in _loads(row.intermediate).items()},
        user_attrs=_loads(row.user_attrs),
        system_attrs=_loads(row.system_attrs),
    )


def _check_attr_key(key: object) -> str:
    if not isinstance(key, str):
        raise InvalidArgumentError(f"attribute key must be a string, got {type(key).__name__}")
    return key


def _json_value(key: str, value: Any) -> str:
    try:
        return _dumps(value)
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError(f"attribute {key!r} is not a JSON value") from e


def _display(text: str) -> str:
    return text[:MAX_PARAM_VALUE_LEN]


def _tag_key(prefix: str, key: str) -> str | None:
    """The run tag an attribute is mirrored to, or ``None`` when the key cannot be a tag key."""
    full = prefix + key
    try:
        return check_key("tag", full) if len(full) <= MAX_KEY else None
    except InvalidArgumentError:
        return None


def _runs_follow_trial_statements() -> tuple[Any, Any]:
    """The two UPDATEs of ``runs`` a trial's state move makes, built once (bound parameters:
    ``trial_run``, ``parent``, ``sweep``, ``trial``, ``status``, ``now``), each moving the
    trial's run and the sweep's run together (see the sweep contract):

    * a trial starts: both ``running`` with a fresh heartbeat (the sweep run's error cleared);
    * a trial ends: its run ``status`` (ended now); the sweep's run ``finished`` if no other
      trial of the sweep runs, else handed to a running trial's writer (its host and pid).

    Run while the sweep's row is locked (PostgreSQL), so that two trials ending at once cannot
    both see the other still running."""
    trial_run = sa.bindparam("trial_run", type_=RunRow.__table__.c.id.type)
    now = sa.bindparam("now", type_=RunRow.__table__.c.heartbeat_at.type)
    is_trial = RunRow.id == trial_run
    targets = sa.or_(
        is_trial,
        sa.and_(
            RunRow.id == sa.bindparam("parent", type_=RunRow.__table__.c.id.type),
            RunRow.deleted_at.is_(None),
        ),
    )
    started = (
        sa.update(RunRow)
        .where(targets)
        .values(
            status=RunStatus.RUNNING.value,
            ended_at=None,
            heartbeat_at=now,
            error=sa.case((is_trial, RunRow.error), else_=sa.null()),
        )
        .execution_options(synchronize_session=False)
    )
    others = sa.and_(
        TrialRow.sweep_id == sa.bindparam("sweep", type_=sa.Integer()),
        TrialRow.state == TrialState.RUNNING.value,
        TrialRow.id != sa.bindparam("trial", type_=sa.Integer()),
    )
    other = (
        select(TrialRow.run_id).where(others).order_by(TrialRow.number.desc()).limit(1)
    ).scalar_subquery()
    worker = aliased(RunRow)
    done = sa.and_(RunRow.status == RunStatus.RUNNING.value, ~sa.exists().where(others))
    ended = (
        sa.update(RunRow)
        .where(targets)
        .values(
            status=sa.case(
                (is_trial, sa.bindparam("status", type_=RunRow.__table__.c.status.type)),
                (done, RunStatus.FINISHED.value),
                else_=RunRow.status,
            ),
            ended_at=sa.case((sa.or_(is_trial, done), now), else_=RunRow.ended_at),
            heartbeat_at=now,
            host=sa.case(
                (is_trial, RunRow.host),
                else_=sa.func.coalesce(
                    select(worker.host).where(worker.id == other).scalar_subquery(), RunRow.host
                ),
            ),
            pid=sa.case(
                (is_trial, RunRow.pid),
                else_=sa.func.coalesce(
                    select(worker.pid).where(worker.id == other).scalar_subquery(), RunRow.pid
                ),
            ),
        )
        .execution_options(synchronize_session=False)
    )
    return started, ended


_RUNS_STARTED, _RUNS_ENDED = _runs_follow_trial_statements()


class SweepSQLMixin(TrackingSQLMixin):
    """:class:`~labline.store.SweepStoreBase` on SQLAlchemy (mixed into SQLStore).

    A trial's writes are Optuna's hot path (a transaction per suggested param and per
    reported value), so each takes few statements: the trial row and whether its run still
    exists in one locked read, upserts for the run's param and tag, and a sweep's objective
    names and first distributions (immutable once written; sweep ids are never reused) kept
    in memory after their first read.
    """

    def _sweep_facts(self, s: Session, sweep_id: int) -> tuple[list[str], str]:
        """A sweep's objective names and its run's id (both fixed at creation)."""
        cache: dict[int, tuple[list[str], str]] = self.__dict__.setdefault("_sweep_facts_cache", {})
        found = cache.get(sweep_id)
        if found is None:
            row = s.execute(
                select(SweepRow.metrics, SweepRow.run_id).where(SweepRow.id == sweep_id)
            ).first()
            if row is None:
                raise NotFoundError(f"no sweep {sweep_id!r}")
            found = cache[sweep_id] = (list(_loads(row[0])), row[1])
        return found

    def _sweep_metrics(self, s: Session, sweep_id: int) -> list[str]:
        return self._sweep_facts(s, sweep_id)[0]

    def _upsert(self, table: Any, values: dict[str, Any], update: Sequence[str]) -> Any:
        """``INSERT ... ON CONFLICT (primary key) DO UPDATE`` in this dialect."""
        from sqlalchemy.dialects import postgresql, sqlite

        insert: Any = sqlite.insert if self.dialect == "sqlite" else postgresql.insert
        stmt = insert(table).values(**values)
        keys = [c.name for c in table.__table__.primary_key.columns]
        return stmt.on_conflict_do_update(
            index_elements=keys, set_={k: stmt.excluded[k] for k in update}
        )

    def _live_trial(
        self, s: Session, trial_id: int, *, lock_sweep: bool = False
    ) -> tuple[TrialRow, bool]:
        """The trial's row, locked (with its sweep's row for a state move: moves of one sweep's
        trials are serialized), refused when finished; and whether its run exists."""
        if isinstance(trial_id, bool) or not isinstance(trial_id, int):
            raise NotFoundError(f"no trial {trial_id!r}")
        q = (
            select(TrialRow, RunRow.id)
            .outerjoin(RunRow, RunRow.id == TrialRow.run_id)
            .where(TrialRow.id == trial_id)
        )
        if self.dialect != "sqlite" and lock_sweep:
            q = q.join(SweepRow, SweepRow.id == TrialRow.sweep_id).with_for_update(
                of=(TrialRow, SweepRow)
            )
        elif self.dialect != "sqlite":
            q = q.with_for_update(of=TrialRow)
        found = s.execute(q).first()
        if found is None:
            raise NotFoundError(f"no trial {trial_id!r}")
        row, run_id = found
        if TrialState(row.state).finished:
            raise ImmutableError(
                f"trial {row.number} of sweep {row.sweep_id} is {row.state}; a finished trial "
                "cannot be changed"
            )
        return row, run_id is not None

    # -- sweeps --------------------------------------------------------------------------------
    def create_sweep(
        self,
        experiment_id: int,
        name: str,
        *,
        directions: Sequence[str],
        metrics: Sequence[str],
        created_by: str = "",
        host: str = "",
        pid: int = 0,
    ) -> Sweep:
        if not isinstance(name, str) or len(name) > 250:
            raise InvalidArgumentError("sweep name must be a string of at most 250 characters")
        dirs = [str(d) for d in directions]
        if not dirs or any(d not in _DIRECTIONS for d in dirs):
            raise InvalidArgumentError(
                f"directions must be one or more of {list(_DIRECTIONS)}, got {dirs}"
            )
        names = [check_key("metric", m) for m in metrics]
        if len(names) != len(dirs) or len(set(names)) != len(names):
            raise InvalidArgumentError(
                f"metrics must name each of the {len(dirs)} objective(s) once, got {names}"
            )
        created_by = check_actor(created_by, "created_by") if created_by else ""
        run_id = uuid.uuid4().hex
        try:
            run_name = check_key("run name", name) if name else f"sweep-{run_id[:8]}"
        except InvalidArgumentError:
            run_name = f"sweep-{run_id[:8]}"
        now = utcnow()
        with self._session(write=True) as s:
            exp = s.get(ExperimentRow, experiment_id)
            if exp is None:
                raise NotFoundError(f"no experiment with id {experiment_id}")
            if s.scalar(select(SweepRow.id).where(SweepRow.name == name)) is not None:
                raise AlreadyExistsError(f"sweep {name!r} already exists")
            s.add(
                RunRow(
                    id=run_id,
                    experiment_id=experiment_id,
                    name=run_name,
                    status=RunStatus.RUNNING.value,
                    created_at=now,
                    heartbeat_at=now,
                    env={},
                    host=host,
                    pid=pid,
                    created_by=created_by,
                )
            )
            s.flush()
            row = SweepRow(
                name=name,
                run_id=run_id,
                experiment_id=experiment_id,
                directions=_dumps(dirs),
                metrics=_dumps(names),
                user_attrs="{}",
                system_attrs="{}",
                distributions="{}",
                n_trials=0,
                created_at=now,
            )
            s.add(row)
            s.flush()
            s.add(TagRow(run_id=run_id, key=SWEEP_TAG, value=str(row.id)))
            s.add_all(
                ParamRow(run_id=run_id, key=f"sweep.direction.{m}", value=d, value_num=None)
                for m, d in zip(names, dirs, strict=True)
            )
            return _sweep(row, exp.name)

    def _sweep_row(self, s: Session, name_or_id: str | int, *, lock: bool = False) -> SweepRow:
        if isinstance(name_or_id, bool) or not isinstance(name_or_id, int | str):
            raise NotFoundError(f"no sweep {name_or_id!r}")
        q = select(SweepRow).where(
            SweepRow.id == name_or_id
            if isinstance(name_or_id, int)
            else SweepRow.name == name_or_id
        )
        if lock and self.dialect != "sqlite":
            q = q.with_for_update()
        row = s.scalar(q)
        if row is None:
            raise NotFoundError(f"no sweep {name_or_id!r}")
        return row

    def get_sweep(self, name_or_id: str | int) -> Sweep:
        with self._session() as s:
            row = self._sweep_row(s, name_or_id)
            exp = s.get(ExperimentRow, row.experiment_id)
            return _sweep(row, exp.name if exp else "")

    def list_sweeps(self) -> list[Sweep]:
        with self._session() as s:
            rows = s.execute(
                select(SweepRow, ExperimentRow.name)
                .join(ExperimentRow, ExperimentRow.id == SweepRow.experiment_id, isouter=True)
                .order_by(SweepRow.id)
            ).all()
            return [_sweep(r, e or "") for r, e in rows]

    def delete_sweep(self, sweep_id: int, *, actor: str) -> None:
        actor = check_actor(actor)
        with self._session(write=True) as s:
            if self.dialect != "sqlite" and isinstance(sweep_id, int):
                # trial rows before the sweep's row, in the order every trial writer locks them
                s.execute(
                    select(TrialRow.id).where(TrialRow.sweep_id == sweep_id).with_for_update()
                )
            row = self._sweep_row(s, sweep_id, lock=True)
            run_ids = [
                row.run_id,
                *s.scalars(select(TrialRow.run_id).where(TrialRow.sweep_id == row.id)),
            ]
            now = utcnow()
            for i in range(0, len(run_ids), 500):
                s.execute(
                    sa.update(RunRow)
                    .where(RunRow.id.in_(run_ids[i : i + 500]), RunRow.deleted_at.is_(None))
                    .values(deleted_at=now, deleted_by=actor)
                )
            s.execute(sa.delete(TrialRow).where(TrialRow.sweep_id == row.id))
            s.delete(row)

    def set_sweep_attr(self, sweep_id: int, kind: AttrKind, key: str, value: Any) -> None:
        key = _check_attr_key(key)
        text = _json_value(key, value)
        with self._session(write=True) as s:
            row = self._sweep_row(s, sweep_id, lock=True)
            column = "user_attrs" if kind == "user" else "system_attrs"
            attrs = _loads(getattr(row, column))
            attrs[key] = _loads(text)
            setattr(row, column, _dumps(attrs))

    # -- trials --------------------------------------------------------------------------------
    def create_trial(
        self,
        sweep_id: int,
        *,
        state: TrialState = TrialState.RUNNING,
        values: Sequence[float] | None = None,
        datetime_start: datetime | None = None,
        datetime_complete: datetime | None = None,
        params: Mapping[str, TrialParam] | None = None,
        intermediate_values: Mapping[int, float] | None = None,
        user_attrs: Mapping[str, Any] | None = None,
        system_attrs: Mapping[str, Any] | None = None,
        created_by: str = "",
        host: str = "",
        pid: int = 0,
    ) -> Trial:
        state = TrialState(state)
        created_by = check_actor(created_by, "created_by") if created_by else ""
        if state is TrialState.RUNNING and datetime_start is None:
            datetime_start = datetime.now()
        params = dict(params or {})
        inter = {int(k): float(v) for k, v in (intermediate_values or {}).items()}
        users = {
            _check_attr_key(k): _loads(_json_value(k, v)) for k, v in (user_attrs or {}).items()
        }
        systems = {
            _check_attr_key(k): _loads(_json_value(k, v)) for k, v in (system_attrs or {}).items()
        }
        vals = None if values is None else [float(v) for v in values]
        run_id = uuid.uuid4().hex
        now = utcnow()
        with self._session(write=True) as s:
            numbered = s.execute(
                sa.update(SweepRow)
                .where(SweepRow.id == sweep_id)
                .values(n_trials=SweepRow.n_trials + 1)
                .returning(
                    SweepRow.n_trials, SweepRow.experiment_id, SweepRow.run_id, SweepRow.metrics
                )
            ).first()
            if numbered is None or isinstance(sweep_id, bool):
                raise NotFoundError(f"no sweep {sweep_id!r}")
            number, experiment_id, parent_run_id, metrics_text = numbered
            number -= 1
            metrics = _loads(metrics_text)
            status = _RUN_STATUS[state]
            s.add(
                RunRow(
                    id=run_id,
                    experiment_id=experiment_id,
                    name=f"trial-{number}",
                    status=status.value,
                    created_at=now,
                    ended_at=None if status is RunStatus.RUNNING else now,
                    heartbeat_at=now,
                    env={},
                    host=host,
                    pid=pid,
                    parent_id=parent_run_id,
                    created_by=created_by,
                )
            )
            row = TrialRow(
                sweep_id=sweep_id,
                number=number,
                run_id=run_id,
                state=state.value,
                values=None if vals is None else _dumps(vals),
                datetime_start=datetime_start,
                datetime_complete=datetime_complete,
                params=_dumps(
                    {k: [p.internal, p.distribution, p.display] for k, p in params.items()}
                ),
                intermediate=_dumps(inter),
                user_attrs=_dumps(users),
                system_attrs=_dumps(systems),
            )
            s.add(row)
            s.flush()
            if params:
                sweep = s.get(SweepRow, sweep_id)
                assert sweep is not None
                self._record_distributions(s, sweep, params)
            s.add_all(
                ParamRow(
                    run_id=run_id,
                    key=check_key("param", k),
                    value=_display(p.display),
                    value_num=numeric_text(_display(p.display)),
                )
                for k, p in params.items()
            )
            tags = {SWEEP_TAG: str(sweep_id), TRIAL_TAG: str(number), STATE_TAG: state.value}
            for k, v in users.items():
                tag = _tag_key(USER_ATTR_TAG, k)
                if tag is not None:
                    tags[tag] = _dumps(v)
            s.add_all(TagRow(run_id=run_id, key=k, value=v) for k, v in tags.items())
            self._mirror_metrics(s, run_id, metrics, inter, vals)
            # the numbering update above holds the sweep's row lock
            self.__dict__.setdefault("_sweep_facts_cache", {})[sweep_id] = (metrics, parent_run_id)
            if state is TrialState.RUNNING:  # the sweep's run is the new trial's writer's
                s.execute(
                    sa.update(RunRow)
                    .where(RunRow.id == parent_run_id, RunRow.deleted_at.is_(None))
                    .values(
                        status=RunStatus.RUNNING.value,
                        ended_at=None,
                        error=None,
                        heartbeat_at=now,
                        host=host,
                        pid=pid,
                    )
                    .execution_options(synchronize_session=False)
                )
            elif state.finished:  # an ended trial added: the sweep's run may be done
                s.execute(
                    _RUNS_ENDED,
                    {
                        "trial_run": "",  # the new trial's run is ended already
                        "parent": parent_run_id,
                        "sweep": sweep_id,
                        "trial": row.id,
                        "status": status.value,
                        "now": now,
                    },
                )
            return _trial(row)

    def _record_distributions(
        self, s: Session, sweep: SweepRow, params: Mapping[str, TrialParam]
    ) -> None:
        known = _loads(sweep.distributions)
        new = {k: p.distribution for k, p in params.items() if k not in known}
        if new:
            known.update(new)
            sweep.distributions = _dumps(known)

    def _mirror_metrics(
        self,
        s: Session,
        run_id: str,
        metrics: Sequence[str],
        intermediate: Mapping[int, float],
        values: Sequence[float] | None,
        *,
        after_step: int | None = None,
    ) -> None:
        """Intermediate values become the first objective's series; the final values follow
        at the next step, so a series' last value is the trial's value."""
        chunks = {}
        now = time.time()
        last = max(intermediate) if intermediate else -1
        if after_step is not None:
            last = max(last, after_step)
        if intermediate:
            steps = np.array(sorted(intermediate), dtype=np.int64)
            chunks[metrics[0]] = (
                steps,
                np.full(len(steps), now),
                np.array([intermediate[int(k)] for k in steps], dtype=np.float64),
            )
        for i, m in enumerate(metrics):
            if values is None or i >= len(values):
                break
            point = (np.array([last + 1]), np.array([now]), np.array([values[i]], dtype=np.float64))
            if m in chunks:
                chunks[m] = tuple(
                    np.concatenate([a, b]) for a, b in zip(chunks[m], point, strict=True)
                )  # type: ignore[assignment]
            else:
                chunks[m] = point
        if chunks:
            self._write_metric_chunks(s, run_id, prepare_metric_chunks(run_id, chunks))

    def _trial_row(self, s: Session, trial_id: int, *, lock: bool = False) -> TrialRow:
        if isinstance(trial_id, bool) or not isinstance(trial_id, int):
            raise NotFoundError(f"no trial {trial_id!r}")
        q = select(TrialRow).where(TrialRow.id == trial_id)
        if lock and self.dialect != "sqlite":
            q = q.with_for_update()
        row = s.scalar(q)
        if row is None:
            raise NotFoundError(f"no trial {trial_id!r}")
        return row

    def get_trial(self, trial_id: int) -> Trial:
        with self._session() as s:
            return _trial(self._trial_row(s, trial_id))

    def get_trials(
        self, sweep_id: int, *, states: Collection[TrialState] | None = None
    ) -> list[Trial]:
        if isinstance(sweep_id, bool) or not isinstance(sweep_id, int):
            raise NotFoundError(f"no sweep {sweep_id!r}")
        # one statement: the sweep (it must exist) with its trials, if any (Optuna asks per
        # trial, mostly for the waiting ones, of which there are usually none)
        on = TrialRow.sweep_id == SweepRow.id
        if states is not None:
            on = sa.and_(on, TrialRow.state.in_([TrialState(x).value for x in states]))
        q = (
            select(SweepRow.id, TrialRow)
            .outerjoin(TrialRow, on)
            .where(SweepRow.id == sweep_id)
            .order_by(TrialRow.number)
        )
        with self._session() as s:
            rows = s.execute(q).all()
            if not rows:
                raise NotFoundError(f"no sweep {sweep_id!r}")
            return [_trial(r) for _, r in rows if r is not None]

    def trial_id(self, sweep_id: int, number: int) -> int:
        with self._session() as s:
            self._sweep_row(s, sweep_id)
            found = s.scalar(
                select(TrialRow.id).where(TrialRow.sweep_id == sweep_id, TrialRow.number == number)
            )
            if found is None:
                raise NotFoundError(f"sweep {sweep_id} has no trial number {number!r}")
            return int(found)

    def set_trial_param(
        self,
        trial_id: int,
        name: str,
        param: TrialParam,
        *,
        compatible: Callable[[str, str], bool],
    ) -> None:
        key = check_key("param", name)
        display = _display(param.display)
        with self._session(write=True) as s:
            row, has_run = self._live_trial(s, trial_id)
            known: dict[tuple[int, str], str] = self.__dict__.setdefault("_first_dists", {})
            first = known.get((row.sweep_id, key))
            if first is None:
                sweep = self._sweep_row(s, row.sweep_id, lock=True)
                first = _loads(sweep.distributions).get(key)
                if first is None:
                    self._record_distributions(s, sweep, {key: param})
            if first is not None and not compatible(first, param.distribution):
                raise InvalidArgumentError(
                    f"param {key!r} was sampled from another distribution earlier in this sweep"
                )
            params = _loads(row.params)
            params[key] = [param.internal, param.distribution, display]
            row.params = _dumps(params)
            if has_run:
                s.execute(
                    self._upsert(
                        ParamRow,
                        {
                            "run_id": row.run_id,
                            "key": key,
                            "value": display,
                            "value_num": numeric_text(display),
                        },
                        ("value", "value_num"),
                    )
                )
        # once committed, the sweep's first distribution for this name never changes
        known[(row.sweep_id, key)] = first if first is not None else param.distribution

    def set_trial_state(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        state = TrialState(state)
        vals = None if values is None else [float(v) for v in values]
        if vals is not None and any(math.isnan(v) for v in vals):
            raise InvalidArgumentError("trial values must not be NaN")
        with self._session(write=True) as s:
            row, has_run = self._live_trial(s, trial_id, lock_sweep=True)
            if state is TrialState.RUNNING and row.state != TrialState.WAITING.value:
                return False
            row.state = state.value
            if vals is not None:
                row.values = _dumps(vals)
            if state is TrialState.RUNNING:
                row.datetime_start = datetime.now()
            if state.finished:
                row.datetime_complete = datetime.now()
            s.flush()  # the trial's new state, before the sweep's run looks at its trials
            self._move_runs(s, row, state)
            if has_run:
                s.execute(
                    self._upsert(
                        TagRow,
                        {"run_id": row.run_id, "key": STATE_TAG, "value": state.value},
                        ("value",),
                    )
                )
                if vals is not None:
                    steps = [int(k) for k in _loads(row.intermediate)]
                    self._mirror_metrics(
                        s,
                        row.run_id,
                        self._sweep_metrics(s, row.sweep_id),
                        {},
                        vals,
                        after_step=max(steps) if steps else None,
                    )
            return True

    def _move_runs(self, s: Session, row: TrialRow, state: TrialState) -> None:
        """The trial's run and the sweep's run after a state move, in one UPDATE."""
        params = {
            "trial_run": row.run_id,
            "parent": self._sweep_facts(s, row.sweep_id)[1],
            "now": utcnow(),
        }
        if state is TrialState.RUNNING:
            s.execute(_RUNS_STARTED, params)
        elif state.finished:
            status = _RUN_STATUS[state].value
            s.execute(
                _RUNS_ENDED, {**params, "sweep": row.sweep_id, "trial": row.id, "status": status}
            )
        else:  # back to waiting: the trial's run only
            s.execute(
                sa.update(RunRow)
                .where(RunRow.id == row.run_id)
                .values(status=RunStatus.RUNNING.value, ended_at=None, heartbeat_at=params["now"])
            )

    def set_trial_intermediate_value(self, trial_id: int, step: int, value: float) -> None:
        if isinstance(step, bool) or not isinstance(step, int | np.integer):
            raise InvalidArgumentError(f"step must be an integer, got {type(step).__name__}")
        with self._session(write=True) as s:
            row, has_run = self._live_trial(s, trial_id)
            inter = _loads(row.intermediate)
            inter[str(int(step))] = float(value)
            row.intermediate = _dumps(inter)
            if has_run:
                self._write_metric_chunks(
                    s,
                    row.run_id,
                    prepare_metric_chunks(
                        row.run_id,
                        {
                            self._sweep_metrics(s, row.sweep_id)[0]: (
                                np.array([int(step)]),
                                np.array([time.time()]),
                                np.array([float(value)]),
                            )
                        },
                    ),
                )

    def set_trial_attr(self, trial_id: int, kind: AttrKind, key: str, value: Any) -> None:
        key = _check_attr_key(key)
        text = _json_value(key, value)
        with self._session(write=True) as s:
            row, has_run = self._live_trial(s, trial_id)
            column = "user_attrs" if kind == "user" else "system_attrs"
            attrs = _loads(getattr(row, column))
            attrs[key] = _loads(text)
            setattr(row, column, _dumps(attrs))
            tag = _tag_key(USER_ATTR_TAG, key) if kind == "user" else None
            if tag is not None and has_run:
                s.execute(
                    self._upsert(
                        TagRow, {"run_id": row.run_id, "key": tag, "value": text}, ("value",)
                    )
                )
