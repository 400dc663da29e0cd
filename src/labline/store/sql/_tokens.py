"""SQL implementation of the token store (a mixin of :class:`SQLStore`)."""

from __future__ import annotations

import re
from datetime import datetime

import sqlalchemy as sa

from ..._exceptions import AlreadyExistsError, InvalidArgumentError, NotFoundError
from ...core._grammar import check_actor
from ...core._types import Role, TokenRecord
from .._tokens_base import TokenStoreBase
from ._mixin_base import SQLMixinBase, as_utc, utcnow
from ._models_tokens import PREFIX_LEN, TokenRow

_HASH = re.compile(r"[0-9a-f]{64}")


def _to_record(row: TokenRow) -> TokenRecord:
    return TokenRecord(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        prefix=row.prefix,
        created_at=as_utc(row.created_at),
        created_by=row.created_by,
        expires_at=None if row.expires_at is None else as_utc(row.expires_at),
        revoked_at=None if row.revoked_at is None else as_utc(row.revoked_at),
        revoked_by=row.revoked_by,
    )


def _token_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise NotFoundError(f"token {value!r} does not exist")
    return value


class TokenSQLMixin(SQLMixinBase, TokenStoreBase):
    """Token-store methods implemented with SQLAlchemy."""

    def add_token(
        self,
        *,
        name: str,
        role: Role,
        secret_hash: str,
        prefix: str,
        expires_at: datetime | None,
        created_by: str,
    ) -> TokenRecord:
        name = check_actor(name, "token name")
        role = Role(role)
        if not isinstance(secret_hash, str) or not _HASH.fullmatch(secret_hash):
            raise InvalidArgumentError("secret_hash must be 64 lowercase hex digits (SHA-256)")
        if not isinstance(prefix, str) or not 0 < len(prefix) <= PREFIX_LEN:
            raise InvalidArgumentError(f"prefix must be 1 to {PREFIX_LEN} characters")
        if expires_at is not None and expires_at.tzinfo is None:
            raise InvalidArgumentError("expires_at must have a timezone")
        row = TokenRow(
            name=name,
            role=role.value,
            secret_hash=secret_hash,
            prefix=prefix,
            created_at=utcnow(),
            created_by=check_actor(created_by, "created_by"),
            expires_at=expires_at,
        )
        try:
            with self._session(write=True) as s:
                s.add(row)
                s.flush()
                return _to_record(row)
        except AlreadyExistsError:
            raise AlreadyExistsError("a token with this secret already exists") from None

    def find_token(self, secret_hash: str) -> tuple[TokenRecord, str]:
        if not isinstance(secret_hash, str) or not _HASH.fullmatch(secret_hash):
            raise NotFoundError("no such token")
        with self._session() as s:
            row = s.scalars(sa.select(TokenRow).where(TokenRow.secret_hash == secret_hash)).first()
            if row is None:
                raise NotFoundError("no such token")
            return _to_record(row), row.secret_hash

    def list_tokens(self) -> list[TokenRecord]:
        with self._session() as s:
            return [_to_record(r) for r in s.scalars(sa.select(TokenRow).order_by(TokenRow.id))]

    def revoke_token(self, token_id: int, *, actor: str) -> TokenRecord:
        token_id = _token_id(token_id)
        actor = check_actor(actor)
        with self._session(write=True) as s:
            row = s.get(TokenRow, token_id)
            if row is None:
                raise NotFoundError(f"token {token_id} does not exist")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
                row.revoked_by = actor
                s.flush()
            return _to_record(row)

    def count_active_tokens(self, now: datetime) -> int:
        with self._session() as s:
            query = sa.select(sa.func.count(TokenRow.id)).where(
                TokenRow.revoked_at.is_(None),
                sa.or_(TokenRow.expires_at.is_(None), TokenRow.expires_at > now),
            )
            return int(s.scalar(query) or 0)
