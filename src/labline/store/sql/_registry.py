"""SQL implementation of the registry store (a mixin of :class:`SQLStore`).

Concurrency without table locks: version numbers and alias-history sequence numbers are
protected by unique constraints. A writer reads the current state, writes ``n + 1``, and if
another process got there first the constraint fails, the transaction rolls back and the
writer retries against the new state. This holds on SQLite (where writers are serialized
anyway) and on PostgreSQL at READ COMMITTED.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..._exceptions import (
    AlreadyExistsError,
    ImmutableError,
    InvalidArgumentError,
    NotFoundError,
    StorageError,
)
from ...core._grammar import (
    Digest,
    check_actor,
    check_alias_name,
    check_key,
    check_model_name,
    check_model_version,
    is_model_version,
)
from ...core._types import AliasEvent, AliasRecord, ModelVersion, RegisteredModel
from .._registry_base import RegistryStoreBase
from ._mixin_base import SQLMixinBase, as_utc, utcnow
from ._models_registry import ModelAliasEventRow, ModelAliasRow, ModelVersionRow, RegisteredModelRow

_RETRIES = 50

T = TypeVar("T")


def _version(row: ModelVersionRow) -> ModelVersion:
    return ModelVersion(
        name=row.name,
        version=row.version,
        digest=row.digest,
        run_id=row.run_id,
        created_at=as_utc(row.created_at),
        created_by=row.created_by,
        meta=dict(row.meta or {}),
    )


def _event(row: ModelAliasEventRow) -> AliasEvent:
    return AliasEvent(
        name=row.name,
        alias=row.alias,
        seq=row.seq,
        from_version=row.from_version,
        to_version=row.to_version,
        at=as_utc(row.at),
        actor=row.actor,
        reason=row.reason,
        parity=row.parity,
    )


class RegistrySQLMixin(SQLMixinBase, RegistryStoreBase):
    """Registry-store methods implemented with SQLAlchemy."""

    def _retrying(self, attempt: Callable[[Session], T]) -> T:
        """Run ``attempt`` in a write transaction, retrying when a unique constraint lost a race."""
        delay = 0.005
        for _ in range(_RETRIES):
            try:
                with self._session(write=True) as s:
                    return attempt(s)
            except AlreadyExistsError:
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
        raise StorageError("registry write kept conflicting with concurrent writers; try again")

    # -- versions ------------------------------------------------------------------------------
    def register_model_version(
        self,
        name: str,
        digest: str,
        *,
        run_id: str | None,
        created_by: str,
        meta: Mapping[str, Any],
        version: int | None = None,
    ) -> tuple[ModelVersion, bool]:
        check_model_name(name)
        if not Digest.is_canonical(digest):
            raise InvalidArgumentError(
                "digest must be 'sha256:' followed by 64 lowercase hex digits"
            )
        if version is not None:
            check_model_version(version)
        check_actor(created_by, "created_by")

        def attempt(s: Session) -> tuple[ModelVersion, bool]:
            existing = s.scalars(
                sa.select(ModelVersionRow).where(
                    ModelVersionRow.name == name, ModelVersionRow.digest == digest
                )
            ).first()
            if existing is not None:
                if version is not None and existing.version != version:
                    raise ImmutableError(
                        f"{name}: this package is already registered as version {existing.version}"
                    )
                return _version(existing), False
            if s.get(RegisteredModelRow, name) is None:
                now = utcnow()
                s.add(
                    RegisteredModelRow(
                        name=name,
                        created_at=now,
                        created_by=created_by,
                        description="",
                        tags={},
                        updated_at=now,
                    )
                )
                s.flush()
            number = version
            if number is None:
                top = s.scalar(
                    sa.select(sa.func.max(ModelVersionRow.version)).where(
                        ModelVersionRow.name == name
                    )
                )
                number = (top or 0) + 1
            elif s.get(ModelVersionRow, (name, number)) is not None:
                raise ImmutableError(
                    f"{name}/{number} is already registered with other content; versions are "
                    "immutable, register a new version instead"
                )
            row = ModelVersionRow(
                name=name,
                version=number,
                digest=digest,
                run_id=run_id,
                created_at=utcnow(),
                created_by=created_by,
                meta=dict(meta),
            )
            s.add(row)
            s.flush()
            return _version(row), True

        return self._retrying(attempt)

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        if not is_model_version(version):
            raise NotFoundError(f"no model version {name}/{version}")
        with self._session() as s:
            row = s.get(ModelVersionRow, (name, int(version)))
            if row is None:
                raise NotFoundError(f"no model version {name}/{version}")
            return _version(row)

    def list_model_versions(self, name: str) -> list[ModelVersion]:
        with self._session() as s:
            if s.get(RegisteredModelRow, name) is None:
                raise NotFoundError(f"no registered model {name!r}")
            rows = s.scalars(
                sa.select(ModelVersionRow)
                .where(ModelVersionRow.name == name)
                .order_by(ModelVersionRow.version)
            )
            return [_version(r) for r in rows]

    def list_registered_models(self) -> list[RegisteredModel]:
        with self._session() as s:
            models = s.scalars(
                sa.select(RegisteredModelRow).order_by(RegisteredModelRow.name)
            ).all()
            return self._registered_models(s, models, None)

    @staticmethod
    def _registered_models(
        s: Session, models: Sequence[RegisteredModelRow], name: str | None
    ) -> list[RegisteredModel]:
        """Records of ``models`` (all of them, or the one called ``name``) with their latest
        versions and aliases."""
        latest_q = sa.select(ModelVersionRow.name, sa.func.max(ModelVersionRow.version))
        alias_q = sa.select(ModelAliasRow).order_by(ModelAliasRow.alias)
        if name is not None:
            latest_q = latest_q.where(ModelVersionRow.name == name)
            alias_q = alias_q.where(ModelAliasRow.name == name)
        latest: dict[str, int] = {
            n: v for n, v in s.execute(latest_q.group_by(ModelVersionRow.name))
        }
        aliases: dict[str, dict[str, int]] = {}
        for a in s.scalars(alias_q):
            aliases.setdefault(a.name, {})[a.alias] = a.version
        return [
            RegisteredModel(
                name=m.name,
                created_at=as_utc(m.created_at),
                latest_version=latest.get(m.name),
                aliases=aliases.get(m.name, {}),
                description=m.description or "",
                tags=dict(m.tags or {}),
                updated_at=as_utc(m.updated_at) if m.updated_at else None,
                created_by=m.created_by or "",
            )
            for m in models
        ]

    def _registered_model(self, s: Session, name: str) -> RegisteredModel:
        row = s.get(RegisteredModelRow, name, populate_existing=True)
        if row is None:
            raise NotFoundError(f"no registered model {name!r}")
        return self._registered_models(s, [row], name)[0]

    # -- the card: description and tags --------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        *,
        created_by: str,
        description: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> RegisteredModel:
        check_model_name(name)
        check_actor(created_by, "created_by")
        clean = {check_key("tag", k): str(v) for k, v in (tags or {}).items()}
        if not isinstance(description, str):
            raise InvalidArgumentError("description must be a string")
        try:
            with self._session(write=True) as s:
                now = utcnow()
                s.add(
                    RegisteredModelRow(
                        name=name,
                        created_at=now,
                        created_by=created_by,
                        description=description,
                        tags=clean,
                        updated_at=now,
                    )
                )
                s.flush()
                return self._registered_model(s, name)
        except AlreadyExistsError:
            raise AlreadyExistsError(f"registered model {name!r} already exists") from None

    def get_registered_model(self, name: str) -> RegisteredModel:
        with self._session() as s:
            return self._registered_model(s, name)

    def update_registered_model(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        delete_tags: Collection[str] = (),
    ) -> RegisteredModel:
        clean = {check_key("tag", k): str(v) for k, v in (tags or {}).items()}
        if description is not None and not isinstance(description, str):
            raise InvalidArgumentError("description must be a string")
        with self._session(write=True) as s:
            row = s.get(RegisteredModelRow, name, with_for_update=True)
            if row is None:
                raise NotFoundError(f"no registered model {name!r}")
            card = dict(row.tags or {})
            for key in delete_tags:
                if key not in card:
                    raise NotFoundError(f"registered model {name!r} has no tag {key!r}")
                del card[key]
            card.update(clean)
            row.tags = card
            if description is not None:
                row.description = description
            row.updated_at = utcnow()
            s.flush()
            return self._registered_model(s, name)

    def delete_registered_model(self, name: str) -> None:
        with self._session(write=True) as s:
            row = s.get(RegisteredModelRow, name)
            if row is None:
                raise NotFoundError(f"no registered model {name!r}")
            if s.scalar(sa.select(ModelVersionRow.version).where(ModelVersionRow.name == name)):
                raise ImmutableError(
                    f"registered model {name!r} has versions: versions are immutable and kept, "
                    "so the model is too"
                )
            s.delete(row)

    # -- aliases -------------------------------------------------------------------------------
    def _alias_record(self, s: Session, row: ModelAliasRow) -> AliasRecord:
        v = s.get(ModelVersionRow, (row.name, row.version))
        assert v is not None  # foreign key
        return AliasRecord(
            row.name, row.alias, row.version, v.digest, as_utc(row.updated_at), row.seq
        )

    def get_alias(self, name: str, alias: str) -> AliasRecord:
        with self._session() as s:
            row = s.get(ModelAliasRow, (name, alias))
            if row is None:
                raise NotFoundError(f"no alias {name}@{alias}")
            return self._alias_record(s, row)

    def list_aliases(self, name: str) -> list[AliasRecord]:
        with self._session() as s:
            rows = s.scalars(
                sa.select(ModelAliasRow)
                .where(ModelAliasRow.name == name)
                .order_by(ModelAliasRow.alias)
            )
            return [self._alias_record(s, r) for r in rows]

    def set_alias(
        self, name: str, alias: str, version: int, *, actor: str, reason: str, parity: str
    ) -> AliasEvent:
        check_alias_name(alias)
        check_actor(actor, "actor")
        if not is_model_version(version):
            raise NotFoundError(f"no model version {name}/{version}")

        def attempt(s: Session) -> AliasEvent:
            if s.get(ModelVersionRow, (name, int(version))) is None:
                raise NotFoundError(f"no model version {name}/{version}")
            current = s.get(ModelAliasRow, (name, alias), populate_existing=True)
            now = utcnow()
            seq = 1 if current is None else current.seq + 1
            event = ModelAliasEventRow(
                name=name,
                alias=alias,
                seq=seq,
                from_version=None if current is None else current.version,
                to_version=int(version),
                at=now,
                actor=actor,
                reason=reason,
                parity=parity[:250],
            )
            s.add(event)
            s.flush()  # a concurrent mover that took `seq` first makes this fail: retry
            if current is None:
                s.add(
                    ModelAliasRow(
                        name=name, alias=alias, version=int(version), seq=seq, updated_at=now
                    )
                )
                s.flush()
            else:
                moved = s.execute(
                    sa.update(ModelAliasRow)
                    .where(
                        ModelAliasRow.name == name,
                        ModelAliasRow.alias == alias,
                        ModelAliasRow.seq == seq - 1,
                    )
                    .values(version=int(version), seq=seq, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
                if getattr(moved, "rowcount", 1) != 1:
                    raise AlreadyExistsError(f"{name}@{alias} moved concurrently")
            return _event(event)

        return self._retrying(attempt)

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasEvent]:
        with self._session() as s:
            q = sa.select(ModelAliasEventRow).where(ModelAliasEventRow.name == name)
            if alias is not None:
                q = q.where(ModelAliasEventRow.alias == alias).order_by(ModelAliasEventRow.seq)
            else:
                q = q.order_by(
                    ModelAliasEventRow.at, ModelAliasEventRow.alias, ModelAliasEventRow.seq
                )
            rows = s.scalars(q)
            return [_event(r) for r in rows]
