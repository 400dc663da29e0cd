"""The web UI in a real browser at 10,000 runs: runs table, a run page with 20 charts, compare
2 x 5 runs, and one 1,000,000-point series; MLflow's UI on the same data for reference.

Run: .venv/bin/python benchmarks/bench_ui.py [--runs N] [--repeats R] [--postgres]
     [--no-mlflow] [--cache DIR]

Data: ``bench_search.py``'s runs (N runs, 10,000 by default, x 50 params x 20 metrics x 1,000
steps, ~70 % finished), written straight into labline's tables by its ``seed_labline`` (the
same layout the store writes), on SQLite and, with ``--postgres``, PostgreSQL
(127.0.0.1:5432, db ``test``, a schema of its own dropped after). One more run holds a
1,000,000-point series.

Each store is served by ``labline server`` (uvicorn, one worker, 127.0.0.1) in its own process,
beside ``mlflow server``; Playwright opens them in Debian's Chromium (``/usr/bin/chromium``),
one browser context each: a warm-up round (the browser caches each UI's static files, as a
returning user's does), then ``--repeats`` rounds visiting every page of every contender in
turn (interleaved); medians are printed. Times are from the browser's navigation
start (``performance`` timings):

* runs table interactive: the later of first contentful paint and the mark the UI's script
  sets once the table's keyboard and selection handlers are attached (after DOMContentLoaded);
  first page of 50 runs with 6 param and 6 metric columns;
* run page: the last of the 20 charts drawn (each fetches its server-side min/max envelope);
* compare 2 x 5 runs (run-level ``accuracy``, 10,000 bootstrap resamples): forest plot drawn;
* a 1,000,000-point series: its chart drawn (the server sends ~one min/max pair per pixel);
  before the browser rounds, the same envelope is also timed in-process on each store beside
  reading the whole series with its timestamps (what the envelope read before).

MLflow: its full package ships the UI (``mlflow-skinny``, in .venv, does not); scripts/setup.sh
installs it into ``.venvs/mlflow-ui`` with ``BENCH_PEERS=1``. Its SQLite database is created by
MLflow's own ``SqlAlchemyStore`` and filled straight into its tables: every run with its 50
params, tags and 20 latest metrics (what its runs table reads), and the full 1,000-step
histories for the runs the measured pages open (the run page's and the 10 compared runs).
``mlflow server`` serves it; its pages are single-page-app routes, timed from navigation start
until what they show is on screen (polled every animation frame): the runs table's first rows,
the run's model-metrics charts in the first screen (MLflow draws the other charts only when
scrolled to: 6 of 20 at 1400x900), the compare page's 10 runs and its chart.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))
import labline
from bench_search import (
    N_METRICS,
    N_PARAMS,
    _engine_of,
    analyze,
    fast_sqlite_writes,
    pg_schema,
    run_spec,
    seed_labline,
)

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
EXPERIMENT = "bench-search"  # seed_labline's experiment
LONG_POINTS = 1_000_000
TARGETS_MS = {"runs table": 1000.0, "run page (20 charts)": 1500.0, "compare 2x5": 2000.0}
TARGETS_MS["1,000,000-point series"] = 1000.0


def run_id_of(i: int) -> str:
    """The id ``seed_labline`` gives run ``i``."""
    return uuid.UUID(int=random.Random(f"id{i}").getrandbits(128)).hex


def finished_runs(count: int) -> list[int]:
    """The first ``count`` runs that finished (compare selects finished runs)."""
    found: list[int] = []
    i = 0
    while len(found) < count:
        if run_spec(i, 2)["finished"]:
            found.append(i)
        i += 1
    return found


def seed_long_series(client: labline.Client) -> str:
    """One run with a 1,000,000-point ``signal``: a noisy curve with one spike."""
    from labline.store.sql._metric_codec import encode_steps, encode_timestamps
    from labline.store.sql._models import MetricChunkRow, MetricSummaryRow, RunRow

    engine = _engine_of(client)
    exp = client.create_experiment("bench-ui-long")
    rng = np.random.default_rng(0)
    values = np.sin(np.linspace(0, 20, LONG_POINTS)) + rng.normal(0, 0.05, LONG_POINTS)
    values[654_321] = 8.0  # a spike one pixel bucket must still show
    # packed as the store packs what a training loop logs (steps 0..n-1, timestamps 1 ms apart)
    steps_codec, steps_blob = encode_steps(np.arange(LONG_POINTS, dtype=np.int64))
    ts_codec, ts_blob = encode_timestamps(1.7e9 + np.arange(LONG_POINTS) / 1000.0)
    run_id = uuid.uuid4().hex
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(RunRow),
            [
                {
                    "id": run_id,
                    "experiment_id": exp.id,
                    "name": "million-points",
                    "status": "finished",
                    "created_at": now,
                    "ended_at": now,
                    "heartbeat_at": now,
                    "env": {},
                    "host": "",
                    "pid": 0,
                }
            ],
        )
        conn.execute(
            sa.insert(MetricChunkRow),
            [
                {
                    "run_id": run_id,
                    "key": "signal",
                    "n": LONG_POINTS,
                    "steps_codec": steps_codec,
                    "steps": steps_blob,
                    "timestamps_codec": ts_codec,
                    "timestamps": ts_blob,
                    "values": values.astype("<f8").tobytes(),
                }
            ],
        )
        conn.execute(
            sa.insert(MetricSummaryRow),
            [
                {
                    "run_id": run_id,
                    "key": "signal",
                    "last_value": float(values[-1]),
                    "last_step": LONG_POINTS - 1,
                    "min_value": float(values.min()),
                    "max_value": float(values.max()),
                    "count": LONG_POINTS,
                }
            ],
        )
    return run_id


# -- servers ----------------------------------------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def process(cmd: list[str], env: dict[str, str], ready: str, timeout: float = 180) -> Iterator[str]:
    """Run a server until the block ends; yield its base URL once ``ready`` answers 200."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
    proc = subprocess.Popen(
        [c.replace("{port}", str(port)) for c in cmd], env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(base + ready, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                sys.exit(f"{cmd[0]} did not start: {log.read().decode(errors='replace')[-1500:]}")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def labline_server(settings: labline.Settings) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABLINE_")}
    env.update(
        LABLINE_HOME=str(settings.home),
        LABLINE_URI=settings.uri,
        LABLINE_ARTIFACT_URI=settings.artifact_uri,
        PYTHONPATH=os.pathsep.join(
            [str(Path(labline.__file__).parents[1]), env.get("PYTHONPATH", "")]
        ),
    )
    cmd = [sys.executable, "-m", "labline", "server", "--port", "{port}", "--log-level", "warning"]
    return process(cmd, env, "/api/v1/health")


# -- browser timings --------------------------------------------------------------------------
LABLINE_READY = {
    "runs table": (
        "performance.getEntriesByName('labline:runs-ready').length > 0"
        " && performance.getEntriesByName('first-contentful-paint').length > 0"
        " && document.querySelectorAll('#runs tbody tr').length === 50",
        "Math.max(performance.getEntriesByName('labline:runs-ready')[0].startTime,"
        " performance.getEntriesByName('first-contentful-paint')[0].startTime)",
    ),
    "run page (20 charts)": (
        "performance.getEntriesByName('labline:chart-drawn').length >= 20",
        "Math.max(...performance.getEntriesByName('labline:chart-drawn').map(e => e.startTime))",
    ),
    "compare 2x5": (
        "performance.getEntriesByName('labline:compare-drawn').length > 0",
        "performance.getEntriesByName('labline:compare-drawn')[0].startTime",
    ),
    "1,000,000-point series": (
        "performance.getEntriesByName('labline:chart-drawn').length >= 1",
        "performance.getEntriesByName('labline:chart-drawn')[0].startTime",
    ),
}


def labline_pages(long_run: str) -> dict[str, str]:
    ids = [run_id_of(i) for i in finished_runs(10)]
    compare = "/compare?baseline=runs:" + ",".join(ids[:5]) + "&candidate=runs:" + ",".join(ids[5:])
    return {
        "runs table": f"/runs?experiment={EXPERIMENT}",
        "run page (20 charts)": f"/runs/{ids[0]}",
        "compare 2x5": compare + "&metric=accuracy",
        "1,000,000-point series": f"/runs/{long_run}",
    }


def timed_visit(page: Any, url: str, ready: str, value: str) -> float:
    """Navigate to ``url`` and return ``value`` (ms from navigation start) once ``ready``."""
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, wait_until="commit")
    page.wait_for_function(ready, timeout=120_000, polling="raf")
    result = float(page.evaluate(value))
    if errors:
        sys.exit(f"browser error on {url}: {errors[:2]}")
    return result


@dataclass
class Contender:
    """A UI being measured: its base URL, its pages and when each counts as drawn."""

    label: str
    base: str
    pages: dict[str, str]
    ready: dict[str, tuple[str, str]]


def measure(contenders: list[Contender], repeats: int) -> dict[str, dict[str, float]]:
    """Median ms per contender and page: one warm-up visit each, then ``repeats`` rounds in
    which every page of every contender is visited in turn (interleaved, so a change in the
    machine's load falls on all of them). Each contender has its own browser context (cache)."""
    from playwright.sync_api import sync_playwright

    samples = {c.label: {k: [] for k in c.pages} for c in contenders}  # type: ignore[var-annotated]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            contexts = {
                c.label: browser.new_context(viewport={"width": 1400, "height": 900})
                for c in contenders
            }
            for rnd in range(repeats + 1):  # round 0 is the warm-up
                names = list(dict.fromkeys(n for c in contenders for n in c.pages))
                for name in names:
                    for c in contenders:
                        if name not in c.pages:
                            continue
                        page = contexts[c.label].new_page()
                        ms = timed_visit(page, c.base + c.pages[name], *c.ready[name])
                        page.close()
                        if rnd:
                            samples[c.label][name].append(ms)
        finally:
            browser.close()
    return {
        label: {k: statistics.median(v) for k, v in pages.items()}
        for label, pages in samples.items()
    }


# -- MLflow -----------------------------------------------------------------------------------
def mlflow_bin(explicit: Path | None) -> Path | None:
    for candidate in [explicit, ROOT / ".venvs/mlflow-ui/bin/mlflow"]:
        if candidate is not None and candidate.exists():
            return candidate
    return None


def seed_mlflow_tables(binary: Path, path: Path, n_runs: int, steps: int, full: set[int]) -> str:
    """MLflow's schema, created by the measured MLflow itself (its ``SqlAlchemyStore``, in its
    own venv), filled straight into its tables: every run's params, tags and latest metrics;
    full histories for the runs in ``full``."""
    create = (
        "import sys; from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as S; "
        "print(S(sys.argv[1], sys.argv[2]).create_experiment(sys.argv[3]))"
    )
    made = subprocess.run(
        [
            str(binary.with_name("python")),
            "-c",
            create,
            f"sqlite:///{path}",
            str(path.parent / "mlflow-artifacts"),
            EXPERIMENT,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    exp_id = made.stdout.strip().splitlines()[-1]
    engine = sa.create_engine(f"sqlite:///{path}")
    fast_sqlite_writes(engine)
    meta = sa.MetaData()
    meta.reflect(engine, only=["runs", "params", "tags", "metrics", "latest_metrics"])
    t = meta.tables
    base_ms = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1000)
    for start in range(0, n_runs, 500):
        runs, params, tags, latest, metrics = [], [], [], [], []
        for i in range(start, min(start + 500, n_runs)):
            spec = run_spec(i, steps)
            rid = run_id_of(i)
            t0 = base_ms + i * 1000
            runs.append(
                {
                    "run_uuid": rid,
                    "name": spec["name"],
                    "source_type": "LOCAL",
                    "source_name": "",
                    "entry_point_name": "",
                    "user_id": "bench",
                    "status": "FINISHED" if spec["finished"] else "FAILED",
                    "start_time": t0,
                    "end_time": t0 + 1000,
                    "source_version": "",
                    "lifecycle_stage": "active",
                    "artifact_uri": str(path.parent / "mlflow-artifacts" / rid),
                    "experiment_id": int(exp_id),
                }
            )
            params += [{"key": k, "value": v, "run_uuid": rid} for k, v in spec["params"].items()]
            tags += [
                {"key": "stage", "value": spec["stage"], "run_uuid": rid},
                {"key": "mlflow.runName", "value": spec["name"], "run_uuid": rid},
                {"key": "mlflow.user", "value": "bench", "run_uuid": rid},
            ]
            for key, values in spec["series"].items():
                last = float(values[-1])
                latest.append(
                    {
                        "key": key,
                        "value": last,
                        "timestamp": t0,
                        "step": steps - 1,
                        "is_nan": False,
                        "run_uuid": rid,
                    }
                )
                history = range(steps) if i in full else [steps - 1]
                metrics += [
                    {
                        "key": key,
                        "value": float(values[s]),
                        "timestamp": t0 + s,
                        "run_uuid": rid,
                        "step": s,
                        "is_nan": False,
                    }
                    for s in history
                ]
        with engine.begin() as conn:
            conn.execute(t["runs"].insert(), runs)
            conn.execute(t["params"].insert(), params)
            conn.execute(t["tags"].insert(), tags)
            conn.execute(t["latest_metrics"].insert(), latest)
            conn.execute(t["metrics"].insert(), metrics)
    analyze(engine)
    engine.dispose()
    return str(exp_id)


def mlflow_pages(exp_id: str) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    ids = [run_id_of(i) for i in finished_runs(10)]
    names = [run_spec(i, 2)["name"] for i in finished_runs(10)]
    runs_json = json.dumps(ids, separators=(",", ":"))
    pages = {
        "runs table": f"/#/experiments/{exp_id}/runs",
        "run page (20 charts)": f"/#/experiments/{exp_id}/runs/{ids[0]}/model-metrics",
        "compare 2x5": f"/#/compare-runs?runs={runs_json}&experiments=[%22{exp_id}%22]",
    }
    shown = "performance.now()"
    ready = {
        "runs table": ("(document.body.innerText.match(/run-\\d{5}/g) || []).length >= 10", shown),
        # MLflow draws a run's charts as they scroll into view: the 6 in the first screen
        "run page (20 charts)": ("document.querySelectorAll('.js-plotly-plot').length >= 6", shown),
        "compare 2x5": (
            " && ".join(f"document.body.innerText.includes({json.dumps(n)})" for n in names)
            + " && document.querySelectorAll('.js-plotly-plot').length > 0",
            shown,
        ),
    }
    return pages, ready


# -- main -------------------------------------------------------------------------------------
def report(label: str, medians: dict[str, float], peer: dict[str, float] | None) -> None:
    for name, ms in medians.items():
        target = TARGETS_MS[name]
        verdict = "under" if ms < target else "OVER"
        ratio = ""
        if peer and name in peer:
            ratio = f"   MLflow UI {peer[name]:7.0f} ms = {peer[name] / ms:5.1f}x"
        print(
            f"  {label:18s} {name:24s} {ms:7.0f} ms  ({verdict} {target:.0f} ms){ratio}",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--postgres", action="store_true", help="also PostgreSQL (127.0.0.1:5432)")
    ap.add_argument("--no-mlflow", action="store_true")
    ap.add_argument("--mlflow-bin", type=Path, help="the full mlflow's CLI (default: .venvs)")
    ap.add_argument("--cache", type=Path, help="keep seeded SQLite stores here and reuse them")
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit("Debian's chromium is needed (scripts/setup.sh installs it)")
    n, steps = args.runs, args.steps
    print(
        f"{n} runs x {N_PARAMS} params x {N_METRICS} metrics x {steps} steps; "
        f"{args.repeats} rounds, medians (load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)",
        flush=True,
    )
    tmp = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    cache = args.cache or tmp
    cache.mkdir(parents=True, exist_ok=True)
    tag = hashlib.sha256(f"{n}/{steps}/ui-v2".encode()).hexdigest()[:8]
    try:
        stores: dict[str, labline.Settings] = {}
        lite = labline.Settings.local(cache / f"labline-{tag}")
        stores["labline SQLite"] = lite
        long_ids: dict[str, str] = {}
        with pg_schema() if args.postgres else _none() as pg_url:
            if pg_url:
                stores["labline PostgreSQL"] = labline.Settings(
                    home=tmp / "pg-home", uri=pg_url, artifact_uri=str(tmp / "blobs")
                )
            for label, settings in stores.items():
                done = settings.home / "done.json"
                if done.exists():
                    long_ids[label] = json.loads(done.read_text())["long"]
                    print(f"{label}: reusing {settings.home}", flush=True)
                    continue
                with labline.Client(settings) as client:
                    engine = _engine_of(client)
                    if label.endswith("SQLite"):
                        fast_sqlite_writes(engine)
                    took = seed_labline(client, n, steps, label)
                    long_ids[label] = seed_long_series(client)
                    analyze(engine)
                print(f"{label}: seeded in {took:.0f} s", flush=True)
                if label.endswith("SQLite"):
                    done.write_text(json.dumps({"long": long_ids[label]}))

            for label, settings in stores.items():
                envelope_read(label, settings, long_ids[label])
            binary = None if args.no_mlflow else mlflow_bin(args.mlflow_bin)
            with ExitStack() as running:
                contenders: list[Contender] = []
                if args.no_mlflow:
                    print("MLflow UI: skipped (--no-mlflow)")
                elif binary is None:
                    print(
                        "MLflow UI: not measured: only mlflow-skinny (no UI) is in .venv; "
                        "BENCH_PEERS=1 bash scripts/setup.sh installs the full mlflow into "
                        ".venvs/mlflow-ui"
                    )
                else:
                    db = cache / f"mlflow-{tag}.db"
                    marker = cache / f"mlflow-{tag}.json"
                    if marker.exists():
                        exp_id = json.loads(marker.read_text())["experiment"]
                        print(f"MLflow: reusing {db}", flush=True)
                    else:
                        db.unlink(missing_ok=True)
                        t0 = time.perf_counter()
                        exp_id = seed_mlflow_tables(binary, db, n, steps, set(finished_runs(10)))
                        marker.write_text(json.dumps({"experiment": exp_id}))
                        print(f"MLflow: seeded in {time.perf_counter() - t0:.0f} s", flush=True)
                    pages, ready = mlflow_pages(exp_id)
                    cmd = [str(binary), "server", "--backend-store-uri", f"sqlite:///{db}"]
                    cmd += ["--host", "127.0.0.1", "--port", "{port}", "--workers", "1"]
                    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
                    base = running.enter_context(process(cmd, env, "/health"))
                    contenders.append(Contender("MLflow UI", base, pages, ready))
                for label, settings in stores.items():
                    base = running.enter_context(labline_server(settings))
                    pages = labline_pages(long_ids[label])
                    contenders.insert(0, Contender(label, base, pages, LABLINE_READY))
                medians = measure(contenders, args.repeats)
            print(f"\n(load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs after measuring)")
            peer = medians.pop("MLflow UI", None)
            for label, by_page in medians.items():
                report(label, by_page, peer)
    finally:
        if args.cache is None:
            shutil.rmtree(tmp, ignore_errors=True)


def envelope_read(label: str, settings: labline.Settings, long_id: str, repeats: int = 7) -> None:
    """In-process, no browser: the 1,000,000-point series' envelope (what its chart fetches)
    beside reading the whole series with timestamps (what the envelope read before), medians
    of interleaved repeats."""
    times: dict[str, list[float]] = {"envelope": [], "whole series": []}
    with labline.Client(settings) as client:
        calls = {
            "envelope": lambda: client.metric_envelope(long_id, "signal", buckets=1000),
            "whole series": lambda: client.get_metric_series(long_id, "signal"),
        }
        for _ in range(repeats):
            for name, call in calls.items():
                t0 = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - t0)
    env, whole = (statistics.median(times[k]) * 1e3 for k in ("envelope", "whole series"))
    print(
        f"{label}: 1,000,000-point envelope in-process {env:.0f} ms; reading the whole series "
        f"with timestamps {whole:.0f} ms ({whole / env:.1f}x)",
        flush=True,
    )


@contextmanager
def _none() -> Iterator[None]:
    yield None


if __name__ == "__main__":
    main()
