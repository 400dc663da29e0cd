"""The state of one serving process: the model, the batcher, metrics, alias following."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from .._exceptions import (
    IntegrityError,
    InvalidArgumentError,
    LablineError,
    NotFoundError,
    ParityError,
)
from ._batching import Job, MicroBatcher, ModelCall
from ._metrics import ServingMetrics
from ._model import ServableModel, ServedModel
from ._monitoring import LiveMonitor
from ._review_feed import ReviewFeed, ReviewSink
from ._settings import ServeSettings
from ._source import ModelSource

__all__ = ["ModelServer"]

_log = logging.getLogger("labline.serving")

CALIBRATION_CHECK_MIN_S = 2.0
"""Shortest pause between two lookups of the served version's current calibration."""


class ModelServer:
    """State of one serving process: the current model, the batcher, metrics, alias following
    and monitoring.

    Args:
        settings: batching, limits and following.
        source: where the model comes from; loaded (and verified) right away.
        metrics: the metrics to record into (a fresh per-process set by default; the worker
            factory passes one in multiprocess mode).
        review_client: where a calibrated model's deferred answers and audit samples are
            queued for review (the server's :class:`labline.Client`); ``None``: not queued,
            only counted.

    Raises:
        LablineError: the model cannot be loaded or verified (from the source), or its
            calibration cannot apply.
    """

    def __init__(
        self,
        settings: ServeSettings,
        source: ModelSource,
        metrics: ServingMetrics | None = None,
        review_client: ReviewSink | None = None,
    ) -> None:
        self.settings = settings
        self.source = source
        self.metrics = metrics if metrics is not None else ServingMetrics()
        self.model = self._served(source.load())
        self.metrics.set_model(self.model)
        self.review = ReviewFeed(
            review_client,
            self.metrics,
            enabled=settings.review,
            audit_fraction=settings.audit_fraction,
            capacity=settings.review_buffer,
            reviews_needed=settings.reviews_needed,
            window=settings.monitor_window,
            stats_interval_s=settings.review_stats_interval_s,
        )
        self.review.set_model(self.model)
        self.monitor: LiveMonitor | None = (
            LiveMonitor(
                self.metrics,
                window=settings.monitor_window,
                interval_s=settings.monitor_interval_s,
                max_features=settings.monitor_max_features,
            )
            if settings.monitor
            else None
        )
        self.batcher = MicroBatcher(
            max_batch_size=settings.max_batch_size,
            max_wait_s=settings.max_wait_ms / 1000.0,
            use_thread=settings.model_thread,
            observe_batch=self.metrics.observe_batch,
            observe_outputs=self._observe_outputs,
        )
        self.ready = True
        self._rejected: set[str] = set()
        self._follower: asyncio.Task[None] | None = None
        self._calibration_watch: asyncio.Task[None] | None = None

    def _served(self, loaded: ServableModel) -> ServedModel:
        """``loaded`` wrapped for the request path, under its version's current calibration."""
        return ServedModel(loaded, self.source.calibration(loaded.name, loaded.version))

    def _observe_outputs(
        self, batch: list[Job], outcomes: list[Any], calls: list[ModelCall]
    ) -> None:
        if self.monitor is not None and calls:
            self.monitor.offer(calls)
        if batch[0].model.deferral is not None:
            self.review.offer(batch, outcomes)

    # -- calibration following ----------------------------------------------------------------

    async def check_calibration(self) -> bool:
        """Look up the served version's current calibration once; apply it if it changed
        (a new ``labline calibrate`` takes effect without a restart, nothing is reloaded).

        Returns:
            True when the deferral rule changed.
        """
        model = self.model
        if model.version is None:
            return False
        try:
            cal = await asyncio.to_thread(self.source.calibration, model.name, model.version)
        except Exception as e:
            msg = e.message if isinstance(e, LablineError) else type(e).__name__
            _log.warning("calibration lookup for %s failed: %s", self.source.ref, msg)
            return False
        old = None if model.deferral is None else model.deferral.calibration_id
        new = None if cal is None else int(cal.id)
        if old == new or self.model is not model:
            return False
        try:
            served = model.with_calibration(cal)
        except LablineError as e:
            _log.error("calibration %s cannot apply to %s: %s", new, self.source.ref, e.message)
            return False
        self.model = served
        self.review.set_model(served)
        _log.warning(
            "%s version %s now defers under calibration %s (was %s)",
            served.name,
            served.version_text,
            new,
            old,
        )
        return True

    async def _watch_calibration_forever(self) -> None:
        interval = max(self.settings.poll_interval_s, CALIBRATION_CHECK_MIN_S)
        while True:
            await asyncio.sleep(interval)
            await self.check_calibration()

    # -- alias following --------------------------------------------------------------------

    async def check_for_update(self) -> bool:
        """Poll the source once; load, verify and switch to a new version if the alias moved.

        In-flight requests finish on the model they were validated against.

        Returns:
            True when the server switched to another model.
        """
        try:
            digest = await asyncio.to_thread(self.source.current_digest)
        except LablineError as e:
            _log.warning("alias check for %s failed: %s", self.source.ref, e.message)
            return False
        except Exception as e:
            _log.warning("alias check for %s failed with %s", self.source.ref, type(e).__name__)
            return False
        if digest == self.model.digest or digest in self._rejected:
            return False
        started = time.monotonic()
        try:
            new = await asyncio.to_thread(lambda: self._served(self.source.load()))
        except (IntegrityError, ParityError, InvalidArgumentError, NotFoundError) as e:
            self._rejected.add(digest)
            _log.error(
                "not switching %s to %s; it failed verification: %s",
                self.source.ref,
                digest,
                e.message,
            )
            return False
        except Exception as e:
            msg = e.message if isinstance(e, LablineError) else type(e).__name__
            _log.warning(
                "loading the new target of %s failed (will retry): %s", self.source.ref, msg
            )
            return False
        old = self.model
        if new.digest == old.digest:
            return False
        self.model = new  # atomic swap; queued requests keep their validated model
        self.metrics.set_model(new)
        self.review.set_model(new)
        self.metrics.switches.inc()
        _log.warning(
            "switched %s from %s version %s (%s) to %s version %s (%s), loaded and verified "
            "in %.2fs",
            self.source.ref,
            old.name,
            old.version_text or "-",
            old.digest,
            new.name,
            new.version_text or "-",
            new.digest,
            time.monotonic() - started,
        )
        return True

    async def _follow_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.poll_interval_s)
            await self.check_for_update()

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        """Start alias following, calibration following, monitoring and the review writer; on
        shutdown stop them, drain the model thread and write the buffered review items."""
        if self.monitor is not None:
            self.monitor.start()
        self.review.start()
        if self.settings.follow and self.source.followable:
            self._follower = asyncio.create_task(self._follow_forever())
            _log.info("following %s every %.1fs", self.source.ref, self.settings.poll_interval_s)
        if self.model.version is not None:
            self._calibration_watch = asyncio.create_task(self._watch_calibration_forever())
        try:
            yield
        finally:
            self.ready = False
            for task in (self._follower, self._calibration_watch):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            await asyncio.to_thread(self.batcher.close)
            if self.monitor is not None:
                await asyncio.to_thread(self.monitor.stop)
            await asyncio.to_thread(self.review.stop)
            self.metrics.close()

    # -- request helpers --------------------------------------------------------------------

    def model_for(self, name: str, version: str | None) -> ServedModel:
        """The current model if ``name`` (and ``version``) designate it.

        Raises:
            NotFoundError: another model or version is served.
        """
        model = self.model
        if name != model.name:
            raise NotFoundError(f"unknown model {name[:64]!r}; this server serves {model.name!r}")
        if version is not None and version != model.version_text:
            raise NotFoundError(
                f"model {model.name!r} version {version[:16]!r} is not served "
                f"(serving version {model.version_text or 'unversioned'})",
            )
        return model
