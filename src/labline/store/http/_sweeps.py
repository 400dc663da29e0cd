"""The sweep methods of :class:`~labline.store.http.HttpStore`: sweeps and trials through
``labline server``'s ``/api/v1/sweeps`` and ``/api/v1/trials``.

The server's store numbers trials and moves their states in its own transactions, so remote
workers share a sweep as local ones do. One call is one request, except for a parameter whose
distribution differs from the sweep's first for its name: the caller's ``compatible`` cannot
travel, so the server answers with that first distribution, the caller judges it here, and a
compatible one is sent again as accepted (remembered, so the next trial's param goes in one
request). Attribute values travel as JSON text both ways (NaN stays a number, a string stays a
string); non-finite floats as ``"NaN"``/``"Infinity"``/``"-Infinity"``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from ..._exceptions import InvalidArgumentError, NotFoundError
from ...core import to_jsonable
from ...core._grammar import check_actor
from ...core._types import Sweep, Trial, TrialParam, TrialState
from .._sweeps_base import AttrKind, SweepStoreBase
from ._transport import HttpTransport

__all__ = ["HttpSweepsMixin"]


def _float(value: float | str) -> float:
    return float(value)  # "NaN", "Infinity", "-Infinity" included


def _wire(value: float) -> float | str:
    out: float | str = to_jsonable(float(value))
    return out


def _attr_json(key: object, value: Any) -> str:
    # what every backend refuses, refused before the request (the same messages)
    if not isinstance(key, str):
        raise InvalidArgumentError(f"attribute key must be a string, got {type(key).__name__}")
    try:
        return json.dumps(value, allow_nan=True)
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError(f"attribute {key!r} is not a JSON value") from e


def _attrs_json(attrs: Mapping[str, Any] | None) -> str:
    return (
        "{"
        + ", ".join(f"{json.dumps(k)}: {_attr_json(k, v)}" for k, v in (attrs or {}).items())
        + "}"
    )


def _sweep(data: Mapping[str, Any]) -> Sweep:
    return Sweep(
        id=int(data["id"]),
        name=data["name"],
        run_id=data["run_id"],
        experiment=data["experiment"],
        directions=tuple(data["directions"]),
        metrics=tuple(data["metrics"]),
        user_attrs=json.loads(data["user_attrs_json"]),
        system_attrs=json.loads(data["system_attrs_json"]),
        created_at=datetime.fromisoformat(data["created_at"]),
    )


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _trial(data: Mapping[str, Any]) -> Trial:
    values = data["values"]
    return Trial(
        id=int(data["id"]),
        sweep_id=int(data["sweep_id"]),
        number=int(data["number"]),
        run_id=data["run_id"],
        state=TrialState(data["state"]),
        values=None if values is None else tuple(_float(v) for v in values),
        datetime_start=_when(data["datetime_start"]),
        datetime_complete=_when(data["datetime_complete"]),
        params={
            k: TrialParam(_float(p["internal"]), p["distribution"], p["display"])
            for k, p in data["params"].items()
        },
        intermediate_values={int(k): _float(v) for k, v in data["intermediate_values"].items()},
        user_attrs=json.loads(data["user_attrs_json"]),
        system_attrs=json.loads(data["system_attrs_json"]),
    )


def _id(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise NotFoundError(f"no {what} {value!r}")
    return value


class HttpSweepsMixin(SweepStoreBase):
    """:class:`~labline.store.SweepStoreBase` over HTTP (mixed into HttpStore)."""

    http: HttpTransport

    def _first_distributions(self) -> tuple[dict[str, set[str]], threading.Lock]:
        """Param name -> first distributions of sweeps that the server named to this store
        and the caller found compatible (sent along, they save the refused request)."""
        state: tuple[dict[str, set[str]], threading.Lock] | None = self.__dict__.get(
            "_sweep_first_distributions"
        )
        if state is None:
            state = self.__dict__.setdefault("_sweep_first_distributions", ({}, threading.Lock()))
        return state

    def create_sweep(
        self,
        experiment_id: int,
        name: str,
        *,
        directions: Sequence[str],
        metrics: Sequence[str],
        created_by: str = "",
        host: str = "",
        pid: int = 0,
    ) -> Sweep:
        if created_by:
            check_actor(created_by, "created_by")
        body = {
            "experiment_id": experiment_id,
            "name": name,
            "directions": [str(d) for d in directions],
            "metrics": [str(m) for m in metrics],
            "host": host,
            "pid": pid,
        }
        return _sweep(self.http.json("POST", "/sweeps", json_body=body))

    def get_sweep(self, name_or_id: str | int) -> Sweep:
        if isinstance(name_or_id, str):
            if not name_or_id:  # Optuna allows an empty name; no path segment holds it
                for sweep in self.list_sweeps():
                    if sweep.name == "":
                        return sweep
                raise NotFoundError("no sweep ''")
            path = f"/sweeps/{quote(name_or_id, safe='')}"
            return _sweep(self.http.json("GET", path, params={"by": "name"}))
        path = f"/sweeps/{_id(name_or_id, 'sweep')}"
        return _sweep(self.http.json("GET", path, params={"by": "id"}))

    def list_sweeps(self) -> list[Sweep]:
        return [_sweep(s) for s in self.http.json("GET", "/sweeps")]

    def delete_sweep(self, sweep_id: int, *, actor: str) -> None:
        check_actor(actor)
        self.http.json("DELETE", f"/sweeps/{_id(sweep_id, 'sweep')}")

    def set_sweep_attr(self, sweep_id: int, kind: AttrKind, key: str, value: Any) -> None:
        body = {"kind": kind, "key": key, "value_json": _attr_json(key, value)}
        self.http.json(
            "POST", f"/sweeps/{_id(sweep_id, 'sweep')}/attrs", json_body=body, idempotent=True
        )

    def create_trial(
        self,
        sweep_id: int,
        *,
        state: TrialState = TrialState.RUNNING,
        values: Sequence[float] | None = None,
        datetime_start: datetime | None = None,
        datetime_complete: datetime | None = None,
        params: Mapping[str, TrialParam] | None = None,
        intermediate_values: Mapping[int, float] | None = None,
        user_attrs: Mapping[str, Any] | None = None,
        system_attrs: Mapping[str, Any] | None = None,
        created_by: str = "",
        host: str = "",
        pid: int = 0,
    ) -> Trial:
        if created_by:
            check_actor(created_by, "created_by")
        body = {
            "state": TrialState(state).value,
            "values": None if values is None else [_wire(v) for v in values],
            "datetime_start": None if datetime_start is None else datetime_start.isoformat(),
            "datetime_complete": (
                None if datetime_complete is None else datetime_complete.isoformat()
            ),
            "params": {
                k: {
                    "internal": _wire(p.internal),
                    "distribution": p.distribution,
                    "display": p.display,
                }
                for k, p in (params or {}).items()
            },
            "intermediate_values": {
                str(int(k)): _wire(v) for k, v in (intermediate_values or {}).items()
            },
            "user_attrs_json": _attrs_json(user_attrs),
            "system_attrs_json": _attrs_json(system_attrs),
            "host": host,
            "pid": pid,
        }
        data = self.http.json("POST", f"/sweeps/{_id(sweep_id, 'sweep')}/trials", json_body=body)
        return _trial(data)

    def get_trial(self, trial_id: int) -> Trial:
        return _trial(self.http.json("GET", f"/trials/{_id(trial_id, 'trial')}"))

    def get_trials(
        self, sweep_id: int, *, states: Collection[TrialState] | None = None
    ) -> list[Trial]:
        params = None if states is None else {"state": sorted(TrialState(s).value for s in states)}
        if states is not None and not states:
            self.get_sweep(_id(sweep_id, "sweep"))  # an unknown sweep still raises
            return []
        data = self.http.json("GET", f"/sweeps/{_id(sweep_id, 'sweep')}/trials", params=params)
        return [_trial(t) for t in data]

    def trial_id(self, sweep_id: int, number: int) -> int:
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise NotFoundError(f"sweep {sweep_id} has no trial number {number!r}")
        data = self.http.json("GET", f"/sweeps/{_id(sweep_id, 'sweep')}/trials/{number}")
        return int(data["id"])

    def set_trial_param(
        self,
        trial_id: int,
        name: str,
        param: TrialParam,
        *,
        compatible: Callable[[str, str], bool],
    ) -> None:
        known, lock = self._first_distributions()
        new = param.distribution
        with lock:
            seen = sorted(known.get(name, ()))
        accepted = [f for f in seen if f != new and compatible(f, new)]
        body: dict[str, Any] = {
            "name": name,
            "internal": _wire(param.internal),
            "distribution": new,
            "display": param.display,
            "compatible_with": accepted,
        }
        path = f"/trials/{_id(trial_id, 'trial')}/params"
        answer = self.http.json("POST", path, json_body=body, idempotent=True)
        if answer["recorded"]:
            return
        first = answer["first_distribution"]
        if not compatible(first, new):
            raise InvalidArgumentError(
                f"param {name!r} was sampled from another distribution earlier in this sweep"
            )
        with lock:
            known.setdefault(name, set()).add(first)
        answer = self.http.json(
            "POST", path, json_body={**body, "compatible_with": [first]}, idempotent=True
        )
        if not answer["recorded"]:  # the server's first distribution cannot change
            raise InvalidArgumentError(
                f"param {name!r} was sampled from another distribution earlier in this sweep"
            )

    def set_trial_state(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        body = {
            "state": TrialState(state).value,
            "values": None if values is None else [_wire(v) for v in values],
        }
        data = self.http.json("POST", f"/trials/{_id(trial_id, 'trial')}/state", json_body=body)
        return bool(data["moved"])

    def set_trial_intermediate_value(self, trial_id: int, step: int, value: float) -> None:
        if isinstance(step, bool) or not hasattr(step, "__index__"):
            raise InvalidArgumentError(f"step must be an integer, got {type(step).__name__}")
        self.http.json(
            "POST",
            f"/trials/{_id(trial_id, 'trial')}/intermediate-values",
            json_body={"step": int(step), "value": _wire(value)},
            idempotent=True,
        )

    def set_trial_attr(self, trial_id: int, kind: AttrKind, key: str, value: Any) -> None:
        body = {"kind": kind, "key": key, "value_json": _attr_json(key, value)}
        self.http.json(
            "POST", f"/trials/{_id(trial_id, 'trial')}/attrs", json_body=body, idempotent=True
        )
