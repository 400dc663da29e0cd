"""The run search language: filters, sort orders and page tokens (pure; no SQL here).

A filter is parsed by a small hand-written tokenizer and recursive-descent parser into a tree
of frozen records; backends compile that tree (``store/sql`` turns it into SQL). Grammar::

    filter     := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" or_expr ")" | test
    test       := field op value
                | field ["not"] ("like" | "ilike") string
                | field ["not"] "in" "(" value ("," value)* ")"
                | field "is" ["not"] "null"
    op         := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    field      := attribute | ("params" | "metrics" | "tags" | "attributes") "." key
    key        := bare | `quoted` | "quoted"          (a quote inside is written twice)
    value      := number | 'string' | "string"

Keywords are case-insensitive. ``bare`` keys are letters, digits and ``_ - . / :``; any other
key that can be logged is written quoted, e.g. ``params.`batch size```. On metrics a final
``.min``, ``.max`` or ``.last`` picks the aggregate (the last value by default); a metric whose
name itself ends that way is written quoted: ``metrics.`loss.min```.

Semantics, the same on every backend:
    * a test on a key a run did not log is false (so ``not`` selects runs without it);
      ``IS NULL`` / ``IS NOT NULL`` test whether the key was logged at all;
    * metrics compare as numbers; a NaN value matches no comparison;
    * params compare as numbers when both the stored value and the literal read as numbers
      (see :func:`numeric_text`), otherwise as text; ``<``, ``<=``, ``>``, ``>=`` against a
      number never match a value that is not a number;
    * tags, names, ids, experiment names (``experiment``) and statuses compare as text, so
      ``experiment in ('digits', 'mnist')`` searches several experiments; ``status`` is the
      reported status
      (``stale`` included); times (``created_at``, ``ended_at``) take ISO 8601 strings, read
      as UTC when they carry no offset;
    * ``like`` is case-sensitive, ``ilike`` is not (ASCII letters); ``%`` matches any run of
      characters and ``_`` one character; there is no escape character.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from .._exceptions import InvalidArgumentError
from ._grammar import check_key
from ._types import Run

__all__ = [
    "And",
    "Attribute",
    "Comparison",
    "Field",
    "FieldKind",
    "FilterExpr",
    "InList",
    "Like",
    "Not",
    "Or",
    "OrderKey",
    "Presence",
    "decode_page_token",
    "encode_page_token",
    "field_value",
    "fields",
    "filter_text",
    "mentions_status",
    "numeric_text",
    "order_text",
    "parse_field",
    "parse_filter",
    "parse_order_by",
]


class FieldKind(enum.StrEnum):
    """Where a field's value lives."""

    METRIC = "metrics"
    PARAM = "params"
    TAG = "tags"
    ATTRIBUTE = "attributes"


class Attribute(enum.StrEnum):
    """Columns of a run itself that a filter or sort order may use."""

    ID = "id"
    NAME = "name"
    STATUS = "status"
    CREATED_AT = "created_at"
    ENDED_AT = "ended_at"
    EXPERIMENT = "experiment"  # the experiment's name


_ATTRIBUTE_ALIASES = {
    "experiment": Attribute.EXPERIMENT,
    "experiment_name": Attribute.EXPERIMENT,
    "id": Attribute.ID,
    "run_id": Attribute.ID,
    "name": Attribute.NAME,
    "run_name": Attribute.NAME,
    "status": Attribute.STATUS,
    "created_at": Attribute.CREATED_AT,
    "start_time": Attribute.CREATED_AT,
    "ended_at": Attribute.ENDED_AT,
    "end_time": Attribute.ENDED_AT,
}
_PREFIXES = {
    "params": FieldKind.PARAM,
    "param": FieldKind.PARAM,
    "metrics": FieldKind.METRIC,
    "metric": FieldKind.METRIC,
    "tags": FieldKind.TAG,
    "tag": FieldKind.TAG,
    "attributes": FieldKind.ATTRIBUTE,
    "attribute": FieldKind.ATTRIBUTE,
    "attr": FieldKind.ATTRIBUTE,
}
_AGGREGATES = ("last", "min", "max")
_STATUSES = ("running", "finished", "failed", "stale")  # RunStatus values, kept Domain-local

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def numeric_text(text: str) -> float | None:
    """The number a param value reads as, or None: a plain decimal or scientific literal
    (``3``, ``-0.5``, ``1e-3``), finite, without surrounding spaces. ``nan``, ``inf``,
    ``0x10`` and ``1_000`` are text."""
    if len(text) > 400 or not _NUMBER.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


# -- the tree ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    """What a test looks at: a metric aggregate, a param, a tag or a run attribute."""

    kind: FieldKind
    key: str
    aggregate: str = "last"  # metrics only: "last", "min" or "max"

    def __str__(self) -> str:
        if self.kind is FieldKind.ATTRIBUTE:
            return self.key
        bare = re.fullmatch(r"[A-Za-z0-9_\-/:]+(?:\.[A-Za-z0-9_\-/:]+)*", self.key)
        ambiguous = self.kind is FieldKind.METRIC and self.key.rsplit(".", 1)[-1] in _AGGREGATES
        key = self.key if bare and not ambiguous else "`" + self.key.replace("`", "``") + "`"
        shown_aggregate = self.kind is FieldKind.METRIC and self.aggregate != "last"
        suffix = f".{self.aggregate}" if shown_aggregate else ""
        return f"{self.kind.value}.{key}{suffix}"


Literal = str | float | datetime
"""A value in a filter: text, a number, or (for time attributes) an aware UTC datetime."""


@dataclass(frozen=True)
class Comparison:
    """``field op value``; ``op`` is one of ``= != < <= > >=``. ``value`` is a float for
    metrics, an aware datetime for time attributes, otherwise the text as written (a param
    literal keeps its text so that the backend can compare it as text or as a number)."""

    field: Field
    op: str
    value: Literal
    numeric: float | None = None  # params: the literal read as a number, if it is one


@dataclass(frozen=True)
class Like:
    """``field [not] like|ilike pattern``."""

    field: Field
    pattern: str
    case_sensitive: bool = True


@dataclass(frozen=True)
class InList:
    """``field in (v1, v2, ...)``: true when ``field = v`` for one of the values."""

    field: Field
    values: tuple[Comparison, ...]


@dataclass(frozen=True)
class Presence:
    """``field is not null`` (``present``) or ``field is null``: whether the key was logged."""

    field: Field
    present: bool


@dataclass(frozen=True)
class Not:
    """Negation of a sub-filter."""

    term: FilterExpr


@dataclass(frozen=True)
class And:
    """All sub-filters hold."""

    terms: tuple[FilterExpr, ...]


@dataclass(frozen=True)
class Or:
    """At least one sub-filter holds."""

    terms: tuple[FilterExpr, ...]


FilterExpr = Comparison | Like | InList | Presence | Not | And | Or
"""A parsed filter."""


@dataclass(frozen=True)
class OrderKey:
    """One sort key: a field and a direction. Runs without the field always sort last."""

    field: Field
    descending: bool = False


def fields(expr: FilterExpr | None) -> list[Field]:
    """Every field a filter looks at, in order of appearance."""
    if expr is None:
        return []
    if isinstance(expr, And | Or):
        return [f for t in expr.terms for f in fields(t)]
    if isinstance(expr, Not):
        return fields(expr.term)
    return [expr.field]


def mentions_status(expr: FilterExpr | None, order_by: Sequence[OrderKey] = ()) -> bool:
    """Whether a filter or sort order uses the run status (which backends must derive)."""
    status = Field(FieldKind.ATTRIBUTE, Attribute.STATUS.value)
    return status in fields(expr) or any(k.field == status for k in order_by)


# -- tokens -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Token:
    kind: str  # "field", "kw", "op", "string", "number", "(", ")", ",", "end"
    text: str  # as written (keywords lower-cased, strings unquoted)
    column: int  # 1-based
    field: Field | None = None


_KEYWORDS = {"and", "or", "not", "in", "like", "ilike", "is", "null"}
_OPS = ("==", "!=", "<>", "<=", ">=", "=", "<", ">")
_BARE_KEY = re.compile(r"[A-Za-z0-9_\-/:]+(?:\.[A-Za-z0-9_\-/:]+)*")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _fail(column: int, message: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"invalid filter at column {column}: {message}")


def _quoted(text: str, start: int) -> tuple[str, int]:
    """The content of the quoted item at ``text[start]`` and the index after it (a quote
    character inside is written twice)."""
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        if text[i] == quote:
            if i + 1 < len(text) and text[i + 1] == quote:
                out.append(quote)
                i += 2
                continue
            return "".join(out), i + 1
        out.append(text[i])
        i += 1
    raise _fail(start + 1, f"unterminated quote {quote}")


def _field_key(kind: FieldKind, key: str, column: int) -> str:
    """Check a key with the key grammar every logged key obeys (one owner: ``check_key``)."""
    try:
        return check_key(kind.value.rstrip("s"), key)
    except InvalidArgumentError as e:
        raise _fail(column, str(e)) from None


def _read_field(text: str, start: int, prefix: str, word_end: int) -> tuple[Field, int]:
    """A ``prefix.key[.aggregate]`` field whose prefix word ends at ``word_end`` (a dot)."""
    column = start + 1
    kind = _PREFIXES.get(prefix.lower())
    if kind is None:
        raise _fail(
            column,
            f"unknown field {prefix!r}; write params.KEY, metrics.KEY, tags.KEY or an "
            f"attribute ({', '.join(a.value for a in Attribute)})",
        )
    i = word_end + 1  # after the dot
    if i < len(text) and text[i] in '`"':
        key, i = _quoted(text, i)
        key = _field_key(kind, key, word_end + 2)
        aggregate = "last"
        if i < len(text) and text[i] == ".":
            m = _WORD.match(text, i + 1)
            suffix = m.group(0).lower() if m else ""
            if kind is not FieldKind.METRIC or suffix not in _AGGREGATES:
                raise _fail(i + 1, "only metrics take a suffix, and it is .last, .min or .max")
            aggregate, i = suffix, m.end() if m else i
    else:
        m = _BARE_KEY.match(text, i)
        if not m:
            raise _fail(i + 1, f"expected a key after '{text[start:i]}'")
        key, i = m.group(0), m.end()
        aggregate = "last"
        head, _, last = key.rpartition(".")
        if kind is FieldKind.METRIC and head and last.lower() in _AGGREGATES:
            key, aggregate = head, last.lower()
        key = _field_key(kind, key, word_end + 2)
    if kind is FieldKind.ATTRIBUTE:
        attr = _ATTRIBUTE_ALIASES.get(key.lower())
        if attr is None:
            raise _fail(
                word_end + 2,
                f"unknown attribute {key!r} (known: {', '.join(a.value for a in Attribute)})",
            )
        return Field(FieldKind.ATTRIBUTE, attr.value), i
    return Field(kind, key, aggregate), i


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        col = i + 1
        if c in "(),":
            out.append(_Token(c, c, col))
            i += 1
        elif c in "'\"":
            value, i = _quoted(text, i)
            out.append(_Token("string", value, col))
        elif c == "`":
            raise _fail(col, "a `quoted` key must follow params., metrics. or tags.")
        elif (m := _NUMBER.match(text, i)) and (c.isdigit() or c in "+-."):
            out.append(_Token("number", m.group(0), col))
            i = m.end()
        elif op := next((o for o in _OPS if text.startswith(o, i)), None):
            out.append(_Token("op", op, col))
            i += len(op)
        elif m := _WORD.match(text, i):
            word = m.group(0)
            if m.end() < n and text[m.end()] == ".":
                field, i = _read_field(text, i, word, m.end())
                out.append(_Token("field", str(field), col, field))
            elif word.lower() in _KEYWORDS:
                out.append(_Token("kw", word.lower(), col))
                i = m.end()
            else:
                attr = _ATTRIBUTE_ALIASES.get(word.lower())
                if attr is None:
                    raise _fail(
                        col,
                        f"unknown field {word!r}; write params.{word}, metrics.{word} or "
                        f"tags.{word}, or an attribute ({', '.join(a.value for a in Attribute)})",
                    )
                field = Field(FieldKind.ATTRIBUTE, attr.value)
                out.append(_Token("field", word, col, field))
                i = m.end()
        else:
            raise _fail(col, f"unexpected character {c!r}")
    out.append(_Token("end", "", n + 1))
    return out


# -- the parser -------------------------------------------------------------------------------
def _describe(tok: _Token) -> str:
    if tok.kind == "end":
        return "the end of the filter"
    if tok.kind == "string":
        return "a string"
    return f"'{tok.text}'"


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.pos = 0

    @property
    def tok(self) -> _Token:
        return self.toks[self.pos]

    def take(self) -> _Token:
        tok = self.toks[self.pos]
        self.pos += 1
        return tok

    def at_kw(self, *words: str) -> bool:
        return self.tok.kind == "kw" and self.tok.text in words

    def parse(self) -> FilterExpr:
        expr = self.or_expr()
        if self.tok.kind != "end":
            raise _fail(
                self.tok.column, f"expected 'and', 'or' or the end, found {_describe(self.tok)}"
            )
        return expr

    def or_expr(self) -> FilterExpr:
        terms = [self.and_expr()]
        while self.at_kw("or"):
            self.take()
            terms.append(self.and_expr())
        return terms[0] if len(terms) == 1 else Or(tuple(terms))

    def and_expr(self) -> FilterExpr:
        terms = [self.not_expr()]
        while self.at_kw("and"):
            self.take()
            terms.append(self.not_expr())
        return terms[0] if len(terms) == 1 else And(tuple(terms))

    def not_expr(self) -> FilterExpr:
        if self.at_kw("not"):
            self.take()
            return Not(self.not_expr())
        if self.tok.kind == "(":
            opening = self.take()
            expr = self.or_expr()
            if self.tok.kind != ")":
                raise _fail(
                    self.tok.column,
                    f"expected ')' to close the '(' at column {opening.column}, "
                    f"found {_describe(self.tok)}",
                )
            self.take()
            return expr
        return self.test()

    def test(self) -> FilterExpr:
        tok = self.take()
        if tok.kind != "field" or tok.field is None:
            raise _fail(
                tok.column, f"expected a field such as metrics.accuracy, found {_describe(tok)}"
            )
        field = tok.field
        after = self.tok
        if after.kind == "op":
            self.take()
            return self.comparison(
                field,
                after,
                "=" if after.text == "==" else "!=" if after.text == "<>" else after.text,
            )
        negate = False
        if self.at_kw("not"):
            self.take()
            negate = True
            if not self.at_kw("like", "ilike", "in"):
                raise _fail(
                    self.tok.column,
                    f"expected 'like', 'ilike' or 'in' after 'not', found {_describe(self.tok)}",
                )
        if self.at_kw("like", "ilike"):
            word = self.take()
            pattern = self.take()
            if pattern.kind != "string":
                raise _fail(pattern.column, f"expected a quoted pattern after '{word.text}'")
            if field.kind is FieldKind.METRIC or field.key in (
                Attribute.CREATED_AT,
                Attribute.ENDED_AT,
            ):
                raise _fail(word.column, f"'{word.text}' needs a text field, not {field}")
            like: FilterExpr = Like(field, pattern.text, case_sensitive=word.text == "like")
            return Not(like) if negate else like
        if self.at_kw("in"):
            word = self.take()
            if self.tok.kind != "(":
                raise _fail(self.tok.column, "expected '(' after 'in'")
            self.take()
            values = [self.comparison(field, word, "=")]
            while self.tok.kind == ",":
                self.take()
                values.append(self.comparison(field, word, "="))
            if self.tok.kind != ")":
                raise _fail(
                    self.tok.column,
                    f"expected ',' or ')' in the 'in' list, found {_describe(self.tok)}",
                )
            self.take()
            in_list: FilterExpr = InList(field, tuple(values))
            return Not(in_list) if negate else in_list
        if self.at_kw("is"):
            self.take()
            present = False
            if self.at_kw("not"):
                self.take()
                present = True
            if not self.at_kw("null"):
                raise _fail(
                    self.tok.column, f"expected 'null' after 'is', found {_describe(self.tok)}"
                )
            self.take()
            return Presence(field, present)
        raise _fail(
            after.column,
            f"expected an operator (=, !=, <, <=, >, >=, like, ilike, in, is) after {tok.text}, "
            f"found {_describe(after)}",
        )

    def comparison(self, field: Field, op_tok: _Token, op: str) -> Comparison:
        val = self.take()
        if val.kind not in ("string", "number"):
            raise _fail(
                val.column, f"expected a value after '{op_tok.text}', found {_describe(val)}"
            )
        return _comparison(field, op, val)


def _comparison(field: Field, op: str, val: _Token) -> Comparison:
    if field.kind is FieldKind.METRIC:
        number = numeric_text(val.text.strip()) if val.kind == "string" else float(val.text)
        if number is None:
            raise _fail(val.column, f"{field} is a number; expected a number, not {val.text!r}")
        return Comparison(field, op, number)
    if field.kind is FieldKind.PARAM:
        return Comparison(field, op, val.text, numeric_text(val.text))
    if field.kind is FieldKind.TAG:
        return Comparison(field, op, val.text)
    if field.key in (Attribute.CREATED_AT, Attribute.ENDED_AT):
        try:
            when = datetime.fromisoformat(val.text) if val.kind == "string" else None
        except ValueError:
            when = None
        if when is None:
            raise _fail(
                val.column, f"{field} takes an ISO 8601 time such as '2024-05-01T12:00:00Z'"
            )
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        return Comparison(field, op, when)
    if field.key == Attribute.STATUS:
        if val.text not in _STATUSES:
            raise _fail(val.column, f"unknown status {val.text!r} (one of {', '.join(_STATUSES)})")
        if op not in ("=", "!="):
            raise _fail(val.column, "status compares only with =, != and in")
    return Comparison(field, op, val.text)


def parse_filter(text: str) -> FilterExpr | None:
    """Parse a run filter (see the module docstring); None for an empty or blank filter.

    Args:
        text: e.g. ``"params.lr > 0.01 and metrics.accuracy >= 0.9 and status = 'finished'"``.

    Returns:
        The filter as a tree of frozen records.

    Raises:
        InvalidArgumentError: the filter is malformed; the message gives the 1-based column
            where it fails, e.g. ``invalid filter at column 17: expected a value after '>='``.
    """
    if not isinstance(text, str):
        raise InvalidArgumentError(f"filter must be a string, got {type(text).__name__}")
    if not text.strip():
        return None
    return _Parser(text).parse()


def parse_field(text: str) -> Field:
    """Parse one field, e.g. ``metrics.loss.min``, ``params.`batch size``` or ``status``.

    Raises:
        InvalidArgumentError: it is not a field.
    """
    if not isinstance(text, str):
        raise InvalidArgumentError(f"a field must be a string, got {type(text).__name__}")
    try:
        toks = _tokens(text)
    except InvalidArgumentError as e:
        raise InvalidArgumentError(
            f"field {text!r}: {str(e).removeprefix('invalid filter ')}"
        ) from None
    if len(toks) != 2 or toks[0].field is None:
        raise InvalidArgumentError(
            f"field {text!r} is not a field such as metrics.accuracy, params.lr or status"
        )
    return toks[0].field


def field_value(run: Run, field: Field) -> str | float | datetime | None:
    """The value ``field`` has on ``run`` (None when the run lacks it): text for params, tags,
    ids, names, experiments and statuses; the float for metric aggregates; datetimes for times."""
    if field.kind is FieldKind.PARAM:
        return run.params.get(field.key)
    if field.kind is FieldKind.TAG:
        return run.tags.get(field.key)
    if field.kind is FieldKind.METRIC:
        m = run.metrics.get(field.key)
        if m is None:
            return None
        return {"last": m.last_value, "min": m.min_value, "max": m.max_value}[field.aggregate]
    attribute = Attribute(field.key)
    if attribute is Attribute.STATUS:
        return run.status.value
    if attribute is Attribute.ID:
        return run.id
    if attribute is Attribute.NAME:
        return run.name
    if attribute is Attribute.EXPERIMENT:
        return run.experiment
    return run.created_at if attribute is Attribute.CREATED_AT else run.ended_at


def parse_order_by(items: Sequence[str]) -> tuple[OrderKey, ...]:
    """Parse sort keys such as ``["metrics.accuracy DESC", "params.lr"]`` (ASC by default).

    Raises:
        InvalidArgumentError: an item is not ``field [ASC|DESC]``; the message names the item
            and the column within it.
    """
    if isinstance(items, str):
        items = [items]
    keys = []
    for n, item in enumerate(items, 1):
        if not isinstance(item, str):
            raise InvalidArgumentError(f"order_by item {n} must be a string")
        m = re.fullmatch(r"(.*?)(?:\s+(asc|desc))?\s*", item, flags=re.IGNORECASE | re.DOTALL)
        body, direction = (m.group(1), m.group(2)) if m else (item, None)
        try:
            toks = _tokens(body)
        except InvalidArgumentError as e:
            where = str(e).removeprefix("invalid filter ")
            raise InvalidArgumentError(f"order_by item {n} ({item!r}): {where}") from None
        if toks[0].kind != "field" or toks[0].field is None:
            raise InvalidArgumentError(
                f"order_by item {n} ({item!r}): expected a field such as metrics.accuracy"
            )
        if toks[1].kind != "end":
            raise InvalidArgumentError(
                f"order_by item {n} ({item!r}): at column {toks[1].column}: expected ASC, DESC "
                "or the end"
            )
        keys.append(OrderKey(toks[0].field, (direction or "").lower() == "desc"))
    return tuple(keys)


# -- back to text -----------------------------------------------------------------------------
def _literal(value: Literal) -> str:
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f"'{value!r}'"
    text = value.isoformat() if isinstance(value, datetime) else value
    return "'" + text.replace("'", "''") + "'"


def filter_text(expr: FilterExpr) -> str:
    """Write a parsed filter back as filter text that parses to the same tree (what a remote
    store sends its server).

    Example:
        >>> e = parse_filter("params.lr > 0.01 and not tags.team = 'r&d'")
        >>> parse_filter(filter_text(e)) == e
        True
    """
    if isinstance(expr, Comparison):
        return f"{expr.field} {expr.op} {_literal(expr.value)}"
    if isinstance(expr, Like):
        word = "like" if expr.case_sensitive else "ilike"
        return f"{expr.field} {word} {_literal(expr.pattern)}"
    if isinstance(expr, InList):
        return f"{expr.field} in ({', '.join(_literal(v.value) for v in expr.values)})"
    if isinstance(expr, Presence):
        return f"{expr.field} is {'not ' if expr.present else ''}null"
    if isinstance(expr, Not):
        return f"not ({filter_text(expr.term)})"
    joiner = " and " if isinstance(expr, And) else " or "
    return joiner.join(f"({filter_text(t)})" for t in expr.terms)


def order_text(key: OrderKey) -> str:
    """Write a sort key back as ``order_by`` text (``metrics.accuracy DESC``)."""
    return f"{key.field} {'DESC' if key.descending else 'ASC'}"


# -- page tokens ------------------------------------------------------------------------------
def _query_digest(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()[:16]


def encode_page_token(query: str, offset: int) -> str:
    """An opaque token for the page that starts at ``offset`` of the search described by
    ``query`` (any text that identifies experiment, filter and order)."""
    raw = json.dumps({"v": 1, "q": _query_digest(query), "o": offset}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_page_token(token: str, query: str) -> int:
    """The offset a page token stands for.

    Raises:
        InvalidArgumentError: the token is malformed, or was issued for another search.
    """
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        ok = isinstance(data, dict) and data.get("v") == 1
        offset = data.get("o") if ok else None
        digest = data.get("q") if ok else None
    except (ValueError, UnicodeError, binascii.Error, AttributeError):
        offset = digest = None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidArgumentError("page_token is not a token this search issued")
    if digest != _query_digest(query):
        raise InvalidArgumentError(
            "page_token belongs to another search (experiment, filter and order_by must stay "
            "the same across pages)"
        )
    return offset
