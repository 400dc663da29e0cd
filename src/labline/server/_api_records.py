"""``/api/v1`` record-level writes: what a remote writer (``LABLINE_URI=http://...``, the HTTP
store) asks the server to record. Open and resume runs, params, tags, status, heartbeats, metric
batches (columnar and compressed, stored once per writer and sequence number), data sets,
predictions and artifacts whose blobs are uploaded, package digests, alias moves, hypothesis
records and results, and the purge and blob references ``gc`` needs. Every write is recorded as
the token's name."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from .. import ArtifactRecord, Client, DatasetRecord, PredictionsRecord
from ..core import to_jsonable
from ._errors import ERROR_RESPONSES
from ._permissions import request_client, requires
from ._principal import Permission
from ._schemas import (
    AliasEventOut,
    ExperimentIn,
    ExperimentOut,
    HypothesisOut,
    ModelVersionOut,
    PredictionsOut,
    RunOut,
)
from ._schemas_records import (
    AliasMoveIn,
    ArtifactsIn,
    BlobRefsIn,
    DatasetIn,
    DigestsOut,
    HypothesisRecordIn,
    HypothesisResultIn,
    MetricBatchOut,
    ParamsIn,
    PredictionsIn,
    PurgeIn,
    PurgeOut,
    RegisterDigestIn,
    RegisteredOut,
    RunOpenIn,
    RunResumeIn,
    RunStatusIn,
    TagsIn,
)

__all__ = ["router"]

router = APIRouter(tags=["records"], responses=ERROR_RESPONSES)
ClientDep = Annotated[Client, Depends(request_client)]
READ, WRITE = requires(Permission.READ), requires(Permission.WRITE_RUNS)
REGISTER, ADMIN = requires(Permission.REGISTER), requires(Permission.ADMIN)
WriterHeader = Annotated[
    str, Header(alias="x-labline-writer", min_length=1, max_length=64, pattern=r"^[\w.-]+$")
]
SeqHeader = Annotated[int, Header(alias="x-labline-seq", ge=0, le=2**63 - 1)]
METRIC_BATCH_MEDIA_TYPE = "application/vnd.apache.arrow.stream"  # documented; Client checks it


def _run(run: Any) -> RunOut:
    return RunOut.model_validate(to_jsonable(run))


@router.post(
    "/experiments/get-or-create",
    dependencies=[WRITE],
    summary="Get or create an experiment",
    tags=["experiments"],
)
def get_or_create_experiment(client: ClientDep, body: ExperimentIn) -> ExperimentOut:
    """The experiment called ``name``, created if needed (safe under concurrency)."""
    return ExperimentOut.model_validate(to_jsonable(client.get_or_create_experiment(body.name)))


@router.post("/runs/open", dependencies=[WRITE], status_code=201, summary="Open a run for a writer")
def open_run(client: ClientDep, body: RunOpenIn) -> RunOut:
    """Create a running run for a writer process (its host and pid; its liveness is judged by
    heartbeats), recorded as started by the token's name."""
    return _run(
        client.open_run(
            body.experiment_id,
            body.name,
            params=body.params,
            tags=body.tags,
            env=body.env,
            host=body.host,
            pid=body.pid,
            parent_id=body.parent_id,
            run_id=body.run_id,
            created_at=body.created_at,
        )
    )


@router.post("/runs/{run_id}/resume", dependencies=[WRITE], summary="Reopen a run")
def resume_run(client: ClientDep, run_id: str, body: RunResumeIn) -> RunOut:
    """Move an ended or stale run back to running for a writer (400 while it runs in a live
    process)."""
    return _run(client.reopen_run(run_id, host=body.host, pid=body.pid))


@router.post("/runs/{run_id}/status", dependencies=[WRITE], summary="Set a run's status")
def set_run_status(client: ClientDep, run_id: str, body: RunStatusIn) -> RunOut:
    """End a run (``finished``, or ``failed`` with the error) or mark it running again."""
    return _run(client.end_run(run_id, body.status, body.error, ended_at=body.ended_at))


@router.post("/runs/{run_id}/heartbeat", dependencies=[WRITE], status_code=204, summary="Heartbeat")
def heartbeat(client: ClientDep, run_id: str) -> Response:
    """Record that the run's writer is alive."""
    client.heartbeat(run_id)
    return Response(status_code=204)


@router.post("/runs/{run_id}/params", dependencies=[WRITE], status_code=204, summary="Log params")
def log_params(client: ClientDep, run_id: str, body: ParamsIn) -> Response:
    """Set write-once params (the same value again is fine; another is a 400 naming the key,
    and nothing of the call is stored)."""
    client.log_batch(run_id, params=body.params)
    return Response(status_code=204)


@router.post("/runs/{run_id}/tags", dependencies=[WRITE], status_code=204, summary="Set tags")
def set_tags(client: ClientDep, run_id: str, body: TagsIn) -> Response:
    """Set or overwrite several tags."""
    client.log_batch(run_id, tags=body.tags)
    return Response(status_code=204)


@router.post(
    "/runs/{run_id}/metric-batches",
    dependencies=[WRITE],
    summary="Append a batch of metric points",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in (METRIC_BATCH_MEDIA_TYPE, "application/octet-stream")
            },
        }
    },
)
async def append_metric_batch(
    request: Request, client: ClientDep, run_id: str, writer: WriterHeader, seq: SeqHeader
) -> MetricBatchOut:
    """Append points sent as one LZ4-compressed Arrow IPC stream (columns key, step,
    timestamp, value). The batch is stored once per ``(x-labline-writer, x-labline-seq)``:
    sending it again (a retry after a lost answer) changes nothing."""
    media = request.headers.get("content-type", "").split(";")[0].strip()
    payload = await request.body()
    points = await run_in_threadpool(
        client.ingest_metric_batch, run_id, payload, (writer, seq), media_type=media
    )
    return MetricBatchOut(points=points)


@router.get(
    "/runs/{run_id}/metric-batches/{key:path}",
    dependencies=[READ],
    summary="A metric series, columnar",
    response_class=Response,
    responses={200: {"content": {METRIC_BATCH_MEDIA_TYPE: {}}}},
)
def metric_series_batch(client: ClientDep, run_id: str, key: str) -> Response:
    """Every point of one series as one LZ4-compressed Arrow IPC stream (the format of the
    batches a writer sends): what a remote reader of long series asks for."""
    payload, media_type = client.metric_series_payload(run_id, key)
    return Response(payload, media_type=media_type)


@router.post(
    "/runs/{run_id}/datasets", dependencies=[WRITE], status_code=204, summary="Record a data set"
)
def add_dataset(client: ClientDep, run_id: str, body: DatasetIn) -> Response:
    """Record that a run saw a data set (the same fingerprint again is a no-op; another one
    under the same name is a 400)."""
    client.add_dataset_record(
        DatasetRecord(run_id, body.name, body.fingerprint, body.kind, body.n_rows, body.meta)
    )
    return Response(status_code=204)


@router.post(
    "/runs/{run_id}/predictions",
    dependencies=[WRITE],
    status_code=204,
    summary="Record a predictions file",
)
def add_predictions(client: ClientDep, run_id: str, body: PredictionsIn) -> Response:
    """Index a predictions file uploaded as a blob (404 until the blob is stored)."""
    from datetime import UTC, datetime

    client.add_predictions_record(
        PredictionsRecord(
            run_id=run_id,
            dataset=body.dataset,
            dataset_fingerprint=body.dataset_fingerprint,
            ids_digest=body.ids_digest,
            blob_digest=body.blob_digest.removeprefix("sha256:"),
            n_rows=body.n_rows,
            has_proba=body.has_proba,
            classes=None if body.classes is None else tuple(body.classes),
            created_at=datetime.now(UTC),
        )
    )
    return Response(status_code=204)


@router.get("/predictions", dependencies=[READ], summary="Find prediction sets")
def find_predictions(
    client: ClientDep,
    run_id: Annotated[str | None, Query(max_length=32)] = None,
    dataset_fingerprint: Annotated[str | None, Query(max_length=80)] = None,
) -> list[PredictionsOut]:
    """Prediction sets of a run and/or of a data set fingerprint."""
    records = client.find_predictions(run_id, dataset_fingerprint=dataset_fingerprint)
    return [PredictionsOut.model_validate(to_jsonable(p)) for p in records]


@router.post(
    "/runs/{run_id}/artifact-records",
    dependencies=[WRITE],
    status_code=204,
    summary="Record uploaded files",
)
def add_artifacts(client: ClientDep, run_id: str, body: ArtifactsIn) -> Response:
    """Record files of a run whose blobs are uploaded (404 for a blob not stored; 409 for a
    path that already holds other content)."""
    client.add_artifact_records(
        [
            ArtifactRecord(run_id, a.path, a.digest.removeprefix("sha256:"), a.size)
            for a in body.artifacts
        ]
    )
    return Response(status_code=204)


@router.post(
    "/models/{name}/digests",
    dependencies=[REGISTER],
    summary="Register an uploaded package",
    tags=["models"],
)
def register_digest(client: ClientDep, name: str, body: RegisterDigestIn) -> RegisteredOut:
    """Register a package whose manifest blob (and files) are uploaded as a version of
    ``name`` (the same digest again returns its version with ``created`` false)."""
    version, created = client.register_digest(
        name, body.digest, run_id=body.run_id, meta=body.meta, version=body.version
    )
    return RegisteredOut(
        version=ModelVersionOut.model_validate(to_jsonable(version)), created=created
    )


@router.post(
    "/models/{name}/aliases/{alias}/moves",
    dependencies=[ADMIN],
    summary="Record an alias move",
    tags=["models"],
)
def move_alias(client: ClientDep, name: str, alias: str, body: AliasMoveIn) -> AliasEventOut:
    """Point ``name@alias`` at a version with the parity outcome the caller reports (admin
    only: everyone else promotes through ``/models/{name}/versions/{version}/promote``, which
    runs the gate on the server)."""
    event = client.record_alias_move(
        name, alias, body.version, reason=body.reason, parity=body.parity
    )
    return AliasEventOut.model_validate(to_jsonable(event))


@router.post(
    "/hypotheses/records",
    dependencies=[WRITE],
    status_code=201,
    summary="Store a hypothesis as given",
    tags=["compare and hypotheses"],
)
def add_hypothesis_record(client: ClientDep, body: HypothesisRecordIn) -> HypothesisOut:
    """Store a hypothesis whose metric the caller resolved."""
    h = client.add_hypothesis_record(
        statement=body.statement,
        baseline=body.baseline,
        candidate=body.candidate,
        metric=body.metric,
        dataset=body.dataset,
        min_effect=float(body.min_effect),
        alpha=float(body.alpha),
        seeds=body.seeds,
        supersedes=body.supersedes,
    )
    return HypothesisOut.model_validate(to_jsonable(h))


@router.post(
    "/hypotheses/{hypothesis_id}/result",
    dependencies=[WRITE],
    summary="Store a hypothesis's evaluation",
    tags=["compare and hypotheses"],
)
def record_hypothesis_result(
    client: ClientDep, hypothesis_id: int, body: HypothesisResultIn
) -> HypothesisOut:
    """Store an evaluation computed by the caller, once (409 afterwards)."""
    h = client.record_hypothesis_result(hypothesis_id, body.status, body.result)
    return HypothesisOut.model_validate(to_jsonable(h))


@router.post("/purge", dependencies=[ADMIN], summary="Purge deleted runs", tags=["admin"])
def purge(client: ClientDep, body: PurgeIn) -> PurgeOut:
    """Erase deleted runs and experiments (the metadata half of ``gc``)."""
    return PurgeOut.model_validate(to_jsonable(client.purge_deleted(dry_run=body.dry_run)))


@router.post("/blob-references", dependencies=[ADMIN], summary="Referenced blobs", tags=["admin"])
def blob_references(client: ClientDep, body: BlobRefsIn) -> DigestsOut:
    """Digests of every blob a metadata row references (``gc``'s keep list)."""
    refs = client.referenced_blob_digests(excluding_runs=body.excluding_runs)
    return DigestsOut(digests=sorted(refs))


@router.get("/package-digests", dependencies=[READ], summary="Registered packages", tags=["models"])
def package_digests(client: ClientDep) -> DigestsOut:
    """Digests of every registered model version's package."""
    return DigestsOut(digests=sorted(client.registered_package_digests()))
