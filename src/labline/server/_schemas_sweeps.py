"""The JSON shapes of the sweep writes of ``/api/v1`` (pydantic v2): what a remote search
engine (``labline.optuna.Storage`` or a Ray worker on ``LABLINE_URI=http://...``) sends.

Two things JSON cannot carry are spelt out: non-finite numbers (objective values may be ±Inf,
intermediate values NaN) travel as the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``
(:data:`WireFloat`), and attribute values, which may hold NaN anywhere inside, travel as JSON
text (``value_json``), so that a string ``"NaN"`` and the number NaN stay apart.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .. import TrialState
from ._schemas import Real, _In, _Out
from ._schemas_records import Host, Pid, When

__all__ = [
    "AttrIn",
    "IntermediateValueIn",
    "NamedTrialParamIn",
    "ParamRecordedOut",
    "SweepIn",
    "TrialIn",
    "TrialMovedOut",
    "TrialParamIn",
    "TrialStateIn",
    "WireFloat",
    "wire_float",
]

WireFloat = Real | Literal["NaN", "Infinity", "-Infinity"]
"""A float in a request body: a JSON number, or one of three strings for the non-finite values."""

AttrJson = Annotated[
    str,
    Field(
        max_length=8_000_000,
        description="A JSON value as text (NaN, Infinity and -Infinity allowed inside).",
    ),
]
AttrKind = Literal["user", "system"]
Step = Annotated[str, Field(pattern=r"^-?[0-9]{1,18}$")]


def wire_float(value: float | str) -> float:
    """The float a :data:`WireFloat` stands for."""
    return float(value)


class SweepIn(_In):
    experiment_id: int = Field(ge=1, le=2**63 - 1, strict=True)
    name: Annotated[str, Field(max_length=250)]
    directions: list[Annotated[str, Field(max_length=20)]] = Field(min_length=1, max_length=100)
    metrics: list[Annotated[str, Field(max_length=250)]] = Field(min_length=1, max_length=100)
    host: Host = ""
    pid: Pid = 0


class AttrIn(_In):
    kind: AttrKind
    key: Annotated[str, Field(max_length=10_000)]
    value_json: AttrJson


class TrialParamIn(_In):
    internal: WireFloat
    distribution: Annotated[str, Field(max_length=1_000_000)]
    display: Annotated[str, Field(max_length=1_000_000)]


class TrialIn(_In):
    state: TrialState = TrialState.RUNNING
    values: list[WireFloat] | None = Field(default=None, max_length=100)
    datetime_start: When | None = None
    datetime_complete: When | None = None
    params: dict[Annotated[str, Field(max_length=250)], TrialParamIn] = Field(
        default_factory=dict, max_length=10_000
    )
    intermediate_values: dict[Step, WireFloat] = Field(default_factory=dict, max_length=1_000_000)
    user_attrs_json: AttrJson = "{}"
    system_attrs_json: AttrJson = "{}"
    host: Host = ""
    pid: Pid = 0


class NamedTrialParamIn(TrialParamIn):
    name: Annotated[str, Field(max_length=250)]
    compatible_with: list[Annotated[str, Field(max_length=1_000_000)]] = Field(
        default_factory=list,
        max_length=100,
        description=(
            "Distributions the caller judged compatible with this one: the param is recorded "
            "when the sweep's first distribution for this name is this one, one of these, or "
            "none yet."
        ),
    )


class ParamRecordedOut(_Out):
    recorded: bool
    first_distribution: str | None = Field(
        default=None,
        description="When not recorded: the sweep's first distribution for this name, for the "
        "caller to judge (and send back in compatible_with if it is compatible).",
    )


class TrialStateIn(_In):
    state: TrialState
    values: list[WireFloat] | None = Field(default=None, max_length=100)


class TrialMovedOut(_Out):
    moved: bool = Field(
        description="False when asked to run a trial that is not waiting (another worker took it)."
    )


class IntermediateValueIn(_In):
    step: int = Field(ge=-(2**62), le=2**62, strict=True)
    value: WireFloat
