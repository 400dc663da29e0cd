"""The MLflow client against ``labline server`` and against ``mlflow server`` (SQLite), same
machine, same run: log_batch throughput under concurrent clients, and search_runs latency over
10,000 runs.

Run: .venv/bin/python benchmarks/bench_mlflow_api.py [--clients 20] [--procs 4] [--seconds 10]
     [--rounds 3] [--runs 10000] [--searches 31] [--workers 1]
     (about 5 minutes on a shared 2-core machine; ``--runs 1000 --seconds 3 --rounds 1`` for a
     quick look)

* Both servers run as their own CLIs (``labline server``; ``mlflow server`` of the full mlflow
  package from ``.venvs/mlflow-ui``, made by ``BENCH_PEERS=1 bash scripts/setup.sh``, at the
  version of the shared venv's mlflow-skinny), SQLite backend stores, on free ports of
  127.0.0.1 with the same number of workers, no authentication and no access log (MLflow's
  job runner for GenAI scoring jobs, which no tracking call uses, is switched off).
* Both stores are seeded before the servers start, directly and alike (bench_search.py's
  code): labline through its own tables, MLflow by bulk inserts into the schema its
  ``SqlAlchemyStore`` makes. Through the MLflow client, 10,000 runs take hours.
* log_batch: ``--clients`` concurrent ``MlflowClient`` instances (threads spread over
  ``--procs`` client processes started once, to keep the client side off one GIL), each
  logging batches of 10 metrics to a run of its own for ``--seconds``; requests per second
  summed. Rounds alternate labline / MLflow; medians quoted; the target is at least 3x
  MLflow's requests per second.
* search_runs: the client's ``search_runs(filter, order_by metrics.accuracy DESC,
  max_results=50)`` over ``--runs`` runs (50 params, 20 metrics, a tag), one call on each
  server in turn; p50 and p95 wall time quoted (target: p50 under 100 ms); both must return
  the same 50 runs in the same order.
* Beside every wall-clock figure, the server's CPU time per request (its processes, read from
  /proc): on a machine other jobs load, wall time is mostly waiting for a core, CPU time is
  what a request costs.
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
    """``mlflow`` of the full package (its server's dependencies), in the venv that
    ``BENCH_PEERS=1 bash scripts/setup.sh`` makes; the shared venv's mlflow-skinny otherwise."""
    peer = ROOT / ".venvs" / "mlflow-ui" / "bin" / "mlflow"
    if peer.exists():
        return [str(peer)]
    here = Path(sys.executable).with_name("mlflow")
    return [str(here)] if here.exists() else [sys.executable, "-m", "mlflow"]


class Served:
    """A server process started by this script: its URL and its CPU time so far."""

    def __init__(self, url: str, proc: subprocess.Popen[bytes]) -> None:
        self.url = url
        self.proc = proc

    def cpu_seconds(self) -> float:
        """User + system CPU seconds of the server and its child processes (Linux /proc):
        what a request costs the server, whatever else loads the machine."""
        tick = os.sysconf("SC_CLK_TCK")
        total, stack = 0.0, [self.proc.pid]
        while stack:
            pid = stack.pop()
            try:
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(stat[11]) + int(stat[12])) / tick  # utime, stime
                for task in Path(f"/proc/{pid}/task").iterdir():
                    stack += [int(c) for c in (task / "children").read_text().split()]
            except (FileNotFoundError, ProcessLookupError):
                continue
        return total


@contextmanager
def serving(cmd: list[str], env: dict[str, str], url: str, log: Path) -> Iterator[Served]:
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
            yield Served(url, proc)
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
        "--log-level",
        "warning",
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
        "--uvicorn-opts",
        "--no-access-log",  # as labline server by default: no line per request
    ]
    # its job runner (GenAI scoring jobs, a pool of worker processes) serves no tracking call
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    return serving(cmd, env, f"http://127.0.0.1:{port}", log)


# -- log_batch --------------------------------------------------------------------------------
def _log_batch_round(url: str, run_ids: list[str], seconds: float) -> tuple[int, int]:
    """One thread per run id logging batches of 10 metrics for ``seconds``: (calls, errors)."""
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
    return sum(counts), sum(errors)


def _client_process(jobs: mp.Queue, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """A process of MLflow clients, kept for every round (mlflow is imported once): each job
    ``(url, run ids, seconds)`` is one :func:`_log_batch_round`."""
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    import mlflow  # noqa: F401 - imported once, before the first round

    out.put("ready")
    while (job := jobs.get()) is not None:
        out.put(_log_batch_round(*job))


class ClientPool:
    """``procs`` processes sharing ``clients`` concurrent MlflowClients (threads spread over
    processes keep the client side off one GIL), started once for every round."""

    def __init__(self, clients: int, procs: int) -> None:
        ctx = mp.get_context("spawn")
        self.clients = clients
        self.procs = min(procs, clients)
        self.jobs = [ctx.Queue() for _ in range(self.procs)]
        self.out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
        self.workers = [
            ctx.Process(target=_client_process, args=(q, self.out), daemon=True) for q in self.jobs
        ]
        for w in self.workers:
            w.start()
        for _ in self.workers:
            self.out.get(timeout=300)

    def rate(self, server: Served, seconds: float) -> tuple[float, int, float]:
        """Requests per second, errors, and server CPU milliseconds per request of one round
        of log_batch calls against ``server`` (each client logs to a run of its own)."""
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=server.url)
        exp = client.create_experiment(f"bench-log-batch-{time.time_ns()}")
        run_ids = [client.create_run(exp).info.run_id for _ in range(self.clients)]
        cpu0 = server.cpu_seconds()
        for i, q in enumerate(self.jobs):
            q.put((server.url, run_ids[i :: self.procs], seconds))
        results = [self.out.get(timeout=seconds + 300) for _ in self.jobs]
        cpu = server.cpu_seconds() - cpu0
        done = sum(r[0] for r in results)
        return done / seconds, sum(r[1] for r in results), 1000 * cpu / max(done, 1)

    def close(self) -> None:
        for q in self.jobs:
            q.put(None)
        for w in self.workers:
            w.join(30)


# -- search_runs ------------------------------------------------------------------------------
def search_times(
    servers: dict[str, Served], repeats: int
) -> dict[str, tuple[float, float, float, list[str]]]:
    """Per server: p50 and p95 wall milliseconds of the client's search_runs, the median server
    CPU milliseconds per call, and the run names found (calls interleaved)."""
    from mlflow import MlflowClient

    clients = {k: MlflowClient(tracking_uri=s.url) for k, s in servers.items()}
    exp = {k: c.get_experiment_by_name("bench-search").experiment_id for k, c in clients.items()}

    def query(k: str) -> list[str]:
        runs = clients[k].search_runs(
            [exp[k]], bench_search.Q1_MLFLOW, order_by=bench_search.ORDER, max_results=50
        )
        return [r.info.run_name for r in runs]

    results = {k: query(k) for k in clients}  # warm-up, and the result compared
    wall: dict[str, list[float]] = {k: [] for k in clients}
    cpu: dict[str, list[float]] = {k: [] for k in clients}
    for _ in range(repeats):
        for k in clients:
            c0 = servers[k].cpu_seconds()
            t0 = time.perf_counter()
            query(k)
            wall[k].append((time.perf_counter() - t0) * 1000)
            cpu[k].append((servers[k].cpu_seconds() - c0) * 1000)
    return {
        k: (
            statistics.median(wall[k]),
            statistics.quantiles(wall[k], n=20)[-1],
            statistics.median(cpu[k]),
            results[k],
        )
        for k in clients
    }


def _load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


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
    started = time.perf_counter()
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
        print(f"seeded in {time.perf_counter() - started:.0f} s")
        rates: dict[str, list[float]] = {"labline": [], "MLflow": []}
        costs: dict[str, list[float]] = {"labline": [], "MLflow": []}
        errors = {"labline": 0, "MLflow": 0}
        pool = ClientPool(args.clients, args.procs)
        with (
            labline_server(home, args.workers, tmp / "labline.log") as lab_server,
            mlflow_server(db, tmp / "artifacts", args.workers, tmp / "mlflow.log") as ml_server,
        ):
            servers = {"labline": lab_server, "MLflow": ml_server}
            print(f"servers up ({time.perf_counter() - started:.0f} s); {_load()}")
            print(
                f"\nlog_batch of 10 metrics, {args.clients} concurrent MlflowClients "
                f"({pool.procs} processes), {args.seconds:g} s per round, {args.workers} "
                "server worker(s) each"
            )
            for r in range(args.rounds):
                for name in ["labline", "MLflow"] if r % 2 == 0 else ["MLflow", "labline"]:
                    rate, errs, ms = pool.rate(servers[name], args.seconds)
                    rates[name].append(rate)
                    costs[name].append(ms)
                    errors[name] += errs
                    print(
                        f"  round {r + 1} {name:8s} {rate:8.1f} req/s ({errs} errors), "
                        f"server CPU {ms:6.2f} ms per request"
                    )
            pool.close()
            lab_rate = statistics.median(rates["labline"])
            ml_rate = statistics.median(rates["MLflow"])
            ratio = lab_rate / ml_rate
            lab_cpu, ml_cpu = (
                statistics.median(costs["labline"]),
                statistics.median(costs["MLflow"]),
            )
            print(
                f"  median: labline {lab_rate:.1f} req/s, MLflow {ml_rate:.1f} req/s: "
                f"{ratio:.2f}x ({'meets' if ratio >= TARGET_RATIO else 'BELOW'} the "
                f"{TARGET_RATIO:g}x target); errors labline {errors['labline']}, "
                f"MLflow {errors['MLflow']}"
            )
            print(
                f"  server CPU per request: labline {lab_cpu:.2f} ms, MLflow {ml_cpu:.2f} ms "
                f"({ml_cpu / lab_cpu:.2f}x less for labline); {_load()}"
            )

            print(
                f"\nsearch_runs over {args.runs} runs: {bench_search.Q1_MLFLOW}\n"
                f"   order by metrics.accuracy DESC, max_results 50; {args.searches} calls each, "
                "interleaved"
            )
            found = search_times(servers, args.searches)
            same = found["labline"][3] == found["MLflow"][3]
            for name, (ms, p95, cpu_ms, runs) in found.items():
                verdict = (
                    f"  {'under' if ms < TARGET_MS else 'OVER'} the {TARGET_MS:.0f} ms target"
                    if name == "labline"
                    else ""
                )
                print(
                    f"  {name:8s} p50 {ms:7.1f} ms, p95 {p95:7.1f} ms wall; server CPU "
                    f"{cpu_ms:6.1f} ms per call ({len(runs)} runs){verdict}"
                )
            (ml_ms, _, ml_cpu, _), (lab_ms, _, lab_cpu, _) = found["MLflow"], found["labline"]
            print(
                f"  MLflow / labline: p50 {ml_ms / lab_ms:.2f}x, server CPU {ml_cpu / lab_cpu:.2f}x; "
                f"{'same runs, same order' if same else 'DIFFERENT RESULTS'}; {_load()}"
            )
        print(f"\ntotal {time.perf_counter() - started:.0f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
