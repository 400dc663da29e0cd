"""Configuration of the model server."""

from __future__ import annotations

from dataclasses import dataclass

from .._exceptions import InvalidArgumentError


@dataclass(frozen=True)
class ServeSettings:
    """How ``labline serve`` batches, follows aliases and limits requests.

    Attributes:
        max_batch_size: most rows coalesced into one model call (requests are never split,
            so a single larger request is still served whole).
        max_wait_ms: longest a queued request waits for more requests to arrive. The wait only
            happens while other requests are being received; an idle server answers at once.
        follow: poll the registry and switch to the version the alias points at (``--pin``
            turns this off). Ignored for ``name/version`` references and package paths.
        poll_interval_s: seconds between two registry polls while following.
        max_body_bytes: largest accepted request body (after decompression); larger bodies
            are answered with 413.
        model_thread: run model calls in a dedicated thread (the event loop keeps parsing and
            answering while the model computes). ``False`` calls the model on the event loop.
        monitor: keep live windows and test them for drift against the package's reference
            profile, off the request path (see :mod:`labline.serving._monitoring`).
        monitor_window: rows per live window.
        monitor_interval_s: seconds between two drift tests (gauges are that fresh).
        monitor_max_features: features exported as labelled Prometheus gauges (the first in
            schema order; bounds the label set).
        review: send the deferred answers of a calibrated model (and the audit sample) to the
            review queue. Off, answers still carry ``deferred`` and the rates are measured.
        audit_fraction: share of the kept (confident) answers also sent to review, at random:
            the audit sample that measures live accuracy without bias.
        review_buffer: most review items held in memory for the background writer; beyond
            it items are counted as dropped (``labline_review_dropped_items_total``).
        reviews_needed: reviewers each queued item needs (agreement is reported above 1).
        review_stats_interval_s: seconds between two reads of the queue length and the audit
            accuracy from the store.

    Example:
        >>> ServeSettings(max_batch_size=32, max_wait_ms=1.0).max_batch_size
        32
    """

    max_batch_size: int = 64
    max_wait_ms: float = 2.0
    follow: bool = True
    poll_interval_s: float = 5.0
    max_body_bytes: int = 8 * 1024 * 1024
    model_thread: bool = False
    monitor: bool = True
    monitor_window: int = 1000
    monitor_interval_s: float = 5.0
    monitor_max_features: int = 32
    review: bool = True
    audit_fraction: float = 0.01
    review_buffer: int = 10_000
    reviews_needed: int = 1
    review_stats_interval_s: float = 15.0

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise InvalidArgumentError("max_batch_size must be at least 1")
        if self.max_wait_ms < 0:
            raise InvalidArgumentError("max_wait_ms must not be negative")
        if self.poll_interval_s <= 0:
            raise InvalidArgumentError("poll_interval_s must be positive")
        if self.max_body_bytes < 1:
            raise InvalidArgumentError("max_body_bytes must be positive")
        if self.monitor_window < 10:
            raise InvalidArgumentError("monitor_window must be at least 10 rows")
        if self.monitor_interval_s <= 0:
            raise InvalidArgumentError("monitor_interval_s must be positive")
        if self.monitor_max_features < 0:
            raise InvalidArgumentError("monitor_max_features must not be negative")
        if not 0.0 <= self.audit_fraction <= 1.0:
            raise InvalidArgumentError("audit_fraction must be between 0 and 1")
        if self.review_buffer < 1:
            raise InvalidArgumentError("review_buffer must be at least 1")
        if not 1 <= self.reviews_needed <= 20:
            raise InvalidArgumentError("reviews_needed must be from 1 to 20")
        if self.review_stats_interval_s <= 0:
            raise InvalidArgumentError("review_stats_interval_s must be positive")
