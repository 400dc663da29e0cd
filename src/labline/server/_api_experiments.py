"""``/api/v1/experiments``: list, create, get, rename, delete, restore, and tags."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from .. import Client
from ..core import to_jsonable
from ._errors import ERROR_RESPONSES
from ._permissions import request_client, requires
from ._principal import Permission
from ._schemas import ExperimentIn, ExperimentOut, ExperimentRenameIn
from ._schemas_records import TagsIn

__all__ = ["router"]

router = APIRouter(prefix="/experiments", tags=["experiments"], responses=ERROR_RESPONSES)
ClientDep = Annotated[Client, Depends(request_client)]
READ, WRITE = requires(Permission.READ), requires(Permission.WRITE_RUNS)


def _ref(name_or_id: str) -> str | int:
    """Experiment path parameters are names, or ids written as digits."""
    return int(name_or_id) if name_or_id.isdigit() and len(name_or_id) < 10 else name_or_id


def _out(exp: object) -> ExperimentOut:
    return ExperimentOut.model_validate(to_jsonable(exp))


@router.get("", dependencies=[READ], summary="List experiments")
def list_experiments(
    client: ClientDep, include_deleted: Annotated[bool, Query()] = False
) -> list[ExperimentOut]:
    """Every experiment, oldest first (deleted ones only with ``include_deleted``)."""
    return [_out(e) for e in client.list_experiments(include_deleted=include_deleted)]


@router.post("", dependencies=[WRITE], status_code=201, summary="Create an experiment")
def create_experiment(client: ClientDep, body: ExperimentIn) -> ExperimentOut:
    """Create an experiment (409 when the name is taken)."""
    return _out(client.create_experiment(body.name, tags=body.tags))


@router.get("/{experiment}", dependencies=[READ], summary="Get an experiment")
def get_experiment(client: ClientDep, experiment: str) -> ExperimentOut:
    """One experiment by name or id."""
    return _out(client.get_experiment(_ref(experiment)))


@router.patch("/{experiment}", dependencies=[WRITE], summary="Rename an experiment")
def rename_experiment(
    client: ClientDep, experiment: str, body: ExperimentRenameIn
) -> ExperimentOut:
    """Give an experiment a new name."""
    return _out(client.rename_experiment(_ref(experiment), body.name))


@router.delete("/{experiment}", dependencies=[WRITE], summary="Delete an experiment")
def delete_experiment(client: ClientDep, experiment: str) -> ExperimentOut:
    """Hide an experiment and its runs (nothing is erased until gc; restore brings it back)."""
    return _out(client.delete_experiment(_ref(experiment)))


@router.post("/{experiment}/restore", dependencies=[WRITE], summary="Restore an experiment")
def restore_experiment(client: ClientDep, experiment: str) -> ExperimentOut:
    """Undo a delete."""
    return _out(client.restore_experiment(_ref(experiment)))


@router.post("/{experiment}/tags", dependencies=[WRITE], summary="Set experiment tags")
def set_experiment_tags(client: ClientDep, experiment: str, body: TagsIn) -> ExperimentOut:
    """Set or overwrite tags of an experiment (the last write wins)."""
    return _out(client.set_experiment_tags(_ref(experiment), body.tags))


@router.delete(
    "/{experiment}/tags/{key:path}", dependencies=[WRITE], summary="Delete an experiment tag"
)
def delete_experiment_tag(client: ClientDep, experiment: str, key: str) -> ExperimentOut:
    """Remove a tag of an experiment (404 when it has no such tag)."""
    return _out(client.delete_experiment_tag(_ref(experiment), key))
