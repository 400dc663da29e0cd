"""Store contract for sweeps (hyper-parameter searches) and their trials.

A sweep is a parent run; each trial is a child run of it. Besides the runs, the store keeps
what a search engine (Optuna) needs to resume, sample and prune: the trials' numbers, states,
values, sampled parameters with their distributions, intermediate values and attributes. Every
write also lands as ordinary labline data on the trial's run (params, metric series, tags), so
trials can be searched, plotted and compared like any run.

Contract (in addition to :class:`~labline.store.MetadataStore`'s):
    * Trial numbers within a sweep are 0, 1, 2... each given exactly once, also when many
      processes create trials of one sweep at the same time.
    * ``set_trial_state`` is a conditional transition, checked in the same transaction as the
      update: moving to ``running`` succeeds only from ``waiting`` (returns ``False`` otherwise,
      so two workers never run one waiting trial), and a finished trial never changes again
      (every write to it raises :class:`~labline.ImmutableError`).
    * A parameter name keeps one distribution per sweep: ``set_trial_param`` calls the caller's
      ``compatible(first, new)`` under the same lock, and refuses an incompatible one with
      :class:`~labline.InvalidArgumentError`.
    * The sweep's run follows its trials, in the transaction that moves them: a trial that
      starts (created running, or moved there) marks it ``running`` with a fresh heartbeat (and,
      when created, makes the creating process its writer); when a trial ends (or is created
      ended) and no other trial of the sweep is running, a running sweep run is ``finished``,
      otherwise it is handed to a running trial's writer. So a study driven by any process
      (Optuna through ``labline.optuna.Storage``, Ray workers) never leaves its run looking
      crashed once its trials are done. Moves of one sweep's trials are serialized for this.
    * Attribute values are JSON values, NaN and ±Inf included; objective values may be ±Inf.
    * Unknown sweep or trial ids raise :class:`~labline.NotFoundError`; a taken sweep name
      :class:`~labline.AlreadyExistsError`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from ..core._types import Sweep, Trial, TrialParam, TrialState

__all__ = ["AttrKind", "SweepStoreBase"]

AttrKind = Literal["user", "system"]


class SweepStoreBase(abc.ABC):
    """Abstract sweep-store methods; see the module docstring for the contract."""

    @abc.abstractmethod
    def create_sweep(
        self,
        experiment_id: int,
        name: str,
        *,
        directions: Sequence[str],
        metrics: Sequence[str],
        created_by: str = "",
        host: str = "",
        pid: int = 0,
    ) -> Sweep:
        """Create a sweep and its parent run in one transaction.

        Raises:
            AlreadyExistsError: another sweep has this name.
            NotFoundError: no such experiment.
            InvalidArgumentError: a direction is not ``minimize``/``maximize``, or the metric
                names do not match the directions one to one.
        """

    @abc.abstractmethod
    def get_sweep(self, name_or_id: str | int) -> Sweep:
        """Return one sweep by id (an int) or name (a str). Raises NotFoundError."""

    @abc.abstractmethod
    def list_sweeps(self) -> list[Sweep]:
        """Every sweep, oldest first."""

    @abc.abstractmethod
    def delete_sweep(self, sweep_id: int, *, actor: str) -> None:
        """Forget a sweep's search state and mark its runs deleted by ``actor`` (restorable as
        runs until ``gc`` purges them). Raises NotFoundError (also when deleted twice)."""

    @abc.abstractmethod
    def set_sweep_attr(self, sweep_id: int, kind: AttrKind, key: str, value: Any) -> None:
        """Set a user or system attribute of a sweep to a JSON value. Raises NotFoundError."""

    @abc.abstractmethod
    def create_trial(
        self,
        sweep_id: int,
        *,
        state: TrialState = TrialState.RUNNING,
        values: Sequence[float] | None = None,
        datetime_start: datetime | None = None,
        datetime_complete: datetime | None = None,
        params: Mapping[str, TrialParam] | None = None,
        intermediate_values: Mapping[int, float] | None = None,
        user_attrs: Mapping[str, Any] | None = None,
        system_attrs: Mapping[str, Any] | None = None,
        created_by: str = "",
        host: str = "",
        pid: int = 0,
    ) -> Trial:
        """Create the sweep's next trial (the next number, atomically) and its child run.

        A ``running`` trial without ``datetime_start`` starts now. Raises NotFoundError.
        """

    @abc.abstractmethod
    def get_trial(self, trial_id: int) -> Trial:
        """Return one trial. Raises NotFoundError."""

    @abc.abstractmethod
    def get_trials(
        self, sweep_id: int, *, states: Collection[TrialState] | None = None
    ) -> list[Trial]:
        """The sweep's trials (in ``states`` if given), by number. Raises NotFoundError."""

    @abc.abstractmethod
    def trial_id(self, sweep_id: int, number: int) -> int:
        """The id of trial ``number`` of a sweep. Raises NotFoundError."""

    @abc.abstractmethod
    def set_trial_param(
        self,
        trial_id: int,
        name: str,
        param: TrialParam,
        *,
        compatible: Callable[[str, str], bool],
    ) -> None:
        """Record a sampled parameter (and the trial run's param ``name``).

        Raises:
            NotFoundError: no such trial.
            ImmutableError: the trial is finished (checked before the distribution).
            InvalidArgumentError: ``compatible(first, param.distribution)`` is false for the
                distribution this name was first recorded with in the sweep.
        """

    @abc.abstractmethod
    def set_trial_state(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        """Move a trial to ``state`` (with its values when complete); see the module docstring.

        Returns:
            ``False`` when ``state`` is ``running`` and the trial is not ``waiting`` (another
            worker took it), else ``True``.

        Raises:
            NotFoundError: no such trial.
            ImmutableError: the trial is finished.
        """

    @abc.abstractmethod
    def set_trial_intermediate_value(self, trial_id: int, step: int, value: float) -> None:
        """Record (or overwrite) the value reported at ``step``. Raises NotFoundError,
        ImmutableError (finished trial)."""

    @abc.abstractmethod
    def set_trial_attr(self, trial_id: int, kind: AttrKind, key: str, value: Any) -> None:
        """Set a user or system attribute of a trial to a JSON value. Raises NotFoundError,
        ImmutableError (finished trial)."""
