"""Adaptive micro-batching, in-process and on the batcher itself (real loaded packages)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from serving_support import load

from labline import ModelError
from labline.serving._batching import MicroBatcher
from labline.serving._model import ServedModel


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


@pytest.mark.parametrize("model_thread", [False, True])
def test_concurrent_requests_are_coalesced_and_answers_routed_back(
    make_client: Any, package_v1: Path, digits: Any, model_thread: bool
) -> None:
    X = digits[0][:48]
    model = load(package_v1)
    expected = model.predict({"input": X}).tolist()

    async def go() -> None:
        async with make_client(package_v1, max_batch_size=16, model_thread=model_thread) as c:
            rs = await asyncio.gather(
                *[c.post("/predict", json=[{"input": row.tolist()}]) for row in X]
            )
            assert [r.json()["predictions"][0] for r in rs] == expected
            text = (await c.get("/metrics")).text
            calls = _metric(text, "labline_serving_batch_size_count")
            assert _metric(text, "labline_serving_batch_size_sum") == len(X)
            assert calls < len(X)  # fewer model calls than requests
            assert calls >= len(X) / 16
            # no call exceeded the maximum batch size
            assert _metric(text, 'labline_serving_batch_size_bucket{le="16.0"}') == calls

    asyncio.run(go())


def test_lone_request_is_answered_at_once_even_with_a_long_max_wait(
    make_client: Any, package_v1: Path, digits: Any
) -> None:
    async def go() -> None:
        async with make_client(package_v1, max_wait_ms=5000) as c:
            await c.post("/predict", json=[{"input": digits[0][0].tolist()}])  # warm up
            start = time.perf_counter()
            r = await c.post("/predict", json=[{"input": digits[0][1].tolist()}])
            assert r.status_code == 200
            assert time.perf_counter() - start < 2.0  # far below the 5 s max wait

    asyncio.run(go())


def test_batcher_waits_for_arriving_requests_at_most_max_wait(
    package_v1: Path, digits: Any
) -> None:
    served = ServedModel(load(package_v1))
    X = digits[0]

    async def go() -> None:
        b = MicroBatcher(max_batch_size=64, max_wait_s=1.0, use_thread=False)
        b.arrival_started()
        b.arrival_started()
        start = time.perf_counter()
        f1 = b.submit(served, {"input": X[:1]}, 1)
        b.arrival_ended()

        async def late() -> Any:
            await asyncio.sleep(0.05)
            f = b.submit(served, {"input": X[1:3]}, 2)
            b.arrival_ended()
            return await f

        r2 = await late()
        r1 = await f1
        assert r1.batch_size == r2.batch_size == 3  # the late request joined the held batch
        assert time.perf_counter() - start < 0.9  # flushed as soon as nothing more was arriving
        b.close()

        # a request that never arrives holds the batch for max_wait only
        b = MicroBatcher(max_batch_size=64, max_wait_s=0.2, use_thread=False)
        b.arrival_started()
        start = time.perf_counter()
        r3 = await b.submit(served, {"input": X[:1]}, 1)
        assert r3.batch_size == 1
        assert 0.15 < time.perf_counter() - start < 2.0
        b.arrival_ended()
        b.close()

    asyncio.run(go())


def test_a_failing_request_does_not_fail_its_batch(fragile_package: Path) -> None:
    served = ServedModel(load(fragile_package))
    X = np.array([[0.5, 0.7], [0.1, 0.2], [0.9, 0.9]])

    async def go() -> None:
        b = MicroBatcher(max_batch_size=64, max_wait_s=0.0, use_thread=False)
        good1 = b.submit(served, {"input": X[:2]}, 2)
        bad = b.submit(served, {"input": np.array([[-987.5, 1.0]])}, 1)  # the model raises
        good2 = b.submit(served, {"input": X[2:3]}, 1)
        r1, r_bad, r2 = await asyncio.gather(good1, bad, good2, return_exceptions=True)
        assert isinstance(r_bad, ModelError) and r_bad.error_type == "ValueError"
        assert "987" not in str(r_bad)  # the model's message quotes its input; ours does not
        np.testing.assert_array_equal(r1.predictions, served.model.predict({"input": X[:2]}))
        np.testing.assert_array_equal(r2.predictions, served.model.predict({"input": X[2:3]}))

    asyncio.run(go())


def test_batches_never_mix_models(package_v1: Path, package_v2: Path, digits: Any) -> None:
    m1, m2 = ServedModel(load(package_v1)), ServedModel(load(package_v2))
    assert m1.digest != m2.digest
    X = digits[0]

    async def go() -> None:
        b = MicroBatcher(max_batch_size=64, max_wait_s=0.0, use_thread=True)
        futures = [
            b.submit(m, {"input": X[i : i + 1]}, 1) for i, m in enumerate([m1, m1, m2, m2, m1])
        ]
        results = await asyncio.gather(*futures)
        assert [r.model for r in results] == [m1, m1, m2, m2, m1]
        assert [r.batch_size for r in results] == [2, 2, 2, 2, 1]
        for i, r in enumerate(results):
            np.testing.assert_allclose(
                r.proba, r.model.model.predict_proba({"input": X[i : i + 1]}), rtol=1e-12
            )
        b.close()

    asyncio.run(go())


def test_a_batch_waits_a_turn_of_the_loop_while_requests_keep_joining(
    package_v1: Path, digits: Any
) -> None:
    """Requests that reached the server a turn of the event loop later join the batch (a model
    call costs far more than a turn); once a turn brings nothing new, the batch goes."""
    served = ServedModel(load(package_v1))
    X = digits[0]

    async def go() -> None:
        b = MicroBatcher(max_batch_size=64, max_wait_s=1.0, use_thread=False)
        loop = asyncio.get_running_loop()
        first = [b.submit(served, {"input": X[i : i + 1]}, 1) for i in range(2)]
        later: asyncio.Future[Any] = loop.create_future()
        # a request parsed one turn later, after the flush was scheduled
        loop.call_soon(lambda: later.set_result(b.submit(served, {"input": X[2:3]}, 1)))
        results = await asyncio.gather(*first, await later)
        assert [r.batch_size for r in results] == [3, 3, 3]
        b.close()

    asyncio.run(go())


def test_requests_joining_every_turn_hold_a_batch_for_max_wait_at_most(
    package_v1: Path, digits: Any
) -> None:
    served = ServedModel(load(package_v1))
    X = digits[0]

    async def go() -> None:
        b = MicroBatcher(max_batch_size=10_000, max_wait_s=0.05, use_thread=False)
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Any]] = []
        stop = time.perf_counter() + 2.0

        def feed() -> None:  # one more request every turn of the loop, for up to 2 s
            futures.append(b.submit(served, {"input": X[:1]}, 1))
            if time.perf_counter() < stop and not futures[0].done():
                loop.call_soon(feed)

        start = time.perf_counter()
        futures.append(b.submit(served, {"input": X[:1]}, 1))
        feed()  # the queue grew before the first flush: it waits while requests keep coming
        first = await futures[0]
        assert time.perf_counter() - start < 1.0  # flushed after max_wait, not after 2 s
        assert 2 < first.batch_size < len(futures) + 1
        await asyncio.gather(*futures)
        b.close()

    asyncio.run(go())
