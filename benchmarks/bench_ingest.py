"""Metric ingest: 1,000,000 points through labline's public API vs the raw floor vs MLflow.

Run: .venv/bin/python benchmarks/bench_ingest.py [--points N] [--repeats R]

Measured in one run on the same machine:
  * labline: ``run.log_metric(key, value, step)`` N times, then ``run.end()`` (so every point is
    durable in SQLite before the clock stops). Also the caller-side cost alone (time spent in the
    training loop), and reading the N-point series back.
  * floor: ``sqlite3.executemany`` of the same points as one row each into a WAL database, one
    transaction (the best a row-per-point design can do).
  * MLflow (``mlflow-skinny``, SQLite backend) ``log_batch`` (1,000 metrics per call, its limit) and
    ``log_metric``, on fewer points (the rate is extrapolated; both are stated).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import labline


def bench_labline(n: int, home: Path) -> tuple[float, float, float]:
    settings = labline.Settings.local(home)
    client = labline.Client(settings)
    run = labline.start_run("bench", client=client, capture_env=False)
    log = run.log_metric
    t0 = time.perf_counter()
    for i in range(n):
        log("loss", 0.5, i)
    t1 = time.perf_counter()
    run.end()
    t2 = time.perf_counter()
    r0 = time.perf_counter()
    series = client.get_metric_series(run.id, "loss")
    r1 = time.perf_counter()
    assert len(series) == n
    client.close()
    return t1 - t0, t2 - t0, r1 - r0


def bench_labline_array(n: int, home: Path) -> float:
    settings = labline.Settings.local(home)
    client = labline.Client(settings)
    run = labline.start_run("bench", client=client, capture_env=False)
    import numpy as np

    values = np.full(n, 0.5)
    t0 = time.perf_counter()
    for start in range(0, n, 10_000):  # e.g. one call per epoch with that epoch's batch losses
        run.log_metric_series("loss", values[start : start + 10_000])
    run.end()
    t1 = time.perf_counter()
    assert len(client.get_metric_series(run.id, "loss")) == n
    client.close()
    return t1 - t0


def bench_floor(n: int, path: Path) -> float:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE m (run_id TEXT, key TEXT, step INTEGER, ts REAL, value REAL)")
    rows = [("r", "loss", i, 1.7e9, 0.5) for i in range(n)]
    t0 = time.perf_counter()
    with conn:
        conn.executemany("INSERT INTO m VALUES (?, ?, ?, ?, ?)", rows)
    t1 = time.perf_counter()
    conn.close()
    return t1 - t0


def bench_mlflow(tmp: Path, n_batch: int, n_single: int) -> tuple[float, float] | None:
    try:
        import logging

        logging.getLogger("alembic").setLevel(logging.WARNING)
        logging.getLogger("mlflow").setLevel(logging.WARNING)
        from mlflow.entities import Metric
        from mlflow.tracking import MlflowClient
    except ImportError:
        return None
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}")
    exp = client.create_experiment("bench", artifact_location=str(tmp / "mlartifacts"))
    run = client.create_run(exp)
    ts = int(time.time() * 1000)
    t0 = time.perf_counter()
    for start in range(0, n_batch, 1000):
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("loss", 0.5, ts, i) for i in range(start, start + 1000)],
        )
    batch_rate = n_batch / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i in range(n_single):
        client.log_metric(run.info.run_id, "single", 0.5, step=i)
    single_rate = n_single / (time.perf_counter() - t0)
    return batch_rate, single_rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--mlflow-batch-points", type=int, default=20_000)
    ap.add_argument("--mlflow-single-points", type=int, default=300)
    args = ap.parse_args()
    n = args.points
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        lab_call, lab_total, lab_read, floor, lab_array = [], [], [], [], []
        for r in range(args.repeats):
            c, t, rd = bench_labline(n, tmp / f"lab{r}")
            lab_call.append(c)
            lab_total.append(t)
            lab_read.append(rd)
            floor.append(bench_floor(n, tmp / f"floor{r}.db"))
            lab_array.append(bench_labline_array(n, tmp / f"arr{r}"))
        ml = (
            None
            if os.environ.get("SKIP_MLFLOW")
            else bench_mlflow(tmp, args.mlflow_batch_points, args.mlflow_single_points)
        )
    med = statistics.median
    lab_rate = n / med(lab_total)
    floor_rate = n / med(floor)
    print(
        f"points per run: {n:,}; repeats: {args.repeats} (medians); python {sys.version.split()[0]}"
    )
    print(
        f"labline log_metric, until durable : {lab_rate:12,.0f} points/s  ({med(lab_total):.3f} s)"
    )
    print(
        f"labline log_metric, caller cost   : {n / med(lab_call):12,.0f} points/s  ({med(lab_call):.3f} s in the training loop)"
    )
    print(f"raw sqlite3.executemany (floor)   : {floor_rate:12,.0f} rows/s    ({med(floor):.3f} s)")
    print(f"labline / floor                   : {lab_rate / floor_rate:12.2f} x")
    print(
        f"labline log_metric_series (arrays): {n / med(lab_array):12,.0f} points/s  ({med(lab_array):.3f} s, 10k points per call)"
    )
    print(f"read back {n:,}-point series       : {med(lab_read) * 1000:12.1f} ms")
    if ml is None:
        why = (
            "SKIP_MLFLOW is set"
            if os.environ.get("SKIP_MLFLOW")
            else "not installed (pip install mlflow-skinny)"
        )
        print(f"mlflow: skipped ({why})")
    else:
        batch_rate, single_rate = ml
        print(
            f"mlflow log_batch (sqlite)         : {batch_rate:12,.0f} points/s  ({args.mlflow_batch_points:,} points)"
        )
        print(
            f"mlflow log_metric (sqlite)        : {single_rate:12,.0f} points/s  ({args.mlflow_single_points:,} points)"
        )
        print(f"labline / mlflow log_batch        : {lab_rate / batch_rate:12.1f} x")


if __name__ == "__main__":
    main()
