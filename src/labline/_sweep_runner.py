"""Running a sweep from its configuration (``labline sweep run``, ``client.sweeps.run``):
Optuna samples, labline stores (a study is a sweep, a trial a child run), and ``parallelism``
worker processes share the study through the store, so no trial is lost or run twice.

Also re-runs a sweep's best configuration with several seeds (what ``compare-sweeps``
answers with the seed-aware test): each re-run is a child run of the sweep tagged
``sweep.rerun`` with the sweep's id and ``sweep.rerun.trial`` with the trial's number.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._exceptions import InvalidArgumentError, LablineError
from ._imports import import_optional
from ._settings import Settings
from ._sweep_objective import Objective, TrialOutcome, load_objective
from ._sweep_setup import make_pruner, make_sampler, open_sweep, stored_config
from .core._sweep_config import ParamSpec, SweepConfig, parse_sweep_config
from .core._types import RERUN_TAG, RERUN_TRIAL_TAG, Run, RunStatus, Sweep, Trial

if TYPE_CHECKING:
    from ._client import Client

__all__ = [
    "rerun_trial",
    "run_sweep",
    "trial_params",
]


def _suggest(trial: Any, p: ParamSpec) -> Any:
    if p.kind == "categorical":
        return trial.suggest_categorical(p.name, list(p.choices))
    assert p.low is not None and p.high is not None
    if p.kind == "int":
        return trial.suggest_int(p.name, int(p.low), int(p.high), log=p.log, step=int(p.step or 1))
    return trial.suggest_float(p.name, p.low, p.high, log=p.log, step=p.step)


def _log_outcome(client: Client, run_id: str, outcome: TrialOutcome, objective: str) -> None:
    others = {k: v for k, v in outcome.metrics.items() if k != objective}
    if others:
        now = time.time()
        client.log_batch(run_id, metrics={k: [(0, now, v)] for k, v in others.items()})


def _optimize(
    settings: Settings,
    actor: str,
    config_data: Mapping[str, Any],
    n_trials: int | None,
    timeout: float | None,
    worker: int,
) -> None:
    """One worker: optimise the shared study for its share of the budget."""
    import labline  # a worker process opens its own client, through the public API

    optuna = import_optional("optuna", "sweeps")
    from .optuna import Storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    config = parse_sweep_config(config_data)
    client = labline.Client(settings=settings, actor=actor)
    try:
        objective = load_objective(config, settings)
        study = optuna.load_study(
            study_name=config.name,
            storage=Storage(client=client),
            sampler=make_sampler(config, worker),
            pruner=make_pruner(config),
        )

        sweep_id = client.sweeps.get(config.name).id

        def run_trial(trial: Any) -> float:
            params = {p.name: _suggest(trial, p) for p in config.space}
            outcome = objective(params, trial)
            trial_id = client.sweeps.trial_id(sweep_id, trial.number)
            run_id = client.sweeps.get_trial(trial_id).run_id
            _log_outcome(client, run_id, outcome, config.metric)
            return outcome.value

        study.optimize(run_trial, n_trials=n_trials, timeout=timeout, catch=(Exception,))
    finally:
        client.close()


def _shares(total: int | None, workers: int) -> list[int | None]:
    if total is None:
        return [None] * workers
    return [total // workers + (1 if i < total % workers else 0) for i in range(workers)]


def run_sweep(client: Client, config: SweepConfig | Mapping[str, Any]) -> Sweep:
    """Run (or resume) a sweep until its budget is spent; see :meth:`Sweeps.run`."""
    cfg = config if isinstance(config, SweepConfig) else parse_sweep_config(config)
    load_objective(cfg, client.settings)  # a bad function path fails here, once
    if cfg.engine == "ray":
        from .ray import run_config

        return run_config(client, cfg)
    sweep, done = open_sweep(client, cfg)
    remaining = None if cfg.trials is None else max(0, cfg.trials - done)
    if remaining == 0:
        return sweep
    workers = cfg.parallelism if remaining is None else min(cfg.parallelism, remaining)
    # the parent run is running while trials are added, finished once the budget is spent
    client.end_run(sweep.run_id, RunStatus.RUNNING)
    try:
        _run_workers(client, cfg, _shares(remaining, workers))
    except BaseException:
        client.end_run(sweep.run_id, RunStatus.FAILED, "the sweep stopped before its budget")
        raise
    client.end_run(sweep.run_id, RunStatus.FINISHED)
    return client.sweeps.get(sweep.id)


def _run_workers(client: Client, cfg: SweepConfig, shares: Sequence[int | None]) -> None:
    data = cfg.to_dict()
    if len(shares) == 1:
        _optimize(client.settings, client.actor, data, shares[0], cfg.seconds, 0)
        return
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(
            target=_optimize,
            args=(client.settings, client.actor, data, share, cfg.seconds, i),
            name=f"labline-sweep-{i}",
        )
        for i, share in enumerate(shares)
    ]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join()
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    if failed:
        raise LablineError(
            f"{len(failed)} of {len(procs)} sweep workers stopped with an error (exit codes "
            f"{failed}); the trials they finished are kept"
        )


def trial_params(trial: Trial) -> dict[str, Any]:
    """A trial's params as the objective received them (Optuna's external values)."""
    dist = import_optional("optuna.distributions", "sweeps")
    return {
        k: dist.json_to_distribution(p.distribution).to_external_repr(p.internal)
        for k, p in trial.params.items()
    }


def rerun_trial(client: Client, sweep: Sweep, trial: Trial, seeds: Sequence[int]) -> list[Run]:
    """Re-run one trial's configuration once per seed (the seed passed as the config's
    ``seed_param``); seeds already re-run (finished) are reused, not run again.

    Returns:
        The finished re-runs, one per seed, by seed.

    Raises:
        InvalidArgumentError: the sweep was not run from a configuration (its objective is
            unknown), or a re-run failed.
    """
    config = stored_config(client, sweep)
    if config is None:
        raise InvalidArgumentError(
            f"sweep {sweep.name!r} was not run by labline sweep run: its objective is unknown, "
            "so its best configuration cannot be re-run with other seeds"
        )
    existing = {
        r.params.get(config.seed_param): r
        for r in client.child_runs(sweep.run_id)
        if r.tags.get(RERUN_TAG) == str(sweep.id)
        and r.tags.get(RERUN_TRIAL_TAG) == str(trial.number)
        and r.status is RunStatus.FINISHED
    }
    objective: Objective | None = None
    params = trial_params(trial)
    out = []
    for seed in seeds:
        if str(seed) in existing:
            out.append(existing[str(seed)])
            continue
        if objective is None:
            objective = load_objective(config, client.settings)
        with client.start_run(
            parent=sweep.run_id,
            name=f"trial-{trial.number}-seed-{seed}",
            params={**params, config.seed_param: seed},
            tags={RERUN_TAG: sweep.id, RERUN_TRIAL_TAG: trial.number},
            capture_env=False,
        ) as run:
            outcome = objective({**params, config.seed_param: seed})
            run.log_metrics(outcome.metrics)
        out.append(client.get_run(run.id))
    return out
