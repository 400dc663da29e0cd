"""``labline compare`` and ``labline hypothesis add/list/show/revise``."""

from __future__ import annotations

import shlex

import click
from rich.table import Table

from .. import Hypothesis
from ._context import CliContext, json_option, pass_ctx
from ._output import console, emit_json, fmt_time, jsonable


@click.command("compare")
@click.option(
    "--baseline", "-b", required=True, help="Run selector, e.g. digits:model=logreg or runs:ID,ID."
)
@click.option(
    "--candidate",
    "-c",
    "candidates",
    required=True,
    multiple=True,
    help="Run selector; repeatable.",
)
@click.option(
    "--metric",
    "-m",
    required=True,
    help=(
        "Per-example: accuracy, macro_f1, auc, log_loss, mae, mse, rmse, package.module:function "
        "or a name registered under the labline.metrics entry points. Logged (compared at run "
        "level): any metric key, e.g. val_accuracy (last value), val_accuracy:max, val_loss:min."
    ),
)
@click.option(
    "--dataset",
    "-d",
    default=None,
    help="Data set of the predictions (default: the only shared one).",
)
@click.option(
    "--higher-is-better/--lower-is-better",
    "higher_is_better",
    default=None,
    help="Direction of improvement (default: the metric's own; lower for names with loss, "
    "error, mae, mse, rmse, ...).",
)
@click.option("--alpha", default=0.05, show_default=True, type=float, help="Significance level.")
@click.option(
    "--margin", default=None, type=float, help="Equivalence margin ε (metric units) for TOST."
)
@click.option(
    "--min-effect", default=None, type=float, help="Smallest effect of interest (seeds estimate)."
)
@click.option(
    "--resamples",
    default=10_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Bootstrap/permutation resamples.",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed.")
@json_option
@pass_ctx
def compare_command(
    ctx: CliContext,
    baseline: str,
    candidates: tuple[str, ...],
    metric: str,
    dataset: str | None,
    higher_is_better: bool | None,
    alpha: float,
    margin: float | None,
    min_effect: float | None,
    resamples: int,
    seed: int,
    as_json: bool,
) -> None:
    """Is the candidate really better than the baseline? Paired, seed-aware statistics.

    Per-example metrics are compared on the runs' shared predictions; any logged metric
    (-m val_accuracy, -m val_loss:min) at run level, runs as the units, paired by the seed
    param when both groups ran the same seeds.
    """
    report = ctx.client.compare(
        baseline,
        list(candidates),
        metric,
        dataset=dataset,
        higher_is_better=higher_is_better,
        alpha=alpha,
        margin=margin,
        min_effect=min_effect,
        n_resamples=resamples,
        seed=seed,
    )
    if as_json:
        emit_json(report.to_dict())
        return
    console.print(report.render())


@click.group("hypothesis")
def hypothesis() -> None:
    """Hypotheses registered before their results; evaluated once, then immutable."""


def _hypothesis_dict(h: Hypothesis, ctx: CliContext) -> dict[str, object]:
    out = jsonable(h)
    assert isinstance(out, dict)
    if not h.status.evaluated:
        out["progress"] = str(ctx.client.hypothesis_progress(h))
    superseded_by = [o.id for o in ctx.client.list_hypotheses() if o.supersedes == h.id]
    out["superseded_by"] = superseded_by
    out["seed"] = h.evaluation_seed
    out["reproduce"] = _reproduce_command(h)
    return out


@hypothesis.command("add")
@click.argument("statement")
@click.option("--baseline", "-b", required=True, help="Baseline run selector.")
@click.option("--candidate", "-c", required=True, help="Candidate run selector.")
@click.option(
    "--metric",
    "-m",
    required=True,
    help="Any metric compare takes: accuracy, val_accuracy, val_loss:min, pkg.mod:fn.",
)
@click.option(
    "--min-effect",
    required=True,
    type=float,
    help="Smallest improvement that counts (metric units).",
)
@click.option("--alpha", default=0.05, show_default=True, type=float, help="Significance level.")
@click.option("--dataset", "-d", default=None, help="Data set of the predictions.")
@click.option(
    "--seeds",
    default=1,
    show_default=True,
    type=int,
    help="Runs needed per group before evaluation.",
)
@click.option("--supersedes", default=None, type=int, help="Id of a hypothesis this one replaces.")
@json_option
@pass_ctx
def hypothesis_add(
    ctx: CliContext,
    statement: str,
    baseline: str,
    candidate: str,
    metric: str,
    min_effect: float,
    alpha: float,
    dataset: str | None,
    seeds: int,
    supersedes: int | None,
    as_json: bool,
) -> None:
    """Register STATEMENT before its runs exist."""
    h = ctx.client.add_hypothesis(
        statement,
        baseline=baseline,
        candidate=candidate,
        metric=metric,
        min_effect=min_effect,
        alpha=alpha,
        dataset=dataset,
        seeds=seeds,
        supersedes=supersedes,
    )
    if as_json:
        emit_json(_hypothesis_dict(h, ctx))
        return
    console.print(f"hypothesis {h.id} registered: {h.status.value}")


@hypothesis.command("revise")
@click.argument("hypothesis_id", type=int)
@click.option("--statement", default=None, help="New statement.")
@click.option("--metric", "-m", default=None, help="New metric.")
@click.option("--min-effect", default=None, type=float, help="New minimum effect.")
@click.option("--alpha", default=None, type=float, help="New significance level.")
@click.option("--seeds", default=None, type=int, help="New number of runs per group.")
@json_option
@pass_ctx
def hypothesis_revise(
    ctx: CliContext,
    hypothesis_id: int,
    statement: str | None,
    metric: str | None,
    min_effect: float | None,
    alpha: float | None,
    seeds: int | None,
    as_json: bool,
) -> None:
    """Register a changed copy of HYPOTHESIS_ID that supersedes it (the old one stays)."""
    h = ctx.client.revise_hypothesis(
        hypothesis_id,
        statement=statement,
        metric=metric,
        min_effect=min_effect,
        alpha=alpha,
        seeds=seeds,
    )
    if as_json:
        emit_json(_hypothesis_dict(h, ctx))
        return
    console.print(f"hypothesis {h.id} registered, superseding {hypothesis_id}: {h.status.value}")


@hypothesis.command("list")
@json_option
@pass_ctx
def hypothesis_list(ctx: CliContext, as_json: bool) -> None:
    """List hypotheses as they stand (`hypothesis evaluate` evaluates waiting ones)."""
    items = ctx.client.list_hypotheses()
    if as_json:
        emit_json([_hypothesis_dict(h, ctx) for h in items])
        return
    table = Table(
        "id",
        "statement",
        "metric",
        "min effect",
        "status",
        "supersedes",
        "created",
        title="hypotheses",
    )
    for h in items:
        table.add_row(
            str(h.id),
            h.statement,
            h.metric,
            f"{h.min_effect:g}",
            h.status.value,
            "" if h.supersedes is None else str(h.supersedes),
            fmt_time(h.created_at),
        )
    console.print(table)


@hypothesis.command("show")
@click.argument("hypothesis_id", type=int)
@json_option
@pass_ctx
def hypothesis_show(ctx: CliContext, hypothesis_id: int, as_json: bool) -> None:
    """Show one hypothesis with its evaluation or its progress."""
    h = ctx.client.get_hypothesis(hypothesis_id)
    data = _hypothesis_dict(h, ctx)
    if as_json:
        emit_json(data)
        return
    table = Table(show_header=False, title=f"hypothesis {h.id}")
    rows: list[tuple[str, str]] = [
        ("statement", h.statement),
        ("baseline", h.baseline),
        ("candidate", h.candidate),
        ("metric", h.metric + ("" if h.dataset is None else f" on {h.dataset}")),
        ("minimum effect", f"{h.min_effect:g}"),
        ("alpha", f"{h.alpha:g}"),
        ("runs needed per group", str(h.seeds)),
        ("seed", str(h.evaluation_seed)),
        ("registered", fmt_time(h.created_at)),
        ("status", h.status.value),
    ]
    if h.supersedes is not None:
        rows.append(("supersedes", str(h.supersedes)))
    if data["superseded_by"]:
        rows.append(("superseded by", ", ".join(str(i) for i in data["superseded_by"])))  # type: ignore[attr-defined]
    if not h.status.evaluated:
        rows.append(("progress", str(data["progress"])))
    else:
        comp = h.result["comparisons"][0]["analysis"]
        rows += [
            ("evaluated", fmt_time(h.evaluated_at)),
            ("why", str(h.result.get("outcome_reason", ""))),
            ("verdict", str(comp["verdict_text"])),
            (
                "difference (candidate − baseline) [CI]",
                f"{comp['estimate']:+.4g} [{comp['ci_low']:+.4g}, {comp['ci_high']:+.4g}]",
            ),
            *(
                [
                    (
                        "improvement [CI]",
                        f"{comp['improvement']:+.4g} [{comp['improvement_ci'][0]:+.4g}, "
                        f"{comp['improvement_ci'][1]:+.4g}]",
                    )
                ]
                if comp.get("improvement_ci")  # recorded before improvements were stored
                else []
            ),
            ("p-value", f"{comp['p_value']:.4g} ({comp['test']})"),
            ("reproduce", _reproduce_command(h)),
            (
                "runs / examples",
                f"{comp['n_baseline_runs']} + {comp['n_candidate_runs']} runs, {comp['n_examples']} examples",
            ),
            ("registered before the runs", "yes" if h.result.get("preregistered") else "no"),
        ]
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)


def _reproduce_command(h: Hypothesis) -> str:
    """The ``labline compare`` call that recomputes the recorded evaluation."""
    parts = [
        "labline compare",
        f"-b {shlex.quote(h.baseline)}",
        f"-c {shlex.quote(h.candidate)}",
        f"-m {shlex.quote(h.metric)}",
        *([] if h.dataset is None else [f"-d {shlex.quote(h.dataset)}"]),
        f"--alpha {h.alpha:g}",
        f"--seed {h.evaluation_seed}",
    ]
    return " ".join(parts)


@hypothesis.command("evaluate")
@click.argument("hypothesis_ids", type=int, nargs=-1, metavar="[ID]...")
@json_option
@pass_ctx
def hypothesis_evaluate(ctx: CliContext, hypothesis_ids: tuple[int, ...], as_json: bool) -> None:
    """Evaluate the waiting hypotheses whose runs have arrived (all, or the IDs given).

    An evaluated hypothesis is frozen; one still missing runs stays waiting.
    """
    client = ctx.client
    if hypothesis_ids:
        items = [client.evaluate_hypothesis(i) for i in hypothesis_ids]
    else:
        items = client.evaluate_hypotheses()
    if as_json:
        emit_json([_hypothesis_dict(h, ctx) for h in items])
        return
    for h in items:
        console.print(f"hypothesis {h.id}: {h.status.value}")


def register(main: click.Group) -> None:
    """Add ``compare`` and ``hypothesis`` to the ``labline`` command group."""
    main.add_command(compare_command)
    main.add_command(hypothesis)
