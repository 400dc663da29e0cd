"""``/api/v1/sweeps`` and ``/api/v1/trials``: hyper-parameter sweeps (a study is a parent run,
each trial a child run) and their trials. Everyone reads them; researchers write them, as a
search engine does through ``labline.optuna.Storage`` or ``labline.ray`` on
``LABLINE_URI=http://...``.

Trial numbers are given by the store in the transaction that creates the trial, and state
moves are conditional in the store (``running`` only from ``waiting``, a finished trial never
again), so any number of remote workers can share one sweep. A parameter keeps the sweep's
first distribution for its name: the caller's search engine judges which distributions are
compatible (the store cannot: Optuna's rule is Optuna's), so the server records the param when
the sweep's first distribution is the same or one the caller listed in ``compatible_with``,
and otherwise answers ``recorded: false`` with that first distribution for the caller to judge.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response

from .. import Client, InvalidArgumentError, Sweep, Trial, TrialParam, TrialState
from ..core import to_jsonable
from ._errors import ERROR_RESPONSES
from ._permissions import request_client, requires
from ._principal import Permission
from ._schemas import IdPath, SweepOut, TrialOut
from ._schemas_sweeps import (
    AttrIn,
    IntermediateValueIn,
    NamedTrialParamIn,
    ParamRecordedOut,
    SweepIn,
    TrialIn,
    TrialMovedOut,
    TrialStateIn,
    wire_float,
)

__all__ = ["router", "sweep_out", "trial_out"]

router = APIRouter(tags=["sweeps"], responses=ERROR_RESPONSES)
ClientDep = Annotated[Client, Depends(request_client)]
READ, WRITE = requires(Permission.READ), requires(Permission.WRITE_RUNS)


def _ref(name_or_id: str, by: str = "auto") -> str | int:
    """Sweep path parameters are names, or ids written as digits (``by`` says which when a
    name could be read as an id)."""
    if by == "name":
        return name_or_id
    if by == "id" or (name_or_id.isdigit() and len(name_or_id) < 10):
        if not name_or_id.isdigit() or len(name_or_id) > 18:
            raise InvalidArgumentError("sweep: an id is a positive whole number")
        return int(name_or_id)
    return name_or_id


def _sweep_id(client: Client, sweep: str) -> int:
    ref = _ref(sweep)
    return ref if isinstance(ref, int) else client.sweeps.get(ref).id


def _attrs_json(attrs: Any) -> str:
    return json.dumps(attrs, allow_nan=True)


def sweep_out(sweep: Sweep) -> SweepOut:
    """A sweep as ``/api/v1`` answers it."""
    data = to_jsonable(sweep)
    data["user_attrs_json"] = _attrs_json(sweep.user_attrs)
    data["system_attrs_json"] = _attrs_json(sweep.system_attrs)
    return SweepOut.model_validate(data)


def trial_out(trial: Trial) -> TrialOut:
    """A trial as ``/api/v1`` answers it."""
    data = to_jsonable(trial)
    data["user_attrs_json"] = _attrs_json(trial.user_attrs)
    data["system_attrs_json"] = _attrs_json(trial.system_attrs)
    return TrialOut.model_validate(data)


def _json_value(text: str, field: str) -> Any:
    """A JSON value sent as text (NaN and ±Infinity allowed), or a 400 naming ``field``."""
    try:
        return json.loads(text)
    except ValueError:
        error = InvalidArgumentError(f"{field} must be a JSON value written as text")
        error.field = field  # type: ignore[attr-defined]
        raise error from None


def _json_object(text: str, field: str) -> dict[str, Any]:
    value = _json_value(text, field)
    if not isinstance(value, dict):
        error = InvalidArgumentError(f"{field} must be a JSON object written as text")
        error.field = field  # type: ignore[attr-defined]
        raise error
    return value


def _values(values: Sequence[float | str] | None) -> list[float] | None:
    return None if values is None else [wire_float(v) for v in values]


# -- sweeps ------------------------------------------------------------------------------------
@router.get("/sweeps", dependencies=[READ], summary="List sweeps")
def list_sweeps(client: ClientDep) -> list[SweepOut]:
    """Every sweep, oldest first."""
    return [sweep_out(s) for s in client.sweeps.list()]


@router.post("/sweeps", dependencies=[WRITE], status_code=201, summary="Create a sweep")
def create_sweep(client: ClientDep, body: SweepIn) -> SweepOut:
    """Create a sweep and its parent run in an existing experiment (409 for a taken name),
    recorded as created by the token's name for the writer process ``host``/``pid``."""
    return sweep_out(
        client.sweeps.create(
            body.name,
            experiment=body.experiment_id,
            directions=body.directions,
            metrics=body.metrics,
            host=body.host,
            pid=body.pid,
        )
    )


@router.get("/sweeps/{sweep}", dependencies=[READ], summary="Get a sweep")
def get_sweep(
    client: ClientDep,
    sweep: str,
    by: Annotated[Literal["auto", "name", "id"], Query()] = "auto",
) -> SweepOut:
    """One sweep by name or id (``by``: digits are an id unless ``by=name``): its run,
    directions, metrics and attributes."""
    return sweep_out(client.sweeps.get(_ref(sweep, by)))


@router.delete("/sweeps/{sweep}", dependencies=[WRITE], status_code=204, summary="Delete a sweep")
def delete_sweep(client: ClientDep, sweep: str) -> Response:
    """Forget a sweep's search state and mark its runs deleted (``gc`` purges them)."""
    client.sweeps.delete(_ref(sweep))
    return Response(status_code=204)


@router.post(
    "/sweeps/{sweep}/attrs", dependencies=[WRITE], status_code=204, summary="Set a sweep attribute"
)
def set_sweep_attr(client: ClientDep, sweep: str, body: AttrIn) -> Response:
    """Set a user or system attribute of a sweep to a JSON value."""
    value = _json_value(body.value_json, "value_json")
    client.sweeps.set_attr(_sweep_id(client, sweep), body.key, value, kind=body.kind)
    return Response(status_code=204)


@router.get("/sweeps/{sweep}/trials", dependencies=[READ], summary="Trials of a sweep")
def list_trials(
    client: ClientDep,
    sweep: str,
    state: Annotated[list[TrialState] | None, Query(max_length=5)] = None,
) -> list[TrialOut]:
    """A sweep's trials by number (only those in the given ``state``s when any)."""
    trials = client.sweeps.trials(_sweep_id(client, sweep), states=set(state) if state else None)
    return [trial_out(t) for t in trials]


@router.post(
    "/sweeps/{sweep}/trials", dependencies=[WRITE], status_code=201, summary="Create a trial"
)
def create_trial(client: ClientDep, sweep: str, body: TrialIn) -> TrialOut:
    """Create the sweep's next trial (its number given once, whatever other workers do at the
    same time) and its child run, for the writer process ``host``/``pid``."""
    trial = client.sweeps.create_trial(
        _sweep_id(client, sweep),
        state=body.state,
        values=_values(body.values),
        datetime_start=body.datetime_start,
        datetime_complete=body.datetime_complete,
        params={
            k: TrialParam(wire_float(p.internal), p.distribution, p.display)
            for k, p in body.params.items()
        },
        intermediate_values={int(k): wire_float(v) for k, v in body.intermediate_values.items()},
        user_attrs=_json_object(body.user_attrs_json, "user_attrs_json"),
        system_attrs=_json_object(body.system_attrs_json, "system_attrs_json"),
        host=body.host,
        pid=body.pid,
    )
    return trial_out(trial)


@router.get("/sweeps/{sweep}/trials/{number}", dependencies=[READ], summary="A trial by number")
def trial_by_number(
    client: ClientDep, sweep: str, number: Annotated[int, Path(ge=0, le=2**63 - 1)]
) -> TrialOut:
    """Trial ``number`` (0, 1, 2...) of a sweep."""
    found = client.sweeps.trial_id(_sweep_id(client, sweep), number)
    return trial_out(client.sweeps.get_trial(found))


# -- trials ------------------------------------------------------------------------------------
@router.get("/trials/{trial_id}", dependencies=[READ], summary="Get a trial")
def get_trial(client: ClientDep, trial_id: IdPath) -> TrialOut:
    """One trial by id."""
    return trial_out(client.sweeps.get_trial(trial_id))


@router.post("/trials/{trial_id}/params", dependencies=[WRITE], summary="Record a sampled param")
def set_trial_param(
    client: ClientDep, trial_id: IdPath, body: NamedTrialParamIn
) -> ParamRecordedOut:
    """Record a sampled parameter (and the trial run's param of that name) when the sweep's
    first distribution for the name is the same, one listed in ``compatible_with``, or none
    yet; otherwise nothing is recorded and the answer carries that first distribution. 409
    for a finished trial."""
    accepted = set(body.compatible_with)
    refused: list[str] = []

    def compatible(first: str, new: str) -> bool:
        if first == new or first in accepted:
            return True
        refused.append(first)
        return False

    param = TrialParam(wire_float(body.internal), body.distribution, body.display)
    try:
        client.sweeps.set_param(trial_id, body.name, param, compatible=compatible)
    except InvalidArgumentError:
        if refused:
            return ParamRecordedOut(recorded=False, first_distribution=refused[0])
        raise
    return ParamRecordedOut(recorded=True)


@router.post("/trials/{trial_id}/state", dependencies=[WRITE], summary="Move a trial")
def set_trial_state(client: ClientDep, trial_id: IdPath, body: TrialStateIn) -> TrialMovedOut:
    """Move a trial to ``state`` (with its values when complete): to ``running`` only from
    ``waiting`` (``moved: false`` otherwise, so two workers never run one trial); 409 for a
    finished trial."""
    return TrialMovedOut(moved=client.sweeps.set_state(trial_id, body.state, _values(body.values)))


@router.post(
    "/trials/{trial_id}/intermediate-values",
    dependencies=[WRITE],
    status_code=204,
    summary="Report an intermediate value",
)
def report_intermediate_value(
    client: ClientDep, trial_id: IdPath, body: IntermediateValueIn
) -> Response:
    """Record (or overwrite) the value a trial reached at ``step`` (what pruners read); 409
    for a finished trial."""
    client.sweeps.report(trial_id, body.step, wire_float(body.value))
    return Response(status_code=204)


@router.post(
    "/trials/{trial_id}/attrs",
    dependencies=[WRITE],
    status_code=204,
    summary="Set a trial attribute",
)
def set_trial_attr(client: ClientDep, trial_id: IdPath, body: AttrIn) -> Response:
    """Set a user or system attribute of a trial to a JSON value; 409 for a finished trial."""
    value = _json_value(body.value_json, "value_json")
    client.sweeps.set_trial_attr(trial_id, body.key, value, kind=body.kind)
    return Response(status_code=204)
