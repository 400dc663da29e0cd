"""The sweeps use case: searches whose trials are child runs, with the state a search engine
(Optuna, Ray Tune) needs to sample, prune and resume. Reached as ``client.sweeps``.

Every write is recorded as the client's actor, from this host and process.
"""

from __future__ import annotations

import builtins
import os
import socket
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from .core._sweep_config import SweepConfig
from .core._types import Sweep, Trial, TrialParam, TrialState

if TYPE_CHECKING:
    from ._client import Client
    from ._sweep_report import SweepSummary

__all__ = ["Sweeps"]


class Sweeps:
    """Sweeps and trials on a client's store (``client.sweeps``).

    Args:
        client: the client whose store and actor are used.

    Example:
        >>> import tempfile, labline
        >>> client = labline.Client(labline.Settings.local(tempfile.mkdtemp()))
        >>> sweep = client.sweeps.create("lr-search", experiment="digits")
        >>> trial = client.sweeps.create_trial(sweep.id)
        >>> client.sweeps.set_state(trial.id, labline.TrialState.COMPLETE, [0.93])
        True
        >>> client.get_run(trial.run_id).metrics["value"].last_value
        0.93
        >>> client.close()
    """

    def __init__(self, client: Client) -> None:
        self._client = client

    @property
    def _store(self) -> Any:
        return self._client.store

    # -- sweeps --------------------------------------------------------------------------------
    def create(
        self,
        name: str,
        *,
        experiment: str | int = "sweeps",
        directions: Sequence[str] = ("minimize",),
        metrics: Sequence[str] | None = None,
        host: str | None = None,
        pid: int | None = None,
    ) -> Sweep:
        """Create a sweep (and its parent run) in ``experiment`` (created if needed).

        Args:
            name: unique sweep name.
            experiment: where the sweep's runs go: a name (created if needed) or the id of
                an existing experiment.
            directions: ``"minimize"``/``"maximize"`` per objective.
            metrics: the objectives' metric names; ``value`` (or ``value_0``, ``value_1``...
                for several objectives) when omitted.
            host, pid: the writer process the sweep's run belongs to (default: this one; a
                server passes its remote writer's, whose liveness then judges the run).

        Returns:
            The new sweep.

        Raises:
            AlreadyExistsError: the name is taken.
            NotFoundError: no experiment has the id ``experiment``.
            InvalidArgumentError: a bad direction, metric or experiment name.
        """
        if metrics is None:
            metrics = (
                ["value"]
                if len(directions) == 1
                else [f"value_{i}" for i in range(len(directions))]
            )
        exp = (
            self._store.get_experiment(experiment)
            if isinstance(experiment, int) and not isinstance(experiment, bool)
            else self._store.get_or_create_experiment(experiment)
        )
        sweep: Sweep = self._store.create_sweep(
            exp.id,
            name,
            directions=list(directions),
            metrics=list(metrics),
            created_by=self._client.actor,
            host=socket.gethostname() if host is None else host,
            pid=os.getpid() if pid is None else pid,
        )
        return sweep

    def get(self, name_or_id: str | int) -> Sweep:
        """Return a sweep by id or name. Raises NotFoundError."""
        sweep: Sweep = self._store.get_sweep(name_or_id)
        return sweep

    def list(self) -> builtins.list[Sweep]:
        """Every sweep, oldest first."""
        sweeps: builtins.list[Sweep] = self._store.list_sweeps()
        return sweeps

    def run(self, config: SweepConfig | Mapping[str, Any] | str | os.PathLike[str]) -> Sweep:
        """Run a sweep from its configuration until its budget is spent (``labline sweep run``).

        Optuna samples the search space; trials run in ``parallelism`` worker processes (or
        as Ray Tune trials with ``engine: ray``) that share the study through the store. A
        sweep of the same name is resumed (its configuration must be the same; budget and
        parallelism may change): the budget in trials counts the trials it already has.

        Args:
            config: a :class:`SweepConfig`, its mapping, or the path of a YAML file (see
                :mod:`labline.core._sweep_config` for the fields).

        Returns:
            The sweep.

        Raises:
            InvalidArgumentError: a bad configuration (the field is named), a resumed sweep
                with another configuration, or workers that stopped with an error.
            MissingDependencyError: Optuna (or Ray) is not installed.
        """
        from ._sweep_runner import run_sweep

        if isinstance(config, str | os.PathLike):
            config = load_config_file(config)
        return run_sweep(self._client, config)

    def summary(
        self,
        name_or_id: str | int,
        *,
        metric: str | None = None,
        top: int = 5,
        importances: bool = True,
        curve: bool = True,
    ) -> SweepSummary:
        """A sweep's best trials, parameter importances (Optuna's fANOVA) and budget curve
        (Tang et al.'s expected best score against the number of trials, with a bootstrap
        band). Reads only.

        Args:
            name_or_id: the sweep.
            metric: a metric of the trials (its objective when omitted).
            top: how many best trials to list.
            importances: compute the importances (a forest fit: skip it for a quick look).
            curve: compute the budget curve (a bootstrap).

        Raises:
            NotFoundError: no such sweep.
            InvalidArgumentError: a trial lacks ``metric``.
        """
        from ._sweep_report import summarize_sweep

        return summarize_sweep(
            self._client,
            self.get(name_or_id),
            metric=metric,
            top=top,
            importances=importances,
            curve=curve,
        )

    def delete(self, name_or_id: str | int) -> None:
        """Forget a sweep's search state and mark its runs deleted (``gc`` purges them).

        Raises:
            NotFoundError: no such sweep.
        """
        self._store.delete_sweep(self.get(name_or_id).id, actor=self._client.actor)

    def set_attr(
        self, sweep_id: int, key: str, value: Any, *, kind: Literal["user", "system"] = "user"
    ) -> None:
        """Set a JSON attribute of a sweep. Raises NotFoundError, InvalidArgumentError."""
        self._store.set_sweep_attr(sweep_id, kind, key, value)

    # -- trials --------------------------------------------------------------------------------
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
        host: str | None = None,
        pid: int | None = None,
    ) -> Trial:
        """Create the sweep's next trial (numbered atomically) as a child run of the sweep.

        ``host`` and ``pid`` name the writer process the trial's run belongs to (default: this
        one; a server passes its remote writer's).

        Returns:
            The new trial.

        Raises:
            NotFoundError: no such sweep.
        """
        trial: Trial = self._store.create_trial(
            sweep_id,
            state=state,
            values=values,
            datetime_start=datetime_start,
            datetime_complete=datetime_complete,
            params=params,
            intermediate_values=intermediate_values,
            user_attrs=user_attrs,
            system_attrs=system_attrs,
            created_by=self._client.actor,
            host=socket.gethostname() if host is None else host,
            pid=os.getpid() if pid is None else pid,
        )
        return trial

    def get_trial(self, trial_id: int) -> Trial:
        """Return one trial. Raises NotFoundError."""
        trial: Trial = self._store.get_trial(trial_id)
        return trial

    def trials(
        self, sweep_id: int, *, states: Collection[TrialState] | None = None
    ) -> builtins.list[Trial]:
        """A sweep's trials by number (only those in ``states`` if given). Raises NotFoundError."""
        trials: builtins.list[Trial] = self._store.get_trials(sweep_id, states=states)
        return trials

    def trial_id(self, sweep_id: int, number: int) -> int:
        """The id of trial ``number`` of a sweep. Raises NotFoundError."""
        found: int = self._store.trial_id(sweep_id, number)
        return found

    def set_param(
        self,
        trial_id: int,
        name: str,
        param: TrialParam,
        *,
        compatible: Callable[[str, str], bool],
    ) -> None:
        """Record a sampled parameter; see :meth:`labline.store.MetadataStore.set_trial_param`.

        Raises:
            NotFoundError, ImmutableError (finished trial), InvalidArgumentError (another
            distribution than the sweep's first for this name).
        """
        self._store.set_trial_param(trial_id, name, param, compatible=compatible)

    def set_state(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        """Move a trial to ``state``; ``False`` when asked to run a trial that is not waiting.

        Raises:
            NotFoundError, ImmutableError (finished trial), InvalidArgumentError (NaN values).
        """
        moved: bool = self._store.set_trial_state(trial_id, state, values)
        return moved

    def report(self, trial_id: int, step: int, value: float) -> None:
        """Record the value a trial reached at ``step`` (what pruners read).

        Raises:
            NotFoundError, ImmutableError (finished trial).
        """
        self._store.set_trial_intermediate_value(trial_id, step, value)

    def set_trial_attr(
        self, trial_id: int, key: str, value: Any, *, kind: Literal["user", "system"] = "user"
    ) -> None:
        """Set a JSON attribute of a trial. Raises NotFoundError, ImmutableError."""
        self._store.set_trial_attr(trial_id, kind, key, value)


def load_config_file(path: str | os.PathLike[str]) -> Mapping[str, Any]:
    """Read a sweep configuration from a YAML (or JSON) file.

    Raises:
        InvalidArgumentError: the file cannot be read or is not YAML.
        MissingDependencyError: PyYAML is not installed.
    """
    from ._exceptions import InvalidArgumentError
    from ._imports import import_optional

    yaml = import_optional("yaml", "sweeps")
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except OSError as e:
        raise InvalidArgumentError(
            f"config: cannot read {os.fspath(path)!r}: {e.strerror}"
        ) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = "" if mark is None else f" (line {mark.line + 1})"
        raise InvalidArgumentError(
            f"config: {os.fspath(path)!r} is not valid YAML{where}"
        ) from None
    if not isinstance(data, Mapping):
        raise InvalidArgumentError(f"config: {os.fspath(path)!r} must hold a mapping of fields")
    return data
