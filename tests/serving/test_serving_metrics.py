"""``GET /metrics``: Prometheus exposition of requests, errors, latency, batches, model."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

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
