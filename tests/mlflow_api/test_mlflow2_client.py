"""The MLflow 2.x client (mlflow-skinny<3, in its own venv made by scripts/setup.sh) runs
ordinary client code against the same labline server; the data is checked in labline."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any as MlflowServer  # the fixture type of conftest.py

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYTHON2 = ROOT / ".venvs" / "mlflow2" / "bin" / "python"


@pytest.mark.slow
def test_mlflow_2x_client_logs_searches_registers_and_loads(mlflow_server: MlflowServer) -> None:
    if not PYTHON2.exists():
        pytest.skip("no .venvs/mlflow2: run scripts/setup.sh (it installs mlflow-skinny<3)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PYTHON"))}
    env.update(
        MLFLOW_TRACKING_URI=mlflow_server.url,
        MLFLOW_TRACKING_TOKEN=mlflow_server.tokens["researcher"],
    )
    proc = subprocess.run(
        [str(PYTHON2), str(Path(__file__).with_name("_mlflow2_client.py"))],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["client"].startswith("2.")
    assert out["found"] == [out["parent"]]
    assert out["history"] == [[0, 1.0], [1, 0.5], [2, 1 / 3], [3, 0.25]]
    assert out["nan"] and out["inf"] and out["status"] == "FINISHED"
    assert out["artifacts"] == ["config.json", "model", "notes.txt", "plots"]
    assert out["plots"] == ["plots/deep", "plots/roc.csv"]
    assert out["pages"] == [["parent"], ["child"], ["boom"]]
    assert out["over_limit"] == ["INVALID_PARAMETER_VALUE", True]
    assert out["experiment_tags"] == {"mlflow.note.content": "from 2.x"}
    assert out["card"] == ["later", {"team": "cv", "stage": "dev"}, 0]
    assert out["searched"] == ["mlflow2-card", "mlflow2-model"]
    assert out["source"] == f"runs:/{out['parent']}/model"
    assert out["same_predictions"] and out["conflict"] == "INVALID_PARAMETER_VALUE"
    assert out["failed"] == ["FAILED"]
    with mlflow_server.client() as lab:
        run = lab.get_run(out["parent"])
        assert run.experiment == "mlflow2-client" and run.params["lr"] == "0.1"
        assert run.created_by == "researcher-user"
        assert lab.get_run(out["child"]).parent_id == run.id
        version = lab.get_model_version("mlflow2-model", int(out["version"]))
        assert version.run_id == run.id
        assert lab.check_parity("mlflow2-model", version.version).passed
        assert lab.get_experiment("mlflow2-client").tags == {"mlflow.note.content": "from 2.x"}
        assert lab.get_model("mlflow2-card").tags == {"team": "cv", "stage": "dev"}
        assert {a.path for a in lab.list_artifacts(run.id)} >= {"plots/deep/pr.csv"}
