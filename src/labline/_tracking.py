"""Experiment tracking: ``labline.start_run`` and the run object it returns.

Metric points never touch the database on the caller's thread: ``log_metric`` appends the value
to an in-memory buffer and returns; a background thread writes them in batches (one packed
chunk per series per flush) at least every ``flush_interval`` seconds, and when the run ends or
the interpreter exits. The buffer, its coarse clock and the writer are in ``_metric_buffer``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import threading
import traceback
import weakref
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from ._environment import capture_environment
from ._exceptions import InvalidArgumentError, LablineError, ParamConflictError
from ._metric_buffer import MemoryGate, MetricWriter, SeriesBuffer
from .core._fingerprint import fingerprint, fingerprint_columns
from .core._grammar import check_artifact_path, check_key
from .core._local_paths import confined_files
from .core._predictions import encode_predictions
from .core._types import (
    ArtifactRecord,
    DatasetRecord,
    LoggedModel,
    PredictionsRecord,
    Run,
    RunStatus,
)
from .core._validation import metric_step, metric_timestamp, metric_value, param_value

if TYPE_CHECKING:
    from ._client import Client
    from .core._types import ModelVersion


class ActiveRun:
    """A run being logged. Use as a context manager (or call :meth:`end`).

    Leaving the ``with`` block normally marks the run ``finished``; an exception marks it
    ``failed`` with the error recorded, and the exception propagates.

    Example:
        >>> import tempfile, labline
        >>> client = labline.Client(labline.Settings.local(tempfile.mkdtemp()))
        >>> with client.start_run(experiment="demo", params={"lr": 0.1}) as run:
        ...     for step in range(3):
        ...         run.log_metric("loss", 1.0 / (step + 1))
        >>> run.info.status.value
        'finished'
    """

    @classmethod
    def start(
        cls,
        client: Client,
        experiment: str | None = None,
        name: str | None = None,
        *,
        run_id: str | None = None,
        parent: Run | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        capture_env: bool = True,
        flush_interval: float = 1.0,
    ) -> ActiveRun:
        """Create a run in ``client``'s store (a child of ``parent`` if given), or resume
        ``run_id``, and return it (see :meth:`labline.Client.start_run`)."""
        if run_id is not None:
            return cls._resume(
                client,
                run_id,
                experiment=experiment,
                name=name,
                params=params,
                tags=tags,
                flush_interval=flush_interval,
            )
        if parent is not None and experiment is None:
            experiment = parent.experiment  # a child lives in its parent's experiment
        exp = client.store.get_or_create_experiment(experiment or "default")
        env = capture_environment() if capture_env else {}
        run = client.store.create_run(
            exp.id,
            name or "",
            params={k: param_value(k, v) for k, v in (params or {}).items()},
            tags={k: str(v) for k, v in (tags or {}).items()},
            env=env,
            host=socket.gethostname(),
            pid=os.getpid(),
            parent_id=None if parent is None else parent.id,
            created_by=client.actor,
        )
        return cls(client, run, flush_interval=flush_interval)

    @classmethod
    def _resume(
        cls,
        client: Client,
        run_id: str,
        *,
        experiment: str | None,
        name: str | None,
        params: Mapping[str, Any] | None,
        tags: Mapping[str, Any] | None,
        flush_interval: float,
    ) -> ActiveRun:
        stored = client.get_run(run_id)
        if experiment is not None and experiment not in (stored.experiment, stored.experiment_id):
            raise InvalidArgumentError(
                f"run {run_id} belongs to experiment {stored.experiment!r}, not {experiment!r}"
            )
        if name is not None and name != stored.name:
            raise InvalidArgumentError(
                f"run {run_id} is named {stored.name!r}; rename it instead of resuming as {name!r}"
            )
        clean = {check_key("param", k): param_value(k, v) for k, v in (params or {}).items()}
        for k, v in clean.items():  # refuse before the run is reopened, not after
            if k in stored.params and stored.params[k] != v:
                raise ParamConflictError(k, stored.params[k], v)
        run = client.store.resume_run(run_id, host=socket.gethostname(), pid=os.getpid())
        active = cls(client, run, flush_interval=flush_interval)
        try:
            if clean:
                active.log_params(clean)
            if tags:
                active.set_tags(tags)
        except BaseException:
            active.end(RunStatus.FAILED, error="resuming failed")
            raise
        return active

    def __init__(
        self,
        client: Client,
        run: Run,
        *,
        flush_interval: float = 1.0,
    ) -> None:
        self.client = client
        self.id = run.id
        self.experiment = run.experiment
        self.name = run.name
        self._params: dict[str, str] = dict(run.params)
        self._series: dict[str, SeriesBuffer] = {}
        self._series_lock = threading.Lock()
        self._gate = MemoryGate(client.settings.max_buffered_points)
        for key, summary in run.metrics.items():  # a resumed run continues its steps
            self._series[key] = SeriesBuffer.continuing(
                key, self._series_lock, summary.last_step, self._gate
            )
        self._ended = False
        self._writer = MetricWriter(
            client.store,
            run.id,
            self._series,
            self._series_lock,
            interval=flush_interval,
            gate=self._gate,
        )
        self._writer.start()
        _LIVE_RUNS.add(self)

    # -- metrics (hot path) ----------------------------------------------------------------------
    def log_metric(
        self, key: str, value: float, step: int | None = None, *, timestamp: float | None = None
    ) -> None:
        """Buffer one metric point; returns at once (written by the background writer).

        Args:
            key: metric name (non-empty, at most 250 characters).
            value: a real number; NaN and ±Inf are stored faithfully.
            step: an integer within int64; defaults to one more than this series' previous
                step (0 first).
            timestamp: seconds since the epoch; defaults to the time of the call, read from a
                coarse clock (within about 25 ms after the call).

        Raises:
            InvalidArgumentError: the key, value, step or timestamp is invalid.
        """
        # The fast path: a float value and the step the series expects next (see _metric_buffer).
        try:
            series = self._series[key]
        except KeyError:
            series = self._new_series(key)
        if value.__class__ is not float:
            value = metric_value(key, value)
        if timestamp is None:
            if step is None:
                if series.default_fast:
                    series.next_step += 1  # type: ignore[operator]  # an int when default_fast
                    series.values.append(value)
                    return
            elif step.__class__ is int and step == series.next_step:
                series.next_step = step + series.stride
                series.values.append(value)
                return
        series.add(
            value,
            None if step is None else metric_step(key, step),
            None if timestamp is None else metric_timestamp(key, timestamp),
        )

    def log_metrics(
        self,
        metrics: Mapping[str, float],
        step: int | None = None,
        *,
        timestamp: float | None = None,
    ) -> None:
        """Buffer several metrics at one step. See :meth:`log_metric`."""
        for key, value in metrics.items():
            self.log_metric(key, value, step, timestamp=timestamp)

    def log_metric_series(
        self,
        key: str,
        values: Any,
        steps: Any = None,
        *,
        timestamps: Any = None,
    ) -> None:
        """Buffer many points of one series at once (e.g. per-batch losses kept in an array).

        Args:
            key: metric name.
            values: 1-D array-like of real numbers (NaN and ±Inf allowed).
            steps: 1-D integers of the same length; default: continue this series' steps.
            timestamps: seconds since the epoch, one per value or a scalar; default: now
                (the coarse clock of :meth:`log_metric`).

        Raises:
            InvalidArgumentError: a bad key, non-numeric values, steps or timestamps, or
                lengths that differ.
        """
        try:
            series = self._series[key]
        except KeyError:
            series = self._new_series(key)
        try:
            vals = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"metric {key!r} values must be real numbers") from None
        if vals.ndim != 1:
            raise InvalidArgumentError(f"metric {key!r} values must be 1-D, got shape {vals.shape}")
        n = len(vals)
        st = None
        if steps is not None:
            raw = np.asarray(steps)
            if raw.shape != (n,) or (n and raw.dtype.kind not in "iu"):  # [] is float64
                raise InvalidArgumentError(f"metric {key!r} steps must be {n} integers")
            if raw.dtype.kind == "u" and n and int(raw.max()) > np.iinfo(np.int64).max:
                raise InvalidArgumentError(f"metric {key!r} steps must be within the 64-bit range")
            st = np.ascontiguousarray(raw, dtype=np.int64)
        ts = None
        if timestamps is not None:
            try:
                ts = np.ascontiguousarray(
                    np.broadcast_to(np.asarray(timestamps, dtype=np.float64), (n,))
                )
            except (TypeError, ValueError):
                raise InvalidArgumentError(
                    f"metric {key!r} timestamps must be one real number or {n} of them"
                ) from None
        series.extend(np.ascontiguousarray(vals), st, ts)

    def _new_series(self, key: str) -> SeriesBuffer:
        self._check_open()
        series = SeriesBuffer(check_key("metric", key), self._series_lock, self._gate)
        return self._series.setdefault(key, series)

    def flush(self) -> None:
        """Write every buffered metric point now (blocks until they are in the store)."""
        self._writer.flush()

    # -- params and tags -----------------------------------------------------------------------
    def log_param(self, key: str, value: Any) -> None:
        """Record a param. Params are write-once: another value for the same key raises
        :class:`ParamConflictError` naming the key and both values."""
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record several params at once (all or none). See :meth:`log_param`."""
        self._check_open()
        clean = {check_key("param", k): param_value(k, v) for k, v in params.items()}
        for k, v in clean.items():
            if k in self._params and self._params[k] != v:
                raise ParamConflictError(k, self._params[k], v)
        self.client.store.log_params(self.id, clean)
        self._params.update(clean)

    def set_tag(self, key: str, value: Any) -> None:
        """Set a tag (tags, unlike params, may change)."""
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set several tags."""
        self.client.store.set_tags(self.id, {k: str(v) for k, v in tags.items()})

    # -- data ----------------------------------------------------------------------------------
    def log_dataset(self, name: str, data: Any, **meta: Any) -> DatasetRecord:
        """Record the content fingerprint of a data set this run saw.

        Args:
            name: how this run refers to the data (``"train"``, ``"test"``, ...).
            data: numpy array, pandas DataFrame/Series, pyarrow Table, or a file/folder path.
            **meta: extra JSON-serialisable facts to keep with it.

        Returns:
            The stored :class:`DatasetRecord`; two runs saw the same data iff fingerprints match.
        """
        self._check_open()
        fp = fingerprint(data)
        rec = DatasetRecord(
            run_id=self.id,
            name=name,
            fingerprint=fp.digest,
            kind=fp.kind,
            n_rows=fp.n_rows,
            meta={**fp.meta, **meta},
        )
        self.client.store.add_dataset(rec)
        return rec

    def log_predictions(
        self,
        dataset: str,
        ids: Iterable[Any],
        y_true: Iterable[Any],
        y_pred: Iterable[Any],
        y_proba: Any = None,
        *,
        classes: Iterable[Any] | None = None,
    ) -> PredictionsRecord:
        """Store per-example results on a data set, as Parquet, indexed by the data's fingerprint.

        Args:
            dataset: name of a data set logged with :meth:`log_dataset`; if none was, the
                fingerprint is taken from ``ids`` and ``y_true``.
            ids: one unique id per example (integers or strings).
            y_true, y_pred: labels or values, one per example.
            y_proba: optional ``(n, n_classes)`` class probabilities.
            classes: the class labels of ``y_proba``'s columns (default ``0..n_classes-1``).

        Returns:
            The :class:`PredictionsRecord`.

        Raises:
            InvalidArgumentError: lengths differ, ids repeat, ``y_proba`` has the wrong shape,
                holds NaN or values outside [0, 1], or a row does not sum to 1 within
                ``PROBA_SUM_TOLERANCE`` (1e-4).

        Warns:
            UserWarning: ``y_pred`` is not the most probable class of ``y_proba`` on more than
                1% of the examples (often a column order that does not match ``classes``).
        """
        self._check_open()
        encoded = encode_predictions(
            ids, y_true, y_pred, y_proba, classes=classes, label=f"log_predictions({dataset!r})"
        )
        arrays = encoded.arrays
        fp = next(
            (d.fingerprint for d in self.client.store.list_datasets(self.id) if d.name == dataset),
            None,
        )
        if fp is None:
            fp = fingerprint_columns({"id": arrays.ids, "y_true": arrays.y_true})
            self.client.store.add_dataset(
                DatasetRecord(
                    run_id=self.id,
                    name=dataset,
                    fingerprint=fp,
                    kind="labels",
                    n_rows=encoded.n_rows,
                    meta={"derived_from": "ids+y_true"},
                )
            )
        digest = self.client.blobs.put_bytes(encoded.data)
        rec = PredictionsRecord(
            run_id=self.id,
            dataset=dataset,
            dataset_fingerprint=fp,
            ids_digest=encoded.ids_digest,
            blob_digest=digest,
            n_rows=encoded.n_rows,
            has_proba=y_proba is not None,
            classes=encoded.classes,
            created_at=datetime.now(UTC),
        )
        self.client.store.add_predictions(rec)
        return rec

    # -- artifacts -----------------------------------------------------------------------------
    def log_artifact(
        self, path: str | os.PathLike[str], name: str | None = None
    ) -> list[ArtifactRecord]:
        """Store a file or a whole folder (content-addressed; identical files stored once).

        Args:
            path: file or folder to store.
            name: path inside the run (default: the file or folder name).

        Returns:
            One :class:`ArtifactRecord` per file.

        Raises:
            InvalidArgumentError: ``path`` does not exist, or a symbolic link in the folder
                leads outside it.
            ImmutableError: the run already has a different file at that name.
        """
        self._check_open()
        p = Path(path)
        base = check_artifact_path(name or p.name, "artifact name")
        if p.is_file():
            files = [(base, p)]
        elif p.is_dir():
            files = [(f"{base}/{rel.as_posix()}", p / rel) for rel in confined_files(p)]
        else:
            raise InvalidArgumentError(f"artifact path {str(path)!r} does not exist")
        records = [
            ArtifactRecord(
                run_id=self.id,
                path=dest,
                digest=self.client.blobs.put_file(src),
                size=src.stat().st_size,
            )
            for dest, src in files
        ]
        self.client.store.add_artifacts(records)
        return records

    def download_artifact(self, name: str, dest: str | os.PathLike[str]) -> Path:
        """Copy a logged file to ``dest`` and return its path. Raises NotFoundError."""
        return self.client.download_artifact(self.id, name, dest)

    @overload
    def log_model(
        self, model: Any, name: str, input_example: Any = None, **kwargs: Any
    ) -> ModelVersion: ...

    @overload
    def log_model(
        self, model: Any, name: None = None, input_example: Any = None, **kwargs: Any
    ) -> LoggedModel: ...

    def log_model(
        self, model: Any, name: str | None = None, input_example: Any = None, **kwargs: Any
    ) -> ModelVersion | LoggedModel:
        """Package ``model`` (code, weights, manifest, parity record) into this run under
        ``path`` (default ``"model"``) and, when ``name`` is given, register it.

        Without a name the package waits among the run's artifacts until
        ``client.register_model("<run id>/model", name=...)`` registers it (after a comparison
        has picked this run, say). See :meth:`labline.models.Registry.log_model` for the
        other arguments.

        Returns:
            The registered :class:`ModelVersion` when ``name`` is given, else the
            :class:`LoggedModel` (``.ref`` is what ``register_model`` takes).
        """
        self._check_open()
        return self.client.log_model(self, model, name, input_example, **kwargs)

    # -- life cycle ----------------------------------------------------------------------------
    @property
    def info(self) -> Run:
        """The run as stored now (status, params, tags, metric summaries)."""
        return self.client.store.get_run(self.id)

    def _check_open(self) -> None:
        if self._ended:
            raise InvalidArgumentError(f"run {self.id} has ended; start a new run to log more")

    def end(self, status: RunStatus = RunStatus.FINISHED, error: str | None = None) -> None:
        """Flush every buffered point and mark the run finished (or failed). Idempotent."""
        if self._ended:
            return
        self._ended = True
        _LIVE_RUNS.discard(self)
        self._writer.stopping.set()
        self._writer.join()
        self._writer.flush()
        self._series.clear()  # logging to a known key now fails like a new one: the run ended
        self.client.store.set_run_status(self.id, status, error)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if ev is None:
            self.end(RunStatus.FINISHED)
        else:
            text = "".join(traceback.format_exception(et, ev, tb))
            self.end(RunStatus.FAILED, error=text[-8000:])

    def __repr__(self) -> str:
        return f"<ActiveRun {self.id} experiment={self.experiment!r} name={self.name!r}>"


_LIVE_RUNS: weakref.WeakSet[ActiveRun] = weakref.WeakSet()


@atexit.register
def _end_live_runs() -> None:
    for run in list(_LIVE_RUNS):
        with contextlib.suppress(LablineError):
            run.end(RunStatus.FINISHED)
