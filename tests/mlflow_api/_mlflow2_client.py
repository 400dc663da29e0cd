"""Ordinary MLflow 2.x client code, run by the 2.x client's own interpreter
(``.venvs/mlflow2``) against the labline server named by ``MLFLOW_TRACKING_URI``; prints the
ids it made as one JSON line for the test to check in labline."""

import json
import math
import os
import sys
import tempfile

import mlflow
import numpy as np
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression

out = {"client": mlflow.__version__}
mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
mlflow.set_experiment("mlflow2-client")
with mlflow.start_run(run_name="parent") as parent:
    mlflow.log_param("lr", 0.1)
    mlflow.log_params({"layers": 3})
    for step in range(4):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.log_metrics({"acc": 0.75, "nan": float("nan"), "inf": float("inf")})
    mlflow.set_tags({"team": "vision"})
    with mlflow.start_run(run_name="child", nested=True) as child:
        mlflow.log_metric("loss", 0.5, synchronous=False)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "notes.txt")
        with open(path, "w") as f:
            f.write("from 2.x")
        mlflow.log_artifact(path)
    mlflow.log_dict({"a": 1}, "config.json")
    x = np.random.RandomState(0).rand(40, 3)
    y = (x[:, 0] > 0.5).astype(int)
    model = LogisticRegression().fit(x, y)
    mlflow.sklearn.log_model(model, "model", input_example=x[:5])
try:
    with mlflow.start_run(run_name="boom"):
        raise RuntimeError("boom")
except RuntimeError:
    pass
client = MlflowClient()
exp_id = parent.info.experiment_id
found = client.search_runs([exp_id], "metrics.acc > 0.5", order_by=["metrics.acc DESC"])
history = client.get_metric_history(parent.info.run_id, "loss")
got = client.get_run(parent.info.run_id)
mv = mlflow.register_model(f"runs:/{parent.info.run_id}/model", "mlflow2-model")
loaded = mlflow.sklearn.load_model(f"models:/mlflow2-model/{mv.version}")
try:
    client.log_batch(parent.info.run_id, params=[mlflow.entities.Param("lr", "0.2")])
    conflict = None
except MlflowException as e:
    conflict = e.error_code
out.update(
    parent=parent.info.run_id,
    child=child.info.run_id,
    found=[r.info.run_id for r in found],
    history=[(m.step, m.value) for m in history],
    nan=math.isnan(got.data.metrics["nan"]),
    inf=got.data.metrics["inf"] == math.inf,
    status=got.info.status,
    artifacts=sorted(f.path for f in client.list_artifacts(parent.info.run_id)),
    version=mv.version,
    source=mv.source,
    same_predictions=bool((loaded.predict(x) == model.predict(x)).all()),
    conflict=conflict,
    failed=[r.info.status for r in client.search_runs([exp_id], "attributes.run_name = 'boom'")],
)
print(json.dumps(out))
sys.exit(0)
