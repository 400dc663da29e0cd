"""End to end: ``labline serve --workers 2`` scraped by a real Prometheus (127.0.0.1, free
ports, a temp dir, 1 s scrape and evaluation) loaded with ``labline alerts export``'s rules;
shifted traffic makes the drift alert fire. ``labline monitor`` reads the same server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from click.testing import CliRunner

from labline import AlertThresholds, Client, Settings
from labline.cli import main

PROMETHEUS = shutil.which("prometheus")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not come up: {log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _rows(rng: np.random.Generator, n: int, shift: float) -> list[dict[str, float]]:
    x = rng.normal(size=(n, 3))
    x[:, 0] += shift
    return [{"x0": float(a), "x1": float(b), "x2": float(c)} for a, b, c in x]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``labline serve shop/1 --workers 2`` on a free port, with a 400-row reference profile."""
    from sklearn.linear_model import LogisticRegression

    import labline

    home = tmp_path_factory.mktemp("monitor-home")
    settings = Settings.local(home)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(size=1000) > 0).astype(int)
    columns = {f"x{j}": X[600:, j] for j in range(3)}
    with labline.start_run(experiment="monitor-e2e", settings=settings) as run:
        run.log_model(
            LogisticRegression().fit(X[:600], y[:600]),
            "shop",
            input_example={k: v[:5] for k, v in columns.items()},
            eval_inputs=columns,
            eval_labels=y[600:],
        )
    port = _free_port()
    log = home / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "labline",
                "serve",
                "shop/1",
                "--port",
                str(port),
                "--workers",
                "2",
                "--monitor-interval",
                "0.3",
                "--monitor-window",
                "300",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "LABLINE_HOME": str(home)},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{url}/v2/health/ready", proc, log)
        yield url, home
    finally:
        _stop(proc)


@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus missing: scripts/setup.sh installs it")
def test_prometheus_sees_the_drift_alert_fire(served: tuple[str, Path], tmp_path: Path) -> None:
    url, home = served
    client = Client(settings=Settings.local(home))
    rules = client.alert_rules("shop/1", AlertThresholds(drift_share=0.2, drift_for="2s"))
    (tmp_path / "rules.yml").write_text(rules)
    target = url.removeprefix("http://")
    (tmp_path / "prometheus.yml").write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": ["rules.yml"],
                "scrape_configs": [
                    {"job_name": "serve", "static_configs": [{"targets": [target]}]}
                ],
            }
        )
    )
    prom_port = _free_port()
    log = tmp_path / "prometheus.log"
    with open(log, "wb") as out:
        prom = subprocess.Popen(
            [
                str(PROMETHEUS),
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    api = f"http://127.0.0.1:{prom_port}/api/v1"
    try:
        _wait(f"http://127.0.0.1:{prom_port}/-/ready", prom, log, 60)
        rng = np.random.default_rng(1)
        state: dict[str, Any] = {}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            # shifted traffic, a new connection each so both workers see it
            for _ in range(4):
                r = httpx.post(f"{url}/predict", json={"records": _rows(rng, 50, 1.0)}, timeout=30)
                assert r.status_code == 200
            alerts = httpx.get(f"{api}/alerts", timeout=5).json()["data"]["alerts"]
            state = {a["labels"]["alertname"]: a for a in alerts}
            drift = state.get("LablineFeatureDrift")
            if drift is not None and drift["state"] == "firing":
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"the drift alert never fired; alerts: {state}")
        assert drift["labels"]["model"] == "shop"
        assert drift["labels"]["version"] == "1"
        assert drift["labels"]["severity"] == "warning"
        assert "shop version 1" in drift["annotations"]["summary"]
        # the gauges came through the multiprocess registry, per model version
        q = httpx.get(
            f"{api}/query",
            params={"query": 'labline_monitor_feature_drift_p_value{feature="x0"}'},
            timeout=5,
        ).json()
        assert float(q["data"]["result"][0]["value"][1]) < 0.05
        # no other alert fires on healthy serving
        assert {n for n, a in state.items() if a["state"] == "firing"} == {"LablineFeatureDrift"}
    finally:
        _stop(prom)


def test_labline_monitor_reads_the_running_server(served: tuple[str, Path]) -> None:
    url, home = served
    rng = np.random.default_rng(2)
    for _ in range(6):
        r = httpx.post(f"{url}/predict", json={"records": _rows(rng, 50, 1.0)}, timeout=30)
        assert r.status_code == 200
    env = {"LABLINE_HOME": str(home)}
    result = CliRunner().invoke(main, ["monitor", "shop/1", "--server", url, "--json"], env=env)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["matches_ref"] is True
    assert doc["status"] == "ok"
    assert "x0" in doc["report"]["drifted"]
    assert doc["reference"]["accuracy"] is not None
    table = CliRunner().invoke(main, ["monitor", "shop/1", "--server", url], env=env)
    assert table.exit_code == 0, table.output
    assert "x0" in table.output and "estimated accuracy" in table.output
    bad = CliRunner().invoke(
        main, ["monitor", "shop/1", "--server", f"http://127.0.0.1:{_free_port()}"], env=env
    )
    assert bad.exit_code == 1 and bad.output.startswith("error: cannot reach")
