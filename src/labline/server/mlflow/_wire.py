"""The MLflow wire format: reading request fields and writing labline records as MLflow JSON.

MLflow's client sends POST bodies as protobuf-JSON and GET fields as query parameters; int64
fields may arrive as numbers or strings, doubles as numbers or ``"NaN"``/``"Infinity"``.
Answers follow MLflow's own server: int64 as numbers, non-finite doubles as those strings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ... import Client, Experiment, Run, RunStatus
from ._errors import MlflowApiError

__all__ = [
    "DEFAULT_EXPERIMENT_ID",
    "RUN_NAME_TAG",
    "Fields",
    "artifact_root",
    "experiment_id_of",
    "experiment_json",
    "from_ms",
    "key_value_list",
    "list_folder",
    "metric_json",
    "mlflow_double",
    "mlflow_status",
    "run_info_json",
    "run_json",
    "to_ms",
]

DEFAULT_EXPERIMENT_ID = "0"
"""MLflow's default experiment: labline's experiment ``default``."""
DEFAULT_EXPERIMENT_NAMES = ("default", "Default")
RUN_NAME_TAG = "mlflow.runName"
PARENT_RUN_TAG = "mlflow.parentRunId"
USER_TAG = "mlflow.user"

_LABLINE_STATUS = {
    "RUNNING": RunStatus.RUNNING,
    "SCHEDULED": RunStatus.RUNNING,
    "FINISHED": RunStatus.FINISHED,
    "FAILED": RunStatus.FAILED,
    "KILLED": RunStatus.FAILED,
}
_MLFLOW_STATUS = {
    RunStatus.RUNNING: "RUNNING",
    RunStatus.STALE: "RUNNING",
    RunStatus.FINISHED: "FINISHED",
    RunStatus.FAILED: "FAILED",
}
KILLED_MARK = "killed (MLflow status KILLED)"


def _missing(name: str) -> MlflowApiError:
    return MlflowApiError(
        "INVALID_PARAMETER_VALUE",
        f"Missing value for required parameter '{name}'. "
        "See the API docs for more information about request parameters.",
    )


def _invalid(name: str, expected: str) -> MlflowApiError:
    return MlflowApiError(
        "INVALID_PARAMETER_VALUE", f"Invalid value for parameter '{name}': {expected}"
    )


class Fields:
    """The fields of one request: the JSON body of a POST/PATCH/DELETE, or the query of a GET
    (repeated query keys are lists), with typed getters that answer MLflow's 400 errors."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data

    def raw(self, name: str) -> Any:
        """The field as sent, or None."""
        return self.data.get(name)

    def text(self, name: str, *, default: str | None = None, required: bool = True) -> str:
        """A string field (``required`` unless a default is given)."""
        value = self.data.get(name)
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if value is None or value == "":
            if default is not None or not required:
                return default if default is not None else ""
            raise _missing(name)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise _invalid(name, "expected a string")
        return str(value)

    def optional_text(self, name: str) -> str | None:
        """A string field, or None when absent."""
        value = self.text(name, required=False)
        return value if value != "" or self.data.get(name) == "" else None

    def integer(self, name: str, *, default: int | None = None) -> int:
        """An int64 field sent as a number or a decimal string."""
        value = self.data.get(name)
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if value is None or value == "":
            if default is None:
                raise _missing(name)
            return default
        if isinstance(value, bool):
            raise _invalid(name, "expected an integer")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise _invalid(name, "expected an integer") from None
        if not isinstance(value, int) or not -(1 << 63) <= value < (1 << 63):
            raise _invalid(name, "expected a 64-bit integer")
        return value

    def double(self, name: str) -> float:
        """A double field: a number, or ``"NaN"``, ``"Infinity"``, ``"-Infinity"``."""
        value = self.data.get(name)
        if value is None:
            raise _missing(name)
        return parse_double(name, value)

    def items(self, name: str) -> list[Mapping[str, Any]]:
        """A repeated message field (a list of JSON objects); empty when absent."""
        value = self.data.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise _invalid(name, "expected a list of objects")
        return value

    def strings(self, name: str) -> list[str]:
        """A repeated string field; empty when absent."""
        value = self.data.get(name)
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
            raise _invalid(name, "expected a list of strings")
        return [str(v) for v in value]

    def key_values(self, name: str) -> dict[str, str]:
        """A repeated ``{key, value}`` field as a dict (a later duplicate key wins)."""
        out: dict[str, str] = {}
        for item in self.items(name):
            key = item.get("key")
            if not isinstance(key, str) or not key:
                raise _invalid(name, "every entry needs a non-empty 'key'")
            value = item.get("value", "")
            out[key] = "" if value is None else str(value)
        return out


def parse_double(name: str, value: Any) -> float:
    """A protobuf-JSON double: a number or one of the non-finite spellings."""
    if isinstance(value, bool):
        raise _invalid(name, "expected a number")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        spelled = {
            "nan": math.nan,
            "infinity": math.inf,
            "-infinity": -math.inf,
            "inf": math.inf,
            "-inf": -math.inf,
        }
        if value.strip().lower() in spelled:
            return spelled[value.strip().lower()]
        try:
            return float(value)
        except ValueError:
            pass
    raise _invalid(name, "expected a number")


def mlflow_double(value: float) -> float | str:
    """A double as MLflow's server writes it (non-finite values as strings)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def to_ms(when: datetime | None) -> int | None:
    """Milliseconds since the epoch (MLflow's time unit)."""
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    """An aware UTC datetime from milliseconds since the epoch."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def labline_status(name: str, value: str) -> RunStatus:
    """The labline status an MLflow run status becomes."""
    try:
        return _LABLINE_STATUS[value]
    except KeyError:
        raise _invalid(name, f"unknown run status {value!r}") from None


def mlflow_status(run: Run) -> str:
    """MLflow's name for a run's status (stale runs are still RUNNING to MLflow)."""
    if run.status is RunStatus.FAILED and run.error == KILLED_MARK:
        return "KILLED"
    return _MLFLOW_STATUS[run.status]


def experiment_id_of(exp: Experiment) -> str:
    """The MLflow id of a labline experiment (``default`` is MLflow's ``"0"``)."""
    return DEFAULT_EXPERIMENT_ID if exp.name == "default" else str(exp.id)


def artifact_root(experiment_id: str) -> str:
    """An experiment's artifact location behind the artifact proxy."""
    return f"mlflow-artifacts:/{experiment_id}"


def experiment_json(exp: Experiment) -> dict[str, Any]:
    """An MLflow ``Experiment`` message (with the experiment's tags)."""
    exp_id = experiment_id_of(exp)
    created = to_ms(exp.created_at)
    return {
        "experiment_id": exp_id,
        "name": "Default" if exp_id == DEFAULT_EXPERIMENT_ID else exp.name,
        "artifact_location": artifact_root(exp_id),
        "lifecycle_stage": "deleted" if exp.deleted else "active",
        "creation_time": created,
        "last_update_time": to_ms(exp.deleted_at) or created,
        "tags": key_value_list(exp.tags),
    }


def run_info_json(run: Run, experiment_id: str) -> dict[str, Any]:
    """An MLflow ``RunInfo`` message."""
    info: dict[str, Any] = {
        "run_id": run.id,
        "run_uuid": run.id,
        "run_name": run.name,
        "experiment_id": experiment_id,
        "user_id": run.created_by,
        "status": mlflow_status(run),
        "start_time": to_ms(run.created_at),
        "artifact_uri": f"{artifact_root(experiment_id)}/{run.id}/artifacts",
        "lifecycle_stage": "deleted" if run.deleted else "active",
    }
    if run.ended_at is not None:
        info["end_time"] = to_ms(run.ended_at)
    return info


def metric_json(key: str, value: float, timestamp_ms: int, step: int) -> dict[str, Any]:
    """An MLflow ``Metric`` message."""
    return {"key": key, "value": mlflow_double(value), "timestamp": timestamp_ms, "step": step}


def run_json(run: Run, experiment_id: str) -> dict[str, Any]:
    """An MLflow ``Run`` message: info, data (latest metrics, params, tags) and inputs."""
    stamp = to_ms(run.heartbeat_at or run.ended_at or run.created_at) or 0
    tags = dict(run.tags)
    tags[RUN_NAME_TAG] = run.name
    if run.parent_id is not None:
        tags[PARENT_RUN_TAG] = run.parent_id
    tags.setdefault(USER_TAG, run.created_by)
    return {
        "info": run_info_json(run, experiment_id),
        "data": {
            "metrics": [
                metric_json(k, m.last_value, stamp, m.last_step) for k, m in run.metrics.items()
            ],
            "params": [{"key": k, "value": v} for k, v in run.params.items()],
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        },
        "inputs": {"dataset_inputs": []},
    }


def key_value_list(pairs: Mapping[str, str] | Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """``[{"key", "value"}]`` from a mapping or pairs."""
    items = pairs.items() if isinstance(pairs, Mapping) else pairs
    return [{"key": k, "value": v} for k, v in items]


def list_folder(client: Client, run_id: str, prefix: str) -> list[dict[str, Any]]:
    """MLflow ``FileInfo`` entries of the files and folders directly under ``prefix`` (a
    folder of the run's artifacts, ``""`` or ending in ``/``)."""
    entries: dict[str, dict[str, Any]] = {}
    for record in client.list_artifacts(run_id):
        if not record.path.startswith(prefix):
            continue
        head, slash, _ = record.path[len(prefix) :].partition("/")
        if slash:
            entries.setdefault(head, {"path": head, "is_dir": True})
        else:
            entries[head] = {"path": head, "is_dir": False, "file_size": record.size}
    return [entries[k] for k in sorted(entries)]
