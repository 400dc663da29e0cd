"""An Optuna storage on labline's store, through :class:`labline.Client`.

A study is a sweep (a parent run) and a trial a child run: sampled params are the trial run's
params, intermediate values its objective's metric series, the values its final metric points,
user attributes its tags. Optuna's own state (numbers, states, distributions, attributes) is
kept by the store's sweep contract, which numbers trials and moves states atomically, so many
processes (or Ray workers) can share one study.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Container, Sequence
from typing import TYPE_CHECKING, Any

from .._exceptions import AlreadyExistsError, ImmutableError, NotFoundError
from .._imports import import_optional
from ..core._types import Trial, TrialParam
from ..core._types import TrialState as LablineState

if TYPE_CHECKING:
    from .._client import Client
    from .._settings import Settings

optuna = import_optional("optuna", "sweeps")

from optuna.distributions import (  # noqa: E402
    check_distribution_compatibility,
    distribution_to_json,
    json_to_distribution,
)
from optuna.exceptions import DuplicatedStudyError, UpdateFinishedTrialError  # noqa: E402
from optuna.storages import BaseStorage  # noqa: E402
from optuna.storages._base import DEFAULT_STUDY_NAME_PREFIX  # noqa: E402
from optuna.study import StudyDirection  # noqa: E402
from optuna.study._frozen import FrozenStudy  # noqa: E402
from optuna.trial import FrozenTrial  # noqa: E402
from optuna.trial import TrialState as OptunaState  # noqa: E402

__all__ = ["Storage"]

_TO_LABLINE = {
    OptunaState.RUNNING: LablineState.RUNNING,
    OptunaState.WAITING: LablineState.WAITING,
    OptunaState.COMPLETE: LablineState.COMPLETE,
    OptunaState.PRUNED: LablineState.PRUNED,
    OptunaState.FAIL: LablineState.FAIL,
}
_TO_OPTUNA = {v: k for k, v in _TO_LABLINE.items()}
_DIRECTION = {StudyDirection.MINIMIZE: "minimize", StudyDirection.MAXIMIZE: "maximize"}


def _compatible(first: str, new: str) -> bool:
    try:
        check_distribution_compatibility(json_to_distribution(first), json_to_distribution(new))
    except ValueError:
        return False
    return True


def _frozen(trial: Trial) -> FrozenTrial:
    distributions = {k: json_to_distribution(p.distribution) for k, p in trial.params.items()}
    values = list(trial.values) if trial.values is not None else None
    return FrozenTrial(
        number=trial.number,
        state=_TO_OPTUNA[trial.state],
        value=None,
        values=values,
        datetime_start=trial.datetime_start,
        datetime_complete=trial.datetime_complete,
        params={k: distributions[k].to_external_repr(p.internal) for k, p in trial.params.items()},
        distributions=distributions,
        user_attrs=dict(trial.user_attrs),
        system_attrs=dict(trial.system_attrs),
        intermediate_values=dict(trial.intermediate_values),
        trial_id=trial.id,
    )


def _rebuilt(ft: FrozenTrial, **changes: Any) -> FrozenTrial:
    fields = {
        "number": ft.number,
        "state": ft.state,
        "value": None,
        "values": ft.values,
        "datetime_start": ft.datetime_start,
        "datetime_complete": ft.datetime_complete,
        "params": ft.params,
        "distributions": ft.distributions,
        "user_attrs": ft.user_attrs,
        "system_attrs": ft.system_attrs,
        "intermediate_values": ft.intermediate_values,
        "trial_id": ft._trial_id,
    }
    fields.update(changes)
    return FrozenTrial(**fields)


class Storage(BaseStorage):
    """An Optuna storage whose studies are labline sweeps and whose trials are child runs.

    Args:
        client: the labline client to write through (its store, its actor); a client on
            ``LABLINE_URI`` when omitted.
        experiment: the experiment new studies' runs go into.

    Pickling keeps the client's settings and actor and reopens the store on the other side,
    so a storage can be handed to worker processes and Ray tasks.

    Example:
        >>> import tempfile, optuna, labline
        >>> from labline.optuna import Storage
        >>> client = labline.Client(labline.Settings.local(tempfile.mkdtemp()))
        >>> study = optuna.create_study(storage=Storage(client=client), study_name="quad")
        >>> study.optimize(lambda t: (t.suggest_float("x", -3, 3) - 1) ** 2, n_trials=5)
        >>> len(client.child_runs(client.sweeps.get("quad").run_id))
        5
        >>> client.close()
    """

    def __init__(self, client: Client | None = None, *, experiment: str = "sweeps") -> None:
        if client is None:
            import labline  # the public Client: this adapter sits on it, never below it

            client = labline.Client()
        self._client = client
        self._experiment = experiment
        # finished trials never change: each is converted once
        self._finished: dict[int, FrozenTrial] = {}
        # the running trials this storage created: only their worker writes them (as in
        # Optuna's own cached RDB storage), so their reads need no round trip
        self._owned: dict[int, FrozenTrial] = {}
        self._lock = threading.Lock()

    @property
    def client(self) -> Client:
        """The client this storage writes through."""
        return self._client

    def __getstate__(self) -> dict[str, Any]:
        return {
            "settings": self._client.settings,
            "actor": self._client.actor,
            "experiment": self._experiment,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        import labline

        settings: Settings = state["settings"]
        self.__init__(  # type: ignore[misc]
            labline.Client(settings=settings, actor=state["actor"]),
            experiment=state["experiment"],
        )

    # -- studies -------------------------------------------------------------------------------
    def create_new_study(
        self, directions: Sequence[StudyDirection], study_name: str | None = None
    ) -> int:
        name = (
            study_name if study_name is not None else DEFAULT_STUDY_NAME_PREFIX + str(uuid.uuid4())
        )
        try:
            sweep = self._client.sweeps.create(
                name, experiment=self._experiment, directions=[_DIRECTION[d] for d in directions]
            )
        except AlreadyExistsError as e:
            raise DuplicatedStudyError(f"another study is named {name!r}") from e
        return sweep.id

    def delete_study(self, study_id: int) -> None:
        self._client.sweeps.delete(study_id)

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        self._client.sweeps.set_attr(study_id, key, value, kind="user")

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        self._client.sweeps.set_attr(study_id, key, value, kind="system")

    def get_study_id_from_name(self, study_name: str) -> int:
        if not isinstance(study_name, str):
            raise NotFoundError(f"no study {study_name!r}")
        return self._client.sweeps.get(study_name).id

    def get_study_name_from_id(self, study_id: int) -> str:
        return self._client.sweeps.get(self._study(study_id)).name

    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        sweep = self._client.sweeps.get(self._study(study_id))
        return [
            StudyDirection.MAXIMIZE if d == "maximize" else StudyDirection.MINIMIZE
            for d in sweep.directions
        ]

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        return dict(self._client.sweeps.get(self._study(study_id)).user_attrs)

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        return dict(self._client.sweeps.get(self._study(study_id)).system_attrs)

    def get_all_studies(self) -> list[FrozenStudy]:
        return [
            FrozenStudy(
                study_name=s.name,
                direction=None,
                directions=[
                    StudyDirection.MAXIMIZE if d == "maximize" else StudyDirection.MINIMIZE
                    for d in s.directions
                ],
                user_attrs=dict(s.user_attrs),
                system_attrs=dict(s.system_attrs),
                study_id=s.id,
            )
            for s in self._client.sweeps.list()
        ]

    @staticmethod
    def _study(study_id: int) -> int:
        if isinstance(study_id, bool) or not isinstance(study_id, int):
            raise NotFoundError(f"no study {study_id!r}")
        return study_id

    # -- trials --------------------------------------------------------------------------------
    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        study_id = self._study(study_id)
        if template_trial is None:
            created = self._client.sweeps.create_trial(study_id)
            with self._lock:
                self._owned[created.id] = _frozen(created)
            return created.id
        t = template_trial
        trial = self._client.sweeps.create_trial(
            study_id,
            state=_TO_LABLINE[t.state],
            values=t.values,
            datetime_start=t.datetime_start,
            datetime_complete=t.datetime_complete,
            params={
                k: TrialParam(
                    internal=t.distributions[k].to_internal_repr(v),
                    distribution=distribution_to_json(t.distributions[k]),
                    display=str(v),
                )
                for k, v in t.params.items()
            },
            intermediate_values=t.intermediate_values,
            user_attrs=t.user_attrs,
            system_attrs=t.system_attrs,
        )
        return trial.id

    def set_trial_param(
        self, trial_id: int, param_name: str, param_value_internal: float, distribution: Any
    ) -> None:
        param = TrialParam(
            internal=param_value_internal,
            distribution=distribution_to_json(distribution),
            display=str(distribution.to_external_repr(param_value_internal)),
        )
        try:
            self._client.sweeps.set_param(trial_id, param_name, param, compatible=_compatible)
        except ImmutableError as e:
            raise UpdateFinishedTrialError(str(e)) from e
        self._update_owned(
            trial_id,
            lambda ft: _rebuilt(
                ft,
                params={
                    **ft.params,
                    param_name: distribution.to_external_repr(param_value_internal),
                },
                distributions={**ft.distributions, param_name: distribution},
            ),
        )

    def _update_owned(self, trial_id: int, change: Any) -> None:
        with self._lock:
            ft = self._owned.get(trial_id)
            if ft is not None:
                self._owned[trial_id] = change(ft)

    def get_trial_id_from_study_id_trial_number(self, study_id: int, trial_number: int) -> int:
        return self._client.sweeps.trial_id(self._study(study_id), trial_number)

    def set_trial_state_values(
        self, trial_id: int, state: OptunaState, values: Sequence[float] | None = None
    ) -> bool:
        try:
            moved = self._client.sweeps.set_state(trial_id, _TO_LABLINE[state], values)
        except ImmutableError as e:
            raise UpdateFinishedTrialError(str(e)) from e
        if moved:
            with self._lock:
                self._owned.pop(trial_id, None)
        return moved

    def set_trial_intermediate_value(
        self, trial_id: int, step: int, intermediate_value: float
    ) -> None:
        try:
            self._client.sweeps.report(trial_id, step, intermediate_value)
        except ImmutableError as e:
            raise UpdateFinishedTrialError(str(e)) from e
        self._update_owned(
            trial_id,
            lambda ft: _rebuilt(
                ft, intermediate_values={**ft.intermediate_values, step: float(intermediate_value)}
            ),
        )

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        try:
            self._client.sweeps.set_trial_attr(trial_id, key, value, kind="user")
        except ImmutableError as e:
            raise UpdateFinishedTrialError(str(e)) from e
        self._update_owned(
            trial_id,
            lambda ft: _rebuilt(ft, user_attrs={**ft.user_attrs, key: copy.deepcopy(value)}),
        )

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        try:
            self._client.sweeps.set_trial_attr(trial_id, key, value, kind="system")
        except ImmutableError as e:
            raise UpdateFinishedTrialError(str(e)) from e
        self._update_owned(
            trial_id,
            lambda ft: _rebuilt(ft, system_attrs={**ft.system_attrs, key: copy.deepcopy(value)}),
        )

    def _convert(self, trial: Trial) -> FrozenTrial:
        if not trial.state.finished:
            return _frozen(trial)
        with self._lock:
            cached = self._finished.get(trial.id)
            if cached is None:
                cached = self._finished[trial.id] = _frozen(trial)
        return cached

    def get_trial(self, trial_id: int) -> FrozenTrial:
        if isinstance(trial_id, bool) or not isinstance(trial_id, int):
            raise NotFoundError(f"no trial {trial_id!r}")
        with self._lock:
            owned = self._owned.get(trial_id)
        if owned is not None:
            return copy.deepcopy(owned)
        return copy.deepcopy(self._convert(self._client.sweeps.get_trial(trial_id)))

    def get_all_trials(
        self,
        study_id: int,
        deepcopy: bool = True,
        states: Container[OptunaState] | None = None,
    ) -> list[FrozenTrial]:
        wanted = None if states is None else [_TO_LABLINE[s] for s in OptunaState if s in states]
        trials = [
            self._convert(t)
            for t in self._client.sweeps.trials(self._study(study_id), states=wanted)
        ]
        return copy.deepcopy(trials) if deepcopy else trials
