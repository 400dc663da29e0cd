"""The sweeps step of ``labline demo``: tune two model families on digits with Optuna (every
trial a child run), then compare them fairly about the tuning budget: expected-best curves at
equal budget, where they cross, a verdict, and the best configurations re-run with seeds."""

from __future__ import annotations

from functools import cache
from typing import Any

from ._demo_context import DemoContext

__all__ = ["forest", "knn", "sweeps"]

N_TRIALS = 12


@cache
def _split() -> tuple[Any, Any, Any, Any]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_fit, X_val, y_fit, y_val = train_test_split(
        X / 16.0, y, test_size=0.3, random_state=1, stratify=y
    )
    return X_fit, X_val, y_fit, y_val


def forest(params: dict[str, Any]) -> dict[str, float]:
    """A random forest's validation accuracy (the demo's first family)."""
    from sklearn.ensemble import RandomForestClassifier

    X_fit, X_val, y_fit, y_val = _split()
    model = RandomForestClassifier(
        n_estimators=params["n_estimators"],
        max_depth=params["max_depth"],
        random_state=params.get("seed", 0),
        n_jobs=1,
    ).fit(X_fit, y_fit)
    return {"accuracy": float(model.score(X_val, y_val))}


def knn(params: dict[str, Any]) -> dict[str, float]:
    """A k-nearest-neighbours classifier's validation accuracy (the second family)."""
    from sklearn.neighbors import KNeighborsClassifier

    X_fit, X_val, y_fit, y_val = _split()
    model = KNeighborsClassifier(n_neighbors=params["n_neighbors"], weights=params["weights"])
    return {"accuracy": float(model.fit(X_fit, y_fit).score(X_val, y_val))}


def _config(name: str, space: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "experiment": "digits-sweeps",
        "metric": "accuracy",
        "direction": "maximize",
        "budget": {"trials": N_TRIALS},
        "sampler": {"name": "tpe", "seed": 0},
        "space": space,
        "objective": {"function": f"labline._demo_sweeps:{name}"},
    }


def sweeps(ctx: DemoContext) -> None:
    """Two Optuna sweeps, their summaries, and compare-sweeps at equal budget with seeds."""
    client = ctx.client
    client.sweeps.run(
        _config(
            "forest",
            {
                "n_estimators": {"type": "int", "low": 2, "high": 40, "log": True},
                "max_depth": {"type": "int", "low": 2, "high": 14},
            },
        )
    )
    client.sweeps.run(
        _config(
            "knn",
            {
                "n_neighbors": {"type": "int", "low": 1, "high": 40, "log": True},
                "weights": {"type": "categorical", "choices": ["uniform", "distance"]},
            },
        )
    )
    shown = {name: client.sweeps.summary(name, top=1) for name in ("forest", "knn")}
    imp = shown["forest"].importances or {}
    top_param = max(imp, key=lambda k: imp[k]) if imp else None
    ctx.step(
        f"sweeps (Optuna, labline as its storage): a random forest and k-nearest neighbours, "
        f"{N_TRIALS} TPE trials each, every trial a child run; best accuracy "
        + ", ".join(
            f"{n} {s.best[0].value:.4f} (trial {s.best[0].number})" for n, s in shown.items()
        )
        + (
            f"; fANOVA: {top_param} explains {imp[top_param]:.0%} of the forest's"
            if top_param
            else ""
        )
    )
    report = client.compare_sweeps("forest", "knn", seeds=3, n_resamples=500)
    b = report.budgets
    at = {k: (b.baseline.estimate[k - 1], b.candidate.estimate[k - 1]) for k in (1, 3, N_TRIALS)}
    curves = "; ".join(f"{k}: {fo:.3f} vs {kn:.3f}" for k, (fo, kn) in at.items())
    crossings = ", ".join(f"{x:.1f}" for x in b.crossings_trials) or "none"
    seed_analysis = report.seed_report.comparisons[0].analysis if report.seed_report else None
    ctx.step(
        f"compare-sweeps forest knn, expected best accuracy (Tang et al., unbiased) by "
        f"budget in trials, forest vs knn: {curves}; curves cross at: {crossings}; "
        f"{report.verdict_text()}"
        + (
            f"; best configurations re-run with seeds 0-2: knn vs forest "
            f"{seed_analysis.improvement:+.4f}, {seed_analysis.verdict_text}"
            if seed_analysis
            else ""
        )
    )
    ctx.summary["sweeps"] = {
        "trials": {n: s.states.get("complete", 0) for n, s in shown.items()},
        "best": {n: s.best[0].value for n, s in shown.items()},
        "importances": imp,
        "crossings_trials": list(b.crossings_trials),
        "verdict_at_budget": b.verdict.value,
        "budget": b.budget,
        "seed_verdict": None if seed_analysis is None else seed_analysis.verdict.value,
    }
