"""Experiments (with their tags), run lifecycle calls and registered models before their first
version, through the unmodified mlflow 3 client against a real labline server; the data is then
checked through labline. Raw requests check MLflow's error format and status codes."""

from __future__ import annotations

from typing import Any
from typing import Any as MlflowServer  # the fixture type of conftest.py

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException


def test_experiment_tags_and_lifecycle_reach_labline(mlflow_server: MlflowServer, as_role) -> None:
    client = MlflowClient()
    exp_id = client.create_experiment("mlflow-exp-tags", tags={"team": "vision"})
    client.set_experiment_tag(exp_id, "mlflow.note.content", "# Digits\nbaseline first")
    client.set_experiment_tag(exp_id, "team", "nlp")  # last write wins
    client.set_experiment_tag(exp_id, "scratch", "x")
    client.delete_experiment_tag(exp_id, "scratch")
    got = client.get_experiment(exp_id)
    assert got.tags == {"team": "nlp", "mlflow.note.content": "# Digits\nbaseline first"}
    assert client.get_experiment_by_name("mlflow-exp-tags").tags == got.tags
    found = client.search_experiments(filter_string="name = 'mlflow-exp-tags'")
    assert [e.tags for e in found] == [got.tags]
    with pytest.raises(MlflowException) as e:
        client.delete_experiment_tag(exp_id, "scratch")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    mlflow.set_experiment(experiment_id=exp_id)
    mlflow.set_experiment_tags({"stage": "dev"})  # the fluent API: one call per tag

    client.rename_experiment(exp_id, "mlflow-exp-renamed")
    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    assert "mlflow-exp-renamed" not in [e.name for e in client.search_experiments()]
    deleted = client.search_experiments(view_type=mlflow.entities.ViewType.DELETED_ONLY)
    assert [e.experiment_id for e in deleted] == [exp_id]
    client.restore_experiment(exp_id)

    with mlflow_server.client() as lab:
        exp = lab.get_experiment(int(exp_id))
        assert exp.name == "mlflow-exp-renamed" and not exp.deleted
        assert dict(exp.tags) == {
            "team": "nlp",
            "mlflow.note.content": "# Digits\nbaseline first",
            "stage": "dev",
        }


def test_the_default_experiment_takes_tags_before_it_exists(as_role) -> None:
    client = MlflowClient()
    client.set_experiment_tag("0", "purpose", "scratch runs")
    assert client.get_experiment("0").tags["purpose"] == "scratch runs"


def test_run_delete_restore_delete_tag_kill_and_log_inputs(
    mlflow_server: MlflowServer, as_role
) -> None:
    mlflow.set_experiment("mlflow-run-lifecycle")
    client = MlflowClient()
    frame = pd.DataFrame({"x": np.arange(4.0), "y": [0, 1, 0, 1]})
    dataset = mlflow.data.from_pandas(frame, name="toy", targets="y")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training")
        mlflow.set_tag("temp", "1")
    run_id = run.info.run_id
    client.delete_tag(run_id, "temp")
    assert "temp" not in client.get_run(run_id).data.tags
    inputs = client.get_run(run_id).inputs.dataset_inputs
    assert [(i.dataset.name, i.dataset.digest) for i in inputs] == [("toy", dataset.digest)]
    assert {t.key: t.value for t in inputs[0].tags}["mlflow.data.context"] == "training"
    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    exp_id = run.info.experiment_id
    assert [r.info.run_id for r in client.search_runs([exp_id])] == []
    client.restore_run(run_id)
    assert [r.info.run_id for r in client.search_runs([exp_id])] == [run_id]
    killed = client.create_run(exp_id, run_name="to-kill")
    client.set_terminated(killed.info.run_id, "KILLED")
    client.update_run(killed.info.run_id, name="was-killed")
    got = client.get_run(killed.info.run_id)
    assert (got.info.status, got.info.run_name) == ("KILLED", "was-killed")

    with mlflow_server.client() as lab:
        assert "temp" not in lab.get_run(run_id).tags
        (record,) = lab.list_datasets(run_id)
        assert record.name == "toy"
        assert lab.get_run(killed.info.run_id).status.value == "failed"


def test_registered_model_without_versions_card_search_and_delete(
    mlflow_server: MlflowServer, as_role
) -> None:
    client = MlflowClient()
    made = client.create_registered_model(
        "mlflow-card", tags={"team": "vision"}, description="digits classifier"
    )
    assert (made.name, made.description, made.tags) == (
        "mlflow-card",
        "digits classifier",
        {"team": "vision"},
    )
    with pytest.raises(MlflowException) as e:
        client.create_registered_model("mlflow-card")
    assert e.value.error_code == "RESOURCE_ALREADY_EXISTS"
    client.update_registered_model("mlflow-card", description="digits, v2 data")
    client.set_registered_model_tag("mlflow-card", "stage", "dev")
    client.delete_registered_model_tag("mlflow-card", "team")
    got = client.get_registered_model("mlflow-card")
    assert (got.description, got.tags, got.latest_versions) == (
        "digits, v2 data",
        {"stage": "dev"},
        [],
    )
    assert got.last_updated_timestamp >= got.creation_timestamp
    found = client.search_registered_models(filter_string="name = 'mlflow-card'")
    assert [(m.name, m.description) for m in found] == [("mlflow-card", "digits, v2 data")]
    with pytest.warns(FutureWarning):  # MLflow deprecates stages, not this call's answer
        assert client.get_latest_versions("mlflow-card") == []
    with pytest.raises(MlflowException) as e:
        client.delete_registered_model_tag("mlflow-card", "team")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    with mlflow_server.client() as lab:
        model = lab.get_model("mlflow-card")
        assert (model.latest_version, model.description) == (None, "digits, v2 data")
        assert dict(model.tags) == {"stage": "dev"} and model.created_by == "researcher-user"

    as_role("viewer")
    with pytest.raises(MlflowException) as e:
        MlflowClient().delete_registered_model("mlflow-card")
    assert e.value.error_code == "PERMISSION_DENIED"
    as_role("researcher")
    client.delete_registered_model("mlflow-card")
    with pytest.raises(MlflowException) as e:
        client.get_registered_model("mlflow-card")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with mlflow_server.client() as lab:
        assert "mlflow-card" not in [m.name for m in lab.list_models()]


def test_errors_use_mlflow_codes_and_statuses(mlflow_server: MlflowServer) -> None:
    def call(method: str, path: str, role: str = "researcher", **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {mlflow_server.tokens[role]}"}
        url = f"{mlflow_server.url}/api/2.0/mlflow/{path}"
        return httpx.request(method, url, headers=headers, timeout=30, **kwargs)

    cases = [
        (
            call("GET", "experiments/get", params={"experiment_id": "987654"}),
            404,
            "RESOURCE_DOES_NOT_EXIST",
        ),
        (call("GET", "runs/get", params={"run_id": "0" * 32}), 404, "RESOURCE_DOES_NOT_EXIST"),
        (
            call(
                "POST",
                "runs/log-metric",
                json={"run_id": "0" * 32, "key": "x", "value": 1, "timestamp": 1},
            ),
            404,
            "RESOURCE_DOES_NOT_EXIST",
        ),
        (call("POST", "experiments/create", json={}), 400, "INVALID_PARAMETER_VALUE"),
        (
            call("POST", "experiments/create", json={"name": "Default"}),
            400,
            "RESOURCE_ALREADY_EXISTS",
        ),
        (
            call("POST", "registered-models/rename", json={"name": "a", "new_name": "b"}),
            400,
            "BAD_REQUEST",
        ),
        (
            call("POST", "experiments/create", "viewer", json={"name": "nope"}),
            403,
            "PERMISSION_DENIED",
        ),
        (call("POST", "experiments/create", content=b"{not json"), 400, "MALFORMED_REQUEST"),
        (call("GET", "no-such-endpoint"), 404, "ENDPOINT_NOT_FOUND"),
    ]
    for response, status, code in cases:
        assert (response.status_code, response.json()["error_code"]) == (status, code), (
            response.text
        )
        assert set(response.json()) == {"error_code", "message"}
    unauthenticated = httpx.get(
        f"{mlflow_server.url}/api/2.0/mlflow/experiments/search", timeout=30
    )
    assert unauthenticated.status_code == 401
