"""Compiles the run search language (:mod:`labline.core._run_query`) into SQL.

Every test becomes ``runs.id IN (SELECT run_id ...)`` on the table that holds the key, so a
test on a key a run never logged is plainly false and ``NOT`` stays two-valued; the planner
answers each subquery from an index on ``(key, value)``. The same SQL runs on SQLite and
PostgreSQL; where the two engines differ the compiler evens it out:

* PostgreSQL stores NaN and ranks it above every number; SQLite stores it as NULL. NaN is
  turned into NULL on PostgreSQL too, so it matches no comparison and sorts with the missing.
* Text compares byte-wise (``COLLATE "C"`` on PostgreSQL, SQLite's default), i.e. in code
  point order as in Python.
* ``LIKE`` is case-sensitive on both (SQLite's own LIKE is not: it becomes GLOB there).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from ...core._run_query import (
    And,
    Attribute,
    Comparison,
    Field,
    FieldKind,
    FilterExpr,
    InList,
    Like,
    Not,
    Or,
    OrderKey,
    Presence,
)
from ._models import ExperimentRow, MetricSummaryRow, ParamRow, RunRow, TagRow

_OPS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


@dataclass(frozen=True)
class RunSearchSQL:
    """What a search needs from its store: the dialect and the reported-status expression.

    ``status`` is the SQL for a run's status as reported (``stale`` derived from the heartbeat
    and dead local writers), so that ``status = 'stale'`` and ``status = 'running'`` agree with
    what ``get_run`` says.
    """

    dialect: str
    status: ColumnElement[str]

    # -- values --------------------------------------------------------------------------------
    def text(self, column: Any) -> Any:
        """A text column compared byte-wise (code point order) on every backend."""
        return column.collate("C") if self.dialect == "postgresql" else column

    def number(self, column: Any) -> Any:
        """A float column with NaN read as NULL (PostgreSQL keeps NaN; SQLite stores NULL)."""
        if self.dialect == "postgresql":
            return sa.func.nullif(column, sa.literal_column("'NaN'::float8"))
        return column

    def metric_column(self, table: Any, aggregate: str) -> Any:
        column = {
            "last": table.last_value,
            "min": table.min_value,
            "max": table.max_value,
        }[aggregate]
        return self.number(column)

    def like(self, column: Any, pattern: str, case_sensitive: bool) -> ColumnElement[bool]:
        """LIKE with ``%`` and ``_`` as the only special characters, case-(in)sensitive alike
        on both backends."""
        if case_sensitive and self.dialect == "sqlite":
            # SQLite's LIKE ignores ASCII case; GLOB does not. Translate the pattern.
            glob = "".join(
                {"%": "*", "_": "?", "*": "[*]", "?": "[?]", "[": "[[]"}.get(c, c) for c in pattern
            )
            return column.op("GLOB", is_comparison=True)(glob)  # type: ignore[no-any-return]
        escaped = pattern.replace("\\", "\\\\")
        if case_sensitive:
            return column.like(escaped, escape="\\")  # type: ignore[no-any-return]
        return column.ilike(escaped, escape="\\")  # type: ignore[no-any-return]

    # -- filters -------------------------------------------------------------------------------
    def where(self, expr: FilterExpr) -> ColumnElement[bool]:
        """The WHERE clause (on ``runs``) for a parsed filter."""
        if isinstance(expr, And):
            return sa.and_(*(self.where(t) for t in expr.terms))
        if isinstance(expr, Or):
            return sa.or_(*(self.where(t) for t in expr.terms))
        if isinstance(expr, Not):
            return sa.not_(self.where(expr.term))
        if isinstance(expr, Presence):
            return self._presence(expr.field, expr.present)
        field = expr.field
        if field.kind is FieldKind.ATTRIBUTE:
            return self._attribute_test(expr)
        table: Any = {
            FieldKind.METRIC: MetricSummaryRow,
            FieldKind.PARAM: ParamRow,
            FieldKind.TAG: TagRow,
        }[field.kind]
        return RunRow.id.in_(
            select(table.run_id).where(table.key == field.key, self._value_test(table, expr))
        )

    def _value_test(self, table: Any, expr: Comparison | Like | InList) -> ColumnElement[bool]:
        """The test on one row of ``metric_summaries``, ``params`` or ``tags``."""
        if isinstance(expr, InList):
            return sa.or_(*(self._value_test(table, c) for c in expr.values))
        field = expr.field
        if isinstance(expr, Like):
            return self.like(self.text(table.value), expr.pattern, expr.case_sensitive)
        if field.kind is FieldKind.METRIC:
            return _OPS[expr.op](self.metric_column(table, field.aggregate), expr.value)
        text_test = _OPS[expr.op](self.text(table.value), expr.value)
        if field.kind is FieldKind.TAG or expr.numeric is None:
            return text_test
        numeric_test = _OPS[expr.op](table.value_num, expr.numeric)
        if expr.op in ("<", "<=", ">", ">="):
            return numeric_test  # a number is never ordered against text
        # both numbers: as numbers; otherwise (the stored value is text) as text
        return sa.or_(
            sa.and_(table.value_num.is_not(None), numeric_test),
            sa.and_(table.value_num.is_(None), text_test),
        )

    def _attribute_column(self, attribute: str) -> Any:
        return {
            Attribute.ID: self.text(RunRow.id),
            Attribute.NAME: self.text(RunRow.name),
            Attribute.STATUS: self.status,
            Attribute.CREATED_AT: RunRow.created_at,
            Attribute.ENDED_AT: RunRow.ended_at,
            Attribute.EXPERIMENT: self.text(
                select(ExperimentRow.name)
                .where(ExperimentRow.id == RunRow.experiment_id)
                .scalar_subquery()
            ),
        }[Attribute(attribute)]

    def _attribute_test(self, expr: Comparison | Like | InList) -> ColumnElement[bool]:
        column = self._attribute_column(expr.field.key)
        if isinstance(expr, InList):
            return sa.or_(*(self._attribute_test(c) for c in expr.values))
        if isinstance(expr, Like):
            return self.like(column, expr.pattern, expr.case_sensitive)
        value = expr.value
        if isinstance(value, datetime) and self.dialect == "sqlite":
            value = value.replace(tzinfo=None)  # SQLite keeps UTC as naive text
        test = _OPS[expr.op](column, value)
        if expr.field.key == Attribute.ENDED_AT:  # NULL for unfinished runs: keep NOT two-valued
            return sa.and_(RunRow.ended_at.is_not(None), test)
        return test

    def _presence(self, field: Field, present: bool) -> ColumnElement[bool]:
        if field.kind is FieldKind.ATTRIBUTE:
            if field.key == Attribute.ENDED_AT:
                return RunRow.ended_at.is_not(None) if present else RunRow.ended_at.is_(None)
            return sa.true() if present else sa.false()
        table: Any = {
            FieldKind.METRIC: MetricSummaryRow,
            FieldKind.PARAM: ParamRow,
            FieldKind.TAG: TagRow,
        }[field.kind]
        logged = RunRow.id.in_(select(table.run_id).where(table.key == field.key))
        return logged if present else sa.not_(logged)

    # -- sort order ----------------------------------------------------------------------------
    def order(self, query: sa.Select[Any], keys: Sequence[OrderKey]) -> sa.Select[Any]:
        """``query`` (over ``runs``) sorted by ``keys``, runs without a key last, then newest
        first and by id so that pages never overlap."""
        clauses: list[Any] = []
        for n, key in enumerate(keys):
            field = key.field
            values: list[Any]
            if field.kind is FieldKind.ATTRIBUTE:
                values = [self._attribute_column(field.key)]
            else:
                table: Any = aliased(
                    {
                        FieldKind.METRIC: MetricSummaryRow,
                        FieldKind.PARAM: ParamRow,
                        FieldKind.TAG: TagRow,
                    }[field.kind],
                    name=f"sort_{n}",
                )
                query = query.outerjoin(
                    table, sa.and_(table.run_id == RunRow.id, table.key == field.key)
                )
                if field.kind is FieldKind.METRIC:
                    values = [self.metric_column(table, field.aggregate)]
                elif field.kind is FieldKind.PARAM:
                    # numbers first, in numeric order (0.1 and 0.10 tie), then text
                    text_only = sa.case((table.value_num.is_(None), table.value))
                    values = [table.value_num, self.text(text_only)]
                else:
                    values = [self.text(table.value)]
            for value in values:
                clauses.append(
                    value.desc().nulls_last() if key.descending else value.asc().nulls_last()
                )
        clauses += [RunRow.created_at.desc(), RunRow.id.asc()]
        return query.order_by(*clauses)


__all__ = ["RunSearchSQL"]
