"""Deferral in serving: a calibrated version answers ``deferred`` and ``confidence`` on
``/predict`` and in the Open Inference Protocol; deferred items and an audit sample reach the
persistent review queue through the bounded buffer; a full buffer counts drops; a failing
store is retried; Prometheus shows the deferral rate against the promise, the queue and the
live accuracy on audits; a new calibration applies without a restart."""

from __future__ import annotations

import asyncio
import functools
import re
import struct
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import httpx
import numpy as np
import pytest

import labline
from labline.core.stats._abstention import confidence_scores, deferral_decisions
from labline.serving import RegistryModelSource, ServeSettings, create_app


def run_async(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    return wrapper


def _sample(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.fixture(scope="module")
def digits_data() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


@pytest.fixture(scope="module")
def calibrated(
    tmp_path_factory: pytest.TempPathFactory, digits_data: Any
) -> Iterator[tuple[labline.Client, labline.Calibration, np.ndarray, np.ndarray]]:
    """digits/1 (a weak model, so it defers) calibrated on held-out data; a held-out
    traffic set."""
    import warnings

    from sklearn.linear_model import LogisticRegression

    X, y = digits_data
    order = np.random.default_rng(0).permutation(len(y))
    train, cal, traffic = order[:400], order[400:1300], order[1300:]
    client = labline.Client(labline.Settings.local(tmp_path_factory.mktemp("deferral")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegression(max_iter=15).fit(X[train], y[train])
    with client.start_run("deferral", capture_env=False) as run:
        run.log_model(model, "digits", input_example=X[train][:3], eval_inputs=X[cal][:40])
    calibration = client.calibrate("digits/1", (X[cal], y[cal]), target_error=0.02, confidence=0.9)
    yield client, calibration, X[traffic], y[traffic]
    client.close()


def _app(client: labline.Client, **settings: Any) -> Any:
    settings.setdefault("monitor", False)
    return create_app(
        ServeSettings(**settings), RegistryModelSource("digits/1", client), review_client=client
    )


def _fresh_queue(client: labline.Client) -> None:
    """Mark every queued item done so each test counts only its own (the store is shared)."""
    ids = [i.id for i in client.list_review_items(status="pending", limit=10_000)]
    if ids:
        client.set_reviews_needed(ids, 1)
        reviewer = client.as_actor("cleaner")
        while (item := reviewer.next_review_item(order="time")) is not None:
            reviewer.reject_review_item(item.id)


@run_async
async def test_predict_answers_deferred_and_confidence_and_queues_them(calibrated) -> None:
    client, cal, X, _ = calibrated
    _fresh_queue(client)
    before = {i.id for i in client.list_review_items(status=None, limit=10_000)}
    app = _app(client, audit_fraction=0.0)
    rows = X[:60]
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://serve") as http:
            r = await http.post(
                "/predict",
                json={"columns": {"input": rows.tolist()}},
                headers={"x-request-id": "batch-1"},
            )
            single = await http.post("/predict", json=[{"input": rows[0].tolist()}])
    assert r.status_code == 200
    doc = r.json()
    model = client.load_model("digits/1")
    proba = model.predict_proba(rows)
    expected = deferral_decisions(proba, "top", cal.threshold)
    assert doc["deferred"] == expected.tolist() and 0 < sum(doc["deferred"]) < len(rows)
    assert np.allclose(doc["confidence"], confidence_scores(proba))
    assert doc["request_id"] == "batch-1" and r.headers["x-request-id"] == "batch-1"
    assert doc["model"]["calibration_id"] == cal.id
    assert "probabilities" in doc
    generated = single.json()["request_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    # the lifespan's end flushed the buffer: exactly the deferred rows are queued
    new = [i for i in client.list_review_items(status=None, limit=10_000) if i.id not in before]
    from_batch = [i for i in new if i.request_id == "batch-1"]
    assert len(from_batch) == int(expected.sum())
    assert all(i.reason == "deferred" for i in new)
    item = from_batch[0]
    row = int(np.flatnonzero(expected)[0])
    assert item.inputs == pytest.approx(rows[row].tolist())
    assert item.guess == int(model.predict(rows[row : row + 1])[0])
    assert item.confidence == pytest.approx(doc["confidence"][row])
    top2 = np.sort(proba[row])[-2:]
    assert item.margin == pytest.approx(top2[1] - top2[0])
    assert (item.model_name, item.model_version, item.calibration_id) == ("digits", 1, cal.id)
    assert item.model_digest == model.digest and item.created_at.tzinfo is not None
    assert {i.request_id for i in new} == {"batch-1"} | (
        {generated} if doc["deferred"][0] else set()
    )


@run_async
async def test_audit_fraction_sends_confident_answers_too(calibrated) -> None:
    client, _cal, X, _ = calibrated
    _fresh_queue(client)
    app = _app(client, audit_fraction=1.0)
    rows = X[60:100]
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://serve") as http:
            r = await http.post("/predict", json={"columns": {"input": rows.tolist()}})
    deferred = r.json()["deferred"]
    items = client.list_review_items(status="pending", limit=10_000)
    mine = [i for i in items if i.request_id == r.json()["request_id"]]
    assert len(mine) == len(rows)
    assert sum(i.reason == "audit" for i in mine) == len(rows) - sum(deferred)


@run_async
async def test_open_inference_protocol_outputs_and_metadata(calibrated) -> None:
    client, cal, X, _ = calibrated
    app = _app(client, review=False)
    rows = X[:8]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://serve") as http:
        meta = (await http.get("/v2/models/digits")).json()
        outputs = {o["name"]: o for o in meta["outputs"]}
        assert outputs["deferred"] == {"name": "deferred", "datatype": "BOOL", "shape": [-1]}
        assert outputs["confidence"] == {"name": "confidence", "datatype": "FP64", "shape": [-1]}
        assert meta["parameters"]["calibration_id"] == cal.id
        tensor = {"name": "input", "datatype": "FP64", "shape": [8, 64]}
        body = {"id": "oip-1", "inputs": [{**tensor, "data": rows.reshape(-1).tolist()}]}
        r = await http.post("/v2/models/digits/infer", json=body)
        assert r.status_code == 200 and r.json()["id"] == "oip-1"
        got = {o["name"]: o for o in r.json()["outputs"]}
        assert set(got) == {"predictions", "probabilities", "deferred", "confidence"}
        expected = deferral_decisions(
            client.load_model("digits/1").predict_proba(rows), "top", cal.threshold
        )
        assert (
            got["deferred"]["datatype"] == "BOOL" and got["deferred"]["data"] == expected.tolist()
        )
        assert got["confidence"]["datatype"] == "FP64" and len(got["confidence"]["data"]) == 8
        assert r.headers["x-request-id"] == "oip-1"
        # only the decision, in binary: BOOL is one byte per row, FP64 eight
        body = {
            "inputs": [{**tensor, "data": rows.reshape(-1).tolist()}],
            "outputs": [
                {"name": "deferred", "parameters": {"binary_data": True}},
                {"name": "confidence", "parameters": {"binary_data": True}},
            ],
        }
        r = await http.post("/v2/models/digits/infer", json=body)
        hlen = int(r.headers["inference-header-content-length"])
        head = r.content[:hlen]
        import json

        outs = json.loads(head)["outputs"]
        assert [o["parameters"]["binary_data_size"] for o in outs] == [8, 64]
        raw = r.content[hlen:]
        assert [bool(b) for b in raw[:8]] == expected.tolist()
        conf = struct.unpack("<8d", raw[8:])
        assert np.allclose(conf, got["confidence"]["data"])
        # a bad request id is a clear 400
        r = await http.post(
            "/predict",
            json={"columns": {"input": rows[:1].tolist()}},
            headers={"x-request-id": "x" * 300},
        )
        assert r.status_code == 400 and "X-Request-ID" in r.json()["error"]


@run_async
async def test_full_buffer_counts_drops_and_metrics_show_the_promise(calibrated) -> None:
    client, cal, X, _ = calibrated
    app = _app(client, review_buffer=3, audit_fraction=0.0)
    feed = app.server.review
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://serve") as http:
        # the writer is not running (no lifespan): the buffer fills up
        for row in X[:160]:
            r = await http.post("/predict", json=[{"input": row.tolist()}])
            assert r.status_code == 200
        deferred = feed.snapshot()["deferred"]
        assert deferred > 3
        feed.publish()
        text = (await http.get("/metrics")).text
    ids = {"model": "digits", "version": "1"}
    assert _sample(text, "labline_review_dropped_items_total", cause="buffer_full") == deferred - 3
    assert _sample(text, "labline_review_buffered_items") == 3
    assert (
        _sample(text, "labline_serving_deferral_decisions_total", **ids, decision="deferred")
        == deferred
    )
    assert (
        _sample(text, "labline_serving_deferral_decisions_total", **ids, decision="answered")
        == 160 - deferred
    )
    assert _sample(text, "labline_monitor_deferral_rate", **ids) == pytest.approx(deferred / 160)
    assert _sample(text, "labline_monitor_promised_deferral_rate", **ids) == pytest.approx(
        1 - cal.coverage
    )
    assert _sample(text, "labline_monitor_promised_deferral_rate_high", **ids) == pytest.approx(
        1 - cal.coverage_low
    )
    feed.stop(timeout=5)  # the three buffered items are written
    assert feed.enqueued == 3


class _FlakyClient:
    """The real client, whose first ``failures`` writes fail as a down database would."""

    def __init__(self, client: labline.Client, failures: int) -> None:
        self.client = client
        self.failures = failures

    def enqueue_review_items(self, items: Any, *, reviews_needed: int = 1) -> list[int]:
        if self.failures:
            self.failures -= 1
            raise labline.StorageError("the database is unreachable")
        return self.client.enqueue_review_items(items, reviews_needed=reviews_needed)

    def review_counts(self, *, model: str | None = None) -> dict[str, int]:
        return self.client.review_counts(model=model)

    def audit_accuracy(self, model: str, version: int | None = None) -> Any:
        return self.client.audit_accuracy(model, version)


@run_async
async def test_a_failing_store_is_retried_and_nothing_is_lost(calibrated, caplog) -> None:
    client, _cal, X, _ = calibrated
    _fresh_queue(client)
    flaky = _FlakyClient(client, failures=2)
    app = create_app(
        ServeSettings(monitor=False, audit_fraction=0.0),
        RegistryModelSource("digits/1", client),
        review_client=flaky,
    )
    feed = app.server.review
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://serve") as http:
        r = await http.post("/predict", json={"columns": {"input": X[:50].tolist()}})
    n = sum(r.json()["deferred"])
    assert not feed.write_pending() and feed.write_errors == 1  # down: kept in the buffer
    feed._retry_at = 0.0
    assert not feed.write_pending() and feed.write_errors == 2
    feed._retry_at = 0.0
    assert feed.write_pending() and feed.enqueued == n and feed.snapshot()["buffered"] == 0
    queued = [i for i in client.list_review_items(status="pending", limit=10_000)]
    assert len([i for i in queued if i.request_id == r.json()["request_id"]]) == n
    assert "unreachable" in caplog.text and "0.0625" not in caplog.text


@run_async
async def test_live_accuracy_on_audits_and_queue_length(calibrated) -> None:
    client, cal, X, y = calibrated
    _fresh_queue(client)
    before = client.audit_accuracy("digits", 1)  # audits other tests' cleaner rejected
    app = _app(client, audit_fraction=1.0)
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://serve") as http:
            r = await http.post("/predict", json={"columns": {"input": X[:40].tolist()}})
            rid = r.json()["request_id"]
            app.server.review.write_pending()
            app.server.review.refresh_store_gauges()
            text = (await http.get("/metrics")).text
            assert _sample(text, "labline_review_queue_length", model="digits") == 40
            # a reviewer labels the audit samples with the truth
            truth = {tuple(np.round(row, 6)): int(t) for row, t in zip(X[:40], y[:40], strict=True)}
            reviewer = client.as_actor("auditor")
            while (item := reviewer.next_review_item(order="time", reason="audit")) is not None:
                assert item.request_id == rid
                reviewer.label_review_item(item.id, truth[tuple(np.round(item.inputs, 6))])
            app.server.review.refresh_store_gauges()
            text = (await http.get("/metrics")).text
            mon = (await http.get("/monitoring")).json()
    kept = [i for i, d in enumerate(r.json()["deferred"]) if not d]
    pred = np.asarray(r.json()["predictions"])
    correct = int(np.sum(pred[kept] == y[:40][kept])) + before.correct
    checked = len(kept) + before.checked
    acc = correct / checked
    ids = {"model": "digits", "version": "1"}
    assert _sample(text, "labline_review_audited_answers", **ids) == checked
    assert _sample(text, "labline_review_audit_accuracy", **ids) == pytest.approx(acc)
    low = _sample(text, "labline_review_audit_accuracy_low", **ids)
    high = _sample(text, "labline_review_audit_accuracy_high", **ids)
    assert low is not None and high is not None and low <= acc <= high
    audit = client.audit_accuracy("digits", 1)
    assert (audit.checked, audit.accuracy) == (checked, pytest.approx(acc))
    assert mon["deferral"]["calibration"]["id"] == cal.id
    assert mon["deferral"]["promised_deferral_rate"] == pytest.approx(1 - cal.coverage)


@run_async
async def test_a_new_calibration_applies_without_a_restart(tmp_path, digits_data) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = digits_data
    client = labline.Client(labline.Settings.local(tmp_path))
    model = LogisticRegression(max_iter=300).fit(X[:500], y[:500])
    with client.start_run("x", capture_env=False) as run:
        run.log_model(model, "digits", input_example=X[:3], eval_inputs=X[600:640])
    app = _app(client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://serve") as http:
        doc = (await http.post("/predict", json={"columns": {"input": X[:2].tolist()}})).json()
        assert "deferred" not in doc  # no calibration: the answer is as before
        assert not await app.server.check_calibration()
        cal = client.calibrate(
            "digits/1",
            (X[600:1400], y[600:1400]),
            target_error=0.1,
            confidence=0.9,
            score="margin",
        )
        assert await app.server.check_calibration()
        rows = X[1400:1500]
        doc = (await http.post("/predict", json={"columns": {"input": rows.tolist()}})).json()
        assert doc["model"]["calibration_id"] == cal.id and len(doc["deferred"]) == 100
        # the served confidence is the calibrated score (here the margin), decided by its rule
        proba = client.load_model("digits/1").predict_proba(rows)
        assert np.allclose(doc["confidence"], confidence_scores(proba, "margin"))
        assert doc["deferred"] == deferral_decisions(proba, "margin", cal.threshold).tolist()
        meta = (await http.get("/v2/models/digits")).json()
        assert meta["parameters"]["deferral_score"] == "margin"
    client.close()
