"""The README's main job: ``labline demo`` runs the whole loop, serving included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from labline.core._alerts import ALERT_NAMES


@pytest.mark.timeout(1800)  # every step of the loop, servers included; minutes on a busy machine
def test_demo_runs_the_whole_loop(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    out = subprocess.run(
        [sys.executable, "-m", "labline", "demo", "--home", str(home), "--json"],
        capture_output=True,
        text=True,
        timeout=1700,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout)
    assert {k: len(v) for k, v in summary["runs"].items()} == {"sgd": 5, "forest": 5, "mlp": 5}
    verdicts = {
        c["candidate"]: c["analysis"]["verdict"] for c in summary["comparison"]["comparisons"]
    }
    assert verdicts["digits:model=mlp"] == "better"
    assert summary["tampered_refused"] is True
    # registered after the comparison, from the run of the candidate it picked
    picked = summary["model"]["picked"]
    assert summary["model"]["run_id"] == summary["runs"][picked][0]
    served = summary["served"]
    assert served["predict_status"] == 200 and served["oip_status"] == 200
    assert served["digest_header"] == summary["model"]["digest"]
    assert str(served["oip_model_version"]) == str(summary["model"]["version"])
    assert len(served["predictions"]) == 3
    monitor = summary["monitor"]  # served with monitoring; shifted traffic drifts
    assert monitor["quiet_drifted_share"] < 0.1 < monitor["shifted_drifted_share"]
    assert monitor["matches_ref"] and monitor["drifted_features"] > 0
    assert monitor["estimated_accuracy"] < monitor["reference_accuracy"]
    assert monitor["alert_rules"] == list(ALERT_NAMES)
    assert monitor["promtool"] in (None, "SUCCESS")
    everyday = summary["everyday"]
    assert len(everyday["searched"]) == 3 and everyday["models_verified"] is True
    assert everyday["hypothesis_status"].startswith("evaluated")
    assert everyday["gc_runs_purged"] == 1
    loop = summary["review_loop"]  # calibrate → serve → replay → review → dataset → retrain
    assert loop["replayed"] > 0 and 0 < loop["deferred"] < loop["replayed"]
    assert loop["queued"] >= loop["deferred"] and loop["labelled"] == loop["queued"]
    assert loop["dataset"]["examples"] == loop["labelled"]
    assert loop["dataset"]["fingerprint"].startswith("sha256:")
    assert loop["accuracy_retrained"] > loop["accuracy_first"]
    ml = summary["mlflow"]  # MLflow client code against labline server, seen by labline
    assert ml["served"] and len(ml["runs"]) == 6 and ml["verdict"] == "better"
    assert ml["parity"] is True and ml["version_run"] in ml["runs"]
    assert ml["note"].startswith("Does C=1.0 beat") and ml["description"] == "digits, logistic C=1"
    team = summary["team"]  # a teammate with only URL + token, over labline server
    assert team["served"] and team["runs_seen"] >= 15 and team["predictions_match"]
    assert team["teammate_run_by"] == "teammate" and team["teammate_points"] == 1000
    # the review loop's results, read over HTTP: queue, labelled data (same fingerprint) and
    # the calibration behind it
    assert team["review_items"] > 0 and team["labelled_datasets"]
    assert team["labelled_table_matches"] is True and team["calibration_threshold"] is not None
    assert team["sweep_trials"] == 5 and team["sweep_run"] == "finished"  # Optuna over HTTP
    ui = summary["ui"]  # the last step: the web UI served on the demo's store
    assert ui["served"] and ui["url"].startswith("http://127.0.0.1:")
    assert ui["runs_status"] == 200 and ui["runs_listed"] >= 14
    assert ui["run_status"] == 200 and ui["run_page_names_run"] and ui["chart_status"] == 200
    sweeps = summary["sweeps"]
    assert sweeps["trials"] == {"forest": 12, "knn": 12}
    assert set(sweeps["importances"]) == {"n_estimators", "max_depth"}
    assert sweeps["budget"] == 12 and sweeps["verdict_at_budget"] in (
        "better",
        "worse",
        "no detectable difference",
    )
    assert sweeps["seed_verdict"] is not None
