"""MLflow's model registry on labline's: registered models, model versions and aliases, as far
as ``mlflow.register_model``, ``MlflowClient().get_model_version``,
``set_registered_model_alias`` and ``mlflow.<flavor>.load_model("models:/name@alias")`` go.

Registering makes the MLflow model a labline package (scikit-learn flavour, with the input
example it was logged with as the parity record): an immutable labline version. Setting an
alias is a labline promotion, through the parity gate, so it needs the ``promote`` right.
A registered model may exist before its first version (``create_registered_model``) and its
card (description, tags) is edited in place; it is deleted only while it has no versions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ... import AlreadyExistsError, Client, ImmutableError, NotFoundError
from ...models import ModelVersion, RegisteredModel
from .._principal import Permission
from ._app import Call, Endpoint
from ._artifacts import split_artifact_path
from ._errors import MlflowApiError
from ._filters import entity_filter
from ._logged_models import get_logged_model_or_404, mlflow_model_experiment_id, model_artifact_uri
from ._runs import get_run_or_404, mlflow_experiment_id
from ._wire import artifact_root, key_value_list, to_ms

__all__ = ["REGISTRY_ENDPOINTS"]

_MLFLOW_ARTIFACTS = "mlflow-artifacts:"


def _model_not_found(name: str) -> MlflowApiError:
    return MlflowApiError("RESOURCE_DOES_NOT_EXIST", f"Registered Model with name={name} not found")


def _registered(client: Client, name: str) -> RegisteredModel:
    try:
        return client.get_model(name)
    except NotFoundError:
        raise _model_not_found(name) from None


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
        "description": origin.get("description", ""),
        "source": origin.get("source", f"labline:{mv.name}/{mv.version}"),
        "status": "READY",
        "tags": key_value_list({**origin.get("tags", {}), "labline.digest": mv.digest}),
        "aliases": aliases,
    }
    if mv.run_id:
        out["run_id"] = mv.run_id
    if origin.get("model_id"):
        out["model_id"] = origin["model_id"]
    return out


def registered_model_json(client: Client, model: RegisteredModel) -> dict[str, Any]:
    """An MLflow ``RegisteredModel`` message (its card, latest version and aliases)."""
    updated = model.updated_at or model.created_at
    out: dict[str, Any] = {
        "name": model.name,
        "creation_timestamp": to_ms(model.created_at),
        "last_updated_timestamp": to_ms(updated),
        "description": model.description,
        "aliases": [{"alias": a, "version": str(v)} for a, v in sorted(model.aliases.items())],
        "tags": key_value_list(model.tags),
    }
    if model.created_by:
        out["user_id"] = model.created_by
    if model.latest_version is not None:
        latest = client.get_model_version(model.name, model.latest_version)
        out["latest_versions"] = [model_version_json(client, latest)]
        out["last_updated_timestamp"] = max(to_ms(latest.created_at) or 0, to_ms(updated) or 0)
    return out


def create_registered_model(call: Call) -> Mapping[str, Any]:
    """A registered model before its first version (``register_model`` calls this first and
    creates the version next), with MLflow's description and tags."""
    name = call.fields.text("name")
    tags = call.fields.key_values("tags")
    description = call.fields.text("description", required=False)
    try:
        model = call.client.create_model(name, description=description, tags=tags)
    except AlreadyExistsError:
        raise MlflowApiError(
            "RESOURCE_ALREADY_EXISTS", f"Registered Model (name={name}) already exists."
        ) from None
    return {"registered_model": registered_model_json(call.client, model)}


def get_registered_model(call: Call) -> Mapping[str, Any]:
    model = _registered(call.client, call.fields.text("name"))
    return {"registered_model": registered_model_json(call.client, model)}


def _edit_card(
    call: Call,
    *,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
    delete_tags: tuple[str, ...] = (),
) -> RegisteredModel:
    name = _registered(call.client, call.fields.text("name")).name
    try:
        return call.client.update_model(
            name, description=description, tags=tags, delete_tags=delete_tags
        )
    except NotFoundError:  # the model exists: a tag to delete does not
        raise MlflowApiError(
            "RESOURCE_DOES_NOT_EXIST",
            f"No tag with name: {delete_tags[0][:250] if delete_tags else ''} in registered "
            f"model {name}",
        ) from None


def update_registered_model(call: Call) -> Mapping[str, Any]:
    description = call.fields.text("description", required=False)
    model = _edit_card(call, description=description)
    return {"registered_model": registered_model_json(call.client, model)}


def set_registered_model_tag(call: Call) -> Mapping[str, Any]:
    key = call.fields.text("key")
    _edit_card(call, tags={key: call.fields.text("value", required=False)})
    return {}


def delete_registered_model_tag(call: Call) -> Mapping[str, Any]:
    _edit_card(call, delete_tags=(call.fields.text("key"),))
    return {}


def delete_registered_model(call: Call) -> Mapping[str, Any]:
    name = call.fields.text("name")
    try:
        call.client.delete_model(name)
    except NotFoundError:
        raise _model_not_found(name) from None
    except ImmutableError:
        raise MlflowApiError(
            "INVALID_STATE",
            f"Registered Model (name={name}) has versions: labline keeps versions immutable, "
            "so a model with versions is never deleted",
        ) from None
    return {}


MAX_MODELS_PAGE = 1000
MAX_VERSIONS_PAGE = 200_000
"""MLflow's largest pages of registered models and of model versions."""


def _page(
    call: Call, items: list[Any], key: str, render: Any, *, default: int, limit: int
) -> Mapping[str, Any]:
    max_results = call.fields.integer("max_results", default=default)
    if not 1 <= max_results <= limit:
        raise MlflowApiError(
            "INVALID_PARAMETER_VALUE",
            f"Invalid value {max_results} for parameter 'max_results': it must be 1 to {limit}",
        )
    token = call.fields.optional_text("page_token")
    try:
        offset = int(token) if token else 0
    except ValueError:
        raise MlflowApiError("INVALID_PARAMETER_VALUE", "Invalid page token") from None
    if offset < 0:
        raise MlflowApiError("INVALID_PARAMETER_VALUE", "Invalid page token")
    out: dict[str, Any] = {key: [render(x) for x in items[offset : offset + max_results]]}
    if offset + max_results < len(items):
        out["next_page_token"] = str(offset + max_results)
    return out


def search_registered_models(call: Call) -> Mapping[str, Any]:
    keep = entity_filter(call.fields.optional_text("filter"), ("name",), "registered models")
    models = [
        m for m in call.client.list_models() if keep is None or keep({"name": m.name}, m.tags)
    ]
    return _page(
        call,
        models,
        "registered_models",
        lambda m: registered_model_json(call.client, m),
        default=100,
        limit=MAX_MODELS_PAGE,
    )


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
    tags = call.fields.key_values("tags")  # kept with the version, immutable as it is
    description = call.fields.text("description", required=False)
    models = call.client.mlflow_models
    if model_id is not None:
        get_logged_model_or_404(call.client, model_id)
        mv = models.register(model_id, name, tags=tags, description=description)
    else:
        assert run_folder is not None
        run = get_run_or_404(call.client, run_folder[0])
        mv = models.register_run_folder(
            run.id, run_folder[1], name, tags=tags, description=description
        )
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
    keep = entity_filter(
        call.fields.optional_text("filter"),
        ("name", "run_id", "version_number", "source_path"),
        "model versions",
    )
    versions = []
    for model in call.client.list_models():
        for v in call.client.list_model_versions(model.name):
            shown = model_version_json(call.client, v)
            attributes = {
                "name": v.name,
                "run_id": v.run_id,
                "version_number": v.version,
                "source_path": shown["source"],
            }
            tags = {t["key"]: t["value"] for t in shown["tags"]}
            if keep is None or keep(attributes, tags):
                versions.append(shown)
    versions.sort(key=lambda v: (v["name"], -int(v["version"])))
    return _page(
        call, versions, "model_versions", lambda v: v, default=10_000, limit=MAX_VERSIONS_PAGE
    )


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
    Endpoint("/registered-models/update", ("PATCH",), _REG, update_registered_model),
    Endpoint("/registered-models/delete", ("DELETE",), _REG, delete_registered_model),
    Endpoint("/registered-models/set-tag", ("POST",), _REG, set_registered_model_tag),
    Endpoint("/registered-models/delete-tag", ("DELETE",), _REG, delete_registered_model_tag),
    Endpoint("/model-versions/create", ("POST",), _REG, create_model_version),
    Endpoint("/model-versions/get", ("GET",), _R, get_model_version),
    Endpoint("/model-versions/get-download-uri", ("GET",), _R, get_model_version_download_uri),
    Endpoint("/model-versions/search", ("GET",), _R, search_model_versions),
    Endpoint("/model-versions/update", ("PATCH",), _REG, _immutable("editing a version")),
    Endpoint("/model-versions/delete", ("DELETE",), _REG, _immutable("deleting a version")),
    Endpoint("/model-versions/set-tag", ("POST",), _REG, _immutable("tagging a version")),
    Endpoint("/model-versions/transition-stage", ("POST",), _P, _immutable("stages")),
)
