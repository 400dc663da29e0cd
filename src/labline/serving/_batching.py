"""Adaptive micro-batching: concurrent requests are coalesced into one model call.

Policy (continuous batching): when the model is idle, the queue is flushed right away, so
a lone request is never delayed. While the model computes, new requests queue up and go
together into the next call. A flush is held back (at most ``max_wait``) only when waiting is
likely to grow the batch: while other requests are still being received, or while the queue
grew since the flush was scheduled (requests that reached the server in the same turn of the
event loop are queued one turn later; under load, answering one batch brings the next wave of
requests, and they are worth a turn of the loop: a model call costs far more than a turn).
Requests are never split; a batch only mixes requests validated against the same model, so
an alias switch never feeds a request to a model whose schema it was not checked against.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._exceptions import LablineError, ModelError
from ._model import ServedModel

__all__ = ["BatchResult", "Job", "MicroBatcher", "ModelCall"]

_log = logging.getLogger("labline.serving")


@dataclass(frozen=True)
class BatchResult:
    """One request's share of a batch's outputs (``proba`` only when the request asked).

    For a calibrated model, ``deferred`` and ``confidence`` hold the decision and score of each
    row, and ``scored_proba`` the probabilities they were decided on (kept for the review queue
    even when the request did not ask for probabilities).
    """

    model: ServedModel
    predictions: np.ndarray[Any, Any]
    proba: np.ndarray[Any, Any] | None
    batch_size: int
    deferred: np.ndarray[Any, Any] | None = None
    confidence: np.ndarray[Any, Any] | None = None
    scored_proba: np.ndarray[Any, Any] | None = None


@dataclass(frozen=True)
class ModelCall:
    """What one successful model call took in and answered, for the whole batch at once
    (monitoring keeps these: one record per call, not one per request).

    ``proba`` is there when the call computed probabilities (a request of the batch asked, or
    the model is calibrated).
    """

    model: ServedModel
    columns: dict[str, np.ndarray[Any, Any]]
    predictions: np.ndarray[Any, Any]
    proba: np.ndarray[Any, Any] | None
    rows: int


_Timed = tuple[list[Any], list[ModelCall], float]
"""(one outcome per job, the successful model calls, seconds in the model)."""


@dataclass
class Job:
    """A validated request waiting for the model."""

    model: ServedModel
    columns: dict[str, np.ndarray[Any, Any]]
    n_rows: int
    future: asyncio.Future[BatchResult]
    wants_proba: bool = True
    request_id: str | None = None
    enqueued: float = field(default_factory=time.perf_counter)


class MicroBatcher:
    """Coalesces queued :class:`Job` s into model calls.

    Args:
        max_batch_size: most rows per model call (a single larger request still runs alone).
        max_wait_s: longest hold-back while more requests are being received.
        use_thread: run model calls in a dedicated thread instead of on the event loop.
        observe_batch: called with (rows, seconds) after each model call (metrics).
        observe_outputs: called with (jobs, outcomes, successful model calls) after each
            batch, on the event loop (monitoring, review; it must only hand them over, not
            compute).

    Not thread-safe: all methods except the model call itself run on one event loop.
    """

    def __init__(
        self,
        *,
        max_batch_size: int,
        max_wait_s: float,
        use_thread: bool,
        observe_batch: Callable[[int, float], None] | None = None,
        observe_outputs: Callable[[list[Job], list[Any], list[ModelCall]], None] | None = None,
    ) -> None:
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self._queue: deque[Job] = deque()
        self._busy = False
        self._scheduled = False
        self._queued_when_scheduled = 0
        self._timer: asyncio.TimerHandle | None = None
        self._arriving = 0
        self._executor = (
            ThreadPoolExecutor(1, thread_name_prefix="labline-model") if use_thread else None
        )
        self._observe = observe_batch
        self._observe_outputs = observe_outputs
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- arrivals ---------------------------------------------------------------------------

    def arrival_started(self) -> None:
        """A request began to be received (it may join the next batch soon)."""
        self._arriving += 1

    def arrival_ended(self) -> None:
        """A request was submitted or rejected."""
        self._arriving -= 1
        if self._arriving == 0 and self._queue and not self._busy:
            self._schedule()

    @property
    def pending(self) -> int:
        """Jobs queued and not yet in a model call."""
        return len(self._queue)

    # -- submission -------------------------------------------------------------------------

    def submit(
        self,
        model: ServedModel,
        columns: dict[str, np.ndarray[Any, Any]],
        n_rows: int,
        *,
        wants_proba: bool = True,
        request_id: str | None = None,
    ) -> asyncio.Future[BatchResult]:
        """Queue a validated request; the future resolves to its :class:`BatchResult`.

        Args:
            model: the model the columns were checked against.
            columns: one checked array per input field.
            n_rows: rows in the request.
            wants_proba: the answer includes class probabilities; a batch computes them only
                when one of its requests asks.
            request_id: the request's id (review items name it).
        """
        # the loop that runs this request (an app served again under a new loop keeps working)
        loop = self._loop = asyncio.get_running_loop()
        future: asyncio.Future[BatchResult] = loop.create_future()
        self._queue.append(Job(model, columns, n_rows, future, wants_proba, request_id))
        if not self._busy:
            self._schedule()
        return future

    def _schedule(self) -> None:
        if not self._scheduled and self._loop is not None:
            self._scheduled = True
            self._queued_when_scheduled = len(self._queue)
            self._loop.call_soon(self._dispatch)

    def _dispatch(self) -> None:
        self._scheduled = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        queue = self._queue
        if self._busy or not queue:
            return
        growing = len(queue) > self._queued_when_scheduled
        if (self._arriving > 0 or growing) and self.max_wait_s > 0:
            rows = sum(j.n_rows for j in queue)
            waited = time.perf_counter() - queue[0].enqueued
            if rows < self.max_batch_size and waited < self.max_wait_s:
                assert self._loop is not None
                if self._arriving > 0:  # arrival_ended reschedules once nothing is arriving
                    self._timer = self._loop.call_later(self.max_wait_s - waited, self._dispatch)
                else:  # one more turn of the loop: the requests already read join this batch
                    self._schedule()
                return
        first = queue.popleft()
        batch = [first]
        rows = first.n_rows
        model = first.model
        while queue and queue[0].model is model and rows + queue[0].n_rows <= self.max_batch_size:
            job = queue.popleft()
            batch.append(job)
            rows += job.n_rows
        if self._executor is None:
            self._finish(batch, rows, _timed_execute(batch, rows))
            if queue:
                self._schedule()
        else:
            self._busy = True
            assert self._loop is not None
            done = self._loop.run_in_executor(self._executor, _timed_execute, batch, rows)
            done.add_done_callback(lambda f: self._on_thread_done(batch, rows, f))

    def _on_thread_done(self, batch: list[Job], rows: int, done: asyncio.Future[_Timed]) -> None:
        self._busy = False
        try:
            timed = done.result()
        except BaseException as e:  # pragma: no cover - _timed_execute never raises
            timed = ([e] * len(batch), [], 0.0)
        self._finish(batch, rows, timed)
        if self._queue:
            self._schedule()

    def _finish(self, batch: list[Job], rows: int, timed: _Timed) -> None:
        outcomes, calls, seconds = timed
        for job, outcome in zip(batch, outcomes, strict=True):
            if job.future.done():  # the client went away
                continue
            if isinstance(outcome, BaseException):
                job.future.set_exception(outcome)
            else:
                job.future.set_result(outcome)
        if self._observe is not None:
            self._observe(rows, seconds)
        if self._observe_outputs is not None:
            self._observe_outputs(batch, outcomes, calls)

    def close(self) -> None:
        """Stop the model thread after the queued work is done."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)


def _timed_execute(batch: list[Job], rows: int) -> _Timed:
    start = time.perf_counter()
    calls: list[ModelCall] = []
    outcomes = _execute(batch, rows, calls)
    return outcomes, calls, time.perf_counter() - start


def _execute(batch: list[Job], rows: int, calls: list[ModelCall]) -> list[Any]:
    """Run one model call for ``batch``; outcomes are BatchResults or exceptions, per job.

    Each successful model call is appended to ``calls``.
    """
    model = batch[0].model
    if len(batch) == 1:
        columns = batch[0].columns
    else:
        columns = {
            name: np.concatenate([job.columns[name] for job in batch]) for name in batch[0].columns
        }
    with_proba = any(job.wants_proba for job in batch)
    deferral = model.deferral
    try:
        predictions, proba = model.run(columns, with_proba=with_proba)
        deferred = confidence = None
        if deferral is not None:
            assert proba is not None  # a calibrated model always computes them
            deferred, confidence = deferral.decide(proba)
    except Exception as e:
        if len(batch) == 1:
            return [_as_request_error(e)]
        # Isolate the failing request(s): the others still get their answers.
        out: list[Any] = []
        for job in batch:
            out.extend(_execute([job], job.n_rows, calls))
        return out
    calls.append(ModelCall(model, columns, predictions, proba, rows))
    if len(batch) == 1:
        job = batch[0]
        answered = proba if job.wants_proba else None
        return [BatchResult(model, predictions, answered, rows, deferred, confidence, proba)]
    results: list[Any] = []
    start = 0
    for job in batch:
        stop = start + job.n_rows
        share = None if proba is None or not job.wants_proba else proba[start:stop]
        if deferred is None or confidence is None or proba is None:
            results.append(BatchResult(model, predictions[start:stop], share, rows))
        else:
            results.append(
                BatchResult(
                    model,
                    predictions[start:stop],
                    share,
                    rows,
                    deferred[start:stop],
                    confidence[start:stop],
                    proba[start:stop],
                )
            )
        start = stop
    return results


def _as_request_error(e: Exception) -> Exception:
    if isinstance(e, LablineError):
        return e  # labline's messages never carry payloads
    # Third-party messages may quote the input (sklearn does); keep only the type.
    _log.error("model call failed with %s", type(e).__name__)
    return ModelError(type(e).__name__)
