"""The JSON shapes of ``/api/v1`` (pydantic v2): what each record looks like on the wire.

Responses are built from labline's frozen records through :func:`labline.core.to_jsonable`,
which writes NaN and ±Inf as the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (strict
JSON); :data:`Number` declares that in the OpenAPI document. Request bodies forbid unknown
fields, so a misspelt field is a 400 naming it rather than silently ignored, and their numbers
and flags are strict (:data:`Real`, :data:`Whole`, :data:`Flag`): ``true`` is not ``1``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, Strict

from .. import Role

__all__ = [
    "AliasAtOut",
    "AliasEventOut",
    "AliasOut",
    "ArtifactOut",
    "BadBlobOut",
    "BlobVerificationOut",
    "CalibrationOut",
    "ClassMetricsOut",
    "CompareIn",
    "ComparisonOut",
    "DatasetOut",
    "ExperimentIn",
    "ExperimentOut",
    "ExperimentRenameIn",
    "Flag",
    "GcIn",
    "GcOut",
    "HealthOut",
    "HypothesisIn",
    "HypothesisOut",
    "HypothesisProgressOut",
    "HypothesisReviseIn",
    "IdPath",
    "IssuedTokenOut",
    "LabelledDatasetOut",
    "LabelledExampleOut",
    "ManifestFileOut",
    "ManifestOut",
    "MarkFailedIn",
    "MeanIntervalOut",
    "MetricSeriesOut",
    "MetricSummaryOut",
    "ModelDiffOut",
    "ModelVersionOut",
    "Number",
    "ParityDifferenceOut",
    "ParityIn",
    "ParityOut",
    "PredictionsOut",
    "PredictionsSummaryOut",
    "PromoteIn",
    "PromotionOut",
    "Real",
    "RegisterIn",
    "RegisteredModelIn",
    "RegisteredModelOut",
    "RegisteredModelUpdateIn",
    "ResolvedOut",
    "ReviewAgreementOut",
    "ReviewCountsOut",
    "ReviewDecisionOut",
    "ReviewExportOut",
    "ReviewItemOut",
    "ReviewStatsOut",
    "RunGroupOut",
    "RunOut",
    "RunPageOut",
    "RunRenameIn",
    "RunSearchIn",
    "SeedBandOut",
    "SeriesEnvelopeOut",
    "SweepOut",
    "TagIn",
    "TokenIn",
    "TokenOut",
    "TrialOut",
    "TrialParamOut",
    "VerificationOut",
    "VersionPath",
    "WhoAmIOut",
    "Whole",
    "WorstExampleOut",
]

Number = float | Literal["NaN", "Infinity", "-Infinity"]
"""A float on the wire: a JSON number, or one of three strings for the non-finite values."""

Real = Annotated[float, Strict()]
"""A number in a request body: an integer or a float, never ``true`` or ``"1"``."""
Whole = Annotated[int, Strict()]
"""An integer in a request body (never ``true``, ``1.5`` or ``"1"``)."""
Flag = Annotated[bool, Strict()]
"""``true`` or ``false`` in a request body (never ``1`` or ``"yes"``)."""

IdPath = Annotated[int, Path(ge=1, le=2**63 - 1)]
"""A row id in a path (``/hypotheses/{hypothesis_id:int}``: other text is no match)."""
VersionPath = Annotated[int, Path(ge=1, le=2**31 - 1)]
"""A model version number in a path."""

Name = Annotated[str, Field(min_length=1, max_length=250)]
Key = Annotated[str, Field(max_length=250)]  # keys are checked by labline (the message names them)
Value = Annotated[str, Field(max_length=6000)]
Selector = Annotated[str, Field(min_length=1, max_length=1000)]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- experiments -------------------------------------------------------------------------------
class ExperimentOut(_Out):
    id: int
    name: str
    created_at: datetime
    deleted_at: datetime | None = None
    deleted_by: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)


class ExperimentIn(_In):
    name: Name
    tags: dict[Key, Value] = Field(default_factory=dict, max_length=10_000)


class ExperimentRenameIn(_In):
    name: Name


# -- runs --------------------------------------------------------------------------------------
class MetricSummaryOut(_Out):
    key: str
    last_value: Number
    last_step: int
    min_value: Number
    max_value: Number
    count: int


class RunOut(_Out):
    id: str
    experiment_id: int
    experiment: str
    name: str
    status: str
    created_at: datetime
    ended_at: datetime | None
    heartbeat_at: datetime | None
    error: str | None
    params: dict[str, str]
    tags: dict[str, str]
    env: dict[str, Any]
    metrics: dict[str, MetricSummaryOut]
    parent_id: str | None = None
    created_by: str = ""
    deleted_at: datetime | None = None
    deleted_by: str | None = None


class RunPageOut(_Out):
    runs: list[RunOut]
    next_page_token: str | None = None


class RunSearchIn(_In):
    experiment: str | None = Field(default=None, max_length=250)
    filter: str | None = Field(default=None, max_length=10_000)
    order_by: list[Annotated[str, Field(max_length=500)]] | None = Field(
        default=None, max_length=20
    )
    limit: Whole | None = Field(default=100, ge=1, le=10_000)
    page_token: str | None = Field(default=None, max_length=2000)
    params: dict[str, str] | None = None
    tags: dict[str, str] | None = None
    run_ids: list[Annotated[str, Field(max_length=32)]] | None = Field(
        default=None, max_length=10_000
    )
    status: Literal["running", "finished", "failed", "killed", "stale"] | None = None
    include_deleted: Flag = False


class RunRenameIn(_In):
    name: Name


class TagIn(_In):
    value: Annotated[str, Field(max_length=6000)]


class MarkFailedIn(_In):
    reason: Annotated[str, Field(min_length=1, max_length=6000)] | None = None


class MetricSeriesOut(_Out):
    run_id: str
    key: str
    steps: list[int]
    timestamps: list[Number]
    values: list[Number]


class DatasetOut(_Out):
    run_id: str
    name: str
    fingerprint: str
    kind: str
    n_rows: int | None
    meta: dict[str, Any]


class PredictionsOut(_Out):
    run_id: str
    dataset: str
    dataset_fingerprint: str
    ids_digest: str
    blob_digest: str
    n_rows: int
    has_proba: bool
    classes: list[Any] | None
    created_at: datetime


class ArtifactOut(_Out):
    run_id: str
    path: str
    digest: str
    size: int


# -- compare and hypotheses --------------------------------------------------------------------
class CompareIn(_In):
    baseline: Selector
    candidate: list[Selector] = Field(min_length=1, max_length=50)
    metric: Annotated[str, Field(min_length=1, max_length=500)]
    dataset: str | None = Field(default=None, max_length=250)
    higher_is_better: Flag | None = None
    alpha: Real = Field(default=0.05, gt=0, lt=1)
    margin: Real | None = Field(default=None, ge=0, allow_inf_nan=False)
    min_effect: Real | None = Field(default=None, ge=0, allow_inf_nan=False)
    n_resamples: Whole = Field(default=10_000, ge=100, le=100_000)
    seed: Whole = Field(default=0, ge=0, le=2**32 - 1)


class ComparisonOut(_Out):
    """A comparison report: ``labline.ComparisonReport.to_dict()``."""

    metric: str
    dataset: str
    baseline: str
    report: dict[str, Any]


class HypothesisIn(_In):
    statement: Annotated[str, Field(min_length=1, max_length=10_000)]
    baseline: Selector
    candidate: Selector
    metric: Annotated[str, Field(min_length=1, max_length=250)]
    min_effect: Real = Field(ge=0, allow_inf_nan=False)
    alpha: Real = Field(default=0.05, gt=0, lt=1)
    dataset: str | None = Field(default=None, max_length=250)
    seeds: Whole = Field(default=1, ge=1, le=10_000)
    supersedes: Whole | None = Field(default=None, ge=1, le=2**31 - 1)


class HypothesisReviseIn(_In):
    statement: Annotated[str, Field(min_length=1, max_length=10_000)] | None = None
    metric: Annotated[str, Field(min_length=1, max_length=250)] | None = None
    min_effect: Real | None = Field(default=None, ge=0, allow_inf_nan=False)
    alpha: Real | None = Field(default=None, gt=0, lt=1)
    seeds: Whole | None = Field(default=None, ge=1, le=10_000)


class HypothesisOut(_Out):
    id: int
    statement: str
    baseline: str
    candidate: str
    metric: str
    dataset: str | None
    min_effect: Number
    alpha: Number
    seeds: int
    created_at: datetime
    status: str
    evaluated_at: datetime | None = None
    result: dict[str, Any] = Field(default_factory=dict)
    supersedes: int | None = None
    created_by: str = ""
    seed: int | None = None


# -- models and the registry -------------------------------------------------------------------
class RegisteredModelOut(_Out):
    name: str
    created_at: datetime
    latest_version: int | None
    aliases: dict[str, int]
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    updated_at: datetime | None = None
    created_by: str = ""


Description = Annotated[str, Field(max_length=100_000)]


class RegisteredModelIn(_In):
    name: Name
    description: Description = ""
    tags: dict[Key, Value] = Field(default_factory=dict, max_length=10_000)


class RegisteredModelUpdateIn(_In):
    description: Description | None = None
    tags: dict[Key, Value] = Field(default_factory=dict, max_length=10_000)
    delete_tags: list[Key] = Field(default_factory=list, max_length=10_000)


class ModelVersionOut(_Out):
    name: str
    version: int
    digest: str
    run_id: str | None
    created_at: datetime
    created_by: str
    meta: dict[str, Any]


class AliasOut(_Out):
    name: str
    alias: str
    version: int
    digest: str
    updated_at: datetime
    seq: int


class AliasEventOut(_Out):
    name: str
    alias: str
    seq: int
    from_version: int | None
    to_version: int
    at: datetime
    actor: str
    reason: str
    parity: str


class ResolvedOut(_Out):
    name: str
    version: int | None
    digest: str


class RegisterIn(_In):
    source: Annotated[str, Field(min_length=1, max_length=1300)]
    name: Annotated[str, Field(min_length=1, max_length=250)]
    version: Whole | None = Field(default=None, ge=1, le=2**31 - 1)


class PromoteIn(_In):
    alias: Annotated[str, Field(min_length=1, max_length=250)]
    reason: Annotated[str, Field(max_length=2000)] | None = None
    skip_parity: Flag = False
    tolerance: Real | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)


class PromotionOut(_Out):
    event: AliasEventOut
    parity: dict[str, Any] | None


class ModelDiffOut(_Out):
    name: str
    a: int
    b: int
    params: dict[str, list[str | None]]
    metrics: dict[str, list[Number | None]]
    datasets: dict[str, list[str | None]]
    requirements: dict[str, list[str | None]]
    files: dict[str, list[str | None]]
    code: str


class BadBlobOut(_Out):
    digest: str
    actual: str | None
    location: str
    used_by: list[str]


class VerificationOut(_Out):
    ok: bool
    checked: int
    bad: list[BadBlobOut]


# -- admin -------------------------------------------------------------------------------------
class TokenIn(_In):
    name: Name
    role: Role
    expires: Annotated[str, Field(pattern=r"^[1-9][0-9]{0,6}[smhdw]$")] | None = None


class TokenOut(_Out):
    id: int
    name: str
    role: Role
    prefix: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    active: bool


class IssuedTokenOut(_Out):
    token: TokenOut
    secret: str = Field(description="The token: shown this once, never stored.")


class GcIn(_In):
    dry_run: Flag = False
    grace: Real = Field(default=3600.0, ge=0, le=10 * 365 * 86400, allow_inf_nan=False)


class GcOut(_Out):
    runs_purged: list[str]
    experiments_purged: list[str]
    runs_kept: list[str]
    blobs_removed: int
    bytes_freed: int
    dry_run: bool


# -- identity and health -----------------------------------------------------------------------
class WhoAmIOut(_Out):
    name: str
    role: Role
    permissions: list[str]


class HealthOut(_Out):
    status: Literal["ok"]


class BlobVerificationOut(_Out):
    ok: bool
    checked: int
    bad: list[BadBlobOut]


# -- run views: selections, groups, chart series, predictions ----------------------------------
class MeanIntervalOut(_Out):
    n: int
    mean: Number
    low: Number
    high: Number


class RunGroupOut(_Out):
    param: str
    value: str | None
    run_ids: list[str]
    metrics: dict[str, MeanIntervalOut]


class SeriesEnvelopeOut(_Out):
    """One metric series downsampled for a chart: the lowest and highest value per step
    bucket (``x`` the bucket's first step); every point when ``exact``."""

    x: list[Number]
    low: list[Number]
    high: list[Number]
    n_points: int
    n_buckets: int
    exact: bool


class SeedBandOut(_Out):
    """The mean of one metric across runs per step bucket, with its confidence band."""

    x: list[Number]
    mean: list[Number]
    low: list[Number]
    high: list[Number]
    n_runs: list[int]
    total_runs: int


class ClassMetricsOut(_Out):
    label: str
    precision: Number
    recall: Number
    f1: Number
    support: int


class WorstExampleOut(_Out):
    id: str
    y_true: str
    y_pred: str
    p_true: Number | None


class PredictionsSummaryOut(_Out):
    run_id: str
    dataset: str
    n_rows: int
    accuracy: Number
    labels: list[str]
    confusion: list[list[int]]
    per_class: list[ClassMetricsOut]
    worst: list[WorstExampleOut]


class HypothesisProgressOut(_Out):
    baseline_runs: int
    candidate_runs: int
    needed: int
    problem: str | None


# -- packages, parity, aliases over time, calibrations -----------------------------------------
class ManifestFileOut(_Out):
    path: str
    sha256: str
    size: int


class ManifestOut(_Out):
    """A model package's manifest (``manifest.json``): every file with its SHA-256, the
    adapter, schemas and what the package was built from."""

    format_version: int
    name: str
    adapter: str
    entry: dict[str, Any]
    input_layout: str
    input_schema: list[dict[str, Any]]
    output_schema: list[dict[str, Any]]
    classes: list[Any] | None
    has_proba: bool
    python_version: str
    requirements: dict[str, str]
    run_id: str | None
    datasets: list[dict[str, str]]
    parity: dict[str, Any] | None
    code: list[str]
    files: list[ManifestFileOut]
    profile: str | None = None


class ParityIn(_In):
    tolerance: Real | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)


class ParityDifferenceOut(_Out):
    index: int
    recorded_label: str
    replayed_label: str
    max_proba_diff: Number


class ParityOut(_Out):
    """A parity replay's report: a fresh process replayed the recorded evaluation inputs."""

    passed: bool
    n: int
    n_differing: int
    first: list[ParityDifferenceOut]
    max_abs_diff: Number
    tolerance: Number
    error: str | None = None
    deferral_checked: int = 0
    deferral_differing: int = 0
    summary: str


class AliasAtOut(_Out):
    name: str
    alias: str
    at: datetime
    version: int | None


class CalibrationOut(_Out):
    id: int
    model_name: str
    model_version: int
    model_digest: str
    method: str
    score: str
    target_error: Number
    confidence: Number
    n: int
    threshold: Number
    coverage: Number
    coverage_low: Number
    coverage_high: Number
    kept_error: Number
    risk_bound: Number
    best_target: Number
    aurc: Number
    overall_error: Number
    curve_coverage: list[Number]
    curve_risk: list[Number]
    curve_threshold: list[Number]
    data_fingerprint: str
    data_source: str
    parity_deferred: list[bool]
    created_by: str
    created_at: datetime


# -- sweeps ------------------------------------------------------------------------------------
_ATTRS_JSON = (
    "The same attributes as JSON text, exact: NaN and ±Infinity stay numbers (written NaN, "
    "Infinity, -Infinity), where the readable form above writes them as strings."
)


class SweepOut(_Out):
    id: int
    name: str
    run_id: str
    experiment: str
    directions: list[str]
    metrics: list[str]
    user_attrs: dict[str, Any]
    system_attrs: dict[str, Any]
    user_attrs_json: str = Field(description=_ATTRS_JSON)
    system_attrs_json: str = Field(description=_ATTRS_JSON)
    created_at: datetime


class TrialParamOut(_Out):
    internal: Number
    distribution: str
    display: str


class TrialOut(_Out):
    id: int
    sweep_id: int
    number: int
    run_id: str
    state: str
    values: list[Number] | None
    datetime_start: datetime | None
    datetime_complete: datetime | None
    params: dict[str, TrialParamOut]
    intermediate_values: dict[str, Number]
    user_attrs: dict[str, Any]
    system_attrs: dict[str, Any]
    user_attrs_json: str = Field(description=_ATTRS_JSON)
    system_attrs_json: str = Field(description=_ATTRS_JSON)


# -- review queue and labelled datasets --------------------------------------------------------
class ReviewItemOut(_Out):
    id: int
    model_name: str
    model_version: int
    model_digest: str
    calibration_id: int | None
    inputs: Any
    guess: Any
    confidence: Number
    margin: Number | None
    reason: str
    request_id: str
    created_at: datetime
    enqueued_at: datetime
    reviews_needed: int
    reviews_done: int
    status: Literal["open", "claimed", "done"]
    claimed_by: str | None
    lease_expires_at: datetime | None


class ReviewDecisionOut(_Out):
    id: int
    item_id: int
    reviewer: str
    kind: str
    label: Any
    created_at: datetime
    updated_at: datetime
    undone_at: datetime | None
    source: str
    meta: dict[str, Any]


class ReviewExportOut(_Out):
    """Review items exported as ``label-studio`` tasks or ``jsonl`` records (their shapes are
    those formats')."""

    format: Literal["label-studio", "jsonl"]
    items: list[dict[str, Any]]


class ReviewCountsOut(_Out):
    total: int
    open: int
    claimed: int
    done: int
    deferred: int
    audit: int


class ReviewAgreementOut(_Out):
    reviewers_per_item: int
    method: Literal["cohen", "fleiss"]
    kappa: Number | None
    n_items: int
    unanimous: Number


class ReviewStatsOut(_Out):
    total: int
    open: int
    claimed: int
    done: int
    deferred: int
    audit: int
    labelled: int
    rejected: int
    disputed: int
    model_correct: int
    model_checked: int
    audit_correct: int
    audit_checked: int
    audit_accuracy: Number | None
    audit_ci: list[Number] | None
    decisions_by_reviewer: dict[str, int]
    agreement: list[ReviewAgreementOut]


class LabelledDatasetOut(_Out):
    name: str
    version: int
    fingerprint: str
    n_examples: int
    created_at: datetime
    created_by: str
    query: dict[str, Any]
    meta: dict[str, Any]


class LabelledExampleOut(_Out):
    item_id: int
    inputs: Any
    label: Any
    decision_ids: list[int]
    reviewers: list[str]
    guess: Any
    confidence: Number
    reason: str
    request_id: str
    model_name: str
    model_version: int
    model_digest: str
    calibration_id: int | None
