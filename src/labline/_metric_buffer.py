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

Memory is bounded without touching the fast path: when the points buffered and not yet stored
reach ``max_points`` (a store that is down), the writer closes a :class:`MemoryGate` and sends
every series to the slow path (its ``next_step`` becomes NaN, which no step equals, and
``default_fast`` false); the slow path waits at the gate, warning once, until the writer has
stored enough. A point that slipped past the fast path's check while the writer closed it is
buffered correctly: steps are derived from the runs, never from ``next_step``.

Every write carries the writer's id and a sequence number per batch, so a batch retried after
a lost answer (a remote store) is stored once; failed writes are retried with exponential
backoff and jitter, batches in order, never merged (a merged batch would be a new batch).

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
import math
import random
import threading
import time
import uuid
import warnings
from collections import deque
from collections.abc import Mapping
from typing import Any

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

BACKOFF_BASE = 0.2
BACKOFF_CAP = 10.0
"""Seconds: after ``k`` failed writes in a row the writer waits a random time up to
``min(BACKOFF_CAP, BACKOFF_BASE * 2**k)`` before it tries again."""

_NEVER: Any = math.nan
"""A ``next_step`` no step equals (and that ``+= 1`` keeps): sends a series to the slow path."""

_FAST_RUN_ROOM = 1 << 40
"""A run takes the fast path only if this many more of its steps stay within int64, so the
fast path needs no range check (2**40 points is far beyond what one series can hold)."""


class MemoryGate:
    """Where the slow path waits while a run holds too many unwritten points (see the module
    docstring). Open unless the writer closed it."""

    def __init__(self, max_points: int) -> None:
        self.max_points = max_points
        self._open = threading.Event()
        self._open.set()
        self._warned = False

    @property
    def is_open(self) -> bool:
        """Whether points may be buffered now."""
        return self._open.is_set()

    def close(self) -> None:
        """Make the slow path wait (called by the writer)."""
        self._open.clear()

    def open(self) -> None:
        """Let waiting callers go on (called by the writer)."""
        self._open.set()

    def wait(self) -> None:
        """Return once the gate is open; warn the first time it was not."""
        if self._open.is_set():
            return
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"labline: {self.max_points} metric points are waiting to be stored (is the "
                "store reachable?); log_metric blocks until they are written "
                "(LABLINE_MAX_BUFFERED_POINTS sets the limit)",
                ResourceWarning,
                stacklevel=4,
            )
        self._open.wait()


_OPEN_GATE = MemoryGate(1 << 62)  # for buffers made without one (tests)


class SeriesBuffer:
    """Unflushed points of one metric series. See the module docstring for who touches what."""

    __slots__ = (
        "default_fast",
        "gate",
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

    def __init__(self, key: str, lock: threading.Lock, gate: MemoryGate = _OPEN_GATE) -> None:
        self.key = key
        self.lock = lock
        self.gate = gate
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
    def continuing(
        cls, key: str, lock: threading.Lock, last_step: int, gate: MemoryGate = _OPEN_GATE
    ) -> SeriesBuffer:
        """A buffer for a series whose points up to ``last_step`` are already stored (a
        resumed run): the next default step is ``last_step + 1``."""
        buf = cls(key, lock, gate)
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
        self.gate.wait()
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
        self.gate.wait()
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
    def throttle(self) -> None:
        """Send the caller's next point to the slow path (where the gate is)."""
        self.default_fast = False
        self.next_step = _NEVER

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


class MetricWriter(threading.Thread):
    """Background thread that ticks the coarse clock and moves buffered points into the store.

    It writes at least every ``interval`` seconds and whenever ``FLUSH_POINTS`` are buffered (one
    chunk per series per batch, each batch in one transaction, under this writer's id and the
    batch's sequence number), and records a heartbeat at least every ``heartbeat_every``
    seconds. A batch it could not write stays pending, ahead of newer ones, and is retried
    under the same id after an exponential, jittered backoff. While more than
    ``gate.max_points`` points are unwritten, the gate is closed (see the module docstring).
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
        gate: MemoryGate = _OPEN_GATE,
    ) -> None:
        super().__init__(name=f"labline-writer-{run_id[:8]}", daemon=True)
        self._store = store
        self._run_id = run_id
        self._series = series
        self._lock = lock
        self.interval = interval
        self.heartbeat_every = heartbeat_every
        self.gate = gate
        self.writer_id = uuid.uuid4().hex
        self._next_seq = 0
        self.stopping = threading.Event()
        self._flush_due = threading.Event()
        self._write_lock = threading.Lock()
        self._batches: deque[tuple[int, dict[str, MetricChunk], int]] = deque()
        self._pending_points = 0
        self.failures = 0  # failed writes in a row
        self.error: BaseException | None = None

    def run(self) -> None:
        # Two threads: this one keeps the coarse clock and the memory limit, and never waits
        # on the store; the flusher writes. A store that hangs (a server restarting) delays
        # neither the timestamps of new points nor the gate.
        flusher = threading.Thread(target=self._flush_loop, name=f"{self.name}-flush", daemon=True)
        flusher.start()
        tick = min(CLOCK_TICK, self.interval)
        next_write = time.monotonic() + self.interval
        while not self.stopping.wait(tick):
            now = time.monotonic()
            buffered = self.tick()
            self._limit_memory(buffered + self._pending_points)
            if buffered >= FLUSH_POINTS or now >= next_write:
                next_write = now + self.interval
                self._flush_due.set()
        self._flush_due.set()
        flusher.join()

    def _flush_loop(self) -> None:
        last_beat = time.monotonic()
        while True:
            self._flush_due.wait()
            if self.stopping.is_set():
                return  # the final flush runs on the caller's thread (ActiveRun.end)
            self._flush_due.clear()
            now = time.monotonic()
            try:
                if self.flush():
                    last_beat = now
                elif now - last_beat >= self.heartbeat_every:
                    self._store.heartbeat(self._run_id)
                    last_beat = now
                self.error = None
            except Exception as e:  # keep the points; try again after a backoff
                # Never let the flusher die: a dead one would silently stop all writing.
                # The final flush in ActiveRun.end() runs on the caller's thread and raises.
                self.error = e
                self.stopping.wait(self.backoff())

    def backoff(self) -> float:
        """Seconds to wait after the latest failed write (exponential, with full jitter)."""
        return random.uniform(0.0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** min(self.failures, 30)))

    def _limit_memory(self, unwritten: int) -> None:
        if unwritten >= self.gate.max_points:
            self.gate.close()
            with self._lock:
                for series in list(self._series.values()):
                    series.throttle()
        elif not self.gate.is_open:
            self.gate.open()

    def tick(self) -> int:
        """One tick of the coarse clock; return how many points are buffered."""
        now = time.time()
        with self._lock:
            return sum(series.tick(now) for series in list(self._series.values()))

    @property
    def pending_points(self) -> int:
        """Points taken from the buffers whose batches are not stored yet."""
        return self._pending_points

    def flush(self) -> int:
        """Write every buffered point now, batch by batch in order; return how many were
        written.

        Raises:
            StorageError: the store refused a write (it and later batches stay pending).
        """
        with self._write_lock:
            now = time.time()
            chunks: dict[str, MetricChunk] = {}
            with self._lock:
                for series in list(self._series.values()):
                    chunk = series.take(now)
                    if chunk is not None:
                        chunks[series.key] = chunk
            if chunks:
                n = sum(len(c[2]) for c in chunks.values())
                self._batches.append((self._next_seq, chunks, n))
                self._next_seq += 1
                self._pending_points += n
            written = 0
            while self._batches:
                seq, batch, n = self._batches[0]
                try:
                    self._store.append_metrics(self._run_id, batch, batch=(self.writer_id, seq))
                except Exception:
                    self.failures += 1
                    raise
                self.failures = 0
                self._batches.popleft()
                self._pending_points -= n
                written += n
            if self._pending_points < self.gate.max_points and not self.gate.is_open:
                self.gate.open()
            return written
