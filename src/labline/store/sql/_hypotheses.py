"""SQL implementation of the hypothesis store (a mixin of :class:`SQLStore`).

Evaluation is recorded with one conditional UPDATE (``... WHERE status = 'waiting for runs'``):
of two concurrent evaluators exactly one changes a row, the other gets ImmutableError.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from ..._exceptions import ImmutableError, InvalidArgumentError, NotFoundError
from ...core._grammar import check_actor
from ...core._types import Hypothesis, HypothesisStatus
from ...core._validation import check_hypothesis_fields
from .._hypotheses_base import HypothesisStoreBase
from ._mixin_base import SQLMixinBase, as_utc, utcnow
from ._models_hypotheses import HypothesisRow


def _to_hypothesis(row: HypothesisRow) -> Hypothesis:
    return Hypothesis(
        id=row.id,
        statement=row.statement,
        baseline=row.baseline,
        candidate=row.candidate,
        metric=row.metric,
        dataset=row.dataset,
        min_effect=row.min_effect,
        alpha=row.alpha,
        seeds=row.seeds,
        created_at=as_utc(row.created_at),
        status=HypothesisStatus(row.status),
        evaluated_at=None if row.evaluated_at is None else as_utc(row.evaluated_at),
        result=dict(row.result or {}),
        supersedes=row.supersedes,
        seed=row.id if row.seed is None else row.seed,
        created_by=row.created_by or "",
    )


def _hypothesis_id(value: object) -> int:
    """A stored id, or NotFoundError: ids outside SQL's 64-bit range cannot exist."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise NotFoundError(f"hypothesis {value!r} does not exist")
    return value


class HypothesisSQLMixin(SQLMixinBase, HypothesisStoreBase):
    """Hypothesis-store methods implemented with SQLAlchemy."""

    def add_hypothesis(
        self,
        *,
        statement: str,
        baseline: str,
        candidate: str,
        metric: str,
        dataset: str | None,
        min_effect: float,
        alpha: float,
        seeds: int,
        supersedes: int | None = None,
        created_by: str = "",
    ) -> Hypothesis:
        fields = check_hypothesis_fields(
            statement=statement,
            baseline=baseline,
            candidate=candidate,
            metric=metric,
            dataset=dataset,
            min_effect=min_effect,
            alpha=alpha,
            seeds=seeds,
            supersedes=supersedes,
        )
        row = HypothesisRow(
            **fields,
            created_at=utcnow(),
            status=HypothesisStatus.WAITING.value,
            created_by=check_actor(created_by, "created_by") if created_by else "",
        )
        with self._session(write=True) as s:
            if row.supersedes is not None and (
                not 0 < row.supersedes < 2**63 or s.get(HypothesisRow, row.supersedes) is None
            ):
                raise NotFoundError(f"hypothesis {supersedes} does not exist (supersedes)")
            s.add(row)
            s.flush()
            # the seed is fixed at registration, before any run is looked at: its own id
            row.seed = row.id
            s.flush()
            return _to_hypothesis(row)

    def get_hypothesis(self, hypothesis_id: int) -> Hypothesis:
        hypothesis_id = _hypothesis_id(hypothesis_id)
        with self._session() as s:
            row = s.get(HypothesisRow, hypothesis_id)
            if row is None:
                raise NotFoundError(f"hypothesis {hypothesis_id} does not exist")
            return _to_hypothesis(row)

    def list_hypotheses(self) -> list[Hypothesis]:
        with self._session() as s:
            rows = s.scalars(sa.select(HypothesisRow).order_by(HypothesisRow.id)).all()
            return [_to_hypothesis(r) for r in rows]

    def record_hypothesis_result(
        self, hypothesis_id: int, status: HypothesisStatus, result: Mapping[str, Any]
    ) -> Hypothesis:
        hypothesis_id = _hypothesis_id(hypothesis_id)
        try:
            status = HypothesisStatus(status)
        except ValueError:
            raise InvalidArgumentError("status must be an evaluated status") from None
        if not status.evaluated:
            raise InvalidArgumentError("status must be an evaluated status")
        with self._session(write=True) as s:
            changed = s.execute(
                sa.update(HypothesisRow)
                .where(
                    HypothesisRow.id == int(hypothesis_id),
                    HypothesisRow.status == HypothesisStatus.WAITING.value,
                )
                .values(status=status.value, evaluated_at=utcnow(), result=dict(result))
            ).rowcount  # type: ignore[attr-defined]
            row = s.get(HypothesisRow, int(hypothesis_id))
            if row is None:
                raise NotFoundError(f"hypothesis {hypothesis_id} does not exist")
            if changed != 1:
                raise ImmutableError(
                    f"hypothesis {hypothesis_id} was already evaluated ({row.status}); "
                    "register a new hypothesis that supersedes it instead"
                )
            s.refresh(row)
            return _to_hypothesis(row)
