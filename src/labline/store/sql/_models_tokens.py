"""ORM table of the token store. Never returned to callers (see ``_tokens``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ._models import MAX_NAME, Base

HASH_LEN = 64  # SHA-256, hex
PREFIX_LEN = 12


class TokenRow(Base):
    __tablename__ = "tokens"
    __table_args__ = (UniqueConstraint("secret_hash", name="uq_tokens_secret_hash"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME), nullable=False, index=True)
    role: Mapped[str] = mapped_column(String(40), nullable=False)
    secret_hash: Mapped[str] = mapped_column(String(HASH_LEN), nullable=False)
    prefix: Mapped[str] = mapped_column(String(PREFIX_LEN), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_by: Mapped[str] = mapped_column(String(MAX_NAME), nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(MAX_NAME))
