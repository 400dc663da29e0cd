"""MLflow's search languages. One owner: every MLflow filter and ``order_by`` passes through
here.

Runs: MLflow's filter is translated into labline's (``Client.search_runs`` runs it in SQL).
Experiments, registered models and model versions (a few hundred records, listed whole): the
filter becomes a predicate over each record's attributes and tags (:func:`entity_filter`).

MLflow writes ``metrics.acc > 0.9 and params.lr = '0.1' and tags."mlflow.user" = 'ana'
and attributes.status = 'FINISHED' and attributes.start_time > 1700000000000``. The
differences from labline's grammar that matter are the attribute names, upper-case statuses
(``RUNNING`` is labline's running or stale), times in milliseconds, and ``tags.mlflow.runName``
(labline's run name).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from ._errors import MlflowApiError

__all__ = [
    "EntityTest",
    "entity_filter",
    "experiments_filter",
    "translate_filter",
    "translate_order_by",
]

_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
    | (?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<op>!=|<>|<=|>=|==|=|<|>)
    | (?P<paren>[(),])
    | (?P<ident>(?:[A-Za-z_][A-Za-z0-9_]*\.)?(?:`(?:[^`]|``)*`|"(?:[^"]|"")*"|[A-Za-z0-9_\-/:.]+))
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "like", "ilike", "in", "is", "null"}
_PREFIXES = {
    "metrics": "metrics",
    "metric": "metrics",
    "params": "params",
    "param": "params",
    "parameters": "params",
    "tags": "tags",
    "tag": "tags",
    "attributes": "attributes",
    "attribute": "attributes",
    "attr": "attributes",
    "run": "attributes",
}
_ATTRIBUTES = {
    "run_id": "id",
    "run_name": "name",
    "status": "status",
    "start_time": "created_at",
    "end_time": "ended_at",
    "created": "created_at",
}
_STATUS = {
    "RUNNING": ("running", "stale"),
    "SCHEDULED": (),
    "FINISHED": ("finished",),
    "FAILED": ("failed",),
    "KILLED": ("failed",),
}


def _bad(message: str) -> MlflowApiError:
    return MlflowApiError("INVALID_PARAMETER_VALUE", f"Invalid filter or order_by: {message}")


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "`\"'":
        q = text[0]
        return text[1:-1].replace(q + q, q)
    return text


def _labline_key(key: str) -> str:
    return "`" + key.replace("`", "``") + "`"


def _labline_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise _bad(f"unexpected text at column {pos + 1}")
        kind = m.lastgroup or ""
        value = m.group(kind).strip()
        if kind == "ident" and value.lower() in _KEYWORDS:
            kind, value = "kw", value.lower()
        out.append((kind, value))
        pos = m.end()
    return out


class _Field:
    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind  # metrics, params, tags or attributes
        self.key = key

    @classmethod
    def parse(cls, ident: str) -> _Field:
        prefix, dot, rest = ident.partition(".")
        if dot and prefix.lower() in _PREFIXES:
            kind, key = _PREFIXES[prefix.lower()], _unquote(rest)
        elif ident.lower() in _ATTRIBUTES:
            kind, key = "attributes", ident.lower()
        else:
            raise _bad(
                f"{ident!r} is not a field: use metrics.<key>, params.<key>, tags.<key> or "
                "attributes.<run_id|run_name|status|start_time|end_time>"
            )
        if kind == "tags" and key == "mlflow.runName":
            kind, key = "attributes", "run_name"
        if kind == "attributes":
            if key.lower() not in _ATTRIBUTES:
                raise _bad(f"attribute {key!r} cannot be searched")
            key = key.lower()
        return cls(kind, key)

    def labline(self) -> str:
        if self.kind == "attributes":
            return _ATTRIBUTES[self.key]
        return f"{self.kind}.{_labline_key(self.key)}"


def _value(field: _Field, kind: str, text: str) -> str:
    """A literal in labline's syntax for ``field``."""
    raw = _unquote(text) if kind == "string" else text
    if field.kind == "attributes" and _ATTRIBUTES[field.key] in ("created_at", "ended_at"):
        try:
            ms = float(raw)
        except ValueError:
            raise _bad(f"{field.key} takes milliseconds since the epoch, got {raw!r}") from None
        return _labline_string(datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat())
    if field.kind == "metrics":
        try:
            float(raw)
        except ValueError:
            raise _bad(f"metrics.{field.key} compares with a number, got {raw!r}") from None
        return raw
    return _labline_string(raw)


class _Translator:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str, str]:
        return self.toks[self.pos] if self.pos < len(self.toks) else ("end", "")

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        self.pos += 1
        return tok

    def expr(self) -> str:
        parts = [self.term()]
        while self.peek() in (("kw", "and"), ("kw", "or")):
            parts.append(self.take()[1])
            parts.append(self.term())
        return " ".join(parts)

    def term(self) -> str:
        kind, value = self.peek()
        if (kind, value) == ("kw", "not"):
            self.take()
            return "not " + self.term()
        if (kind, value) == ("paren", "("):
            self.take()
            inner = self.expr()
            if self.take() != ("paren", ")"):
                raise _bad("expected ')'")
            return f"({inner})"
        return self.test()

    def test(self) -> str:
        kind, ident = self.take()
        if kind != "ident":
            raise _bad(f"expected a field such as metrics.accuracy, found {ident or 'the end'!r}")
        field = _Field.parse(ident)
        kind, op = self.take()
        negate = False
        if (kind, op) == ("kw", "not"):
            negate = True
            kind, op = self.take()
        if kind == "op":
            op = {"==": "=", "<>": "!="}.get(op, op)
            vkind, vtext = self.take()
            if vkind not in ("string", "number"):
                raise _bad(f"expected a value after {op!r}")
            return self.comparison(field, op, vkind, vtext)
        if (kind, op) in (("kw", "like"), ("kw", "ilike")):
            vkind, vtext = self.take()
            if vkind != "string":
                raise _bad(f"{op.upper()} takes a quoted pattern")
            text = f"{field.labline()} {op} {_labline_string(_unquote(vtext))}"
            return f"not {text}" if negate else text
        if (kind, op) == ("kw", "in"):
            values = self.in_list()
            return self.membership(field, values, negate)
        if (kind, op) == ("kw", "is"):
            present = False
            if self.peek() == ("kw", "not"):
                self.take()
                present = True
            if self.take() != ("kw", "null"):
                raise _bad("expected NULL after IS")
            return f"{field.labline()} is {'not ' if present else ''}null"
        raise _bad(f"expected a comparison after {ident!r}")

    def in_list(self) -> list[tuple[str, str]]:
        if self.take() != ("paren", "("):
            raise _bad("IN takes a parenthesised list of values")
        values = []
        while True:
            vkind, vtext = self.take()
            if vkind not in ("string", "number"):
                raise _bad("IN takes a list of values")
            values.append((vkind, vtext))
            sep = self.take()
            if sep == ("paren", ")"):
                return values
            if sep != ("paren", ","):
                raise _bad("expected ',' or ')' in an IN list")

    def comparison(self, field: _Field, op: str, vkind: str, vtext: str) -> str:
        if field.kind == "attributes" and field.key == "status":
            if op not in ("=", "!="):
                raise _bad("status compares only with =, != and IN")
            return self.membership(field, [(vkind, vtext)], op == "!=")
        return f"{field.labline()} {op} {_value(field, vkind, vtext)}"

    def membership(self, field: _Field, values: list[tuple[str, str]], negate: bool) -> str:
        if field.kind == "attributes" and field.key == "status":
            wanted: list[str] = []
            for _, text in values:
                name = _unquote(text).upper()
                if name not in _STATUS:
                    raise _bad(f"unknown run status {_unquote(text)!r}")
                wanted.extend(_STATUS[name])
            if not wanted:  # SCHEDULED only: labline never schedules runs
                return "not id is not null" if not negate else "id is not null"
            listed = ", ".join(_labline_string(s) for s in dict.fromkeys(wanted))
            return f"status {'not ' if negate else ''}in ({listed})"
        listed = ", ".join(_value(field, k, t) for k, t in values)
        return f"{field.labline()} {'not ' if negate else ''}in ({listed})"


def translate_filter(text: str | None) -> str | None:
    """labline's filter for an MLflow run filter (None for an empty one).

    Raises:
        MlflowApiError: INVALID_PARAMETER_VALUE naming what cannot be read.
    """
    if text is None or not text.strip():
        return None
    translator = _Translator(text)
    out = translator.expr()
    if translator.peek()[0] != "end":
        raise _bad(f"expected AND, OR or the end, found {translator.peek()[1]!r}")
    return out


def experiments_filter(names: list[str], run_filter: str | None) -> str:
    """labline's filter for runs of any of the experiments ``names`` that match ``run_filter``
    (a translated filter, or None): a search over several MLflow experiment ids."""
    listed = ", ".join(_labline_string(n) for n in names)
    within = f"experiment in ({listed})"
    return within if run_filter is None else f"{within} and ({run_filter})"


def translate_order_by(items: list[str]) -> list[str]:
    """labline's sort keys for MLflow's ``order_by`` (``metrics.acc DESC``, ``start_time``).

    Raises:
        MlflowApiError: INVALID_PARAMETER_VALUE for a field that cannot be sorted on.
    """
    out = []
    for item in items:
        m = re.fullmatch(r"\s*(.*?)(?:\s+(asc|desc))?\s*", item, flags=re.IGNORECASE | re.DOTALL)
        body, direction = (m.group(1), m.group(2)) if m else (item, None)
        field = _Field.parse(body.strip())
        out.append(field.labline() + (" DESC" if (direction or "").lower() == "desc" else ""))
    return out


EntityTest = Callable[[Mapping[str, Any], Mapping[str, str]], bool]
"""Whether a record, given its attributes and its tags, matches a filter."""


def _like(pattern: str, *, fold: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL if fold else re.DOTALL)


def _entity_test(kind: str, key: str, op: str, values: list[tuple[str, str]]) -> EntityTest:
    """One comparison: ``attributes.key`` or ``tags.key``, ``op``, its value(s)."""

    def literal(vkind: str, text: str) -> Any:
        return float(text) if vkind == "number" else _unquote(text)

    wanted = [literal(k, t) for k, t in values]
    if op in ("like", "ilike", "not like", "not ilike"):
        pattern = _like(str(wanted[0]), fold="ilike" in op)
        matches: Callable[[Any], bool] = lambda v: pattern.fullmatch(str(v)) is not None  # noqa: E731
        negate = op.startswith("not")
    elif op in ("in", "not in"):
        texts = {str(w) for w in wanted}
        matches, negate = (lambda v: str(v) in texts), op == "not in"
    elif op in ("=", "!="):
        target = wanted[0]
        if isinstance(target, float):
            matches = lambda v: _number(v) == target  # noqa: E731
        else:
            matches = lambda v: str(v) == target  # noqa: E731
        negate = op == "!="
    else:
        target = wanted[0]
        if not isinstance(target, float):
            raise _bad(f"{op!r} compares with a number, got {target!r}")
        compare: Callable[[float, float], bool] = {
            "<": operator.lt,
            "<=": operator.le,
            ">": operator.gt,
            ">=": operator.ge,
        }[op]
        matches = lambda v: (n := _number(v)) is not None and compare(n, target)  # noqa: E731
        negate = False

    def test(attributes: Mapping[str, Any], tags: Mapping[str, str]) -> bool:
        source = tags if kind == "tags" else attributes
        if key not in source or source[key] is None:
            return negate  # a missing tag is "not equal" to anything, and equal to nothing
        return matches(source[key]) != negate

    return test


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def entity_filter(text: str | None, attributes: Collection[str], what: str) -> EntityTest | None:
    """The predicate of an MLflow filter over experiments, registered models or model versions:
    comparisons joined by AND, each ``attribute <op> value`` or ``tags.<key> <op> value``
    (also ``tag.`key```) with ``= != < <= > >=``, ``[NOT] LIKE``, ``[NOT] ILIKE`` or
    ``[NOT] IN (...)``. A record without a tag matches ``!=`` and ``NOT ...`` tests on it (how
    MLflow 3 clients leave prompts out: ``tag.`mlflow.prompt.is_prompt` != 'true'``).

    Args:
        text: the filter (None or blank: no filter).
        attributes: the attribute names ``what`` can be filtered on.
        what: what is searched (for messages): ``experiments``, ...

    Returns:
        The predicate, or None for no filter.

    Raises:
        MlflowApiError: INVALID_PARAMETER_VALUE naming what cannot be read.
    """
    if text is None or not text.strip():
        return None
    toks = _tokens(text)
    pos = 0

    def take() -> tuple[str, str]:
        nonlocal pos
        tok = toks[pos] if pos < len(toks) else ("end", "")
        pos += 1
        return tok

    tests: list[EntityTest] = []
    while True:
        kind, ident = take()
        if kind != "ident":
            raise _bad(f"expected a field of {what}, found {ident or 'the end'!r}")
        prefix, dot, rest = ident.partition(".")
        if dot and prefix.lower() in ("tags", "tag"):
            field_kind, key = "tags", _unquote(rest)
        else:
            field_kind = "attributes"
            key = _unquote(rest if dot and prefix.lower() in ("attributes", "attribute") else ident)
            if key not in attributes:
                known = ", ".join(sorted(attributes))
                raise _bad(f"{what} are filtered on {known} or tags.<key>, not {key!r}")
        kind, op = take()
        if (kind, op) == ("kw", "not"):
            kind, op = take()
            if (kind, op) not in (("kw", "like"), ("kw", "ilike"), ("kw", "in")):
                raise _bad("NOT goes before LIKE, ILIKE or IN")
            op = "not " + op
        if kind == "op":
            op = {"==": "=", "<>": "!="}.get(op, op)
        elif kind != "kw" or op.removeprefix("not ") not in ("like", "ilike", "in"):
            raise _bad(f"expected a comparison after {ident!r}")
        if op.endswith("in"):
            if take() != ("paren", "("):
                raise _bad("IN takes a parenthesised list of values")
            values = []
            while True:
                vkind, vtext = take()
                if vkind not in ("string", "number"):
                    raise _bad("IN takes a list of values")
                values.append((vkind, vtext))
                sep = take()
                if sep == ("paren", ")"):
                    break
                if sep != ("paren", ","):
                    raise _bad("expected ',' or ')' in an IN list")
        else:
            vkind, vtext = take()
            if vkind not in ("string", "number") or (op.endswith("like") and vkind != "string"):
                raise _bad(f"expected a value after {op.upper()!r}")
            values = [(vkind, vtext)]
        tests.append(_entity_test(field_kind, key, op, values))
        kind, word = take()
        if kind == "end":
            return lambda attrs, tags: all(t(attrs, tags) for t in tests)
        if (kind, word) != ("kw", "and"):
            raise _bad(f"{what} filters join comparisons with AND, found {word!r}")
