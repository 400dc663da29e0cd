"""The grammar of a sweep configuration (what ``labline sweep run CONFIG.yaml`` reads): one
owner for its fields, their defaults and their validation. Pure: no engine is imported here.

A configuration, as YAML::

    name: digits-forest            # the sweep (an Optuna study; resumed when it exists)
    experiment: digits             # where its runs go (default "sweeps")
    metric: accuracy               # the objective's metric name
    direction: maximize            # or minimize
    budget: {trials: 20}           # or {seconds: 120}, or both (whichever comes first)
    parallelism: 2                 # worker processes (Optuna) or concurrent trials (Ray)
    engine: optuna                 # or ray (then ray_address: auto | ray://... | omitted)
    sampler: {name: tpe, seed: 0}  # tpe, random, cmaes, qmc, grid; or just "tpe"
    pruner: median                 # none, median, hyperband, successive_halving
    seed_param: seed               # the param a re-run's seed is passed as
    space:
      n_estimators: {type: int, low: 10, high: 300, log: true}
      max_depth: {type: int, low: 2, high: 20}
      criterion: {type: categorical, choices: [gini, entropy]}
    objective:
      function: mypackage.train:objective   # fn(params) or fn(params, trial) -> float | dict
      # or
      command: python train.py --n-estimators {n_estimators} --max-depth {max_depth}
      timeout: 600                 # seconds per trial (a command is killed after)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._exceptions import InvalidArgumentError
from ._grammar import check_key, check_name

__all__ = [
    "PRUNERS",
    "SAMPLERS",
    "ParamSpec",
    "SweepConfig",
    "parse_sweep_config",
]

SAMPLERS = ("tpe", "random", "cmaes", "qmc", "grid")
PRUNERS = ("none", "median", "hyperband", "successive_halving")
ENGINES = ("optuna", "ray")
_TOP_KEYS = {
    "name",
    "experiment",
    "metric",
    "direction",
    "budget",
    "parallelism",
    "engine",
    "ray_address",
    "sampler",
    "pruner",
    "seed_param",
    "space",
    "objective",
}
_FUNCTION = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


@dataclass(frozen=True)
class ParamSpec:
    """One dimension of a search space.

    Attributes:
        name: the param's name (also the trial run's param key).
        kind: ``float``, ``int`` or ``categorical``.
        low, high: bounds (inclusive) of a numeric param.
        log: sample on a log scale.
        step: a grid step of a numeric param (``None``: continuous / every integer).
        choices: the values of a categorical param.
    """

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The spec as it is written in a configuration."""
        if self.kind == "categorical":
            return {"type": "categorical", "choices": list(self.choices)}
        out: dict[str, Any] = {"type": self.kind, "low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        return out


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep configuration (see the module docstring for the fields)."""

    name: str
    metric: str
    direction: str
    space: tuple[ParamSpec, ...]
    function: str | None = None
    command: str | tuple[str, ...] | None = None
    experiment: str = "sweeps"
    trials: int | None = None
    seconds: float | None = None
    parallelism: int = 1
    engine: str = "optuna"
    ray_address: str | None = None
    sampler: str = "tpe"
    sampler_seed: int | None = None
    pruner: str = "none"
    seed_param: str = "seed"
    trial_timeout: float | None = None

    @property
    def higher_is_better(self) -> bool:
        """Whether the objective is maximised."""
        return self.direction == "maximize"

    def to_dict(self) -> dict[str, Any]:
        """The configuration as written (parsing it gives this configuration back)."""
        budget: dict[str, Any] = {}
        if self.trials is not None:
            budget["trials"] = self.trials
        if self.seconds is not None:
            budget["seconds"] = self.seconds
        objective: dict[str, Any] = {}
        if self.function is not None:
            objective["function"] = self.function
        if self.command is not None:
            objective["command"] = (
                self.command if isinstance(self.command, str) else list(self.command)
            )
        if self.trial_timeout is not None:
            objective["timeout"] = self.trial_timeout
        sampler: dict[str, Any] = {"name": self.sampler}
        if self.sampler_seed is not None:
            sampler["seed"] = self.sampler_seed
        out: dict[str, Any] = {
            "name": self.name,
            "experiment": self.experiment,
            "metric": self.metric,
            "direction": self.direction,
            "budget": budget,
            "parallelism": self.parallelism,
            "engine": self.engine,
            "sampler": sampler,
            "pruner": self.pruner,
            "seed_param": self.seed_param,
            "space": {p.name: p.to_dict() for p in self.space},
            "objective": objective,
        }
        if self.ray_address is not None:
            out["ray_address"] = self.ray_address
        return out


def _number(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidArgumentError(f"{where} must be a finite number")
    return float(value)


def _positive_int(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(f"{where} must be a whole number >= 1")
    return value


def _param(name: Any, spec: Any) -> ParamSpec:
    check_key("space: param", name)
    where = f"space.{name}"
    if isinstance(spec, list):  # shorthand: a list of choices
        spec = {"type": "categorical", "choices": spec}
    if not isinstance(spec, Mapping):
        raise InvalidArgumentError(f"{where} must be a mapping with a type, or a list of choices")
    unknown = set(spec) - {"type", "low", "high", "log", "step", "choices"}
    if unknown:
        raise InvalidArgumentError(f"{where}: unknown field(s) {sorted(unknown)}")
    kind = spec.get("type")
    if kind not in ("float", "int", "categorical"):
        raise InvalidArgumentError(f"{where}.type must be float, int or categorical")
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise InvalidArgumentError(f"{where}.choices must be a non-empty list")
        for c in choices:
            if c is not None and not isinstance(c, str | int | float | bool):
                raise InvalidArgumentError(
                    f"{where}.choices: each choice must be a string, number, boolean or null"
                )
        if len({repr(c) for c in choices}) != len(choices):
            raise InvalidArgumentError(f"{where}.choices must not repeat a value")
        return ParamSpec(name, "categorical", choices=tuple(choices))
    if "low" not in spec or "high" not in spec:
        raise InvalidArgumentError(f"{where} needs low and high")
    low, high = _number(f"{where}.low", spec["low"]), _number(f"{where}.high", spec["high"])
    if kind == "int" and (low != int(low) or high != int(high)):
        raise InvalidArgumentError(f"{where}: low and high of an int param must be whole numbers")
    if low > high:
        raise InvalidArgumentError(f"{where}: low must not exceed high")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise InvalidArgumentError(f"{where}.log must be true or false")
    if log and low <= 0:
        raise InvalidArgumentError(f"{where}: a log-scale param needs low > 0")
    step = spec.get("step")
    if step is not None:
        step = _number(f"{where}.step", step)
        if step <= 0 or (kind == "int" and step != int(step)):
            raise InvalidArgumentError(f"{where}.step must be positive (whole for an int)")
        if log:
            raise InvalidArgumentError(f"{where}: step and log cannot be combined")
    return ParamSpec(name, kind, low=low, high=high, log=log, step=step)


def parse_sweep_config(data: Any) -> SweepConfig:
    """Validate a sweep configuration (a mapping read from YAML or given in Python).

    Args:
        data: the configuration (see the module docstring).

    Returns:
        The validated :class:`SweepConfig`.

    Raises:
        InvalidArgumentError: naming the first field that is missing or wrong.
    """
    if not isinstance(data, Mapping):
        raise InvalidArgumentError("a sweep configuration must be a mapping of fields")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise InvalidArgumentError(
            f"unknown field(s) {sorted(str(k) for k in unknown)}; known: {sorted(_TOP_KEYS)}"
        )
    if "name" not in data:
        raise InvalidArgumentError("name: give the sweep a name")
    name = check_name("sweep", data["name"])
    experiment = check_name("experiment", data.get("experiment", "sweeps"))
    if "metric" not in data:
        raise InvalidArgumentError("metric: name the objective's metric, e.g. accuracy")
    metric = check_key("metric", data["metric"])
    direction = data.get("direction", "maximize")
    if direction not in ("minimize", "maximize"):
        raise InvalidArgumentError("direction must be minimize or maximize")
    budget = data.get("budget")
    if not isinstance(budget, Mapping) or not budget:
        raise InvalidArgumentError("budget must give trials, seconds or both, e.g. {trials: 20}")
    if set(budget) - {"trials", "seconds"}:
        raise InvalidArgumentError("budget takes only trials and seconds")
    trials = _positive_int("budget.trials", budget["trials"]) if "trials" in budget else None
    seconds = _number("budget.seconds", budget["seconds"]) if "seconds" in budget else None
    if seconds is not None and seconds <= 0:
        raise InvalidArgumentError("budget.seconds must be positive")
    parallelism = _positive_int("parallelism", data.get("parallelism", 1))
    engine = data.get("engine", "optuna")
    if engine not in ENGINES:
        raise InvalidArgumentError(f"engine must be one of {list(ENGINES)}")
    ray_address = data.get("ray_address")
    if ray_address is not None and (not isinstance(ray_address, str) or engine != "ray"):
        raise InvalidArgumentError("ray_address must be a string, and needs engine: ray")
    sampler_field = data.get("sampler", "tpe")
    sampler_seed = None
    if isinstance(sampler_field, Mapping):
        if set(sampler_field) - {"name", "seed"}:
            raise InvalidArgumentError("sampler takes name and seed")
        sampler = sampler_field.get("name", "tpe")
        if "seed" in sampler_field:
            seed = sampler_field["seed"]
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                raise InvalidArgumentError("sampler.seed must be a whole number >= 0")
            sampler_seed = seed
    else:
        sampler = sampler_field
    if sampler not in SAMPLERS:
        raise InvalidArgumentError(f"sampler must be one of {list(SAMPLERS)}")
    pruner = data.get("pruner", "none")
    if pruner is None:
        pruner = "none"
    if pruner not in PRUNERS:
        raise InvalidArgumentError(f"pruner must be one of {list(PRUNERS)}")
    seed_param = check_key("seed_param", data.get("seed_param", "seed"))
    space_field = data.get("space")
    if not isinstance(space_field, Mapping) or not space_field:
        raise InvalidArgumentError("space must map each param name to its range or choices")
    space = tuple(_param(k, v) for k, v in space_field.items())
    if any(p.name == seed_param for p in space):
        raise InvalidArgumentError(
            f"space: {seed_param!r} is the seed_param re-runs set; it cannot also be searched"
        )
    if sampler == "grid" and any(
        p.kind != "categorical" and p.step is None and p.kind != "int" for p in space
    ):
        raise InvalidArgumentError(
            "sampler grid needs a finite grid: categorical params, int params or a step"
        )
    objective = data.get("objective")
    if not isinstance(objective, Mapping):
        raise InvalidArgumentError("objective must give a function or a command")
    if set(objective) - {"function", "command", "timeout"}:
        raise InvalidArgumentError("objective takes function, command and timeout")
    function, command = objective.get("function"), objective.get("command")
    if (function is None) == (command is None):
        raise InvalidArgumentError("objective must give exactly one of function and command")
    if function is not None and (not isinstance(function, str) or not _FUNCTION.match(function)):
        raise InvalidArgumentError("objective.function must look like package.module:function")
    if command is not None:
        if isinstance(command, list) and command and all(isinstance(a, str) for a in command):
            command = tuple(command)
        elif not isinstance(command, str) or not command.strip():
            raise InvalidArgumentError("objective.command must be a string or a list of strings")
    timeout = objective.get("timeout")
    if timeout is not None:
        timeout = _number("objective.timeout", timeout)
        if timeout <= 0:
            raise InvalidArgumentError("objective.timeout must be positive")
    return SweepConfig(
        name=name,
        metric=metric,
        direction=direction,
        space=space,
        function=function,
        command=command,
        experiment=experiment,
        trials=trials,
        seconds=seconds,
        parallelism=parallelism,
        engine=engine,
        ray_address=ray_address,
        sampler=sampler,
        sampler_seed=sampler_seed,
        pruner=pruner,
        seed_param=seed_param,
        trial_timeout=timeout,
    )
