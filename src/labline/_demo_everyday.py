"""The everyday-tracking step of ``labline demo``: find runs, compare any metric, tidy up.

Search with the filter language, a custom per-example metric, a hypothesis on a logged
metric, renaming, tags and soft delete, ``gc`` and re-hashing every model blob.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._demo_context import DemoContext

__all__ = ["everyday"]


def _worst_class_recall(y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
    """The recall of the worst digit: a team's own metric, recomputed on every resample."""
    w = np.ones(len(y_true)) if sample_weight is None else np.asarray(sample_weight)
    recalls = [
        float(w[(y_true == k)] @ (y_pred[y_true == k] == k)) / max(float(w[y_true == k].sum()), 1)
        for k in np.unique(y_true)
    ]
    return min(recalls)


def everyday(ctx: DemoContext) -> None:
    """Search, a custom metric, a hypothesis on a logged metric, lifecycle, gc and verify."""
    import labline

    client = ctx.client
    page = client.search_runs(
        "digits",
        filter="metrics.accuracy >= 0.95 and params.model != 'sgd' and status = 'finished'",
        order_by=["metrics.accuracy DESC"],
        limit=3,
    )
    best = ", ".join(f"{r.name} {r.metrics['accuracy'].last_value:.4f}" for r in page)
    ctx.step(f"search (SQL in the store): the 3 most accurate non-SGD runs: {best}")

    worst = labline.Metric("worst_class_recall", _worst_class_recall, higher_is_better=True)
    custom = client.compare("digits:model=forest", "digits:model=mlp", worst, n_resamples=500)
    a = custom.comparisons[0].analysis
    ctx.step(
        f"a team metric (worst-digit recall) recomputed on every resample: mlp vs forest "
        f"{a.estimate:+.3f} [{a.ci_low:+.3f}, {a.ci_high:+.3f}], {a.verdict_text}"
    )

    hyp = client.add_hypothesis(
        "The MLP's final accuracy metric beats the forest's",
        baseline="digits:model=forest",
        candidate="digits:model=mlp",
        metric="accuracy:last",
        min_effect=0.0,
        seeds=5,
    )
    hyp = client.evaluate_hypothesis(hyp.id)
    ctx.step(
        f"hypothesis #{hyp.id} on a logged metric (accuracy:last, runs as units): "
        f"{hyp.status.value}"
    )

    scratch = page[-1]
    client.rename_run(scratch.id, f"{scratch.name}-reviewed")
    client.set_tag(scratch.id, "stage", "final")
    with client.start_run("scratch", params={"lr": 0.5}, capture_env=False) as junk:
        junk.log_metric("loss", 1.0)
    client.delete_run(junk.id)
    client.delete_experiment("scratch")
    report = client.gc(grace=0)
    verified = client.verify_models()
    ctx.step(
        f"lifecycle: renamed and tagged {scratch.id[:8]}; deleted a scratch run and experiment; "
        f"gc purged {len(report.runs_purged)} run(s) and {report.blobs_removed} blob(s); "
        f"every model blob re-hashed: {verified.checked} checked, "
        f"{'all intact' if verified.ok else f'{len(verified.bad)} BAD'}"
    )
    ctx.summary["everyday"] = {
        "searched": [r.id for r in page],
        "custom_metric_verdict": a.verdict.value,
        "hypothesis_status": hyp.status.value,
        "gc_runs_purged": len(report.runs_purged),
        "models_verified": verified.ok,
    }
