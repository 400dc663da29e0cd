"""The packaged code failing on a valid request: 500 naming the error type, nothing else."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any


def test_model_failure_is_a_500_without_payload_and_spares_its_batch(
    make_client: Any, fragile_package: Path, caplog: Any
) -> None:
    async def go() -> None:
        async with make_client(fragile_package) as c:
            good = [c.post("/predict", json=[{"input": [0.9, 0.9]}]) for _ in range(5)]
            bad = c.post("/predict", json=[{"input": [-123.456, 0.5]}])
            *oks, failed = await asyncio.gather(*good, bad)
            assert [r.status_code for r in oks] == [200] * 5
            assert all(r.json()["predictions"] == [1] for r in oks)
            assert "probabilities" not in oks[0].json()
            assert failed.status_code == 500
            assert failed.json() == {"error": "the model raised ValueError"}
            metrics = (await c.get("/metrics")).text
            assert (
                'labline_serving_request_errors_total{endpoint="/predict",status="500"} 1.0'
                in metrics
            )

            # the V2 endpoint too; outputs list only predictions for a model without proba
            md = (await c.get("/v2/models/fragile")).json()
            assert [o["name"] for o in md["outputs"]] == ["predictions"]
            doc = {
                "inputs": [
                    {"name": "input", "shape": [1, 2], "datatype": "FP64", "data": [-123.456, 1]}
                ]
            }
            r = await c.post("/v2/models/fragile/infer", json=doc)
            assert r.status_code == 500 and r.json() == {"error": "the model raised ValueError"}

    with caplog.at_level(logging.DEBUG):
        asyncio.run(go())
    assert "123.456" not in caplog.text
    assert "ValueError" in caplog.text


def test_serving_public_names() -> None:
    import labline.serving as serving

    assert serving.__all__ == sorted(serving.__all__)
    for name in serving.__all__:
        assert getattr(serving, name) is not None
