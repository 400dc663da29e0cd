"""The min/max envelope and seed bands behind the UI's charts, against brute-force loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from labline import InvalidArgumentError
from labline.core._downsample import envelope, seed_band
from labline.core._run_groups import mean_interval


def brute_envelope(x: np.ndarray, y: np.ndarray, lo: float, hi: float, buckets: int) -> dict:
    """Bucket by bucket with a Python loop: the definition, written plainly."""
    out: dict[int, list[float]] = {}
    width = (hi - lo) / buckets
    for xi, yi in zip(x, y, strict=True):
        if not lo <= xi <= hi or not math.isfinite(yi):
            continue
        b = min(int((xi - lo) / width), buckets - 1)
        out.setdefault(b, []).append(yi)
    return {b: (min(v), max(v)) for b, v in sorted(out.items())}


@pytest.mark.parametrize("seed", range(5))
def test_envelope_matches_a_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3_000, 20_000))
    x = np.sort(rng.choice(100_000, size=n, replace=False)).astype(float)
    y = rng.normal(size=n)
    y[rng.integers(0, n, 20)] = np.nan
    buckets = int(rng.integers(10, 700))
    env = envelope(x, y, buckets)
    expected = brute_envelope(x, y, x[0], x[-1], buckets)
    assert not env.exact and env.n_buckets == len(expected) == len(env.x)
    assert env.n_points == n
    np.testing.assert_allclose(env.low, [v[0] for v in expected.values()])
    np.testing.assert_allclose(env.high, [v[1] for v in expected.values()])


def test_a_single_spike_in_a_million_points_survives() -> None:
    y = np.random.default_rng(1).normal(0, 0.01, 1_000_000)
    y[777_777] = 100.0
    y[333_333] = -100.0
    env = envelope(np.arange(y.size), y, 800)
    assert env.n_buckets == 800 and env.high.max() == 100.0 and env.low.min() == -100.0
    # the mean of that bucket would have hidden it
    bucket = y[(777_777 // 1250) * 1250 : (777_777 // 1250 + 1) * 1250]
    assert bucket.mean() < 1.0


def test_small_windows_are_exact_and_zoom_reads_only_the_window() -> None:
    x = np.arange(10_000)
    y = np.sin(x / 100.0)
    env = envelope(x, y, 1000, step_min=500, step_max=1499)
    assert env.exact and env.n_points == 1000
    np.testing.assert_array_equal(env.x, x[500:1500])
    np.testing.assert_array_equal(env.low, env.high)
    zoomed = envelope(x, y, 100, step_min=500, step_max=8000)
    assert not zoomed.exact and zoomed.x[0] == 500 and zoomed.x[-1] <= 8000
    assert zoomed.n_points == 7501


def test_unsorted_steps_are_sorted_and_infinities_skipped() -> None:
    env = envelope([3, 1, 2], [30.0, np.inf, 20.0], 10)
    assert env.x.tolist() == [2.0, 3.0] and env.low.tolist() == [20.0, 30.0]
    assert env.n_points == 3
    empty = envelope([], [], 10)
    assert empty.n_buckets == 0 and empty.exact


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"buckets": 0}, "buckets"),
        ({"buckets": True}, "buckets"),
        ({"buckets": 10, "step_min": 5, "step_max": 1}, "step_min"),
        ({"buckets": 10, "step_max": float("nan")}, "step_max"),
    ],
)
def test_bad_arguments_name_the_field(kwargs: dict, word: str) -> None:
    with pytest.raises(InvalidArgumentError, match=word):
        envelope(np.arange(10), np.arange(10.0), **kwargs)
    with pytest.raises(InvalidArgumentError, match="shape"):
        envelope(np.arange(10), np.arange(9.0))


def test_seed_band_is_the_t_interval_of_the_runs_bucket_means() -> None:
    rng = np.random.default_rng(3)
    runs = []
    for _ in range(5):
        steps = np.arange(0, 1000, 2)
        runs.append((steps, rng.normal(1.0, 0.2, steps.size)))
    band = seed_band(runs, 10)
    assert band.total_runs == 5 and band.n_runs.tolist() == [5] * 10
    for b in range(10):
        per_run = [
            np.mean([vi for si, vi in zip(s, v, strict=True) if min(int(si / 99.8), 9) == b])
            for s, v in runs
        ]
        mean = np.mean(per_run)
        half = sps.t.ppf(0.975, 4) * np.std(per_run, ddof=1) / math.sqrt(5)
        assert band.mean[b] == pytest.approx(mean)
        assert band.high[b] - band.mean[b] == pytest.approx(half)
        assert band.mean[b] - band.low[b] == pytest.approx(half)


def test_seed_band_covers_the_true_mean_at_its_level() -> None:
    """Seeded simulation: the 95% band covers the true mean about 95% of the time."""
    rng = np.random.default_rng(7)
    covered = 0
    trials = 400
    for _ in range(trials):
        runs = [(np.arange(50), rng.normal(2.0, 1.0, 50)) for _ in range(4)]
        band = seed_band(runs, 1)
        covered += int(band.low[0] <= 2.0 <= band.high[0])
    assert 0.92 <= covered / trials <= 0.98


def test_seed_band_with_one_run_has_no_width_and_runs_may_differ_in_length() -> None:
    band = seed_band([(np.arange(100), np.ones(100)), (np.arange(50), np.zeros(50))], 4)
    assert band.n_runs.tolist() == [2, 2, 1, 1]
    assert band.low[3] == band.high[3] == band.mean[3] == 1.0
    with pytest.raises(InvalidArgumentError, match="at least one"):
        seed_band([], 4)
    with pytest.raises(InvalidArgumentError, match="confidence"):
        seed_band([(np.arange(3), np.ones(3))], 4, confidence=1.5)


def test_mean_interval_matches_scipy() -> None:
    values = [0.81, 0.84, 0.79, 0.88, 0.83]
    m = mean_interval(values)
    low, high = sps.t.interval(0.95, 4, loc=np.mean(values), scale=sps.sem(values))
    assert (m.n, m.mean) == (5, pytest.approx(np.mean(values)))
    assert m.low == pytest.approx(low) and m.high == pytest.approx(high)
    one = mean_interval([1.0, float("nan")])
    assert one.n == 1 and math.isnan(one.low)
