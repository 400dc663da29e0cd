"""The research-to-production steps of ``labline demo`` on scikit-learn's digits data.

1. register a hypothesis before any run exists;
2. train a baseline and two candidates over five seeds each, logging params, metric curves,
   data fingerprints and per-example predictions;
3. compare them with paired, seed-aware statistics (Holm-corrected) and read the verdict;
4. register the winner after the fact, from the finished run that packaged it;
5. promote it to ``production`` through the parity gate (a fresh interpreter replays it);
6. show that a tampered copy of the package is refused;
7. serve ``digits@production`` with ``labline serve`` and query it over HTTP.
"""

from __future__ import annotations

import shutil
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from rich.table import Table

from . import Client, Digest, DigestMismatchError
from ._demo_context import SEEDS, DemoContext

__all__ = [
    "compare_and_register",
    "hypothesis_and_runs",
    "input_field",
    "promote_and_tamper",
    "serve",
]


def _models() -> dict[str, Callable[[int], Any]]:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import SGDClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "sgd": lambda seed: make_pipeline(
            StandardScaler(), SGDClassifier(loss="log_loss", random_state=seed)
        ),
        "forest": lambda seed: RandomForestClassifier(n_estimators=30, random_state=seed),
        "mlp": lambda seed: make_pipeline(
            StandardScaler(), MLPClassifier((64,), max_iter=300, random_state=seed)
        ),
    }


def hypothesis_and_runs(ctx: DemoContext) -> None:
    """Register the hypothesis first, then train 3 models x 5 seeds."""
    client, d = ctx.client, ctx.data
    hyp = client.add_hypothesis(
        seeds=len(SEEDS),
        statement="An MLP beats the linear SGD baseline on digits test accuracy by at least 1 point",
        baseline="digits:model=sgd",
        candidate="digits:model=mlp",
        metric="accuracy",
        min_effect=0.01,
        alpha=0.05,
    )
    ctx.state["hypothesis_id"] = hyp.id
    ctx.step(f"hypothesis #{hyp.id} registered before any run: {hyp.statement!r} ({hyp.status})")
    ctx.step(
        f"training 3 models x {len(SEEDS)} seeds on {len(d.y_train)} images; "
        f"per-example predictions on {len(d.y_test)} test images"
    )
    table = Table("model", "seed", "run", "accuracy", title="runs")
    run_ids: dict[str, list[str]] = {}
    packaged: dict[str, Any] = {}
    accuracies: dict[str, list[float]] = {}
    ids = np.arange(len(d.y_test))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's convergence chatter
        for kind, make in _models().items():
            for seed in SEEDS:
                with client.start_run(
                    "digits",
                    name=f"{kind}-seed{seed}",
                    params={"model": kind, "seed": seed},
                ) as run:
                    run.log_dataset("train", d.X_train)
                    run.log_dataset("test", d.X_test)
                    model = make(seed).fit(d.X_train, d.y_train)
                    curve = getattr(
                        model[-1] if hasattr(model, "steps") else model, "loss_curve_", None
                    )
                    for step, loss in enumerate(curve or []):
                        run.log_metric("train_loss", float(loss), step=step)
                    proba = model.predict_proba(d.X_test)
                    pred = model.classes_[proba.argmax(1)]
                    run.log_predictions("test", ids, d.y_test, pred, proba, classes=model.classes_)
                    acc = float((pred == d.y_test).mean())
                    run.log_metric("accuracy", acc)
                    if kind != "sgd" and seed == 0:
                        # the researcher's own fitted pipeline, packaged into the run that
                        # trained it; registered only once the comparison has picked it
                        run.log_model(model, input_example=d.X_test[:5], eval_inputs=d.X_test)
                        packaged[kind] = run
                run_ids.setdefault(kind, []).append(run.id)
                accuracies.setdefault(kind, []).append(acc)
                table.add_row(kind, str(seed), run.id[:10], f"{acc:.4f}")
    ctx.out.print(table)
    ctx.summary["runs"] = run_ids
    ctx.state["packaged"] = packaged
    ctx.state["accuracies"] = accuracies


def compare_and_register(ctx: DemoContext) -> None:
    """Compare with paired, seed-aware statistics; register the winner from its run."""
    client = ctx.client
    result = client.compare(
        "digits:model=sgd",
        ["digits:model=forest", "digits:model=mlp"],
        "accuracy",
        dataset="test",
        min_effect=0.01,
    )
    ctx.step("paired, seed-aware comparison (two candidates, Holm-corrected):")
    ctx.out.print(result.render())
    ctx.summary["comparison"] = result.to_dict()
    hyp_id = ctx.state["hypothesis_id"]
    ctx.out.print(
        f"   hypothesis #{hyp_id} is now: [bold]{hypothesis_status(client, hyp_id)}[/bold]"
    )

    packaged, accuracies = ctx.state["packaged"], ctx.state["accuracies"]
    winner = max(packaged, key=lambda kind: float(np.mean(accuracies[kind])))
    best_run = packaged[winner]
    mv = client.register_model(f"{best_run.id}/model", name="digits")
    ctx.step(
        f"the comparison picked {winner}: registered digits/{mv.version} from run "
        f"{best_run.id[:10]}/model, package {Digest.parse(mv.digest).short(16)} "
        "(every file hashed; the version links to that run)"
    )
    ctx.summary["model"] = {
        "name": "digits",
        "version": mv.version,
        "digest": mv.digest,
        "run_id": mv.run_id,
        "picked": winner,
    }


def promote_and_tamper(ctx: DemoContext) -> None:
    """Promote through the parity gate; show a one-bit-tampered copy refused."""
    client, model = ctx.client, ctx.summary["model"]
    t0 = time.perf_counter()
    promotion = client.promote(
        "digits", model["version"], "production", reason="demo: candidate beat baseline"
    )
    assert promotion.parity is not None
    ctx.step(
        f"parity gate: a fresh interpreter replayed {promotion.parity.n} examples, "
        f"max difference {promotion.parity.max_abs_diff:.2g} → digits@production = "
        f"v{model['version']} ({time.perf_counter() - t0:.1f} s)"
    )
    pkg_dir = client.package_dir(model["digest"])
    tampered = ctx.home / "tampered-package"
    shutil.copytree(pkg_dir, tampered)
    victim = sorted(p for p in tampered.rglob("*") if p.is_file() and p.parent.name == "weights")[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    try:
        client.load_model(tampered)
        refused = "NOT refused"
    except DigestMismatchError as e:
        refused = str(e)
    ctx.step(f"one flipped bit in {victim.relative_to(tampered)} → refused: {refused[:110]}…")
    ctx.summary["tampered_refused"] = refused != "NOT refused"


def serve(ctx: DemoContext) -> None:
    """Serve ``digits@production`` and query ``/predict`` and the Open Inference Protocol."""
    if not ctx.serve:
        return
    import httpx

    client, d, model = ctx.client, ctx.data, ctx.summary["model"]
    with ctx.served("digits@production") as base:
        rows = d.X_test[:3].tolist()
        field = input_field(client.load_model(f"digits/{model['version']}"))
        r = httpx.post(f"{base}/predict", json={"columns": {field: rows}}, timeout=10)
        r.raise_for_status()
        body = r.json()
        oip = httpx.post(
            f"{base}/v2/models/digits/infer",
            json={
                "id": "demo-1",
                "inputs": [
                    {
                        "name": "input",
                        "shape": [3, 64],
                        "datatype": "FP64",
                        "data": d.X_test[:3].ravel().tolist(),
                    }
                ],
            },
            timeout=10,
        )
        served = {
            "predict_status": r.status_code,
            "predictions": body.get("predictions"),
            "truth": d.y_test[:3].tolist(),
            "digest_header": r.headers.get("x-labline-model-digest")
            or r.headers.get("labline-model-digest"),
            "oip_status": oip.status_code,
            "oip_model_version": oip.json().get("model_version"),
        }
    ctx.summary["served"] = served
    ctx.step(
        f"labline serve digits@production on {base}: predictions {served['predictions']} "
        f"(truth {served['truth']}); answer names {served['digest_header']}; "
        f"OIP infer → {served['oip_status']}, model_version {served['oip_model_version']}"
    )


def input_field(model: Any) -> str:
    """The name of the model's first input field (the digits models have one)."""
    fields = model.manifest.input_schema
    return str(fields[0].name)


def hypothesis_status(client: Client, hypothesis_id: int) -> str:
    """The status of a hypothesis as stored (a comparison of its groups evaluates it)."""
    h = client.get_hypothesis(hypothesis_id)
    verdict = (h.result or {}).get("verdict")
    return f"{h.status.value}" + (f" (verdict: {verdict})" if verdict else "")
