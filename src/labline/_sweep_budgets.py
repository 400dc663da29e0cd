"""``compare``'s check that the groups were tuned alike: when the runs of two groups came from
sweeps (trials, or re-runs of a trial's configuration) whose budgets are more than 2x apart,
the better-tuned side is favoured whatever the models are worth, and the report says so,
naming both budgets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._exceptions import NotFoundError
from .core._types import RERUN_TAG, SWEEP_TAG, Run, Sweep

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["BUDGET_RATIO", "sweep_budget_warnings"]

#: Budgets further apart than this make a comparison unfair about tuning.
BUDGET_RATIO = 2.0


def _sweeps_of(client: Client, runs: Sequence[Run]) -> list[tuple[Sweep, int]]:
    """The sweeps a group's runs came from, each with its budget in finished trials."""
    ids = sorted(
        {
            int(v)
            for r in runs
            for v in (r.tags.get(SWEEP_TAG), r.tags.get(RERUN_TAG))
            if v is not None and v.isdigit()
        }
    )
    out = []
    for i in ids:
        try:
            sweep = client.sweeps.get(i)
        except NotFoundError:  # a deleted sweep: its budget is no longer known
            continue
        out.append((sweep, sum(t.state.finished for t in client.sweeps.trials(sweep.id))))
    return out


def sweep_budget_warnings(
    client: Client, labels: Sequence[str], groups: Sequence[Sequence[Run]]
) -> list[str]:
    """One warning per (baseline, candidate) pair of sweeps whose budgets in trials are more
    than :data:`BUDGET_RATIO` apart; ``labels[0]``/``groups[0]`` are the baseline."""
    base = _sweeps_of(client, groups[0])
    if not base:
        return []
    out = []
    for label, runs in zip(labels[1:], groups[1:], strict=True):
        for cand, n_cand in _sweeps_of(client, runs):
            for sweep, n_base in base:
                if sweep.id == cand.id:
                    continue
                low, high = sorted((max(n_base, 0), max(n_cand, 0)))
                if high > BUDGET_RATIO * low:
                    out.append(
                        f"warning: unequal tuning budgets: the baseline's runs come from sweep "
                        f"{sweep.name!r} ({n_base} trials) and {label!r}'s from sweep "
                        f"{cand.name!r} ({n_cand} trials), more than {BUDGET_RATIO:g}x apart; "
                        "the better-tuned side is favoured. Compare them at equal budget: "
                        f"labline compare-sweeps {sweep.name} {cand.name}"
                    )
    return out
