"""``/api/v1/sweeps``: hyper-parameter sweeps (a study is a parent run, each trial a child
run) and their trials, read only (sweeps are written through ``labline.optuna.Storage``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from .. import Client, TrialState
from ..core import to_jsonable
from ._errors import ERROR_RESPONSES
from ._permissions import request_client, requires
from ._principal import Permission
from ._schemas import SweepOut, TrialOut

__all__ = ["router"]

router = APIRouter(prefix="/sweeps", tags=["sweeps"], responses=ERROR_RESPONSES)
ClientDep = Annotated[Client, Depends(request_client)]
READ = requires(Permission.READ)


def _ref(name_or_id: str) -> str | int:
    """Sweep path parameters are names, or ids written as digits."""
    return int(name_or_id) if name_or_id.isdigit() and len(name_or_id) < 10 else name_or_id


@router.get("", dependencies=[READ], summary="List sweeps")
def list_sweeps(client: ClientDep) -> list[SweepOut]:
    """Every sweep, oldest first."""
    return [SweepOut.model_validate(to_jsonable(s)) for s in client.sweeps.list()]


@router.get("/{sweep}", dependencies=[READ], summary="Get a sweep")
def get_sweep(client: ClientDep, sweep: str) -> SweepOut:
    """One sweep by name or id: its run, directions, metrics and attributes."""
    return SweepOut.model_validate(to_jsonable(client.sweeps.get(_ref(sweep))))


@router.get("/{sweep}/trials", dependencies=[READ], summary="Trials of a sweep")
def list_trials(
    client: ClientDep,
    sweep: str,
    state: Annotated[list[TrialState] | None, Query(max_length=5)] = None,
) -> list[TrialOut]:
    """A sweep's trials by number (only those in the given ``state``s when any)."""
    found = client.sweeps.get(_ref(sweep))
    trials = client.sweeps.trials(found.id, states=set(state) if state else None)
    return [TrialOut.model_validate(to_jsonable(t)) for t in trials]
