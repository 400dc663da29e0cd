"""Serving throughput and latency: ``labline serve`` vs a minimal FastAPI endpoint vs MLflow.

Run: ``.venv/bin/python benchmarks/bench_serving.py`` (loopback only, about 90 seconds).

The same scikit-learn model (LogisticRegression on scikit-learn's digits data) is served by
(a) ``labline serve PACKAGE`` (one uvicorn worker, micro-batching),
(b) the floor: a minimal FastAPI endpoint that parses the same JSON and calls
    ``predict`` and ``predict_proba`` directly (one uvicorn worker, ``async def``),
(c) ``mlflow models serve --env-manager local`` when mlflow is installed (it answers
    ``predict`` only, no probabilities).
All servers run at once (idle ones cost nothing) and are driven by the same load generator
(``wrk`` when installed, else a raw-socket asyncio client) at concurrency 1, 8 and 64, one row
per request, in interleaved rounds so that a noisy machine disturbs all of them alike. Every
figure is the median over the rounds. The load generator and the servers share this machine's
cores, so the generator takes CPU from the server at high concurrency.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

CONCURRENCY = (1, 8, 64)
REPS = 3
REPS_C64 = 5  # tail latency is the noisiest figure on a shared machine
SECONDS = 2
# wrk (C) when installed, else the Python generator; BENCH_NO_WRK=1 forces the latter.
USE_WRK = shutil.which("wrk") is not None and not os.environ.get("BENCH_NO_WRK")

FLOOR_APP = """
import pickle, sys
import numpy as np
import uvicorn
from fastapi import FastAPI, Request

with open(sys.argv[1], "rb") as f:
    est = pickle.load(f)
app = FastAPI()

@app.post("/predict")
async def predict(request: Request):
    records = await request.json()
    x = np.asarray([r["input"] for r in records], dtype=np.float64)
    return {"predictions": est.predict(x).tolist(), "probabilities": est.predict_proba(x).tolist()}

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
"""

WRK_LUA = """
wrk.method = os.getenv("BENCH_METHOD")
if wrk.method == "POST" then
  wrk.headers["Content-Type"] = "application/json"
  local f = io.open(os.getenv("BENCH_BODY"), "rb"); wrk.body = f:read("*a"); f:close()
end
done = function(summary, latency, requests)
  io.write(string.format("BENCH %d %d %d %f %f %d\\n", summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), summary.duration))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not come up")


def post(url: str, body: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, json.loads(r.read()), dict(r.headers)


# ----------------------------------------------------------------------------- load generators


def run_wrk(
    url: str, body_file: Path, lua: Path, conns: int, seconds: float, method: str
) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s", "-s", str(lua), url],
        capture_output=True,
        text=True,
        env={**os.environ, "BENCH_BODY": str(body_file), "BENCH_METHOD": method},
        check=True,
    ).stdout
    m = re.search(r"^BENCH (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+) (\d+)$", out, re.M)
    if not m:
        raise RuntimeError(f"cannot parse wrk output: {out[-500:]}")
    n, bad_status, sock_err, p50, p99, dur_us = m.groups()
    return {
        "rps": int(n) / (int(dur_us) / 1e6),
        "p50_ms": float(p50) / 1000,
        "p99_ms": float(p99) / 1000,
        "errors": int(bad_status) + int(sock_err),
    }


async def _py_load(
    host: str, port: int, path: str, body: bytes, conns: int, seconds: float
) -> dict[str, float]:
    if body:
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
    else:
        request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - t0)
                if status != 200:
                    errors += 1
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(conns)])
    elapsed = time.perf_counter() - t0
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "errors": errors,
    }


def measure_once(url: str, body: bytes, tmp: Path, conns: int) -> dict[str, float]:
    """One run of the load generator against ``url`` (POST ``body``, or GET if it is empty)."""
    body_file = tmp / f"body-{len(body)}-{abs(hash(body))}.json"
    body_file.write_bytes(body)
    if USE_WRK:
        lua = tmp / "post.lua"
        lua.write_text(WRK_LUA)
        return run_wrk(url, body_file, lua, conns, SECONDS, "POST" if body else "GET")
    m = re.match(r"http://([^:/]+):(\d+)(/.*)", url)
    assert m
    return asyncio.run(_py_load(m[1], int(m[2]), m[3], body, conns, SECONDS))


# ----------------------------------------------------------------------------------- servers


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def batch_counters(metrics_url: str) -> tuple[float, float]:
    """(model calls, rows) so far, from labline's /metrics."""
    text = urllib.request.urlopen(metrics_url).read().decode()
    found = {}
    for key in ("count", "sum"):
        m = re.search(rf"^labline_serving_batch_size_{key} (\S+)$", text, re.M)
        found[key] = float(m[1]) if m else 0.0
    return found["count"], found["sum"]


class Target:
    """A running server and the request it is measured with."""

    def __init__(
        self,
        name: str,
        url: str,
        body: bytes,
        metrics: str | None,
        concurrency: tuple[int, ...] = CONCURRENCY,
    ) -> None:
        self.name, self.url, self.body, self.metrics = name, url, body, metrics
        self.concurrency = concurrency
        self.runs: dict[int, list[dict[str, float]]] = {c: [] for c in CONCURRENCY}
        self.batch_calls = 0.0
        self.batch_rows = 0.0

    def run(self, tmp: Path, conns: int) -> None:
        before = batch_counters(self.metrics) if self.metrics and conns == 64 else None
        self.runs[conns].append(measure_once(self.url, self.body, tmp, conns))
        if before is not None and self.metrics:
            calls, rows = batch_counters(self.metrics)
            self.batch_calls += calls - before[0]
            self.batch_rows += rows - before[1]

    def summary(self, conns: int) -> dict[str, float]:
        runs = self.runs[conns]
        out = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50_ms", "p99_ms")}
        out["errors"] = sum(r["errors"] for r in runs)
        return out


def main() -> None:
    started = time.perf_counter()
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    from labline.models import write_package

    py = sys.executable
    bin_dir = str(Path(py).parent)
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    est = LogisticRegression(max_iter=1000).fit(X, y)
    row = X[7].tolist()
    expected = int(est.predict(X[7:8])[0])
    load_gen = "wrk (1 thread)" if USE_WRK else "asyncio raw-socket client (no wrk)"
    print(f"model: LogisticRegression on digits (64 features, 10 classes); load: {load_gen}")
    print(
        f"{REPS} rounds ({REPS_C64} at c=64) x {SECONDS}s per point, medians; one row per request; "
        f"cpus={os.cpu_count()}, 1-min load average {os.getloadavg()[0]:.1f}\n"
    )
    targets: list[Target] = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        pkg = tmp / "digits_pkg"
        write_package(est, pkg, name="digits", input_example=X[:5], eval_inputs=X[:200])
        (tmp / "model.pkl").write_bytes(pickle.dumps(est))
        (tmp / "floor.py").write_text(FLOOR_APP)
        labline_body = json.dumps([{"input": row}]).encode()
        mlflow_body = json.dumps({"instances": [row]}).encode()
        try:
            import mlflow.sklearn

            mlflow_ok = shutil.which("mlflow", path=bin_dir) is not None
        except ImportError:
            mlflow_ok = False
        if mlflow_ok:
            mlflow.sklearn.save_model(est, str(tmp / "mlflow_model"))

        port = {name: free_port() for name in ("labline", "floor", "mlflow")}
        url = {name: f"http://127.0.0.1:{p}" for name, p in port.items()}
        # (name, command, readiness URL, request URL, body, metrics URL)
        launches: list[tuple[str, list[str], str, str, bytes, str | None]] = [
            (
                "labline serve",
                [
                    py,
                    "-m",
                    "labline",
                    "serve",
                    str(pkg),
                    "--port",
                    str(port["labline"]),
                    "--log-level",
                    "warning",
                ],
                f"{url['labline']}/v2/health/ready",
                f"{url['labline']}/predict",
                labline_body,
                f"{url['labline']}/metrics",
            ),
            (
                "minimal FastAPI",
                [py, str(tmp / "floor.py"), str(tmp / "model.pkl"), str(port["floor"])],
                f"{url['floor']}/docs",
                f"{url['floor']}/predict",
                labline_body,
                None,
            ),
        ]
        if mlflow_ok:
            launches.append(
                (
                    "mlflow serve",
                    [
                        str(Path(bin_dir) / "mlflow"),
                        "models",
                        "serve",
                        "-m",
                        str(tmp / "mlflow_model"),
                        "--env-manager",
                        "local",
                        "-h",
                        "127.0.0.1",
                        "-p",
                        str(port["mlflow"]),
                    ],
                    f"{url['mlflow']}/ping",
                    f"{url['mlflow']}/invocations",
                    mlflow_body,
                    None,
                )
            )
        else:
            print("  mlflow serve: skipped (mlflow is not installed)\n")
        env = {
            **os.environ,
            "LABLINE_HOME": str(tmp / "home"),
            # mlflow serve starts `uvicorn` by name
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        procs: list[subprocess.Popen[bytes]] = []
        try:
            for i, (_, cmd, *_rest) in enumerate(launches):
                # output to a file: a pipe nobody reads would stall a chatty server
                with open(tmp / f"server-{i}.log", "wb") as log:
                    procs.append(
                        subprocess.Popen(
                            cmd,
                            stdout=log,
                            stderr=subprocess.STDOUT,
                            env=env,
                            start_new_session=True,
                        )
                    )
            for i, (name, _, up, req_url, body, metrics) in enumerate(launches):
                try:
                    wait_up(up, procs[i])
                except RuntimeError as e:
                    log_text = (tmp / f"server-{i}.log").read_text()[-800:]
                    raise RuntimeError(f"{name}: {e}\n{log_text}") from None
                status, doc, headers = post(req_url, body)
                assert status == 200 and doc["predictions"] == [expected], (name, doc)
                if name == "labline serve":
                    assert headers["x-labline-model-digest"].startswith("sha256:")
                targets.append(Target(name, req_url, body, metrics))
            # reference: the same labline process answering an endpoint that does nothing
            # (the HTTP stack's ceiling on this machine, and its tail latency)
            targets.append(
                Target("(labline no-op)", f"{url['labline']}/v2/health/live", b"", None, (64,))
            )
            for t in targets:  # warm-up
                measure_once(t.url, t.body, tmp, 64)
            for rnd in range(max(REPS, REPS_C64)):
                for c in CONCURRENCY:
                    if rnd < (REPS_C64 if c == 64 else REPS):
                        for t in targets:
                            if c in t.concurrency:
                                t.run(tmp, c)
        finally:
            for proc in procs:
                stop(proc)

    for t in targets:
        for c in t.concurrency:
            r = t.summary(c)
            extra = ""
            if t.metrics and c == 64 and t.batch_calls:
                extra = f"   mean batch {t.batch_rows / t.batch_calls:.1f} rows"
            print(
                f"  {t.name:<16} c={c:<3} {r['rps']:8.0f} req/s   p50 {r['p50_ms']:6.2f} ms   "
                f"p99 {r['p99_ms']:7.2f} ms   errors {int(r['errors'])}{extra}"
            )
    res = {t.name: {c: t.summary(c) for c in t.concurrency} for t in targets}
    a, b = res["labline serve"], res["minimal FastAPI"]
    print("\nratios (labline / peer), targets in brackets:")
    print(f"  c=1  throughput vs minimal FastAPI: {a[1]['rps'] / b[1]['rps']:.2f}x  [>= 0.90]")
    print(f"  c=8  throughput vs minimal FastAPI: {a[8]['rps'] / b[8]['rps']:.2f}x")
    print(f"  c=64 throughput vs minimal FastAPI: {a[64]['rps'] / b[64]['rps']:.2f}x  [>= 2]")
    if "mlflow serve" in res:
        m = res["mlflow serve"]
        print(f"  c=1  throughput vs mlflow serve:    {a[1]['rps'] / m[1]['rps']:.2f}x")
        print(f"  c=64 throughput vs mlflow serve:    {a[64]['rps'] / m[64]['rps']:.2f}x  [>= 5]")
    noop = res["(labline no-op)"][64]
    print(
        f"  c=64 throughput vs the no-op endpoint of the same server: {a[64]['rps'] / noop['rps']:.2f}x"
    )
    p99s = ", ".join(f"{r['p99_ms']:.0f}" for r in next(t for t in targets if t.metrics).runs[64])
    print(
        f"  c=64 labline p99: {a[64]['p99_ms']:.1f} ms  [< 30 ms]   (runs: {p99s} ms; "
        f"no-op endpoint p99 {noop['p99_ms']:.1f} ms)"
    )
    load = os.getloadavg()[0]
    print(
        f"\n(total {time.perf_counter() - started:.0f} s; 1-min load average at the end {load:.1f})"
    )


if __name__ == "__main__":
    main()
