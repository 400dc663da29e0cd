"""Bootstrap resamples as draw counts per example, scored on worker threads.

A resample of ``n`` examples is drawn as ``n`` uniform indices and counted per example (one
``bincount``, whose counters stay in cache); a scoring function turns a block of resamples'
counts into one value per run each. The draws are generated here, block after block, on the
calling thread and in order (with whatever else the caller draws per block, see
``after_draw``), so the resamples and every result depend only on the seed, never on the
number of threads. Each block is counted and scored by one of up to ``cpu_count`` worker
threads (at most ``MAX_WORKERS``; numpy calls that mostly release the GIL) while the calling
thread already draws the next blocks: drawing, the one step that cannot be split without
changing the random stream, overlaps with all the rest.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

from ._metrics import FloatArray

__all__ = ["MAX_WORKERS", "counted_draw_blocks", "worker_count"]

MAX_WORKERS = 4
"""Threads that count and score resamples at most (beyond a few, memory bandwidth binds)."""

#: ``(counts (b, m)) -> (b, k)`` values of a block of resamples: ``counts[r, i]`` is how
#: often row i (example i, or the merged row it belongs to) was drawn in resample r.
ScoreCounts = Callable[[npt.NDArray[Any]], FloatArray]


def worker_count() -> int:
    """Threads available to this process (its CPU affinity), at most ``MAX_WORKERS``."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, available))


def counted_draw_blocks(
    n: int,
    n_resamples: int,
    gen: np.random.Generator,
    block: int,
    score: ScoreCounts,
    *,
    index_type: npt.DTypeLike = np.int64,
    counts_type: npt.DTypeLike = np.int64,
    owner: npt.NDArray[np.intp] | None = None,
    n_rows: int | None = None,
    workers: int | None = None,
    after_draw: Callable[[int], object] | None = None,
) -> Iterator[FloatArray]:
    """Yield ``(b, k)`` blocks of ``score(counts)``, ``n_resamples`` rows in all, in order.

    Args:
        n: examples; every resample draws ``n`` of them with replacement.
        n_resamples: resamples in all.
        gen: the generator; each block's indices are ``gen.integers(0, n, (b, n), index_type)``.
        block: resamples per block (the memory bound: ``block * n`` indices, and at most
            ``workers + 1`` blocks in flight).
        score: values of a block of resamples from their counts (called on worker threads;
            the counts array is reused once it returns).
        index_type: dtype of the drawn indices (int32 and int64 draw the same values for
            ``n < 2**31``; int32 draws them faster).
        counts_type: dtype of the counts ``score`` receives (float64 for a matrix product).
        owner: the merged row of each example (counts are then per row), or None.
        n_rows: length of the counts (default ``n``).
        workers: threads (default :func:`worker_count`); 1 scores on the calling thread.
        after_draw: called on the calling thread with each block's size right after its
            draws and before the next block's, for a caller that draws more per block from
            the same generator: the stream then does not depend on how many blocks are in
            flight.
    """
    length = n if n_rows is None else n_rows
    scratch = threading.local()

    def score_block(draws: npt.NDArray[np.integer[Any]]) -> FloatArray:
        # reused per thread: fresh arrays of this size per block cost page faults
        if getattr(scratch, "counts", None) is None:
            scratch.index = np.empty(n, dtype=np.intp)  # bincount takes intp
            scratch.counts = np.empty((block, length), dtype=counts_type)
        index, counts = scratch.index, scratch.counts[: draws.shape[0]]
        for i, drawn in enumerate(draws):
            if owner is None:
                np.copyto(index, drawn, casting="safe")
            else:
                np.take(owner, drawn, out=index)
            counts[i] = np.bincount(index, minlength=length)
        return score(counts)

    def drawn_blocks() -> Iterator[npt.NDArray[np.integer[Any]]]:
        for start in range(0, n_resamples, block):
            b = min(block, n_resamples - start)
            draws = gen.integers(0, n, size=(b, n), dtype=index_type)
            if after_draw is not None:
                after_draw(b)
            yield draws

    threads = worker_count() if workers is None else max(1, workers)
    if threads == 1:
        for draws in drawn_blocks():
            yield score_block(draws)
        return
    with ThreadPoolExecutor(threads, thread_name_prefix="labline-bootstrap") as pool:
        pending: deque[Future[FloatArray]] = deque()
        for draws in drawn_blocks():
            pending.append(pool.submit(score_block, draws))
            if len(pending) > threads:  # every worker busy and one block waiting: hand one out
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
