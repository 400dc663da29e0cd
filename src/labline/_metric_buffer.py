"""Buffered metric points of a run, and the thread that writes them to the store.

``ActiveRun.log_metric`` sits in the innermost loop of training code, so the point it buffers
costs the caller one dict lookup, two type checks, one comparison and one list append. The rest
is derived later, on the writer's thread:

* **Values** are kept as the caller's float objects in a list (``list.append`` costs a third of
  ``array.append``, which parses its argument); the writer packs them into float64 arrays.
* **Steps** are stored as runs, arithmetic progressions. A point whose step is the one its
  series expects next (the previous step plus the series' stride: 0, 1, 2, ... or 0, 10, 20,
  ...) records only its value; any other step starts a new run on the slow path.
* **Timestamps** come from a coarse clock: every ``CLOCK_TICK`` seconds the writer notes how many
  points each series holds, and a point's timestamp is the time of the first tick (or flush)
  that saw it: never before the call, and normally within one tick plus the interpreter's
  thread switch interval after it. One clock read per tick, none per call. A ``timestamp``
  given by the caller is stored exactly.

Keys are checked once, when their series is created; values on every call; steps whenever they
are not the expected next one.

Concurrency, with no lock on the fast path: the caller only appends to ``values`` (the value
last, after anything that describes the point) and moves ``next_step``; the writer only deletes
from the front of ``values`` what it has taken. Whatever refers to positions in ``values`` (runs,
clock marks, explicit timestamps) changes under the run's ``lock`` only, which the fast path
never takes. Each list operation is atomic under the GIL, so ``len(values)`` counts complete
points. A series should be logged from one thread at a time; several threads may log several
series.
"""

from __future__ import annotations

import array
import threading
import time
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from ._exceptions import InvalidArgumentError
from .core._validation import INT64_MAX, INT64_MIN
from .store._base import MetadataStore, MetricChunk

CLOCK_TICK = 0.02
"""Seconds between the coarse clock's ticks: the resolution of default timestamps."""

FLUSH_POINTS = 2_000_000
"""Write sooner than every ``interval`` once this many points are buffered, so that the buffer
stays under about 64 MB whatever the interval."""

_FAST_RUN_ROOM = 1 << 40
"""A run takes the fast path only if this many more of its steps stay within int64, so the
fast path needs no range check (2**40 points is far beyond what one series can hold)."""


class SeriesBuffer:
    """Unflushed points of one metric series. See the module docstring for who touches what."""

    __slots__ = (
        "default_fast",
        "key",
        "lock",
        "mark_counts",
        "mark_times",
        "next_step",
        "run_pos",
        "run_start",
        "run_stride",
        "stride",
        "taken",
        "ts_pos",
        "ts_values",
        "values",
    )

    def __init__(self, key: str, lock: threading.Lock) -> None:
        self.key = key
        self.lock = lock
        self.values: list[float] = []
        # What the fast path needs: the step it accepts next (None: none, every step is checked),
        # the stride of the current run, and whether a default step (previous + 1) continues it.
        self.next_step: int | None = 0
        self.stride = 1
        self.default_fast = True
        # Runs: the point at position i of ``values`` in run j has step start[j] + stride[j] *
        # (i - pos[j]). The last run may be empty (pos == len(values)) until a point arrives.
        self.run_pos = array.array("q", [0])
        self.run_start = array.array("q", [0])
        self.run_stride = array.array("q", [1])
        # Coarse clock marks: points before mark_counts[k] and not before an earlier mark were
        # first seen at mark_times[k].
        self.mark_counts: list[int] = []
        self.mark_times: list[float] = []
        # Timestamps given by the caller, by position.
        self.ts_pos = array.array("q")
        self.ts_values = array.array("d")
        self.taken = 0  # points handed to the writer so far

    @classmethod
    def continuing(cls, key: str, lock: threading.Lock, last_step: int) -> SeriesBuffer:
        """A buffer for a series whose points up to ``last_step`` are already stored (a
        resumed run): the next default step is ``last_step + 1``."""
        buf = cls(key, lock)
        # the state take() leaves after handing the writer a point at last_step
        buf.taken = 1
        if last_step < INT64_MAX:
            buf.run_start[0] = last_step + 1
            buf._expect(last_step, 1)
        else:
            buf.run_start[0], buf.run_stride[0] = last_step, 0
            buf._expect(last_step, 0)
        return buf

    # -- caller's thread (slow paths) ----------------------------------------------------------
    def add(self, value: float, step: int | None, timestamp: float | None) -> None:
        """Buffer one point whose step or timestamp the fast path does not cover.

        ``value`` is a float, ``step`` an int within int64 or None (previous + 1), ``timestamp``
        a float or None (the coarse clock): the caller has checked them.

        Raises:
            InvalidArgumentError: the default step would leave the 64-bit range.
        """
        with self.lock:
            pos = len(self.values)
            last = self._last_step(pos)
            if step is None:
                step = 0 if last is None else last + 1
                if step > INT64_MAX:
                    raise InvalidArgumentError(
                        f"metric {self.key!r}: the next step would exceed the 64-bit range"
                    )
            if step == self.next_step:
                self._expect(step, self.stride)
            else:
                self._start_run(pos, step, 1 if last is None else step - last)
            if timestamp is not None:
                self.ts_pos.append(pos)
                self.ts_values.append(timestamp)
            self.values.append(value)  # last: the point is complete once its value is in

    def extend(
        self,
        values: npt.NDArray[np.float64],
        steps: npt.NDArray[np.int64] | None,
        timestamps: npt.NDArray[np.float64] | None,
    ) -> None:
        """Buffer consecutive points (checked arrays of equal length; None: default steps or
        the coarse clock).

        Raises:
            InvalidArgumentError: default steps would leave the 64-bit range.
        """
        n = len(values)
        if not n:
            return
        with self.lock:
            pos = len(self.values)
            last = self._last_step(pos)
            if steps is None:
                first, stride, regular = (0 if last is None else last + 1), 1, True
                if first + n - 1 > INT64_MAX:
                    raise InvalidArgumentError(
                        f"metric {self.key!r}: the next steps would exceed the 64-bit range"
                    )
            else:
                first = int(steps[0])
                if n == 1:
                    stride, regular = (1 if last is None else first - last), True
                else:
                    stride = int(steps[1]) - first
                    # int64 arithmetic wraps here exactly as in take(), so a match is exact
                    regular = (
                        INT64_MIN <= stride <= INT64_MAX
                        and INT64_MIN <= first + stride * (n - 1) <= INT64_MAX
                        and bool(
                            np.array_equal(steps, first + stride * np.arange(n, dtype=np.int64))
                        )
                    )
            if regular:
                if first != self.next_step or stride != self.stride:
                    self._start_run(pos, first, stride)
                self._expect(first + stride * (n - 1), self.stride)
            else:
                assert steps is not None
                if self.run_pos[-1] == pos:  # an empty run: the new ones replace it
                    for runs in (self.run_pos, self.run_start, self.run_stride):
                        runs.pop()
                strides = np.zeros(n, dtype=np.int64)
                strides[-1] = 1  # the last point starts the run later points continue
                self.run_pos.frombytes(np.arange(pos, pos + n, dtype=np.int64).tobytes())
                self.run_start.frombytes(steps.tobytes())
                self.run_stride.frombytes(strides.tobytes())
                self._expect(int(steps[-1]), 1)
            if timestamps is not None:
                self.ts_pos.frombytes(np.arange(pos, pos + n, dtype=np.int64).tobytes())
                self.ts_values.frombytes(timestamps.tobytes())
            self.values.extend(values.tolist())

    def _last_step(self, pos: int) -> int | None:
        """The step of the series' latest point (``pos`` points are buffered), None if none."""
        start, stride = self.run_start[-1], self.run_stride[-1]
        if pos > self.run_pos[-1]:
            return start + stride * (pos - 1 - self.run_pos[-1])
        return None if self.taken == 0 and pos == 0 else start - stride

    def _start_run(self, pos: int, step: int, stride: int) -> None:
        if not INT64_MIN <= stride <= INT64_MAX:
            stride = 0  # steps too far apart to predict: the next one is checked anyway
        if self.run_pos[-1] == pos:  # the last run is empty: replace it
            self.run_start[-1] = step
            self.run_stride[-1] = stride
        else:
            self.run_pos.append(pos)
            self.run_start.append(step)
            self.run_stride.append(stride)
        self._expect(step, stride)

    def _expect(self, last: int, stride: int) -> None:
        """After a point at step ``last``, let the fast path take ``last + stride`` next, if the
        run has room left within int64; otherwise every later step takes the slow path."""
        nxt = last + stride
        if INT64_MIN <= nxt + stride * _FAST_RUN_ROOM <= INT64_MAX:  # so nxt is in range too
            self.next_step, self.stride, self.default_fast = nxt, stride, stride == 1
        else:
            self.next_step, self.stride, self.default_fast = None, stride, False

    # -- writer's side (called with ``lock`` held) ---------------------------------------------
    def tick(self, now: float) -> int:
        """Note that the points buffered so far existed at ``now`` (the coarse clock); return
        how many there are."""
        count = len(self.values)
        if count and (not self.mark_counts or count > self.mark_counts[-1]):
            self.mark_counts.append(count)
            self.mark_times.append(now)
        return count

    def take(self, now: float) -> MetricChunk | None:
        """Remove the buffered points and return them as arrays; None if there are none."""
        n = len(self.values)
        if not n:
            return None
        # The caller may append while this runs: only the first n points are taken.
        values = np.fromiter(self.values, dtype=np.float64, count=n)
        steps = self._steps(n)
        counts, times = self.mark_counts, self.mark_times
        if not counts or counts[-1] < n:  # points no tick has seen yet: seen now
            counts, times = [*counts, n], [*times, now]
        timestamps = np.repeat(np.asarray(times), np.diff(np.asarray([0, *counts])))
        if self.ts_pos:
            timestamps[np.frombuffer(self.ts_pos, dtype=np.int64)] = np.frombuffer(
                self.ts_values, dtype=np.float64
            )
        # Rebase what stays: one (possibly empty) run that the next points continue.
        start, stride, pos = self.run_start[-1], self.run_stride[-1], self.run_pos[-1]
        last = start + stride * (n - 1 - pos)
        nxt = last + stride
        if not INT64_MIN <= nxt <= INT64_MAX:
            nxt, stride = last, 0  # no fast point can follow (see _expect); keeps _last_step
        self.run_pos = array.array("q", [0])
        self.run_start = array.array("q", [nxt])
        self.run_stride = array.array("q", [stride])
        self.mark_counts, self.mark_times = [], []
        self.ts_pos, self.ts_values = array.array("q"), array.array("d")
        self.taken += n
        del self.values[:n]
        return steps, timestamps, values

    def _steps(self, n: int) -> npt.NDArray[np.int64]:
        pos = np.frombuffer(self.run_pos, dtype=np.int64)
        start = np.frombuffer(self.run_start, dtype=np.int64)
        stride = np.frombuffer(self.run_stride, dtype=np.int64)
        steps: npt.NDArray[np.int64]
        if len(pos) == 1:  # the usual case: in place, no temporaries
            steps = np.arange(n, dtype=np.int64)
            if stride[0] != 1:
                steps *= stride[0]
            if start[0]:
                steps += start[0]
        else:
            lengths = np.diff(np.append(pos, n))
            offsets = np.arange(n, dtype=np.int64) - np.repeat(pos, lengths)
            steps = np.repeat(start, lengths) + np.repeat(stride, lengths) * offsets
        return steps


def _concat(chunks: list[MetricChunk]) -> MetricChunk:
    if len(chunks) == 1:
        return chunks[0]
    return (
        np.concatenate([c[0] for c in chunks]),
        np.concatenate([c[1] for c in chunks]),
        np.concatenate([c[2] for c in chunks]),
    )


class MetricWriter(threading.Thread):
    """Background thread that ticks the coarse clock and moves buffered points into the store.

    It writes at least every ``interval`` seconds and whenever ``FLUSH_POINTS`` are buffered (one
    chunk per series per write, in one transaction), and records a heartbeat at least every ``heartbeat_every`` seconds. Points it
    could not write stay pending, ahead of newer ones, and are retried on the next write.
    """

    def __init__(
        self,
        store: MetadataStore,
        run_id: str,
        series: Mapping[str, SeriesBuffer],
        lock: threading.Lock,
        *,
        interval: float,
        heartbeat_every: float = 5.0,
    ) -> None:
        super().__init__(name=f"labline-writer-{run_id[:8]}", daemon=True)
        self._store = store
        self._run_id = run_id
        self._series = series
        self._lock = lock
        self.interval = interval
        self.heartbeat_every = heartbeat_every
        self.stopping = threading.Event()
        self._write_lock = threading.Lock()
        self._pending: dict[str, list[MetricChunk]] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        tick = min(CLOCK_TICK, self.interval)
        last_beat = time.monotonic()
        next_write = last_beat + self.interval
        while not self.stopping.wait(tick):
            now = time.monotonic()
            if self.tick() < FLUSH_POINTS and now < next_write:
                continue
            next_write = now + self.interval
            try:
                if self.flush():
                    last_beat = now
                elif now - last_beat >= self.heartbeat_every:
                    self._store.heartbeat(self._run_id)
                    last_beat = now
                self.error = None
            except Exception as e:  # keep the points; try again on the next write
                # Never let the writer die: a dead writer would silently stop all flushing.
                # The final flush in ActiveRun.end() runs on the caller's thread and raises.
                self.error = e

    def tick(self) -> int:
        """One tick of the coarse clock; return how many points are buffered."""
        now = time.time()
        with self._lock:
            return sum(series.tick(now) for series in list(self._series.values()))

    def flush(self) -> int:
        """Write every buffered point now; return how many were written.

        Raises:
            StorageError: the store refused the write (the points stay pending).
        """
        with self._write_lock:
            now = time.time()
            with self._lock:
                for series in list(self._series.values()):
                    chunk = series.take(now)
                    if chunk is not None:
                        self._pending.setdefault(series.key, []).append(chunk)
            if not self._pending:
                return 0
            chunks = {key: _concat(parts) for key, parts in self._pending.items()}
            self._pending = {key: [chunk] for key, chunk in chunks.items()}
            self._store.append_metrics(self._run_id, chunks)
            self._pending = {}
            return sum(len(chunk[2]) for chunk in chunks.values())
