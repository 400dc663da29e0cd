"""Prometheus metrics of one model server (one registry per app, no process globals).

With several uvicorn workers, every worker writes its samples to files in one directory
(prometheus_client's multiprocess mode) and ``/metrics`` answers the sum over all workers,
whichever worker serves the scrape.
"""

from __future__ import annotations

import os
from typing import Any

from .._imports import import_optional
from ._model import ServedModel

__all__ = ["ServingMetrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


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
        self.requests = prom.Counter(
            "labline_serving_requests", "HTTP requests answered", ["endpoint", "status"], registry=r
        )
        self.errors = prom.Counter(
            "labline_serving_request_errors",
            "HTTP requests answered with a 4xx or 5xx status",
            ["endpoint", "status"],
            registry=r,
        )
        self.latency = prom.Histogram(
            "labline_serving_request_duration_seconds",
            "Time from request start to response, by endpoint",
            ["endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = prom.Histogram(
            "labline_serving_batch_size", "Rows per model call", buckets=_BATCH_BUCKETS, registry=r
        )
        self.batch_duration = prom.Histogram(
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

    def observe_request(self, endpoint: str, status: int, seconds: float) -> None:
        """Count one answered request and record its latency."""
        key = (endpoint, status)
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self.requests.labels(endpoint, str(status))
        child.inc()
        if status >= 400:
            err = self._error_children.get(key)
            if err is None:
                err = self._error_children[key] = self.errors.labels(endpoint, str(status))
            err.inc()
        lat = self._latency_children.get(endpoint)
        if lat is None:
            lat = self._latency_children[endpoint] = self.latency.labels(endpoint)
        lat.observe(seconds)

    def observe_batch(self, rows: int, seconds: float) -> None:
        """Record one model call."""
        self.batch_size.observe(rows)
        self.batch_duration.observe(seconds)

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
