"""MLflow experiment calls: create, get, get-by-name, search, delete, restore, update,
set-experiment-tag and delete-experiment-tag. MLflow's experiment ``"0"`` is labline's
experiment ``default``; experiment tags are labline's (``Experiment.tags``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ... import AlreadyExistsError, Client, Experiment, NotFoundError
from .._principal import Permission
from ._app import Call, Endpoint
from ._errors import MlflowApiError
from ._filters import EntityTest, entity_filter
from ._wire import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAMES,
    experiment_id_of,
    experiment_json,
)

__all__ = [
    "EXPERIMENT_ENDPOINTS",
    "resolve_experiment",
    "resolve_experiment_for_write",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_EXPERIMENT_TAG_VALUE = 5000
"""MLflow's limit on an experiment tag's value (characters)."""


def _not_found(what: str) -> MlflowApiError:
    return MlflowApiError("RESOURCE_DOES_NOT_EXIST", what)


def _labline_id(experiment_id: str) -> int:
    try:
        return int(experiment_id)
    except ValueError:
        raise _not_found(f"No Experiment with id={experiment_id} exists") from None


def resolve_experiment(client: Client, experiment_id: str) -> Experiment:
    """The experiment an MLflow id names (``"0"``: ``default``, shown even before it exists,
    since reads never write).

    Raises:
        MlflowApiError: RESOURCE_DOES_NOT_EXIST.
    """
    if experiment_id == DEFAULT_EXPERIMENT_ID:
        try:
            return client.get_experiment("default")
        except NotFoundError:
            return Experiment(id=0, name="default", created_at=_EPOCH)
    try:
        exp = client.get_experiment(_labline_id(experiment_id))
    except NotFoundError:
        raise _not_found(f"No Experiment with id={experiment_id} exists") from None
    return exp


def resolve_experiment_for_write(client: Client, experiment_id: str) -> Experiment:
    """Like :func:`resolve_experiment`, refusing a deleted experiment (id 0 stands for a
    ``default`` not created yet: writers pass its name so that it is created)."""
    exp = resolve_experiment(client, experiment_id)
    if exp.deleted:
        raise MlflowApiError(
            "INVALID_STATE", f"The experiment {experiment_id} must be in the 'active' state."
        )
    return exp


def _check_tag(key: str, value: str) -> None:
    if len(value) > MAX_EXPERIMENT_TAG_VALUE:
        raise MlflowApiError(
            "INVALID_PARAMETER_VALUE",
            f"Experiment tag value for key '{key[:250]}' exceeds the limit of "
            f"{MAX_EXPERIMENT_TAG_VALUE} characters",
        )


def create_experiment(call: Call) -> Mapping[str, Any]:
    name = call.fields.text("name")
    if name in DEFAULT_EXPERIMENT_NAMES:
        raise MlflowApiError("RESOURCE_ALREADY_EXISTS", f"Experiment(name={name}) already exists.")
    tags = call.fields.key_values("tags")
    for key, value in tags.items():
        _check_tag(key, value)
    try:
        exp = call.client.create_experiment(name, tags=tags)
    except AlreadyExistsError:
        raise MlflowApiError(
            "RESOURCE_ALREADY_EXISTS", f"Experiment(name={name}) already exists."
        ) from None
    return {"experiment_id": experiment_id_of(exp)}


def get_experiment(call: Call) -> Mapping[str, Any]:
    exp = resolve_experiment(call.client, call.fields.text("experiment_id"))
    return {"experiment": experiment_json(exp)}


def get_experiment_by_name(call: Call) -> Mapping[str, Any]:
    name = call.fields.text("experiment_name")
    if name in DEFAULT_EXPERIMENT_NAMES:
        return {"experiment": experiment_json(resolve_experiment(call.client, "0"))}
    try:
        exp = call.client.get_experiment(name)
    except NotFoundError:
        raise _not_found(f"Could not find experiment with name '{name}'") from None
    return {"experiment": experiment_json(exp)}


def search_experiments(call: Call) -> Mapping[str, Any]:
    view = call.fields.text("view_type", default="ACTIVE_ONLY").upper()
    max_results = call.fields.integer("max_results", default=1000)
    if not 1 <= max_results <= 50000:
        raise MlflowApiError(
            "INVALID_PARAMETER_VALUE",
            f"Invalid value {max_results} for parameter 'max_results' supplied. "
            "It must be at most 50000",
        )
    experiments = call.client.list_experiments(include_deleted=view != "ACTIVE_ONLY")
    if view == "DELETED_ONLY":
        experiments = [e for e in experiments if e.deleted]
    if view != "DELETED_ONLY" and not any(e.name == "default" for e in experiments):
        experiments.insert(0, resolve_experiment(call.client, DEFAULT_EXPERIMENT_ID))
    keep = entity_filter(
        call.fields.optional_text("filter"),
        ("name", "creation_time", "last_update_time"),
        "experiments",
    )
    if keep is not None:
        experiments = [e for e in experiments if _matches(keep, e)]
    experiments.sort(key=lambda e: (-e.created_at.timestamp(), e.id))
    offset = _offset(call.fields.optional_text("page_token"))
    page = experiments[offset : offset + max_results]
    out: dict[str, Any] = {"experiments": [experiment_json(e) for e in page]}
    if offset + max_results < len(experiments):
        out["next_page_token"] = str(offset + max_results)
    return out


def _matches(keep: EntityTest, exp: Experiment) -> bool:
    shown = experiment_json(exp)
    return keep(
        {k: shown[k] for k in ("name", "creation_time", "last_update_time")}, dict(exp.tags)
    )


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = int(token)
    except ValueError:
        raise MlflowApiError("INVALID_PARAMETER_VALUE", "Invalid page token") from None
    if offset < 0:
        raise MlflowApiError("INVALID_PARAMETER_VALUE", "Invalid page token")
    return offset


def delete_experiment(call: Call) -> Mapping[str, Any]:
    exp = resolve_experiment(call.client, call.fields.text("experiment_id"))
    if exp.name == "default":
        raise MlflowApiError("INVALID_PARAMETER_VALUE", "Cannot delete the default experiment '0'.")
    call.client.delete_experiment(exp.id)
    return {}


def restore_experiment(call: Call) -> Mapping[str, Any]:
    exp = resolve_experiment(call.client, call.fields.text("experiment_id"))
    call.client.restore_experiment(exp.id)
    return {}


def update_experiment(call: Call) -> Mapping[str, Any]:
    exp = resolve_experiment(call.client, call.fields.text("experiment_id"))
    new_name = call.fields.optional_text("new_name")
    if new_name:
        if exp.name == "default" or new_name in DEFAULT_EXPERIMENT_NAMES:
            raise MlflowApiError(
                "INVALID_PARAMETER_VALUE", "The default experiment keeps its name."
            )
        call.client.rename_experiment(exp.id, new_name)
    return {}


def set_experiment_tag(call: Call) -> Mapping[str, Any]:
    exp = resolve_experiment_for_write(call.client, call.fields.text("experiment_id"))
    key = call.fields.text("key")
    value = call.fields.text("value", required=False)
    _check_tag(key, value)
    if exp.id == 0:  # MLflow's experiment 0 before labline's default exists: a write makes it
        try:
            call.client.create_experiment("default", tags={key: value})
            return {}
        except AlreadyExistsError:  # made meanwhile by another request
            pass
    call.client.set_experiment_tags(exp.name if exp.id == 0 else exp.id, {key: value})
    return {}


def delete_experiment_tag(call: Call) -> Mapping[str, Any]:
    exp = resolve_experiment_for_write(call.client, call.fields.text("experiment_id"))
    key = call.fields.text("key")
    try:
        call.client.delete_experiment_tag(exp.name if exp.id == 0 else exp.id, key)
    except NotFoundError:
        raise MlflowApiError(
            "RESOURCE_DOES_NOT_EXIST",
            f"No tag with name: {key[:250]} in experiment with id {call.fields.text('experiment_id')}",
        ) from None
    return {}


_R, _W = Permission.READ, Permission.WRITE_RUNS
EXPERIMENT_ENDPOINTS = (
    Endpoint("/experiments/create", ("POST",), _W, create_experiment),
    Endpoint("/experiments/get", ("GET",), _R, get_experiment),
    Endpoint("/experiments/get-by-name", ("GET",), _R, get_experiment_by_name),
    Endpoint("/experiments/search", ("GET", "POST"), _R, search_experiments),
    Endpoint("/experiments/delete", ("POST",), _W, delete_experiment),
    Endpoint("/experiments/restore", ("POST",), _W, restore_experiment),
    Endpoint("/experiments/update", ("POST",), _W, update_experiment),
    Endpoint("/experiments/set-experiment-tag", ("POST",), _W, set_experiment_tag),
    Endpoint("/experiments/delete-experiment-tag", ("POST",), _W, delete_experiment_tag),
)
