"""MLflow's model registry on labline's: registered models, model versions and aliases, as far
as ``mlflow.register_model``, ``MlflowClient().get_model_version``,
``set_registered_model_alias`` and ``mlflow.<flavor>.load_model("models:/name@alias")`` go.

Registering makes the MLflow model a labline package (scikit-learn flavour, with the input
example it was logged with as the parity record): an immutable labline version. Setting an
alias is a labline promotion, through the parity gate, so it needs the ``promote`` right.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ... import Client, NotFoundError
from ...models import ModelVersion, RegisteredModel
from .._principal import Permission
from ._app import Call, Endpoint
from ._artifacts import split_artifact_path
from ._errors import MlflowApiError
from ._experiments import name_filter
from ._logged_models import get_logged_model_or_404, mlflow_model_experiment_id, model_artifact_uri
from ._runs import get_run_or_404, mlflow_experiment_id
from ._wire import artifact_root, to_ms

__all__ = ["REGISTRY_ENDPOINTS"]

_MLFLOW_ARTIFACTS = "mlflow-artifacts:"


def _registered(client: Client, name: str) -> RegisteredModel:
    for model in client.list_models():
        if model.name == name:
            return model
    raise MlflowApiError("RESOURCE_DOES_NOT_EXIST", f"Registered Model with name={name} not found")


def _version(call: Call) -> ModelVersion:
    name = call.fields.text("name")
    number = call.fields.integer("version")
    try:
        return call.client.get_model_version(name, number)
    except NotFoundError:
        raise MlflowApiError(
            "RESOURCE_DOES_NOT_EXIST", f"Model Version (name={name}, version={number}) not found"
        ) from None


def model_version_json(client: Client, mv: ModelVersion) -> dict[str, Any]:
    """An MLflow ``ModelVersion`` message."""
    origin = mv.meta.get("mlflow") or {}
    aliases = [a.alias for a in client.list_aliases(mv.name) if a.version == mv.version]
    out: dict[str, Any] = {
        "name": mv.name,
        "version": str(mv.version),
        "creation_timestamp": to_ms(mv.created_at),
        "last_updated_timestamp": to_ms(mv.created_at),
        "user_id": mv.created_by,
        "current_stage": "None",
        "description": "",
        "source": origin.get("source", f"labline:{mv.name}/{mv.version}"),
        "status": "READY",
        "tags": [{"key": "labline.digest", "value": mv.digest}],
        "aliases": aliases,
    }
    if mv.run_id:
        out["run_id"] = mv.run_id
    if origin.get("model_id"):
        out["model_id"] = origin["model_id"]
    return out


def registered_model_json(client: Client, model: RegisteredModel) -> dict[str, Any]:
    """An MLflow ``RegisteredModel`` message (latest version and aliases)."""
    out: dict[str, Any] = {
        "name": model.name,
        "creation_timestamp": to_ms(model.created_at),
        "last_updated_timestamp": to_ms(model.created_at),
        "aliases": [{"alias": a, "version": str(v)} for a, v in sorted(model.aliases.items())],
        "tags": [],
    }
    if model.latest_version is not None:
        latest = client.get_model_version(model.name, model.latest_version)
        out["latest_versions"] = [model_version_json(client, latest)]
        out["last_updated_timestamp"] = to_ms(latest.created_at)
    return out


def create_registered_model(call: Call) -> Mapping[str, Any]:
    """A labline registered model comes into being with its first version: answer as MLflow
    does for a new name (``register_model`` creates the version next) or refuse a taken one."""
    name = call.fields.text("name")
    if any(m.name == name for m in call.client.list_models()):
        raise MlflowApiError(
            "RESOURCE_ALREADY_EXISTS", f"Registered Model (name={name}) already exists."
        )
    now = to_ms(datetime.now(UTC))
    return {
        "registered_model": {
            "name": name,
            "creation_timestamp": now,
            "last_updated_timestamp": now,
            "user_id": call.principal.name,
        }
    }


def get_registered_model(call: Call) -> Mapping[str, Any]:
    model = _registered(call.client, call.fields.text("name"))
    return {"registered_model": registered_model_json(call.client, model)}


def _page(call: Call, items: list[Any], key: str, render: Any) -> Mapping[str, Any]:
    max_results = call.fields.integer("max_results", default=100)
    if not 1 <= max_results <= 1000:
        raise MlflowApiError(
            "INVALID_PARAMETER_VALUE",
            f"Invalid value {max_results} for parameter 'max_results': it must be 1 to 1000",
        )
    token = call.fields.optional_text("page_token")
    try:
        offset = int(token) if token else 0
    except ValueError:
        raise MlflowApiError("INVALID_PARAMETER_VALUE", "Invalid page token") from None
    out: dict[str, Any] = {key: [render(x) for x in items[offset : offset + max_results]]}
    if offset + max_results < len(items):
        out["next_page_token"] = str(offset + max_results)
    return out


def search_registered_models(call: Call) -> Mapping[str, Any]:
    keep = name_filter(call.fields.optional_text("filter"))
    models = [m for m in call.client.list_models() if keep is None or keep(m.name)]
    return _page(call, models, "registered_models", lambda m: registered_model_json(call.client, m))


def get_latest_versions(call: Call) -> Mapping[str, Any]:
    model = _registered(call.client, call.fields.text("name"))
    if model.latest_version is None:
        return {"model_versions": []}
    latest = call.client.get_model_version(model.name, model.latest_version)
    return {"model_versions": [model_version_json(call.client, latest)]}


def _source_of(call: Call) -> tuple[str | None, tuple[str, str] | None]:
    """``(logged model id, None)`` or ``(None, (run id, folder))`` of a create request."""
    fields = call.fields
    model_id = fields.optional_text("model_id")
    source = fields.text("source")
    if model_id:
        return model_id, None
    if source.startswith("models:/m-"):
        return source.removeprefix("models:/").strip("/"), None
    if source.startswith("runs:/"):
        run_id, _, folder = source.removeprefix("runs:/").partition("/")
        return None, (run_id, folder)
    if source.startswith(_MLFLOW_ARTIFACTS):
        path = source.removeprefix(_MLFLOW_ARTIFACTS).lstrip("/")
        if path.startswith("/"):  # mlflow-artifacts://host:port/path
            path = path.partition("/")[2]
        _, owner, inner = split_artifact_path(path)
        if owner.startswith("models/") and not inner:
            return owner.removeprefix("models/"), None
        if not owner.startswith("models/") and inner:
            return None, (owner, inner)
    raise MlflowApiError(
        "INVALID_PARAMETER_VALUE",
        "source must be models:/<model id>, runs:/<run id>/<path> or an mlflow-artifacts: URI "
        "of this server",
    )


def create_model_version(call: Call) -> Mapping[str, Any]:
    name = call.fields.text("name")
    model_id, run_folder = _source_of(call)
    if model_id is not None:
        get_logged_model_or_404(call.client, model_id)
        mv = call.client.mlflow_models.register(model_id, name)
    else:
        assert run_folder is not None
        run = get_run_or_404(call.client, run_folder[0])
        mv = call.client.mlflow_models.register_run_folder(run.id, run_folder[1], name)
    return {"model_version": model_version_json(call.client, mv)}


def get_model_version(call: Call) -> Mapping[str, Any]:
    return {"model_version": model_version_json(call.client, _version(call))}


def get_model_version_download_uri(call: Call) -> Mapping[str, Any]:
    mv = _version(call)
    origin = mv.meta.get("mlflow") or {}
    if origin.get("model_id"):
        model = get_logged_model_or_404(call.client, origin["model_id"])
        exp_id = mlflow_model_experiment_id(call.client, model)
        return {"artifact_uri": model_artifact_uri(exp_id, model)}
    if origin.get("run_id"):
        run = get_run_or_404(call.client, origin["run_id"])
        root = artifact_root(mlflow_experiment_id(run))
        return {"artifact_uri": f"{root}/{run.id}/artifacts/{origin['path']}"}
    raise MlflowApiError(
        "RESOURCE_DOES_NOT_EXIST",
        f"Model Version (name={mv.name}, version={mv.version}) is a labline package with no "
        "MLflow files: load it with labline.load_model",
    )


def search_model_versions(call: Call) -> Mapping[str, Any]:
    text = (call.fields.optional_text("filter") or "").strip()
    keep_name = None
    run_id = None
    if text:
        key, _, value = text.partition("=")
        key, value = key.strip().lower(), value.strip().strip("'\"")
        if key == "name":
            keep_name = value
        elif key == "run_id":
            run_id = value
        else:
            raise MlflowApiError(
                "INVALID_PARAMETER_VALUE",
                "model version filters support name = 'x' or run_id = 'x'",
            )
    names = [m.name for m in call.client.list_models()]
    versions = [
        v
        for n in names
        if keep_name is None or n == keep_name
        for v in call.client.list_model_versions(n)
        if run_id is None or v.run_id == run_id
    ]
    versions.sort(key=lambda v: (v.name, -v.version))
    return _page(call, versions, "model_versions", lambda v: model_version_json(call.client, v))


def set_alias(call: Call) -> Mapping[str, Any]:
    name = call.fields.text("name")
    alias = call.fields.text("alias")
    number = call.fields.integer("version")
    try:
        call.client.get_model_version(name, number)
    except NotFoundError:
        raise MlflowApiError(
            "RESOURCE_DOES_NOT_EXIST", f"Model Version (name={name}, version={number}) not found"
        ) from None
    call.client.promote(name, number, alias, reason="set through the MLflow API")
    return {}


def get_version_by_alias(call: Call) -> Mapping[str, Any]:
    name = call.fields.text("name")
    alias = call.fields.text("alias")
    try:
        record = call.client.get_alias(name, alias)
    except NotFoundError:
        raise MlflowApiError(
            "RESOURCE_DOES_NOT_EXIST", f"Registered model alias {alias} not found."
        ) from None
    mv = call.client.get_model_version(name, record.version)
    return {"model_version": model_version_json(call.client, mv)}


def _immutable(what: str) -> Any:
    def refuse(call: Call) -> Mapping[str, Any]:
        raise MlflowApiError(
            "BAD_REQUEST",
            f"labline's registry keeps versions immutable and alias history append-only: "
            f"{what} is not available (point an alias at another version instead)",
        )

    return refuse


_R, _REG, _P = Permission.READ, Permission.REGISTER, Permission.PROMOTE
REGISTRY_ENDPOINTS = (
    Endpoint("/registered-models/create", ("POST",), _REG, create_registered_model),
    Endpoint("/registered-models/get", ("GET",), _R, get_registered_model),
    Endpoint("/registered-models/search", ("GET",), _R, search_registered_models),
    Endpoint("/registered-models/get-latest-versions", ("GET", "POST"), _R, get_latest_versions),
    Endpoint("/registered-models/alias", ("POST",), _P, set_alias),
    Endpoint("/registered-models/alias", ("GET",), _R, get_version_by_alias),
    Endpoint("/registered-models/alias", ("DELETE",), _P, _immutable("deleting an alias")),
    Endpoint("/registered-models/rename", ("POST",), _REG, _immutable("renaming")),
    Endpoint("/registered-models/update", ("PATCH",), _REG, _immutable("editing a description")),
    Endpoint("/registered-models/delete", ("DELETE",), _REG, _immutable("deleting a model")),
    Endpoint("/registered-models/set-tag", ("POST",), _REG, _immutable("tagging a model")),
    Endpoint("/model-versions/create", ("POST",), _REG, create_model_version),
    Endpoint("/model-versions/get", ("GET",), _R, get_model_version),
    Endpoint("/model-versions/get-download-uri", ("GET",), _R, get_model_version_download_uri),
    Endpoint("/model-versions/search", ("GET",), _R, search_model_versions),
    Endpoint("/model-versions/update", ("PATCH",), _REG, _immutable("editing a version")),
    Endpoint("/model-versions/delete", ("DELETE",), _REG, _immutable("deleting a version")),
    Endpoint("/model-versions/set-tag", ("POST",), _REG, _immutable("tagging a version")),
    Endpoint("/model-versions/transition-stage", ("POST",), _P, _immutable("stages")),
)
