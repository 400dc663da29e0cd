"""Long metric series made drawable: a min/max envelope per pixel bucket, and seed bands.

A chart a thousand pixels wide cannot show a million points, and averaging them away hides
exactly what a reader looks for (a loss spike, a divergence). :func:`envelope` keeps, for every
bucket of steps, the lowest and the highest value in it, so a single spike always reaches the
drawn envelope. :func:`seed_band` summarises several runs of one configuration (seeds): the
mean across runs and a 95% band per bucket.

Pure numpy/scipy: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from .._exceptions import InvalidArgumentError
from ._types import SeedBand, SeriesEnvelope

MAX_BUCKETS = 20_000
"""Most buckets one envelope may ask for (a very wide screen at 4x pixel density)."""


def _check_buckets(buckets: int) -> None:
    if isinstance(buckets, bool) or not isinstance(buckets, int) or not 1 <= buckets <= MAX_BUCKETS:
        raise InvalidArgumentError(
            f"buckets must be an integer from 1 to {MAX_BUCKETS}, got {buckets!r}"
        )


def _window(
    steps: npt.NDArray[np.float64],
    step_min: float | None,
    step_max: float | None,
) -> tuple[float, float]:
    for name, bound in (("step_min", step_min), ("step_max", step_max)):
        if bound is not None and not math.isfinite(bound):
            raise InvalidArgumentError(f"{name} must be a finite number, got {bound!r}")
    if step_min is not None and step_max is not None and step_min > step_max:
        raise InvalidArgumentError(
            f"step_min ({step_min:g}) must not be greater than step_max ({step_max:g})"
        )
    lo = float(steps[0]) if step_min is None else float(step_min)
    hi = float(steps[-1]) if step_max is None else float(step_max)
    return lo, hi


def _sorted_by_step(
    steps: npt.ArrayLike, values: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    x = np.asarray(steps, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or y.shape != x.shape:
        raise InvalidArgumentError(
            f"steps and values must be 1-d arrays of one length, got shapes {x.shape} and {y.shape}"
        )
    if x.size > 1 and bool(np.any(np.diff(x) < 0)):
        order = np.argsort(x, kind="stable")  # logging order within a step is kept
        x, y = x[order], y[order]
    return x, y


def _bucket_edges(
    x: npt.NDArray[np.float64], lo: float, hi: float, buckets: int
) -> npt.NDArray[np.int64]:
    """Indices into sorted ``x`` where each bucket starts, plus the end, for ``[lo, hi]``."""
    if hi == lo:
        return np.array([0, x.size], dtype=np.int64)
    edges = lo + (hi - lo) * np.arange(buckets + 1, dtype=np.float64) / buckets
    idx = np.searchsorted(x, edges, side="left").astype(np.int64)
    idx[-1] = x.size  # the last bucket is closed: it holds points at exactly ``hi``
    return idx


def envelope(
    steps: npt.ArrayLike,
    values: npt.ArrayLike,
    buckets: int = 1000,
    *,
    step_min: float | None = None,
    step_max: float | None = None,
) -> SeriesEnvelope:
    """Downsample a series into at most ``buckets`` min/max pairs over a step window.

    The window ``[step_min, step_max]`` (default: the whole series) is cut into ``buckets``
    equal spans of steps; each non-empty span becomes one point at its first step with the
    lowest and the highest finite value in it, so no spike is ever averaged away. A window with
    at most ``2 * buckets`` points is returned exactly (``low == high``, ``exact`` true).
    NaN and infinite values are skipped (a bucket holding only those is dropped).

    Args:
        steps: the step of each point (any order; sorted here, logging order kept in a step).
        values: the value of each point.
        buckets: how many spans to cut the window into (about one per pixel).
        step_min, step_max: the window, for a zoomed chart.

    Returns:
        A :class:`SeriesEnvelope`.

    Raises:
        InvalidArgumentError: mismatched arrays, a bad bucket count or window.

    Example:
        >>> import numpy as np
        >>> y = np.zeros(1_000_000); y[123_456] = 50.0
        >>> env = envelope(np.arange(y.size), y, buckets=100)
        >>> len(env.x), float(env.high.max()), env.exact
        (100, 50.0, False)
    """
    _check_buckets(buckets)
    x, y = _sorted_by_step(steps, values)
    if x.size == 0:
        empty = np.zeros(0, dtype=np.float64)
        return SeriesEnvelope(empty, empty, empty, 0, 0, True)
    lo, hi = _window(x, step_min, step_max)
    start = int(np.searchsorted(x, lo, side="left"))
    stop = int(np.searchsorted(x, hi, side="right"))
    x, y = x[start:stop], y[start:stop]
    finite = np.isfinite(y)
    in_window = int(x.size)
    if not bool(finite.all()):
        x, y = x[finite], y[finite]
    if x.size <= 2 * buckets:
        return SeriesEnvelope(x, y, y.copy(), in_window, int(x.size), True)
    idx = _bucket_edges(x, lo, hi, buckets)
    starts = idx[:-1][idx[:-1] < idx[1:]]  # the non-empty buckets
    low = np.minimum.reduceat(y, starts)
    high = np.maximum.reduceat(y, starts)
    return SeriesEnvelope(x[starts], low, high, in_window, int(starts.size), False)


def seed_band(
    series: Sequence[tuple[npt.ArrayLike, npt.ArrayLike]],
    buckets: int = 500,
    *,
    confidence: float = 0.95,
    step_min: float | None = None,
    step_max: float | None = None,
) -> SeedBand:
    """The mean across runs (seeds) of one metric, with its confidence band, per step bucket.

    Each run is first reduced to its mean value in each bucket of steps (runs rarely log at
    the same steps); then, per bucket, the runs' values give the mean and a Student-t
    interval of that mean at ``confidence`` (``low == high == mean`` where fewer than two runs
    reached the bucket). Unlike :func:`envelope` this smooths within a bucket: it shows where
    the seeds agree, not single spikes.

    Args:
        series: ``(steps, values)`` of each run.
        buckets: how many spans to cut the step window into.
        confidence: level of the band, in (0, 1).
        step_min, step_max: the window (default: from the first to the last step of any run).

    Returns:
        A :class:`SeedBand`.

    Raises:
        InvalidArgumentError: no runs, mismatched arrays, a bad bucket count, window or level.
    """
    from scipy import stats as sps

    _check_buckets(buckets)
    if not 0 < confidence < 1:
        raise InvalidArgumentError(f"confidence must be in (0, 1), got {confidence!r}")
    if not series:
        raise InvalidArgumentError("seed_band needs at least one run's series")
    runs = [_sorted_by_step(s, v) for s, v in series]
    nonempty = [r for r in runs if r[0].size]
    if not nonempty:
        empty = np.zeros(0, dtype=np.float64)
        return SeedBand(empty, empty, empty, empty, np.zeros(0, dtype=np.int64), len(runs))
    first = min(float(r[0][0]) for r in nonempty)
    last = max(float(r[0][-1]) for r in nonempty)
    lo, hi = _window(np.array([first, last]), step_min, step_max)
    width = (hi - lo) / buckets if hi > lo else 1.0
    sums = np.zeros((len(runs), buckets), dtype=np.float64)
    counts = np.zeros((len(runs), buckets), dtype=np.float64)
    for i, (x, y) in enumerate(runs):
        keep = (x >= lo) & (x <= hi) & np.isfinite(y)
        b = np.minimum(((x[keep] - lo) / width).astype(np.int64), buckets - 1)
        sums[i] = np.bincount(b, weights=y[keep], minlength=buckets)
        counts[i] = np.bincount(b, minlength=buckets)
    present = counts > 0
    per_run = np.where(present, sums / np.where(present, counts, 1.0), np.nan)
    n = present.sum(axis=0)
    used = n > 0
    per_run, n = per_run[:, used], n[used]
    mean = np.nanmean(per_run, axis=0)
    half = np.zeros_like(mean)
    several = n >= 2
    if bool(several.any()):
        sd = np.nanstd(per_run[:, several], axis=0, ddof=1)
        t = sps.t.ppf(0.5 + confidence / 2, n[several] - 1)
        half[several] = t * sd / np.sqrt(n[several])
    x_out = lo + width * np.flatnonzero(used).astype(np.float64)
    return SeedBand(x_out, mean, mean - half, mean + half, n.astype(np.int64), len(runs))
