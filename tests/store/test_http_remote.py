"""The HTTP store against a real ``labline server`` process: metric logging that survives a
SIGKILLed server (nothing lost, nothing twice), blobs through the server (digest checked on
arrival, uploads skipped when present, chunked uploads, streamed downloads), a second user who
shares only the URL and a token, and 20 concurrent client processes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from remote_server import ServerProcess

import labline
from labline.store.http import HttpBlobStore, HttpStore


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("server-home")).start()
    yield proc
    proc.stop()


def test_a_killed_server_loses_and_duplicates_no_point(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "server").start()
    try:
        client = labline.Client(server.settings(tmp_path / "user"))
        assert isinstance(client.store, HttpStore)
        logged: dict[str, list[float]] = {"loss": [], "acc": []}
        killed = threading.Event()

        def kill_and_restart() -> None:
            time.sleep(1.0)
            server.kill()
            killed.set()
            time.sleep(1.5)  # the writer retries with backoff meanwhile
            server.start()

        with client.start_run("remote", capture_env=False, flush_interval=0.05) as run:
            chaos = threading.Thread(target=kill_and_restart)
            chaos.start()
            rng = np.random.default_rng(0)
            step = 0
            while not killed.is_set() or chaos.is_alive():
                for _ in range(1000):
                    v = float(rng.random())
                    run.log_metric("loss", v)
                    logged["loss"].append(v)
                    if step % 10 == 0:
                        run.log_metric("acc", -v, step=step)
                        logged["acc"].append(-v)
                    step += 1
                time.sleep(0.002)
            chaos.join()
        for key, values in logged.items():
            series = client.get_metric_series(run.id, key)
            assert len(series) == len(values), key  # nothing lost, nothing twice
            np.testing.assert_array_equal(series.values, values)
        np.testing.assert_array_equal(
            client.get_metric_series(run.id, "loss").steps, np.arange(step)
        )
        assert client.get_run(run.id).status is labline.RunStatus.FINISHED
        assert client.get_run(run.id).created_by == "ana"  # the token's name
        client.close()
    finally:
        server.stop()


def test_log_metric_blocks_when_the_server_is_gone_and_warns_once(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "server").start()
    try:
        settings = server.settings(tmp_path / "user")
        import dataclasses

        client = labline.Client(dataclasses.replace(settings, max_buffered_points=100_000))
        run = client.start_run("bounded", capture_env=False, flush_interval=0.05)
        run.log_metric("x", 0.0)
        run.flush()
        server.kill()
        done = threading.Event()

        def log() -> None:
            for i in range(1, 3_000_001):
                run.log_metric("x", float(i))
            done.set()

        with pytest.warns(ResourceWarning, match="log_metric blocks") as caught:
            t = threading.Thread(target=log)
            t.start()
            time.sleep(3.0)
            assert not done.is_set()  # blocked: memory stays bounded
            # the limit, give or take what the fast path logs in one tick of the writer
            assert run._writer.pending_points + len(run._series["x"].values) < 1_000_000
            server.start()
            t.join(timeout=120)
        assert done.is_set()
        assert len([w for w in caught if issubclass(w.category, ResourceWarning)]) == 1
        run.end()
        series = client.get_metric_series(run.id, "x")
        np.testing.assert_array_equal(series.values, np.arange(3_000_001, dtype=float))
        client.close()
    finally:
        server.stop()


def test_blobs_are_checked_skipped_chunked_and_streamed(
    server: ServerProcess, tmp_path: Path
) -> None:
    http = httpx.Client(
        base_url=f"{server.url}/api/v1",
        headers={"authorization": f"Bearer {server.researcher_token}"},
    )
    data = b"labline" * 1000
    digest = hashlib.sha256(data).hexdigest()
    wrong = http.put(f"/blobs/{'0' * 64}", content=data)
    assert wrong.status_code == 400 and wrong.json()["error"]["field"] == "digest"
    assert http.head(f"/blobs/{'0' * 64}").status_code == 404
    assert http.put(f"/blobs/{digest}", content=data).status_code == 200
    assert http.head(f"/blobs/{digest}").status_code == 200

    store = HttpStore(server.url, server.researcher_token)
    blobs = HttpBlobStore(store.http, chunked_above=1 << 20)
    requests: list[str] = []
    store.http._http.event_hooks["request"].append(
        lambda r: requests.append(f"{r.method} {r.url.path}")
    )
    big = tmp_path / "big.bin"
    big.write_bytes(np.random.default_rng(1).bytes(40 * 1024 * 1024 + 17))
    big_digest = blobs.put_file(big)
    patches = [r for r in requests if r.startswith("PATCH")]
    assert len(patches) == 3  # 16 + 16 + 8 MiB chunks
    requests.clear()
    assert blobs.put_file(big) == big_digest
    assert requests == [f"HEAD /api/v1/blobs/{big_digest}"]  # already there: skipped
    out = tmp_path / "back.bin"
    blobs.download_verified(big_digest, out)
    assert out.read_bytes() == big.read_bytes()
    # a chunk that does not follow is refused naming the offset; a bad commit names the digest
    upload = http.post("/blobs/uploads").json()["upload_id"]
    assert (
        http.patch(f"/blobs/uploads/{upload}", params={"offset": 5}, content=b"x").status_code
        == 409
    )
    http.patch(f"/blobs/uploads/{upload}", params={"offset": 0}, content=b"abc")
    bad = http.post(f"/blobs/uploads/{upload}/commit", params={"digest": "1" * 64})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "digest"
    viewer = (
        labline.Client(labline.Settings.local(server.home)).create_token("vic", "viewer").secret
    )
    refused = httpx.put(
        f"{server.url}/api/v1/blobs/{digest}",
        content=data,
        headers={"authorization": f"Bearer {viewer}"},
    )
    assert refused.status_code == 403
    store.close()
    http.close()


_SECOND_USER = textwrap.dedent(
    """
    import json, numpy as np, labline
    client = labline.Client()  # LABLINE_URI, LABLINE_TOKEN, its own LABLINE_HOME: nothing else
    runs = client.search_runs("team")
    report = client.compare(
        "team:model=a", "team:model=b", metric="accuracy", n_resamples=500,
        evaluate_hypotheses=False,
    )
    model = client.load_model("digits@production")
    x = np.load(__import__("sys").argv[1])
    print(json.dumps({
        "runs": len(runs),
        "verdict": str(report.comparisons[0].verdict),
        "examples": report.n_examples,
        "predictions": [int(p) for p in model.predict(x)],
    }))
    """
)


def test_a_second_user_compares_and_loads_a_model_with_only_url_and_token(
    server: ServerProcess, tmp_path: Path
) -> None:
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    X, y = load_digits(return_X_y=True)
    first = labline.Client(server.settings(tmp_path / "first", server.admin_token))
    for model, seed in [("a", 0), ("a", 1), ("b", 0), ("b", 1)]:
        with first.start_run(
            "team", params={"model": model, "seed": seed}, capture_env=False
        ) as run:
            rng = np.random.default_rng(seed + (10 if model == "b" else 0))
            pred = np.where(rng.random(len(y)) < (0.8 if model == "a" else 0.9), y, (y + 1) % 10)
            run.log_predictions("test", np.arange(len(y)), y, pred)
    with first.start_run("team", params={"model": "logreg"}, capture_env=False) as run:
        clf = LogisticRegression(max_iter=300).fit(X[:1000], y[:1000])
        version = run.log_model(clf, name="digits", input_example=X[:5])
    first.promote("digits", version.version, "production", reason="team demo", skip_parity=True)
    first.close()
    np.save(tmp_path / "x.npy", X[1000:1010])
    out = subprocess.run(
        [sys.executable, "-c", _SECOND_USER, str(tmp_path / "x.npy")],
        env=server.env(tmp_path / "second"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["runs"] == 5 and result["examples"] == len(y) and result["verdict"]
    assert result["predictions"] == [int(p) for p in clf.predict(X[1000:1010])]
    assert not (tmp_path / "second" / "blobs").exists() or not any(
        (tmp_path / "second" / "blobs").rglob("*")
    )  # every blob came from the server


_WORKER = textwrap.dedent(
    """
    import sys, labline
    worker = int(sys.argv[1])
    client = labline.Client()
    with client.start_run("crowd", name=f"w{worker}", capture_env=False, flush_interval=0.05) as run:
        for step in range(20_000):
            run.log_metric("loss", worker + step / 1e5)
        run.log_params({"worker": worker})
        path = sys.argv[2]
        open(path, "w").write(f"artifact of worker {worker}\\n")
        run.log_artifact(path)
    print(run.id)
    """
)


def test_twenty_concurrent_clients_lose_and_duplicate_nothing(
    server: ServerProcess, tmp_path: Path
) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(i), str(tmp_path / f"a{i}.txt")],
            env=server.env(tmp_path / f"home{i}"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(20)
    ]
    run_ids = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
        run_ids.append(out.strip().splitlines()[-1])
    client = labline.Client(server.settings(tmp_path / "checker"))
    runs = client.search_runs("crowd")
    assert sorted(r.id for r in runs) == sorted(run_ids) and len(runs) == 20
    for run in runs:
        worker = int(run.params["worker"])
        series = client.get_metric_series(run.id, "loss")
        np.testing.assert_array_equal(series.steps, np.arange(20_000))
        np.testing.assert_allclose(series.values, worker + np.arange(20_000) / 1e5)
        (artifact,) = client.list_artifacts(run.id)
        dest = client.download_artifact(run.id, artifact.path, tmp_path / "dl" / run.id)
        assert Path(dest).read_text() == f"artifact of worker {worker}\n"
    client.close()
