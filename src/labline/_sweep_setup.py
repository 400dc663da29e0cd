"""What both sweep engines (Optuna processes, Ray Tune) set up the same way from a sweep
configuration: the sweep itself (created, or resumed when its configuration is the same), the
sampler, the pruner and the search space as Optuna distributions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._exceptions import InvalidArgumentError, NotFoundError
from ._imports import import_optional
from .core._sweep_config import ParamSpec, SweepConfig, parse_sweep_config
from .core._types import Sweep

if TYPE_CHECKING:
    from ._client import Client

__all__ = [
    "CONFIG_ATTR",
    "make_pruner",
    "make_sampler",
    "open_sweep",
    "optuna_distributions",
    "stored_config",
]

#: The system attribute a sweep keeps its configuration under (re-runs need its objective).
CONFIG_ATTR = "labline.config"


def optuna_distributions(space: Sequence[ParamSpec]) -> dict[str, Any]:
    """The search space as Optuna distributions."""
    dist = import_optional("optuna.distributions", "sweeps")
    out: dict[str, Any] = {}
    for p in space:
        if p.kind == "categorical":
            out[p.name] = dist.CategoricalDistribution(list(p.choices))
        elif p.kind == "int":
            assert p.low is not None and p.high is not None
            out[p.name] = dist.IntDistribution(
                int(p.low), int(p.high), log=p.log, step=int(p.step or 1)
            )
        else:
            out[p.name] = dist.FloatDistribution(p.low, p.high, log=p.log, step=p.step)
    return out


def _grid(space: Sequence[ParamSpec]) -> dict[str, list[Any]]:
    grid: dict[str, list[Any]] = {}
    for p in space:
        if p.kind == "categorical":
            grid[p.name] = list(p.choices)
            continue
        assert p.low is not None and p.high is not None
        step = p.step or 1
        values, v = [], p.low
        while v <= p.high + 1e-12:
            values.append(int(v) if p.kind == "int" else v)
            v += step
        grid[p.name] = values
    return grid


def make_sampler(config: SweepConfig, worker: int) -> Any:
    optuna = import_optional("optuna", "sweeps")
    # each worker its own stream: the same seed in every process would sample one sequence
    seed = None if config.sampler_seed is None else config.sampler_seed + worker
    s = optuna.samplers
    if config.sampler == "random":
        return s.RandomSampler(seed=seed)
    if config.sampler == "cmaes":
        return s.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if config.sampler == "qmc":
        return s.QMCSampler(seed=config.sampler_seed, warn_independent_sampling=False)
    if config.sampler == "grid":
        return s.GridSampler(_grid(config.space), seed=seed)
    return s.TPESampler(seed=seed)


def make_pruner(config: SweepConfig) -> Any:
    p = import_optional("optuna", "sweeps").pruners
    return {
        "none": p.NopPruner,
        "median": p.MedianPruner,
        "hyperband": p.HyperbandPruner,
        "successive_halving": p.SuccessiveHalvingPruner,
    }[config.pruner]()


def stored_config(client: Client, sweep: Sweep) -> SweepConfig | None:
    """The configuration a sweep was run with, or ``None`` for a sweep made otherwise."""
    raw = sweep.system_attrs.get(CONFIG_ATTR)
    return None if raw is None else parse_sweep_config(raw)


def open_sweep(client: Client, config: SweepConfig) -> tuple[Sweep, int]:
    """Create the sweep, or resume it when its configuration is the same; and the number of
    trials it already has."""
    try:
        sweep = client.sweeps.get(config.name)
    except NotFoundError:
        sweep = client.sweeps.create(
            config.name,
            experiment=config.experiment,
            directions=[config.direction],
            metrics=[config.metric],
        )
        client.sweeps.set_attr(sweep.id, CONFIG_ATTR, config.to_dict(), kind="system")
        return client.sweeps.get(sweep.id), 0
    before = stored_config(client, sweep)
    if before is None:
        raise InvalidArgumentError(
            f"name: sweep {config.name!r} exists and was not run from a configuration; "
            "choose another name"
        )
    same = {k: v for k, v in before.to_dict().items() if k not in ("budget", "parallelism")}
    now = {k: v for k, v in config.to_dict().items() if k not in ("budget", "parallelism")}
    changed = sorted(k for k in same if same[k] != now.get(k))
    if changed:
        raise InvalidArgumentError(
            f"sweep {config.name!r} exists with another {', '.join(changed)}; resume it with "
            "the same configuration (only budget and parallelism may change) or rename it"
        )
    client.sweeps.set_attr(sweep.id, CONFIG_ATTR, config.to_dict(), kind="system")
    return client.sweeps.get(sweep.id), len(client.sweeps.trials(sweep.id))
