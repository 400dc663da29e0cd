"""A step of ``labline demo``: keep your MLflow code.

Ordinary MLflow client code, unmodified but for its tracking URI, runs in a separate
interpreter against ``labline server`` on the demo's store: it notes the experiment's question
(an experiment tag), logs params and metrics for two settings over three seeds, logs an sklearn
model with ``mlflow.sklearn.log_model``, registers it with ``mlflow.register_model`` and gives
the registered model a description. Then labline itself compares the two settings
(run level, paired by seed) and replays the registered version through the parity gate.
"""

from __future__ import annotations

import json
import subprocess
import sys

from . import LablineError
from ._demo_context import DemoContext
from ._demo_ui import _ui_server

__all__ = ["mlflow_code"]

MLFLOW_SCRIPT = """
import json, os
import mlflow, mlflow.sklearn
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
mlflow.set_experiment("mlflow-digits")
mlflow.set_experiment_tag("mlflow.note.content", "Does C=1.0 beat C=1e-05? Three seeds each.")
X, y = load_digits(return_X_y=True)
runs = []
for C in (1e-05, 1.0):
    for seed in range(3):
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)
        with mlflow.start_run(run_name=f"lr C={C} seed={seed}") as run:
            mlflow.log_params({"C": C, "seed": seed})
            model = LogisticRegression(C=C, max_iter=500).fit(Xtr, ytr)
            mlflow.log_metric("accuracy", model.score(Xte, yte))
            if C == 1.0 and seed == 0:
                info = mlflow.sklearn.log_model(
                    model, name="digits-lr", input_example=Xte[:8],
                    pip_requirements=["scikit-learn"],
                )
        runs.append(run.info.run_id)
version = mlflow.register_model(info.model_uri, "digits-mlflow")
mlflow.MlflowClient().update_registered_model("digits-mlflow", description="digits, logistic C=1")
print(json.dumps({"runs": runs, "model_id": info.model_id, "version": version.version}))
"""


def mlflow_code(ctx: DemoContext) -> None:
    """Run MLflow client code against labline server; compare and check parity in labline."""
    if not ctx.serve:
        ctx.step("MLflow code: skipped here (--no-serve): it talks to labline server over HTTP")
        ctx.summary["mlflow"] = {"served": False}
        return
    try:
        import mlflow  # noqa: F401 - only to say clearly when the client is missing
    except ImportError:
        ctx.step("MLflow code: skipped (pip install mlflow-skinny to run it)")
        ctx.summary["mlflow"] = {"served": False}
        return
    with _ui_server(ctx) as base:
        env = {**ctx.env(), "MLFLOW_TRACKING_URI": base, "PYTHONWARNINGS": "ignore"}
        proc = subprocess.run(
            [sys.executable, "-c", MLFLOW_SCRIPT],
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
            check=False,
        )
    if proc.returncode != 0:
        raise LablineError(f"the MLflow client code failed: {proc.stderr.strip()[-500:]}")
    made = json.loads(proc.stdout.strip().splitlines()[-1])
    ctx.step(
        f"MLflow code, unchanged but for MLFLOW_TRACKING_URI={base}: 6 runs logged with "
        "mlflow.log_params/log_metric, mlflow.sklearn.log_model, mlflow.register_model"
    )
    client = ctx.client
    note = client.get_experiment("mlflow-digits").tags.get("mlflow.note.content", "")
    card = client.get_model("digits-mlflow").description
    ctx.step(f"in labline too: the experiment's MLflow note {note!r}, the model's card {card!r}")
    report = client.compare("mlflow-digits:C=1e-05", "mlflow-digits:C=1.0", "accuracy")
    a = report.comparisons[0].analysis
    ctx.step(
        f"labline compares those MLflow runs (run level, paired by seed): accuracy C=1.0 vs "
        f"C=1e-05 {a.estimate:+.3f} [{a.ci_low:+.3f}, {a.ci_high:+.3f}], {a.verdict_text}"
    )
    version = client.get_model_version("digits-mlflow", int(made["version"]))
    parity = client.check_parity("digits-mlflow", version.version)
    ctx.step(
        f"the MLflow-registered model is labline version digits-mlflow/{version.version} "
        f"({version.digest[:19]}...), run {(version.run_id or '')[:8]}; parity gate: "
        f"{'passed' if parity.passed else 'FAILED'}"
    )
    ctx.summary["mlflow"] = {
        "served": True,
        "runs": made["runs"],
        "verdict": a.verdict,
        "version": version.version,
        "version_run": version.run_id,
        "parity": parity.passed,
        "note": note,
        "description": card,
    }
