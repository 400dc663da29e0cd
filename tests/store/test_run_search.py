"""Run search on every backend: the SQL a filter compiles to agrees with a plain Python reading
of the same filter over random runs, sort orders agree with a Python sort, and malformed
filters fail at the column where they go wrong."""

from __future__ import annotations

import functools
import math
import random
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import labline
from labline import RunStatus
from labline.core._run_query import (
    And,
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
    numeric_text,
    parse_filter,
    parse_order_by,
)
from labline.core._types import Run
from labline.store.http import HttpStore
from labline.store.sql import SQLStore

# -- a plain Python reading of the documented semantics (independent of the SQL compiler) ----
_PY_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _metric(run: Run, field: Field) -> float | None:
    m = run.metrics.get(field.key)
    if m is None:
        return None
    v = {"last": m.last_value, "min": m.min_value, "max": m.max_value}[field.aggregate]
    return None if math.isnan(v) else v


def _text(run: Run, field: Field) -> Any:
    if field.kind is FieldKind.PARAM:
        return run.params.get(field.key)
    if field.kind is FieldKind.TAG:
        return run.tags.get(field.key)
    return {
        "id": run.id,
        "name": run.name,
        "status": run.status.value,
        "created_at": run.created_at,
        "ended_at": run.ended_at,
        "experiment": run.experiment,
    }[field.key]


def _like(pattern: str, text: str, case_sensitive: bool) -> bool:
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    flags = re.DOTALL | (0 if case_sensitive else re.IGNORECASE)
    return re.fullmatch(rx, text, flags) is not None


def _compare(run: Run, c: Comparison) -> bool:
    if c.field.kind is FieldKind.METRIC:
        v = _metric(run, c.field)
        return v is not None and _PY_OPS[c.op](v, c.value)
    stored = _text(run, c.field)
    if stored is None:
        return False
    if c.field.kind is FieldKind.PARAM and c.numeric is not None:
        number = numeric_text(stored)
        if number is not None:
            return _PY_OPS[c.op](number, c.numeric)
        if c.op not in ("=", "!="):
            return False
    return _PY_OPS[c.op](stored, c.value)


def _matches(run: Run, expr: FilterExpr) -> bool:
    if isinstance(expr, And):
        return all(_matches(run, t) for t in expr.terms)
    if isinstance(expr, Or):
        return any(_matches(run, t) for t in expr.terms)
    if isinstance(expr, Not):
        return not _matches(run, expr.term)
    if isinstance(expr, Presence):
        f = expr.field
        logged = f.key in run.metrics if f.kind is FieldKind.METRIC else _text(run, f) is not None
        return logged == expr.present
    if isinstance(expr, InList):
        return any(_compare(run, c) for c in expr.values)
    if isinstance(expr, Like):
        stored = _text(run, expr.field)
        return stored is not None and _like(expr.pattern, stored, expr.case_sensitive)
    return _compare(run, expr)


def _sort_value(run: Run, field: Field) -> tuple[int, Any]:
    """(group, value): numbers (0) before text (1) before missing (2)."""
    if field.kind is FieldKind.METRIC:
        v = _metric(run, field)
        return (2, 0) if v is None else (0, v)
    stored = _text(run, field)
    if stored is None:
        return (2, 0)
    if field.kind is FieldKind.PARAM and numeric_text(stored) is not None:
        return (0, numeric_text(stored))
    return (1, stored)


def _python_order(runs: list[Run], keys: tuple[OrderKey, ...]) -> list[Run]:
    def cmp(a: Run, b: Run) -> int:
        for k in keys:
            (ga, va), (gb, vb) = _sort_value(a, k.field), _sort_value(b, k.field)
            if ga != gb:
                return -1 if ga < gb else 1
            if va != vb:
                less = va < vb
                return (1 if less else -1) if k.descending else (-1 if less else 1)
        if a.created_at != b.created_at:
            return -1 if a.created_at > b.created_at else 1
        return -1 if a.id < b.id else (1 if a.id > b.id else 0)

    return sorted(runs, key=functools.cmp_to_key(cmp))


# -- random runs and filters ------------------------------------------------------------------
_PARAM_KEYS = ["lr", "depth", "model", "batch size", "opt.beta"]
_PARAM_VALUES = ["0.1", "1e-3", "10", "-2", "3.0", "0.10", "auto", "adam", "Adam", "10x", "", "é"]
_TAG_VALUES = ["final", "dev", "FINAL", "fin_al", "50%"]
_METRIC_KEYS = ["acc", "loss", "loss.min"]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _seed_runs(store: SQLStore, rng: random.Random, n: int) -> list[Run]:
    import socket

    # stale runs here are those whose writer died; a heartbeat that ages past stale_after
    # while the test runs (slow machines) would change a status between reading and querying
    store.stale_after = 86400.0
    e = store.create_experiment("search")
    other = store.create_experiment("other")
    store.create_run(other.id, "elsewhere", params={"lr": "0.5"})  # never in "search" results
    dead = _dead_pid()
    for i in range(n):
        params = {k: rng.choice(_PARAM_VALUES) for k in _PARAM_KEYS if rng.random() < 0.75}
        tags = {"stage": rng.choice(_TAG_VALUES)} if rng.random() < 0.7 else {}
        stale = rng.random() < 0.1
        run = store.create_run(
            e.id,
            rng.choice([f"run-{i}", f"Run_{i}", "shared"]),
            params=params,
            tags=tags,
            host=socket.gethostname() if stale else "",
            pid=dead if stale else 0,
        )
        chunks = {}
        for key in _METRIC_KEYS:
            if rng.random() < 0.7:
                values = [rng.choice([rng.uniform(0, 1), rng.uniform(0, 1), math.nan, math.inf])]
                values += [rng.uniform(0, 1) for _ in range(rng.randrange(3))]
                rng.shuffle(values)
                chunks[key] = (
                    np.arange(len(values)),
                    np.zeros(len(values)),
                    np.array(values, dtype=float),
                )
        store.append_metrics(run.id, chunks)
        if not stale:
            end = rng.choice([None, RunStatus.FINISHED, RunStatus.FINISHED, RunStatus.FAILED])
            if end is not None:
                store.set_run_status(run.id, end)
    return store.search_runs(experiment="search")


def _random_leaf(rng: random.Random, runs: list[Run]) -> str:
    op = rng.choice(["=", "!=", "<", "<=", ">", ">=", "==", "<>"])
    kind = rng.choice(["metric", "param", "param", "tag", "attr", "like", "in", "null"])
    if kind == "metric":
        key = rng.choice(["acc", "loss", "`loss.min`", "nope"])
        agg = rng.choice(["", "", ".min", ".max", ".last"])
        return f"metrics.{key}{agg} {op} {rng.choice(['0.5', '0.25', '1', '-1', '0.75'])}"
    if kind == "param":
        key = rng.choice(["lr", "depth", "model", "`batch size`", "opt.beta", "missing"])
        value = rng.choice([*_PARAM_VALUES, "0.01", "2"])
        lit = value if numeric_text(value) is not None and rng.random() < 0.5 else f"'{value}'"
        return f"params.{key} {op} {lit}"
    if kind == "tag":
        return f"tags.stage {rng.choice(['=', '!=', '<', '>='])} '{rng.choice(_TAG_VALUES)}'"
    if kind == "attr":
        choice = rng.randrange(4)
        if choice == 0:
            return f"status {rng.choice(['=', '!='])} '{rng.choice(['running', 'finished', 'failed', 'stale'])}'"
        if choice == 1:
            return f"name {op} '{rng.choice(['shared', 'run-3', 'Run_5', 'r'])}'"
        if choice == 2:
            pivot = rng.choice(runs).created_at.isoformat()
            return f"created_at {rng.choice(['<', '>=', '='])} '{pivot}'"
        return f"run_id = '{rng.choice(runs).id}'"
    if kind == "like":
        field = rng.choice(["name", "tags.stage", "params.model", "run_id"])
        word = rng.choice(["like", "ilike", "not like", "NOT ILIKE", "LIKE"])
        pattern = rng.choice(["run%", "RUN%", "%a%", "fin_al", "50%", "%AL", "_", "%", "a%d%"])
        return f"{field} {word} '{pattern}'"
    if kind == "in":
        field = rng.choice(["params.lr", "status", "tags.stage", "metrics.acc"])
        pool = {
            "params.lr": ["0.1", "'1e-3'", "10", "'auto'", "'0.10'"],
            "status": ["'running'", "'finished'", "'stale'", "'failed'"],
            "tags.stage": ["'final'", "'dev'", "'FINAL'"],
            "metrics.acc": ["0.5", "1"],
        }[field]
        neg = rng.choice(["", "not "])
        return f"{field} {neg}in ({', '.join(rng.sample(pool, rng.randint(1, len(pool))))})"
    field = rng.choice(["params.lr", "tags.stage", "metrics.loss", "ended_at", "name"])
    return f"{field} is {rng.choice(['', 'not '])}null"


def _random_filter(rng: random.Random, runs: list[Run], depth: int = 0) -> str:
    if depth >= 2 or rng.random() < 0.4:
        return _random_leaf(rng, runs)
    joiner = rng.choice([" and ", " or ", " AND ", " Or "])
    parts = [_random_filter(rng, runs, depth + 1) for _ in range(rng.randint(2, 3))]
    text = joiner.join(f"({p})" if rng.random() < 0.5 else p for p in parts)
    if rng.random() < 0.25:
        text = f"not ({text})"
    return f"({text})" if depth else text


def test_sql_filter_agrees_with_python_reading(store: SQLStore) -> None:
    rng = random.Random(20261129)
    runs = _seed_runs(store, rng, 60)
    assert {r.status for r in runs} == set(RunStatus)  # every status, stale included, occurs
    nonempty = 0
    for _ in range(250):
        text = _random_filter(rng, runs)
        expr = parse_filter(text)
        assert expr is not None
        expected = [r.id for r in runs if _matches(r, expr)]
        got = [r.id for r in store.search_runs(experiment="search", filter=expr)]
        assert got == expected, text
        nonempty += 0 < len(expected) < len(runs)
    assert nonempty > 100  # the filters really discriminate


def test_sql_order_agrees_with_python_sort(store: SQLStore) -> None:
    rng = random.Random(7)
    runs = _seed_runs(store, rng, 40)
    fields = [
        "metrics.acc",
        "metrics.loss.min",
        "metrics.`loss.min`.max",
        "params.lr",
        "params.model",
        "params.`batch size`",
        "tags.stage",
        "name",
        "status",
        "ended_at",
        "created_at",
    ]
    for _ in range(60):
        items = [
            f"{rng.choice(fields)} {rng.choice(['', 'ASC', 'desc'])}"
            for _ in range(rng.randint(1, 3))
        ]
        keys = parse_order_by(items)
        got = [r.id for r in store.search_runs(experiment="search", order_by=keys)]
        assert got == [r.id for r in _python_order(runs, keys)], items
    # offset/limit pages are slices of the full order
    keys = parse_order_by(["metrics.acc desc"])
    full = [r.id for r in store.search_runs(experiment="search", order_by=keys)]
    pages = [
        [r.id for r in store.search_runs(experiment="search", order_by=keys, offset=o, limit=7)]
        for o in range(0, len(full), 7)
    ]
    assert [i for p in pages for i in p] == full


def test_several_experiments_are_searched_through_the_experiment_attribute(
    store: SQLStore,
) -> None:
    made = {}
    for name in ("digits", "mnist", "cifar"):
        e = store.create_experiment(name)
        made[name] = store.create_run(e.id, f"{name}-run", params={"lr": "0.1"}).id

    def names(text: str, order: tuple[str, ...] = ("experiment",)) -> list[str]:
        found = store.search_runs(filter=parse_filter(text), order_by=parse_order_by(list(order)))
        return [r.experiment for r in found]

    assert names("experiment in ('digits', 'mnist')") == ["digits", "mnist"]
    assert names("experiment_name = 'cifar' and params.lr = 0.1") == ["cifar"]
    assert names("experiment not in ('digits') and experiment like '%i%'") == ["cifar", "mnist"]
    assert names("experiment != 'mnist'", ("experiment desc",)) == ["digits", "cifar"]
    assert names("experiment = 'nope'") == []
    assert [r.id for r in store.search_runs(filter=parse_filter("experiment = 'digits'"))] == [
        made["digits"]
    ]


def test_documented_examples(store: SQLStore) -> None:
    e = store.create_experiment("digits")

    def run(name: str, lr: str, acc: list[float], stage: str, finish: bool = True) -> str:
        r = store.create_run(e.id, name, params={"lr": lr}, tags={"stage": stage})
        n = len(acc)
        store.append_metrics(r.id, {"accuracy": (np.arange(n), np.zeros(n), np.array(acc))})
        if finish:
            store.set_run_status(r.id, RunStatus.FINISHED)
        return r.id

    a = run("a", "0.1", [0.5, 0.95], "final")
    b = run("b", "0.001", [0.99, 0.92], "final")  # lr too small
    c = run("c", "1e-1", [0.97, 0.91], "final", finish=False)  # running
    d = run("d", "0.05", [0.95, 0.80], "final")  # last value too low, max high enough
    f = run("f", "auto", [0.99], "final")  # text lr: never ordered against a number

    def ids(text: str, order: tuple[str, ...] = ()) -> list[str]:
        return [
            r.id
            for r in store.search_runs(
                filter=parse_filter(text), order_by=parse_order_by(list(order))
            )
        ]

    example = "params.lr > 0.01 and metrics.accuracy >= 0.9 and tags.stage = 'final' and status = 'finished'"
    assert ids(example) == [a]
    assert ids("params.lr = 0.1", ("name",)) == [a, c]  # '1e-1' equals 0.1 as numbers
    assert ids("params.lr = '1e-1'", ("name",)) == [a, c]
    assert ids("params.lr like '1e%'") == [c]
    assert ids("metrics.accuracy.max >= 0.95", ("metrics.accuracy.max desc", "name")) == [
        b,
        f,
        c,
        a,
        d,
    ]
    assert ids("metrics.accuracy.min < 0.9", ("name",)) == [a, d]
    assert ids("params.lr != 0.1", ("name",)) == [b, d, f]
    assert ids("status = 'running'") == [c]
    assert ids("", ("params.lr",)) == [b, d, c, a, f]  # 0.1 and 1e-1 tie: newest first
    if isinstance(store, HttpStore):
        # deliberate: how old a heartbeat may be is a setting of the server's own store, not
        # something a client can change (a remote user must not declare others' runs stale)
        return
    store.stale_after = 0.0  # now c's last heartbeat is too old: it is reported stale
    assert store.get_run(c).status is RunStatus.STALE
    assert ids("status = 'stale'") == [c] and ids("status = 'running'") == []


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("params.lr > 0.01 and metrics.accuracy >= ", 42, "expected a value after '>='"),
        ("metrics.accuracy >= and", 21, "expected a value after '>='"),
        ("params.lr >", 12, "expected a value after '>'"),
        ("foo = 1", 1, "unknown field 'foo'"),
        ("params. = 1", 8, "expected a key after 'params.'"),
        ("params.`` = 1", 8, "empty"),
        ("params.a = 1 params.b = 2", 14, "expected 'and', 'or' or the end"),
        ("(params.a = 1", 14, "expected ')' to close the '(' at column 1"),
        ("tags.x = 'open", 10, "unterminated quote"),
        ("metrics.acc = 'high'", 15, "expected a number"),
        ("status = 'finshed'", 10, "unknown status 'finshed'"),
        ("params.lr ~ 1", 11, "unexpected character '~'"),
        ("params.lr", 10, "expected an operator"),
        ("params.lr in 1", 14, "expected '(' after 'in'"),
        ("params.lr in (1 2)", 17, "expected ',' or ')'"),
        ("tags.x is 1", 11, "expected 'null' after 'is'"),
        ("metrics.acc like 'x%'", 13, "'like' needs a text field"),
        ("created_at > 'yesterday'", 14, "ISO 8601"),
        ("params.a.min = 1 and tags.`t`.max = 1", 30, "only metrics take a suffix"),
        ("and params.a = 1", 1, "expected a field"),
        ("not", 4, "expected a field"),
        ("name not = 'a'", 10, "expected 'like', 'ilike' or 'in' after 'not'"),
    ],
)
def test_malformed_filter_points_at_the_column(text: str, column: int, message: str) -> None:
    with pytest.raises(labline.InvalidArgumentError) as info:
        parse_filter(text)
    assert str(info.value).startswith(f"invalid filter at column {column}: "), str(info.value)
    assert message in str(info.value)


def test_every_loggable_key_can_be_written_in_a_filter(store: SQLStore) -> None:
    keys = ["plain", "with space", "dots.in.name", "back`tick", 'double"quote', "ünïcode"]
    keys += ["loss.min", "a-b/c:d", "x" * 250, "'single'", "(paren) = 1 and"]
    for n, key in enumerate(keys):
        e = store.create_experiment(f"keys-{n}")
        r = store.create_run(e.id, "has", params={key: "1"}, tags={key: "t"})
        store.append_metrics(r.id, {key: (np.arange(1), np.zeros(1), np.array([2.0]))})
        store.create_run(e.id, "has not")
        backticked = "`" + key.replace("`", "``") + "`"
        double_quoted = '"' + key.replace('"', '""') + '"'
        for quoted in (backticked, double_quoted):
            for text in (
                f"params.{quoted} = 1",
                f"metrics.{quoted} > 1",
                f"metrics.{quoted}.max > 1",
                f"tags.{quoted} = 't'",
                f"tags.{quoted} is not null",
            ):
                found = store.search_runs(experiment=e.name, filter=parse_filter(text))
                assert [x.id for x in found] == [r.id], text
    # a bare metric key ending in .min is the aggregate; quoted, it is the key itself
    assert parse_filter("metrics.loss.min > 1") == Comparison(
        Field(FieldKind.METRIC, "loss", "min"), ">", 1.0
    )
    assert parse_filter("metrics.`loss.min` > 1") == Comparison(
        Field(FieldKind.METRIC, "loss.min"), ">", 1.0
    )


def test_order_by_errors() -> None:
    with pytest.raises(
        labline.InvalidArgumentError,
        match=r"order_by item 2 \('metrics.a sideways'\): at column 11",
    ):
        parse_order_by(["name", "metrics.a sideways"])
    with pytest.raises(labline.InvalidArgumentError, match="order_by item 1"):
        parse_order_by(["params."])
    assert parse_order_by(["metrics.accuracy DESC"]) == (
        OrderKey(Field(FieldKind.METRIC, "accuracy"), True),
    )


def test_params_logged_before_the_migration_compare_as_numbers(store_url: str) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

    from labline.store.sql._store import _alembic_config

    old = SQLStore(store_url)
    e = old.create_experiment("old")
    run = old.create_run(e.id, "r", params={"lr": "0.1", "model": "cnn", "depth": "1e1"})
    cfg = _alembic_config()
    search = next(
        s for s in ScriptDirectory.from_config(cfg).walk_revisions() if "run_search" in s.revision
    )
    with old.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, search.down_revision)
    old.close()
    upgraded = SQLStore(store_url)
    text = "params.lr > 0.05 and params.lr < 1 and params.depth = 10 and params.model = 'cnn'"
    assert [r.id for r in upgraded.search_runs(filter=parse_filter(text))] == [run.id]
    upgraded.close()
