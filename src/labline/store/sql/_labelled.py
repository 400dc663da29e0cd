"""SQL implementation of labelled datasets (a mixin of :class:`SQLStore`). Version numbers are
protected by the primary key ``(name, version)``: a writer that lost the race to a number
retries against the new state, as the registry does."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..._exceptions import AlreadyExistsError, NotFoundError, StorageError
from ...core._grammar import check_actor, check_name
from ...core._review import LabelledDataset
from .._labelled_base import LabelledRow, LabelledStoreBase
from ._mixin_base import SQLMixinBase, as_utc, utcnow
from ._models_review import LabelledDatasetRow, LabelledExampleRow

_RETRIES = 50
_MAX_VERSION = 2**31 - 1


def _dataset(row: LabelledDatasetRow) -> LabelledDataset:
    return LabelledDataset(
        name=row.name,
        version=row.version,
        fingerprint=row.fingerprint,
        n_examples=row.n_examples,
        created_at=as_utc(row.created_at),
        created_by=row.created_by,
        query=dict(row.query or {}),
        meta=dict(row.meta or {}),
    )


class LabelledSQLMixin(SQLMixinBase, LabelledStoreBase):
    """Labelled-dataset methods implemented with SQLAlchemy."""

    def _latest(self, s: Session, name: str) -> LabelledDatasetRow | None:
        return s.scalars(
            sa.select(LabelledDatasetRow)
            .where(LabelledDatasetRow.name == name)
            .order_by(LabelledDatasetRow.version.desc())
            .limit(1)
        ).first()

    def add_labelled_dataset(
        self,
        name: str,
        fingerprint: str,
        examples: Sequence[LabelledRow],
        *,
        created_by: str,
        query: Mapping[str, Any],
        meta: Mapping[str, Any],
    ) -> tuple[LabelledDataset, bool]:
        check_name("dataset", name)
        check_actor(created_by, "created_by")
        delay = 0.005
        for _ in range(_RETRIES):
            try:
                with self._session(write=True) as s:
                    latest = self._latest(s, name)
                    if latest is not None and latest.fingerprint == fingerprint:
                        return _dataset(latest), False
                    row = LabelledDatasetRow(
                        name=name,
                        version=1 if latest is None else latest.version + 1,
                        fingerprint=fingerprint,
                        n_examples=len(examples),
                        created_at=utcnow(),
                        created_by=created_by,
                        query=dict(query),
                        meta=dict(meta),
                    )
                    s.add(row)
                    s.flush()
                    s.add_all(
                        LabelledExampleRow(
                            name=name,
                            version=row.version,
                            item_id=item_id,
                            label=label,
                            decision_ids=list(decision_ids),
                        )
                        for item_id, label, decision_ids in examples
                    )
                    s.flush()
                    return _dataset(row), True
            except AlreadyExistsError:
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
        raise StorageError("labelled dataset write kept conflicting with concurrent writers")

    def list_labelled_datasets(self, name: str | None = None) -> list[LabelledDataset]:
        q = sa.select(LabelledDatasetRow)
        if name is not None:
            q = q.where(LabelledDatasetRow.name == name)
        with self._session() as s:
            rows = s.scalars(q.order_by(LabelledDatasetRow.name, LabelledDatasetRow.version))
            return [_dataset(r) for r in rows]

    def get_labelled_dataset(self, name: str, version: int | None = None) -> LabelledDataset:
        with self._session() as s:
            if version is None:
                row = self._latest(s, name)
            elif isinstance(version, int) and 1 <= version <= _MAX_VERSION:
                row = s.get(LabelledDatasetRow, (name, version))
            else:
                row = None
            if row is None:
                at = "" if version is None else f"@{version}"
                raise NotFoundError(f"no labelled dataset {name}{at}")
            return _dataset(row)

    def labelled_dataset_rows(self, name: str, version: int) -> list[LabelledRow]:
        self.get_labelled_dataset(name, version)
        with self._session() as s:
            rows = s.scalars(
                sa.select(LabelledExampleRow)
                .where(LabelledExampleRow.name == name, LabelledExampleRow.version == version)
                .order_by(LabelledExampleRow.item_id)
            )
            return [(r.item_id, r.label, tuple(r.decision_ids)) for r in rows]
