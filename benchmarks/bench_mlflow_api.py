"""The MLflow client against ``labline server`` and against ``mlflow server`` (SQLite), same
machine, same run: log_batch throughput under concurrent clients, and search_runs latency over
10,000 runs.

Run: .venv/bin/python benchmarks/bench_mlflow_api.py [--clients 20] [--procs 4] [--seconds 10]
     [--rounds 3] [--runs 10000] [--searches 31] [--workers 1]

* Both servers run as their own CLIs (``labline server``, ``mlflow server`` from the installed
  mlflow package, SQLite backend store, proxied artifacts) on free ports of 127.0.0.1 with the
  same number of workers.
* log_batch: ``--clients`` concurrent ``MlflowClient`` instances (threads spread over
  ``--procs`` processes, to keep the client side off one GIL), each logging batches of 10
  metrics to a run of its own for ``--seconds``; requests per second summed. Rounds alternate
  labline / MLflow; medians quoted; the target is at least 3x MLflow's requests per second.
* search_runs: ``--runs`` runs (50 params, 20 metrics, a tag; the data of bench_search.py)
  bulk-loaded into each server's store before it starts, then the client's
  ``search_runs(filter, order_by metrics.accuracy DESC, max_results=50)`` alternately on each;
  p50 quoted (target: under 100 ms); both must return the same 50 runs in the same order.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import bench_search

TARGET_RATIO = 3.0
TARGET_MS = 100.0
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _mlflow_cli() -> list[str]:
    peer = ROOT / ".venvs" / "mlflow" / "bin" / "mlflow"
    if peer.exists():
        return [str(peer)]
    here = Path(sys.executable).with_name("mlflow")
    return [str(here)] if here.exists() else [sys.executable, "-m", "mlflow"]


@contextmanager
def serving(cmd: list[str], env: dict[str, str], url: str, log: Path) -> Iterator[str]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    r = httpx.get(
                        url + "/api/2.0/mlflow/experiments/get?experiment_id=0", timeout=2
                    )
                    if r.status_code < 500:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{cmd[0]} did not start:\n{log.read_text()[-2000:]}")
                time.sleep(0.3)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def labline_server(home: Path, workers: int, log: Path) -> contextmanager:  # type: ignore[type-arg]
    port = free_port()
    env = {**os.environ, "LABLINE_HOME": str(home), "PYTHONPATH": str(ROOT / "src")}
    env.pop("LABLINE_URI", None)
    cmd = [
        sys.executable,
        "-m",
        "labline",
        "server",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    return serving(cmd, env, f"http://127.0.0.1:{port}", log)


def mlflow_server(db: Path, artifacts: Path, workers: int, log: Path) -> contextmanager:  # type: ignore[type-arg]
    port = free_port()
    cmd = [
        *_mlflow_cli(),
        "server",
        "--backend-store-uri",
        f"sqlite:///{db}",
        "--artifacts-destination",
        str(artifacts),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    return serving(cmd, dict(os.environ), f"http://127.0.0.1:{port}", log)


# -- log_batch --------------------------------------------------------------------------------
def _client_process(url: str, run_ids: list[str], seconds: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    counts = [0] * len(run_ids)
    errors = [0] * len(run_ids)
    start = threading.Barrier(len(run_ids))

    def work(i: int) -> None:
        client = MlflowClient(tracking_uri=url)
        start.wait()
        step = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            now = int(time.time() * 1000)
            batch = [Metric(f"m{k}", float(step + k), now, step) for k in range(10)]
            try:
                client.log_batch(run_ids[i], metrics=batch)
                counts[i] += 1
            except Exception:
                errors[i] += 1
            step += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(run_ids))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put((sum(counts), sum(errors)))


def log_batch_rate(url: str, clients: int, procs: int, seconds: float) -> tuple[float, int]:
    """Requests per second (and errors) of ``clients`` concurrent log_batch loops."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=url)
    name = f"bench-log-batch-{time.time_ns()}"
    exp = client.create_experiment(name)
    run_ids = [client.create_run(exp).info.run_id for _ in range(clients)]
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    shares = [run_ids[i::procs] for i in range(procs) if run_ids[i::procs]]
    workers = [ctx.Process(target=_client_process, args=(url, s, seconds, out)) for s in shares]
    for w in workers:
        w.start()
    results = [out.get(timeout=seconds + 300) for _ in workers]
    for w in workers:
        w.join()
    return sum(r[0] for r in results) / seconds, sum(r[1] for r in results)


# -- search_runs ------------------------------------------------------------------------------
def search_times(urls: dict[str, str], repeats: int) -> dict[str, tuple[float, list[str]]]:
    from mlflow import MlflowClient

    clients = {k: MlflowClient(tracking_uri=u) for k, u in urls.items()}
    exp = {k: c.get_experiment_by_name("bench-search").experiment_id for k, c in clients.items()}

    def query(k: str) -> list[str]:
        runs = clients[k].search_runs(
            [exp[k]], bench_search.Q1_MLFLOW, order_by=bench_search.ORDER, max_results=50
        )
        return [r.info.run_name for r in runs]

    results = {k: query(k) for k in clients}  # warm-up, and the result compared
    times: dict[str, list[float]] = {k: [] for k in clients}
    for _ in range(repeats):
        for k in clients:
            t0 = time.perf_counter()
            query(k)
            times[k].append((time.perf_counter() - t0) * 1000)
    return {k: (statistics.median(v), results[k]) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=5, help="points per metric in both stores")
    ap.add_argument("--searches", type=int, default=31)
    ap.add_argument("--workers", type=int, default=1, help="server workers, the same for both")
    args = ap.parse_args()
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)
    tmp = Path(tempfile.mkdtemp(prefix="bench-mlflow-api-"))
    try:
        import labline

        print(f"seeding {args.runs} runs into each store (bulk, the data of bench_search.py)")
        home = tmp / "labline"
        with labline.Client(labline.Settings.local(home)) as lab:
            bench_search.fast_sqlite_writes(bench_search._engine_of(lab))
            bench_search.seed_labline(lab, args.runs, args.steps, "labline")
            bench_search.analyze(bench_search._engine_of(lab))
        db = tmp / "mlflow.db"
        bench_search.seed_mlflow(bench_search.mlflow_store(db), args.runs, args.steps)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        rates: dict[str, list[float]] = {"labline": [], "MLflow": []}
        errors = {"labline": 0, "MLflow": 0}
        with (
            labline_server(home, args.workers, tmp / "labline.log") as lab_url,
            mlflow_server(db, tmp / "artifacts", args.workers, tmp / "mlflow.log") as ml_url,
        ):
            urls = {"labline": lab_url, "MLflow": ml_url}
            print(
                f"\nlog_batch of 10 metrics, {args.clients} concurrent MlflowClients "
                f"({args.procs} processes), {args.seconds:g} s per round, {args.workers} "
                "server worker(s) each"
            )
            for r in range(args.rounds):
                for name in ["labline", "MLflow"] if r % 2 == 0 else ["MLflow", "labline"]:
                    rate, errs = log_batch_rate(urls[name], args.clients, args.procs, args.seconds)
                    rates[name].append(rate)
                    errors[name] += errs
                    print(f"  round {r + 1} {name:8s} {rate:8.1f} req/s ({errs} errors)")
            lab_rate = statistics.median(rates["labline"])
            ml_rate = statistics.median(rates["MLflow"])
            ratio = lab_rate / ml_rate
            print(
                f"  median: labline {lab_rate:.1f} req/s, MLflow {ml_rate:.1f} req/s: "
                f"{ratio:.2f}x ({'meets' if ratio >= TARGET_RATIO else 'BELOW'} the "
                f"{TARGET_RATIO:g}x target); errors labline {errors['labline']}, "
                f"MLflow {errors['MLflow']}"
            )

            print(
                f"\nsearch_runs over {args.runs} runs: {bench_search.Q1_MLFLOW}\n"
                f"   order by metrics.accuracy DESC, max_results 50; {args.searches} calls each"
            )
            found = search_times(urls, args.searches)
            same = found["labline"][1] == found["MLflow"][1]
            for name, (ms, runs) in found.items():
                verdict = (
                    f"  {'under' if ms < TARGET_MS else 'OVER'} the {TARGET_MS:.0f} ms target"
                    if name == "labline"
                    else ""
                )
                print(f"  {name:8s} p50 {ms:8.1f} ms ({len(runs)} runs){verdict}")
            ml_ms, lab_ms = found["MLflow"][0], found["labline"][0]
            print(
                f"  MLflow p50 / labline p50 = {ml_ms / lab_ms:.2f}x; "
                f"{'same runs, same order' if same else 'DIFFERENT RESULTS'}"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
