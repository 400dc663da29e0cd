"""Serving throughput and latency: ``labline serve`` beside MLServer, a minimal Starlette app
doing the same work, and a hello-world endpoint on the same stack, all in one run.

Run: ``.venv/bin/python benchmarks/bench_serving.py`` (loopback only, about two minutes).
``scripts/setup.sh`` installs wrk (Debian); ``BENCH_PEERS=1 bash scripts/setup.sh`` also installs
MLServer in a venv of its own, ``.mlserver-venv`` (``BENCH_MLSERVER=/path/to/mlserver`` points
elsewhere).

The same scikit-learn model (LogisticRegression on scikit-learn's digits data) is served by
(a) ``labline serve PACKAGE`` (one uvicorn worker, micro-batching), measured on ``POST
    /predict`` (predictions and probabilities) and on V2 ``infer`` (the same document as
    MLServer's);
(b) the floor: a minimal Starlette app on uvicorn that parses the same JSON and calls
    ``predict`` and ``predict_proba`` directly;
(c) MLServer with its scikit-learn runtime and adaptive batching (one worker), asked for
    ``predict`` and ``predict_proba`` through V2 ``infer``;
(d) the ceiling: a hello-world endpoint of a Starlette app on the same uvicorn stack (and
    labline's own no-op endpoint, ``/v2/health/live``).
All servers run at once (idle ones cost nothing) and are driven by the same load generator
(``wrk`` when installed, else a raw-socket asyncio client) at concurrency 1 and 64, one row
per request, in interleaved rounds so that a noisy machine disturbs all of them alike. Every
figure is the median over the rounds. The load generator and the servers share this machine's
cores, so the generator takes CPU from the servers at high concurrency.

Targets (issue 16): c=1 >= 1.0x the minimal Starlette app; c=64 >= 0.9x the hello-world
endpoint; labline's p99 at c=64 <= 30 ms.
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

CONCURRENCY = (1, 64)
REPS = 3
REPS_C64 = 5  # tail latency is the noisiest figure on a shared machine
SECONDS = 2
# wrk (C) when installed, else the Python generator; BENCH_NO_WRK=1 forces the latter.
USE_WRK = shutil.which("wrk") is not None and not os.environ.get("BENCH_NO_WRK")

FLOOR_APP = """
import json, pickle, sys
import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

with open(sys.argv[1], "rb") as f:
    est = pickle.load(f)

async def predict(request):
    records = json.loads(await request.body())
    x = np.asarray([r["input"] for r in records], dtype=np.float64)
    return JSONResponse(
        {"predictions": est.predict(x).tolist(), "probabilities": est.predict_proba(x).tolist()}
    )

async def hello(request):
    return PlainTextResponse("hello")

app = Starlette(routes=[Route("/predict", predict, methods=["POST"]), Route("/hello", hello)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
"""


def mlserver_command() -> str | None:
    """The ``mlserver`` executable: $BENCH_MLSERVER, the repo's .mlserver-venv, or PATH."""
    given = os.environ.get("BENCH_MLSERVER")
    if given:
        return given
    local = Path(__file__).resolve().parent.parent / ".mlserver-venv" / "bin" / "mlserver"
    if local.is_file():
        return str(local)
    return shutil.which("mlserver")


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


def _mlserver_folder(tmp: Path, est: Any, ports: tuple[int, int, int]) -> Path:
    import joblib

    folder = tmp / "mlserver"
    (folder / "digits").mkdir(parents=True)
    joblib.dump(est, folder / "digits" / "model.joblib")
    (folder / "settings.json").write_text(
        json.dumps(
            {
                "host": "127.0.0.1",
                "http_port": ports[0],
                "grpc_port": ports[1],
                "metrics_port": ports[2],
                "parallel_workers": 0,  # inference in the server process, as labline's
                "debug": False,
            }
        )
    )
    (folder / "digits" / "model-settings.json").write_text(
        json.dumps(
            {
                "name": "digits",
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": "./model.joblib"},
                "max_batch_size": 64,
                "max_batch_time": 0.002,
            }
        )
    )
    return folder


def main() -> None:
    started = time.perf_counter()
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    from labline.models import write_package

    py = sys.executable
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
    mlserver = mlserver_command()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        pkg = tmp / "digits_pkg"
        write_package(est, pkg, name="digits", input_example=X[:5], eval_inputs=X[:200])
        (tmp / "model.pkl").write_bytes(pickle.dumps(est))
        (tmp / "floor.py").write_text(FLOOR_APP)
        predict_body = json.dumps([{"input": row}]).encode()
        v2_doc = {"shape": [1, 64], "datatype": "FP64", "data": row}
        labline_v2_body = json.dumps(
            {"inputs": [{"name": "input", **v2_doc}], "outputs": []}  # [] = all outputs
        ).encode()
        mlserver_body = json.dumps(
            {
                "inputs": [{"name": "predict", **v2_doc}],
                "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
            }
        ).encode()
        port = {name: free_port() for name in ("labline", "floor", "ml", "ml_grpc", "ml_metrics")}
        url = {name: f"http://127.0.0.1:{p}" for name, p in port.items()}
        # (name, command, readiness URL)
        launches: list[tuple[str, list[str], str]] = [
            (
                "labline",
                [
                    py,
                    "-m",
                    "labline",
                    "serve",
                    str(pkg),
                    "--port",
                    str(port["labline"]),
                    *["--log-level", "warning"],
                ],
                f"{url['labline']}/v2/health/ready",
            ),
            (
                "starlette",
                [py, str(tmp / "floor.py"), str(tmp / "model.pkl"), str(port["floor"])],
                f"{url['floor']}/hello",
            ),
        ]
        if mlserver:
            folder = _mlserver_folder(tmp, est, (port["ml"], port["ml_grpc"], port["ml_metrics"]))
            launches.append(
                ("mlserver", [mlserver, "start", str(folder)], f"{url['ml']}/v2/health/ready")
            )
        else:
            print("  MLServer: skipped (not installed: BENCH_PEERS=1 bash scripts/setup.sh)\n")
        env = {**os.environ, "LABLINE_HOME": str(tmp / "home")}
        procs: list[subprocess.Popen[bytes]] = []
        try:
            for i, (_, cmd, _up) in enumerate(launches):
                # output to a file: a pipe nobody reads would stall a chatty server
                with open(tmp / f"server-{i}.log", "wb") as log:
                    procs.append(
                        subprocess.Popen(
                            cmd,
                            stdout=log,
                            stderr=subprocess.STDOUT,
                            env=env,
                            start_new_session=True,
                            cwd=tmp,
                        )
                    )
            for i, (name, _, up) in enumerate(launches):
                try:
                    wait_up(up, procs[i], timeout=300)
                except RuntimeError as e:
                    log_text = (tmp / f"server-{i}.log").read_text()[-800:]
                    raise RuntimeError(f"{name}: {e}\n{log_text}") from None
            # every contender answers the same thing before it is measured
            _, doc, headers = post(f"{url['labline']}/predict", predict_body)
            assert doc["predictions"] == [expected] and len(doc["probabilities"][0]) == 10
            assert headers["x-labline-model-digest"].startswith("sha256:")
            _, doc, _ = post(f"{url['labline']}/v2/models/digits/infer", labline_v2_body)
            assert [o["name"] for o in doc["outputs"]] == ["predictions", "probabilities"]
            assert doc["outputs"][0]["data"] == [expected]
            _, doc, _ = post(f"{url['floor']}/predict", predict_body)
            assert doc["predictions"] == [expected]
            targets += [
                Target(
                    "labline /predict",
                    f"{url['labline']}/predict",
                    predict_body,
                    f"{url['labline']}/metrics",
                ),
                Target(
                    "labline V2 infer",
                    f"{url['labline']}/v2/models/digits/infer",
                    labline_v2_body,
                    None,
                ),
                Target("minimal Starlette", f"{url['floor']}/predict", predict_body, None),
            ]
            if mlserver:
                ml_url = f"{url['ml']}/v2/models/digits/infer"
                _, doc, _ = post(ml_url, mlserver_body)
                assert [o["name"] for o in doc["outputs"]] == ["predict", "predict_proba"]
                assert doc["outputs"][0]["data"] == [expected]
                targets.append(Target("MLServer V2 infer", ml_url, mlserver_body, None))
            # the ceiling: endpoints that do nothing, on the same stack
            targets.append(Target("Starlette hello", f"{url['floor']}/hello", b"", None))
            targets.append(Target("labline no-op", f"{url['labline']}/v2/health/live", b"", None))
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
                f"  {t.name:<18} c={c:<3} {r['rps']:8.0f} req/s   p50 {r['p50_ms']:6.2f} ms   "
                f"p99 {r['p99_ms']:7.2f} ms   errors {int(r['errors'])}{extra}"
            )
    res = {t.name: {c: t.summary(c) for c in t.concurrency} for t in targets}
    a, v2 = res["labline /predict"], res["labline V2 infer"]
    floor, hello = res["minimal Starlette"], res["Starlette hello"]
    print("\nratios (labline / peer, same run), targets in brackets:")
    print(
        f"  c=1  /predict vs minimal Starlette:        {a[1]['rps'] / floor[1]['rps']:.2f}x  [>= 1.0]"
    )
    print(f"  c=64 /predict vs minimal Starlette:        {a[64]['rps'] / floor[64]['rps']:.2f}x")
    print(
        f"  c=64 /predict vs Starlette hello-world:    {a[64]['rps'] / hello[64]['rps']:.2f}x  [>= 0.9]"
    )
    print(f"  c=64 V2 infer vs Starlette hello-world:    {v2[64]['rps'] / hello[64]['rps']:.2f}x")
    noop = res["labline no-op"][64]
    print(f"  c=64 /predict vs labline's no-op endpoint: {a[64]['rps'] / noop['rps']:.2f}x")
    if "MLServer V2 infer" in res:
        m = res["MLServer V2 infer"]
        print(f"  c=1  V2 infer vs MLServer:                 {v2[1]['rps'] / m[1]['rps']:.2f}x")
        print(f"  c=64 V2 infer vs MLServer:                 {v2[64]['rps'] / m[64]['rps']:.2f}x")
    p99s = ", ".join(f"{r['p99_ms']:.0f}" for r in targets[0].runs[64])
    print(
        f"  c=64 labline /predict p99: {a[64]['p99_ms']:.1f} ms  [<= 30 ms]   (runs: {p99s} ms; "
        f"hello-world p99 {hello[64]['p99_ms']:.1f} ms)"
    )
    load = os.getloadavg()[0]
    print(
        f"\n(total {time.perf_counter() - started:.0f} s; 1-min load average at the end {load:.1f})"
    )


if __name__ == "__main__":
    main()
