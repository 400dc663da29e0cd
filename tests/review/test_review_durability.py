"""Nothing queued or labelled is lost, and no item is labelled twice, with real processes:

* reviewers racing in concurrent processes (SQLite and PostgreSQL; through a labline server,
  each with a token of their own; through two ``labline review serve`` processes) never label
  the same item twice;
* ``labline serve --workers 2`` on a calibrated version queues every deferred answer, also
  across a restart (the buffer is written on SIGTERM);
* ``labline review serve`` killed mid-work and started again has every label and item.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from review_support import draft

import labline
from http_store_support import ThreadedServer
from labline.server import ServerSettings, create_app

HERE = Path(__file__).parent
W = {"X-Labline-Review": "1"}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "LABLINE_HOME": str(home)}


def _wait_up(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text()[-2000:]}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start")


def _start(args: list[str], home: Path, probe: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = _free_port()
    log = home / f"proc-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "labline", *args, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(home),
        )
    url = f"http://127.0.0.1:{port}"
    _wait_up(proc, url + probe, log)
    return proc, url, log


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# -- racing reviewers ----------------------------------------------------------------------------


def _race(
    client: labline.Client,
    tmp_path: Path,
    reviews_needed: int,
    reviewer: Any,
    n_items: int = 120,
    n_reviewers: int = 4,
) -> None:
    """Queue ``n_items`` and let ``n_reviewers`` processes race for them; ``reviewer(k)``
    gives the k-th process's ``(home, uri, actor[, token])`` arguments."""
    client.enqueue_review_items([draft(i) for i in range(n_items)], reviews_needed=reviews_needed)
    start = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(HERE / "race_reviewer.py"),
                *reviewer(k)[:3],
                str(start),
                *reviewer(k)[3:],
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for k in range(n_reviewers)
    ]
    time.sleep(3)  # let every process import labline and open the store
    start.touch()
    counts = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()[-2000:]
        counts.append(int(out.decode().strip().splitlines()[-1]))
    decisions = client.review_decisions()
    assert sum(counts) == len(decisions) == n_items * reviews_needed
    per_item = Counter(d.item_id for d in decisions)
    assert set(per_item.values()) == {reviews_needed}  # never more labels than needed
    assert len({(d.item_id, d.reviewer) for d in decisions}) == len(decisions)  # nobody twice
    assert client.review_counts()["done"] == n_items
    assert sum(c > 0 for c in counts) >= 2  # they really raced


@pytest.mark.parametrize("reviews_needed", [1, 2])
def test_reviewers_in_concurrent_processes_never_label_an_item_twice(
    settings: labline.Settings, tmp_path: Path, reviews_needed: int
) -> None:
    with labline.Client(settings, actor="server") as client:
        _race(
            client,
            tmp_path,
            reviews_needed,
            lambda k: (str(settings.home), settings.uri, f"reviewer-{k}"),
        )


def test_reviewers_racing_through_a_labline_server_never_label_an_item_twice(
    http_server: ThreadedServer, tmp_path: Path
) -> None:
    # each process is a client of the server with its own reviewer token: claims cross the wire
    home = tmp_path / "server"
    with labline.Client(labline.Settings.local(home), actor="server") as client:
        tokens = [client.create_token(f"reviewer-{k}", "reviewer").secret for k in range(4)]
        http_server.switch.app = create_app(client, ServerSettings())
        try:
            _race(
                client,
                tmp_path,
                2,
                lambda k: (str(tmp_path / f"r{k}"), http_server.url, "ignored", tokens[k]),
                n_items=60,
            )
            assert {d.reviewer for d in client.review_decisions()} == {
                f"reviewer-{k}" for k in range(4)
            }
        finally:
            http_server.switch.app = None


def test_two_review_servers_racing_never_label_an_item_twice(tmp_path: Path) -> None:
    home = tmp_path / "home"
    client = labline.Client(labline.Settings.local(home), actor="server")
    n_items = 60
    client.enqueue_review_items([draft(i) for i in range(n_items)])
    servers = [
        _start(["review", "serve", "--as", who], home, "/api/counts") for who in ("ann", "bob")
    ]
    labelled: dict[str, list[int]] = {"ann": [], "bob": []}
    errors: list[str] = []

    def work(who: str, url: str) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            while True:
                item = http.get("/api/next", params={"order": "time"}).json()["item"]
                if item is None:
                    return
                r = http.post(
                    f"/api/items/{item['id']}/decide",
                    json={"kind": "label", "label": item["guess"]},
                    headers=W,
                )
                if r.status_code != 200:
                    errors.append(r.text)
                    return
                labelled[who].append(item["id"])

    try:
        threads = [
            threading.Thread(target=work, args=(who, url))
            for who, (_, url, _) in zip(("ann", "bob"), servers, strict=True)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
    finally:
        for proc, _, _ in servers:
            _stop(proc)
    assert not errors
    assert not set(labelled["ann"]) & set(labelled["bob"])
    assert len(labelled["ann"]) + len(labelled["bob"]) == n_items
    assert len(client.review_decisions()) == n_items
    client.close()


# -- restarts ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def calibrated_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    order = np.random.default_rng(0).permutation(len(y))
    train, cal, traffic = order[:400], order[400:1300], order[1300:]
    home = tmp_path_factory.mktemp("served")
    client = labline.Client(labline.Settings.local(home))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegression(max_iter=15).fit(X[train], y[train])
    with client.start_run("durability", capture_env=False) as run:
        run.log_model(model, "digits", input_example=X[train][:3], eval_inputs=X[cal][:40])
    client.calibrate("digits/1", (X[cal], y[cal]), target_error=0.02, confidence=0.9)
    client.close()
    return home, X[traffic]


def _sample(text: str, name: str, **labels: str) -> float:
    import re

    total = 0.0
    for line in text.splitlines():
        matches = re.match(rf"{name}[{{ ]", line)
        if matches and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _labline_out(home: Path, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "labline", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**_env(home), "COLUMNS": "200"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def _send(url: str, rows: np.ndarray) -> list[dict[str, Any]]:
    answers = []
    for row in rows:  # a new connection each: uvicorn spreads them over the workers
        r = httpx.post(f"{url}/predict", json=[{"input": row.tolist()}], timeout=30)
        assert r.status_code == 200
        answers.append(r.json())
    return answers


@pytest.mark.slow
@pytest.mark.timeout(900)  # two starts of two uvicorn workers on a busy machine
def test_serve_with_workers_queues_every_deferred_answer_across_a_restart(
    calibrated_home: tuple[Path, np.ndarray],
) -> None:
    home, traffic = calibrated_home
    args = ["serve", "digits/1", "--workers", "2", "--audit-fraction", "0.05", "--no-monitor"]
    answers: list[dict[str, Any]] = []
    for part in (traffic[:80], traffic[80:160]):  # serve, stop, serve again
        proc, url, log = _start(args, home, "/v2/health/ready")
        try:
            deadline = time.monotonic() + 120
            while _sample(httpx.get(f"{url}/metrics").text, "labline_serving_workers") != 2:
                assert time.monotonic() < deadline, "the second worker did not start"
                time.sleep(0.2)
            answers += _send(url, part)
            deadline = time.monotonic() + 30  # each worker publishes its counts every 0.2 s
            while True:
                text = httpx.get(f"{url}/metrics").text
                decided = _sample(text, "labline_serving_deferral_decisions_total")
                if decided == len(part) or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert decided == len(part)  # summed over both workers
            assert _sample(text, "labline_monitor_promised_deferral_rate") > 0
            shown = _labline_out(home, "monitor", "digits/1", "--server", url)
            assert "deferral (calibration 1, top ≥" in shown and "promised" in shown
        finally:
            _stop(proc)  # SIGTERM: each worker writes what it buffered
        assert "could not be queued" not in log.read_text()
    client = labline.Client(labline.Settings.local(home))
    items = client.list_review_items(status=None, limit=10_000)
    deferred_ids = {a["request_id"] for a in answers if a["deferred"][0]}
    kept_ids = {a["request_id"] for a in answers if not a["deferred"][0]}
    assert deferred_ids, "the weak model must defer some answers"
    assert {i.request_id for i in items if i.reason == "deferred"} == deferred_ids
    assert {i.request_id for i in items if i.reason == "audit"} <= kept_ids
    assert len(items) == len({i.request_id for i in items})  # each answer queued once
    client.close()


def test_review_server_killed_mid_work_loses_no_label_and_no_item(tmp_path: Path) -> None:
    home = tmp_path / "home"
    client = labline.Client(labline.Settings.local(home), actor="server")
    client.enqueue_review_items([draft(i) for i in range(12)])
    proc, url, _ = _start(["review", "serve", "--as", "ann"], home, "/api/counts")
    decided = []
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            for _ in range(5):
                item = http.get("/api/next", params={"order": "time"}).json()["item"]
                r = http.post(
                    f"/api/items/{item['id']}/decide",
                    json={"kind": "label", "label": item["guess"]},
                    headers=W,
                )
                assert r.status_code == 200
                decided.append(item["id"])
            claimed = http.get("/api/next", params={"order": "time"}).json()["item"]["id"]
    finally:
        _stop(proc, signal.SIGKILL)  # a crash, not a clean stop
    proc, url, _ = _start(["review", "serve", "--as", "ann"], home, "/api/counts")
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            counts = http.get("/api/counts").json()
            assert (counts["total"], counts["done"]) == (12, 5)
            # the item ann held when the server died is hers again, not lost nor doubled
            assert http.get("/api/next", params={"order": "time"}).json()["item"]["id"] == claimed
            recent = http.get("/api/recent").json()["decisions"]
            assert sorted(d["item_id"] for d in recent) == sorted(decided)
    finally:
        _stop(proc)
    assert [d.item_id for d in client.review_decisions()] == decided
    client.close()
