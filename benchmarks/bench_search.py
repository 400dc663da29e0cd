"""Run search: a filtered, metric-ordered first page of 50 runs, labline vs MLflow, same data.

Run: .venv/bin/python benchmarks/bench_search.py [--runs N] [--steps S] [--mlflow-steps S]
     [--repeats R] [--no-postgres] [--cache DIR]

Data (seeded from one random generator, identical in every store): N runs (10,000 by default)
with 50 params, 20 metrics of S steps each (1,000 by default) and a ``stage`` tag; ~70 % of the
runs finished, the rest failed.

* labline is seeded straight into its tables in its own layout (see ``seed_labline``: the
  public API would take an hour per backend at this size on a loaded machine) on SQLite and
  on PostgreSQL (127.0.0.1:5432, db ``test``, a schema of its own, dropped after).
* MLflow (``mlflow-skinny``, its ``SqlAlchemyStore`` on a SQLite file, schema made by MLflow)
  is seeded by bulk inserts of the rows its client writes (see ``seed_mlflow``): through its
  client, 10,000 runs take hours. Its metrics get ``--mlflow-steps`` points each (fewer than
  labline's by default, to keep the file small; printed in the output): its search reads only
  ``latest_metrics``, one row per (run, metric) whatever the number of steps.
* Seeding writes with ``PRAGMA synchronous=OFF`` on both SQLite files (seeding is not what is
  measured), then ``ANALYZE`` runs on every database, as autovacuum or an operator would.

Measured, interleaved (labline SQLite, labline PostgreSQL, MLflow; repeated; medians quoted):
  Q1 (both systems, same result checked):
     tags.stage = 'final' and params.optimizer = 'adam' and metrics.accuracy >= 0.9
     and status = 'finished'            order by metrics.accuracy DESC, first 50
  Q2 (labline only; MLflow compares params as text): the issue's example
     params.lr > 0.01 and metrics.accuracy >= 0.9 and tags.stage = 'final'
     and status = 'finished'            order by metrics.accuracy DESC, first 50
  Q3 (labline): Q2's second page through ``page_token``.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import math
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

import labline

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
N_PARAMS = 50
N_METRICS = 20
TARGET_MS = 100.0

Q1 = (
    "tags.stage = 'final' and params.optimizer = 'adam' and metrics.accuracy >= 0.9 "
    "and status = 'finished'"
)
Q1_MLFLOW = (
    "tags.stage = 'final' and params.optimizer = 'adam' and metrics.accuracy >= 0.9 "
    "and attributes.status = 'FINISHED'"
)
Q2 = "params.lr > 0.01 and metrics.accuracy >= 0.9 and tags.stage = 'final' and status = 'finished'"
ORDER = ["metrics.accuracy DESC"]


# -- the data ---------------------------------------------------------------------------------
def run_spec(i: int, steps: int) -> dict[str, Any]:
    """Run ``i``: its name, params, tag, status and metric series (deterministic)."""
    rng = random.Random(i)
    params = {
        "lr": f"{10 ** rng.uniform(-4, 0):.6g}",
        "optimizer": rng.choice(["adam", "sgd", "adamw", "rmsprop"]),
        "depth": str(rng.randint(1, 12)),
    }
    for k in range(N_PARAMS - len(params)):
        params[f"p{k:02d}"] = f"{rng.random():.6g}" if k % 3 else rng.choice(["a", "b", "c"])
    final_acc = rng.uniform(0.5, 1.0)
    metric_rng = np.random.default_rng(i)
    t = np.linspace(0.0, 1.0, steps)
    series = {"accuracy": final_acc * (1 - np.exp(-5 * t)) / (1 - math.exp(-5))}
    series["loss"] = np.exp(-3 * t) + metric_rng.normal(0, 0.01, steps)
    for k in range(N_METRICS - len(series)):
        series[f"m{k:02d}"] = metric_rng.random(steps)
    return {
        "name": f"run-{i:05d}",
        "params": params,
        "stage": "final" if rng.random() < 0.5 else "dev",
        "finished": rng.random() < 0.7,
        "series": series,
    }


# -- labline ----------------------------------------------------------------------------------
def seed_labline(client: labline.Client, n_runs: int, steps: int, label: str) -> float:
    """Write the runs straight into labline's tables, 200 runs per transaction, the way the
    store itself lays them out (one metric chunk row per series, summaries, params with their
    numeric reading). The public API costs ~0.2-0.4 s per run of 20,000 points on a loaded
    2-core machine, which would make 10,000 runs an hour per backend; the layout is the same.
    """
    from labline.core._run_query import numeric_text
    from labline.store.sql._models import (
        MetricChunkRow,
        MetricSummaryRow,
        ParamRow,
        RunRow,
        TagRow,
    )

    engine = _engine_of(client)
    exp = client.create_experiment("bench-search")
    t0 = time.perf_counter()
    base = datetime(2026, 1, 1, tzinfo=UTC)
    steps_bytes = np.arange(steps, dtype="<i8").tobytes()
    ts_bytes = np.full(steps, 1.7e9, dtype="<f8").tobytes()
    for start in range(0, n_runs, 200):
        runs, params, tags, chunks, summaries = [], [], [], [], []
        for i in range(start, min(start + 200, n_runs)):
            spec = run_spec(i, steps)
            run_id = uuid.UUID(int=random.Random(f"id{i}").getrandbits(128)).hex
            created = base + timedelta(seconds=i)
            runs.append(
                {
                    "id": run_id,
                    "experiment_id": exp.id,
                    "name": spec["name"],
                    "status": "finished" if spec["finished"] else "failed",
                    "created_at": created,
                    "ended_at": created + timedelta(seconds=1),
                    "heartbeat_at": created,
                    "env": {},
                    "host": "",
                    "pid": 0,
                }
            )
            params += [
                {"run_id": run_id, "key": k, "value": v, "value_num": numeric_text(v)}
                for k, v in spec["params"].items()
            ]
            tags.append({"run_id": run_id, "key": "stage", "value": spec["stage"]})
            for key, values in spec["series"].items():
                chunks.append(
                    {
                        "run_id": run_id,
                        "key": key,
                        "n": steps,
                        "steps": steps_bytes,
                        "timestamps": ts_bytes,
                        "values": values.astype("<f8").tobytes(),
                    }
                )
                summaries.append(
                    {
                        "run_id": run_id,
                        "key": key,
                        "last_value": float(values[-1]),
                        "last_step": steps - 1,
                        "min_value": float(values.min()),
                        "max_value": float(values.max()),
                        "count": steps,
                    }
                )
        with engine.begin() as conn:
            conn.execute(sa.insert(RunRow), runs)
            conn.execute(sa.insert(ParamRow), params)
            conn.execute(sa.insert(TagRow), tags)
            conn.execute(sa.insert(MetricChunkRow), chunks)
            conn.execute(sa.insert(MetricSummaryRow), summaries)
        if (start + 200) % 2000 == 0:
            print(
                f"  {label}: {start + 200} runs seeded ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    return time.perf_counter() - t0


def labline_query(client: labline.Client, text: str, page: int = 1) -> Callable[[], list[str]]:
    def query() -> list[str]:
        found = client.search_runs("bench-search", filter=text, order_by=ORDER, limit=50)
        for _ in range(page - 1):
            found = client.search_runs(
                "bench-search",
                filter=text,
                order_by=ORDER,
                limit=50,
                page_token=found.next_page_token,
            )
        return [r.name for r in found]

    return query


@contextmanager
def pg_schema() -> Iterator[str | None]:
    try:
        import psycopg

        raw = PG.replace("postgresql+psycopg", "postgresql")
        schema = f"bench_search_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(raw, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
    except Exception as e:
        print(f"PostgreSQL not reachable ({type(e).__name__}); skipping it")
        yield None
        return
    try:
        yield f"{PG}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(raw, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def fast_sqlite_writes(engine: sa.Engine) -> None:
    """Seeding only: no fsync per commit (the measured queries only read)."""

    @sa.event.listens_for(engine, "connect")
    def _no_sync(dbapi_conn: Any, _rec: Any) -> None:
        dbapi_conn.execute("PRAGMA synchronous=OFF")

    engine.dispose()


def analyze(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()


# -- MLflow -----------------------------------------------------------------------------------
def mlflow_store(path: Path) -> Any:
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    return SqlAlchemyStore(f"sqlite:///{path}", str(path.parent / "mlflow-artifacts"))


def seed_mlflow(store: Any, n_runs: int, steps: int) -> float:
    """Bulk-insert the runs into MLflow's own schema (made by its ``SqlAlchemyStore``): the
    rows its client would write (``runs``, ``params``, ``tags`` with ``mlflow.runName``,
    every point in ``metrics`` and the last one in ``latest_metrics``, which its search reads),
    without its per-call cost, which takes hours at 10,000 runs."""
    fast_sqlite_writes(store.engine)
    exp_id = int(store.create_experiment("bench-search"))
    t0 = time.perf_counter()
    insert = {
        "runs": sa.text(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, "
            "user_id, status, start_time, end_time, source_version, lifecycle_stage, "
            "artifact_uri, experiment_id) VALUES (:id, :name, 'LOCAL', '', '', 'bench', "
            ":status, :start, :end, '', 'active', :uri, :exp)"
        ),
        "params": sa.text("INSERT INTO params (key, value, run_uuid) VALUES (:k, :v, :id)"),
        "tags": sa.text("INSERT INTO tags (key, value, run_uuid) VALUES (:k, :v, :id)"),
        "metrics": sa.text(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
            "VALUES (:k, :v, :t, :id, :s, 0)"
        ),
        "latest_metrics": sa.text(
            "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
            "VALUES (:k, :v, :t, :s, 0, :id)"
        ),
    }
    batch: dict[str, list[dict[str, Any]]] = {k: [] for k in insert}
    base = int(time.time() * 1000)

    def flush() -> None:
        with store.engine.begin() as conn:
            for table, rows in batch.items():
                if rows:
                    conn.execute(insert[table], rows)
                    rows.clear()

    for i in range(n_runs):
        spec = run_spec(i, steps)
        run_id = uuid.UUID(int=random.Random(f"mlflow-{i}").getrandbits(128)).hex
        start = base + i
        batch["runs"].append(
            {
                "id": run_id,
                "name": spec["name"],
                "status": "FINISHED" if spec["finished"] else "FAILED",
                "start": start,
                "end": start + 1,
                "uri": f"/tmp/bench/{run_id}",
                "exp": exp_id,
            }
        )
        batch["params"] += [{"k": k, "v": v, "id": run_id} for k, v in spec["params"].items()]
        batch["tags"] += [
            {"k": "stage", "v": spec["stage"], "id": run_id},
            {"k": "mlflow.runName", "v": spec["name"], "id": run_id},
        ]
        for key, values in spec["series"].items():
            batch["metrics"] += [
                {"k": key, "v": float(v), "t": start + s, "id": run_id, "s": s}
                for s, v in enumerate(values)
            ]
            last = len(values) - 1
            batch["latest_metrics"].append(
                {"k": key, "v": float(values[last]), "t": start + last, "s": last, "id": run_id}
            )
        if (i + 1) % 500 == 0:
            flush()
        if (i + 1) % 2000 == 0:
            print(f"  mlflow: {i + 1} runs inserted ({time.perf_counter() - t0:.0f} s)", flush=True)
    flush()
    analyze(store.engine)
    return time.perf_counter() - t0


def mlflow_query(store: Any) -> Callable[[], list[str]]:
    from mlflow.entities import ViewType

    exp_id = store.get_experiment_by_name("bench-search").experiment_id

    def query() -> list[str]:
        runs = store.search_runs(
            [exp_id], Q1_MLFLOW, ViewType.ACTIVE_ONLY, max_results=50, order_by=ORDER
        )
        return [r.info.run_name for r in runs]

    return query


# -- timing -----------------------------------------------------------------------------------
def interleaved(
    contenders: dict[str, Callable[[], list[str]]], repeats: int
) -> dict[str, tuple[float, float]]:
    """Median wall-clock and median CPU milliseconds of this process for each contender, run
    round-robin after one warm-up call each. CPU time is what a query costs here whatever the
    machine's load (for SQLite all of the work is in this process; PostgreSQL's is not)."""
    for f in contenders.values():
        f()
    wall: dict[str, list[float]] = {k: [] for k in contenders}
    cpu: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(repeats):
        for name, f in contenders.items():
            c0, t0 = time.process_time(), time.perf_counter()
            f()
            wall[name].append((time.perf_counter() - t0) * 1000)
            cpu[name].append((time.process_time() - c0) * 1000)
    return {k: (statistics.median(wall[k]), statistics.median(cpu[k])) for k in contenders}


def expected_q1(n_runs: int) -> list[str]:
    """Q1 evaluated in plain Python over the generated specs (a check on every store)."""
    hits = []
    for i in range(n_runs):
        rng = random.Random(i)
        spec = run_spec(i, 2)  # the final accuracy does not depend on the number of steps
        acc = float(spec["series"]["accuracy"][-1])
        del rng
        if (
            spec["stage"] == "final"
            and spec["params"]["optimizer"] == "adam"
            and acc >= 0.9
            and spec["finished"]
        ):
            hits.append((acc, spec["name"]))
    return [name for _, name in sorted(hits, key=lambda h: -h[0])[:50]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=1000, help="points per metric in labline")
    ap.add_argument(
        "--mlflow-steps", type=int, default=5, help="points per metric in MLflow (see docstring)"
    )
    ap.add_argument("--repeats", type=int, default=21)
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--no-mlflow", action="store_true", help="labline only (e.g. at 10,000 runs)")
    ap.add_argument(
        "--cache",
        type=Path,
        help="keep the seeded SQLite files here and reuse them when the sizes match",
    )
    args = ap.parse_args()
    n, steps = args.runs, args.steps
    print(
        f"{n} runs x {N_PARAMS} params x {N_METRICS} metrics; labline {steps} steps per metric, "
        f"MLflow {args.mlflow_steps} steps per metric"
        + (
            " (fewer: a smaller file; its search reads latest_metrics)"
            if args.mlflow_steps < steps
            else ""
        )
    )
    tmp = Path(tempfile.mkdtemp(prefix="bench-search-"))
    cache = args.cache or tmp
    cache.mkdir(parents=True, exist_ok=True)
    tag = hashlib.sha256(f"{n}/{steps}/{args.mlflow_steps}/v4".encode()).hexdigest()[:8]

    with pg_schema() if not args.no_postgres else _none() as pg_url:
        clients: dict[str, labline.Client] = {}
        lite_home = cache / f"labline-{tag}"
        reuse = (lite_home / "done").exists()
        settings = labline.Settings.local(lite_home)
        clients["labline SQLite"] = labline.Client(settings)
        if pg_url:
            clients["labline PostgreSQL"] = labline.Client(
                labline.Settings(home=tmp / "pg-home", uri=pg_url, artifact_uri=str(tmp / "blobs"))
            )
        for label, client in clients.items():
            if label.endswith("SQLite") and reuse:
                print(f"{label}: reusing {lite_home}")
                continue
            engine = _engine_of(client)
            if label.endswith("SQLite"):
                fast_sqlite_writes(engine)
            took = seed_labline(client, n, steps, label)
            analyze(engine)
            print(f"{label}: seeded in {took:.0f} s")
        (lite_home / "done").touch()

        expected = expected_q1(n)
        q1 = {f"{k}": labline_query(c, Q1) for k, c in clients.items()}
        if not args.no_mlflow:
            ml_path = cache / f"mlflow-{tag}.db"
            ml_done = cache / f"mlflow-{tag}.done"
            ml = mlflow_store(ml_path)
            if ml_done.exists():
                print(f"MLflow: reusing {ml_path}")
            else:
                took = seed_mlflow(ml, n, args.mlflow_steps)
                ml_done.touch()
                print(f"MLflow: seeded by bulk inserts in {took:.0f} s")
            q1["MLflow SQLite"] = mlflow_query(ml)
        for name, f in q1.items():
            got = f()
            status = "same 50 runs, same order" if got == expected else "DIFFERENT RESULT"
            print(f"  check Q1 {name}: {len(got)} runs, {status}")
        print(f"\nQ1 ({len(expected)} of {n} runs on the first page): {Q1}")
        print("   order by metrics.accuracy DESC, limit 50; median ms of", args.repeats, "rounds")
        print(f"   (load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
        med = interleaved(q1, args.repeats)
        base = med.get("MLflow SQLite")
        for name, (ms, cpu) in med.items():
            ratio = (
                f"   MLflow/this = {base[0] / ms:5.2f}x wall, {base[1] / cpu:5.2f}x cpu"
                if base
                else ""
            )
            verdict = (
                ""
                if name.startswith("MLflow")
                else (f"  {'under' if ms < TARGET_MS else 'OVER'} the {TARGET_MS:.0f} ms target")
            )
            print(f"  {name:20s} {ms:8.1f} ms wall {cpu:8.1f} ms cpu{ratio}{verdict}")
        if base:
            fastest = min(v[0] for k, v in med.items() if not k.startswith("MLflow"))
            print(f"  MLflow's search_runs / labline's fastest: {base[0] / fastest:.2f}x (wall)")

        q2 = {f"{k} page 1": labline_query(c, Q2) for k, c in clients.items()}
        q2.update({f"{k} page 2": labline_query(c, Q2, page=2) for k, c in clients.items()})
        print(f"\nQ2 (labline only: MLflow compares params as text): {Q2}")
        med2 = interleaved(q2, args.repeats)
        for name, (ms, cpu) in med2.items():
            extra = " (includes page 1 to get the token)" if name.endswith("2") else ""
            print(f"  {name:28s} {ms:8.1f} ms wall {cpu:8.1f} ms cpu{extra}")
        for c in clients.values():
            c.close()


@contextmanager
def _none() -> Iterator[None]:
    yield None


def _engine_of(client: labline.Client) -> sa.Engine:
    """The SQL engine behind a client (seeding setup and ANALYZE only)."""
    engine = getattr(client.store, "engine", None)
    if not isinstance(engine, sa.Engine):
        sys.exit("this benchmark needs an SQL store")
    return engine


if __name__ == "__main__":
    main()
