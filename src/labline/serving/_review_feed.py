"""The review feed of a calibrated model server: deferred answers and a random audit sample of
the kept ones go to the persistent review queue, off the hot path; and the metrics that tell
how deferral and review go.

The hot path (:meth:`ReviewFeed.offer`, on the event loop after each model call) only counts
the decisions, draws the audit sample and appends the selected rows to a bounded in-memory
buffer; when the buffer is full the rows are counted as dropped
(``labline_review_dropped_items_total{cause="buffer_full"}``), never silently lost. A
background thread turns buffered rows into :class:`labline.ReviewItemDraft` s and writes them
through the server's :class:`labline.Client` (``enqueue_review_items``), up to
:data:`WRITE_BATCH` per transaction; a failed write keeps the rows in the buffer and is retried
with a growing pause. On shutdown the thread writes what is left (within ``stop``'s timeout);
rows it still cannot write are counted as dropped (``cause="shutdown"``) and logged by number.

Metrics (labels ``model``, ``version``; multiprocess-safe, so ``--workers N`` works)::

    labline_serving_deferral_decisions_total{model,version,decision}   answered | deferred
    labline_monitor_deferral_rate{model,version}            share deferred in the last window
    labline_monitor_promised_deferral_rate{model,version}   1 - the calibration's coverage
    labline_monitor_promised_deferral_rate_high{model,version}   1 - its coverage's low end
    labline_review_enqueued_items_total{reason}             deferred | audit
    labline_review_dropped_items_total{cause}               buffer_full | shutdown | no_queue
    labline_review_write_errors_total
    labline_review_buffered_items                           rows waiting for the writer
    labline_review_queue_length{model}                      open + claimed items in the store
    labline_review_audit_accuracy{model,version}            live accuracy on reviewed audits
    labline_review_audit_accuracy_low{model,version}        its Wilson 95% interval
    labline_review_audit_accuracy_high{model,version}
    labline_review_audited_answers{model,version}           reviewed audit samples counted

The deferral-rate window is per worker (the gauge keeps the worst worker); the counters sum
over workers; the store-backed gauges are the same for every worker.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np

from ..core._review import ReviewItemDraft
from ._batching import BatchResult, Job
from ._metrics import ServingMetrics
from ._model import ServedModel

__all__ = ["WRITE_BATCH", "ReviewFeed", "ReviewSink"]

_log = logging.getLogger("labline.serving")

WRITE_BATCH = 500
"""Most review items written in one transaction."""
_MAX_RETRY_PAUSE_S = 30.0


class ReviewSink(Protocol):
    """Where review items go: :class:`labline.Client` (serving never touches a store)."""

    def enqueue_review_items(
        self, items: Any, *, reviews_needed: int = 1
    ) -> list[int]: ...  # pragma: no cover - protocol

    def review_counts(self, *, model: str | None = None) -> dict[str, int]: ...

    def audit_accuracy(self, model: str, version: int | None = None) -> Any: ...


@dataclass
class _Selected:
    """Rows of one answered request that go to review (built into drafts by the writer)."""

    model: ServedModel
    columns: dict[str, np.ndarray[Any, Any]]
    rows: list[int]
    reasons: list[str]
    predictions: np.ndarray[Any, Any]
    confidence: np.ndarray[Any, Any]
    proba: np.ndarray[Any, Any]
    request_id: str
    answered_at: float


class _ReviewMetrics:
    """The feed's series on the serving metrics' registry."""

    def __init__(self, metrics: ServingMetrics) -> None:
        from .._imports import import_optional

        prom = import_optional("prometheus_client", "serve")
        r = metrics.registry
        ids = ["model", "version"]

        def gauge(name: str, doc: str, mode: str, labels: list[str]) -> Any:
            return prom.Gauge(name, doc, labels, registry=r, multiprocess_mode=mode)

        self.decisions = prom.Counter(
            "labline_serving_deferral_decisions",
            "Rows a calibrated model answered, by decision (answered or deferred)",
            [*ids, "decision"],
            registry=r,
        )
        self.rate = gauge(
            "labline_monitor_deferral_rate",
            "Share of the last window of rows deferred (worst worker)",
            "livemax",
            ids,
        )
        self.promised = gauge(
            "labline_monitor_promised_deferral_rate",
            "Deferral rate the calibration promised (1 - its coverage)",
            "livemax",
            ids,
        )
        self.promised_high = gauge(
            "labline_monitor_promised_deferral_rate_high",
            "Highest deferral rate the calibration's coverage interval allows",
            "livemax",
            ids,
        )
        self.enqueued = prom.Counter(
            "labline_review_enqueued_items",
            "Items written to the review queue, by reason",
            ["reason"],
            registry=r,
        )
        self.dropped = prom.Counter(
            "labline_review_dropped_items",
            "Items meant for review that were not queued, by cause",
            ["cause"],
            registry=r,
        )
        self.write_errors = prom.Counter(
            "labline_review_write_errors", "Failed writes to the review queue", registry=r
        )
        self.buffered = gauge(
            "labline_review_buffered_items", "Items waiting for the review writer", "livesum", []
        )
        self.queue_length = gauge(
            "labline_review_queue_length",
            "Review items of the model not done yet (open or claimed)",
            "livemax",
            ["model"],
        )
        self.accuracy = gauge(
            "labline_review_audit_accuracy",
            "Live accuracy of kept answers on reviewed audit samples",
            "livemax",
            ids,
        )
        self.accuracy_low = gauge(
            "labline_review_audit_accuracy_low",
            "Low end of the Wilson 95% interval of the audit accuracy",
            "livemax",
            ids,
        )
        self.accuracy_high = gauge(
            "labline_review_audit_accuracy_high",
            "High end of the Wilson 95% interval of the audit accuracy",
            "livemax",
            ids,
        )
        self.audited = gauge(
            "labline_review_audited_answers",
            "Reviewed audit samples behind the audit accuracy",
            "livemax",
            ids,
        )


class ReviewFeed:
    """Deferral counts, the audit sample and the bounded buffer to the review queue.

    Args:
        sink: the server's client (``None``: no queue; selected rows are counted as dropped
            with ``cause="no_queue"``).
        metrics: the serving metrics (the feed's series join their registry).
        enabled: send rows to review at all (off: decisions are only counted).
        audit_fraction: share of the kept (confident) answers sent to review as audit samples.
        capacity: most rows buffered for the writer.
        reviews_needed: reviews each queued item needs.
        window: rows in the deferral-rate window.
        flush_interval_s: seconds between two writes of the buffer.
        stats_interval_s: seconds between two reads of the queue length and audit accuracy.
        seed: seeds the audit draw (tests); fresh entropy otherwise.

    Thread safety: :meth:`offer` runs on the event loop; the writer thread takes the lock to
    move rows out of the buffer.
    """

    def __init__(
        self,
        sink: ReviewSink | None,
        metrics: ServingMetrics,
        *,
        enabled: bool = True,
        audit_fraction: float = 0.01,
        capacity: int = 10_000,
        reviews_needed: int = 1,
        window: int = 1000,
        flush_interval_s: float = 0.2,
        stats_interval_s: float = 15.0,
        seed: int | None = None,
    ) -> None:
        self.sink = sink
        self.enabled = enabled
        self.audit_fraction = audit_fraction
        self.capacity = capacity
        self.reviews_needed = reviews_needed
        self.window = window
        self.flush_interval_s = flush_interval_s
        self.stats_interval_s = stats_interval_s
        self._metrics = _ReviewMetrics(metrics)
        self._random = random.Random(seed)
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self._buffer: deque[_Selected] = deque()
        self._buffered = 0  # rows in the buffer
        # counts moved to Prometheus by the writer (the hot path only adds to plain ints):
        # [answered, deferred, answered published, deferred published] per (model, version)
        self._counts: dict[tuple[str, str], list[int]] = {}
        self._answered = 0
        self._deferred = 0
        self._dropped_full = 0
        self._dropped_published = 0
        self._model: ServedModel | None = None
        self._current: list[int] = [0] * 4
        self._window: deque[tuple[int, int]] = deque()
        self._win_rows = 0
        self._win_deferred = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._retry_at = 0.0
        self._pause = 0.0
        self._no_queue_warned = False
        self.enqueued = 0
        self.dropped = 0
        self.write_errors = 0

    # -- the hot path: counts, one draw, one append -------------------------------------------

    def offer(self, batch: list[Job], outcomes: list[Any]) -> None:
        """Count one answered batch's decisions and buffer the rows that go to review."""
        for job, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BatchResult) and outcome.deferred is not None:
                self._offer_one(job, outcome)

    def _offer_one(self, job: Job, result: BatchResult) -> None:
        model = result.model
        deferred = result.deferred
        proba = result.scored_proba
        assert deferred is not None and result.confidence is not None and proba is not None
        n = job.n_rows
        rows: list[int] = []
        reasons: list[str] = []
        if n == 1:
            d = 1 if deferred[0] else 0
            if self.enabled and (d or self._random.random() < self.audit_fraction):
                rows, reasons = [0], ["deferred" if d else "audit"]
        else:
            d = int(np.count_nonzero(deferred))
            if self.enabled:
                audit = self._rng.random(n) < self.audit_fraction
                rows = np.flatnonzero(deferred | audit).tolist()
                reasons = ["deferred" if deferred[i] else "audit" for i in rows]
        self._count(model, n, d)
        if not rows:
            return
        with self._lock:
            if self._buffered + len(rows) > self.capacity:
                self._dropped_full += len(rows)
                return
            self._buffer.append(
                _Selected(
                    model,
                    job.columns,
                    rows,
                    reasons,
                    result.predictions,
                    result.confidence,
                    proba,
                    job.request_id or "-",
                    time.time(),
                )
            )
            self._buffered += len(rows)
        if self._buffered >= WRITE_BATCH:
            self._wake.set()

    def _count(self, model: ServedModel, n: int, d: int) -> None:
        if model is not self._model:
            self._model = model
            self._window.clear()
            self._win_rows = self._win_deferred = 0
            self._current = self._counts.setdefault((model.name, model.version_text), [0] * 4)
        counts = self._current
        counts[0] += n - d
        counts[1] += d
        self._answered += n - d
        self._deferred += d
        self._window.append((n, d))
        self._win_rows += n
        self._win_deferred += d
        while self._win_rows - self._window[0][0] >= self.window:
            rows, dd = self._window.popleft()
            self._win_rows -= rows
            self._win_deferred -= dd

    # -- the background side -------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread (idempotent)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="labline-review", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the writer after writing what is buffered (within ``timeout`` seconds); rows
        still unwritten then are counted as dropped and logged by number."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout + 5)
            self._thread = None
        deadline = time.monotonic() + timeout
        self._retry_at = 0.0
        while self._buffered and time.monotonic() < deadline:
            if not self.write_pending():
                time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        with self._lock:
            left = self._buffered
            self._buffer.clear()
            self._buffered = 0
        if left:
            self._metrics.dropped.labels("shutdown").inc(left)
            self.dropped += left
            _log.error("%d review items could not be queued before shutdown", left)
        self.publish()

    def _run(self) -> None:
        next_stats = 0.0
        while not self._stop.is_set():
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            try:
                while self._buffered and self.write_pending():
                    pass
                self.publish()
                if time.monotonic() >= next_stats:
                    next_stats = time.monotonic() + self.stats_interval_s
                    self.refresh_store_gauges()
            except Exception as e:  # keep feeding; never quote a payload
                _log.error("review feed failed with %s", type(e).__name__)

    def write_pending(self) -> bool:
        """Write up to :data:`WRITE_BATCH` buffered rows in one transaction.

        Returns:
            True when rows were written (or none were waiting); False when the write failed
            or a retry pause is running (the rows stay buffered).
        """
        if time.monotonic() < self._retry_at:
            return False
        with self._lock:
            taken: list[_Selected] = []
            rows = 0
            while self._buffer and (not taken or rows + len(self._buffer[0].rows) <= WRITE_BATCH):
                sel = self._buffer.popleft()
                taken.append(sel)
                rows += len(sel.rows)
        if not taken:
            return True
        if self.sink is None:
            self._drop_without_queue(taken, rows)
            return True
        drafts = [d for sel in taken for d in _drafts(sel)]
        try:
            self.sink.enqueue_review_items(drafts, reviews_needed=self.reviews_needed)
        except Exception as e:
            with self._lock:
                self._buffer.extendleft(reversed(taken))
            self.write_errors += 1
            self._metrics.write_errors.inc()
            self._pause = min(_MAX_RETRY_PAUSE_S, max(0.5, self._pause * 2))
            self._retry_at = time.monotonic() + self._pause
            msg = getattr(e, "message", None) or type(e).__name__
            _log.error(
                "writing %d review items failed (retrying in %.1fs): %s", rows, self._pause, msg
            )
            return False
        self._pause = 0.0
        with self._lock:
            self._buffered -= rows
        for d in drafts:
            self._metrics.enqueued.labels(d.reason).inc()
        self.enqueued += rows
        return True

    def _drop_without_queue(self, taken: list[_Selected], rows: int) -> None:
        with self._lock:
            self._buffered -= rows
        self._metrics.dropped.labels("no_queue").inc(rows)
        self.dropped += rows
        if not self._no_queue_warned:
            self._no_queue_warned = True
            _log.warning("this server has no review queue; deferred items are only counted")

    def publish(self) -> None:
        """Move the hot path's counts to the Prometheus series."""
        m = self._metrics
        for ids, counts in list(self._counts.items()):
            answered, deferred = counts[0], counts[1]
            if answered > counts[2]:
                m.decisions.labels(*ids, "answered").inc(answered - counts[2])
                counts[2] = answered
            if deferred > counts[3]:
                m.decisions.labels(*ids, "deferred").inc(deferred - counts[3])
                counts[3] = deferred
        model = self._model
        if model is not None and model.deferral is not None:
            ids = (model.name, model.version_text)
            if self._win_rows:
                m.rate.labels(*ids).set(self._win_deferred / self._win_rows)
            self.set_model(model)
        dropped = self._dropped_full
        if dropped > self._dropped_published:
            m.dropped.labels("buffer_full").inc(dropped - self._dropped_published)
            self.dropped += dropped - self._dropped_published
            self._dropped_published = dropped
        m.buffered.set(self._buffered)

    def set_model(self, model: ServedModel) -> None:
        """Export the promise of ``model`` at once (before any traffic)."""
        if model.deferral is not None:
            ids = (model.name, model.version_text)
            self._metrics.promised.labels(*ids).set(model.deferral.promised_deferral_rate)
            self._metrics.promised_high.labels(*ids).set(1.0 - model.deferral.coverage_low)

    def refresh_store_gauges(self) -> None:
        """Read the queue length and the audit accuracy of the served version from the store."""
        model = self._model
        if self.sink is None or model is None or model.version is None:
            return
        m = self._metrics
        try:
            counts = self.sink.review_counts(model=model.name)
            audit = self.sink.audit_accuracy(model.name, model.version)
        except Exception as e:
            msg = getattr(e, "message", None) or type(e).__name__
            _log.warning("reading the review queue's state failed: %s", msg)
            return
        m.queue_length.labels(model.name).set(counts.get("open", 0) + counts.get("claimed", 0))
        ids = (model.name, model.version_text)
        m.audited.labels(*ids).set(audit.checked)
        if audit.accuracy is not None:
            m.accuracy.labels(*ids).set(audit.accuracy)
            m.accuracy_low.labels(*ids).set(audit.ci_low)
            m.accuracy_high.labels(*ids).set(audit.ci_high)

    def snapshot(self) -> dict[str, Any]:
        """The feed's state for ``GET /monitoring``."""
        model = self._model
        return {
            "audit_fraction": self.audit_fraction,
            "answered": self._answered,
            "deferred": self._deferred,
            "window_rows": self._win_rows,
            "deferral_rate": self._win_deferred / self._win_rows if self._win_rows else None,
            "promised_deferral_rate": None
            if model is None or model.deferral is None
            else model.deferral.promised_deferral_rate,
            "buffered": self._buffered,
            "capacity": self.capacity,
            "enqueued": self.enqueued,
            "dropped": self.dropped + (self._dropped_full - self._dropped_published),
            "write_errors": self.write_errors,
        }


def _row_inputs(model: ServedModel, columns: dict[str, np.ndarray[Any, Any]], i: int) -> Any:
    """One request row as the review queue keeps it: a single array field as its values (the
    64 pixels of a digit), anything else as a mapping of field to value."""
    fields = model.fields
    if len(fields) == 1 and fields[0].row_shape:
        return columns[fields[0].name][i]
    return {f.name: columns[f.name][i] for f in fields}


def _margin(proba_row: np.ndarray[Any, Any]) -> float | None:
    p = np.asarray(proba_row, dtype=np.float64)
    if p.ndim != 1 or p.shape[0] < 2:
        return None
    top2 = np.partition(p, p.shape[0] - 2)[-2:]
    return float(top2[1] - top2[0])


def _drafts(sel: _Selected) -> list[ReviewItemDraft]:
    model = sel.model
    deferral = model.deferral
    assert deferral is not None and model.version is not None
    at = datetime.fromtimestamp(sel.answered_at, UTC)
    out = []
    for i, reason in zip(sel.rows, sel.reasons, strict=True):
        out.append(
            ReviewItemDraft(
                model_name=model.name,
                model_version=model.version,
                model_digest=model.digest,
                calibration_id=deferral.calibration_id,
                inputs=_row_inputs(model, sel.columns, i),
                guess=sel.predictions[i],
                confidence=float(sel.confidence[i]),
                margin=_margin(sel.proba[i]),
                reason=reason,  # type: ignore[arg-type]
                request_id=sel.request_id,
                created_at=at,
            )
        )
    return out
