"""Every frozen domain record labline returns: runs and what they log, hypotheses, registry
versions and aliases. Never ORM rows; no persistence, no I/O."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from ._html import model_version_html, run_html


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
    and its runs are hidden unless asked for, and ``gc`` may purge them). ``tags`` are free
    key-value notes on the experiment (last write wins), such as MLflow's
    ``mlflow.note.content``."""

    id: int
    name: str
    created_at: datetime
    deleted_at: datetime | None = None
    deleted_by: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

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
    """A tracked run with everything logged on it except the metric points themselves.

    ``created_by`` is who started it (empty for runs recorded before writers were kept);
    ``deleted_at``/``deleted_by`` are set while the run is deleted (hidden from searches,
    restorable).
    """

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
    created_by: str = ""
    deleted_at: datetime | None = None
    deleted_by: str | None = None

    @property
    def deleted(self) -> bool:
        """Whether the run is deleted (hidden from searches unless asked for)."""
        return self.deleted_at is not None

    def _repr_html_(self) -> str:
        return run_html(self)


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


@dataclass(frozen=True)
class SchemaStatus:
    """The metadata store's schema: the revision found when the store was opened, and now.

    ``before`` is ``None`` for a database labline had never written to.
    """

    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        """Whether migrations were applied since the store was opened."""
        return self.before != self.after


# -- hypotheses --------------------------------------------------------------------------------
class HypothesisStatus(enum.StrEnum):
    """Life cycle: waiting for runs → evaluated (supported, refuted or inconclusive)."""

    WAITING = "waiting for runs"
    SUPPORTED = "evaluated: supported"
    REFUTED = "evaluated: refuted"
    INCONCLUSIVE = "evaluated: inconclusive"

    @property
    def evaluated(self) -> bool:
        """Whether the hypothesis has been evaluated (and is therefore immutable)."""
        return self is not HypothesisStatus.WAITING


@dataclass(frozen=True)
class Hypothesis:
    """A hypothesis registered before its results.

    Attributes:
        id: store-assigned number.
        statement: the claim in words ("the CNN beats logistic regression by 1 point").
        baseline, candidate: run selectors (``digits:model=logreg`` or run ids).
        metric: metric name.
        dataset: data set the predictions must be on, or ``None`` for the only common one.
        min_effect: smallest improvement that counts (metric units, in the metric's better
            direction).
        alpha: significance level.
        seeds: runs needed in each group before it is evaluated.
        created_at: registration time (UTC).
        status: see :class:`HypothesisStatus`.
        evaluated_at: when it was evaluated, or ``None``.
        result: the frozen evaluation (estimate, interval, p-value, verdict, run ids, ...).
        supersedes: id of the hypothesis this one replaces, or ``None``.
        created_by: who registered it (empty for hypotheses recorded before writers were kept).
    """

    id: int
    statement: str
    baseline: str
    candidate: str
    metric: str
    dataset: str | None
    min_effect: float
    alpha: float
    seeds: int
    created_at: datetime
    status: HypothesisStatus
    evaluated_at: datetime | None = None
    result: Mapping[str, Any] = field(default_factory=dict)
    supersedes: int | None = None
    created_by: str = ""
    seed: int | None = None

    @property
    def evaluation_seed(self) -> int:
        """The seed it is (or was) evaluated with: the stored one, else its id."""
        return self.id if self.seed is None else self.seed


@dataclass(frozen=True)
class HypothesisProgress:
    """How far a waiting hypothesis is from evaluation.

    Attributes:
        baseline_runs, candidate_runs: finished runs each selector matches now.
        needed: runs needed per group.
        problem: why it cannot be evaluated yet although runs exist (e.g. unpairable data), or ``None``.
    """

    baseline_runs: int
    candidate_runs: int
    needed: int
    problem: str | None = None

    def __str__(self) -> str:
        text = f"baseline {self.baseline_runs}/{self.needed} runs, candidate {self.candidate_runs}/{self.needed} runs"
        return text + ("" if self.problem is None else f"; {self.problem}")


# -- model registry ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelVersion:
    """One immutable version of a registered model.

    Attributes:
        name: the model's name.
        version: 1, 2, 3... per name.
        digest: the package digest, ``"sha256:<hex>"``.
        run_id: the training run, if any.
        created_at: when it was registered (UTC).
        created_by: who registered it.
        meta: a summary of the manifest (adapter, classes...) for listings.
    """

    name: str
    version: int
    digest: str
    run_id: str | None
    created_at: datetime
    created_by: str
    meta: Mapping[str, Any] = field(default_factory=dict)

    def _repr_html_(self) -> str:
        return model_version_html(
            self.name,
            self.version,
            self.digest,
            self.run_id,
            self.created_at,
            self.created_by,
            self.meta,
        )


@dataclass(frozen=True)
class RegisteredModel:
    """A model name with its latest version number (``None`` while it has no version) and
    current aliases, and its editable card: a description and tags (last write wins), changed
    at ``updated_at``. Its versions, unlike the card, are immutable."""

    name: str
    created_at: datetime
    latest_version: int | None
    aliases: Mapping[str, int]
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    updated_at: datetime | None = None
    created_by: str = ""


@dataclass(frozen=True)
class AliasRecord:
    """Where an alias points now."""

    name: str
    alias: str
    version: int
    digest: str
    updated_at: datetime
    seq: int


@dataclass(frozen=True)
class AliasEvent:
    """One move of an alias (append-only history).

    Attributes:
        seq: 1, 2, 3... per ``(name, alias)``.
        from_version: where the alias pointed before (``None`` the first time).
        to_version: where it points from ``at`` on.
        at: when (UTC).
        actor: who moved it.
        reason: why (required when the parity gate was skipped).
        parity: ``"passed"`` or ``"skipped"``, with a short summary.
    """

    name: str
    alias: str
    seq: int
    from_version: int | None
    to_version: int
    at: datetime
    actor: str
    reason: str
    parity: str


class ResolvedRef(NamedTuple):
    """What a model reference points at: ``(name, version, digest)``."""

    name: str
    version: int | None
    digest: str


@dataclass(frozen=True)
class ModelDiff:
    """What changed between two versions of a model.

    Attributes:
        params: ``{key: (a, b)}`` training-run params that differ.
        metrics: ``{key: (a, b)}`` last values of training-run metrics that differ.
        datasets: ``{name: (fingerprint_a, fingerprint_b)}`` data sets whose fingerprint differs.
        requirements: ``{distribution: (a, b)}`` pinned versions that differ.
        files: ``{path: (sha_a, sha_b)}`` package files that differ (``None`` = absent).
        code: unified diff of the model's source files.
    """

    name: str
    a: int
    b: int
    params: dict[str, tuple[str | None, str | None]]
    metrics: dict[str, tuple[float | None, float | None]]
    datasets: dict[str, tuple[str | None, str | None]]
    requirements: dict[str, tuple[str | None, str | None]]
    files: dict[str, tuple[str | None, str | None]]
    code: str


@dataclass(frozen=True, eq=False)
class SeriesEnvelope:
    """A metric series downsampled for drawing: per step bucket, its lowest and highest value.

    Attributes:
        x: the first step of each non-empty bucket (every step when ``exact``).
        low, high: the lowest and highest finite value in each bucket (equal when ``exact``).
        n_points: points of the series inside the window asked for (NaN/inf included).
        n_buckets: points returned (``len(x)``).
        exact: the window was small enough to return every finite point as it is.
    """

    x: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    n_points: int
    n_buckets: int
    exact: bool


@dataclass(frozen=True, eq=False)
class SeedBand:
    """One metric across several runs (seeds) of one configuration, per step bucket.

    Attributes:
        x: the first step of each bucket some run reached.
        mean: the mean over runs of each run's mean value in the bucket.
        low, high: the confidence band of that mean (Student t; equal to ``mean`` where fewer
            than two runs reached the bucket).
        n_runs: how many runs reached each bucket.
        total_runs: how many runs were given.
    """

    x: npt.NDArray[np.float64]
    mean: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    n_runs: npt.NDArray[np.int64]
    total_runs: int


@dataclass(frozen=True)
class MeanInterval:
    """The mean of some values with a Student-t confidence interval of that mean.

    ``low``/``high`` are NaN with fewer than two finite values (no spread to measure).
    """

    n: int
    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class RunGroup:
    """Runs sharing one value of a param (typically the seeds of one configuration).

    Attributes:
        param: the param grouped by; ``value`` its value here (``None``: runs without it).
        run_ids: the runs of the group, as the search ordered them.
        metrics: per metric, the mean of the runs' last values with its interval.
    """

    param: str
    value: str | None
    run_ids: tuple[str, ...]
    metrics: Mapping[str, MeanInterval]


@dataclass(frozen=True)
class ClassMetrics:
    """Precision, recall and F1 of one class, and how many examples truly belong to it."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class WorstExample:
    """One example the model got most wrong: ``p_true`` is its probability of the true class
    (``None`` without probabilities, when the example is simply misclassified)."""

    id: str
    y_true: str
    y_pred: str
    p_true: float | None


@dataclass(frozen=True)
class PredictionsSummary:
    """What a run's predictions on one data set say at a glance.

    Attributes:
        run_id, dataset: whose predictions.
        n_rows: examples; ``accuracy`` the share predicted right.
        labels: the classes, in the order of ``confusion``'s rows (true) and columns
            (predicted); at most ``MAX_SUMMARY_CLASSES`` (the rest folded into ``other``).
        confusion: counts, ``confusion[i][j]`` = true ``labels[i]`` predicted ``labels[j]``.
        per_class: precision, recall, F1 and support per class.
        worst: the examples with the lowest probability of their true class (or
            misclassified ones without probabilities), worst first.
    """

    run_id: str
    dataset: str
    n_rows: int
    accuracy: float
    labels: tuple[str, ...]
    confusion: tuple[tuple[int, ...], ...]
    per_class: tuple[ClassMetrics, ...]
    worst: tuple[WorstExample, ...]


# -- access tokens (labline server) ------------------------------------------------------------
class Role(enum.StrEnum):
    """What a token may do on ``labline server`` (the rights of each are in
    ``labline.server.ROLE_PERMISSIONS``)."""

    ADMIN = "admin"  # everything, including tokens
    RESEARCHER = "researcher"  # write runs, register models
    ENGINEER = "engineer"  # promote, manage aliases
    REVIEWER = "reviewer"  # read, and label review items
    VIEWER = "viewer"  # read only


@dataclass(frozen=True)
class TokenRecord:
    """An access token as stored: never its secret, only who it is for and its lifetime.

    Attributes:
        id: the token's number (``labline server token revoke --id``).
        name: who the token is for; the actor recorded on every write made with it.
        role: what it may do.
        prefix: the secret's first characters, to tell tokens apart (not enough to use one).
        created_at: when it was created.
        created_by: who created it.
        expires_at: when it stops working (``None``: never).
        revoked_at: when it was revoked (``None``: it was not).
        revoked_by: who revoked it.
    """

    id: int
    name: str
    role: Role
    prefix: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None

    def active_at(self, when: datetime) -> bool:
        """Whether the token works at ``when`` (not revoked, not expired)."""
        return self.revoked_at is None and (self.expires_at is None or when < self.expires_at)


@dataclass(frozen=True)
class IssuedToken:
    """A token just created: its record and its secret, which is shown this once and never
    stored (the store keeps only its SHA-256)."""

    record: TokenRecord
    secret: str = field(repr=False)


# -- sweeps ------------------------------------------------------------------------------------
#: Tags a sweep's runs carry (the store writes the first three): the sweep's id on its run and
#: on each trial's run, the trial's number and state. Re-runs of a trial's configuration with
#: other seeds (``compare-sweeps --seeds``) carry the sweep's id and the trial's number.
SWEEP_TAG = "sweep"
TRIAL_TAG = "sweep.trial"
TRIAL_STATE_TAG = "sweep.state"
RERUN_TAG = "sweep.rerun"
RERUN_TRIAL_TAG = "sweep.rerun.trial"


class TrialState(enum.StrEnum):
    """Life cycle of a sweep trial (Optuna's states): waiting → running → complete | pruned |
    fail. A finished trial never changes again."""

    RUNNING = "running"
    WAITING = "waiting"
    COMPLETE = "complete"
    PRUNED = "pruned"
    FAIL = "fail"

    @property
    def finished(self) -> bool:
        """Whether the trial has ended (its record is then immutable)."""
        return self in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


@dataclass(frozen=True)
class Sweep:
    """A hyper-parameter search: a parent run whose children are its trials.

    Attributes:
        id: store-assigned number (Optuna's study id).
        name: unique name (may be empty, as Optuna allows).
        run_id: the parent run.
        experiment: the experiment the sweep's runs live in.
        directions: ``"minimize"``/``"maximize"`` per objective.
        metrics: the objectives' names (the metric key each trial's values are logged under).
        user_attrs, system_attrs: JSON values set on the study.
        created_at: when it was created (UTC).
    """

    id: int
    name: str
    run_id: str
    experiment: str
    directions: tuple[str, ...]
    metrics: tuple[str, ...]
    user_attrs: Mapping[str, Any]
    system_attrs: Mapping[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class TrialParam:
    """One sampled parameter of a trial: Optuna's internal value, its distribution (as JSON
    text), and the value as written in the trial run's params."""

    internal: float
    distribution: str
    display: str


@dataclass(frozen=True)
class Trial:
    """One trial of a sweep, a child run of the sweep's run.

    Attributes:
        id: store-assigned number, unique across sweeps (Optuna's trial id).
        sweep_id: the sweep.
        number: 0, 1, 2... within the sweep, each given exactly once.
        run_id: the trial's run (its params, metrics and tags are ordinary labline data).
        state: see :class:`TrialState`.
        values: the objective values once complete (``None`` before).
        datetime_start, datetime_complete: naive local times, as Optuna keeps them.
        params: name → :class:`TrialParam`, in the order they were sampled.
        intermediate_values: step → value (reported for pruning).
        user_attrs, system_attrs: JSON values.
    """

    id: int
    sweep_id: int
    number: int
    run_id: str
    state: TrialState
    values: tuple[float, ...] | None
    datetime_start: datetime | None
    datetime_complete: datetime | None
    params: Mapping[str, TrialParam]
    intermediate_values: Mapping[int, float]
    user_attrs: Mapping[str, Any]
    system_attrs: Mapping[str, Any]


class MlflowModelStatus(enum.StrEnum):
    """Where an MLflow 3 logged model is in its upload: created (``PENDING``), its files all
    uploaded (``READY``) or abandoned (``UPLOAD_FAILED``)."""

    PENDING = "PENDING"
    READY = "READY"
    UPLOAD_FAILED = "UPLOAD_FAILED"


@dataclass(frozen=True)
class MlflowModel:
    """A model logged through the MLflow API (an MLflow 3 "logged model"): a folder in MLflow's
    own format whose files are artifacts of a run, under ``models/<id>/``.

    It becomes a labline package when it is registered (scikit-learn flavour with an input
    example); until then it is MLflow's data, kept as MLflow sent it.

    Attributes:
        id: ``"m-"`` and 32 hex digits, as MLflow names them.
        experiment_id: the labline experiment it belongs to.
        name: its name (``log_model(name=...)``).
        run_id: the run holding its files (the source run, or a run made to hold them).
        source_run_id: the run that produced it, if any.
        status: see :class:`MlflowModelStatus`.
        status_message: why an upload failed, if it did.
        model_type: MLflow's free-text model type, if given.
        params, tags: string key-value pairs (params are write-once).
        created_at, updated_at: UTC.
        created_by: who logged it.
        deleted: whether it was deleted.
    """

    id: str
    experiment_id: int
    name: str
    run_id: str
    source_run_id: str | None
    status: MlflowModelStatus
    status_message: str | None
    model_type: str | None
    params: Mapping[str, str]
    tags: Mapping[str, str]
    created_at: datetime
    updated_at: datetime
    created_by: str
    deleted: bool = False

    @property
    def artifact_path(self) -> str:
        """The folder of :attr:`run_id`'s artifacts that holds the model's files."""
        return f"models/{self.id}"


@dataclass(frozen=True)
class MlflowImportReport:
    """What one ``labline import mlflow`` did.

    Attributes:
        source: the tracking URI imported from (without credentials).
        experiments: the experiments seen, by name.
        runs_imported: runs copied now (with params, tags, metric histories, artifacts).
        runs_skipped: runs already imported earlier (nothing new is written for them).
        metric_points: metric values copied now.
        artifacts: files copied now.
        notes: what could not be copied, and why (one line each).
    """

    source: str
    experiments: tuple[str, ...]
    runs_imported: int
    runs_skipped: int
    metric_points: int
    artifacts: int
    notes: tuple[str, ...] = ()
