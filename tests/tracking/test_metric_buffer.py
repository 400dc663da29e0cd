"""What log_metric stores, whatever path a point takes (fast path, runs of steps, coarse clock).

Each test logs through the public API into a real store and compares what comes back with a
plain reference: the steps and values the caller passed, in order.
"""

from __future__ import annotations

import math
import random
import threading
import time

import numpy as np
import pytest

import labline
from labline import _metric_buffer
from labline._metric_buffer import CLOCK_TICK

INT64_MAX = (1 << 63) - 1
INT64_MIN = -(1 << 63)


class Reference:
    """The semantics of log_metric, written the slow and obvious way."""

    def __init__(self) -> None:
        self.steps: dict[str, list[int]] = {}
        self.values: dict[str, list[float]] = {}

    def log(self, key: str, value: float, step: int | None) -> None:
        steps = self.steps.setdefault(key, [])
        if step is None:
            step = steps[-1] + 1 if steps else 0
        steps.append(step)
        self.values.setdefault(key, []).append(value)

    def log_series(self, key: str, values: list[float], steps: list[int] | None) -> None:
        for i, value in enumerate(values):
            self.log(key, value, None if steps is None else steps[i])


def _random_steps(rng: random.Random, last: int | None) -> list[int | None]:
    """A burst of steps in one of the shapes training code produces."""
    kind = rng.choice(["default", "sequential", "strided", "repeat", "jump", "numpy", "wild"])
    n = rng.randint(1, 40)
    base = 0 if last is None else last + 1
    if kind == "default":
        return [None] * n
    if kind == "sequential":
        return list(range(base, base + n))
    if kind == "strided":
        stride = rng.choice([2, 10, 1000, -1, -7])
        return [base + stride * i for i in range(n)]
    if kind == "repeat":
        return [base] * n
    if kind == "jump":
        return [rng.randint(-(10**6), 10**6)]
    if kind == "numpy":
        return [np.int64(base + i) for i in range(n)]  # type: ignore[misc]
    return [rng.randint(-(10**12), 10**12) for _ in range(n)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_steps_and_values_match_the_reference_whatever_the_path(
    client: labline.Client, seed: int
) -> None:
    rng = random.Random(seed)
    ref = Reference()
    # a short flush interval so that the writer takes points out from under the caller
    with labline.start_run("exp", client=client, capture_env=False, flush_interval=0.01) as run:
        for _ in range(300):
            key = rng.choice(["loss", "acc", "lr"])
            last = ref.steps.get(key, [None])[-1]
            op = rng.random()
            if op < 0.75:
                for step in _random_steps(rng, last):
                    value = rng.choice([rng.random(), math.nan, math.inf, -math.inf, 3])
                    run.log_metric(key, value, step)
                    ref.log(key, float(value), None if step is None else int(step))
            elif op < 0.95:
                n = rng.randint(0, 50)
                values = [rng.random() for _ in range(n)]
                shape = rng.choice(["default", "regular", "irregular"])
                steps = None
                if shape == "regular":
                    start, stride = rng.randint(-100, 100), rng.choice([1, 3, -2, 0])
                    steps = [start + stride * i for i in range(n)]
                elif shape == "irregular":
                    steps = [rng.randint(-(10**9), 10**9) for _ in range(n)]
                run.log_metric_series(key, np.array(values), steps)
                ref.log_series(key, values, steps)
            else:
                run.flush()
            if rng.random() < 0.05:
                time.sleep(0.012)  # let the writer tick and flush in between
    for key, steps in ref.steps.items():
        got = client.get_metric_series(run.id, key)
        assert got.steps.tolist() == steps, key
        np.testing.assert_array_equal(got.values, ref.values[key])
        assert client.get_run(run.id).metrics[key].count == len(steps)


def test_default_timestamps_come_from_a_coarse_clock_that_never_runs_early(
    client: labline.Client,
) -> None:
    calls = []
    with labline.start_run("exp", client=client, capture_env=False, flush_interval=0.5) as run:
        for i in range(40):
            calls.append(time.time())
            run.log_metric("loss", float(i))
            if i % 10 == 9:
                time.sleep(3 * CLOCK_TICK)
    ended = time.time()
    ts = client.get_metric_series(run.id, "loss").timestamps
    assert np.all(np.diff(ts) >= 0)
    assert np.all(ts >= np.array(calls))  # the tick that saw a point came after its call
    assert np.all(ts <= ended)
    # points logged 3 ticks apart were seen by different ticks: the clock really advances
    assert len(np.unique(ts)) >= 4
    assert ts[10] - calls[10] < 1.0  # ticks, not just the flush, stamp the points


def test_explicit_timestamps_are_kept_exactly_and_mix_with_the_clock(
    client: labline.Client,
) -> None:
    with labline.start_run("exp", client=client, capture_env=False) as run:
        run.log_metric("loss", 1.0, timestamp=0.0)  # the epoch is a timestamp, not "now"
        run.log_metric("loss", 2.0)
        run.log_metric("loss", 3.0, 7, timestamp=1234.5)
        run.log_metric("loss", 4.0)
        run.log_metric_series("loss", [5.0, 6.0], timestamps=99.0)
        run.log_metrics({"loss": 7.0, "acc": 0.5}, step=20, timestamp=np.float32(8.0))
    s = client.get_metric_series(run.id, "loss")
    assert s.steps.tolist() == [0, 1, 7, 8, 9, 10, 20]
    assert s.values.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    now = time.time()
    assert s.timestamps[[0, 2, 4, 5, 6]].tolist() == [0.0, 1234.5, 99.0, 99.0, 8.0]
    assert abs(s.timestamps[1] - now) < 60 and abs(s.timestamps[3] - now) < 60
    assert client.get_metric_series(run.id, "acc").timestamps.tolist() == [8.0]


def test_bad_steps_and_timestamps_are_named_and_change_nothing(client: labline.Client) -> None:
    with labline.start_run("exp", client=client, capture_env=False) as run:
        run.log_metric("loss", 1.0, 5)
        for bad, match in [
            (5.0, "'loss' step must be an integer, got float"),
            (True, "'loss' step must be an integer, got bool"),
            ("6", "'loss' step must be an integer, got str"),
            (1 << 63, "'loss' step 9223372036854775808 is outside the 64-bit range"),
            (INT64_MIN - 1, "outside the 64-bit range"),
        ]:
            with pytest.raises(labline.InvalidArgumentError, match=match):
                run.log_metric("loss", 2.0, bad)  # type: ignore[arg-type]
        with pytest.raises(labline.InvalidArgumentError, match="'loss' timestamp must be a real"):
            run.log_metric("loss", 2.0, timestamp="noon")  # type: ignore[arg-type]
        with pytest.raises(labline.InvalidArgumentError, match="'loss' timestamps must be"):
            run.log_metric_series("loss", [1.0, 2.0], timestamps=["a", "b"])
        with pytest.raises(labline.InvalidArgumentError, match="'loss' timestamps must be"):
            run.log_metric_series("loss", [1.0, 2.0], timestamps=[1.0, 2.0, 3.0])
        with pytest.raises(labline.InvalidArgumentError, match="64-bit range"):
            run.log_metric_series("loss", [1.0], steps=np.array([1 << 63], dtype=np.uint64))
        run.log_metric("loss", 3.0)
    s = client.get_metric_series(run.id, "loss")
    assert s.steps.tolist() == [5, 6] and s.values.tolist() == [1.0, 3.0]


def test_steps_at_the_edge_of_int64_are_exact_and_never_wrap(client: labline.Client) -> None:
    with labline.start_run("exp", client=client, capture_env=False) as run:
        run.log_metric("up", 0.0, INT64_MAX - 2)
        run.log_metric("up", 1.0)
        run.log_metric("up", 2.0, INT64_MAX)
        with pytest.raises(labline.InvalidArgumentError, match="exceed the 64-bit range"):
            run.log_metric("up", 3.0)
        with pytest.raises(labline.InvalidArgumentError, match="exceed the 64-bit range"):
            run.log_metric_series("up", [3.0])
        run.log_metric("down", 0.0, INT64_MIN + 1)
        run.log_metric("down", 1.0, INT64_MIN)  # stride -1 from here would leave the range
        run.log_metric("down", 2.0, INT64_MIN)
        run.log_metric("big", 0.0, 0)
        run.log_metric("big", 1.0, 1 << 62)  # a stride that would leave int64 in two steps
        run.log_metric("big", 2.0, 1 << 62)
        run.flush()
        run.log_metric("big", 3.0, INT64_MAX)
    assert client.get_metric_series(run.id, "up").steps.tolist() == [
        INT64_MAX - 2,
        INT64_MAX - 1,
        INT64_MAX,
    ]
    assert client.get_metric_series(run.id, "down").steps.tolist() == [
        INT64_MIN + 1,
        INT64_MIN,
        INT64_MIN,
    ]
    assert client.get_metric_series(run.id, "big").steps.tolist() == [
        0,
        1 << 62,
        1 << 62,
        INT64_MAX,
    ]


def test_a_run_that_ended_refuses_points_for_known_keys_too(client: labline.Client) -> None:
    run = labline.start_run("exp", client=client, capture_env=False)
    run.log_metric("loss", 1.0)
    run.end()
    for log in (
        lambda: run.log_metric("loss", 2.0),
        lambda: run.log_metric("loss", 2.0, 1),
        lambda: run.log_metric_series("loss", [2.0]),
    ):
        with pytest.raises(labline.InvalidArgumentError, match="has ended"):
            log()
    assert client.get_metric_series(run.id, "loss").values.tolist() == [1.0]


def test_threads_logging_their_own_series_lose_nothing(client: labline.Client) -> None:
    n = 20_000
    with labline.start_run("exp", client=client, capture_env=False, flush_interval=0.01) as run:

        def work(key: str, stride: int) -> None:
            for i in range(n):
                run.log_metric(key, float(i), i * stride)
                if i % 5000 == 0:
                    run.log_metric(key, -1.0, i * stride, timestamp=1.0)  # a slow-path point

        threads = [threading.Thread(target=work, args=(f"m{k}", k)) for k in range(1, 4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for k in range(1, 4):
        s = client.get_metric_series(run.id, f"m{k}")
        expect = []
        for i in range(n):
            expect.append(i * k)
            if i % 5000 == 0:
                expect.append(i * k)
        assert s.steps.tolist() == expect
        assert int(np.sum(s.timestamps == 1.0)) == 4


def test_a_full_buffer_is_written_before_the_interval_is_up(
    client: labline.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_metric_buffer, "FLUSH_POINTS", 1000)
    with labline.start_run("exp", client=client, capture_env=False, flush_interval=60) as run:
        for i in range(3000):
            run.log_metric("loss", float(i))
        deadline = time.monotonic() + 30
        while "loss" not in client.get_run(run.id).metrics:
            assert time.monotonic() < deadline, "a full buffer waited for the 60 s interval"
            time.sleep(0.05)
        assert client.get_run(run.id).metrics["loss"].count >= 1000
    assert len(client.get_metric_series(run.id, "loss")) == 3000
