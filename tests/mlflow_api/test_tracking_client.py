"""The unmodified mlflow 3 client against the MLflow API of a labline server on 127.0.0.1;
the data is then checked through labline."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any as MlflowServer  # the fixture type of conftest.py

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException


def test_experiments_runs_params_metrics_tags_reach_labline(
    mlflow_server: MlflowServer, as_role, tmp_path: Path
) -> None:
    exp_id = mlflow.set_experiment("mlflow-basics").experiment_id
    assert exp_id != "0"
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_param("lr", 0.1)
        mlflow.log_params({"layers": 3, "opt": "adam"})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.9, "weird": float("nan")}, step=4)
        mlflow.log_metric("up", float("inf"))
        mlflow.log_metric("down", float("-inf"))
        mlflow.set_tag("stage", "dev")
        mlflow.set_tags({"team": "vision", "stage": "final"})
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_metric("loss", 0.5, step=0, synchronous=False)
            mlflow.log_param("child", "yes", synchronous=False)
        (tmp_path / "notes.txt").write_text("hello")
        mlflow.log_artifact(str(tmp_path / "notes.txt"))
        mlflow.log_dict({"a": 1}, "config/settings.json")
        (tmp_path / "plots" / "deep").mkdir(parents=True)
        (tmp_path / "plots" / "roc.csv").write_text("fpr,tpr\n0,0\n1,1\n")
        (tmp_path / "plots" / "deep" / "pr.csv").write_text("p,r\n")
        mlflow.log_artifacts(str(tmp_path / "plots"), artifact_path="plots")
    client = MlflowClient()
    got = client.get_run(parent.info.run_id)
    assert got.info.status == "FINISHED"
    assert got.info.run_name == "parent"
    assert got.data.params == {"lr": "0.1", "layers": "3", "opt": "adam"}
    assert got.data.metrics["loss"] == pytest.approx(0.2)
    assert math.isnan(got.data.metrics["weird"])
    assert got.data.metrics["up"] == math.inf and got.data.metrics["down"] == -math.inf
    assert got.data.tags["stage"] == "final" and got.data.tags["team"] == "vision"
    history = client.get_metric_history(parent.info.run_id, "loss")
    assert [m.step for m in history] == [0, 1, 2, 3, 4]
    assert [m.value for m in history] == pytest.approx([1, 1 / 2, 1 / 3, 1 / 4, 1 / 5])
    files = {f.path for f in client.list_artifacts(parent.info.run_id)}
    assert files == {"notes.txt", "config", "plots"}
    plots = {(f.path, f.is_dir) for f in client.list_artifacts(parent.info.run_id, "plots")}
    assert plots == {("plots/roc.csv", False), ("plots/deep", True)}
    local = client.download_artifacts(parent.info.run_id, "config/settings.json", str(tmp_path))
    assert Path(local).read_text() == '{\n  "a": 1\n}'

    with mlflow_server.client() as lab:
        run = lab.get_run(parent.info.run_id)
        assert run.experiment == "mlflow-basics" and run.status.value == "finished"
        assert run.params["lr"] == "0.1" and run.tags["team"] == "vision"
        assert run.created_by == "researcher-user"
        series = lab.get_metric_series(run.id, "loss")
        assert list(series.steps) == [0, 1, 2, 3, 4]
        assert math.isnan(lab.get_metric_series(run.id, "weird").values[0])
        kid = lab.get_run(child.info.run_id)
        assert kid.parent_id == run.id and kid.params == {"child": "yes"}
        assert {a.path for a in lab.list_artifacts(run.id)} == {
            "notes.txt",
            "config/settings.json",
            "plots/roc.csv",
            "plots/deep/pr.csv",
        }
        found = lab.search_runs("mlflow-basics", filter="params.lr = 0.1")
        assert [r.id for r in found] == [run.id]


def test_failed_run_status_and_search_filter_order_pagination(as_role) -> None:
    mlflow.set_experiment("mlflow-search")
    ids = []
    for i in range(5):
        with mlflow.start_run(run_name=f"r{i}") as run:
            mlflow.log_param("i", i)
            mlflow.log_metric("score", i / 10)
            mlflow.set_tag("parity", "even" if i % 2 == 0 else "odd")
        ids.append(run.info.run_id)
    with pytest.raises(RuntimeError), mlflow.start_run(run_name="boom") as failed:
        raise RuntimeError("boom")
    client = MlflowClient()
    assert client.get_run(failed.info.run_id).info.status == "FAILED"
    exp = mlflow.get_experiment_by_name("mlflow-search")
    page = client.search_runs(
        [exp.experiment_id],
        filter_string="tags.parity = 'even' and metrics.score >= 0.1",
        order_by=["metrics.score DESC"],
        max_results=1,
    )
    assert [r.info.run_id for r in page] == [ids[4]]
    assert page.token
    page2 = client.search_runs(
        [exp.experiment_id],
        filter_string="tags.parity = 'even' and metrics.score >= 0.1",
        order_by=["metrics.score DESC"],
        max_results=1,
        page_token=page.token,
    )
    assert [r.info.run_id for r in page2] == [ids[2]]
    assert not page2.token
    df = mlflow.search_runs(
        experiment_ids=[exp.experiment_id], filter_string="attributes.status = 'FAILED'"
    )
    assert list(df["run_id"]) == [failed.info.run_id]
    by_name = client.search_runs([exp.experiment_id], filter_string="attributes.run_name = 'r3'")
    assert [r.info.run_id for r in by_name] == [ids[3]]
    newest = client.search_runs([exp.experiment_id], order_by=["attributes.start_time DESC"])
    assert newest[0].info.run_id == failed.info.run_id
    since = client.search_runs(
        [exp.experiment_id],
        filter_string=f"attributes.start_time > {int(time.time() * 1000) + 60_000}",
    )
    assert list(since) == []

    second = mlflow.set_experiment("mlflow-search-2")
    with mlflow.start_run(run_name="elsewhere") as extra:
        mlflow.log_metric("score", 0.95)
        mlflow.set_tag("parity", "even")
    both = [exp.experiment_id, second.experiment_id]
    first_page = client.search_runs(
        both, "tags.parity = 'even'", order_by=["metrics.score DESC"], max_results=2
    )
    rest = client.search_runs(
        both, "tags.parity = 'even'", order_by=["metrics.score DESC"], page_token=first_page.token
    )
    found = [r.info.run_id for r in [*first_page, *rest]]
    assert found == [extra.info.run_id, ids[4], ids[2], ids[0]]
    frame = mlflow.search_runs(
        experiment_names=["mlflow-search", "mlflow-search-2"], filter_string="metrics.score > 0.25"
    )
    assert set(frame["run_id"]) == {extra.info.run_id, ids[3], ids[4]}


def test_unknown_experiment_by_name_is_404_and_default_exists(as_role) -> None:
    client = MlflowClient()
    assert client.get_experiment_by_name("no-such-experiment") is None
    assert client.get_experiment("0").name == "Default"
    with pytest.raises(MlflowException) as e:
        client.get_experiment("999999")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as e:
        client.get_run("0" * 32)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_params_are_write_once_but_same_value_is_accepted(as_role) -> None:
    mlflow.set_experiment("mlflow-params")
    with mlflow.start_run() as run:
        mlflow.log_param("lr", "0.1")
        mlflow.log_param("lr", "0.1")
        with pytest.raises(MlflowException) as e:
            mlflow.log_param("lr", "0.2")
        assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert MlflowClient().get_run(run.info.run_id).data.params == {"lr": "0.1"}


def test_over_limit_log_batch_fails_like_mlflow_and_stores_nothing(
    mlflow_server: MlflowServer, as_role
) -> None:
    from mlflow.entities import Metric, Param, RunTag

    mlflow.set_experiment("mlflow-limits")
    client = MlflowClient()
    run = client.create_run(mlflow.get_experiment_by_name("mlflow-limits").experiment_id)
    store = client._tracking_client.store  # the REST store: one request, no client-side split
    now = int(time.time() * 1000)
    too_many = [Metric("m", float(i), now, i) for i in range(1001)]
    with pytest.raises(RestException) as e:
        store.log_batch(run.info.run_id, metrics=too_many, params=[], tags=[])
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "at most 1000 metrics" in e.value.message
    with pytest.raises(RestException) as e:
        store.log_batch(
            run.info.run_id,
            metrics=[Metric("ok", 1.0, now, 0)],
            params=[Param(f"p{i}", "x") for i in range(101)],
            tags=[],
        )
    assert "at most 100 params" in e.value.message
    with pytest.raises(RestException) as e:
        store.log_batch(
            run.info.run_id,
            metrics=[Metric(f"m{i}", 1.0, now, 0) for i in range(950)],
            params=[Param(f"p{i}", "x") for i in range(60)],
            tags=[],
        )
    assert "at most 1000 metrics, params, and tags" in e.value.message
    with pytest.raises(RestException) as e:
        store.log_batch(
            run.info.run_id,
            metrics=[],
            params=[Param(f"p{i}", "x" * 4000) for i in range(100)],
            tags=[RunTag(f"t{i}", "y" * 7000) for i in range(100)],
        )
    assert "must be at most 1000000 bytes" in e.value.message
    with mlflow_server.client() as lab:
        stored = lab.get_run(run.info.run_id)
        assert dict(stored.params) == {} and dict(stored.metrics) == {}


def test_viewer_token_reads_but_gets_permission_denied_on_writes(as_role) -> None:
    as_role("researcher")
    mlflow.set_experiment("mlflow-roles")
    with mlflow.start_run() as run:
        mlflow.log_metric("x", 1.0)
    as_role("viewer")
    client = MlflowClient()
    assert client.get_run(run.info.run_id).data.metrics == {"x": 1.0}
    with pytest.raises(MlflowException) as e:
        client.log_metric(run.info.run_id, "x", 2.0)
    assert e.value.error_code == "PERMISSION_DENIED"
    with pytest.raises(MlflowException) as e:
        client.create_experiment("viewer-made")
    assert e.value.error_code == "PERMISSION_DENIED"
