"""What ``labline sweep show`` and ``labline compare-sweeps`` answer: a sweep's best trials,
parameter importances (Optuna's fANOVA) and budget curve; two sweeps compared at equal budget
(Tang et al.'s unbiased expected-best curves with bootstrap bands, in trials and in compute
time, the budgets where they cross, a verdict at the user's budget), and, with seeds, the
best configurations re-run and compared with labline's seed-aware test.

Only :mod:`labline.core.stats` computes; this module gathers each sweep's scores and times
from the store and renders.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ._compare import ComparisonReport
from ._exceptions import InvalidArgumentError, MissingDependencyError
from ._imports import import_optional
from ._sweep_runner import rerun_trial, trial_params
from .core._json import to_jsonable
from .core._metric_refs import LoggedMetric, parse_metric_reference
from .core._types import Run, Sweep, Trial, TrialState
from .core.stats import (
    BudgetComparison,
    ExpectedBestCurve,
    Verdict,
    compare_expected_best,
    expected_best_band,
    expected_best_tang,
)

if TYPE_CHECKING:
    from ._client import Client

__all__ = [
    "BestTrial",
    "SweepComparison",
    "SweepSummary",
    "compare_sweeps",
    "summarize_sweep",
    "sweep_scores",
]


@dataclass(frozen=True)
class BestTrial:
    """One of a sweep's best trials.

    Attributes:
        number: the trial's number; ``run_id`` its run.
        value: its score on the summary's metric.
        params: the params it ran with (as the objective received them).
        seconds: its compute time (``None`` if unknown).
    """

    number: int
    run_id: str
    value: float
    params: dict[str, Any]
    seconds: float | None


@dataclass(frozen=True)
class SweepScores:
    """A sweep's finished trials on one metric: each complete trial's score and time."""

    sweep: Sweep
    metric: str
    higher_is_better: bool
    trials: tuple[Trial, ...]
    scores: tuple[float, ...]
    seconds: tuple[float, ...] | None


def _seconds(t: Trial) -> float | None:
    if t.datetime_start is None or t.datetime_complete is None:
        return None
    return max((t.datetime_complete - t.datetime_start).total_seconds(), 1e-6)


def sweep_scores(
    client: Client, sweep: Sweep, metric: str | None, higher_is_better: bool | None = None
) -> SweepScores:
    """A sweep's complete trials' scores on ``metric`` (its objective when omitted).

    The objective's metric is read from the trials' values; any other metric from each trial
    run's logged series (``key``, ``key:min``, ``key:max``).

    Raises:
        InvalidArgumentError: no complete trial, or a trial run without the metric.
    """
    trials = tuple(client.sweeps.trials(sweep.id, states=[TrialState.COMPLETE]))
    if not trials:
        raise InvalidArgumentError(f"sweep {sweep.name!r} has no complete trial yet")
    name = sweep.metrics[0] if metric is None else metric
    if name in sweep.metrics:
        i = sweep.metrics.index(name)
        direction = sweep.directions[i] == "maximize"
        scores = [t.values[i] if t.values else float("nan") for t in trials]
    else:
        ref = parse_metric_reference(name)
        logged = ref.logged
        if logged is None:
            raise InvalidArgumentError(
                f"metric {name!r}: a sweep is compared on a logged metric of its trials "
                f"(its objective is {sweep.metrics[0]!r})"
            )
        direction = logged.higher_is_better
        runs = {r.id: r for r in client.child_runs(sweep.run_id)}
        scores = [_logged(runs.get(t.run_id), logged, sweep, t) for t in trials]
    if higher_is_better is not None:
        direction = higher_is_better
    finite = [(t, s) for t, s in zip(trials, scores, strict=True) if np.isfinite(s)]
    if not finite:
        raise InvalidArgumentError(f"sweep {sweep.name!r} has no finite score on {name!r}")
    times = [_seconds(t) for t, _ in finite]
    return SweepScores(
        sweep=sweep,
        metric=name,
        higher_is_better=direction,
        trials=tuple(t for t, _ in finite),
        scores=tuple(float(s) for _, s in finite),
        seconds=None if any(x is None for x in times) else tuple(x for x in times if x is not None),
    )


def _logged(run: Run | None, logged: LoggedMetric, sweep: Sweep, trial: Trial) -> float:
    summary = None if run is None else run.metrics.get(logged.key)
    if summary is None:
        raise InvalidArgumentError(
            f"trial {trial.number} of sweep {sweep.name!r} logged no metric {logged.key!r}"
        )
    return logged.value(summary)


def _best(s: SweepScores, k: int) -> list[BestTrial]:
    order = np.argsort(np.asarray(s.scores) * (-1.0 if s.higher_is_better else 1.0), kind="stable")
    return [
        BestTrial(
            number=s.trials[i].number,
            run_id=s.trials[i].run_id,
            value=s.scores[i],
            params=trial_params(s.trials[i]),
            seconds=None if s.seconds is None else s.seconds[i],
        )
        for i in order[:k]
    ]


def _curve(s: SweepScores, n_resamples: int = 1000) -> ExpectedBestCurve:
    est = expected_best_tang(s.scores, higher_is_better=s.higher_is_better)
    lo, hi = expected_best_band(
        s.scores, higher_is_better=s.higher_is_better, n_resamples=n_resamples
    )
    budgets = tuple(range(1, len(s.scores) + 1))
    per = None if s.seconds is None else float(np.mean(s.seconds))
    return ExpectedBestCurve(
        budgets=budgets,
        estimate=tuple(float(x) for x in est),
        low=tuple(float(x) for x in lo),
        high=tuple(float(x) for x in hi),
        seconds=None if per is None else tuple(per * b for b in budgets),
    )


def shown_budgets(n: int) -> list[int]:
    """A few budgets to print out of 1..n: 1, 2, 5, 10, 20, 50, ... and n."""
    out: list[int] = []
    base = 1
    while base <= n:
        out.extend(b for b in (base, 2 * base, 5 * base) if b <= n)
        base *= 10
    return sorted({*out, n})


def _jsonable(obj: Any) -> Any:
    return to_jsonable(obj, non_finite="null")


def _text(renderable: Any) -> str:
    from rich.console import Console

    console = Console(width=140, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text()


@dataclass(frozen=True)
class SweepSummary:
    """A sweep at a glance (``labline sweep show``).

    Attributes:
        sweep: the sweep.
        metric: the metric summarised; ``higher_is_better`` its direction.
        states: how many trials are in each state.
        compute_seconds: the summed compute time of the finished trials.
        best: the best complete trials, best first.
        importances: param → fANOVA importance (summing to 1), or ``None`` with the reason
            in ``notes``.
        curve: the expected best score against the budget (``None`` without complete trials).
        notes: what a reader should know.
    """

    sweep: Sweep
    metric: str
    higher_is_better: bool
    states: dict[str, int]
    compute_seconds: float
    best: tuple[BestTrial, ...]
    importances: dict[str, float] | None
    curve: ExpectedBestCurve | None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        out = _jsonable(self)
        assert isinstance(out, dict)
        return out

    def render(self) -> Any:
        """A ``rich`` renderable."""
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        s = self.sweep
        direction = "higher" if self.higher_is_better else "lower"
        head = Text(
            f"sweep {s.name} (id {s.id}) in {s.experiment}: {self.metric} ({direction} is "
            f"better); trials "
            + ", ".join(f"{k} {v}" for k, v in sorted(self.states.items()))
            + f"; compute {self.compute_seconds:.1f}s"
        )
        best = Table(title="best trials")
        for col in ("trial", self.metric, "seconds", "params", "run"):
            best.add_column(col, overflow="fold")
        for b in self.best:
            best.add_row(
                str(b.number),
                f"{b.value:.6g}",
                "" if b.seconds is None else f"{b.seconds:.2f}",
                ", ".join(f"{k}={_short(v)}" for k, v in b.params.items()),
                b.run_id[:8],
            )
        parts: list[Any] = [head, best]
        if self.importances:
            imp = Table(title="parameter importances (fANOVA)")
            imp.add_column("param")
            imp.add_column("importance")
            for k, v in self.importances.items():
                imp.add_row(k, f"{v:.3f} " + "█" * round(v * 30))
            parts.append(imp)
        if self.curve is not None:
            parts.append(_curve_table("budget curve: expected best", [("", self.curve)]))
        parts.extend(Text(f"• {n}") for n in self.notes)
        return Group(*parts)

    def __str__(self) -> str:
        return _text(self.render())


def _short(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _curve_table(title: str, curves: Sequence[tuple[str, ExpectedBestCurve]]) -> Any:
    from rich.table import Table

    table = Table(title=title)
    table.add_column("trials")
    with_seconds = all(c.seconds is not None for _, c in curves) and len(curves) == 1
    if with_seconds:
        table.add_column("seconds")
    for label, _ in curves:
        table.add_column(f"{label} expected best [95% band]".strip())
    n = max(len(c.budgets) for _, c in curves)
    for b in shown_budgets(n):
        row = [str(b)]
        if with_seconds:
            secs = curves[0][1].seconds
            assert secs is not None
            row.append(f"{secs[b - 1]:.1f}")
        for _, c in curves:
            row.append(
                f"{c.estimate[b - 1]:.4g} [{c.low[b - 1]:.4g}, {c.high[b - 1]:.4g}]"
                if b <= len(c.budgets)
                else ""
            )
        table.add_row(*row)
    return table


def summarize_sweep(
    client: Client,
    sweep: Sweep,
    *,
    metric: str | None = None,
    top: int = 5,
    importances: bool = True,
    curve: bool = True,
) -> SweepSummary:
    """See :meth:`labline.Sweeps.summary`."""
    all_trials = client.sweeps.trials(sweep.id)
    states: dict[str, int] = {}
    for t in all_trials:
        states[t.state.value] = states.get(t.state.value, 0) + 1
    compute = sum(x for x in (_seconds(t) for t in all_trials if t.state.finished) if x)
    notes: list[str] = []
    try:
        scores: SweepScores | None = sweep_scores(client, sweep, metric)
    except InvalidArgumentError as e:
        if metric is not None and "no complete trial" not in str(e):
            raise
        scores = None
        notes.append(str(e))
    name = metric or sweep.metrics[0]
    direction = scores.higher_is_better if scores else sweep.directions[0] == "maximize"
    found = None
    if scores is not None and importances:
        found = _importances(client, sweep, name, notes)
    if scores is not None and curve:
        notes.append(
            "budget curve: Tang et al.'s unbiased expected best of n trials drawn from this "
            "sweep's complete trials, with a 95% smoothed-bootstrap band"
        )
    return SweepSummary(
        sweep=sweep,
        metric=name,
        higher_is_better=direction,
        states=states,
        compute_seconds=float(compute),
        best=tuple(_best(scores, top)) if scores else (),
        importances=found,
        curve=_curve(scores) if scores and curve else None,
        notes=tuple(notes),
    )


def _importances(
    client: Client, sweep: Sweep, metric: str, notes: list[str]
) -> dict[str, float] | None:
    if metric not in sweep.metrics:
        notes.append(f"importances are computed on the objective ({sweep.metrics[0]}) only")
        return None
    try:
        optuna = import_optional("optuna", "sweeps")
        import_optional("sklearn", "sklearn")
    except MissingDependencyError as e:
        notes.append(f"no parameter importances: {e}")
        return None
    from .optuna import Storage

    i = sweep.metrics.index(metric)
    try:
        study = optuna.load_study(study_name=sweep.name, storage=Storage(client=client))
        found = optuna.importance.get_param_importances(
            study,
            evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0),
            target=(lambda t: t.values[i]) if len(sweep.metrics) > 1 else None,
        )
    except (ValueError, RuntimeError) as e:
        notes.append(f"no parameter importances: {str(e)[:200]}")
        return None
    return {k: float(v) for k, v in found.items()}


@dataclass(frozen=True)
class SweepComparison:
    """Two sweeps compared at equal budget (``labline compare-sweeps``).

    Attributes:
        baseline, candidate: the sweeps' names.
        metric: the metric; ``higher_is_better`` its direction.
        baseline_trials, candidate_trials: complete trials used on each side.
        budgets: the curves, crossings (in trials and in seconds) and the verdict at the
            budget (``budgets.budget`` in ``budgets.unit``).
        seeds: the seeds the best configurations were re-run with (empty: not re-run).
        baseline_best, candidate_best: each sweep's best trial.
        seed_report: the seed-aware comparison of the re-runs (``None`` without seeds).
        notes: what a reader should know.
    """

    baseline: str
    candidate: str
    metric: str
    higher_is_better: bool
    baseline_trials: int
    candidate_trials: int
    budgets: BudgetComparison
    baseline_best: BestTrial
    candidate_best: BestTrial
    seeds: tuple[int, ...] = ()
    seed_report: ComparisonReport | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def verdict(self) -> Verdict:
        """The verdict at the chosen budget (the re-runs' seed-aware verdict when re-run)."""
        if self.seed_report is not None:
            return self.seed_report.comparisons[0].verdict
        return self.budgets.verdict

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        out = _jsonable({k: v for k, v in self.__dict__.items() if k != "seed_report"})
        assert isinstance(out, dict)
        out["verdict"] = self.verdict.value
        out["seed_report"] = None if self.seed_report is None else self.seed_report.to_dict()
        return out

    def to_json(self, indent: int | None = 2) -> str:
        """Strict JSON."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def verdict_text(self) -> str:
        """One sentence: the verdict at the budget."""
        b = self.budgets
        unit = "trials" if b.unit == "trials" else "seconds of compute"
        return (
            f"at a budget of {b.budget:g} {unit}, {self.candidate} vs {self.baseline}: "
            f"{b.verdict.value} (expected best {self.metric} difference {b.difference:+.4g}, "
            f"permutation p = {b.p_value:.4f}, alpha {b.alpha:g})"
        )

    def render(self) -> Any:
        """A ``rich`` renderable: the curves at a few budgets, crossings and verdicts."""
        from rich.console import Group
        from rich.text import Text

        b = self.budgets
        direction = "higher" if self.higher_is_better else "lower"
        lines = [
            f"{self.metric} ({direction} is better); baseline {self.baseline} "
            f"({self.baseline_trials} complete trials), candidate {self.candidate} "
            f"({self.candidate_trials})",
            "crossings in trials: "
            + (
                ", ".join(f"{x:.1f}" for x in b.crossings_trials)
                or "none (the curves do not cross)"
            ),
        ]
        if b.crossings_seconds is not None:
            lines.append(
                "crossings in compute time: "
                + (", ".join(f"{x:.1f}s" for x in b.crossings_seconds) or "none")
            )
        else:
            lines.append("compute time: unknown for some trials; compared in trials only")
        lines.append(self.verdict_text())
        if self.seed_report is not None:
            a = self.seed_report.comparisons[0].analysis
            lines.append(
                f"best configurations re-run with seeds {list(self.seeds)} (baseline trial "
                f"{self.baseline_best.number}, candidate trial {self.candidate_best.number}): "
                f"{a.verdict_text} (improvement {a.improvement:+.4g} "
                f"[{a.improvement_ci[0]:+.4g}, {a.improvement_ci[1]:+.4g}], p = "
                f"{a.p_value:.4f}, {a.test})"
            )
        lines.extend(self.notes)
        table = _curve_table(
            f"compare-sweeps: expected best {self.metric} at equal budget",
            [(self.baseline, b.baseline), (self.candidate, b.candidate)],
        )
        return Group(table, *(Text(f"• {line}") for line in lines))

    def __str__(self) -> str:
        return _text(self.render())


def compare_sweeps(
    client: Client,
    baseline: str | int,
    candidate: str | int,
    *,
    metric: str | None = None,
    higher_is_better: bool | None = None,
    budget: float | None = None,
    unit: str = "trials",
    seeds: Sequence[int] | int = (),
    alpha: float = 0.05,
    n_resamples: int = 2000,
    seed: int = 0,
) -> SweepComparison:
    """See :meth:`labline.Client.compare_sweeps`."""
    if unit not in ("trials", "seconds"):
        raise InvalidArgumentError("unit must be 'trials' or 'seconds'")
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if isinstance(seeds, int) and seeds < 0:
        raise InvalidArgumentError("seeds must be a number of seeds >= 0 or a list of seeds")
    if len(seed_list) == 1:
        raise InvalidArgumentError("seeds: re-run with at least 2 seeds (or none)")
    sa = client.sweeps.get(baseline)
    sc = client.sweeps.get(candidate)
    if sa.id == sc.id:
        raise InvalidArgumentError("baseline and candidate are the same sweep")
    a = sweep_scores(client, sa, metric, higher_is_better)
    if higher_is_better is None and a.metric in sc.metrics:
        theirs = sc.directions[sc.metrics.index(a.metric)] == "maximize"
        if theirs != a.higher_is_better:
            raise InvalidArgumentError(
                f"metric: the sweeps optimize {a.metric!r} in opposite directions; say which "
                "is better (higher_is_better) to compare them"
            )
    c = sweep_scores(client, sc, a.metric, a.higher_is_better)
    notes = []
    times = a.seconds is not None and c.seconds is not None
    if unit == "seconds" and not times:
        raise InvalidArgumentError(
            "unit: a budget in seconds needs every complete trial's start and end times"
        )
    if len(a.scores) != len(c.scores):
        notes.append(
            f"the sweeps ran {len(a.scores)} and {len(c.scores)} complete trials; they are "
            f"compared at equal budgets up to {min(len(a.scores), len(c.scores))} trials"
        )
    comparison = compare_expected_best(
        a.scores,
        c.scores,
        higher_is_better=a.higher_is_better,
        baseline_seconds=a.seconds if times else None,
        candidate_seconds=c.seconds if times else None,
        budget=budget,
        unit=unit,
        alpha=alpha,
        n_resamples=n_resamples,
        rng=seed,
    )
    best_a, best_c = _best(a, 1)[0], _best(c, 1)[0]
    report = None
    if seed_list:
        runs_a = rerun_trial(client, sa, _trial(a, best_a.number), seed_list)
        runs_c = rerun_trial(client, sc, _trial(c, best_c.number), seed_list)
        key = a.metric.split(":")[0]
        report = client.compare(
            "runs:" + ",".join(r.id for r in runs_a),
            "runs:" + ",".join(r.id for r in runs_c),
            key,
            higher_is_better=a.higher_is_better,
            alpha=alpha,
            seed=seed,
            evaluate_hypotheses=False,
        )
    notes.append(
        "expected best = Tang et al.'s unbiased estimate of the best score among n trials "
        "drawn from the sweep's complete trials; bands are 95% smoothed-bootstrap intervals; "
        "the verdict is a permutation test of the difference at the budget"
    )
    return SweepComparison(
        baseline=sa.name,
        candidate=sc.name,
        metric=a.metric,
        higher_is_better=a.higher_is_better,
        baseline_trials=len(a.scores),
        candidate_trials=len(c.scores),
        budgets=comparison,
        baseline_best=best_a,
        candidate_best=best_c,
        seeds=tuple(seed_list),
        seed_report=report,
        notes=tuple(notes),
    )


def _trial(s: SweepScores, number: int) -> Trial:
    return next(t for t in s.trials if t.number == number)
