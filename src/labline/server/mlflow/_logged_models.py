"""MLflow 3 logged models: create, finalize (PATCH), get, delete, search, tags, params and the
listing of their files. ``mlflow.<flavor>.log_model(..., name=...)`` creates one, uploads its
files through the artifact proxy to ``mlflow-artifacts:/<experiment>/models/<id>/artifacts``
and finalizes it; the files are artifacts of the source run, under ``models/<id>/``."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ... import Client, MlflowModel, MlflowModelStatus, NotFoundError, ParamConflictError
from .._principal import Permission
from ._app import Call, Endpoint
from ._errors import MlflowApiError
from ._experiments import resolve_experiment, resolve_experiment_for_write
from ._wire import (
    DEFAULT_EXPERIMENT_ID,
    artifact_root,
    experiment_id_of,
    key_value_list,
    list_folder,
    to_ms,
)

__all__ = [
    "LOGGED_MODEL_ENDPOINTS",
    "get_logged_model_or_404",
    "logged_model_json",
    "mlflow_model_experiment_id",
]

_STATUS_PREFIX = "LOGGED_MODEL_"


def get_logged_model_or_404(client: Client, model_id: str) -> MlflowModel:
    """The logged model, or MLflow's RESOURCE_DOES_NOT_EXIST."""
    try:
        return client.mlflow_models.get(model_id)
    except NotFoundError:
        raise MlflowApiError(
            "RESOURCE_DOES_NOT_EXIST", f"Logged model with ID '{model_id}' not found."
        ) from None


def mlflow_model_experiment_id(client: Client, model: MlflowModel) -> str:
    """The MLflow experiment id of a logged model."""
    return experiment_id_of(client.get_experiment(model.experiment_id))


def model_artifact_uri(experiment_id: str, model: MlflowModel) -> str:
    """Where the client uploads a logged model's files (the artifact proxy)."""
    return f"{artifact_root(experiment_id)}/models/{model.id}/artifacts"


def logged_model_json(client: Client, model: MlflowModel) -> dict[str, Any]:
    """An MLflow ``LoggedModel`` message."""
    exp_id = mlflow_model_experiment_id(client, model)
    info: dict[str, Any] = {
        "model_id": model.id,
        "experiment_id": exp_id,
        "name": model.name,
        "creation_timestamp_ms": to_ms(model.created_at),
        "last_updated_timestamp_ms": to_ms(model.updated_at),
        "artifact_uri": model_artifact_uri(exp_id, model),
        "status": _STATUS_PREFIX + model.status.value,
        "tags": key_value_list(model.tags),
    }
    if model.model_type:
        info["model_type"] = model.model_type
    if model.source_run_id:
        info["source_run_id"] = model.source_run_id
    if model.status_message:
        info["status_message"] = model.status_message
    return {"info": info, "data": {"params": key_value_list(model.params), "metrics": []}}


def _model_id(call: Call) -> str:
    return call.path.get("model_id") or call.fields.text("model_id")


def _params(call: Call) -> dict[str, str]:
    return call.fields.key_values("params")


def create_logged_model(call: Call) -> Mapping[str, Any]:
    fields = call.fields
    exp = resolve_experiment_for_write(
        call.client, fields.text("experiment_id", default=DEFAULT_EXPERIMENT_ID)
    )
    experiment: str | int = exp.name if exp.id == 0 else exp.id  # "default": made on first use
    source = fields.optional_text("source_run_id") or None
    if source is not None:
        try:
            call.client.get_run(source)
        except NotFoundError:
            raise MlflowApiError("RESOURCE_DOES_NOT_EXIST", f"Run '{source}' not found") from None
    model = call.client.mlflow_models.create(
        experiment,
        fields.optional_text("name") or None,
        source_run_id=source,
        model_type=fields.optional_text("model_type") or None,
        params=_params(call),
        tags=fields.key_values("tags"),
    )
    return {"model": logged_model_json(call.client, model)}


def get_logged_model(call: Call) -> Mapping[str, Any]:
    model = get_logged_model_or_404(call.client, _model_id(call))
    allow_deleted = call.fields.text("allow_deleted", default="false").lower() == "true"
    if model.deleted and not allow_deleted:
        raise MlflowApiError(
            "RESOURCE_DOES_NOT_EXIST", f"Logged model with ID '{model.id}' not found."
        )
    return {"model": logged_model_json(call.client, model)}


def finalize_logged_model(call: Call) -> Mapping[str, Any]:
    model_id = _model_id(call)
    get_logged_model_or_404(call.client, model_id)
    status = call.fields.text("status").removeprefix(_STATUS_PREFIX)
    if status not in {s.value for s in MlflowModelStatus} or status == "PENDING":
        raise MlflowApiError(
            "INVALID_PARAMETER_VALUE",
            "Invalid value for parameter 'status': expected LOGGED_MODEL_READY or "
            "LOGGED_MODEL_UPLOAD_FAILED",
        )
    model = call.client.mlflow_models.finalize(model_id, status)
    return {"model": logged_model_json(call.client, model)}


def delete_logged_model(call: Call) -> Mapping[str, Any]:
    model_id = _model_id(call)
    get_logged_model_or_404(call.client, model_id)
    call.client.mlflow_models.delete(model_id)
    return {}


def set_logged_model_tags(call: Call) -> Mapping[str, Any]:
    model_id = _model_id(call)
    get_logged_model_or_404(call.client, model_id)
    call.client.mlflow_models.update(model_id, tags=call.fields.key_values("tags"))
    return {}


def delete_logged_model_tag(call: Call) -> Mapping[str, Any]:
    model_id = _model_id(call)
    key = call.path["tag_key"]
    model = get_logged_model_or_404(call.client, model_id)
    if key not in model.tags:
        raise MlflowApiError(
            "RESOURCE_DOES_NOT_EXIST", f"No tag with key '{key}' on logged model '{model_id}'"
        )
    call.client.mlflow_models.update(model_id, delete_tags=[key])
    return {}


def log_logged_model_params(call: Call) -> Mapping[str, Any]:
    model_id = _model_id(call)
    get_logged_model_or_404(call.client, model_id)
    try:
        call.client.mlflow_models.update(model_id, params=_params(call))
    except ParamConflictError as e:
        raise MlflowApiError(
            "INVALID_PARAMETER_VALUE", f"Changing param values is not allowed. {e.message}"
        ) from None
    return {}


_CLAUSE = re.compile(
    r"""\s*(?P<field>(?:(?:tags|params|tag|param)\.)?(?:`[^`]+`|"[^"]+"|[A-Za-z_][\w.\-]*))
        \s*(?P<op>=|!=|LIKE|ILIKE)\s*(?P<quote>['"])(?P<value>.*?)(?P=quote)\s*""",
    re.IGNORECASE | re.VERBOSE,
)
_ATTRIBUTES: Mapping[str, Callable[[MlflowModel], str | None]] = {
    "name": lambda m: m.name,
    "model_id": lambda m: m.id,
    "source_run_id": lambda m: m.source_run_id,
    "model_type": lambda m: m.model_type,
    "status": lambda m: _STATUS_PREFIX + m.status.value,
}


def _like(pattern: str, flags: int) -> re.Pattern[str]:
    body = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(body, flags)


@dataclass(frozen=True)
class _Clause:
    kind: str  # "tags", "params" or "attribute"
    key: str
    op: str
    value: str

    def value_of(self, model: MlflowModel) -> str | None:
        if self.kind == "tags":
            return model.tags.get(self.key)
        if self.kind == "params":
            return model.params.get(self.key)
        return _ATTRIBUTES[self.key](model)

    def holds(self, model: MlflowModel) -> bool:
        got = self.value_of(model)
        if self.op == "=":
            return got == self.value
        if self.op == "!=":
            return got != self.value
        flags = re.IGNORECASE if self.op == "ILIKE" else 0
        return got is not None and _like(self.value, flags).fullmatch(got) is not None


def _filter(text: str | None) -> list[_Clause]:
    """MLflow's logged-model filter: ``clause AND clause ...`` where a clause compares an
    attribute (``name``, ``model_id``, ``source_run_id``, ``model_type``, ``status``), a
    ``tags.<key>`` or a ``params.<key>`` with ``=``, ``!=``, ``LIKE`` or ``ILIKE`` 'value'."""
    if not text or not text.strip():
        return []
    clauses = []
    for part in re.split(r"\s+AND\s+", text.strip(), flags=re.IGNORECASE):
        m = _CLAUSE.fullmatch(part)
        if m is None:
            raise MlflowApiError(
                "INVALID_PARAMETER_VALUE",
                f"Invalid logged model filter near {part[:60]!r}: expected "
                "<attribute|tags.key|params.key> =|!=|LIKE|ILIKE 'value'",
            )
        field, op, value = m.group("field"), m.group("op").upper(), m.group("value")
        prefix, _, key = field.partition(".")
        key = key.strip('`"')
        attribute = field.lower().removeprefix("attributes.")
        if prefix.lower() in ("tags", "tag") and key:
            clauses.append(_Clause("tags", key, op, value))
        elif prefix.lower() in ("params", "param") and key:
            clauses.append(_Clause("params", key, op, value))
        elif attribute in _ATTRIBUTES:
            clauses.append(_Clause("attribute", attribute, op, value))
        else:
            raise MlflowApiError(
                "INVALID_PARAMETER_VALUE", f"Invalid logged model filter: unknown field {field!r}"
            )
    return clauses


def _sort_key(name: str) -> Callable[[MlflowModel], Any]:
    attribute = name.removeprefix("attributes.")
    if attribute in ("creation_timestamp", "creation_time"):
        return lambda m: m.created_at
    if attribute == "last_updated_timestamp":
        return lambda m: m.updated_at
    getter = _ATTRIBUTES.get(attribute)
    if getter is None:
        raise MlflowApiError(
            "INVALID_PARAMETER_VALUE", f"Invalid order_by field {name!r} for logged models"
        )
    return lambda m: getter(m) or ""


def search_logged_models(call: Call) -> Mapping[str, Any]:
    fields = call.fields
    max_results = fields.integer("max_results", default=100)
    if not 1 <= max_results <= 1000:
        raise MlflowApiError(
            "INVALID_PARAMETER_VALUE",
            f"Invalid value {max_results} for parameter 'max_results': it must be 1 to 1000",
        )
    ids = fields.strings("experiment_ids")
    experiments = [resolve_experiment(call.client, e) for e in ids] if ids else None
    clauses = _filter(fields.optional_text("filter"))
    labline_ids = None if experiments is None else [e.id for e in experiments if e.id != 0]
    found = call.client.mlflow_models.search(labline_ids) if labline_ids != [] else []
    models = [m for m in found if all(c.holds(m) for c in clauses)]
    for spec in reversed(fields.items("order_by")):
        ascending = spec.get("ascending", True) not in (False, "false")
        models.sort(key=_sort_key(str(spec.get("field_name", ""))), reverse=not ascending)
    token = fields.optional_text("page_token")
    try:
        offset = int(token) if token else 0
    except ValueError:
        raise MlflowApiError("INVALID_PARAMETER_VALUE", "Invalid page token") from None
    page = models[offset : offset + max_results]
    out: dict[str, Any] = {"models": [logged_model_json(call.client, m) for m in page]}
    if offset + max_results < len(models):
        out["next_page_token"] = str(offset + max_results)
    return out


def list_logged_model_artifacts(call: Call) -> Mapping[str, Any]:
    model = get_logged_model_or_404(call.client, _model_id(call))
    inner = call.fields.text("artifact_directory_path", required=False).strip("/")
    if ".." in inner.split("/"):
        raise MlflowApiError("INVALID_PARAMETER_VALUE", "artifact_directory_path must stay inside")
    prefix = f"{model.artifact_path}/{inner}/" if inner else f"{model.artifact_path}/"
    exp_id = mlflow_model_experiment_id(call.client, model)
    return {
        "root_uri": model_artifact_uri(exp_id, model),
        "files": list_folder(call.client, model.run_id, prefix),
    }


_R, _W = Permission.READ, Permission.WRITE_RUNS
LOGGED_MODEL_ENDPOINTS = (
    Endpoint("/logged-models", ("POST",), _W, create_logged_model),
    Endpoint("/logged-models/search", ("POST",), _R, search_logged_models),
    Endpoint("/logged-models/{model_id}", ("GET",), _R, get_logged_model),
    Endpoint("/logged-models/{model_id}", ("PATCH",), _W, finalize_logged_model),
    Endpoint("/logged-models/{model_id}", ("DELETE",), _W, delete_logged_model),
    Endpoint("/logged-models/{model_id}/tags", ("PATCH",), _W, set_logged_model_tags),
    Endpoint(
        "/logged-models/{model_id}/tags/{tag_key:path}", ("DELETE",), _W, delete_logged_model_tag
    ),
    Endpoint("/logged-models/{model_id}/params", ("POST",), _W, log_logged_model_params),
    Endpoint(
        "/logged-models/{model_id}/artifacts/directories", ("GET",), _R, list_logged_model_artifacts
    ),
)
