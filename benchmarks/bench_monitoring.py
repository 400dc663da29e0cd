"""What monitoring costs the model server: throughput at c=64 with monitoring on and off.

Run: ``.venv/bin/python benchmarks/bench_monitoring.py`` (about a minute; ``--rounds 3`` for a
quick look).

The same package (LogisticRegression on scikit-learn's digits: 64 features, 10 classes, a
reference profile of 500 evaluation rows) is served twice at once by ``labline serve``, one
uvicorn worker each:

* monitoring on, as ``labline serve`` ships it (live window of 1,000 rows, a drift test every
  5 s; ``--interval`` changes that);
* monitoring off (``--no-monitor``).

Both are driven by the same load generator (``wrk`` when installed, else the raw-socket
asyncio client of ``bench_serving.py``) at concurrency 64, one row per ``POST /predict``. Each
round starts both servers afresh, warms them up and measures them one after the other, the
order alternating from round to round (in an A/A run, two identical servers started one
after the other on this shared machine differed by up to 30%, the first one slower); the
figure is the median over the rounds, and the median of the per-round ratios. Each server
is measured for 4 x 2 s per round, so drift tests (every 5 s) run while it is measured. After the run the monitored server's
``GET /monitoring`` says how many rows its windows took in and how many batches it dropped
(a full monitoring queue drops instead of slowing requests down; a cheap-looking figure bought
with dropped batches would show there).

The server's own CPU time per answered request (from /proc) is printed beside the throughput:
on a machine shared with other work it measures what monitoring adds with much less noise.

Target (issue 15): throughput with monitoring on >= 0.95x off, in the same run.
``bench_serving.py`` measures the same pair (one server each, started once) among its other
contenders, so the serving benchmark's run carries the figure too; this one isolates it, with
fresh servers every round and longer stretches.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_serving import (
    SECONDS,
    USE_WRK,
    cpu_seconds,
    free_port,
    measure_once,
    post,
    stop,
    wait_up,
)

CONNS = 64
STRETCHES = 4  # measured stretches of bench_serving.SECONDS per server and round


def start_server(
    pkg: Path, flags: list[str], tmp: Path, env: dict[str, str]
) -> tuple[str, subprocess.Popen[bytes]]:
    """``labline serve PKG FLAGS`` on a free port; its base URL and process."""
    port = free_port()
    with open(tmp / f"server-{port}.log", "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                *["-m", "labline", "serve", str(pkg)],
                *["--port", str(port), "--log-level", "warning", *flags],
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            cwd=tmp,
        )
    return f"http://127.0.0.1:{port}", proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--interval", type=float, default=5.0, help="seconds between drift tests (serve's default)"
    )
    args = parser.parse_args()
    started = time.perf_counter()

    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    from labline.models import write_package

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    est = LogisticRegression(max_iter=1000).fit(X, y)
    body = json.dumps([{"input": X[7].tolist()}]).encode()
    load_gen = "wrk (1 thread)" if USE_WRK else "asyncio raw-socket client (no wrk)"
    print(f"model: LogisticRegression on digits (64 features, 10 classes); load: {load_gen}")
    print(
        f"{args.rounds} rounds of fresh servers at c={CONNS}, medians; one row per request; "
        f"cpus={os.cpu_count()}, 1-min load average {os.getloadavg()[0]:.1f}\n"
    )
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        pkg = tmp / "digits_pkg"
        write_package(est, pkg, name="digits", input_example=X[:5], eval_inputs=X[:500])
        env = {**os.environ, "LABLINE_HOME": str(tmp / "home")}
        variants = {
            "monitoring on": ["--monitor", "--monitor-interval", str(args.interval)],
            "monitoring off": ["--no-monitor"],
        }
        names = list(variants)
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
        monitored: dict[str, Any] = {}
        off_status = None
        for rnd in range(args.rounds):
            # fresh servers every round, started and measured in alternating order: a server
            # started first measured slower than its twin in an A/A run on this machine
            order = names if rnd % 2 == 0 else names[::-1]
            procs: dict[str, subprocess.Popen[bytes]] = {}
            urls: dict[str, str] = {}
            try:
                for name in order:
                    urls[name], procs[name] = start_server(pkg, variants[name], tmp, env)
                for name in order:
                    wait_up(f"{urls[name]}/v2/health/ready", procs[name], timeout=300)
                    _, doc, _ = post(f"{urls[name]}/predict", body)
                    assert len(doc["predictions"]) == 1, name
                for name in order:  # warm-up
                    measure_once(f"{urls[name]}/predict", body, tmp, CONNS)
                for name in order:
                    pid = procs[name].pid
                    cpu = cpu_seconds(pid)
                    # long enough for drift tests to run while measured (one every 5 s)
                    parts = [
                        measure_once(f"{urls[name]}/predict", body, tmp, CONNS)
                        for _ in range(STRETCHES)
                    ]
                    run = {
                        "rps": statistics.fmean(r["rps"] for r in parts),
                        "p50_ms": statistics.median(r["p50_ms"] for r in parts),
                        "p99_ms": max(r["p99_ms"] for r in parts),
                        "errors": sum(r["errors"] for r in parts),
                    }
                    # the server's own CPU per answered request: what monitoring adds to the
                    # work, less sensitive to what else the shared machine runs meanwhile
                    served = run["rps"] * SECONDS * STRETCHES
                    run["cpu_us"] = (cpu_seconds(pid) - cpu) / served * 1e6
                    runs[name].append(run)
                with urllib.request.urlopen(f"{urls[names[0]]}/monitoring", timeout=60) as r:
                    monitored = json.loads(r.read())
                with urllib.request.urlopen(f"{urls[names[1]]}/monitoring", timeout=60) as r:
                    off_status = json.loads(r.read())["status"]
            finally:
                for proc in procs.values():
                    stop(proc)

    med = {
        name: {
            k: statistics.median(r[k] for r in rs) for k in ("rps", "p50_ms", "p99_ms", "cpu_us")
        }
        for name, rs in runs.items()
    }
    for name, m in med.items():
        each = ", ".join(f"{r['rps']:.0f}" for r in runs[name])
        errors = sum(r["errors"] for r in runs[name])
        print(
            f"  {name:<15} {m['rps']:8.0f} req/s   p50 {m['p50_ms']:6.2f} ms   "
            f"p99 {m['p99_ms']:7.2f} ms   CPU {m['cpu_us']:5.0f} µs/request   "
            f"errors {int(errors)}   (rounds: {each})"
        )
    ratio = med["monitoring on"]["rps"] / med["monitoring off"]["rps"]
    paired = statistics.median(
        a["rps"] / b["rps"]
        for a, b in zip(runs["monitoring on"], runs["monitoring off"], strict=True)
    )
    window = monitored.get("window", {})
    report = monitored.get("report") or {}
    print(
        f"\nmonitored server: {window.get('seen', 0)} rows taken into its window, "
        f"{monitored.get('dropped_batches', 0)} batches dropped; last drift test on "
        f"{report.get('n_live', 0)} rows, {len(report.get('features', []))} features "
        f"(status {monitored.get('status')}); the other's status: {off_status!r}"
    )
    test_s = monitored.get("test_seconds")
    if test_s:
        print(
            f"one drift test (1,000 rows x 64 features, off the request path) took "
            f"{test_s * 1000:.0f} ms: {test_s / args.interval:.1%} of a core at one test every "
            f"{args.interval:g} s"
        )
    print("\nratio (same run):")
    print(f"  c=64 throughput, monitoring on / off:          {ratio:.3f}x  [>= 0.95]")
    print(f"  median of the per-round ratios (paired):       {paired:.3f}x")
    cpu_ratio = med["monitoring off"]["cpu_us"] / med["monitoring on"]["cpu_us"]
    print(f"  server CPU per request, off / on:              {cpu_ratio:.3f}x  [>= 0.95]")
    print(
        f"\n(total {time.perf_counter() - started:.0f} s; 1-min load average at the end "
        f"{os.getloadavg()[0]:.1f}; the machine is shared with other work)"
    )


if __name__ == "__main__":
    main()
