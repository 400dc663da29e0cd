"""The driver's side of a labline sweep on Ray Tune: a ``ray.tune.Callback`` that settles the
labline trials of Tune trials that ended without ending them.

A Tune trial that Tune stops (a scheduler such as ASHA or HyperBand, a ``stop`` criterion)
never returns from its function: Tune stops its thread at a report, so the worker cannot record
the end, and without this callback its labline trial would stay ``running``. Tune tells the
driver that the trial ended, but not why: a scheduler stops a trial early and also stops the
ones that reach its full budget (ASHA at ``max_t``), in the same way. So the callback judges by
how far each trial got: a stopped trial that reported fewer steps than another trial of the
sweep reached is ``pruned`` at once (valued at its last report, as Optuna values a pruned
trial); one that went as far as any is settled when the experiment ends: ``complete`` with its
last reported objective if no trial went further, ``pruned`` otherwise. A trial whose worker
died without a word is ``fail``. A trial its worker already ended (its function returned, or
raised) is left alone: a finished trial never changes, so the callback and the workers never
fight over one.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from .._exceptions import ImmutableError
from .._imports import import_optional
from .._settings import Settings
from ..core._types import SWEEP_TAG, TRIAL_TAG, Trial, TrialState
from ._clients import process_client

if TYPE_CHECKING:
    from .._client import Client

tune = import_optional("ray.tune", "ray")

__all__ = ["SweepCallback"]


class SweepCallback(tune.Callback):  # type: ignore[misc,name-defined]  # ray is optional
    """Settles the labline trials of Tune trials that end without ending them (see the module
    docstring). Made by :meth:`labline.ray.LablineTrainable.callback`; give it to
    ``tune.RunConfig(callbacks=[...])``.

    Args:
        settings, actor: the store the sweep is on and who writes (the trainable's).
        sweep_id: the sweep.
        ray_tag: the run tag the workers record Tune's trial id under.
    """

    def __init__(self, settings: Settings, actor: str, sweep_id: int, ray_tag: str) -> None:
        self._settings = settings
        self._actor = actor
        self._sweep_id = sweep_id
        self._ray_tag = ray_tag
        self._undecided: set[str] = set()  # Tune trial ids: stopped as far as any had gone

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        """Tune ended ``trial``: settle its labline trial if its worker did not (see the
        module docstring)."""
        client = self._client()
        furthest = self._furthest(client)
        for t in self._open_trials(client, str(trial.trial_id)):
            if _last_step(t) < furthest:
                self._end(client, t, TrialState.PRUNED)
            else:
                self._undecided.add(str(trial.trial_id))

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        """``trial`` failed: a labline trial its worker could not end → fail."""
        client = self._client()
        for t in self._open_trials(client, str(trial.trial_id)):
            self._end(client, t, TrialState.FAIL)

    def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
        """Settle the stopped trials that went as far as any: complete if none went further."""
        client = self._client()
        furthest = self._furthest(client)
        for ray_trial_id in sorted(self._undecided):
            for t in self._open_trials(client, ray_trial_id):
                full = _last_step(t) >= furthest and bool(t.intermediate_values)
                self._end(client, t, TrialState.COMPLETE if full else TrialState.PRUNED)
        self._undecided.clear()

    def _client(self) -> Client:
        return process_client(self._settings, self._actor)

    def _furthest(self, client: Client) -> int:
        """The last step any trial of the sweep reported (-1: none reported)."""
        return max((_last_step(t) for t in client.sweeps.trials(self._sweep_id)), default=-1)

    def _open_trials(self, client: Client, ray_trial_id: str) -> list[Trial]:
        """The labline trials of one Tune trial (several if Tune restarted it) not ended."""
        sweep = client.sweeps.get(self._sweep_id)
        quoted = ray_trial_id.replace("'", "''")
        runs = client.search_runs(
            sweep.experiment,
            filter=f"tags.{SWEEP_TAG} = '{sweep.id}' and tags.{self._ray_tag} = '{quoted}'",
        ).runs
        found = [
            client.sweeps.get_trial(client.sweeps.trial_id(sweep.id, int(r.tags[TRIAL_TAG])))
            for r in runs
        ]
        return [t for t in found if not t.state.finished]

    @staticmethod
    def _end(client: Client, trial: Trial, state: TrialState) -> None:
        values = None
        if state is not TrialState.FAIL and trial.intermediate_values:
            values = [trial.intermediate_values[_last_step(trial)]]
        with contextlib.suppress(ImmutableError):  # its worker ended it meanwhile
            client.sweeps.set_state(trial.id, state, values)


def _last_step(trial: Trial) -> int:
    return max(trial.intermediate_values, default=-1)
