"""``/api/v1/runs``: get, find by reference, search (the filter grammar, order, pages), the
lifecycle (rename, delete, restore, tags, mark failed), children, metric series, data sets,
prediction sets and artifacts (listing and streamed, verified download)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response, StreamingResponse

from .. import Client, InvalidArgumentError, Run
from ..core import check_artifact_path, to_jsonable
from ._errors import ERROR_RESPONSES
from ._permissions import request_client, requires
from ._principal import Permission
from ._schemas import (
    ArtifactOut,
    DatasetOut,
    MarkFailedIn,
    MetricSeriesOut,
    PredictionsOut,
    PredictionsSummaryOut,
    RunOut,
    RunPageOut,
    RunRenameIn,
    RunSearchIn,
    TagIn,
)

__all__ = ["router"]

router = APIRouter(prefix="/runs", tags=["runs"], responses=ERROR_RESPONSES)
ClientDep = Annotated[Client, Depends(request_client)]
READ, WRITE = requires(Permission.READ), requires(Permission.WRITE_RUNS)
RunStatusName = Annotated[str | None, Query(pattern="^(running|finished|failed|killed|stale)$")]


def _run(run: Run) -> RunOut:
    return RunOut.model_validate(to_jsonable(run))


def _page(client: Client, query: RunSearchIn) -> Response:
    page = client.search_runs(
        query.experiment,
        filter=query.filter,
        order_by=query.order_by,
        limit=query.limit,
        page_token=query.page_token,
        params=query.params,
        tags=query.tags,
        run_ids=query.run_ids,
        status=query.status,
        include_deleted=query.include_deleted,
    )
    # Built straight from the records (the shape RunPageOut documents): a page of runs is the
    # hot read of the UI and of remote clients.
    body = {"runs": [to_jsonable(r) for r in page.runs], "next_page_token": page.next_page_token}
    return Response(orjson.dumps(body), media_type="application/json")


@router.get("", dependencies=[READ], response_model=RunPageOut, summary="Search runs")
def search_runs(
    client: ClientDep,
    experiment: Annotated[str | None, Query(max_length=250)] = None,
    filter: Annotated[str | None, Query(max_length=10_000)] = None,
    order_by: Annotated[list[str] | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    page_token: Annotated[str | None, Query(max_length=2000)] = None,
    status: RunStatusName = None,
    include_deleted: bool = False,
) -> Any:
    """Runs matching ``filter`` (``params.lr > 0.01 and metrics.accuracy >= 0.9``), sorted by
    ``order_by`` (repeatable, ``metrics.accuracy DESC``), one page of ``limit`` at a time
    (``next_page_token`` fetches the next)."""
    query = RunSearchIn(
        experiment=experiment,
        filter=filter,
        order_by=order_by,
        limit=limit,
        page_token=page_token,
        status=status,  # type: ignore[arg-type]
        include_deleted=include_deleted,
    )
    return _page(client, query)


@router.post(
    "/search", dependencies=[READ], response_model=RunPageOut, summary="Search runs (JSON body)"
)
def search_runs_post(client: ClientDep, body: RunSearchIn) -> Any:
    """The same search with a JSON body (also exact ``params``/``tags`` matches and
    ``run_ids``)."""
    return _page(client, body)


@router.get("/find", dependencies=[READ], summary="Find a run by reference")
def find_run(
    client: ClientDep,
    ref: Annotated[str, Query(min_length=1, max_length=250)],
    experiment: Annotated[str | None, Query(max_length=250)] = None,
    include_deleted: bool = False,
) -> RunOut:
    """The run a reference names: its id, a unique id prefix (4+ characters) or its unique
    name (400 when ambiguous, listing the matches)."""
    return _run(client.find_run(ref, experiment, include_deleted=include_deleted))


@router.get("/{run_id}", dependencies=[READ], summary="Get a run")
def get_run(client: ClientDep, run_id: str) -> RunOut:
    """One run by its full id (deleted or not)."""
    return _run(client.get_run(run_id))


@router.patch("/{run_id}", dependencies=[WRITE], summary="Rename a run")
def rename_run(client: ClientDep, run_id: str, body: RunRenameIn) -> RunOut:
    """Give a run a new name."""
    return _run(client.rename_run(run_id, body.name))


@router.delete("/{run_id}", dependencies=[WRITE], summary="Delete a run")
def delete_run(client: ClientDep, run_id: str) -> RunOut:
    """Hide a run from searches (restore brings it back; gc erases it)."""
    return _run(client.delete_run(run_id))


@router.post("/{run_id}/restore", dependencies=[WRITE], summary="Restore a run")
def restore_run(client: ClientDep, run_id: str) -> RunOut:
    """Undo a delete."""
    return _run(client.restore_run(run_id))


@router.post("/{run_id}/mark-failed", dependencies=[WRITE], summary="Mark a stale run failed")
def mark_run_failed(client: ClientDep, run_id: str, body: MarkFailedIn) -> RunOut:
    """Mark a stale run (its process gone) failed; 400 for a run that is not stale."""
    return _run(client.mark_run_failed(client.get_run(run_id), body.reason))


@router.put("/{run_id}/tags/{key:path}", dependencies=[WRITE], summary="Set a tag")
def set_tag(client: ClientDep, run_id: str, key: str, body: TagIn) -> RunOut:
    """Set (or change) a tag on a run."""
    client.get_run(run_id)
    client.set_tag(run_id, key, body.value)
    return _run(client.get_run(run_id))


@router.delete("/{run_id}/tags/{key:path}", dependencies=[WRITE], summary="Delete a tag")
def delete_tag(client: ClientDep, run_id: str, key: str) -> RunOut:
    """Remove a tag from a run."""
    client.delete_tag(run_id, key)
    return _run(client.get_run(run_id))


@router.get("/{run_id}/children", dependencies=[READ], summary="Child runs")
def child_runs(client: ClientDep, run_id: str) -> list[RunOut]:
    """The runs started with this run as parent, oldest first."""
    return [_run(r) for r in client.child_runs(client.get_run(run_id))]


@router.get("/{run_id}/metrics/{key:path}", dependencies=[READ], summary="A metric series")
def metric_series(client: ClientDep, run_id: str, key: str) -> MetricSeriesOut:
    """Every point of one metric (steps, timestamps, values)."""
    return MetricSeriesOut.model_validate(to_jsonable(client.get_metric_series(run_id, key)))


@router.get("/{run_id}/datasets", dependencies=[READ], summary="Data sets a run logged")
def list_datasets(client: ClientDep, run_id: str) -> list[DatasetOut]:
    """The data sets a run logged, with their fingerprints."""
    client.get_run(run_id)
    return [DatasetOut.model_validate(to_jsonable(d)) for d in client.list_datasets(run_id)]


@router.get("/{run_id}/predictions", dependencies=[READ], summary="Prediction sets")
def list_predictions(client: ClientDep, run_id: str) -> list[PredictionsOut]:
    """The per-example prediction sets a run logged."""
    client.get_run(run_id)
    return [PredictionsOut.model_validate(to_jsonable(p)) for p in client.list_predictions(run_id)]


DatasetName = Annotated[str, Path(min_length=1, max_length=250)]


@router.get("/{run_id}/predictions/{dataset}", dependencies=[READ], summary="One prediction set")
def get_predictions(client: ClientDep, run_id: str, dataset: DatasetName) -> PredictionsOut:
    """The record of a run's predictions on one data set (fingerprints, rows, classes)."""
    record = client.get_predictions_record(run_id, dataset)
    return PredictionsOut.model_validate(to_jsonable(record))


@router.get(
    "/{run_id}/predictions/{dataset}/file",
    dependencies=[READ],
    summary="Download a prediction set (Parquet)",
    response_class=Response,
    responses={200: {"content": {"application/vnd.apache.parquet": {}}}},
)
def predictions_file(client: ClientDep, run_id: str, dataset: DatasetName) -> Response:
    """The Parquet file of a run's predictions on one data set (``id``, ``y_true``,
    ``y_pred`` and ``proba`` when logged), checked against its digest before it is sent."""
    record = client.get_predictions_record(run_id, dataset)
    return Response(
        client.read_predictions_file(record),
        media_type="application/vnd.apache.parquet",
        headers={"x-labline-digest": record.blob_digest},
    )


@router.get(
    "/{run_id}/predictions/{dataset}/summary",
    dependencies=[READ],
    summary="Summary of a prediction set",
)
def predictions_summary(
    client: ClientDep,
    run_id: str,
    dataset: DatasetName,
    worst: Annotated[int, Query(ge=0, le=1000)] = 20,
) -> PredictionsSummaryOut:
    """Confusion matrix, per-class precision/recall/F1 and the ``worst`` examples (lowest
    probability of the true class) of a run's predictions on one data set."""
    summary = client.predictions_summary(run_id, dataset, worst=worst)
    return PredictionsSummaryOut.model_validate(to_jsonable(summary))


@router.get("/{run_id}/artifacts", dependencies=[READ], summary="List artifacts")
def list_artifacts(
    client: ClientDep,
    run_id: str,
    path: Annotated[str | None, Query(max_length=1000)] = None,
) -> list[ArtifactOut]:
    """The files a run logged (only those at or under ``path`` when given)."""
    client.get_run(run_id)
    if path is not None:
        path = checked_artifact_path(path)
    return [ArtifactOut.model_validate(to_jsonable(a)) for a in client.list_artifacts(run_id, path)]


def checked_artifact_path(path: str) -> str:
    """An artifact path from a request, as the grammar takes it (relative, no ``.``/``..``
    parts, no backslashes), and never an absolute path reinterpreted as a relative one.

    Raises:
        InvalidArgumentError: such a path (the error names the ``path`` field).
    """
    try:
        return check_artifact_path(path, "path", exact=True)
    except InvalidArgumentError as e:
        e.field = "path"  # type: ignore[attr-defined]
        raise


@router.get(
    "/{run_id}/artifacts/{path:path}",
    dependencies=[READ],
    summary="Download an artifact",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download_artifact(client: ClientDep, run_id: str, path: str) -> StreamingResponse:
    """The file's bytes, streamed, checked against the digest recorded when it was logged
    (a mismatch ends the transfer early, so a client never receives altered bytes whole)."""
    path = checked_artifact_path(path)
    record, chunks = client.open_artifact(run_id, path)
    return StreamingResponse(
        chunks,
        media_type="application/octet-stream",
        headers={
            "content-length": str(record.size),
            "x-labline-digest": record.digest,
            "content-disposition": f'attachment; filename="{_safe_name(record.path)}"',
        },
    )


def _safe_name(path: str) -> str:
    last = path.rsplit("/", 1)[-1]
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in last)[:200] or "artifact"
