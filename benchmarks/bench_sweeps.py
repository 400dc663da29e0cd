"""Sweep storage overhead per trial: labline's Optuna storage vs Optuna's own ``RDBStorage``.

Run: .venv/bin/python benchmarks/bench_sweeps.py [--trials N] [--repeats R] [--no-postgres] [--no-http]

Each contender runs the same study: ``--trials`` trials (100 by default) of a trivial objective
(a float, a log-int and a categorical parameter, three intermediate values reported, one value
returned), sampled by a seeded ``RandomSampler`` so that the sampler costs next to nothing and
what is measured is the storage. The peer is Optuna's ``RDBStorage`` as ``create_study`` uses
it (wrapped in Optuna's cache), on a database of the same engine: a SQLite file beside
labline's (a file each: both keep an ``alembic_version`` table), and a schema of its own in the
same PostgreSQL database (127.0.0.1:5432, db ``test``; dropped after).

labline writes more per trial than Optuna: every trial is also a child run (run row, params,
tags, metric series), so trials are searchable and comparable like any run.

A third labline contender runs over HTTP: ``labline.optuna.Storage`` on a client with
``LABLINE_URI=http://...``, talking to a ``labline server`` process (started here on a free port
of 127.0.0.1) whose store is SQLite; its peer is Optuna on SQLite too. One Optuna call is one
request; the requests per trial are counted in an untimed extra study and printed.

Contenders are interleaved (labline SQLite, Optuna SQLite, labline HTTP, labline PostgreSQL,
Optuna PostgreSQL) and repeated, each on a fresh study; the figures are medians of the
per-trial latency (wall time of ``study.optimize`` / trials), with the ratio labline / Optuna
per engine. Target: <= 1.0x.
"""

from __future__ import annotations

import argparse
import collections
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import optuna

import labline
from labline.optuna import Storage
from labline.store.http import HttpTransport

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -3.0, 3.0)
    n = trial.suggest_int("n", 1, 256, log=True)
    kind = trial.suggest_categorical("kind", ["a", "b", "c"])
    value = (x - 1.0) ** 2 + 1.0 / n + (kind == "b")
    for step in range(3):
        trial.report(value + 1.0 / (step + 1), step)
    return value


def run_study(storage: optuna.storages.BaseStorage | str, trials: int) -> float:
    """Seconds per trial of one fresh study on ``storage``."""
    study = optuna.create_study(
        storage=storage,
        study_name=f"bench-{uuid.uuid4().hex[:8]}",
        sampler=optuna.samplers.RandomSampler(seed=0),
    )
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    return (time.perf_counter() - t0) / trials


@contextmanager
def pg_schema() -> Iterator[str | None]:
    """A PostgreSQL URL on a fresh schema (dropped after), or ``None`` if unreachable."""
    try:
        import psycopg

        raw = PG.replace("postgresql+psycopg", "postgresql")
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(raw, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
    except Exception as e:
        print(f"PostgreSQL unavailable ({type(e).__name__}); measuring SQLite only")
        yield None
        return
    try:
        yield f"{PG}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(raw, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@contextmanager
def labline_server(home: Path) -> Iterator[tuple[str, str]]:
    """A ``labline server`` process on SQLite in ``home``: its URL and a researcher token."""
    with labline.Client(labline.Settings.local(home)) as c:
        token = c.create_token("bench", "researcher").secret
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "labline", "server", "--port", str(port),
         "--store", f"sqlite:///{home / 'labline.db'}", "--artifacts", str(home / "blobs"),
         "--log-level", "warning"],
        env={**os.environ, "LABLINE_HOME": str(home)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"labline server exited with {proc.returncode}")
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("labline server did not come up in 120 s")
            time.sleep(0.2)
        yield url, token
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def requests_per_trial(storage: Storage, trials: int) -> dict[str, float]:
    """The HTTP requests one study of ``trials`` trials sends, per trial, by method and path."""
    counts: collections.Counter[str] = collections.Counter()
    send = HttpTransport.request

    def counted(self: HttpTransport, method: str, path: str, **kwargs: Any) -> Any:
        counts[f"{method} {'/'.join('N' if p.isdigit() else p for p in path.split('/'))}"] += 1
        return send(self, method, path, **kwargs)

    HttpTransport.request = counted  # type: ignore[method-assign]
    try:
        run_study(storage, trials)
    finally:
        HttpTransport.request = send  # type: ignore[method-assign]
    return {k: v / trials for k, v in counts.most_common()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-http", action="store_true", help="Skip labline over HTTP.")
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="bench-sweeps-"))
    with pg_schema() as lab_pg, pg_schema() as opt_pg, _maybe_server(args, tmp) as server:
        if args.no_postgres:
            lab_pg = opt_pg = None
        lab_sqlite = labline.Client(
            f"sqlite:///{tmp / 'labline.db'}", artifact_uri=str(tmp / "blobs")
        )
        contenders: dict[str, Callable[[], float]] = {
            "labline SQLite": lambda: run_study(Storage(client=lab_sqlite), args.trials),
            "Optuna SQLite": lambda: run_study(f"sqlite:///{tmp / 'optuna.db'}", args.trials),
        }
        clients = [lab_sqlite]
        per_trial: dict[str, float] = {}
        if server is not None:
            url, token = server
            lab_http = labline.Client(
                labline.Settings(
                    home=tmp / "http-client", uri=url, artifact_uri=str(tmp / "x"), token=token
                )
            )
            clients.append(lab_http)
            contenders["labline HTTP"] = lambda: run_study(Storage(client=lab_http), args.trials)
            per_trial = requests_per_trial(Storage(client=lab_http), args.trials)
        if lab_pg is not None and opt_pg is not None:
            lab_pg_client = labline.Client(lab_pg, artifact_uri=str(tmp / "blobs"))
            clients.append(lab_pg_client)
            opt_storage = optuna.storages.RDBStorage(opt_pg)
            contenders["labline PostgreSQL"] = lambda: run_study(
                Storage(client=lab_pg_client), args.trials
            )
            contenders["Optuna PostgreSQL"] = lambda: run_study(opt_storage, args.trials)
        for run in contenders.values():  # warm up: schemas, connections, imports
            run_study_warm = run
            run_study_warm()
        samples: dict[str, list[float]] = {k: [] for k in contenders}
        for r in range(args.repeats):
            for name, run in contenders.items():
                samples[name].append(run())
            print(f"repeat {r + 1}/{args.repeats} done", file=sys.stderr)
        for c in clients:
            c.close()
    med = {k: statistics.median(v) * 1000 for k, v in samples.items()}
    print(
        f"\nper-trial latency, medians of {args.repeats} interleaved repeats x {args.trials} trials"
    )
    print(f"{'contender':<22}{'ms/trial':>10}")
    for k, v in med.items():
        print(f"{k:<22}{v:>10.2f}")
    for engine, peer in (("SQLite", "SQLite"), ("HTTP", "SQLite"), ("PostgreSQL", "PostgreSQL")):
        if f"labline {engine}" in med:
            ratio = med[f"labline {engine}"] / med[f"Optuna {peer}"]
            verdict = "within" if ratio <= 1.0 else "over"
            print(
                f"{engine}: labline / Optuna RDBStorage ({peer}) = {ratio:.2f}x "
                f"({verdict} target 1.0x)"
            )
    if per_trial:
        total = sum(per_trial.values())
        print(
            f"labline HTTP: {total:.1f} requests per trial: "
            + ", ".join(f"{k} {v:.1f}" for k, v in per_trial.items())
        )
    return 0


@contextmanager
def _maybe_server(args: argparse.Namespace, tmp: Path) -> Iterator[tuple[str, str] | None]:
    if args.no_http:
        yield None
        return
    with labline_server(tmp / "server") as server:
        yield server


if __name__ == "__main__":
    raise SystemExit(main())
