"""Frozen domain types returned by the stores. Never ORM rows."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt


class RunStatus(enum.StrEnum):
    """Life cycle of a run: running → finished | failed. ``stale`` is derived, never stored:
    a run still marked running whose writer stopped sending heartbeats (a killed process)."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    STALE = "stale"


@dataclass(frozen=True)
class Experiment:
    """A named group of runs. ``deleted_at``/``deleted_by`` are set while it is deleted (it
    and its runs are hidden unless asked for, and ``gc`` may purge them)."""

    id: int
    name: str
    created_at: datetime
    deleted_at: datetime | None = None
    deleted_by: str | None = None

    @property
    def deleted(self) -> bool:
        """Whether the experiment is deleted."""
        return self.deleted_at is not None


@dataclass(frozen=True)
class MetricSummary:
    """The last, min and max value of one metric series of a run, and how many points it has."""

    key: str
    last_value: float
    last_step: int
    min_value: float
    max_value: float
    count: int


@dataclass(frozen=True)
class DatasetRecord:
    """A data set a run saw, identified by the SHA-256 fingerprint of its content."""

    run_id: str
    name: str
    fingerprint: str
    kind: str
    n_rows: int | None
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PredictionsRecord:
    """Per-example predictions of a run on one data set, stored as a Parquet blob."""

    run_id: str
    dataset: str
    dataset_fingerprint: str
    ids_digest: str
    blob_digest: str
    n_rows: int
    has_proba: bool
    classes: tuple[Any, ...] | None
    created_at: datetime


@dataclass(frozen=True)
class ArtifactRecord:
    """A file logged by a run: its path inside the run and its content digest in the blob store."""

    run_id: str
    path: str
    digest: str
    size: int


@dataclass(frozen=True)
class Run:
    """A tracked run with everything logged on it except the metric points themselves."""

    id: str
    experiment_id: int
    experiment: str
    name: str
    status: RunStatus
    created_at: datetime
    ended_at: datetime | None
    heartbeat_at: datetime | None
    error: str | None
    params: Mapping[str, str]
    tags: Mapping[str, str]
    env: Mapping[str, Any]
    metrics: Mapping[str, MetricSummary]
    parent_id: str | None = None


@dataclass(frozen=True, eq=False)
class MetricSeries:
    """All points of one metric of one run, in logging order, as numpy arrays."""

    run_id: str
    key: str
    steps: npt.NDArray[np.int64]
    timestamps: npt.NDArray[np.float64]
    values: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.values.shape[0])


@dataclass(frozen=True)
class BadBlob:
    """A stored blob whose content no longer hashes to its digest, or that is gone.

    Attributes:
        digest: the hex SHA-256 the blob is stored under (what it should hash to).
        actual: the hex SHA-256 of its content now, or ``None`` when it is missing.
        location: where it is: a local path, or its URL in the object store.
        used_by: the package files stored in it, as ``"name/version:path"``; empty when the
            check was over all blobs rather than over models.
    """

    digest: str
    actual: str | None
    location: str
    used_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class BlobVerification:
    """The outcome of re-hashing stored blobs.

    Attributes:
        checked: how many distinct blobs were re-hashed.
        bad: every blob that failed, in the order checked.
    """

    checked: int
    bad: tuple[BadBlob, ...]

    @property
    def ok(self) -> bool:
        """Whether every checked blob still matches its digest."""
        return not self.bad


@dataclass(frozen=True)
class LoggedModel:
    """A model package logged into a run (its files are run artifacts under ``path``).

    ``ref`` (``"<run id>/<path>"``) is what :meth:`labline.Client.register_model` takes to
    register it later.
    """

    run_id: str
    path: str
    digest: str

    @property
    def ref(self) -> str:
        """``"<run id>/<path>"``: the reference :meth:`labline.Client.register_model` takes."""
        return f"{self.run_id}/{self.path}"


@dataclass(frozen=True)
class PurgeResult:
    """What one purge of deleted metadata removed (or, in a dry run, would remove).

    Attributes:
        runs: ids of the runs purged (deleted ones, and every run of a purged experiment).
        experiments: names of the experiments purged.
        kept: ids of deleted runs kept because a registered model version links to them.
    """

    runs: tuple[str, ...]
    experiments: tuple[str, ...]
    kept: tuple[str, ...]


@dataclass(frozen=True)
class GcReport:
    """What ``labline gc`` did (or, with ``dry_run``, would do).

    Attributes:
        runs_purged: ids of the runs whose metadata was purged.
        experiments_purged: names of the experiments purged.
        runs_kept: deleted runs kept because a registered model version links to them.
        blobs_removed: how many unreferenced blobs were removed.
        bytes_freed: their total size.
        dry_run: nothing was changed.
    """

    runs_purged: tuple[str, ...]
    experiments_purged: tuple[str, ...]
    runs_kept: tuple[str, ...]
    blobs_removed: int
    bytes_freed: int
    dry_run: bool
