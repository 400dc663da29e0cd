"""Metric ingest: labline's ``log_metric`` beside a no-op call, the raw SQLite floor, MLflow, Aim.

Run: .venv/bin/python benchmarks/bench_ingest.py [--points N] [--repeats R]

Five contenders, measured in one run, interleaved (one of each per repeat), medians quoted:

  * no-op: a loop calling a method with ``log_metric``'s signature that does nothing, with the
    same three arguments: the price of the call itself, the ceiling for any Python API.
  * labline: ``run.log_metric(key, value, step)`` N times in a loop (its calls/s is the caller's
    cost, the training loop's time), then ``run.end()``: the points are durable in SQLite when the
    clock stops (durable ingest, points/s).
  * floor: ``sqlite3.executemany`` of the same N points as one row each into a WAL database, in
    one transaction: the best a row-per-point layout can do.
  * MLflow (``mlflow-skinny``, SQLite backend) ``log_batch`` with 1,000 metrics per call (its
    limit), on fewer points (rates are per second; the point counts are printed).
  * Aim (``aim``) ``Run.track`` on fewer points, then ``Run.close()`` (in .venvs/aim, which
    ``BENCH_PEERS=1 bash scripts/setup.sh`` creates, when Aim is not importable here).

Targets (issue 16, item 20): labline log_metric >= 0.3x the no-op's calls/s; labline durable
ingest >= 3x the floor. Wall-clock times; the caller-cost ratio is also given in CPU time of the
calling thread, which a machine shared with other work disturbs less.

The N-point loop ends before the writer's first one-second write, so its calls/s is the cost of a
burst. A longer loop (``--sustained-points``, several writes while it runs) also pays for the
writer's share of the GIL (packing the buffered values into arrays): printed on its own line.
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import labline

KEY, VALUE = "loss", 0.5


class NoOpRun:
    """Same signature as ``ActiveRun.log_metric``, no work: the cost of the call alone."""

    def log_metric(
        self, key: str, value: float, step: int | None = None, *, timestamp: float | None = None
    ) -> None:
        pass


def timed_loop(log: Callable[..., None], n: int) -> tuple[float, float]:
    """Call ``log(KEY, VALUE, i)`` for i < n; return (wall seconds, thread CPU seconds)."""
    w0, c0 = time.perf_counter(), time.thread_time()
    for i in range(n):
        log(KEY, VALUE, i)
    return time.perf_counter() - w0, time.thread_time() - c0


def bench_noop(n: int) -> tuple[float, float]:
    return timed_loop(NoOpRun().log_metric, n)


def bench_labline(n: int, home: Path) -> tuple[float, float, float, float]:
    """(loop wall s, loop CPU s, until durable wall s, read back s)."""
    client = labline.Client(labline.Settings.local(home))
    run = labline.start_run("bench", client=client, capture_env=False)
    t0 = time.perf_counter()
    loop_wall, loop_cpu = timed_loop(run.log_metric, n)
    run.end()
    durable = time.perf_counter() - t0
    r0 = time.perf_counter()
    series = client.get_metric_series(run.id, KEY)
    read = time.perf_counter() - r0
    assert len(series) == n and series.steps[-1] == n - 1
    client.close()
    return loop_wall, loop_cpu, durable, read


def bench_labline_series(n: int, home: Path) -> float:
    client = labline.Client(labline.Settings.local(home))
    run = labline.start_run("bench", client=client, capture_env=False)
    values = np.full(n, VALUE)
    t0 = time.perf_counter()
    for start in range(0, n, 10_000):  # e.g. one call per epoch with that epoch's batch losses
        run.log_metric_series(KEY, values[start : start + 10_000])
    run.end()
    elapsed = time.perf_counter() - t0
    assert len(client.get_metric_series(run.id, KEY)) == n
    client.close()
    return elapsed


def bench_floor(n: int, path: Path) -> float:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE m (run_id TEXT, key TEXT, step INTEGER, ts REAL, value REAL)")
    rows = [("r", KEY, i, 1.7e9, VALUE) for i in range(n)]
    t0 = time.perf_counter()
    with conn:
        conn.executemany("INSERT INTO m VALUES (?, ?, ?, ?, ?)", rows)
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


def mlflow_available() -> str | None:
    """None if MLflow can run here, else why not."""
    if os.environ.get("SKIP_MLFLOW"):
        return "SKIP_MLFLOW is set"
    try:
        import mlflow.tracking  # noqa: F401
    except ImportError:
        return "not installed (pip install mlflow-skinny)"
    return None


def bench_mlflow(n: int, tmp: Path) -> float:
    """Seconds for ``n`` points through ``log_batch``, 1,000 per call."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}")
    exp = client.create_experiment("bench", artifact_location=str(tmp / "mlartifacts"))
    run_id = client.create_run(exp).info.run_id
    ts = int(time.time() * 1000)
    t0 = time.perf_counter()
    for start in range(0, n, 1000):
        client.log_batch(
            run_id, metrics=[Metric(KEY, VALUE, ts, i) for i in range(start, start + 1000)]
        )
    return time.perf_counter() - t0


AIM_VENV = Path(__file__).resolve().parents[1] / ".venvs" / "aim" / "bin" / "python"
"""Aim pins dependencies of its own, so ``BENCH_PEERS=1 bash scripts/setup.sh`` installs it in
a venv of its own; it runs there when ``aim`` cannot be imported here (``BENCH_AIM_PYTHON``
names another interpreter)."""

_AIM_SCRIPT = """
import contextlib, io, sys, time, warnings
from aim import Run
n, repo, key, value = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
    warnings.simplefilter("ignore")
    run = Run(repo=repo, experiment="bench", system_tracking_interval=None,
              log_system_params=False, capture_terminal_logs=False)
    t0 = time.perf_counter()
    for i in range(n):
        run.track(value, name=key, step=i)
    run.close()
    print(time.perf_counter() - t0)
"""


def aim_python() -> str | None:
    """The interpreter that runs Aim, or None if there is none."""
    try:
        import aim  # noqa: F401

        return sys.executable
    except ImportError:
        pass
    other = os.environ.get("BENCH_AIM_PYTHON") or (str(AIM_VENV) if AIM_VENV.exists() else None)
    if other and subprocess.run([other, "-c", "import aim"], capture_output=True).returncode == 0:
        return other
    return None


def aim_available() -> str | None:
    """None if Aim can run here, else why not."""
    if os.environ.get("SKIP_AIM"):
        return "SKIP_AIM is set"
    if aim_python() is None:
        return (
            "not installed: BENCH_PEERS=1 bash scripts/setup.sh (or pip install 'labline[bench]')"
        )
    return None


def bench_aim(n: int, tmp: Path, python: str) -> float:
    """Seconds for ``n`` points through ``Run.track`` and ``Run.close()`` (Aim's own timer, in
    its interpreter; start-up is not counted)."""
    out = subprocess.run(
        [python, "-c", _AIM_SCRIPT, str(n), str(tmp), KEY, repr(VALUE)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--mlflow-points", type=int, default=20_000)
    ap.add_argument("--aim-points", type=int, default=5_000)
    ap.add_argument("--sustained-points", type=int, default=5_000_000)
    args = ap.parse_args()
    n, med = args.points, statistics.median
    no_mlflow, no_aim = mlflow_available(), aim_available()
    aim_interpreter = aim_python() if no_aim is None else None
    res: dict[str, list[float]] = {
        k: []
        for k in (
            "noop_wall",
            "noop_cpu",
            "lab_wall",
            "lab_cpu",
            "lab_durable",
            "lab_read",
            "floor",
            "series",
            "mlflow",
            "aim",
            "noop_long",
            "lab_long",
        )
    }
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for r in range(args.repeats):
            wall, cpu = bench_noop(n)
            res["noop_wall"].append(wall)
            res["noop_cpu"].append(cpu)
            wall, cpu, durable, read = bench_labline(n, tmp / f"lab{r}")
            res["lab_wall"].append(wall)
            res["lab_cpu"].append(cpu)
            res["lab_durable"].append(durable)
            res["lab_read"].append(read)
            res["floor"].append(bench_floor(n, tmp / f"floor{r}.db"))
            res["series"].append(bench_labline_series(n, tmp / f"series{r}"))
            if not no_mlflow:
                (tmp / f"ml{r}").mkdir()
                res["mlflow"].append(bench_mlflow(args.mlflow_points, tmp / f"ml{r}"))
            if not no_aim:
                (tmp / f"aim{r}").mkdir()
                assert aim_interpreter is not None
                res["aim"].append(bench_aim(args.aim_points, tmp / f"aim{r}", aim_interpreter))
            if args.sustained_points:
                res["noop_long"].append(bench_noop(args.sustained_points)[0])
                long = bench_labline(args.sustained_points, tmp / f"long{r}")
                res["lab_long"].append(long[0])

    noop_rate, lab_rate = n / med(res["noop_wall"]), n / med(res["lab_wall"])
    durable_rate, floor_rate = n / med(res["lab_durable"]), n / med(res["floor"])
    cpu_ratio = med(res["noop_cpu"]) / med(res["lab_cpu"])
    print(f"python {sys.version.split()[0]}; {n:,} points per run; {args.repeats} repeats, medians")
    print()
    print("caller cost (calls/s in the training loop)")
    print(f"  no-op method, same 3 arguments   : {noop_rate:12,.0f} calls/s")
    print(f"  labline run.log_metric           : {lab_rate:12,.0f} calls/s")
    print(f"  labline / no-op                  : {lab_rate / noop_rate:12.2f} x   (target >= 0.30)")
    print(f"  labline / no-op, thread CPU time : {cpu_ratio:12.2f} x")
    if args.sustained_points:
        long_ratio = med(res["noop_long"]) / med(res["lab_long"])
        print(
            f"  labline / no-op, sustained       : {long_ratio:12.2f} x"
            f"   ({args.sustained_points:,} calls; the writer runs meanwhile)"
        )
    print()
    print("durable ingest (points/s until committed to SQLite)")
    print(
        f"  labline log_metric + end()       : {durable_rate:12,.0f} points/s"
        f"  ({med(res['lab_durable']):.3f} s)"
    )
    print(
        f"  raw sqlite3.executemany (floor)  : {floor_rate:12,.0f} rows/s"
        f"    ({med(res['floor']):.3f} s)"
    )
    print(
        f"  labline / floor                  : {durable_rate / floor_rate:12.2f} x   (target >= 3)"
    )
    if no_mlflow:
        print(f"  mlflow log_batch                 : skipped, {no_mlflow}")
    else:
        ml_rate = args.mlflow_points / med(res["mlflow"])
        print(
            f"  mlflow log_batch (sqlite)        : {ml_rate:12,.0f} points/s"
            f"  ({args.mlflow_points:,} points)"
        )
        print(f"  labline / mlflow log_batch       : {durable_rate / ml_rate:12,.0f} x")
    if no_aim:
        print(f"  aim Run.track                    : skipped, {no_aim}")
    else:
        aim_rate = args.aim_points / med(res["aim"])
        print(
            f"  aim Run.track + close()          : {aim_rate:12,.0f} points/s"
            f"  ({args.aim_points:,} points)"
        )
        print(f"  labline / aim Run.track          : {durable_rate / aim_rate:12,.0f} x")
    print()
    print(
        f"labline log_metric_series, 10k per call: {n / med(res['series']):12,.0f} points/s"
        f"  ({med(res['series']):.3f} s, durable)"
    )
    print(f"read back the {n:,}-point series     : {med(res['lab_read']) * 1000:9.1f} ms")


if __name__ == "__main__":
    main()
