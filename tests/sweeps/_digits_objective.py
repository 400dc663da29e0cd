"""Objectives of the test sweeps: small scikit-learn models on digits (a fixed split)."""

from __future__ import annotations

import os
from functools import cache
from typing import Any


@cache
def _split() -> tuple[Any, Any, Any, Any]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    return tuple(train_test_split(X / 16.0, y, test_size=0.3, random_state=0))  # type: ignore[return-value]


def forest(params: dict[str, Any]) -> dict[str, float]:
    from sklearn.ensemble import RandomForestClassifier

    X_train, X_val, y_train, y_val = _split()
    model = RandomForestClassifier(
        n_estimators=params["n_estimators"],
        max_depth=params["max_depth"],
        random_state=params.get("seed", 0),
        n_jobs=1,
    ).fit(X_train, y_train)
    return {
        "accuracy": float(model.score(X_val, y_val)),
        "n_estimators": params["n_estimators"],
        "worker_pid": os.getpid(),
    }


def knn(params: dict[str, Any]) -> float:
    from sklearn.neighbors import KNeighborsClassifier

    X_train, X_val, y_train, y_val = _split()
    model = KNeighborsClassifier(n_neighbors=params["n_neighbors"], weights=params["weights"])
    return float(model.fit(X_train, y_train).score(X_val, y_val))
