"""Prometheus metrics of one model server (one registry per app, no process globals).

The request path only counts: each answered request and each model call is appended to a
pending list on the event loop (no lock, no bucket search), and :meth:`ServingMetrics.publish`
folds the pending observations into the Prometheus metrics in bulk, one update per series.
That happens on every scrape (``GET /metrics`` renders exactly what was answered before it)
and every :data:`PUBLISH_EVERY` observations (memory stays bounded between scrapes).

With several uvicorn workers, every worker writes its samples to files in one directory
(prometheus_client's multiprocess mode) and ``/metrics`` answers the sum over all workers,
whichever worker serves the scrape. A scrape cannot reach another worker's pending list, so
in that mode every observation is published at once.
"""

from __future__ import annotations

import bisect
import os
from typing import Any

from .._imports import import_optional
from ._model import ServedModel

__all__ = ["PUBLISH_EVERY", "ServingMetrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)

PUBLISH_EVERY = 1024
"""Pending request observations that trigger a publish between two scrapes."""


def _bulk_histogram(prom: Any) -> Any:
    """prometheus_client's Histogram with a bulk update (the request path observes in bulk)."""

    class BulkHistogram(prom.Histogram):  # type: ignore[misc]
        def observe_many(self, values: list[float]) -> None:
            """Observe each of ``values`` as :meth:`observe` would, one update per series."""
            self._raise_if_not_observable()
            bounds = self._upper_bounds
            counts = [0] * len(bounds)
            for v in values:
                counts[bisect.bisect_left(bounds, v)] += 1  # the first bound >= v
            self._sum.inc(sum(values))
            for bucket, n in zip(self._buckets, counts, strict=True):
                if n:
                    bucket.inc(n)

    return BulkHistogram


class ServingMetrics:
    """Counters, histograms and gauges exposed on ``GET /metrics``.

    Metric names:
        ``labline_serving_requests_total{endpoint,status}``,
        ``labline_serving_request_errors_total{endpoint,status}``,
        ``labline_serving_request_duration_seconds{endpoint}`` (histogram),
        ``labline_serving_batch_size`` (rows per model call, histogram),
        ``labline_serving_batch_duration_seconds`` (histogram),
        ``labline_serving_inflight_requests`` (gauge),
        ``labline_serving_model_info{name,version,digest}`` (1 for a model being served, by
        any worker),
        ``labline_serving_model_switches_total``,
        ``labline_serving_workers`` (processes serving, summed over workers).

    Args:
        multiprocess_dir: the directory shared by the workers of one server (multiprocess
            mode; ``PROMETHEUS_MULTIPROC_DIR`` must name it in every worker before
            prometheus_client is imported). ``None`` for a single process.
    """

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        prom = import_optional("prometheus_client", "serve")
        self._prom = prom
        self.multiprocess_dir = multiprocess_dir
        self.registry = prom.CollectorRegistry(auto_describe=True)
        r = self.registry
        Histogram = _bulk_histogram(prom)
        self.requests = prom.Counter(
            "labline_serving_requests", "HTTP requests answered", ["endpoint", "status"], registry=r
        )
        self.errors = prom.Counter(
            "labline_serving_request_errors",
            "HTTP requests answered with a 4xx or 5xx status",
            ["endpoint", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "labline_serving_request_duration_seconds",
            "Time from request start to response, by endpoint",
            ["endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "labline_serving_batch_size", "Rows per model call", buckets=_BATCH_BUCKETS, registry=r
        )
        self.batch_duration = Histogram(
            "labline_serving_batch_duration_seconds",
            "Duration of one model call",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.inflight = prom.Gauge(
            "labline_serving_inflight_requests",
            "Requests being handled",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.model_info = prom.Gauge(
            "labline_serving_model_info",
            "The model being served (value 1)",
            ["name", "version", "digest"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.workers = prom.Gauge(
            "labline_serving_workers",
            "Worker processes serving",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.workers.set(1)
        self.switches = prom.Counter(
            "labline_serving_model_switches", "Alias-following model switches", registry=r
        )
        self._request_children: dict[tuple[str, int], Any] = {}
        self._error_children: dict[tuple[str, int], Any] = {}
        self._latency_children: dict[str, Any] = {}
        self._info_labels: tuple[str, str, str] | None = None
        # what the request path counted and publish() has not folded in yet
        self._inflight = 0
        self._pending_requests: dict[tuple[str, int], list[float]] = {}
        self._pending_count = 0
        self._pending_batches: list[tuple[int, float]] = []
        self._write_through = multiprocess_dir is not None
        if self._write_through:
            self.inflight.set(0)
        else:
            self.inflight.set_function(lambda: self._inflight)

    def request_started(self) -> None:
        """A request is being handled (the in-flight gauge)."""
        self._inflight += 1
        if self._write_through:
            self.inflight.set(self._inflight)

    def request_ended(self) -> None:
        """A request counted by :meth:`request_started` is no longer being handled."""
        self._inflight -= 1
        if self._write_through:
            self.inflight.set(self._inflight)

    def observe_request(self, endpoint: str, status: int, seconds: float) -> None:
        """Count one answered request and record its latency."""
        key = (endpoint, status)
        pending = self._pending_requests.get(key)
        if pending is None:
            pending = self._pending_requests[key] = []
        pending.append(seconds)
        self._pending_count += 1
        if self._write_through or self._pending_count >= PUBLISH_EVERY:
            self.publish()

    def observe_batch(self, rows: int, seconds: float) -> None:
        """Record one model call."""
        self._pending_batches.append((rows, seconds))
        if self._write_through or len(self._pending_batches) >= PUBLISH_EVERY:
            self.publish()

    def publish(self) -> None:
        """Fold the pending observations into the Prometheus metrics (one update per series)."""
        if self._pending_count:
            latencies: dict[str, list[float]] = {}
            for (endpoint, status), seconds in self._pending_requests.items():
                key = (endpoint, status)
                child = self._request_children.get(key)
                if child is None:
                    child = self._request_children[key] = self.requests.labels(
                        endpoint, str(status)
                    )
                child.inc(len(seconds))
                if status >= 400:
                    err = self._error_children.get(key)
                    if err is None:
                        err = self._error_children[key] = self.errors.labels(endpoint, str(status))
                    err.inc(len(seconds))
                latencies.setdefault(endpoint, []).extend(seconds)
            for endpoint, seconds in latencies.items():
                lat = self._latency_children.get(endpoint)
                if lat is None:
                    lat = self._latency_children[endpoint] = self.latency.labels(endpoint)
                lat.observe_many(seconds)
            self._pending_requests = {}
            self._pending_count = 0
        if self._pending_batches:
            self.batch_size.observe_many([float(r) for r, _ in self._pending_batches])
            self.batch_duration.observe_many([s for _, s in self._pending_batches])
            self._pending_batches = []
        if self._write_through:
            self.inflight.set(self._inflight)

    def set_model(self, model: ServedModel) -> None:
        """Point the info metric at ``model`` (removing the previous one)."""
        labels = (model.name, model.version_text, model.digest)
        if self._info_labels is not None and self._info_labels != labels:
            # 0 first: in multiprocess mode the value lives on in this worker's file
            self.model_info.labels(*self._info_labels).set(0)
            self.model_info.remove(*self._info_labels)
        self.model_info.labels(*labels).set(1)
        self._info_labels = labels

    def render(self) -> tuple[bytes, str]:
        """The exposition text (all workers' samples in multiprocess mode) and its content type."""
        self.publish()
        registry = self.registry
        if self.multiprocess_dir is not None:
            from prometheus_client import multiprocess

            registry = self._prom.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return self._prom.generate_latest(registry), self._prom.CONTENT_TYPE_LATEST

    def close(self) -> None:
        """This process stops serving: drop its live gauges from the shared directory."""
        if self.multiprocess_dir is not None:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid(), self.multiprocess_dir)  # type: ignore[no-untyped-call]
