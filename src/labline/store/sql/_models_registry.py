"""ORM tables of the model registry. Never returned to callers (see ``_registry``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ._models import MAX_NAME, Base

DIGEST_LEN = 71  # "sha256:" + 64 hex


class RegisteredModelRow(Base):
    __tablename__ = "registered_models"
    name: Mapped[str] = mapped_column(String(MAX_NAME), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # the editable card (migration 0015): NULL on rows made before it, read as empty
    created_by: Mapped[str | None] = mapped_column(String(MAX_NAME))
    description: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ModelVersionRow(Base):
    __tablename__ = "model_versions"
    name: Mapped[str] = mapped_column(ForeignKey("registered_models.name"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    digest: Mapped[str] = mapped_column(String(DIGEST_LEN), nullable=False)
    run_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_by: Mapped[str] = mapped_column(String(MAX_NAME), nullable=False)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    __table_args__ = (UniqueConstraint("name", "digest", name="uq_model_versions_digest"),)


class ModelAliasRow(Base):
    __tablename__ = "model_aliases"
    name: Mapped[str] = mapped_column(String(MAX_NAME), primary_key=True)
    alias: Mapped[str] = mapped_column(String(MAX_NAME), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    __table_args__ = (
        ForeignKeyConstraint(
            ["name", "version"], ["model_versions.name", "model_versions.version"]
        ),
    )


class ModelAliasEventRow(Base):
    __tablename__ = "model_alias_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME), nullable=False)
    alias: Mapped[str] = mapped_column(String(MAX_NAME), nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    from_version: Mapped[int | None] = mapped_column(Integer)
    to_version: Mapped[int] = mapped_column(Integer, nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    actor: Mapped[str] = mapped_column(String(MAX_NAME), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    parity: Mapped[str] = mapped_column(String(MAX_NAME), nullable=False)
    __table_args__ = (UniqueConstraint("name", "alias", "seq", name="uq_model_alias_events_seq"),)
