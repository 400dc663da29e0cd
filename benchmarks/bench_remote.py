"""Remote metric ingest: labline's Python client to a local ``labline server`` beside MLflow's
own ``mlflow server`` fed by ``MlflowClient.log_batch``, and 20 concurrent loggers.

Run: .venv/bin/python benchmarks/bench_remote.py [--points N] [--repeats R] [--loggers 20]

Both servers run on 127.0.0.1 on SQLite, started by this script, measured in one run,
interleaved (one of each per repeat), medians quoted:

  * labline: ``run.log_metric(key, value)`` N times, then ``run.end()``: the clock stops when
    every point is durable on the server (sent by the background writer as LZ4-compressed Arrow
    batches). Target (issue 10): at least 500,000 points/s.
  * MLflow: ``MlflowClient.log_batch`` with 1,000 metrics per call (its limit) to ``mlflow
    server --backend-store-uri sqlite:///...``, on fewer points (rates are per second; the
    point counts are printed). The full ``mlflow`` is taken from ``.venvs/mlflow-ui`` when
    ``BENCH_PEERS=1 scripts/setup.sh`` installed it, else from this venv.

Then ``--loggers`` client processes log at once to one labline server; each times every
request its writer sends. Printed: total points/s and the p50/p99 request latency.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

import labline

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def start_labline(home: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    with labline.Client(labline.Settings.local(home)) as c:
        token = c.create_token("bench", "researcher").secret
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "labline", "server", "--port", str(port),
         "--store", f"sqlite:///{home / 'labline.db'}", "--artifacts", str(home / "blobs"),
         "--log-level", "warning"],
        env={**os.environ, "LABLINE_HOME": str(home)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_up(f"{url}/api/v1/health", proc)
    return proc, url, token


def mlflow_executable() -> str | None:
    peer = ROOT / ".venvs" / "mlflow-ui" / "bin" / "mlflow"
    if peer.exists():
        return str(peer)
    return shutil.which("mlflow", path=str(Path(sys.executable).parent))


def start_mlflow(home: Path) -> tuple[subprocess.Popen[bytes], str] | None:
    exe = mlflow_executable()
    if exe is None:
        return None
    port = free_port()
    proc = subprocess.Popen(
        [exe, "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}",
         "--default-artifact-root", str(home / "artifacts"), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(f"{url}/health", proc, timeout=180)
    except RuntimeError as e:
        print(f"mlflow server unavailable: {e}")
        proc.kill()
        return None
    return proc, url


def bench_labline(url: str, token: str, n: int, home: Path) -> float:
    """Points/s until every point is durable on the server."""
    settings = labline.Settings(home=home, uri=url, artifact_uri=str(home / "x"), token=token)
    client = labline.Client(settings)
    run = client.start_run("bench", capture_env=False)
    log = run.log_metric
    t0 = time.perf_counter()
    for _ in range(n):
        log("loss", 0.5)
    run.end()
    elapsed = time.perf_counter() - t0
    assert client.get_run(run.id).metrics["loss"].count == n
    client.close()
    return n / elapsed


def bench_mlflow(url: str, n: int) -> float:
    """Points/s of MlflowClient.log_batch, 1,000 metrics per call."""
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=url)
    exp = client.get_experiment_by_name("bench")
    exp_id = exp.experiment_id if exp else client.create_experiment("bench")
    run_id = client.create_run(exp_id).info.run_id
    now = int(time.time() * 1000)
    t0 = time.perf_counter()
    for start in range(0, n, 1000):
        batch = [Metric("loss", 0.5, now, i) for i in range(start, min(n, start + 1000))]
        client.log_batch(run_id, metrics=batch)
    elapsed = time.perf_counter() - t0
    client.set_terminated(run_id)
    return n / elapsed


_LOGGER = textwrap.dedent(
    """
    import json, sys, time, labline
    n = int(sys.argv[1])
    client = labline.Client()
    times = []
    request = client.store.http.request
    def timed(method, path, **kw):
        t0 = time.perf_counter()
        try:
            return request(method, path, **kw)
        finally:
            times.append(time.perf_counter() - t0)
    client.store.http.request = timed
    run = client.start_run("crowd", capture_env=False, flush_interval=0.2)
    for i in range(n):
        run.log_metric("loss", i * 1e-6)
    run.end()
    print(json.dumps(times))
    """
)


def bench_loggers(
    url: str, token: str, loggers: int, n: int, home: Path
) -> tuple[float, list[float]]:
    env = {**os.environ, "LABLINE_URI": url, "LABLINE_TOKEN": token}
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _LOGGER, str(n)],
            env={**env, "LABLINE_HOME": str(home / f"l{i}")},
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(loggers)
    ]
    latencies: list[float] = []
    for p in procs:
        out, _ = p.communicate(timeout=1800)
        if p.returncode != 0:
            raise RuntimeError("a logger failed")
        latencies.extend(json.loads(out.strip().splitlines()[-1]))
    return loggers * n / (time.perf_counter() - t0), latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=2_000_000)
    parser.add_argument("--mlflow-points", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loggers", type=int, default=20)
    parser.add_argument("--logger-points", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        server, url, token = start_labline(home / "server")
        mlflow = start_mlflow(home / "mlflow")
        try:
            ours, theirs = [], []
            for r in range(args.repeats):
                ours.append(bench_labline(url, token, args.points, home / f"c{r}"))
                if mlflow is not None:
                    theirs.append(bench_mlflow(mlflow[1], args.mlflow_points))
            med = statistics.median(ours)
            print(f"labline remote ingest: {med:,.0f} points/s (median of {args.repeats}, "
                  f"{args.points:,} points per run; target >= 500,000)")  # fmt: skip
            if theirs:
                peer = statistics.median(theirs)
                print(f"mlflow server log_batch: {peer:,.0f} points/s "
                      f"({args.mlflow_points:,} points per run)")  # fmt: skip
                print(f"ratio labline / mlflow: {med / peer:,.1f}x")
            else:
                print("mlflow server: not available (BENCH_PEERS=1 scripts/setup.sh installs it)")
            rate, lat = bench_loggers(url, token, args.loggers, args.logger_points, home)
            lat.sort()
            p50 = lat[len(lat) // 2] * 1000
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
            print(f"{args.loggers} concurrent loggers: {rate:,.0f} points/s in total; "
                  f"request latency p50 {p50:.1f} ms, p99 {p99:.1f} ms ({len(lat)} requests)")  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=30)
            if mlflow is not None:
                mlflow[0].terminate()
                mlflow[0].wait(timeout=30)


if __name__ == "__main__":
    main()
