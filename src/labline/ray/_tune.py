"""Ray Tune trials that log to labline from the Ray workers.

:func:`trainable` wraps a Tune function trainable: in the worker, each Tune trial becomes a
trial of a labline sweep (a child run of the sweep's run, numbered atomically by the store, so
any number of workers on any number of machines can share one sweep), its config the trial's
params. Inside it, :func:`report` logs the reported results as the trial run's metrics (the
objective's as intermediate values, what pruners and the budget curves read) and passes them
on to ``ray.tune.report``. When the function returns, the trial completes with the objective's
last reported value; when it raises, the trial fails and the error propagates to Tune. A
trial that Tune stops early (a scheduler such as ASHA) never returns: the driver-side callback
of :meth:`LablineTrainable.callback` marks it ``pruned``.

Any search algorithm works, ``OptunaSearch`` included; the workers need only the store's URL
(a PostgreSQL server or ``labline server``), which the trainable carries.
"""

from __future__ import annotations

import contextvars
import math
import os
import socket
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._exceptions import InvalidArgumentError
from .._imports import import_optional
from .._settings import Settings
from ..core._types import Sweep, TrialParam, TrialState
from ._clients import process_client

if TYPE_CHECKING:
    from .._client import Client
    from ..core._sweep_config import SweepConfig

__all__ = ["LablineTrainable", "current_trial", "report", "run_config", "trainable"]

RAY_TRIAL_TAG = "ray.trial_id"


@dataclass
class _Active:
    client: Client
    trial_id: int
    run_id: str
    metric: str
    step: int = 0
    last: float | None = None


_ACTIVE: contextvars.ContextVar[_Active | None] = contextvars.ContextVar(
    "labline_ray_trial", default=None
)


def _param(name: str, value: Any, distribution: str | None) -> TrialParam | None:
    """A config value as a trial param with its distribution (from the search space), or
    ``None`` for a value outside the space (logged as a plain run param)."""
    if distribution is None:
        return None
    dist = import_optional("optuna.distributions", "sweeps")
    d = dist.json_to_distribution(distribution)
    try:
        internal = float(d.to_internal_repr(value))
    except (ValueError, TypeError):
        return None
    return TrialParam(internal=internal, distribution=distribution, display=str(value))


def _flat(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in config.items():
        if isinstance(v, Mapping):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


class LablineTrainable:
    """A Tune function trainable whose trials are labline trials (see :func:`trainable`).

    Picklable: it carries the store's settings and the actor, never a connection; each Ray
    worker opens its own client.
    """

    def __init__(
        self,
        fn: Callable[[dict[str, Any]], Any],
        *,
        settings: Settings,
        actor: str,
        sweep_id: int,
        metric: str,
        distributions: Mapping[str, str],
    ) -> None:
        self._fn = fn
        self._settings = settings
        self._actor = actor
        self._sweep_id = sweep_id
        self._metric = metric
        self._distributions = dict(distributions)
        self.__name__ = getattr(fn, "__name__", "trainable")

    def __call__(self, config: dict[str, Any]) -> Any:
        client = process_client(self._settings, self._actor)
        flat = _flat(config)
        params: dict[str, TrialParam] = {}
        plain: dict[str, Any] = {}
        for k, v in flat.items():
            p = _param(k, v, self._distributions.get(k))
            if p is None:
                plain[k] = v
            else:
                params[k] = p
        trial = client.sweeps.create_trial(self._sweep_id, params=params)
        tags: dict[str, Any] = {}
        ray_trial = _ray_trial_id()
        if ray_trial:
            tags[RAY_TRIAL_TAG] = ray_trial
        client.log_batch(trial.run_id, params={k: str(v) for k, v in plain.items()}, tags=tags)
        active = _Active(client, trial.id, trial.run_id, self._metric)
        token = _ACTIVE.set(active)
        try:
            result = self._fn(config)
        except SystemExit:
            # how Tune stops a trial early (its next report exits the thread): the trial did
            # not fail; the driver's callback records the stop (see :meth:`callback`)
            raise
        except BaseException:
            client.sweeps.set_state(trial.id, TrialState.FAIL)
            raise
        finally:
            _ACTIVE.reset(token)
        if isinstance(result, Mapping):  # a trainable may also return its final results
            report(dict(result), _active=active)
        if active.last is None:
            client.sweeps.set_state(trial.id, TrialState.FAIL)
            raise InvalidArgumentError(
                f"the trainable reported no {self._metric!r}; call labline.ray.report"
                f"({{{self._metric!r}: value}})"
            )
        client.sweeps.set_state(trial.id, TrialState.COMPLETE, [active.last])
        return None

    def callback(self) -> Any:
        """The driver-side ``ray.tune.Callback`` for this trainable's sweep: give it to
        ``tune.RunConfig(callbacks=[...])`` so that trials a scheduler stops early (ASHA,
        HyperBand, a ``stop`` criterion) end ``pruned`` and trials whose worker died end
        ``fail``, instead of staying ``running`` (see :mod:`labline.ray._callback`)."""
        from ._callback import SweepCallback

        return SweepCallback(self._settings, self._actor, self._sweep_id, RAY_TRIAL_TAG)


def _ray_trial_id() -> str | None:
    try:
        from ray import tune

        found = tune.get_context().get_trial_id()
    except Exception:  # outside a Tune session (a direct call, a test)
        return None
    return str(found) if found else None


def current_trial() -> tuple[int, str] | None:
    """``(trial id, run id)`` of the labline trial running in this worker, if any."""
    active = _ACTIVE.get()
    return None if active is None else (active.trial_id, active.run_id)


def report(metrics: Mapping[str, Any], *, checkpoint: Any = None, _active: Any = None) -> None:
    """Report a Tune trial's results: log them on its labline run, then ``ray.tune.report``.

    Each call is one step (0, 1, 2...). The objective's value is recorded as the trial's
    intermediate value at that step (its metric series); the other numbers as metrics of the
    run at that step. Call it inside a function wrapped by :func:`trainable`.

    Args:
        metrics: result name → value (non-numbers go to Tune only).
        checkpoint: passed on to ``ray.tune.report``.

    Raises:
        InvalidArgumentError: called outside a labline trainable.
    """
    active: _Active | None = _active or _ACTIVE.get()
    if active is None:
        raise InvalidArgumentError(
            "labline.ray.report is called inside a function wrapped by labline.ray.trainable"
        )
    now = time.time()
    numbers = {
        str(k): float(v)
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    objective = numbers.pop(active.metric, None)
    if objective is not None and not math.isnan(objective):
        active.client.sweeps.report(active.trial_id, active.step, objective)
        active.last = objective
    if numbers:
        active.client.log_batch(
            active.run_id, metrics={k: [(active.step, now, v)] for k, v in numbers.items()}
        )
    active.step += 1
    if _active is None:
        from ray import tune

        tune.report(dict(metrics), checkpoint=checkpoint)


def _distributions(param_space: Mapping[str, Any] | None) -> dict[str, str]:
    """The Tune search space's sampled dimensions as Optuna distributions (JSON)."""
    if not param_space:
        return {}
    dist = import_optional("optuna.distributions", "sweeps")
    from ray.tune.search.optuna import OptunaSearch
    from ray.tune.search.sample import Domain

    flat = _flat(param_space)
    domains = {k: v for k, v in flat.items() if isinstance(v, Domain)}
    if not domains:
        return {}
    converted = OptunaSearch.convert_search_space(domains)
    return {k: dist.distribution_to_json(d) for k, d in converted.items()}


def trainable(
    fn: Callable[[dict[str, Any]], Any],
    *,
    sweep: str | Sweep,
    metric: str,
    mode: str = "max",
    param_space: Mapping[str, Any] | None = None,
    client: Client | None = None,
    experiment: str = "sweeps",
) -> LablineTrainable:
    """Wrap a Tune function trainable so that each Tune trial is a labline trial.

    Args:
        fn: the function Tune runs, ``fn(config)``; it calls :func:`labline.ray.report`
            (instead of ``ray.tune.report``) with at least ``metric``.
        sweep: the sweep (created with ``metric`` and ``mode`` when no sweep has this name).
        metric: the objective's name.
        mode: ``"max"`` or ``"min"``.
        param_space: the Tune search space (its sampled dimensions become the trials'
            param distributions, which ``labline sweep show``'s importances need).
        client: the client whose store the workers write to (``LABLINE_URI`` when omitted).
        experiment: where a new sweep's runs go.

    Returns:
        The trainable to give ``ray.tune.Tuner``.

    Raises:
        InvalidArgumentError: a bad mode, or an existing sweep without this metric.

    Example::

        from ray import tune
        from ray.tune.schedulers import ASHAScheduler
        from ray.tune.search.optuna import OptunaSearch
        import labline.ray

        def train(config):
            for epoch in range(3):
                labline.ray.report({"accuracy": fit_one_epoch(config)})

        space = {"lr": tune.loguniform(1e-4, 1e-1)}
        wrapped = labline.ray.trainable(train, sweep="lr", metric="accuracy", param_space=space)
        tune.Tuner(
            wrapped,
            param_space=space,
            tune_config=tune.TuneConfig(
                search_alg=OptunaSearch(metric="accuracy", mode="max"),
                scheduler=ASHAScheduler(metric="accuracy", mode="max"),
                num_samples=20,
            ),
            # trials the scheduler stops early end "pruned" instead of staying "running"
            run_config=tune.RunConfig(callbacks=[wrapped.callback()]),
        ).fit()
    """
    import_optional("ray.tune", "ray")
    if mode not in ("max", "min"):
        raise InvalidArgumentError("mode must be 'max' or 'min'")
    if client is None:
        import labline

        client = labline.Client()
    if isinstance(sweep, Sweep):
        found = sweep
    else:
        from .._exceptions import NotFoundError

        try:
            found = client.sweeps.get(sweep)
        except NotFoundError:
            found = client.sweeps.create(
                sweep,
                experiment=experiment,
                directions=["maximize" if mode == "max" else "minimize"],
                metrics=[metric],
            )
    if metric not in found.metrics:
        raise InvalidArgumentError(
            f"sweep {found.name!r} optimises {list(found.metrics)}, not {metric!r}"
        )
    return LablineTrainable(
        fn,
        settings=client.settings,
        actor=client.actor,
        sweep_id=found.id,
        metric=metric,
        distributions=_distributions(param_space),
    )


def _tune_space(config: SweepConfig) -> dict[str, Any]:
    from ray import tune

    space: dict[str, Any] = {}
    for p in config.space:
        if p.kind == "categorical":
            space[p.name] = tune.choice(list(p.choices))
            continue
        assert p.low is not None and p.high is not None
        if p.kind == "int":
            low, high = int(p.low), int(p.high)
            if p.log:
                space[p.name] = tune.lograndint(low, high + 1)
            elif p.step:
                space[p.name] = tune.qrandint(low, high, int(p.step))
            else:
                space[p.name] = tune.randint(low, high + 1)
        elif p.log:
            space[p.name] = tune.loguniform(p.low, p.high)
        elif p.step:
            space[p.name] = tune.quniform(p.low, p.high, p.step)
        else:
            space[p.name] = tune.uniform(p.low, p.high)
    return space


class _ConfigObjective:
    """A sweep configuration's objective as a Tune function (picklable, loaded per worker)."""

    def __init__(self, config: SweepConfig, settings: Settings) -> None:
        self._config = config.to_dict()
        self._settings = settings

    def __call__(self, params: dict[str, Any]) -> None:
        from .._sweep_objective import load_objective
        from ..core._sweep_config import parse_sweep_config

        objective = load_objective(parse_sweep_config(self._config), self._settings)
        report(dict(objective(params).metrics))


def _python_path() -> str:
    """This process's import path for the workers (an ``--app-dir``, a source checkout)."""
    keep = [
        p
        for p in sys.path
        if p and os.path.isdir(p) and "site-packages" not in p and "dist-packages" not in p
    ]
    return os.pathsep.join([*keep, os.environ.get("PYTHONPATH", "")]).strip(os.pathsep)


def run_config(client: Client, config: SweepConfig) -> Sweep:
    """Run a sweep configuration with ``engine: ray``: Ray Tune with ``OptunaSearch`` (the
    configuration's sampler), ``parallelism`` concurrent trials, on the Ray cluster at
    ``ray_address`` (a local one when omitted). Resumes like the Optuna engine."""
    ray = import_optional("ray", "ray")
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    from .._sweep_setup import make_sampler, open_sweep

    sweep, done = open_sweep(client, config)
    remaining = None if config.trials is None else max(0, config.trials - done)
    if remaining == 0:
        return sweep
    started = not ray.is_initialized()
    if started:
        ray.init(
            address=config.ray_address,
            runtime_env={"env_vars": {"PYTHONPATH": _python_path()}},
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    mode = "max" if config.higher_is_better else "min"
    space = _tune_space(config)
    client.end_run(sweep.run_id, "running")
    try:
        wrapped = trainable(
            _ConfigObjective(config, client.settings),
            sweep=sweep,
            metric=config.metric,
            mode=mode,
            param_space=space,
            client=client,
        )
        tuner = tune.Tuner(
            wrapped,
            param_space=space,
            tune_config=tune.TuneConfig(
                search_alg=OptunaSearch(
                    metric=config.metric, mode=mode, sampler=make_sampler(config, 0)
                ),
                num_samples=-1 if remaining is None else remaining,
                max_concurrent_trials=config.parallelism,
                time_budget_s=config.seconds,
                reuse_actors=True,  # a worker imports the objective's libraries once
            ),
            run_config=tune.RunConfig(
                name=f"labline-{sweep.id}-{socket.gethostname()}-{os.getpid()}",
                storage_path=str(client.settings.home / "ray_results"),
                verbose=0,
                callbacks=[wrapped.callback()],
            ),
        )
        tuner.fit()
    except BaseException:
        client.end_run(sweep.run_id, "failed", "the sweep stopped before its budget")
        raise
    finally:
        if started:
            ray.shutdown()
    client.end_run(sweep.run_id, "finished")
    return client.sweeps.get(sweep.id)
