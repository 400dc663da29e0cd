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
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "deep"))
        for name in ("roc.csv", os.path.join("deep", "pr.csv")):
            with open(os.path.join(tmp, name), "w") as f:
                f.write("x\n")
        mlflow.log_artifacts(tmp, artifact_path="plots")
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
client.set_experiment_tag(exp_id, "mlflow.note.content", "from 2.x")
pages, token = [], None
while True:  # one run per page
    page = client.search_runs(
        [exp_id], order_by=["attributes.start_time ASC"], max_results=1, page_token=token
    )
    pages.append([r.info.run_name for r in page])
    token = page.token
    if not token:
        break
try:  # over MLflow's limit: refused by the server as MLflow's own server refuses it
    client._tracking_client.store.log_batch(
        parent.info.run_id,
        metrics=[mlflow.entities.Metric("m", 1.0, 0, i) for i in range(1001)],
        params=[],
        tags=[],
    )
    over_limit = None
except MlflowException as e:
    over_limit = [e.error_code, "at most 1000 metrics" in e.message]
card = client.create_registered_model("mlflow2-card", tags={"team": "cv"}, description="later")
client.set_registered_model_tag("mlflow2-card", "stage", "dev")
card = client.get_registered_model("mlflow2-card")
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
    pages=pages,
    over_limit=over_limit,
    experiment_tags=client.get_experiment(exp_id).tags,
    card=[card.description, card.tags, len(card.latest_versions or [])],
    plots=sorted(f.path for f in client.list_artifacts(parent.info.run_id, "plots")),
    searched=[m.name for m in client.search_registered_models("name LIKE 'mlflow2-%'")],
)
print(json.dumps(out))
sys.exit(0)
