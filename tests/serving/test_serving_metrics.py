"""``GET /metrics``: Prometheus exposition of requests, errors, latency, batches, model."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from serving_support import load


def test_metrics_cover_requests_errors_latency_batches_inflight_and_model(
    make_client: Any, package_v1: Path, digits: Any
) -> None:
    model = load(package_v1)
    X = digits[0][:3]

    async def go() -> str:
        async with make_client(package_v1) as c:
            await asyncio.gather(*[c.post("/predict", json=[{"input": row.tolist()}]) for row in X])
            await c.post("/predict", content=b"{bad")
            await c.post("/v2/models/nope/infer", json={})
            await c.get("/v2/health/live")
            await c.get("/missing")
            r = await c.get("/metrics")
            assert r.headers["content-type"].startswith("text/plain")
            return r.text

    text = asyncio.run(go())
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }

    def value(metric: str, **labels: str) -> float:
        return samples[(metric, tuple(sorted(labels.items())))]

    assert value("labline_serving_requests_total", endpoint="/predict", status="200") == 3
    assert value("labline_serving_requests_total", endpoint="/predict", status="400") == 1
    assert value("labline_serving_request_errors_total", endpoint="/predict", status="400") == 1
    assert (
        value(
            "labline_serving_request_errors_total", endpoint="/v2/models/{name}/infer", status="404"
        )
        == 1
    )
    assert value("labline_serving_requests_total", endpoint="/v2/health/live", status="200") == 1
    assert value("labline_serving_request_errors_total", endpoint="unmatched", status="404") == 1
    assert (
        "labline_serving_request_errors_total",
        (("endpoint", "/predict"), ("status", "200")),
    ) not in samples
    assert value("labline_serving_request_duration_seconds_count", endpoint="/predict") == 4
    assert (
        value("labline_serving_request_duration_seconds_bucket", endpoint="/predict", le="+Inf")
        == 4
    )
    assert value("labline_serving_batch_size_sum") == 3
    assert 1 <= value("labline_serving_batch_size_count") <= 3
    assert value("labline_serving_batch_duration_seconds_count") == value(
        "labline_serving_batch_size_count"
    )
    assert value("labline_serving_inflight_requests") == 1  # the /metrics request itself
    info = value(
        "labline_serving_model_info",
        name="digits",
        version="" if model.version is None else str(model.version),
        digest=model.digest,
    )
    assert info == 1


def _samples(registry: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client import generate_latest

    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if not s.name.endswith("_created")
    }


def test_bulk_publishing_exposes_what_one_observation_at_a_time_would() -> None:
    """The request path only appends; publish() folds the observations in bulk. The exposition
    must equal prometheus_client's own Histogram/Counter fed one observation at a time,
    values on bucket bounds included."""
    from prometheus_client import CollectorRegistry, Counter, Histogram

    from labline.serving._metrics import _BATCH_BUCKETS, _LATENCY_BUCKETS, ServingMetrics

    latencies = [0.0005, 0.0004, 0.001, 0.0011, 0.3, 10.0, 11.0, 0.0, 0.0025, 0.0049]
    statuses = [200, 200, 400, 200, 503, 200, 200, 404, 200, 200]
    batches = [(1, 0.002), (2, 0.01), (64, 0.03), (1024, 1.0), (1500, 12.0), (3, 0.0005)]
    metrics = ServingMetrics()
    for seconds, status in zip(latencies, statuses, strict=True):
        metrics.observe_request("/predict", status, seconds)
    for rows, seconds in batches:
        metrics.observe_batch(rows, seconds)
    metrics.render()  # publishes

    ref = CollectorRegistry()
    requests = Counter("labline_serving_requests", "", ["endpoint", "status"], registry=ref)
    errors = Counter("labline_serving_request_errors", "", ["endpoint", "status"], registry=ref)
    latency = Histogram(
        "labline_serving_request_duration_seconds",
        "",
        ["endpoint"],
        buckets=_LATENCY_BUCKETS,
        registry=ref,
    )
    size = Histogram("labline_serving_batch_size", "", buckets=_BATCH_BUCKETS, registry=ref)
    duration = Histogram(
        "labline_serving_batch_duration_seconds", "", buckets=_LATENCY_BUCKETS, registry=ref
    )
    for seconds, status in zip(latencies, statuses, strict=True):
        requests.labels("/predict", str(status)).inc()
        if status >= 400:
            errors.labels("/predict", str(status)).inc()
        latency.labels("/predict").observe(seconds)
    for rows, seconds in batches:
        size.observe(rows)
        duration.observe(seconds)

    got = _samples(metrics.registry)
    want = _samples(ref)
    assert want  # the reference exposes samples
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key


def test_pending_observations_are_published_between_scrapes(make_client: Any) -> None:
    """Without a scrape, memory stays bounded: every PUBLISH_EVERY observations are folded in."""
    from labline.serving._metrics import PUBLISH_EVERY, ServingMetrics

    metrics = ServingMetrics()
    n = 3 * PUBLISH_EVERY + 5
    for _ in range(n):
        metrics.observe_request("/predict", 200, 0.001)
        metrics.observe_batch(1, 0.001)

    def published() -> tuple[float, float]:
        samples = _samples(metrics.registry)
        return (
            samples[
                ("labline_serving_requests_total", (("endpoint", "/predict"), ("status", "200")))
            ],
            samples[("labline_serving_batch_size_count", ())],
        )

    requests, batches = published()
    assert n - PUBLISH_EVERY < requests < n  # the rest waits for the next publish or scrape
    assert n - PUBLISH_EVERY < batches < n
    metrics.publish()
    assert published() == (n, n)


def test_inflight_gauge_counts_requests_being_handled() -> None:
    from labline.serving._metrics import ServingMetrics

    metrics = ServingMetrics()
    metrics.request_started()
    metrics.request_started()
    metrics.request_ended()
    assert _samples(metrics.registry)[("labline_serving_inflight_requests", ())] == 1
