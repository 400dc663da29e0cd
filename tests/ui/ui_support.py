"""What the web UI's tests share: the request contract of ``labline server`` set by a small
middleware (the role from an ``X-Test-Role`` header), a synchronous in-process HTTP face, and
a seeded store."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import numpy as np
from starlette.types import ASGIApp, Receive, Scope, Send

import labline
from labline.server import Principal, Role


class FakeAuth:
    """Sets the principal the way the server's auth layer does; no header means none."""

    def __init__(self, app: ASGIApp, client: labline.Client) -> None:
        self.app = app
        self.client = client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            role = dict(scope["headers"]).get(b"x-test-role", b"").decode()
            state = scope.setdefault("state", {})
            if role:
                principal = Principal(f"{role}-user", Role(role))
                state["principal"] = principal
                state["client"] = self.client.as_actor(principal.name)
            else:
                state["principal"] = None
                state["client"] = None
        await self.app(scope, receive, send)


class UIHttp:
    """A synchronous face on an in-process ASGI app (each call runs one event loop)."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = headers

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)  # type: ignore[arg-type]
            async with httpx.AsyncClient(
                transport=transport, base_url="http://ui.test", headers=self.headers
            ) as c:
                return await c.request(method, url, **kwargs)

        return asyncio.run(go())

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def as_role(self, role: str | None) -> UIHttp:
        """The same app, called with another role (``None``: no principal)."""
        return UIHttp(self.app, {} if role is None else {"x-test-role": role})


def seed_store(client: labline.Client) -> dict[str, list[str]]:
    """Two configurations × 3 seeds with metric curves and predictions; returns run ids."""
    rng = np.random.default_rng(0)
    ids: dict[str, list[str]] = {"a": [], "b": []}
    n = 200
    y = rng.integers(0, 3, size=n)
    for model, skill in (("a", 0.7), ("b", 0.85)):
        for seed in range(3):
            with client.start_run(
                "digits",
                name=f"{model}-s{seed}",
                params={"model": model, "seed": seed, "lr": 0.1 if model == "a" else 0.01},
                capture_env=False,
            ) as run:
                for step in range(300):
                    run.log_metric("loss", float(np.exp(-step / 100) + 0.01 * seed), step=step)
                run.log_metric("accuracy", skill + 0.01 * seed)
                right = rng.random(n) < skill
                pred = np.where(right, y, (y + 1) % 3)
                proba = np.full((n, 3), 0.1)
                proba[np.arange(n), pred] = 0.8
                run.log_predictions("test", ids=np.arange(n), y_true=y, y_pred=pred, y_proba=proba)
                ids[model].append(run.id)
    return ids


def register_models(client: labline.Client) -> str:
    """Two versions of a small sklearn model ``iris`` trained in runs; returns the name."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    for c in (0.1, 1.0):
        with client.start_run("iris", params={"C": c}, capture_env=False) as run:
            run.log_dataset("train", X)
            model = LogisticRegression(C=c, max_iter=300).fit(X, y)
            run.log_model(model, name="iris", input_example=X[:3], eval_inputs=X[:40])
    return "iris"


def seed_sweeps(client: labline.Client) -> list[str]:
    """Two Optuna studies of 20 trials on labline's storage (a float on a log scale, an int,
    a categorical); the second searches a better region. Returns their names."""
    import optuna

    from labline.optuna import Storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    names = []
    for name, shift in (("wide-search", 0.0), ("narrow-search", 0.15)):

        def objective(trial: optuna.Trial, shift: float = shift) -> float:
            lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
            depth = trial.suggest_int("depth", 1, 8)
            kind = trial.suggest_categorical("kind", ["tree", "linear"])
            score = 0.6 + shift - 0.02 * abs(np.log10(lr) + 2) + 0.01 * depth
            return float(score + (0.03 if kind == "tree" else 0.0))

        study = optuna.create_study(
            study_name=name,
            storage=Storage(client, experiment="search"),
            direction="maximize",
            sampler=optuna.samplers.RandomSampler(seed=1),
        )
        study.optimize(objective, n_trials=20)
        names.append(name)
    return names
