"""The monitoring page against a real ``labline serve`` (subprocess on a free port) fed
shifted traffic: the drift table, the label-free accuracy, the digest check, and who may ask."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from browser_support import free_port, subprocess_env
from ui_support import FakeAuth, UIHttp

import labline
from labline.server.ui import WebUI


def _rows(rng: np.random.Generator, n: int, shift: float) -> list[dict[str, float]]:
    x = rng.normal(size=(n, 3))
    x[:, 0] += shift
    return [{"x0": float(a), "x1": float(b), "x2": float(c)} for a, b, c in x]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, labline.Settings]]:
    """``labline serve shop/1`` with a reference profile, after 300 rows of shifted traffic."""
    from sklearn.linear_model import LogisticRegression

    settings = labline.Settings.local(tmp_path_factory.mktemp("ui-monitor"))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(size=1000) > 0).astype(int)
    columns = {f"x{j}": X[600:, j] for j in range(3)}
    with labline.Client(settings) as client, client.start_run("shop", capture_env=False) as run:
        run.log_model(
            LogisticRegression().fit(X[:600], y[:600]),
            "shop",
            input_example={k: v[:5] for k, v in columns.items()},
            eval_inputs=columns,
            eval_labels=y[600:],
        )
    port = free_port()
    cmd = [sys.executable, "-m", "labline", "serve", "shop/1", "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--monitor-interval", "0.3", "--monitor-window", "300", "--log-level", "warning"],
        env=subprocess_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "labline serve failed"
            time.sleep(0.3)
        traffic = np.random.default_rng(2)
        for _ in range(6):
            r = httpx.post(f"{url}/predict", json={"records": _rows(traffic, 50, 1.0)}, timeout=30)
            assert r.status_code == 200
        time.sleep(1.0)  # the monitor thread evaluates every 0.3 s
        yield url, settings
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_monitoring_page_shows_the_live_report(served: tuple[str, labline.Settings]) -> None:
    url, settings = served
    with labline.Client(settings) as client:
        http = UIHttp(FakeAuth(WebUI(), client), {"x-test-role": "engineer"})
        assert "Give a model reference" in http.get("/monitoring").text
        page = http.get("/monitoring", params={"ref": "shop/1", "server": url})
        assert page.status_code == 200, page.text
        text = page.text
        assert 'data-status="ok"' in text and "serves exactly what shop/1 points at" in text
        drift = text.split('id="drift"')[1].split("</table>")[0]
        x0 = drift.split("<td>x0</td>")[1].split("</tr>")[0]
        assert "yes" in x0  # the shifted feature drifted
        assert "<td>x1</td>" in drift and 'id="accuracy"' in text
        assert 'href="/monitoring"' in text  # in the nav for a role that may promote
        viewer = http.as_role("viewer")
        assert viewer.get("/monitoring", params={"ref": "shop/1", "server": url}).status_code == 403
        assert 'href="/monitoring"' not in viewer.get("/runs").text
        bad = http.get("/monitoring", params={"ref": "shop/1", "server": "file:///etc/passwd"})
        assert bad.status_code == 400 and "http" in bad.text
        gone = http.get(
            "/monitoring", params={"ref": "shop/1", "server": f"http://127.0.0.1:{free_port()}"}
        )
        assert gone.status_code == 400 and "reach" in gone.text
        assert http.get("/monitoring", params={"ref": "nope/1", "server": url}).status_code == 404
