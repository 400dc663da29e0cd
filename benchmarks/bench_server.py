"""Run search over HTTP: the first page of a filtered, metric-ordered search through a real
``labline server`` (uvicorn on 127.0.0.1, bearer token), beside the same query in-process.

Run: .venv/bin/python benchmarks/bench_server.py [--runs N] [--steps S] [--repeats R]
     [--workers W] [--postgres] [--cache DIR]

Data: bench_search.py's generator (N runs, 10,000 by default, with 50 params, 20 metrics and a
``stage`` tag), seeded straight into the store's tables as bench_search.py does. Search reads
the metric summaries, not the series, so S (points per metric) is small by default.

Measured, interleaved, R rounds, medians and p95 quoted:
  in-process  client.search_runs(...)            the floor: the same store (SQL), no HTTP
  HTTP        GET /api/v1/runs?...  (keep-alive)  what the web UI or any HTTP client waits for
  HTTP store  client.search_runs(...) with LABLINE_URI=http://...  (the HTTP store's
              POST /api/v1/runs/search): what a remote Python user or the CLI waits for
The query is bench_search.py's Q2 (``params.lr > 0.01 and metrics.accuracy >= 0.9 and
tags.stage = 'final' and status = 'finished'``, order by accuracy, 50 per page); both answers
are checked to be the same runs in the same order. Target: over HTTP, the first page's p95
is under 150 ms (both HTTP contenders are held to it).

``--quick``: 15 rounds instead of 41 and 5 points per metric (a few minutes with the seeding;
``--cache DIR`` keeps the seeded store for the next run).

``--workers W`` (W > 1) also starts a server with W uvicorn workers and sends the same query
from 8 threads at once to both servers: the answers must match and the throughput of W
workers is printed beside one worker's (a sanity check: more workers, no worse).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

import labline

sys.path.insert(0, str(Path(__file__).parent))
from bench_search import (
    ORDER,
    Q2,
    _engine_of,
    analyze,
    fast_sqlite_writes,
    pg_schema,
    seed_labline,
)

TARGET_P95_MS = 150.0
PAGE = 50
SRC = str(Path(__file__).resolve().parents[1] / "src")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(store: str, artifacts: str, workers: int) -> Iterator[tuple[str, int]]:
    """``labline server`` on a free port (its URL and process id), stopped on exit."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABLINE_")}
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    command = [sys.executable, "-m", "labline", "server", "--port", str(port), "--store", store]
    proc = subprocess.Popen(
        [*command, "--artifacts", artifacts, "--workers", str(workers), "--log-level", "warning"],
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit("labline server did not start")
            time.sleep(0.2)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def in_process(client: labline.Client) -> Callable[[], list[str]]:
    def query() -> list[str]:
        page = client.search_runs("bench-search", filter=Q2, order_by=ORDER, limit=PAGE)
        return [r.id for r in page]

    return query


def over_http(http: httpx.Client) -> Callable[[], list[str]]:
    params = {"experiment": "bench-search", "filter": Q2, "order_by": ORDER, "limit": PAGE}

    def query() -> list[str]:
        r = http.get("/api/v1/runs", params=params)
        r.raise_for_status()
        return [run["id"] for run in r.json()["runs"]]

    return query


def over_http_store(url: str, token: str) -> tuple[Callable[[], list[str]], labline.Client]:
    """The same query through the HTTP store (``LABLINE_URI=url``), and its client."""
    home = Path(tempfile.mkdtemp(prefix="bench-server-remote-"))
    remote = labline.Client(labline.Settings(home, url, str(home / "blobs"), token=token))

    def query() -> list[str]:
        page = remote.search_runs("bench-search", filter=Q2, order_by=ORDER, limit=PAGE)
        return [r.id for r in page]

    return query, remote


def interleaved(
    contenders: dict[str, Callable[[], list[str]]], repeats: int, server_pid: int
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Milliseconds of each call, contenders round-robin, after two warm-up calls each; and
    the mean CPU milliseconds per call (this process's, plus the server's for HTTP): the cost
    of a query whatever the machine's load, which stretches wall-clock time."""
    for f in contenders.values():
        f()
        f()
    times: dict[str, list[float]] = {k: [] for k in contenders}
    cpu: dict[str, float] = {k: 0.0 for k in contenders}
    for _ in range(repeats):
        for name, f in contenders.items():
            s0, c0, t0 = cpu_seconds(server_pid), time.process_time(), time.perf_counter()
            f()
            times[name].append((time.perf_counter() - t0) * 1000)
            used = time.process_time() - c0
            if name != "in-process":
                used += cpu_seconds(server_pid) - s0
            cpu[name] += used * 1000 / repeats
    return times, cpu


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def burst(url: str, token: str, threads: int, per_thread: int) -> tuple[float, list[str]]:
    """Requests per second of ``threads`` threads each sending ``per_thread`` searches."""
    answers: list[list[str]] = []
    lock = threading.Lock()

    failures: list[BaseException] = []

    def worker() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        try:
            with httpx.Client(base_url=url, headers=headers, timeout=600) as http:
                q = over_http(http)
                for _ in range(per_thread):
                    got = q()
                    with lock:
                        answers.append(got)
        except BaseException as e:  # reported below, not lost in the thread
            failures.append(e)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    t0 = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    took = time.perf_counter() - t0
    if failures:
        raise RuntimeError(f"{len(failures)} of {threads} threads failed: {failures[0]!r}")
    first = answers[0]
    assert all(a == first for a in answers), "answers differ between requests"
    return threads * per_thread / took, first


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument(
        "--steps", type=int, default=20, help="points per metric (search reads summaries)"
    )
    ap.add_argument("--repeats", type=int, default=41)
    ap.add_argument("--workers", type=int, default=1, help="also check a server with W workers")
    ap.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    ap.add_argument("--cache", type=Path, help="keep the seeded SQLite store here and reuse it")
    ap.add_argument("--quick", action="store_true", help="15 rounds, 5 points per metric")
    args = ap.parse_args()
    if args.quick:
        args.repeats, args.steps = min(args.repeats, 15), min(args.steps, 5)

    tmp = Path(tempfile.mkdtemp(prefix="bench-server-"))
    cache = args.cache or tmp
    cache.mkdir(parents=True, exist_ok=True)
    tag = hashlib.sha256(f"{args.runs}/{args.steps}/server-v1".encode()).hexdigest()[:8]
    with pg_schema() if args.postgres else _no_pg() as pg_url:
        if args.postgres and pg_url is None:
            sys.exit("PostgreSQL is not reachable")
        if pg_url:
            settings = labline.Settings(tmp / "pg", pg_url, str(tmp / "pg" / "blobs"))
            reuse = False
        else:
            home = cache / f"labline-{tag}"
            settings = labline.Settings.local(home)
            reuse = (home / "done").exists()
        client = labline.Client(settings)
        backend = "PostgreSQL" if pg_url else "SQLite"
        if reuse:
            print(f"reusing the seeded store in {settings.home}")
        else:
            engine = _engine_of(client)
            if not pg_url:
                fast_sqlite_writes(engine)
            took = seed_labline(client, args.runs, args.steps, backend)
            analyze(engine)
            print(f"{backend}: {args.runs} runs seeded in {took:.0f} s")
            if not pg_url:
                (settings.home / "done").touch()
        token = client.create_token(f"bench-{os.getpid()}", "viewer").secret
        try:
            with server(settings.uri, settings.artifact_uri, 1) as (url, pid):
                headers = {"Authorization": f"Bearer {token}"}
                remote_query, remote = over_http_store(url, token)
                with httpx.Client(base_url=url, headers=headers, timeout=60) as http, remote:
                    contenders = {
                        "in-process": in_process(client),
                        "HTTP": over_http(http),
                        "HTTP store": remote_query,
                    }
                    answers = {k: f() for k, f in contenders.items()}
                    same = len(answers["HTTP"]) > 0 and all(
                        a == answers["in-process"] for a in answers.values()
                    )
                    print(
                        f"\n{args.runs} runs on {backend}; first page of {PAGE}: {Q2}\n"
                        f"  order by {ORDER[0]}; {len(answers['HTTP'])} runs, "
                        f"{'the same runs in the same order' if same else 'DIFFERENT ANSWERS'}"
                    )
                    print(
                        f"  {args.repeats} interleaved rounds; load average "
                        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
                    )
                    times, cpu = interleaved(contenders, args.repeats, pid)
                floor = times["in-process"]
                for name, ms in times.items():
                    verdict = ""
                    if name != "in-process":
                        ok = p95(ms) < TARGET_P95_MS
                        verdict = (
                            f"  p95/in-process p95 = {p95(ms) / p95(floor):.2f}x; "
                            f"{'under' if ok else 'OVER'} the {TARGET_P95_MS:.0f} ms p95 target"
                        )
                    print(
                        f"  {name:10s} median {statistics.median(ms):7.1f} ms  "
                        f"p95 {p95(ms):7.1f} ms  cpu {cpu[name]:6.1f} ms/query{verdict}"
                    )
                print(
                    f"  CPU per query (client + server), HTTP/in-process = "
                    f"{cpu['HTTP'] / cpu['in-process']:.2f}x, HTTP store/in-process = "
                    f"{cpu['HTTP store'] / cpu['in-process']:.2f}x: the HTTP layer's own cost"
                )
                if args.workers > 1:
                    one, answer_one = burst(
                        url, token, threads=8, per_thread=max(3, args.repeats // 4)
                    )
            if args.workers > 1:
                with server(settings.uri, settings.artifact_uri, args.workers) as (url_n, _):
                    many, answer_n = burst(
                        url_n, token, threads=8, per_thread=max(3, args.repeats // 4)
                    )
                print(
                    f"\n  8 threads at once: 1 worker {one:6.1f} req/s, {args.workers} workers "
                    f"{many:6.1f} req/s ({many / one:.2f}x); "
                    f"{'same answers' if answer_one == answer_n else 'DIFFERENT ANSWERS'}"
                )
        finally:
            client.revoke_token(f"bench-{os.getpid()}")
            client.close()


@contextmanager
def _no_pg() -> Iterator[None]:
    yield None


if __name__ == "__main__":
    main()
