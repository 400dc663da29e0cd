"""MLflow 3 logged models and the registry through the unmodified mlflow client: an sklearn
model logged with ``mlflow.sklearn.log_model`` is registered (a labline package), aliased
through the parity gate and loaded back by MLflow and by labline."""

from __future__ import annotations

from typing import Any as MlflowServer  # the fixture type of conftest.py

import mlflow
import mlflow.sklearn
import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

# MLflow's own advice about type hints and integer columns, issued while it saves a model
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:mlflow.*")


@pytest.fixture(scope="module")
def iris_model() -> tuple[LogisticRegression, np.ndarray]:
    x, y = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=500).fit(x, y), x


def test_sklearn_log_model_register_alias_load(
    mlflow_server: MlflowServer, as_role, iris_model
) -> None:
    model, x = iris_model
    mlflow.set_experiment("mlflow-models")
    with mlflow.start_run() as run:
        mlflow.log_param("C", 1.0)
        info = mlflow.sklearn.log_model(model, name="iris", input_example=x[:5])
    client = MlflowClient()
    logged = client.get_logged_model(info.model_id)
    assert logged.status.to_int() == 2 or str(logged.status).endswith("READY")
    assert logged.source_run_id == run.info.run_id and logged.name == "iris"
    found = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id], filter_string="name = 'iris'", output_format="list"
    )
    assert [m.model_id for m in found] == [info.model_id]
    client.set_logged_model_tags(info.model_id, {"team": "vision"})
    assert client.get_logged_model(info.model_id).tags["team"] == "vision"

    mv = mlflow.register_model(
        f"runs:/{run.info.run_id}/iris", "iris-mlflow", tags={"data": "iris-v1"}
    )
    assert mv.version == "1" and mv.status == "READY"
    got = client.get_model_version("iris-mlflow", "1")
    assert got.run_id == run.info.run_id and got.source == f"models:/{info.model_id}"
    assert got.tags["data"] == "iris-v1" and got.tags["labline.digest"].startswith("sha256:")
    tagged = client.search_model_versions("name = 'iris-mlflow' AND tags.data = 'iris-v1'")
    assert [v.version for v in tagged] == ["1"]
    tags = client.get_logged_model(info.model_id).tags
    assert '"iris-mlflow"' in tags["mlflow.modelVersions"]
    found = client.search_registered_models(filter_string="name LIKE 'iris-%'")
    assert [(m.name, m.latest_versions[0].version) for m in found] == [("iris-mlflow", "1")]
    by_run = client.search_model_versions(f"run_id = '{run.info.run_id}'")
    assert [(v.name, v.version) for v in by_run] == [("iris-mlflow", "1")]
    with pytest.raises(MlflowException) as e:  # versions are immutable: the model stays
        client.delete_registered_model("iris-mlflow")
    assert e.value.error_code == "INVALID_STATE"

    as_role("researcher")
    with pytest.raises(MlflowException) as e:  # moving an alias needs the promote right
        MlflowClient().set_registered_model_alias("iris-mlflow", "production", "1")
    assert e.value.error_code == "PERMISSION_DENIED"
    as_role("engineer")
    MlflowClient().set_registered_model_alias("iris-mlflow", "production", "1")
    assert MlflowClient().get_model_version_by_alias("iris-mlflow", "production").version == "1"

    loaded = mlflow.sklearn.load_model("models:/iris-mlflow@production")
    assert (loaded.predict(x[:20]) == model.predict(x[:20])).all()
    pyfunc = mlflow.pyfunc.load_model("models:/iris-mlflow/1")
    assert (np.asarray(pyfunc.predict(x[:3])) == model.predict(x[:3])).all()

    with mlflow_server.client() as lab:  # the same version, in labline
        version = lab.get_model_version("iris-mlflow", 1)
        assert version.run_id == run.info.run_id
        assert lab.get_alias("iris-mlflow", "production").version == 1
        assert lab.check_parity("iris-mlflow", 1).passed
        served = lab.load_model("iris-mlflow@production")
        assert (np.asarray(served.predict(x[:20])) == model.predict(x[:20])).all()
        assert lab.alias_history("iris-mlflow", "production")[-1].actor == "engineer-user"


def test_a_model_without_input_example_is_refused_with_the_reason(as_role, iris_model) -> None:
    model, _ = iris_model
    mlflow.set_experiment("mlflow-models-bare")
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(model, name="bare", pip_requirements=["scikit-learn"])
    with pytest.raises(MlflowException) as e:
        mlflow.register_model(info.model_uri, "bare-model")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "input_example" in e.value.message


def test_logged_model_without_a_run_and_unknown_ids(as_role, iris_model) -> None:
    model, x = iris_model
    mlflow.set_experiment("mlflow-models-free")
    info = mlflow.sklearn.log_model(
        model,
        name="free",
        input_example=x[:3],
        pip_requirements=["scikit-learn"],
        params={"C": 1.0},
        tags={"team": "vision", "scratch": "x"},
        registered_model_name="free-model",  # log, then register, in one call
    )
    client = MlflowClient()
    logged = client.get_logged_model(info.model_id)
    assert not logged.source_run_id and logged.params == {"C": "1.0"}
    client.delete_logged_model_tag(info.model_id, "scratch")
    assert "scratch" not in client.get_logged_model(info.model_id).tags
    files = {f.path for f in client.list_logged_model_artifacts(info.model_id)}
    assert "MLmodel" in files and len(files) > 1
    assert client.get_registered_model("free-model").latest_versions[0].version == "1"
    loaded = mlflow.sklearn.load_model(info.model_uri)
    assert (loaded.predict(x[:5]) == model.predict(x[:5])).all()
    assert (
        mlflow.sklearn.load_model("models:/free-model/1").predict(x[:5]) == model.predict(x[:5])
    ).all()
    with pytest.raises(MlflowException) as e:
        client.get_logged_model("m-" + "0" * 32)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as e:
        client.get_model_version("no-such-model", "1")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
