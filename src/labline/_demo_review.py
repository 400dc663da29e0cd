"""The demo's human-in-the-loop step: calibrate a model's abstention, serve it with deferral,
replay held-out traffic, let a simulated reviewer label what it deferred, turn the labels into
a versioned dataset and retrain on it, then compare the retrained model with the first one."""

from __future__ import annotations

import asyncio
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from . import Client, InfeasibleTargetError
from ._demo_context import DemoContext

__all__ = ["review_loop"]

MODEL = "digits-triage"
_BATCH = 50


def _weak_model(X: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> Any:
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few iterations on purpose: a model that must defer
        return LogisticRegression(max_iter=25).fit(X, y)


def _metric(text: str, name: str) -> float | None:
    total = None
    for line in text.splitlines():
        if re.match(rf"{name}[{{ ]", line):
            total = (total or 0.0) + float(line.rsplit(" ", 1)[1])
    return total


@contextmanager
def _in_process(client: Client, ref: str) -> Iterator[Any]:
    """The model server in this process (``labline demo --no-serve``): an httpx client on it."""
    import httpx

    from .serving import RegistryModelSource, ServeSettings, create_app

    app = create_app(
        ServeSettings(monitor=False, audit_fraction=0.05),
        RegistryModelSource(ref, client),
        review_client=client,
    )
    loop = asyncio.new_event_loop()
    lifespan = app.lifespan()
    loop.run_until_complete(lifespan.__aenter__())
    transport = httpx.ASGITransport(app=app)
    http = httpx.AsyncClient(transport=transport, base_url="http://demo")

    class Sync:
        def post(self, path: str, **kw: Any) -> Any:
            return loop.run_until_complete(http.post(path, **kw))

        def get(self, path: str) -> Any:
            return loop.run_until_complete(http.get(path))

    try:
        yield Sync()
    finally:
        loop.run_until_complete(http.aclose())
        loop.run_until_complete(lifespan.__aexit__(None, None, None))  # writes the buffer
        loop.close()


@contextmanager
def _server(ctx: DemoContext, ref: str) -> Iterator[Any]:
    if not ctx.serve:
        with _in_process(ctx.client, ref) as http:
            yield http
        return
    import httpx

    # leaving ctx.served stops the server with SIGTERM: it writes what it buffered
    with (
        ctx.served(ref, "--audit-fraction", "0.05", "--no-monitor") as base,
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        yield http


def review_loop(ctx: DemoContext) -> None:
    """Calibrate → serve with deferral → replay → review → dataset → retrain → compare."""
    client, d = ctx.client, ctx.data
    seed_rows = 250  # the first model sees few labelled images: it is unsure of many inputs
    X0, y0 = d.X_train[:seed_rows], d.y_train[:seed_rows]
    traffic, traffic_truth = d.X_train[seed_rows:], d.y_train[seed_rows:]
    half = len(d.y_test) // 2
    X_cal, y_cal = d.X_test[:half], d.y_test[:half]
    X_eval, y_eval = d.X_test[half:], d.y_test[half:]
    eval_ids = np.arange(len(y_eval))

    first = _weak_model(X0, y0)
    with client.start_run("triage", name="first", params={"model": "first"}) as run:
        run.log_dataset("train", X0)
        proba = first.predict_proba(X_eval)
        run.log_predictions("eval", eval_ids, y_eval, first.classes_[proba.argmax(1)], proba)
        version = run.log_model(first, MODEL, input_example=X_eval[:3], eval_inputs=X_eval[:60])
    ref = f"{MODEL}/{version.version}"

    # 1. calibrate: the threshold comes with a guarantee, or the best target n allows
    try:
        cal = client.calibrate(ref, (X_cal, y_cal), target_error=0.02, confidence=0.9)
    except InfeasibleTargetError as e:
        best = float(np.ceil(e.result.best_target * 100) / 100)
        ctx.step(f"target 2% cannot be guaranteed with n={len(y_cal)}: best is {best:.0%}")
        cal = client.calibrate(ref, (X_cal, y_cal), target_error=best, confidence=0.9)
    ctx.step(
        f"calibrated {ref} ({cal.method.upper()}): answer when confidence ≥ {cal.threshold:.3f}; "
        f"≤ {cal.target_error:.0%} errors among kept answers with probability {cal.confidence:g}; "
        f"promised coverage {cal.coverage:.0%} [{cal.coverage_low:.0%}, {cal.coverage_high:.0%}], "
        f"AURC {cal.aurc:.4f}"
    )

    # 2-3. serve with deferral and replay held-out traffic
    field = client.load_model(ref).input_fields[0].name
    answers: list[tuple[np.ndarray[Any, Any], bool, Any]] = []
    with _server(ctx, ref) as http:
        for start in range(0, len(traffic), _BATCH):
            rows = traffic[start : start + _BATCH]
            doc = http.post("/predict", json={"columns": {field: rows.tolist()}}).json()
            answers += list(zip(rows, doc["deferred"], doc["predictions"], strict=True))
        metrics = http.get("/metrics").text
    deferred = sum(a[1] for a in answers)
    kept = [(row, guess) for row, dfr, guess in answers if not dfr]
    truth = {tuple(r): int(t) for r, t in zip(traffic, traffic_truth, strict=True)}
    kept_error = float(np.mean([guess != truth[tuple(r)] for r, guess in kept])) if kept else 0.0
    promised = _metric(metrics, "labline_monitor_promised_deferral_rate") or 0.0
    ctx.step(
        f"served {ref} ({'labline serve' if ctx.serve else 'in process'}); replayed "
        f"{len(answers)} held-out requests: {deferred} deferred ({deferred / len(answers):.0%}, "
        f"promised {promised:.0%}), error among the {len(kept)} kept answers "
        f"{kept_error:.1%} (target {cal.target_error:.0%})"
    )

    # 4. a simulated reviewer labels the queue (deferred answers and the audit sample)
    reviewer = client.as_actor("reviewer-ann")
    counts = client.review_counts(model=MODEL)
    labelled = 0
    while (item := reviewer.next_review_item(model=MODEL, order="uncertainty")) is not None:
        reviewer.label_review_item(item.id, truth[tuple(float(x) for x in item.inputs)])
        labelled += 1
    stats = client.review_stats(model=MODEL)
    audit = client.audit_accuracy(MODEL, version.version)
    live = (
        f"live accuracy on {audit.checked} audited answers {audit.accuracy:.1%} "
        f"[{audit.ci_low:.1%}, {audit.ci_high:.1%}]"
        if audit.accuracy is not None and audit.ci_low is not None and audit.ci_high is not None
        else "no audit sample this time"
    )
    ctx.step(
        f"review queue: {counts['deferred']} deferred + {counts['audit']} audit items; "
        f"reviewer-ann labelled {labelled}, the model was right on "
        f"{stats.model_correct}/{stats.model_checked}; {live}"
    )

    # 5. the labels form a versioned, fingerprinted dataset
    dataset = client.create_labelled_dataset("digits-reviewed", model=MODEL)
    table = client.labelled_dataset_table(dataset.name, dataset.version)
    features = [c for c in table.column_names if c.startswith("x")]
    X_new = np.column_stack([table.column(c).to_numpy() for c in features])
    y_new = table.column("label").to_numpy()
    ctx.step(
        f"dataset {dataset.name} v{dataset.version}: {dataset.n_examples} reviewed examples, "
        f"fingerprint {dataset.fingerprint[:19]}… (lineage: label → item → answer → "
        f"{ref} → calibration {cal.id})"
    )

    # 6. retrain on the first data plus the reviewed examples; compare on held-out data
    second = _weak_model(np.vstack([X0, X_new]), np.concatenate([y0, y_new]))
    with client.start_run("triage", name="retrained", params={"model": "retrained"}) as run:
        run.log_dataset("train", X0)
        run.log_dataset("reviewed", table)
        proba = second.predict_proba(X_eval)
        run.log_predictions("eval", eval_ids, y_eval, second.classes_[proba.argmax(1)], proba)
    report = client.compare(
        "triage:model=first", ["triage:model=retrained"], "accuracy", dataset="eval"
    )
    analysis = report.comparisons[0].analysis
    acc_first = float(np.mean(first.predict(X_eval) == y_eval))
    acc_second = float(np.mean(second.predict(X_eval) == y_eval))
    verdict = str(getattr(analysis.verdict, "value", analysis.verdict))
    ctx.step(
        f"retrained on {seed_rows} + {len(y_new)} reviewed images: accuracy on "
        f"{len(y_eval)} held-out images {acc_first:.1%} → {acc_second:.1%} "
        f"(paired comparison: {verdict})"
    )
    ctx.summary["review_loop"] = {
        "calibration_id": cal.id,
        "threshold": cal.threshold,
        "promised_coverage": cal.coverage,
        "replayed": len(answers),
        "deferred": deferred,
        "queued": counts["total"],
        "labelled": labelled,
        "dataset": {
            "name": dataset.name,
            "version": dataset.version,
            "fingerprint": dataset.fingerprint,
            "examples": dataset.n_examples,
        },
        "accuracy_first": acc_first,
        "accuracy_retrained": acc_second,
        "verdict": verdict,
    }
