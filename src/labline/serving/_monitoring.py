"""Watching the served model: live windows, drift against the package's reference profile,
gauges per model version, and the report behind ``GET /monitoring``.

Off the hot path: after each batch the batcher hands its successful model calls (the batch's
inputs and outputs as whole arrays, one record per call) to :meth:`LiveMonitor.offer`, which
only appends them to a bounded queue (a full queue drops the batch and counts it:
``labline_monitor_dropped_batches_total``). A background thread drains the queue into the
current model's sliding window (the last ``monitor_window`` rows) and, every
``monitor_interval_s`` seconds, tests the window against the reference profile
(:func:`labline.core.stats.drift_report`) and sets the gauges. ``GET /monitoring`` drains and
tests at once, so it always describes the traffic received so far.

Gauges (labels ``model``, ``version``; ``feature`` for the per-feature ones, exported for the
first ``monitor_max_features`` features in schema order only, to bound the label set; the JSON
report has all of them)::

    labline_monitor_feature_drift_statistic{model,version,feature,test}   KS D or chi-squared
    labline_monitor_feature_drift_p_value{model,version,feature}          Holm-adjusted
    labline_monitor_drifted_feature_share{model,version}
    labline_monitor_prediction_drift_p_value{model,version}
    labline_monitor_confidence_drift_p_value{model,version}
    labline_monitor_estimated_accuracy{model,version}                     calibrated classifiers
    labline_monitor_reference_accuracy{model,version}                     measured, else expected
    labline_monitor_window_rows{model,version}
    labline_monitor_reference_present{model,version}                      0: no profile
    labline_monitor_dropped_batches_total

With ``--workers N`` each worker keeps its own window and tests it on its own; the gauges go
through prometheus_client's multiprocess mode and are aggregated over the live workers as the
*worst* worker: the largest statistic, drifted share and reference accuracy, the smallest
p-value and estimated accuracy, and the sum of window rows. ``GET /monitoring`` answers with
the window of the worker that received the request (its ``worker`` field says which).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core._profile import ReferenceProfile, confidence_of, feature_columns
from ..core.stats._drift import DriftReport, drift_report
from ._batching import ModelCall
from ._metrics import ServingMetrics
from ._model import ServedModel

__all__ = ["LiveMonitor", "ModelWindow"]

_log = logging.getLogger("labline.serving")

QUEUE_BATCHES = 4096
DRAIN_INTERVAL_S = 0.2


@dataclass
class _Chunk:
    """One model call's rows, as references to its own arrays: nothing is computed when it
    is added (per-row work is done once per drift test, on the whole window)."""

    columns: dict[str, np.ndarray[Any, Any]]
    predictions: np.ndarray[Any, Any]
    proba: np.ndarray[Any, Any] | None
    rows: int


@dataclass
class ModelWindow:
    """The last ``capacity`` rows one model answered, kept as its model calls' own arrays.

    Attributes:
        model: the served model.
        capacity: rows kept.
        chunks: one per model call, oldest first.
        rows: rows held.
        seen: rows ever added.
    """

    model: ServedModel
    capacity: int
    chunks: deque[_Chunk] = field(default_factory=deque)
    rows: int = 0
    seen: int = 0

    def add(self, chunk: _Chunk) -> None:
        """Append one model call's rows, dropping the oldest beyond the capacity."""
        self.chunks.append(chunk)
        self.rows += chunk.rows
        self.seen += chunk.rows
        while self.chunks and self.rows - self.chunks[0].rows >= self.capacity:
            self.rows -= self.chunks.popleft().rows

    def arrays(
        self,
    ) -> tuple[dict[str, np.ndarray[Any, Any]], np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
        """The window's features, predictions and confidences, trimmed to the capacity."""
        chunks = list(self.chunks)
        extra = max(0, self.rows - self.capacity)
        names = list(chunks[0].columns) if chunks else []
        columns = {n: np.concatenate([c.columns[n] for c in chunks])[extra:] for n in names}
        features, _ = feature_columns(columns)
        predictions = np.concatenate([c.predictions for c in chunks])[extra:]
        with_proba = [c for c in chunks if c.proba is not None]
        confidence = None
        if with_proba:
            confidence = confidence_of(
                np.concatenate([c.predictions for c in with_proba]),
                np.concatenate([c.proba for c in with_proba if c.proba is not None]),
                self.model.classes,
            )[-self.capacity :]
        return features, predictions, confidence


class _Gauges:
    """The monitoring gauges, on the serving metrics' registry."""

    def __init__(self, metrics: ServingMetrics) -> None:
        prom = import_prometheus()
        r = metrics.registry
        labels = ["model", "version"]

        def gauge(name: str, doc: str, mode: str, extra: Sequence[str] = ()) -> Any:
            return prom.Gauge(name, doc, [*labels, *extra], registry=r, multiprocess_mode=mode)

        self.statistic = gauge(
            "labline_monitor_feature_drift_statistic",
            "Drift statistic of a feature (KS distance or chi-squared), first features only",
            "livemax",
            ("feature", "test"),
        )
        self.p_value = gauge(
            "labline_monitor_feature_drift_p_value",
            "Holm-adjusted drift p-value of a feature, first features only",
            "livemin",
            ("feature",),
        )
        self.share = gauge(
            "labline_monitor_drifted_feature_share",
            "Share of input features drifted (Holm-adjusted p < alpha)",
            "livemax",
        )
        self.prediction_p = gauge(
            "labline_monitor_prediction_drift_p_value", "Prediction drift p-value", "livemin"
        )
        self.confidence_p = gauge(
            "labline_monitor_confidence_drift_p_value", "Confidence drift p-value", "livemin"
        )
        self.accuracy = gauge(
            "labline_monitor_estimated_accuracy",
            "Accuracy estimated from calibrated confidences (no labels; assumes no concept drift)",
            "livemin",
        )
        self.reference_accuracy = gauge(
            "labline_monitor_reference_accuracy",
            "Accuracy on the reference data (measured with labels, else expected from confidence)",
            "livemax",
        )
        self.rows = gauge("labline_monitor_window_rows", "Rows in the live window", "livesum")
        self.present = gauge(
            "labline_monitor_reference_present",
            "1 when the served package has a reference profile",
            "livemax",
        )
        self.dropped = prom.Counter(
            "labline_monitor_dropped_batches",
            "Answered batches not monitored because the monitoring queue was full",
            registry=r,
        )
        self._children: list[tuple[Any, tuple[str, ...]]] = []

    def _set(self, gauge: Any, labels: tuple[str, ...], value: float | None) -> None:
        if value is None or not np.isfinite(value):
            return
        gauge.labels(*labels).set(value)
        self._children.append((gauge, labels))

    def clear(self) -> None:
        """Remove every labelled series this process set (another model is served now)."""
        for gauge, labels in self._children:
            try:
                gauge.labels(*labels).set(float("nan"))
                gauge.remove(*labels)
            except KeyError:  # pragma: no cover - already removed
                pass
        self._children = []

    def publish(
        self,
        model: ServedModel,
        profile: ReferenceProfile | None,
        report: DriftReport | None,
        rows: int,
        max_features: int,
    ) -> None:
        """Set the gauges of ``model`` from ``report``."""
        ids = (model.name, model.version_text)
        self._children = [(g, labels) for g, labels in self._children if labels[:2] == ids]
        self._set(self.present, ids, 0.0 if profile is None else 1.0)
        self._set(self.rows, ids, float(rows))
        if profile is not None:
            ref_acc = (
                profile.accuracy if profile.accuracy is not None else profile.expected_accuracy
            )
            self._set(self.reference_accuracy, ids, ref_acc)
        if report is None:
            return
        for f in report.features[:max_features]:
            self._set(self.statistic, (*ids, f.feature, f.test), f.statistic)
            self._set(self.p_value, (*ids, f.feature), f.adjusted_p_value)
        self._set(self.share, ids, report.drifted_share)
        if report.predictions is not None:
            self._set(self.prediction_p, ids, report.predictions.p_value)
        if report.confidence is not None:
            self._set(self.confidence_p, ids, report.confidence.p_value)
        if report.accuracy is not None:
            self._set(self.accuracy, ids, report.accuracy.value)


def import_prometheus() -> Any:
    """prometheus_client (the ``serve`` extra)."""
    from .._imports import import_optional

    return import_optional("prometheus_client", "serve")


class LiveMonitor:
    """Live windows of the served model and their drift against its reference profile.

    Args:
        metrics: the serving metrics (the gauges join their registry).
        window: rows kept per window.
        interval_s: seconds between two drift tests by the background thread.
        max_features: features exported as labelled gauges (the first in schema order).
        alpha: family-wise error level of the Holm correction.
        queue_batches: most answered batches waiting for the background thread.

    Thread safety: :meth:`offer` runs on the event loop; everything else takes the lock.
    """

    def __init__(
        self,
        metrics: ServingMetrics,
        *,
        window: int = 1000,
        interval_s: float = 5.0,
        max_features: int = 32,
        alpha: float = 0.05,
        queue_batches: int = QUEUE_BATCHES,
    ) -> None:
        self.window = window
        self.interval_s = interval_s
        self.max_features = max_features
        self.alpha = alpha
        self._capacity = queue_batches
        self._queue: deque[list[ModelCall]] = deque()
        self._dropped = 0
        self._dropped_published = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._gauges = _Gauges(metrics)
        self._current: ModelWindow | None = None
        self._report: DriftReport | None = None
        self._computed_at: float | None = None
        self._test_seconds: float | None = None
        self._computed_seen = -1

    # -- the hot path: O(1), no lock --------------------------------------------------------

    def offer(self, calls: list[ModelCall]) -> None:
        """Queue one batch's model calls for the background thread (dropped when the queue is
        full)."""
        if len(self._queue) >= self._capacity:
            self._dropped += 1
            return
        self._queue.append(calls)

    # -- the background side ----------------------------------------------------------------

    def start(self) -> None:
        """Start the background thread (idempotent)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="labline-monitor", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the background thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(DRAIN_INTERVAL_S):
            try:
                self.drain()
                if time.monotonic() - last >= self.interval_s:
                    last = time.monotonic()
                    self.refresh()
            except Exception as e:  # keep monitoring; never quote a payload
                _log.error("monitoring failed with %s", type(e).__name__)

    def drain(self) -> None:
        """Move the queued batches into the current model's window."""
        with self._lock:
            queue = self._queue
            while queue:
                for call in queue.popleft():
                    self._add(call)
            if self._dropped != self._dropped_published:
                self._gauges.dropped.inc(self._dropped - self._dropped_published)
                self._dropped_published = self._dropped

    def _add(self, call: ModelCall) -> None:
        model = call.model
        if self._current is None or self._current.model is not model:
            if self._current is not None:
                self._gauges.clear()
            self._current = ModelWindow(model, self.window)
            self._report = None
            self._computed_seen = -1
        self._current.add(_Chunk(call.columns, call.predictions, call.proba, call.rows))

    def refresh(self) -> DriftReport | None:
        """Drain, test the current window against the reference (if anything new arrived),
        and set the gauges.

        Returns:
            The latest report, or None without traffic or without a reference profile.
        """
        self.drain()
        with self._lock:
            win = self._current
            if win is None:
                return None
            profile = win.model.reference_profile
            if win.seen != self._computed_seen:
                if profile is not None and win.rows:
                    started = time.perf_counter()
                    features, predictions, confidence = win.arrays()
                    self._report = drift_report(
                        profile,
                        features,
                        predictions=predictions,
                        confidence=confidence,
                        alpha=self.alpha,
                    )
                    self._test_seconds = time.perf_counter() - started
                self._computed_seen = win.seen
                self._computed_at = time.time()
                self._gauges.publish(
                    win.model, profile, self._report, min(win.rows, win.capacity), self.max_features
                )
            return self._report

    def snapshot(self, model: ServedModel) -> dict[str, Any]:
        """The ``GET /monitoring`` document for the served ``model``."""
        report = self.refresh()
        with self._lock:
            win = (
                self._current
                if self._current is not None and self._current.model is model
                else None
            )
            profile = model.reference_profile
            rows = 0 if win is None else min(win.rows, win.capacity)
            if profile is None:
                status = "no reference"
            elif win is None or rows == 0:
                status = "no traffic"
            else:
                status = "ok"
            doc: dict[str, Any] = {
                "model": dict(model.identity_json),
                "status": status,
                "worker": os.getpid(),
                "window": {
                    "rows": rows,
                    "capacity": self.window,
                    "seen": 0 if win is None else win.seen,
                },
                "dropped_batches": self._dropped,
                "computed_at": self._computed_at,
                "test_seconds": self._test_seconds,
                "exported_features": self.max_features,
                "reference": None
                if profile is None
                else {
                    "rows": profile.n,
                    "features": len(profile.features),
                    "skipped_features": profile.skipped_features,
                    "accuracy": profile.accuracy,
                    "expected_accuracy": profile.expected_accuracy,
                },
                "assumption": "estimated accuracy assumes a calibrated model and no concept "
                "drift (the relation between inputs and labels is unchanged)",
                "report": None if report is None or win is None else report.to_json(),
            }
        return doc
