"""``labline sweep run|list|show`` and ``labline compare-sweeps``."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click
from rich.table import Table

from ._context import CliContext, json_option, pass_ctx
from ._output import console, emit_json, fmt_time


@click.group("sweep")
def sweep() -> None:
    """Hyper-parameter sweeps on Optuna (or Ray Tune): each trial is a child run."""


app_dir_option = click.option(
    "--app-dir",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder put first on the Python path, so objective.function can name a module in "
    "it (as uvicorn's --app-dir).",
)


@sweep.command("run")
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@app_dir_option
@json_option
@pass_ctx
def sweep_run(ctx: CliContext, config: Path, app_dir: Path, as_json: bool) -> None:
    """Run (or resume) the sweep CONFIG (YAML) describes until its budget is spent.

    CONFIG gives name, metric, direction, budget ({trials: N} and/or {seconds: S}),
    parallelism, sampler, pruner, the search space and the objective (function:
    module:function or command: "python train.py --lr {lr}"); see the README.
    """
    sys.path.insert(0, str(app_dir.absolute()))
    done = ctx.client.sweeps.run(config)
    summary = ctx.client.sweeps.summary(done.id)
    if as_json:
        emit_json(summary.to_dict())
        return
    console.print(summary.render())


@sweep.command("list")
@json_option
@pass_ctx
def sweep_list(ctx: CliContext, as_json: bool) -> None:
    """Every sweep with its trials by state and its best value."""
    rows: list[dict[str, object]] = []
    for s in ctx.client.sweeps.list():
        trials = ctx.client.sweeps.trials(s.id)
        states: dict[str, int] = {}
        for t in trials:
            states[t.state.value] = states.get(t.state.value, 0) + 1
        values = [t.values[0] for t in trials if t.values and t.state.value == "complete"]
        best = None
        if values:
            best = max(values) if s.directions[0] == "maximize" else min(values)
        rows.append(
            {
                "id": s.id,
                "name": s.name,
                "experiment": s.experiment,
                "metric": s.metrics[0],
                "direction": s.directions[0],
                "trials": len(trials),
                "states": states,
                "best": best,
                "run_id": s.run_id,
                "created_at": s.created_at,
            }
        )
    if as_json:
        emit_json(rows)
        return
    table = Table(title="sweeps")
    for col in ("id", "name", "experiment", "metric", "trials", "best", "created"):
        table.add_column(col)
    for r in rows:
        by_state = r["states"]
        assert isinstance(by_state, dict)
        text = ", ".join(f"{k} {v}" for k, v in sorted(by_state.items()))
        table.add_row(
            str(r["id"]),
            str(r["name"]),
            str(r["experiment"]),
            f"{r['metric']} ({r['direction']})",
            f"{r['trials']}" + (f" ({text})" if text else ""),
            "" if r["best"] is None else f"{r['best']:.6g}",
            fmt_time(created) if isinstance(created := r["created_at"], datetime) else "",
        )
    console.print(table)


@sweep.command("show")
@click.argument("sweep_ref")
@click.option("--metric", "-m", default=None, help="A metric of the trials (default: objective).")
@click.option("--top", default=5, show_default=True, type=click.IntRange(min=1))
@json_option
@pass_ctx
def sweep_show(
    ctx: CliContext, sweep_ref: str, metric: str | None, top: int, as_json: bool
) -> None:
    """Best trials, parameter importances (fANOVA) and the budget curve of SWEEP (name or id)."""
    ref: str | int = int(sweep_ref) if sweep_ref.isdigit() else sweep_ref
    summary = ctx.client.sweeps.summary(ref, metric=metric, top=top)
    if as_json:
        emit_json(summary.to_dict())
        return
    console.print(summary.render())


@click.command("compare-sweeps")
@click.argument("baseline")
@click.argument("candidate")
@click.option("--metric", "-m", default=None, help="Default: the baseline's objective.")
@click.option(
    "--budget",
    "unit",
    type=click.Choice(["trials", "seconds"]),
    default="trials",
    show_default=True,
    help="The unit of the budget the verdict is given at.",
)
@click.option(
    "--at",
    "budget",
    type=float,
    default=None,
    help="The budget (in --budget units) for the verdict; default: the largest both reached.",
)
@click.option(
    "--seeds",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Re-run each sweep's best configuration with seeds 0..N-1 and answer with the "
    "seed-aware test (0: no re-runs).",
)
@click.option(
    "--higher-is-better/--lower-is-better",
    "higher_is_better",
    default=None,
    help="Direction (default: the sweep's).",
)
@click.option("--alpha", default=0.05, show_default=True, type=float)
@click.option("--resamples", default=2000, show_default=True, type=click.IntRange(min=100))
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed.")
@app_dir_option
@json_option
@pass_ctx
def compare_sweeps(
    ctx: CliContext,
    baseline: str,
    candidate: str,
    metric: str | None,
    unit: str,
    budget: float | None,
    seeds: int,
    higher_is_better: bool | None,
    alpha: float,
    resamples: int,
    seed: int,
    app_dir: Path,
    as_json: bool,
) -> None:
    """Compare two sweeps at equal tuning budget: expected-best curves with bands (in trials
    and compute time), where they cross, and a verdict at the budget; with --seeds, re-run
    both best configurations per seed and answer with the seed-aware test."""
    sys.path.insert(0, str(app_dir.absolute()))
    report = ctx.client.compare_sweeps(
        int(baseline) if baseline.isdigit() else baseline,
        int(candidate) if candidate.isdigit() else candidate,
        metric=metric,
        higher_is_better=higher_is_better,
        budget=budget,
        unit=unit,
        seeds=seeds,
        alpha=alpha,
        n_resamples=resamples,
        seed=seed,
    )
    if as_json:
        emit_json(report.to_dict())
        return
    console.print(report.render())


def register(main: click.Group) -> None:
    """Add ``sweep`` and ``compare-sweeps`` to the CLI."""
    main.add_command(sweep)
    main.add_command(compare_sweeps)


__all__ = ["register"]
