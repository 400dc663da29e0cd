"""The metadata-store contract.

Every backend implements :class:`MetadataStore`; ``tests/store`` is the conformance suite that
runs against each of them (SQLite always, PostgreSQL in CI).

Contract:
    * Thread safety: one store object may be used from several threads at once (the tracking
      background writer shares it with the training loop). Several processes may share one
      database; writes from each are serialised by the database, never lost.
    * Return values are frozen domain objects from :mod:`labline.core._types`, never ORM rows.
    * Immutability: params are write-once; metric points, datasets, predictions and artifacts are
      append-only. Nothing is updated in place except a run's status, heartbeat, name, tags and
      deletion mark, and an experiment's name, tags and deletion mark. Deleting a run is soft: it is hidden from ``search_runs`` (unless
      ``include_deleted``) and can be restored; ``get_run`` still returns it.
    * Writers: runs, hypotheses, model versions and alias moves record who made them.
    * Errors: unknown ids raise :class:`~labline.NotFoundError`, invalid values
      :class:`~labline.InvalidArgumentError` (subclasses name the offending value), unique names
      taken :class:`~labline.AlreadyExistsError`, database failures
      :class:`~labline.StorageError`. Driver exceptions never escape. A failed call changes nothing.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from ..core._run_query import FilterExpr, OrderKey
from ..core._types import (
    ArtifactRecord,
    DatasetRecord,
    Experiment,
    MetricSeries,
    PredictionsRecord,
    PurgeResult,
    Run,
    RunStatus,
    SchemaStatus,
)
from ._calibration_base import CalibrationStoreBase
from ._hypotheses_base import HypothesisStoreBase
from ._labelled_base import LabelledStoreBase
from ._registry_base import RegistryStoreBase
from ._review_base import ReviewStoreBase
from ._server_side_base import ServerSideOperations
from ._sweeps_base import SweepStoreBase
from ._tokens_base import TokenStoreBase

MetricChunk = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]
"""(steps, timestamps, values) of consecutive points of one series, equal lengths."""

MetricBatchId = tuple[str, int]
"""(writer id, sequence number) of one batch of metric points: a retried batch keeps it."""


class MetadataStore(
    HypothesisStoreBase,
    RegistryStoreBase,
    CalibrationStoreBase,
    ReviewStoreBase,
    LabelledStoreBase,
    TokenStoreBase,
    SweepStoreBase,
    abc.ABC,
):
    """Where runs, experiments and their metadata live. See the module docstring for the contract."""

    # -- experiments ---------------------------------------------------------------------------
    @abc.abstractmethod
    def create_experiment(self, name: str, *, tags: Mapping[str, str] | None = None) -> Experiment:
        """Create an experiment, with ``tags`` if given (in the same transaction). Raises
        AlreadyExistsError if the name is taken, InvalidArgumentError if the name is empty or
        too long or a tag key is malformed."""

    @abc.abstractmethod
    def get_or_create_experiment(self, name: str) -> Experiment:
        """Return the experiment called ``name``, creating it if needed (safe under concurrency)."""

    @abc.abstractmethod
    def get_experiment(self, name_or_id: str | int) -> Experiment:
        """Return one experiment by name or id. Raises NotFoundError."""

    @abc.abstractmethod
    def list_experiments(self, *, include_deleted: bool = False) -> list[Experiment]:
        """Return every experiment, oldest first; deleted ones only with ``include_deleted``."""

    @abc.abstractmethod
    def rename_experiment(self, name_or_id: str | int, name: str) -> None:
        """Give an experiment a new name. Raises NotFoundError, AlreadyExistsError (name
        taken), InvalidArgumentError (bad name)."""

    @abc.abstractmethod
    def delete_experiment(self, name_or_id: str | int, *, actor: str) -> None:
        """Mark an experiment deleted by ``actor``: it and its runs are hidden from
        ``list_experiments`` and ``search_runs`` (unless ``include_deleted``), nothing is
        erased, and no run can start in it. Deleting twice is a no-op. Raises NotFoundError."""

    @abc.abstractmethod
    def restore_experiment(self, name_or_id: str | int) -> None:
        """Undo :meth:`delete_experiment` (a no-op if it is not deleted). Raises NotFoundError."""

    @abc.abstractmethod
    def set_experiment_tags(self, name_or_id: str | int, tags: Mapping[str, str]) -> None:
        """Set or overwrite tags of an experiment (also of a deleted one); they come back on
        its :class:`~labline.Experiment`. Raises NotFoundError, InvalidArgumentError (a
        malformed key)."""

    @abc.abstractmethod
    def delete_experiment_tag(self, name_or_id: str | int, key: str) -> None:
        """Remove a tag of an experiment. Raises NotFoundError if the experiment or the tag
        does not exist."""

    # -- runs ----------------------------------------------------------------------------------
    @abc.abstractmethod
    def create_run(
        self,
        experiment_id: int,
        name: str,
        *,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        env: Mapping[str, Any] | None = None,
        host: str = "",
        pid: int = 0,
        parent_id: str | None = None,
        created_by: str = "",
        run_id: str | None = None,
        created_at: datetime | None = None,
    ) -> Run:
        """Create a run in state ``running`` (named ``run-<id prefix>`` when ``name`` is empty),
        recording who started it. An import keeps its source's ``run_id`` (32 lowercase hex
        digits) and start time ``created_at``. Raises NotFoundError for an unknown experiment,
        AlreadyExistsError for a taken ``run_id``."""

    @abc.abstractmethod
    def get_run(self, run_id: str) -> Run:
        """Return a run with its params, tags, env and metric summaries. Raises NotFoundError.

        A run marked running whose writer is gone (its process is dead on this host, or no
        heartbeat for ``stale_after`` seconds) is reported with status ``stale``.
        """

    @abc.abstractmethod
    def search_runs(
        self,
        *,
        experiment: str | int | None = None,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        run_ids: Sequence[str] | None = None,
        status: RunStatus | None = None,
        filter: FilterExpr | None = None,
        order_by: Sequence[OrderKey] = (),
        offset: int = 0,
        limit: int | None = None,
        include_deleted: bool = False,
    ) -> list[Run]:
        """Return runs matching every given filter, sorted by ``order_by`` (runs without a sort
        key last), then newest first, then by id; skip ``offset`` of them, return at most ``limit``.

        ``params``/``tags`` match stored text exactly; ``status`` is the reported status
        (``stale`` included); ``filter`` is a parsed search filter with the semantics written
        in :mod:`labline.core._run_query`, evaluated by the database, never in Python.
        Deleted runs, and runs of deleted experiments, only with ``include_deleted``. Unknown
        experiment → NotFoundError."""

    @abc.abstractmethod
    def child_runs(self, run_id: str) -> list[Run]:
        """The runs started with ``run_id`` as their parent, oldest first. Raises NotFoundError."""

    @abc.abstractmethod
    def set_run_status(
        self,
        run_id: str,
        status: RunStatus,
        error: str | None = None,
        *,
        ended_at: datetime | None = None,
    ) -> None:
        """Move a run to ``finished`` or ``failed`` (with the error text), ended now or at
        ``ended_at`` (an import keeps its source's end time). Raises NotFoundError."""

    @abc.abstractmethod
    def resume_run(self, run_id: str, *, host: str = "", pid: int = 0) -> Run:
        """Move an ended or stale run back to ``running`` for the writer on ``host``/``pid``
        (its error and end time are cleared, its heartbeat restarted) and return it.

        Raises:
            NotFoundError: no such run.
            InvalidArgumentError: the run is running in a live process (checked in the same
                transaction as the update, so two resumers cannot both win).
        """

    @abc.abstractmethod
    def rename_run(self, run_id: str, name: str) -> None:
        """Give a run a new name. Raises NotFoundError, InvalidArgumentError for a bad name."""

    @abc.abstractmethod
    def delete_run(self, run_id: str, *, actor: str) -> None:
        """Mark a run deleted by ``actor`` (hidden from searches; nothing is erased).
        Deleting a deleted run is a no-op. Raises NotFoundError."""

    @abc.abstractmethod
    def restore_run(self, run_id: str) -> None:
        """Undo :meth:`delete_run`; restoring a run that is not deleted is a no-op.
        Raises NotFoundError."""

    @abc.abstractmethod
    def heartbeat(self, run_id: str) -> None:
        """Record that the run's writer is alive."""

    # -- params, tags, metrics -----------------------------------------------------------------
    @abc.abstractmethod
    def log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        """Set params (write-once). Re-setting the same value is a no-op; another value raises
        ParamConflictError naming the key and both values, and nothing of the call is stored."""

    @abc.abstractmethod
    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Set or overwrite tags (also on finished runs). Raises NotFoundError."""

    @abc.abstractmethod
    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag. Raises NotFoundError if the run or the tag does not exist."""

    @abc.abstractmethod
    def append_metrics(
        self,
        run_id: str,
        chunks: Mapping[str, MetricChunk],
        *,
        batch: MetricBatchId | None = None,
    ) -> None:
        """Append points to metric series in one transaction; also records a heartbeat.

        With ``batch`` (the writer's id and the batch's sequence number), a batch already
        stored under that id is not stored again: the id is recorded in the same transaction
        as the points, so a writer that retries after a lost answer never duplicates points.
        """

    @abc.abstractmethod
    def get_metric_series(self, run_id: str, key: str) -> MetricSeries:
        """Return every point of one series in logging order. Raises NotFoundError."""

    def get_metric_steps_values(
        self, run_id: str, key: str
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Return the steps and values of one series in logging order: what a chart draws.

        The same points as :meth:`get_metric_series` without their timestamps, which a store
        may then skip reading. Raises NotFoundError.
        """
        series = self.get_metric_series(run_id, key)
        return series.steps, series.values

    # -- datasets, predictions, artifacts ------------------------------------------------------
    @abc.abstractmethod
    def add_dataset(self, record: DatasetRecord) -> None:
        """Record that a run saw a data set. Re-logging the same name with the same fingerprint
        is a no-op; another fingerprint under the same name raises InvalidArgumentError."""

    @abc.abstractmethod
    def list_datasets(self, run_id: str) -> list[DatasetRecord]:
        """Return the data sets a run logged."""

    @abc.abstractmethod
    def add_predictions(self, record: PredictionsRecord) -> None:
        """Index a predictions blob by run and data set. One per (run, data set name)."""

    @abc.abstractmethod
    def list_predictions(
        self, run_id: str | None = None, *, dataset_fingerprint: str | None = None
    ) -> list[PredictionsRecord]:
        """Return predictions records of a run and/or of a data set fingerprint."""

    @abc.abstractmethod
    def add_artifacts(self, records: Sequence[ArtifactRecord]) -> None:
        """Record files logged by a run (path → content digest). Same path + same digest is a no-op."""

    @abc.abstractmethod
    def list_artifacts(self, run_id: str) -> list[ArtifactRecord]:
        """Return the files a run logged, sorted by path."""

    # -- purge and blob references (what ``gc`` relies on) ---------------------------------------
    @abc.abstractmethod
    def purge_deleted(self, *, dry_run: bool = False) -> PurgeResult:
        """Erase, in one transaction, every deleted run (and every run of a deleted
        experiment) with all it logged, then the deleted experiments left empty. A deleted run
        that a registered model version links to is kept (with its experiment), so the
        version's provenance stays readable. Live children of a purged run become top-level.
        ``dry_run`` only reports what would go."""

    @abc.abstractmethod
    def referenced_blob_digests(self, *, excluding_runs: Collection[str] = ()) -> set[str]:
        """Hex digests of every blob a metadata row references (artifacts, predictions, ...),
        deleted-but-unpurged runs included, except rows of ``excluding_runs`` (what a dry run
        of ``gc`` asks: what stays referenced once those are purged). Every backend table that stores a blob digest
        must contribute here: ``gc`` removes any blob not in this set (or in a registered
        package)."""

    @abc.abstractmethod
    def registered_package_digests(self) -> set[str]:
        """Hex digests of every registered model version's package (its manifest blob)."""

    # -- schema --------------------------------------------------------------------------------
    @abc.abstractmethod
    def upgrade_schema(self) -> SchemaStatus:
        """Apply every pending migration (one process at a time) and say what changed since
        the store was opened. Raises SchemaVersionError for a schema newer than this code."""

    @property
    def server_side(self) -> ServerSideOperations | None:
        """The use cases this store's own server carries out (promotion through the parity
        gate, gc, blob verification: see :mod:`labline.store._server_side_base`), or ``None``
        when the caller carries them out against the database and blobs itself."""
        return None

    def close(self) -> None:
        """Release connections."""
