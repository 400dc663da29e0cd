"""Monitoring in the model server: live windows against the package's reference profile,
``GET /monitoring``, the gauges per model version, dropped batches, packages without a profile."""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from serving_support import load

from labline.serving import ServeSettings, StaticModelSource, create_app
from labline.serving._metrics import ServingMetrics
from labline.serving._monitoring import LiveMonitor


def run_async(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test body in its own event loop (the suite has no async plugin)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    return wrapper


def _shop_data(n: int, rng: np.random.Generator, shift: float = 0.0) -> dict[str, Any]:
    income = rng.normal(50.0 + 10.0 * shift, 10.0, n)
    age = rng.integers(18, 80, n)
    plan = rng.choice(["basic", "plus", "pro"], size=n, p=[0.5, 0.3, 0.2])
    return {"income": income, "age": age, "plan": plan}


@pytest.fixture(scope="module")
def shop_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A calibrated-ish classifier on named columns, packaged with 400 evaluation rows."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from labline.models import write_package

    rng = np.random.default_rng(0)
    train = _shop_data(1000, rng)
    logit = (train["income"] - 50) / 10 + (train["plan"] == "pro") - 0.02 * (train["age"] - 50)
    y = np.where(rng.random(1000) < 1 / (1 + np.exp(-logit)), "buys", "leaves")
    X = np.column_stack([train["income"], train["age"], train["plan"]]).astype(object)
    model = make_pipeline(
        ColumnTransformer(
            [
                ("num", StandardScaler(), [0, 1]),
                ("cat", OneHotEncoder(handle_unknown="ignore"), [2]),
            ]
        ),
        LogisticRegression(),
    ).fit(X, y)
    evaluation = _shop_data(400, rng)
    folder = tmp_path_factory.mktemp("pkg") / "shop"
    write_package(
        model,
        folder,
        name="shop",
        input_example={k: v[:5] for k, v in evaluation.items()},
        eval_inputs=evaluation,
    )
    return folder


def _records(data: dict[str, Any]) -> list[dict[str, Any]]:
    n = len(data["income"])
    return [
        {
            "income": float(data["income"][i]),
            "age": int(data["age"][i]),
            "plan": str(data["plan"][i]),
        }
        for i in range(n)
    ]


async def _send(client: httpx.AsyncClient, data: dict[str, Any], per_request: int = 25) -> None:
    records = _records(data)
    for start in range(0, len(records), per_request):
        r = await client.post("/predict", json={"records": records[start : start + per_request]})
        assert r.status_code == 200, r.text


@run_async
async def test_unshifted_traffic_is_quiet_and_shifted_traffic_drifts(
    make_client, shop_package
) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    async with make_client(shop_package, monitor_window=500) as client:
        r = await client.get("/monitoring")
        assert r.json()["status"] == "no traffic"
        await _send(client, _shop_data(500, rng))
        doc = (await client.get("/monitoring")).json()
        assert doc["status"] == "ok"
        assert doc["model"]["name"] == "shop"
        assert doc["window"]["rows"] == 500
        report = doc["report"]
        assert [f["feature"] for f in report["features"]] == ["income", "age", "plan"]
        tests = {f["feature"]: f["test"] for f in report["features"]}
        assert tests == {"income": "ks", "age": "ks", "plan": "chi2"}
        assert report["drifted"] == []
        acc = report["accuracy"]
        assert acc["ci_low"] <= acc["value"] <= acc["ci_high"]
        assert acc["reference"] == pytest.approx(doc["reference"]["expected_accuracy"])
        # now the incomes move up by one standard deviation: the window fills with them
        await _send(client, _shop_data(500, rng, shift=1.0))
        doc = (await client.get("/monitoring")).json()
        report = doc["report"]
        assert report["drifted"] == ["income"]
        assert report["drifted_share"] == pytest.approx(1 / 3)
        assert report["predictions"]["drifted"]
        metrics = (await client.get("/metrics")).text
        share = re.search(
            r'labline_monitor_drifted_feature_share\{model="shop",version=""\} (\S+)', metrics
        )
        assert share is not None and float(share.group(1)) == pytest.approx(1 / 3)
        assert re.search(
            r'labline_monitor_feature_drift_p_value\{feature="income",model="shop",version=""\} ',
            metrics,
        )
        assert 'labline_monitor_window_rows{model="shop",version=""} 500.0' in metrics
        assert "labline_monitor_estimated_accuracy{" in metrics


@run_async
async def test_the_exported_features_are_capped(make_client, package_v1) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(2)
    async with make_client(package_v1, monitor_max_features=5) as client:
        rows = rng.random((30, 64)).round(2).tolist()
        r = await client.post("/predict", json=[{"input": row} for row in rows])
        assert r.status_code == 200
        doc = (await client.get("/monitoring")).json()
        assert len(doc["report"]["features"]) == 64
        assert doc["exported_features"] == 5
        metrics = (await client.get("/metrics")).text
        labels = set(
            re.findall(r'labline_monitor_feature_drift_p_value\{feature="([^"]+)"', metrics)
        )
        assert labels == {f"input[{j}]" for j in range(5)}


@run_async
async def test_a_package_without_a_profile_is_served_and_says_so(  # type: ignore[no-untyped-def]
    make_client, shop_package, tmp_path
) -> None:
    import shutil

    from labline.core._profile import PROFILE_FILE
    from labline.models import Manifest, read_verified

    old = tmp_path / "old"
    shutil.copytree(shop_package, old)
    manifest = read_verified(old).manifest
    (old / PROFILE_FILE).unlink()
    stripped = Manifest(
        **{
            **manifest.__dict__,
            "profile": None,
            "files": tuple(f for f in manifest.files if f.path != PROFILE_FILE),
        }
    )
    (old / "manifest.json").write_bytes(stripped.canonical_bytes())
    async with make_client(old) as client:
        await _send(client, _shop_data(30, np.random.default_rng(3)))
        doc = (await client.get("/monitoring")).json()
        assert doc["status"] == "no reference"
        assert doc["report"] is None
        metrics = (await client.get("/metrics")).text
        assert 'labline_monitor_reference_present{model="shop",version=""} 0.0' in metrics


@run_async
async def test_monitoring_switched_off(make_client, shop_package) -> None:  # type: ignore[no-untyped-def]
    async with make_client(shop_package, monitor=False) as client:
        await _send(client, _shop_data(30, np.random.default_rng(4)))
        doc = (await client.get("/monitoring")).json()
        assert doc["status"] == "off"
        assert "labline_monitor_window_rows{" not in (await client.get("/metrics")).text


def test_a_full_queue_drops_batches_and_counts_them(shop_package) -> None:
    metrics = ServingMetrics()
    monitor = LiveMonitor(metrics, queue_batches=2)
    for _ in range(5):
        monitor.offer([])
    monitor.drain()
    text = metrics.render()[0].decode()
    assert "labline_monitor_dropped_batches_total 3.0" in text


def test_the_background_thread_publishes_on_its_own(serve_in_thread, shop_package) -> None:  # type: ignore[no-untyped-def]
    import time

    srv = serve_in_thread(shop_package, monitor_interval_s=0.2)
    records = _records(_shop_data(200, np.random.default_rng(5), shift=1.5))
    with httpx.Client(base_url=srv.url, timeout=30) as client:
        assert client.post("/predict", json={"records": records}).status_code == 200
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = client.get("/metrics").text
            m = re.search(r"labline_monitor_drifted_feature_share\{[^}]*\} (\S+)", text)
            if m and float(m.group(1)) > 0:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the drift gauges were never set")


def test_invalid_monitoring_settings_are_refused() -> None:
    from labline import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="monitor_window"):
        ServeSettings(monitor_window=1)
    with pytest.raises(InvalidArgumentError, match="monitor_interval_s"):
        ServeSettings(monitor_interval_s=0)
    assert create_app  # the public factory serves with monitoring on by default
    assert ServeSettings().monitor
    assert StaticModelSource
    assert load


def test_the_window_tests_exactly_its_last_rows(shop_package) -> None:
    """Model calls are kept as their own arrays and turned into features only when tested: the
    report equals a drift test of the last ``capacity`` rows done by hand, including calls
    that computed no probabilities (no confidence for their rows)."""
    from labline.core._profile import confidence_of
    from labline.core.stats import drift_report
    from labline.serving._model import ServedModel
    from labline.serving._monitoring import ModelWindow, _Chunk

    served = ServedModel(load(shop_package))
    classes = served.classes
    assert classes is not None and served.model.reference_profile is not None
    rng = np.random.default_rng(6)
    window = ModelWindow(served, capacity=100)
    sent: list[tuple[dict[str, Any], Any, Any]] = []
    for k, n in enumerate([30, 45, 20, 40, 35]):
        data = _shop_data(n, rng, shift=0.5 * (k % 2))
        columns = {
            "income": data["income"],
            "age": data["age"].astype(np.int64),
            "plan": data["plan"].astype(object),
        }
        proba = rng.dirichlet([1, 1], size=n)
        preds = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
        kept_proba = None if k == 2 else proba
        window.add(_Chunk(columns, preds, kept_proba, n))
        sent.append((columns, preds, kept_proba))
    assert window.seen == 170
    assert window.rows - window.chunks[0].rows < 100 <= window.rows  # the oldest is needed
    features, predictions, confidence = window.arrays()
    every = {name: np.concatenate([c[name] for c, _, _ in sent])[-100:] for name in sent[0][0]}
    want_preds = np.concatenate([p for _, p, _ in sent])[-100:]
    with_proba = [(p, q) for _, p, q in sent if q is not None]
    want_conf = confidence_of(
        np.concatenate([p for p, _ in with_proba]),
        np.concatenate([q for _, q in with_proba]),
        classes,
    )[-100:]
    for name in every:
        assert np.array_equal(features[name], every[name])
    assert np.array_equal(predictions, want_preds)
    assert confidence is not None and np.allclose(confidence, want_conf)
    profile = served.model.reference_profile
    got = drift_report(profile, features, predictions=predictions, confidence=confidence)
    want = drift_report(profile, every, predictions=want_preds, confidence=want_conf)
    assert got.to_json() == want.to_json()


def test_the_report_puts_the_audited_accuracy_beside_the_estimate(  # type: ignore[no-untyped-def]
    serve_in_thread, tmp_path
) -> None:
    """Reviewers' labels on audit samples of the served version give its live accuracy with
    a Wilson interval; deferred items and other versions do not count."""
    from datetime import UTC, datetime

    from click.testing import CliRunner
    from sklearn.linear_model import LogisticRegression

    import labline
    from labline import ReviewItemDraft
    from labline.cli import main
    from labline.core.stats._agreement import wilson_interval

    settings = labline.Settings.local(tmp_path / "home")
    rng = np.random.default_rng(8)
    X = rng.normal(size=(300, 3))
    y = np.where(X[:, 0] > 0, "buys", "leaves")
    with labline.start_run(experiment="live-accuracy", settings=settings) as run:
        v1 = run.log_model(
            LogisticRegression().fit(X, y), "shop", input_example=X[:5], eval_inputs=X
        )
        v2 = run.log_model(LogisticRegression(C=0.1).fit(X, y), "shop", input_example=X[:5])
    with labline.Client(settings, actor="ann") as client:

        def draft(i: int, version: Any, reason: str) -> ReviewItemDraft:
            return ReviewItemDraft(
                model_name="shop",
                model_version=version.version,
                model_digest=version.digest,
                calibration_id=None,
                inputs=X[i].tolist(),
                guess="buys",
                confidence=0.9,
                margin=None,
                reason=reason,  # type: ignore[arg-type]
                request_id=f"r{i}",
                created_at=datetime.now(UTC),
            )

        client.enqueue_review_items(
            [draft(i, v1, "audit") for i in range(20)]
            + [draft(20 + i, v1, "deferred") for i in range(5)]
            + [draft(30 + i, v2, "audit") for i in range(5)]
        )
        decided = 0
        while (item := client.next_review_item(order="time")) is not None:
            # v1's audit samples: 16 of 20 guesses right; everything else wrong
            right = item.reason == "audit" and item.model_version == 1 and decided < 16
            client.label_review_item(item.id, "buys" if right else "leaves")
            decided += 1
        srv = serve_in_thread(StaticModelSource(client.load_model("shop/1")))
        with httpx.Client(base_url=srv.url, timeout=30) as http:
            rows = X[:50].tolist()
            assert http.post("/predict", json=[{"input": r} for r in rows]).status_code == 200
        report = client.monitor("shop/1", srv.url)
    live = report.live_accuracy
    assert live is not None and (live.correct, live.checked) == (16, 20)
    assert (live.ci_low, live.ci_high) == pytest.approx(wilson_interval(16, 20))
    assert report.to_json()["live_accuracy"]["accuracy"] == pytest.approx(0.8)
    env = {"LABLINE_HOME": str(tmp_path / "home")}
    out = CliRunner().invoke(main, ["monitor", "shop/1", "--server", srv.url], env=env)
    assert out.exit_code == 0, out.output
    assert "live accuracy on 20 reviewed audit samples: 0.800" in " ".join(out.output.split())
    assert "estimated accuracy:" in out.output


@run_async
async def test_concurrent_requests_enter_the_window_once_per_model_call(  # type: ignore[no-untyped-def]
    make_client, shop_package
) -> None:
    """A batch of coalesced requests is handed to monitoring as one model call (its arrays),
    and every row of every request is in the window, in the order the model saw them."""
    data = _shop_data(60, np.random.default_rng(9))
    records = _records(data)
    async with make_client(shop_package, max_batch_size=64) as client:
        rs = await asyncio.gather(
            *[
                client.post("/predict", json={"records": records[i : i + 3]})
                for i in range(0, 60, 3)
            ]
        )
        assert all(r.status_code == 200 for r in rs)
        server = client.app.server
        monitor = server.monitor
        monitor.drain()
        window = monitor._current
        assert window is not None and window.seen == 60
        assert len(window.chunks) < 20  # fewer chunks than requests: one per model call
        features, _, _ = window.arrays()
        assert sorted(features["income"].tolist()) == sorted(data["income"].tolist())
