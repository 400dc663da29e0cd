"""MLflow run calls: create, get, update, delete, restore, search, log-metric, log-parameter,
set-tag, delete-tag, log-batch (MLflow's limits), log-inputs, log-model, outputs and
metrics/get-history. A run logged here is an ordinary labline run."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from ... import Client, DatasetRecord, NotFoundError, ParamConflictError, Run, RunStatus
from .._principal import Permission
from ._app import Call, Endpoint
from ._errors import MlflowApiError
from ._experiments import resolve_experiment, resolve_experiment_for_write
from ._filters import experiments_filter, translate_filter, translate_order_by
from ._wire import (
    DEFAULT_EXPERIMENT_ID,
    KILLED_MARK,
    PARENT_RUN_TAG,
    RUN_NAME_TAG,
    Fields,
    labline_status,
    metric_json,
    parse_double,
    run_info_json,
    run_json,
)

__all__ = ["RUN_ENDPOINTS", "get_run_or_404", "mlflow_experiment_id"]

MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_BATCH_LOG_REQUEST_SIZE = 1_000_000
MAX_TAG_VAL_LENGTH = 8000
MAX_RESULTS_SEARCH = 50000
LOG_MODEL_HISTORY_TAG = "mlflow.log-model.history"


def mlflow_experiment_id(run: Run) -> str:
    """The MLflow experiment id of a run."""
    return DEFAULT_EXPERIMENT_ID if run.experiment == "default" else str(run.experiment_id)


def _run_id(fields: Fields) -> str:
    run_id = fields.optional_text("run_id") or fields.optional_text("run_uuid")
    if not run_id:
        raise MlflowApiError(
            "INVALID_PARAMETER_VALUE",
            "Missing value for required parameter 'run_id'. "
            "See the API docs for more information about request parameters.",
        )
    return run_id


def get_run_or_404(client: Client, run_id: str) -> Run:
    """The run, or MLflow's RESOURCE_DOES_NOT_EXIST."""
    try:
        return client.get_run(run_id)
    except NotFoundError:
        raise MlflowApiError("RESOURCE_DOES_NOT_EXIST", f"Run '{run_id}' not found") from None


def _conflict(error: ParamConflictError, run_id: str) -> MlflowApiError:
    return MlflowApiError(
        "INVALID_PARAMETER_VALUE",
        f"Changing param values is not allowed. {error.message} (run ID='{run_id}')",
    )


def create_run(call: Call) -> Mapping[str, Any]:
    fields = call.fields
    exp = resolve_experiment_for_write(
        call.client, fields.text("experiment_id", default=DEFAULT_EXPERIMENT_ID)
    )
    tags = fields.key_values("tags")
    name = fields.optional_text("run_name") or tags.get(RUN_NAME_TAG) or None
    tags.pop(RUN_NAME_TAG, None)
    parent = tags.get(PARENT_RUN_TAG) or None
    if parent is not None:
        get_run_or_404(call.client, parent)
    _check_tags(tags)
    run = call.client.create_run(
        exp.name if exp.id == 0 else exp.id, name, parent=parent, tags=tags
    )
    return {"run": run_json(run, mlflow_experiment_id(run))}


def get_run(call: Call) -> Mapping[str, Any]:
    run = get_run_or_404(call.client, _run_id(call.fields))
    out = run_json(run, mlflow_experiment_id(run))
    out["inputs"] = {"dataset_inputs": _dataset_inputs(call.client, run.id)}
    models = call.client.mlflow_models.search(source_run_id=run.id)
    out["outputs"] = {"model_outputs": [{"model_id": m.id, "step": 0} for m in models]}
    return {"run": out}


def _dataset_inputs(client: Client, run_id: str) -> list[dict[str, Any]]:
    inputs = []
    for d in client.list_datasets(run_id):
        meta = dict(d.meta)
        inputs.append(
            {
                "tags": [{"key": k, "value": v} for k, v in meta.get("input_tags", {}).items()],
                "dataset": {
                    "name": d.name,
                    "digest": meta.get("digest", d.fingerprint),
                    "source_type": meta.get("source_type", d.kind),
                    "source": meta.get("source", ""),
                    "schema": meta.get("schema", ""),
                    "profile": meta.get("profile", ""),
                },
            }
        )
    return inputs


def update_run(call: Call) -> Mapping[str, Any]:
    fields = call.fields
    run = get_run_or_404(call.client, _run_id(fields))
    name = fields.optional_text("run_name")
    if name and name != run.name:
        run = call.client.rename_run(run.id, name)
    status = fields.optional_text("status")
    if status:
        wanted = labline_status("status", status)
        error = KILLED_MARK if status == "KILLED" else None
        if wanted is RunStatus.FAILED and error is None:
            error = run.error or "failed (MLflow status FAILED)"
        run = call.client.end_run(run.id, wanted, error)
    return {"run_info": run_info_json(run, mlflow_experiment_id(run))}


def delete_run(call: Call) -> Mapping[str, Any]:
    run = get_run_or_404(call.client, _run_id(call.fields))
    call.client.delete_run(run.id)
    return {}


def restore_run(call: Call) -> Mapping[str, Any]:
    run = get_run_or_404(call.client, _run_id(call.fields))
    call.client.restore_run(run.id)
    return {}


def search_runs(call: Call) -> Mapping[str, Any]:
    fields = call.fields
    experiment_ids = list(dict.fromkeys(fields.strings("experiment_ids")))
    max_results = fields.integer("max_results", default=1000)
    if not 1 <= max_results <= MAX_RESULTS_SEARCH:
        raise MlflowApiError(
            "INVALID_PARAMETER_VALUE",
            f"Invalid value {max_results} for parameter 'max_results' supplied. It must be "
            f"a positive integer at most {MAX_RESULTS_SEARCH}",
        )
    view = fields.text("run_view_type", default="ACTIVE_ONLY").upper()
    if view not in ("ACTIVE_ONLY", "DELETED_ONLY", "ALL"):
        raise MlflowApiError("INVALID_PARAMETER_VALUE", f"unknown run_view_type {view!r}")
    experiment: str | int | None = None
    run_filter = translate_filter(fields.optional_text("filter"))
    # experiment 0 before labline's default exists holds no runs
    searched = [
        e for e in (resolve_experiment(call.client, i) for i in experiment_ids) if e.id != 0
    ]
    if experiment_ids and not searched:
        return {"runs": []}
    if len(searched) == 1:
        experiment = searched[0].id
    elif searched:
        run_filter = experiments_filter([e.name for e in searched], run_filter)
    page = call.client.search_runs(
        experiment,
        filter=run_filter,
        order_by=translate_order_by(fields.strings("order_by")) or None,
        limit=max_results,
        page_token=fields.optional_text("page_token") or None,
        include_deleted=view != "ACTIVE_ONLY",
    )
    runs = [r for r in page if r.deleted] if view == "DELETED_ONLY" else list(page)
    out: dict[str, Any] = {"runs": [run_json(r, mlflow_experiment_id(r)) for r in runs]}
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return out


def _timestamp_s(fields: Fields | Mapping[str, Any], name: str = "timestamp") -> float:
    raw = fields.raw(name) if isinstance(fields, Fields) else fields.get(name)
    ms = Fields({name: raw}).integer(name, default=0) if raw not in (None, "") else None
    if ms is None:
        raise MlflowApiError(
            "INVALID_PARAMETER_VALUE",
            f"Missing value for required parameter '{name}'. "
            "See the API docs for more information about request parameters.",
        )
    return ms / 1000.0


def _metric_point(item: Mapping[str, Any]) -> tuple[str, tuple[int, float, float]]:
    fields = Fields(item)
    key = fields.text("key")
    value = parse_double("value", item.get("value")) if "value" in item else None
    if value is None:
        raise MlflowApiError(
            "INVALID_PARAMETER_VALUE",
            f"Missing value for required parameter 'value' (metric {key!r})",
        )
    step = fields.integer("step", default=0)
    return key, (step, _timestamp_s(fields), value)


def _check_tags(tags: Mapping[str, str]) -> None:
    for key, value in tags.items():
        if len(value) > MAX_TAG_VAL_LENGTH:
            raise MlflowApiError(
                "INVALID_PARAMETER_VALUE",
                f"Tag value for key '{key}' exceeds the limit of {MAX_TAG_VAL_LENGTH} characters",
            )


def log_metric(call: Call) -> Mapping[str, Any]:
    run_id = _run_id(call.fields)
    key, point = _metric_point(call.fields.data)
    _log(call.client, run_id, metrics={key: [point]})
    return {}


def log_param(call: Call) -> Mapping[str, Any]:
    run_id = _run_id(call.fields)
    key = call.fields.text("key")
    value = call.fields.text("value", required=False)
    _log(call.client, run_id, params={key: value})
    return {}


def set_tag(call: Call) -> Mapping[str, Any]:
    run_id = _run_id(call.fields)
    key = call.fields.text("key")
    value = call.fields.text("value", required=False)
    if key == RUN_NAME_TAG:
        get_run_or_404(call.client, run_id)
        call.client.rename_run(run_id, value)
        return {}
    _check_tags({key: value})
    _log(call.client, run_id, tags={key: value})
    return {}


def delete_tag(call: Call) -> Mapping[str, Any]:
    run_id = _run_id(call.fields)
    key = call.fields.text("key")
    run = get_run_or_404(call.client, run_id)
    if key not in run.tags:
        raise MlflowApiError(
            "RESOURCE_DOES_NOT_EXIST", f"No tag with name: {key} in run with id {run_id}"
        )
    call.client.delete_tag(run_id, key)
    return {}


def _batch_limit(entity: str, limit: int, length: int) -> None:
    if length > limit:
        raise MlflowApiError(
            "INVALID_PARAMETER_VALUE",
            f"A batch logging request can contain at most {limit} {entity}. Got {length} "
            f"{entity}. Please split up {entity} across multiple requests and try again.",
        )


def log_batch(call: Call) -> Mapping[str, Any]:
    if call.body_size > MAX_BATCH_LOG_REQUEST_SIZE:
        raise MlflowApiError(
            "INVALID_PARAMETER_VALUE",
            f"Batched logging API requests must be at most {MAX_BATCH_LOG_REQUEST_SIZE} bytes, "
            f"got a request of size {call.body_size}.",
        )
    fields = call.fields
    run_id = _run_id(fields)
    metric_items = fields.items("metrics")
    param_items = fields.items("params")
    tag_items = fields.items("tags")
    _batch_limit("metrics", MAX_METRICS_PER_BATCH, len(metric_items))
    _batch_limit("params", MAX_PARAMS_TAGS_PER_BATCH, len(param_items))
    _batch_limit("tags", MAX_PARAMS_TAGS_PER_BATCH, len(tag_items))
    _batch_limit(
        "metrics, params, and tags",
        MAX_ENTITIES_PER_BATCH,
        len(metric_items) + len(param_items) + len(tag_items),
    )
    params: dict[str, str] = {}
    for item in param_items:
        key = Fields(item).text("key")
        value = Fields(item).text("value", required=False)
        if key in params and params[key] != value:
            raise MlflowApiError(
                "INVALID_PARAMETER_VALUE",
                f"Duplicate parameter keys have been submitted with different values: {key!r}",
            )
        params[key] = value
    tags = fields.key_values("tags")
    _check_tags(tags)
    metrics: dict[str, list[tuple[int, float, float]]] = {}
    for item in metric_items:
        key, point = _metric_point(item)
        metrics.setdefault(key, []).append(point)
    _log(call.client, run_id, metrics=metrics, params=params, tags=tags)
    return {}


def _log(
    client: Client,
    run_id: str,
    *,
    metrics: Mapping[str, list[tuple[int, float, float]]] | None = None,
    params: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
) -> None:
    try:
        client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
    except ParamConflictError as e:
        raise _conflict(e, run_id) from None
    except NotFoundError:
        raise MlflowApiError("RESOURCE_DOES_NOT_EXIST", f"Run '{run_id}' not found") from None


def log_inputs(call: Call) -> Mapping[str, Any]:
    run_id = _run_id(call.fields)
    get_run_or_404(call.client, run_id)
    for item in call.fields.items("datasets"):
        dataset = item.get("dataset")
        if not isinstance(dataset, Mapping):
            raise MlflowApiError("INVALID_PARAMETER_VALUE", "every dataset input needs a 'dataset'")
        ds = Fields(dataset)
        name, digest = ds.text("name"), ds.text("digest")
        input_tags = Fields(item).key_values("tags")
        call.client.add_dataset_record(
            DatasetRecord(
                run_id=run_id,
                name=name,
                fingerprint=f"mlflow:{digest}",
                kind="mlflow",
                n_rows=None,
                meta={
                    "digest": digest,
                    "source_type": ds.text("source_type", required=False),
                    "source": ds.text("source", required=False),
                    "schema": ds.text("schema", required=False),
                    "profile": ds.text("profile", required=False),
                    "input_tags": input_tags,
                },
            )
        )
    return {}


def log_outputs(call: Call) -> Mapping[str, Any]:
    # a logged model already names its source run; outputs add nothing labline keeps apart
    get_run_or_404(call.client, _run_id(call.fields))
    return {}


def log_model(call: Call) -> Mapping[str, Any]:
    """MLflow 2.x: append the model's MLmodel description to the run's model history tag."""
    run_id = _run_id(call.fields)
    run = get_run_or_404(call.client, run_id)
    model_json = call.fields.text("model_json")
    try:
        entry = json.loads(model_json)
    except ValueError:
        raise MlflowApiError("INVALID_PARAMETER_VALUE", "model_json is not valid JSON") from None
    history = json.loads(run.tags.get(LOG_MODEL_HISTORY_TAG, "[]"))
    history.append(entry)
    call.client.set_tag(run_id, LOG_MODEL_HISTORY_TAG, json.dumps(history))
    return {}


def get_metric_history(call: Call) -> Mapping[str, Any]:
    fields = call.fields
    run_id = _run_id(fields)
    key = fields.text("metric_key")
    max_results = fields.integer("max_results", default=25000)
    if max_results < 1:
        raise MlflowApiError("INVALID_PARAMETER_VALUE", "max_results must be positive")
    token = fields.optional_text("page_token")
    offset = 0
    if token:
        try:
            offset = int(token)
        except ValueError:
            raise MlflowApiError("INVALID_PARAMETER_VALUE", "Invalid page token") from None
    get_run_or_404(call.client, run_id)
    try:
        series = call.client.get_metric_series(run_id, key)
    except NotFoundError:
        return {"metrics": []}
    end = min(len(series), offset + max_results)
    metrics = [
        metric_json(
            key,
            float(series.values[i]),
            round(float(series.timestamps[i]) * 1000) if math.isfinite(series.timestamps[i]) else 0,
            int(series.steps[i]),
        )
        for i in range(offset, end)
    ]
    out: dict[str, Any] = {"metrics": metrics}
    if end < len(series):
        out["next_page_token"] = str(end)
    return out


_R, _W = Permission.READ, Permission.WRITE_RUNS
RUN_ENDPOINTS = (
    Endpoint("/runs/create", ("POST",), _W, create_run),
    Endpoint("/runs/get", ("GET",), _R, get_run),
    Endpoint("/runs/update", ("POST",), _W, update_run),
    Endpoint("/runs/delete", ("POST",), _W, delete_run),
    Endpoint("/runs/restore", ("POST",), _W, restore_run),
    Endpoint("/runs/search", ("GET", "POST"), _R, search_runs),
    Endpoint("/runs/log-metric", ("POST",), _W, log_metric),
    Endpoint("/runs/log-parameter", ("POST",), _W, log_param),
    Endpoint("/runs/set-tag", ("POST",), _W, set_tag),
    Endpoint("/runs/delete-tag", ("POST",), _W, delete_tag),
    Endpoint("/runs/log-batch", ("POST",), _W, log_batch),
    Endpoint("/runs/log-inputs", ("POST",), _W, log_inputs),
    Endpoint("/runs/outputs", ("POST",), _W, log_outputs),
    Endpoint("/runs/log-model", ("POST",), _W, log_model),
    Endpoint("/metrics/get-history", ("GET",), _R, get_metric_history),
)
