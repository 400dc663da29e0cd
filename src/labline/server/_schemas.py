"""The JSON shapes of ``/api/v1`` (pydantic v2): what each record looks like on the wire.

Responses are built from labline's frozen records through :func:`labline.core.to_jsonable`,
which writes NaN and ±Inf as the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (strict
JSON); :data:`Number` declares that in the OpenAPI document. Request bodies forbid unknown
fields, so a misspelt field is a 400 naming it rather than silently ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .. import Role

__all__ = [
    "AliasEventOut",
    "AliasOut",
    "ArtifactOut",
    "CompareIn",
    "ComparisonOut",
    "DatasetOut",
    "ExperimentIn",
    "ExperimentOut",
    "ExperimentRenameIn",
    "GcIn",
    "GcOut",
    "HypothesisIn",
    "HypothesisOut",
    "HypothesisReviseIn",
    "IssuedTokenOut",
    "MarkFailedIn",
    "MetricSeriesOut",
    "MetricSummaryOut",
    "ModelDiffOut",
    "ModelVersionOut",
    "Number",
    "PredictionsOut",
    "PromoteIn",
    "PromotionOut",
    "RegisterIn",
    "RegisteredModelOut",
    "ResolvedOut",
    "RunOut",
    "RunPageOut",
    "RunRenameIn",
    "RunSearchIn",
    "TagIn",
    "TokenIn",
    "TokenOut",
    "VerificationOut",
]

Number = float | Literal["NaN", "Infinity", "-Infinity"]
"""A float on the wire: a JSON number, or one of three strings for the non-finite values."""

Name = Annotated[str, Field(min_length=1, max_length=250)]
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


class ExperimentIn(_In):
    name: Name


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
    limit: int | None = Field(default=100, ge=1, le=10_000)
    page_token: str | None = Field(default=None, max_length=2000)
    params: dict[str, str] | None = None
    tags: dict[str, str] | None = None
    run_ids: list[Annotated[str, Field(max_length=32)]] | None = Field(
        default=None, max_length=10_000
    )
    status: Literal["running", "finished", "failed", "killed", "stale"] | None = None
    include_deleted: bool = False


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
    higher_is_better: bool | None = None
    alpha: float = Field(default=0.05, gt=0, lt=1)
    margin: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    min_effect: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    n_resamples: int = Field(default=10_000, ge=100, le=100_000)
    seed: int = Field(default=0, ge=0, le=2**32 - 1)


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
    min_effect: float = Field(ge=0, allow_inf_nan=False)
    alpha: float = Field(default=0.05, gt=0, lt=1)
    dataset: str | None = Field(default=None, max_length=250)
    seeds: int = Field(default=1, ge=1, le=10_000)
    supersedes: int | None = Field(default=None, ge=1, le=2**31 - 1)


class HypothesisReviseIn(_In):
    statement: Annotated[str, Field(min_length=1, max_length=10_000)] | None = None
    metric: Annotated[str, Field(min_length=1, max_length=250)] | None = None
    min_effect: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    alpha: float | None = Field(default=None, gt=0, lt=1)
    seeds: int | None = Field(default=None, ge=1, le=10_000)


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
    version: int | None = Field(default=None, ge=1, le=2**31 - 1)


class PromoteIn(_In):
    alias: Annotated[str, Field(min_length=1, max_length=250)]
    reason: Annotated[str, Field(max_length=2000)] | None = None
    skip_parity: bool = False
    tolerance: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)


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
    dry_run: bool = False
    grace: float = Field(default=3600.0, ge=0, le=10 * 365 * 86400, allow_inf_nan=False)


class GcOut(_Out):
    runs_purged: list[str]
    experiments_purged: list[str]
    runs_kept: list[str]
    blobs_removed: int
    bytes_freed: int
    dry_run: bool
