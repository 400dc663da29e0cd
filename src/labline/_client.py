"""Client: the read/write handle on one labline store (metadata + blobs)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from ._exceptions import NotFoundError
from ._settings import Settings
from .artifacts import BlobStore
from .core._types import (
    ArtifactRecord,
    DatasetRecord,
    Experiment,
    MetricSeries,
    PredictionsRecord,
    Run,
    RunStatus,
)
from .store import MetadataStore, open_store


class Client:
    """A handle on one labline store: metadata (SQLite/PostgreSQL) plus content-addressed blobs.

    Args:
        settings: where the store lives; ``Settings.from_env()`` when omitted.
        store: an already open metadata store (tests, servers).
        blobs: an already open blob store.

    Example:
        >>> import tempfile, labline
        >>> client = labline.Client(labline.Settings.local(tempfile.mkdtemp()))
        >>> client.list_experiments()
        []
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: MetadataStore | None = None,
        blobs: BlobStore | None = None,
    ) -> None:
        self.settings = settings or Settings.from_env()
        self.store = store or open_store(self.settings)
        self.blobs = blobs or BlobStore(self.settings.artifact_uri)

    # -- reading -------------------------------------------------------------------------------
    def list_experiments(self) -> list[Experiment]:
        """Every experiment, oldest first."""
        return self.store.list_experiments()

    def get_run(self, run_id: str) -> Run:
        """One run. Raises NotFoundError."""
        return self.store.get_run(run_id)

    def search_runs(
        self,
        experiment: str | int | None = None,
        *,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        run_ids: Sequence[str] | None = None,
        status: RunStatus | None = None,
        limit: int | None = None,
    ) -> list[Run]:
        """Runs matching every filter, newest first. Raises NotFoundError for an unknown experiment."""
        return self.store.search_runs(
            experiment=experiment,
            params=params,
            tags=tags,
            run_ids=run_ids,
            status=status,
            limit=limit,
        )

    def get_metric_series(self, run_id: str, key: str) -> MetricSeries:
        """Every point of one metric series. Raises NotFoundError."""
        return self.store.get_metric_series(run_id, key)

    def list_datasets(self, run_id: str) -> list[DatasetRecord]:
        """The data sets a run logged, with their fingerprints."""
        return self.store.list_datasets(run_id)

    def list_predictions(self, run_id: str) -> list[PredictionsRecord]:
        """The per-example prediction sets a run logged."""
        return self.store.list_predictions(run_id)

    def list_artifacts(self, run_id: str) -> list[ArtifactRecord]:
        """The files a run logged."""
        return self.store.list_artifacts(run_id)

    def get_predictions_record(self, run_id: str, dataset: str) -> PredictionsRecord:
        """The record of one run's predictions on one data set. Raises NotFoundError."""
        for rec in self.store.list_predictions(run_id):
            if rec.dataset == dataset:
                return rec
        raise NotFoundError(f"run {run_id} has no predictions on dataset {dataset!r}")

    def load_predictions(self, run_id: str, dataset: str) -> Any:
        """Per-example predictions as a ``pyarrow.Table`` sorted by ``id``.

        Columns: ``id`` (int64 or string), ``y_true``, ``y_pred`` and, when logged, ``proba``
        (fixed-size list of float64, one entry per class of ``PredictionsRecord.classes``).

        Raises:
            NotFoundError: no such run or no predictions on that data set.
            DigestMismatchError: the stored Parquet file was altered.
        """
        import pyarrow.parquet as pq

        rec = self.get_predictions_record(run_id, dataset)
        data = self.blobs.get_verified_bytes(
            rec.blob_digest, label=f"predictions of run {run_id} on {dataset}"
        )
        return pq.read_table(io.BytesIO(data))

    def close(self) -> None:
        """Release the store's connections."""
        self.store.close()
