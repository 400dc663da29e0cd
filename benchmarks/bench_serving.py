"""Serving throughput and latency: ``labline serve`` beside a minimal Starlette app doing the
same work, a hello-world endpoint on the same stack and MLServer, all in one run.

Run: ``.venv/bin/python benchmarks/bench_serving.py`` (about three minutes; ``--quick`` for a
one-minute look with fewer, shorter rounds). ``scripts/setup.sh`` installs wrk (Debian);
``BENCH_PEERS=1 bash scripts/setup.sh`` also installs MLServer in a venv of its own,
``.mlserver-venv`` (``BENCH_MLSERVER=/path/to/mlserver`` points elsewhere).

The same scikit-learn model (LogisticRegression on scikit-learn's digits data) is served by
(a) ``labline serve PACKAGE`` (one uvicorn worker, micro-batching, monitoring on as shipped),
    measured on ``POST /predict`` (predictions and probabilities) and on V2 ``infer`` (the
    same document as MLServer's);
(b) the same with ``--no-monitor``, measured on ``/predict`` at c=64: what monitoring costs
    (issue 15);
(c) the floor: a minimal Starlette app on uvicorn that parses the same JSON and calls
    ``predict`` and ``predict_proba`` directly (no input checks, no metrics);
(d) MLServer with its scikit-learn runtime and adaptive batching (one worker), asked for
    ``predict`` and ``predict_proba`` through V2 ``infer``, when installed;
(e) the ceiling: a hello-world endpoint of a Starlette app on the same uvicorn stack (and
    labline's own no-op endpoint, ``/v2/health/live``).

All servers run at once (idle ones cost nothing) and are driven by the same load generator
(``wrk`` when installed, else a raw-socket asyncio client) at concurrency 1 and 64, one row per
request. Every round measures every contender once per concurrency, in an order rotated from
round to round, so that a noisy machine disturbs all of them alike; figures are medians over
the rounds, and ratios are also given as the median of the per-round ratios (paired). On a
machine with two or more cores the servers share one core and the load generator gets
another (``--no-pin`` lets the scheduler place them): otherwise where the scheduler happens to
put the generator (beside the server or not) changes a server's throughput by up to 30%.

Beside each throughput the server's own CPU time per answered request is printed (from
/proc): it is less sensitive to other work on a shared machine, and it says what a request
costs the server whatever the load generator does. Monitoring on and off are measured back to
back in every round (which one first alternates), and their figure is the median of those
per-round ratios: on this shared machine throughput drifts by 20% within a minute, and two
runs moments apart see the same machine. Pooled over the rounds (all requests over all
measured time, which charges the drift tests, one every 5 s, at their true rate) is printed
beside it.

Targets (issue 16): c=1 >= 1.0x the minimal Starlette app; c=64 >= 0.9x the hello-world
endpoint; labline's p99 at c=64 <= 30 ms. Issue 15: throughput with monitoring on >= 0.95x
off at c=64, in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

CONCURRENCY = (1, 64)
ROUNDS = 5
SECONDS = 2  # wrk takes whole seconds
QUICK_ROUNDS = 3
QUICK_SECONDS = 1
LABLINE_PREDICT = "labline /predict"
MONITORING_OFF = "  monitoring off"
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
        "requests": int(n),
        "seconds": int(dur_us) / 1e6,
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
        "requests": len(latencies),
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "errors": errors,
    }


def _generator_cpu() -> float:
    """CPU seconds used so far by the load generator (wrk children, or this process)."""
    who = resource.RUSAGE_CHILDREN if USE_WRK else resource.RUSAGE_SELF
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def measure_once(
    url: str, body: bytes, tmp: Path, conns: int, seconds: int = SECONDS
) -> dict[str, float]:
    """One run of the load generator against ``url`` (POST ``body``, or GET if it is empty).

    Returns requests, seconds, rps, p50_ms, p99_ms, errors and the generator's CPU seconds.
    """
    body_file = tmp / f"body-{len(body)}-{abs(hash(body))}.json"
    body_file.write_bytes(body)
    cpu = _generator_cpu()
    if USE_WRK:
        lua = tmp / "post.lua"
        lua.write_text(WRK_LUA)
        out = run_wrk(url, body_file, lua, conns, seconds, "POST" if body else "GET")
    else:
        m = re.match(r"http://([^:/]+):(\d+)(/.*)", url)
        assert m
        out = asyncio.run(_py_load(m[1], int(m[2]), m[3], body, conns, seconds))
    out["generator_cpu_s"] = _generator_cpu() - cpu
    return out


# ----------------------------------------------------------------------------------- servers


def core_split() -> tuple[set[int], set[int]] | None:
    """(the servers' core, the load generator's core), or None with fewer than two cores."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    return {cpus[0]}, {cpus[1]}


def pinned_to(cpus: set[int] | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that pins the child to ``cpus`` (None: no pinning)."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def batch_counters(metrics_url: str) -> tuple[float, float, float]:
    """(model calls, rows, seconds in model calls) so far, from labline's /metrics."""
    text = urllib.request.urlopen(metrics_url).read().decode()
    found = []
    for name in (
        "labline_serving_batch_size_count",
        "labline_serving_batch_size_sum",
        "labline_serving_batch_duration_seconds_sum",
    ):
        m = re.search(rf"^{name} (\S+)$", text, re.M)
        found.append(float(m[1]) if m else 0.0)
    return found[0], found[1], found[2]


class Target:
    """One contender: a running server, the URL and body it is measured with, its runs."""

    def __init__(
        self,
        name: str,
        url: str,
        body: bytes,
        pid: int,
        concurrency: tuple[int, ...] = CONCURRENCY,
        metrics: str | None = None,
    ) -> None:
        self.name, self.url, self.body, self.pid = name, url, body, pid
        self.concurrency = concurrency
        self.metrics = metrics
        self.runs: dict[int, list[dict[str, float]]] = {c: [] for c in concurrency}
        self.batch_calls = 0.0
        self.batch_rows = 0.0
        self.batch_seconds = 0.0
        self.batch_requests = 0

    def run(self, tmp: Path, conns: int, seconds: int) -> None:
        """Measure once at ``conns`` connections: throughput, latency, server CPU per request."""
        before = batch_counters(self.metrics) if self.metrics and conns == 64 else None
        cpu = cpu_seconds(self.pid)
        r = measure_once(self.url, self.body, tmp, conns, seconds)
        r["server_cpu_s"] = cpu_seconds(self.pid) - cpu
        r["cpu_us"] = r["server_cpu_s"] / max(r["requests"], 1) * 1e6
        r["generator_us"] = r["generator_cpu_s"] / max(r["requests"], 1) * 1e6
        self.runs[conns].append(r)
        if before is not None and self.metrics:
            calls, rows, model_s = batch_counters(self.metrics)
            self.batch_calls += calls - before[0]
            self.batch_rows += rows - before[1]
            self.batch_seconds += model_s - before[2]
            self.batch_requests += int(r["requests"])

    def summary(self, conns: int) -> dict[str, float]:
        """Medians over the rounds; ``pooled_rps`` is all requests over all measured time."""
        runs = self.runs[conns]
        keys = ("rps", "p50_ms", "p99_ms", "cpu_us", "generator_us")
        out = {k: statistics.median(r[k] for r in runs) for k in keys}
        out["errors"] = sum(r["errors"] for r in runs)
        out["pooled_rps"] = sum(r["requests"] for r in runs) / sum(r["seconds"] for r in runs)
        out["pooled_cpu_us"] = (
            sum(r["server_cpu_s"] for r in runs) / max(sum(r["requests"] for r in runs), 1) * 1e6
        )
        return out


def round_order(targets: list[Target], conns: int, rnd: int) -> list[Target]:
    """The contenders measured at ``conns`` in round ``rnd``: the order rotates from round to
    round, and monitoring on and off are measured back to back (which one first alternates),
    so that their per-round ratio compares runs made moments apart."""
    here = [t for t in targets if conns in t.concurrency]
    off = next((t for t in here if t.name == MONITORING_OFF), None)
    units: list[list[Target]] = []
    for t in here:
        if t is off:
            continue
        if off is not None and t.name == LABLINE_PREDICT:
            units.append([t, off] if rnd % 2 == 0 else [off, t])
        else:
            units.append([t])
    shift = rnd % len(units)
    return [t for unit in units[shift:] + units[:shift] for t in unit]


def paired(a: Target, b: Target, conns: int, key: str = "rps") -> float:
    """Median over the rounds of a's figure over b's in the same round."""
    return statistics.median(
        x[key] / y[key] for x, y in zip(a.runs[conns], b.runs[conns], strict=True)
    )


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


def _launch(
    cmd: list[str], log_path: Path, env: dict[str, str], cwd: Path, cpus: set[int] | None
) -> subprocess.Popen[bytes]:
    # output to a file: a pipe nobody reads would stall a chatty server
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            cwd=cwd,
            preexec_fn=pinned_to(cpus),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds of 1 s (about a minute)")
    parser.add_argument("--rounds", type=int, help=f"rounds (default {ROUNDS})")
    parser.add_argument("--seconds", type=int, help=f"seconds per run (default {SECONDS:g})")
    parser.add_argument(
        "--no-pin", action="store_true", help="let the scheduler place servers and generator"
    )
    args = parser.parse_args()
    rounds = args.rounds or (QUICK_ROUNDS if args.quick else ROUNDS)
    seconds = args.seconds or (QUICK_SECONDS if args.quick else SECONDS)
    started = time.perf_counter()
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    from labline.models import write_package

    split = None if args.no_pin else core_split()
    server_cpus, generator_cpus = split if split is not None else (None, None)
    py = sys.executable
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    est = LogisticRegression(max_iter=1000).fit(X, y)
    row = X[7].tolist()
    expected = int(est.predict(X[7:8])[0])
    load_gen = "wrk (1 thread)" if USE_WRK else "asyncio raw-socket client (no wrk)"
    placement = (
        f"servers on cpu {sorted(server_cpus)}, generator on cpu {sorted(generator_cpus)}"
        if server_cpus is not None and generator_cpus is not None
        else "placed by the scheduler"
    )
    print(f"model: LogisticRegression on digits (64 features, 10 classes); load: {load_gen}")
    print(
        f"{rounds} rounds x {seconds:g} s per contender and concurrency, order rotated per round, "
        f"medians; one row per request;\ncpus={os.cpu_count()} ({placement}), "
        f"1-min load average {os.getloadavg()[0]:.1f}\n"
    )
    targets: list[Target] = []
    monitored: dict[str, Any] = {}
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
        names = ("labline", "nomon", "floor", "ml", "ml_grpc", "ml_metrics")
        port = {name: free_port() for name in names}
        url = {name: f"http://127.0.0.1:{p}" for name, p in port.items()}

        def serve(name: str, *flags: str) -> list[str]:
            return [py, "-m", "labline", "serve", str(pkg), "--port", str(port[name]), *flags]

        # (name, command, readiness URL)
        launches: list[tuple[str, list[str], str]] = [
            (
                "labline",
                serve("labline", "--log-level", "warning"),
                f"{url['labline']}/v2/health/ready",
            ),
            (
                "nomon",
                serve("nomon", "--log-level", "warning", "--no-monitor"),
                f"{url['nomon']}/v2/health/ready",
            ),
            (
                "floor",
                [py, str(tmp / "floor.py"), str(tmp / "model.pkl"), str(port["floor"])],
                f"{url['floor']}/hello",
            ),
        ]
        if mlserver:
            folder = _mlserver_folder(tmp, est, (port["ml"], port["ml_grpc"], port["ml_metrics"]))
            launches.append(
                ("ml", [mlserver, "start", str(folder)], f"{url['ml']}/v2/health/ready")
            )
        else:
            print("  MLServer: skipped (not installed: BENCH_PEERS=1 bash scripts/setup.sh)\n")
        env = {**os.environ, "LABLINE_HOME": str(tmp / "home")}
        procs: dict[str, subprocess.Popen[bytes]] = {}
        if generator_cpus is not None:
            os.sched_setaffinity(0, generator_cpus)  # wrk, started from here, inherits it
        try:
            for name, cmd, _up in launches:
                procs[name] = _launch(cmd, tmp / f"server-{name}.log", env, tmp, server_cpus)
            for name, _, up in launches:
                try:
                    wait_up(up, procs[name], timeout=300)
                except RuntimeError as e:
                    log_text = (tmp / f"server-{name}.log").read_text()[-800:]
                    raise RuntimeError(f"{name}: {e}\n{log_text}") from None
            # every contender answers the same thing before it is measured
            for name in ("labline", "nomon"):
                _, doc, headers = post(f"{url[name]}/predict", predict_body)
                assert doc["predictions"] == [expected] and len(doc["probabilities"][0]) == 10
                assert headers["x-labline-model-digest"].startswith("sha256:")
            _, doc, _ = post(f"{url['labline']}/v2/models/digits/infer", labline_v2_body)
            assert [o["name"] for o in doc["outputs"]] == ["predictions", "probabilities"]
            assert doc["outputs"][0]["data"] == [expected]
            _, doc, _ = post(f"{url['floor']}/predict", predict_body)
            assert doc["predictions"] == [expected]
            pid = {name: proc.pid for name, proc in procs.items()}
            targets += [
                Target(
                    LABLINE_PREDICT,
                    f"{url['labline']}/predict",
                    predict_body,
                    pid["labline"],
                    metrics=f"{url['labline']}/metrics",
                ),
                Target(
                    "labline V2 infer",
                    f"{url['labline']}/v2/models/digits/infer",
                    labline_v2_body,
                    pid["labline"],
                ),
                Target(
                    MONITORING_OFF,
                    f"{url['nomon']}/predict",
                    predict_body,
                    pid["nomon"],
                    concurrency=(64,),
                ),
                Target("minimal Starlette", f"{url['floor']}/predict", predict_body, pid["floor"]),
            ]
            if mlserver:
                ml_url = f"{url['ml']}/v2/models/digits/infer"
                _, doc, _ = post(ml_url, mlserver_body)
                assert [o["name"] for o in doc["outputs"]] == ["predict", "predict_proba"]
                assert doc["outputs"][0]["data"] == [expected]
                targets.append(Target("MLServer V2 infer", ml_url, mlserver_body, pid["ml"]))
            # the ceiling: endpoints that do nothing, on the same stack
            targets.append(
                Target("Starlette hello", f"{url['floor']}/hello", b"", pid["floor"], (64,))
            )
            targets.append(
                Target(
                    "labline no-op", f"{url['labline']}/v2/health/live", b"", pid["labline"], (64,)
                )
            )
            for t in targets:  # warm-up
                measure_once(t.url, t.body, tmp, 64, 1)
            for rnd in range(rounds):
                for c in CONCURRENCY:
                    for t in round_order(targets, c, rnd):
                        t.run(tmp, c, seconds)
            with urllib.request.urlopen(f"{url['labline']}/monitoring", timeout=60) as r:
                monitored = json.loads(r.read())
        finally:
            for proc in procs.values():
                stop(proc)
    report(targets, rounds)
    test_s = monitored.get("test_seconds") or 0.0
    print(
        f"(monitored server: {monitored['window']['seen']} rows taken into its window, "
        f"{monitored['dropped_batches']} batches dropped; one drift test of "
        f"{monitored['window']['rows']} rows took {test_s * 1000:.0f} ms, every 5 s)"
    )
    print(
        f"\n(total {time.perf_counter() - started:.0f} s; 1-min load average at the end "
        f"{os.getloadavg()[0]:.1f}; the machine may be shared with other work)"
    )


def report(targets: list[Target], rounds: int) -> None:
    """Print every contender's medians, then the ratios against the targets."""
    print(f"{'':<20}{'':6}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'server CPU':>13}{'wrk CPU':>10}")
    for c in CONCURRENCY:
        for t in targets:
            if c not in t.concurrency:
                continue
            r = t.summary(c)
            extra = ""
            if t.metrics and c == 64 and t.batch_calls:
                extra = (
                    f"   mean batch {t.batch_rows / t.batch_calls:.1f} rows, in model calls "
                    f"{t.batch_seconds / max(t.batch_requests, 1) * 1e6:.0f} µs/req (wall)"
                )
            if r["errors"]:
                extra += f"   errors {int(r['errors'])}"
            print(
                f"  {t.name:<18}c={c:<3} {r['rps']:8.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f}"
                f" {r['cpu_us']:8.0f} µs/req {r['generator_us']:5.0f} µs{extra}"
            )
    by = {t.name: t for t in targets}
    a, v2, off = by[LABLINE_PREDICT], by["labline V2 infer"], by[MONITORING_OFF]
    floor, hello, noop = by["minimal Starlette"], by["Starlette hello"], by["labline no-op"]
    s = {t.name: {c: t.summary(c) for c in t.concurrency} for t in targets}

    def line(label: str, x: Target, y: Target, c: int, target: str = "") -> None:
        ratio = s[x.name][c]["rps"] / s[y.name][c]["rps"]
        cpu = s[y.name][c]["cpu_us"] / s[x.name][c]["cpu_us"]
        print(
            f"  {label:<44}{ratio:5.2f}x  paired {paired(x, y, c):5.2f}x   "
            f"CPU/request {cpu:5.2f}x  {target}"
        )

    print(
        "\nratios (labline / peer, same run; 'paired' = median of the per-round ratios; CPU/request"
        "\n= the peer's server CPU per request over labline's), targets in brackets:"
    )
    line("c=1  /predict vs minimal Starlette", a, floor, 1, "[>= 1.0]")
    line("c=64 /predict vs minimal Starlette", a, floor, 64)
    line("c=64 /predict vs Starlette hello-world", a, hello, 64, "[>= 0.9]")
    line("c=64 V2 infer vs Starlette hello-world", v2, hello, 64)
    line("c=64 /predict vs labline's no-op endpoint", a, noop, 64)
    if "MLServer V2 infer" in by:
        ml = by["MLServer V2 infer"]
        line("c=1  V2 infer vs MLServer", v2, ml, 1)
        line("c=64 V2 infer vs MLServer", v2, ml, 64)
    p99s = ", ".join(f"{r['p99_ms']:.0f}" for r in a.runs[64])
    print(
        f"  c=64 labline /predict p99: {s[a.name][64]['p99_ms']:.1f} ms  [<= 30 ms]   "
        f"(runs: {p99s} ms; hello-world p99 {s[hello.name][64]['p99_ms']:.1f} ms)"
    )
    on, nm = s[a.name][64], s[off.name][64]
    print(
        f"  c=64 monitoring on / off, throughput (median of {rounds} back-to-back pairs): "
        f"{paired(a, off, 64):.3f}x  [>= 0.95]\n       pooled over the rounds "
        f"{on['pooled_rps'] / nm['pooled_rps']:.3f}x; server CPU per request off / on: "
        f"{1 / paired(a, off, 64, 'cpu_us'):.3f}x paired, "
        f"{nm['pooled_cpu_us'] / on['pooled_cpu_us']:.3f}x pooled"
    )
    h, n = s[hello.name][64], s[noop.name][64]
    model_us = a.batch_seconds / max(a.batch_requests, 1) * 1e6
    print(
        f"\nServer CPU per request at c=64: the hello-world {h['cpu_us']:.0f} µs, labline's no-op "
        f"endpoint {n['cpu_us']:.0f} µs, labline /predict {on['cpu_us']:.0f} µs (model calls: "
        f"{model_us:.0f} µs\nof wall time per request; the rest: body, parse, input checks, "
        f"batching, encode, metrics, monitoring); wrk {h['generator_us']:.0f} µs per request."
    )


if __name__ == "__main__":
    main()
