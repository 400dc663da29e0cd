"""The JSON shapes of the record-level writes of ``/api/v1`` (pydantic v2): what a remote
writer (``LABLINE_URI=http://...``) sends. Bodies forbid unknown fields, so a misspelt field is
a 400 naming it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, Strict

from .. import Role
from ._schemas import Flag, Key, ModelVersionOut, Name, Real, Value, Whole, _In, _Out

__all__ = [
    "AliasMoveIn",
    "ArtifactsIn",
    "BlobOut",
    "BlobRefsIn",
    "DatasetIn",
    "DigestsOut",
    "HypothesisRecordIn",
    "HypothesisResultIn",
    "MetricBatchOut",
    "ParamsIn",
    "PredictionsIn",
    "PurgeIn",
    "PurgeOut",
    "RegisterDigestIn",
    "RegisteredOut",
    "RunOpenIn",
    "RunResumeIn",
    "RunStatusIn",
    "TagsIn",
    "TokenRecordIn",
    "UploadOut",
]

Hex = Annotated[str, Field(pattern=r"^(sha256:)?[0-9a-f]{64}$")]
RunId = Annotated[str, Field(min_length=1, max_length=32)]
Host = Annotated[str, Field(max_length=250)]
Pid = Annotated[int, Strict(), Field(ge=0, le=2**31 - 1)]


def _iso_text(value: Any) -> Any:
    # JSON carries times as ISO 8601 text; a number (a Unix time?) is refused, not guessed at
    if not isinstance(value, str | datetime):
        raise ValueError("a time is ISO 8601 text, e.g. 2024-05-01T12:00:00+00:00")
    return value


When = Annotated[datetime, BeforeValidator(_iso_text)]
"""A time in a request body: ISO 8601 text (with or without an offset), never a number."""


class RunOpenIn(_In):
    experiment_id: Whole = Field(ge=1, le=2**31 - 1)
    name: Annotated[str, Field(max_length=250)] = ""
    params: dict[Key, Value] = Field(default_factory=dict, max_length=10_000)
    tags: dict[Key, Value] = Field(default_factory=dict, max_length=10_000)
    env: dict[str, Any] = Field(default_factory=dict)
    host: Host = ""
    pid: Pid = 0
    parent_id: RunId | None = None
    run_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")] | None = None
    created_at: When | None = None


class RunResumeIn(_In):
    host: Host = ""
    pid: Pid = 0


class RunStatusIn(_In):
    status: Literal["running", "finished", "failed"]
    error: Annotated[str, Field(max_length=100_000)] | None = None
    ended_at: When | None = None


class ParamsIn(_In):
    params: dict[Key, Value] = Field(max_length=10_000)


class TagsIn(_In):
    tags: dict[Key, Value] = Field(max_length=10_000)


class MetricBatchOut(_Out):
    points: int


class DatasetIn(_In):
    name: Name
    fingerprint: Annotated[str, Field(min_length=1, max_length=80)]
    kind: Annotated[str, Field(min_length=1, max_length=64)]
    n_rows: Whole | None = Field(default=None, ge=0)
    meta: dict[str, Any] = Field(default_factory=dict)


class PredictionsIn(_In):
    dataset: Name
    dataset_fingerprint: Annotated[str, Field(min_length=1, max_length=80)]
    ids_digest: Annotated[str, Field(min_length=1, max_length=80)]
    blob_digest: Hex
    n_rows: Whole = Field(ge=0)
    has_proba: Flag
    classes: list[Any] | None = Field(default=None, max_length=100_000)


class ArtifactIn(_In):
    path: Annotated[str, Field(min_length=1, max_length=1000)]
    digest: Hex
    size: Whole = Field(ge=0)


class ArtifactsIn(_In):
    artifacts: list[ArtifactIn] = Field(max_length=100_000)


class RegisterDigestIn(_In):
    digest: Hex
    run_id: RunId | None = None
    meta: dict[str, Any] = Field(default_factory=dict)
    version: Whole | None = Field(default=None, ge=1, le=2**31 - 1)


class RegisteredOut(_Out):
    version: ModelVersionOut
    created: bool


class AliasMoveIn(_In):
    version: Whole = Field(ge=1, le=2**31 - 1)
    reason: Annotated[str, Field(max_length=10_000)] = ""
    parity: Annotated[str, Field(max_length=10_000)]


class HypothesisRecordIn(_In):
    statement: Annotated[str, Field(min_length=1, max_length=10_000)]
    baseline: Annotated[str, Field(min_length=1, max_length=1000)]
    candidate: Annotated[str, Field(min_length=1, max_length=1000)]
    metric: Annotated[str, Field(min_length=1, max_length=500)]
    dataset: Annotated[str, Field(max_length=250)] | None = None
    min_effect: Real
    alpha: Real
    seeds: Whole = Field(ge=1, le=10_000)
    supersedes: Whole | None = Field(default=None, ge=1, le=2**31 - 1)


class HypothesisResultIn(_In):
    status: Literal["evaluated: supported", "evaluated: refuted", "evaluated: inconclusive"]
    result: dict[str, Any]


class PurgeIn(_In):
    dry_run: Flag = False


class PurgeOut(_Out):
    runs: list[str]
    experiments: list[str]
    kept: list[str]


class BlobRefsIn(_In):
    excluding_runs: list[RunId] = Field(default_factory=list, max_length=1_000_000)


class DigestsOut(_Out):
    digests: list[str]


class BlobOut(_Out):
    digest: str
    size: int


class UploadOut(_Out):
    upload_id: str
    offset: int


class TokenRecordIn(_In):
    name: Name
    role: Role
    secret_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="SHA-256 (hex) of a secret the caller generated and keeps: the secret "
        "itself never travels."
    )
    prefix: Annotated[str, Field(min_length=1, max_length=12)]
    expires_at: When | None = None
