"""Prometheus metrics of one model server (one registry per app, no process globals)."""

from __future__ import annotations

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
        ``labline_serving_model_info{name,version,digest}`` (1 for the model being served),
        ``labline_serving_model_switches_total``.
    """

    def __init__(self) -> None:
        prom = import_optional("prometheus_client", "serve")
        self._prom = prom
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
            "labline_serving_inflight_requests", "Requests being handled", registry=r
        )
        self.model_info = prom.Gauge(
            "labline_serving_model_info",
            "The model being served (value 1)",
            ["name", "version", "digest"],
            registry=r,
        )
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
            self.model_info.remove(*self._info_labels)
        self.model_info.labels(*labels).set(1)
        self._info_labels = labels

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return self._prom.generate_latest(self.registry), self._prom.CONTENT_TYPE_LATEST
