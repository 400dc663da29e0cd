"""``labline.compare``: is the candidate really better than the baseline?

Selects two groups of runs, loads their per-example predictions on one data set, refuses to
pair them unless the data set fingerprints and the example ids agree, and hands them to
:mod:`labline.core.stats` for paired, seed-aware statistics and a verdict.
"""

from __future__ import annotations

import dataclasses
import html
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ._exceptions import InvalidArgumentError
from ._metric_loading import resolve_metric
from ._sweep_budgets import sweep_budget_warnings
from .core import stats
from .core._grammar import Digest, RunSelector, parse_selector
from .core._json import to_jsonable
from .core._metric_refs import LoggedMetric
from .core._predictions import PredictionArrays, decode_predictions
from .core._types import PredictionsRecord, Run, RunStatus
from .core.stats import DifferenceAnalysis, Verdict

if TYPE_CHECKING:
    from ._client import Client

__all__ = [
    "CandidateComparison",
    "ComparisonReport",
    "compare_runs",
    "select_runs",
]

#: One sign convention everywhere (table, JSON, CLI, HTML): a difference is in metric units,
#: candidate minus baseline; an improvement is direction-adjusted (positive = better).
DIFFERENCE_MEANS = "candidate − baseline, in metric units"
IMPROVEMENT_MEANS = "the difference signed so that positive means the candidate is better"
DIFFERENCE_COLUMN = "difference (candidate − baseline) [CI]"
IMPROVEMENT_COLUMN = "improvement [CI]"


def _matching_runs(client: Client, selector: RunSelector) -> list[Run]:
    if selector.run_ids:
        return [client.find_run(r) for r in selector.run_ids]
    return list(client.search_runs(selector.experiment, params=selector.params, tags=selector.tags))


def select_runs(client: Client, selector: RunSelector) -> list[Run]:
    """The finished runs a selector picks, oldest first.

    Raises:
        NotFoundError: an explicit run id or the experiment does not exist.
    """
    return sorted(
        (r for r in _matching_runs(client, selector) if r.status is RunStatus.FINISHED),
        key=lambda r: r.created_at,
    )


def _select_group(client: Client, selector: RunSelector) -> tuple[list[Run], str | None]:
    """The finished runs of a group to compare, and a note naming the runs left out.

    Runs a selector matches that are not finished (stale, running, failed) are left out, and the
    note names each of them with its status so the report says what was dropped.

    Raises:
        InvalidArgumentError: an explicitly named run is not finished, or no run is.
        NotFoundError: an explicit run id or the experiment does not exist.
    """
    runs = _matching_runs(client, selector)
    unfinished = [r for r in runs if r.status is not RunStatus.FINISHED]
    if selector.run_ids and unfinished:
        r = unfinished[0]
        raise InvalidArgumentError(
            f"selector {selector.text!r}: run {_short(r.id)} ({r.name}) is {r.status.value}, "
            "not finished; only finished runs can be compared"
        )
    finished = sorted(
        (r for r in runs if r.status is RunStatus.FINISHED), key=lambda r: r.created_at
    )
    if not finished:
        by_status: dict[str, int] = {}
        for r in unfinished:
            by_status[r.status.value] = by_status.get(r.status.value, 0) + 1
        others = ", ".join(f"{k} {v}" for k, v in sorted(by_status.items()))
        raise InvalidArgumentError(
            f"selector {selector.text!r} matches no finished run"
            + (f" (it matches runs that are not finished: {others})" if others else "")
        )
    if not unfinished:
        return finished, None
    named = ", ".join(f"{_short(r.id)} ({r.name}, {r.status.value})" for r in unfinished)
    return finished, (
        f"{selector.text}: left out {len(unfinished)} run{'' if len(unfinished) == 1 else 's'} "
        f"that did not finish: {named}"
    )


@dataclass(frozen=True)
class CandidateComparison:
    """One candidate group against the baseline.

    Attributes:
        candidate: the candidate's selector as written.
        candidate_runs: ids of the candidate runs used.
        analysis: the statistics (estimate, interval, p-values, test, verdict, ...).
    """

    candidate: str
    candidate_runs: tuple[str, ...]
    analysis: DifferenceAnalysis

    @property
    def verdict(self) -> Verdict:
        """The verdict (after any multiplicity correction)."""
        return self.analysis.verdict


@dataclass(frozen=True)
class ComparisonReport:
    """The result of :func:`compare`: one row per candidate against one baseline.

    Attributes:
        metric: metric name; ``higher_is_better`` its direction.
        dataset: data set the predictions were paired on; ``dataset_fingerprint`` its SHA-256
            (both empty, and ``n_examples`` 0, when runs were compared by logged values).
        n_examples: examples per run.
        baseline: the baseline's selector; ``baseline_runs`` the run ids used.
        comparisons: one :class:`CandidateComparison` per candidate, in the order given.
        alpha: significance level; ``margin`` the equivalence margin ε or ``None``.
        correction: how p-values were corrected for several candidates.
        level: ``example`` (per-example predictions, paired across runs) or ``run`` (a
            run-level comparison: each run's logged value is one observation).
        seed: the random seed of the resampling; the same inputs and seed give this report.
        notes: facts about the selection a reader should know (runs left out, and why).

    Every difference is ``candidate − baseline`` in metric units; every improvement is the
    difference turned so that positive means better (``−difference`` when lower is better).
    """

    metric: str
    higher_is_better: bool
    dataset: str
    dataset_fingerprint: str
    n_examples: int
    baseline: str
    baseline_runs: tuple[str, ...]
    comparisons: tuple[CandidateComparison, ...]
    alpha: float
    margin: float | None
    correction: str
    level: str = "example"
    seed: int = 0
    notes: tuple[str, ...] = ()

    def __getitem__(self, index: int) -> CandidateComparison:
        return self.comparisons[index]

    def __len__(self) -> int:
        return len(self.comparisons)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (non-finite floats become ``None``)."""
        out = _jsonable(self)
        assert isinstance(out, dict)
        out["difference_means"] = DIFFERENCE_MEANS
        out["improvement_means"] = IMPROVEMENT_MEANS
        for row, comp in zip(out["comparisons"], self.comparisons, strict=True):
            a = comp.analysis
            row["analysis"]["verdict_text"] = a.verdict_text
            row["analysis"].update(
                _jsonable(
                    {
                        "difference": a.difference,
                        "difference_ci": list(a.difference_ci),
                        "improvement": a.improvement,
                        "improvement_ci": list(a.improvement_ci),
                    }
                )
            )
        return out

    def to_json(self, indent: int | None = 2) -> str:
        """The report as strict JSON."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def _rows(self) -> list[dict[str, str]]:
        rows = []
        for c in self.comparisons:
            a = c.analysis
            poi = (
                ""
                if a.probability_of_improvement is None
                else f"{a.probability_of_improvement:.2f}"
                + ("" if a.poi_ci is None else f" [{a.poi_ci[0]:.2f}, {a.poi_ci[1]:.2f}]")
            )
            p_text = _fmt_p(a.p_value) + (
                f" (adj {_fmt_p(a.p_value_adjusted)})" if a.correction != "none" else ""
            )
            if stats.poi_is_too_wide(a.poi_ci):
                poi += " too few seeds"
            imp_low, imp_high = a.improvement_ci
            rows.append(
                {
                    "candidate": c.candidate,
                    "runs (base/cand)": f"{a.n_baseline_runs}/{a.n_candidate_runs}"
                    + (" paired by seed" if a.paired_by_seed else ""),
                    "baseline": f"{a.baseline_mean:.4g}",
                    "candidate value": f"{a.candidate_mean:.4g}",
                    DIFFERENCE_COLUMN: f"{a.difference:+.4g} [{a.ci_low:+.4g}, {a.ci_high:+.4g}]",
                    IMPROVEMENT_COLUMN: f"{a.improvement:+.4g} [{imp_low:+.4g}, {imp_high:+.4g}]",
                    "p": p_text,
                    "test": a.test,
                    "cross-check": "; ".join(
                        f"{check.test} p = {_fmt_p(check.p_value)}" for check in a.cross_checks
                    ),
                    "P(improve)": poi,
                    "verdict": a.verdict_text,
                }
            )
        return rows

    def _footer(self) -> list[str]:
        direction = "higher" if self.higher_is_better else "lower"
        if self.level == "run":
            source = (
                "compared at run level: each run's logged value is one observation and runs "
                "are the units (no shared per-example predictions)"
            )
        else:
            source = (
                f"on {self.dataset!r} ({_fp(self.dataset_fingerprint)}), {self.n_examples} examples"
            )
        lines = [
            f"{self.metric} ({direction} is better) {source}; "
            f"baseline {self.baseline!r} ({len(self.baseline_runs)} run"
            f"{'' if len(self.baseline_runs) == 1 else 's'}); "
            f"{round((1 - self.alpha) * 100)}% intervals, alpha {self.alpha:g}"
            + ("" if self.margin is None else f", equivalence margin ±{self.margin:g} (TOST)")
            + f"; seed {self.seed}",
            f"difference = {DIFFERENCE_MEANS}; improvement = {IMPROVEMENT_MEANS}"
            + (
                ""
                if self.higher_is_better
                else f" (here −difference: lower {self.metric} is better)"
            ),
            *self.notes,
        ]
        if self.correction != "none":
            lines.append(
                f"multiple comparisons: {self.correction} correction of p-values "
                "(verdicts use the corrected values; intervals are per comparison)"
            )
        seen: set[str] = set()
        for c in self.comparisons:
            for text in (f"{c.candidate}: {c.analysis.test_reason}", *c.analysis.notes):
                if text not in seen:
                    seen.add(text)
                    lines.append(text)
        return lines

    def _title(self) -> str:
        return f"compare: {self.metric}" + (
            " (run-level comparison)" if self.level == "run" else ""
        )

    def render(self) -> Any:
        """A ``rich`` renderable: the table and its notes."""
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        # the terminal table keeps the columns a decision needs; values and tests go below it
        shown = (
            "candidate",
            "runs (base/cand)",
            DIFFERENCE_COLUMN,
            IMPROVEMENT_COLUMN,
            "p",
            "P(improve)",
            "verdict",
        )
        rows = self._rows()
        table = Table(title=self._title(), show_lines=False)
        for col in shown:
            table.add_column(col, overflow="fold")
        details = []
        for r in rows:
            style = {"better": "green", "worse": "red"}.get(r["verdict"], "")
            table.add_row(*(r[c] for c in shown), style=style)
            details.append(
                f"{r['candidate']}: {self.metric} {r['baseline']} → {r['candidate value']}; "
                f"test: {r['test']}"
                + (f"; cross-check: {r['cross-check']}" if r.get("cross-check") else "")
            )
        return Group(table, *(Text(f"• {line}") for line in (*details, *self._footer())))

    def __str__(self) -> str:
        from rich.console import Console

        console = Console(width=160, record=True, file=io.StringIO(), color_system=None)
        console.print(self.render())
        return console.export_text()

    def _repr_html_(self) -> str:
        rows = self._rows()
        head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in r.values()) + "</tr>"
            for r in rows
        )
        notes = "".join(f"<li>{html.escape(line)}</li>" for line in self._footer())
        return (
            f"<div><strong>{html.escape(self._title())}</strong>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            f"<ul>{notes}</ul></div>"
        )


def _fmt_p(p: float) -> str:
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def _jsonable(obj: Any) -> Any:
    return to_jsonable(obj, non_finite="null")


@dataclass(frozen=True, eq=False)
class _LoadedRun:
    run: Run
    record: PredictionsRecord
    ids: npt.NDArray[Any]
    y_true: npt.NDArray[Any]
    y_pred: npt.NDArray[Any]
    proba: npt.NDArray[np.float64] | None
    rows_digest: str | None = None


def _short(run_id: str) -> str:
    return run_id[:8]


def _fp(fingerprint: str) -> str:
    return Digest.parse(fingerprint).short()


def _choose_dataset(
    client: Client, runs: Sequence[Run], dataset: str | None
) -> tuple[str | None, dict[str, PredictionsRecord]]:
    """The data set every run logged predictions on (``None`` when they share none), and each
    run's predictions record on it."""
    logged = {r.id: {p.dataset: p for p in client.list_predictions(r.id)} for r in runs}
    names: set[str] | None = None
    for r in runs:
        have = set(logged[r.id])
        if dataset is not None and dataset not in have:
            raise InvalidArgumentError(
                f"run {_short(r.id)} ({r.name}) logged no predictions on dataset {dataset!r}"
            )
        names = have if names is None else names & have
    if dataset is None:
        common = sorted(names or set())
        if not common:
            return None, {}
        if len(common) > 1:
            raise InvalidArgumentError(
                f"the runs share several data sets ({', '.join(common)}); choose one with dataset="
            )
        dataset = common[0]
    return dataset, {run_id: by_name[dataset] for run_id, by_name in logged.items()}


PredictionSets = dict[str, PredictionArrays]
"""Prediction sets read from the blob store, by blob digest."""


def _as_loaded(
    client: Client, run: Run, record: PredictionsRecord, arrays: PredictionArrays, dataset: str
) -> _LoadedRun:
    return _LoadedRun(
        run=run,
        record=record,
        ids=arrays.ids,
        y_true=arrays.y_true,
        y_pred=arrays.y_pred,
        proba=arrays.proba,
        rows_digest=next(
            (
                str(d.meta["rows_digest"])
                for d in client.list_datasets(run.id)
                if d.name == dataset and d.meta.get("rows_digest")
            ),
            None,
        ),
    )


def _some(values: npt.NDArray[Any], limit: int = 5) -> str:
    """A few example ids for a message: ``17, 42, 99, ...``."""
    shown = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in values[:limit].tolist())
    return shown + (", ..." if values.size > limit else "")


def _id_differences(ref: _LoadedRun, other: _LoadedRun) -> str:
    """What differs example by example (ids are stored sorted, so equal ids align)."""
    only_ref = np.setdiff1d(ref.ids, other.ids)
    only_other = np.setdiff1d(other.ids, ref.ids)
    parts = []
    if only_ref.size or only_other.size:
        named = [
            f"{where}: ids {_some(ids)}"
            for where, ids in (("first only", only_ref), ("second only", only_other))
            if ids.size
        ]
        parts.append(
            f"{only_ref.size} only in the first, {only_other.size} only in the second "
            f"({'; '.join(named)})"
        )
    shared, in_ref, in_other = np.intersect1d(ref.ids, other.ids, return_indices=True)
    relabelled = shared[ref.y_true[in_ref] != other.y_true[in_other]]
    if relabelled.size:
        parts.append(
            f"{relabelled.size} shared ids with different true labels (ids {_some(relabelled)})"
        )
    return "; ".join(parts)


def _check_pairable(loaded: Sequence[_LoadedRun], dataset: str) -> None:
    """Refuse to pair predictions that are not on the same examples, saying what differs.

    Pairing aligns examples by id (predictions are stored sorted by id), so the order in which a
    run saw its rows does not matter: a data set logged in another row order has another
    fingerprint but the same rows digest, and pairs. Otherwise the message names the runs and
    what differs: ids present on one side only, and ids whose true labels differ.
    """
    ref = loaded[0]
    for other in loaded[1:]:
        a, b = ref.record, other.record
        same_rows = ref.rows_digest is not None and ref.rows_digest == other.rows_digest
        if a.dataset_fingerprint != b.dataset_fingerprint and not same_rows:
            per_id = _id_differences(ref, other)
            raise InvalidArgumentError(
                f"cannot pair predictions on dataset {dataset!r}: its fingerprint differs between "
                f"run {_short(ref.run.id)} ({_fp(a.dataset_fingerprint)}) and run "
                f"{_short(other.run.id)} ({_fp(b.dataset_fingerprint)}); "
                "they were evaluated on different data"
                + (
                    f": {per_id}"
                    if per_id
                    else " (their example ids and true labels agree; the rows of the logged "
                    "data set differ in content, not only in order)"
                )
            )
        if (
            a.ids_digest != b.ids_digest
            or ref.ids.shape != other.ids.shape
            or not np.array_equal(ref.ids, other.ids)
        ):
            raise InvalidArgumentError(
                f"cannot pair predictions on dataset {dataset!r}: example ids differ between run "
                f"{_short(ref.run.id)} ({ref.ids.size} ids) and run {_short(other.run.id)} "
                f"({other.ids.size} ids): {_id_differences(ref, other)}"
            )
        if not np.array_equal(ref.y_true, other.y_true):
            raise InvalidArgumentError(
                f"cannot pair predictions on dataset {dataset!r}: runs {_short(ref.run.id)} and "
                f"{_short(other.run.id)} record different true labels for the same example ids: "
                f"{_id_differences(ref, other)}"
            )
        if (ref.record.classes or None) != (other.record.classes or None) and (
            ref.proba is not None and other.proba is not None
        ):
            raise InvalidArgumentError(
                f"cannot pair probabilities on dataset {dataset!r}: runs {_short(ref.run.id)} and "
                f"{_short(other.run.id)} order their classes differently"
            )


def _logged_values(logged: LoggedMetric, runs: Sequence[Run], fallback: bool) -> list[float]:
    """Each run's value of a logged metric, or an error naming the run that lacks it."""
    out = []
    for r in runs:
        summary = r.metrics.get(logged.key)
        if summary is None:
            has = ", ".join(sorted(r.metrics)[:8]) or "none"
            raise InvalidArgumentError(
                f"run {_short(r.id)} ({r.name}) has no logged metric {logged.key!r}"
                + (" and no per-example predictions shared with the other runs" if fallback else "")
                + f" (it logged: {has}{', ...' if len(r.metrics) > 8 else ''})"
            )
        out.append(logged.value(summary))
    return out


def _compare_run_values(
    logged: LoggedMetric,
    base_sel: RunSelector,
    cand_sels: Sequence[RunSelector],
    groups: Sequence[Sequence[Run]],
    options: _Options,
    fallback: bool,
) -> ComparisonReport:
    """Run-level comparison: each run's logged value is one observation, paired by seed if shared."""

    def seeds(runs: Sequence[Run]) -> list[str | None]:
        return [r.params.get("seed") for r in runs]

    rng = np.random.default_rng(options.seed)
    base_values = _logged_values(logged, groups[0], fallback)
    analyses = stats.apply_holm(
        [
            stats.analyze_run_values(
                base_values,
                _logged_values(logged, runs, fallback),
                metric=logged.name,
                higher_is_better=logged.higher_is_better,
                baseline_seeds=seeds(groups[0]),
                candidate_seeds=seeds(runs),
                alpha=options.alpha,
                margin=options.margin,
                min_effect=options.min_effect,
                n_resamples=options.n_resamples,
                rng=rng,
            )
            for runs in groups[1:]
        ]
    )
    return ComparisonReport(
        metric=logged.name,
        higher_is_better=logged.higher_is_better,
        dataset="",
        dataset_fingerprint="",
        n_examples=0,
        baseline=base_sel.text,
        baseline_runs=tuple(r.id for r in groups[0]),
        comparisons=tuple(
            CandidateComparison(sel.text, tuple(r.id for r in runs), a)
            for sel, runs, a in zip(cand_sels, groups[1:], analyses, strict=True)
        ),
        alpha=options.alpha,
        margin=options.margin,
        correction=analyses[0].correction,
        level="run",
    )


@dataclass(frozen=True)
class _Options:
    alpha: float
    margin: float | None
    min_effect: float | None
    n_resamples: int
    seed: int


def _check_options(
    alpha: float, margin: float | None, min_effect: float | None, n_resamples: int, seed: int
) -> None:
    """Refuse bad options before any predictions are loaded, naming the option."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 < alpha < 1.0:
        raise InvalidArgumentError("alpha must be a number strictly between 0 and 1")
    stats.check_margin_and_min_effect(margin, min_effect)
    for name, value, low in (("n_resamples", n_resamples, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise InvalidArgumentError(f"{name} must be an integer >= {low}")


def compare_runs(
    client: Client,
    baseline: str,
    candidate: str | Sequence[str],
    metric: str | stats.Metric,
    *,
    dataset: str | None = None,
    higher_is_better: bool | None = None,
    alpha: float = 0.05,
    margin: float | None = None,
    min_effect: float | None = None,
    n_resamples: int = 10_000,
    seed: int = 0,
    loaded_predictions: PredictionSets | None = None,
) -> ComparisonReport:
    """Compare candidate run groups with a baseline group on any metric (see :func:`labline.compare`).

    Args:
        client: the store the runs are in; the other arguments as :func:`labline.compare`.
        loaded_predictions: prediction sets already read (by blob digest); the ones read
            here are added, so several comparisons of the same runs read each file once.

    Returns:
        The :class:`ComparisonReport`.

    Raises:
        InvalidArgumentError: a bad selector or metric, a group without finished runs, runs
            that share no data set, predictions that cannot be paired, a run without the
            logged metric, or a custom metric that fails its first use (the message says which).
        NotFoundError: an experiment or run id does not exist.
    """
    candidates = [candidate] if isinstance(candidate, str) else list(candidate)
    if not candidates:
        raise InvalidArgumentError("candidate: give at least one candidate selector")
    _check_options(alpha, margin, min_effect, n_resamples, seed)
    resolved = resolve_metric(metric, higher_is_better=higher_is_better)
    if resolved.per_example is None and dataset is not None:
        raise InvalidArgumentError(
            f"dataset: metric {resolved.name!r} is a logged metric, compared at run level; "
            "dataset applies to per-example metrics"
        )
    options = _Options(alpha, margin, min_effect, n_resamples, seed)
    c = client
    base_sel = parse_selector(baseline)
    cand_sels = [parse_selector(s) for s in candidates]
    groups: list[list[Run]] = []
    notes: list[str] = []
    for sel in (base_sel, *cand_sels):
        finished, left_out = _select_group(c, sel)
        groups.append(finished)
        notes.extend([left_out] if left_out else [])
    notes.extend(sweep_budget_warnings(c, [s.text for s in (base_sel, *cand_sels)], groups))
    base_ids = {r.id for r in groups[0]}
    for sel, runs in zip(cand_sels, groups[1:], strict=True):
        shared = [r for r in runs if r.id in base_ids]
        if shared:
            raise InvalidArgumentError(
                f"candidate {sel.text!r} and baseline {base_sel.text!r} both select run "
                f"{_short(shared[0].id)} ({shared[0].name})"
                + (f" and {len(shared) - 1} more" if len(shared) > 1 else "")
                + "; a run can be on one side only (narrow the selectors)"
            )
    if resolved.per_example is None:
        assert resolved.logged is not None
        report = _compare_run_values(
            resolved.logged, base_sel, cand_sels, groups, options, fallback=False
        )
        return dataclasses.replace(report, seed=seed, notes=tuple(notes))
    metric_obj = resolved.per_example
    all_runs = list({r.id: r for g in groups for r in g}.values())
    chosen, records = _choose_dataset(c, all_runs, dataset)
    if chosen is None:
        if resolved.logged is None:
            raise InvalidArgumentError(
                f"metric {metric_obj.name!r} is computed from per-example predictions, but the "
                "runs share no data set of predictions (log them with run.log_predictions(...))"
            )
        report = _compare_run_values(
            resolved.logged, base_sel, cand_sels, groups, options, fallback=True
        )
        return dataclasses.replace(report, seed=seed, notes=tuple(notes))
    cache: PredictionSets = {} if loaded_predictions is None else loaded_predictions
    loaded = {}
    for r in all_runs:
        record = records[r.id]
        if record.blob_digest not in cache:
            cache[record.blob_digest] = decode_predictions(client.read_predictions_file(record))
        loaded[r.id] = _as_loaded(client, r, record, cache[record.blob_digest], chosen)
    _check_pairable(list(loaded.values()), chosen)

    first = next(iter(loaded.values()))
    classes = first.record.classes
    rng = np.random.default_rng(seed)

    def preds(group: Sequence[Run]) -> list[stats.Predictions]:
        return [stats.Predictions(loaded[r.id].y_pred, loaded[r.id].proba) for r in group]

    base_preds = preds(groups[0])
    analyses = []
    for runs in groups[1:]:
        data = stats.encode_groups(
            metric_obj, first.y_true, base_preds, preds(runs), classes=classes
        )
        analyses.append(
            stats.analyze_difference(
                data,
                alpha=alpha,
                margin=margin,
                min_effect=min_effect,
                n_resamples=n_resamples,
                n_permutations=n_resamples,
                rng=rng,
            )
        )
    analyses = stats.apply_holm(analyses)
    return ComparisonReport(
        metric=metric_obj.name,
        higher_is_better=metric_obj.higher_is_better,
        dataset=chosen,
        dataset_fingerprint=first.record.dataset_fingerprint,
        n_examples=int(first.ids.size),
        baseline=base_sel.text,
        baseline_runs=tuple(r.id for r in groups[0]),
        comparisons=tuple(
            CandidateComparison(sel.text, tuple(r.id for r in runs), a)
            for sel, runs, a in zip(cand_sels, groups[1:], analyses, strict=True)
        ),
        alpha=alpha,
        margin=margin,
        correction=analyses[0].correction,
        seed=seed,
        notes=tuple(notes),
    )
