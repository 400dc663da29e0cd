"""A step of ``labline demo``: a team server.

``labline server`` serves the demo's store on a free 127.0.0.1 port with a token for a
teammate. The teammate is another process with another ``LABLINE_HOME`` and nothing but
``LABLINE_URI`` and ``LABLINE_TOKEN``: it lists the digits runs, logs a run of its own over
HTTP (recorded under the token's name), loads ``digits@production`` (its package's blobs
come through the server, verified) to predict the demo's first test rows, which must match what
the model answers here, and reads the review loop's results through the same API: the
production version's calibration, the review queue and the labelled datasets.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np

from . import LablineError
from ._demo_context import DemoContext
from ._demo_ui import _ui_server

__all__ = ["team_server"]

_TEAMMATE = textwrap.dedent(
    """
    import json, sys, numpy as np, labline
    client = labline.Client()  # LABLINE_URI + LABLINE_TOKEN, its own LABLINE_HOME
    runs = client.search_runs("digits")
    with client.start_run("team", params={"who": "teammate"}, capture_env=False) as run:
        for step in range(1000):
            run.log_metric("loss", 1.0 / (step + 1))
    model = client.load_model("digits@production")
    x = np.load(sys.argv[1])
    labelled = client.list_labelled_datasets()
    same_table = calibration = None
    if labelled:  # rebuild the reviewed data over HTTP; read the calibration behind it
        ds = labelled[-1]
        table = client.labelled_dataset_table(ds.name, ds.version)
        same_table = labline.fingerprint(table).digest == ds.fingerprint
        ids = ds.meta.get("calibrations") or []
        calibration = client.get_calibration(ids[0]).threshold if ids else None
    import optuna  # an Optuna study through the server: its store numbers the trials
    from labline.optuna import Storage
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name="team-quadratic", storage=Storage(client, experiment="team"),
        sampler=optuna.samplers.RandomSampler(seed=0), load_if_exists=True,
    )
    study.optimize(lambda t: (t.suggest_float("x", -3, 3) - 1) ** 2, n_trials=5)
    sweep = client.sweeps.get("team-quadratic")
    print(json.dumps({
        "sweep_trials": len(client.sweeps.trials(sweep.id)),
        "sweep_run": client.get_run(sweep.run_id).status.value,
        "sweep_best": study.best_value,
        "calibration": calibration,
        "review_items": client.review_counts()["total"],
        "labelled": [f"{d.name}@{d.version}" for d in labelled],
        "same_table": same_table,
        "runs_seen": len(runs),
        "run_id": run.id,
        "created_by": client.get_run(run.id).created_by,
        "points": client.get_run(run.id).metrics["loss"].count,
        "predictions": [str(p) for p in model.predict(x)],
    }))
    """
)


def team_server(ctx: DemoContext) -> None:
    """Serve the demo's store to a teammate who has only a URL and a token."""
    if not ctx.serve:
        ctx.step("team server: labline server + LABLINE_URI/LABLINE_TOKEN (skipped: --no-serve)")
        ctx.summary["team"] = {"served": False}
        return
    issued = ctx.client.create_token("teammate", "researcher", expires="1d")
    x = ctx.data.X_test[:8]
    rows = ctx.home / "team-rows.npy"
    np.save(rows, x)
    expected = [str(p) for p in ctx.client.load_model("digits@production").predict(x)]
    teammate_home = ctx.home / "teammate"
    try:
        with _ui_server(ctx) as base:
            out = subprocess.run(
                [sys.executable, "-c", _TEAMMATE, str(rows)],
                env={
                    **ctx.env(),
                    "LABLINE_HOME": str(teammate_home),
                    "LABLINE_URI": base,
                    "LABLINE_TOKEN": issued.secret,
                    "LABLINE_ARTIFACT_URI": "",
                },
                capture_output=True,
                text=True,
                timeout=300,
            )
    finally:
        # a loopback server with no working token needs none: the web UI step relies on it
        ctx.client.revoke_token(issued.record.id)
    if out.returncode != 0:
        raise LablineError(f"the teammate's process failed: {out.stderr[-800:]}")
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    ctx.summary["team"] = {
        "served": True,
        "runs_seen": seen["runs_seen"],
        "teammate_run_by": seen["created_by"],
        "teammate_points": seen["points"],
        "predictions_match": seen["predictions"] == expected,
        "calibration_threshold": seen["calibration"],
        "review_items": seen["review_items"],
        "labelled_datasets": seen["labelled"],
        "labelled_table_matches": seen["same_table"],
        "sweep_trials": seen["sweep_trials"],
        "sweep_run": seen["sweep_run"],
    }
    ctx.step(
        f"team server: a teammate (own LABLINE_HOME, only LABLINE_URI={base} + a researcher "
        f"token) sees {seen['runs_seen']} digits runs, logs a run over HTTP (recorded as "
        f"{seen['created_by']!r}, {seen['points']} points) and loads digits@production: "
        f"{'same' if seen['predictions'] == expected else 'DIFFERENT'} predictions as here; "
        f"over the same API it reads the review loop: {seen['review_items']} review items, "
        f"labelled datasets {', '.join(seen['labelled']) or 'none'}"
        + ("" if seen["same_table"] is None else " (rebuilt with the same fingerprint)")
        + (
            ""
            if seen["calibration"] is None
            else f", the calibration threshold behind them {seen['calibration']:.3f}"
        )
        + f"; its Optuna study on labline.optuna.Storage runs through the server too "
        f"({seen['sweep_trials']} trials numbered by the server's store, best "
        f"{seen['sweep_best']:.3f}; the sweep's run {seen['sweep_run']})"
    )
