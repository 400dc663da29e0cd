"""A plain-Python model whose own code fails on negative inputs (for 500-path tests)."""

from __future__ import annotations

from typing import Any

import numpy as np


class FragileModel:
    """Predicts the sign of the row sum; raises (quoting its input, as libraries do) on negatives."""

    def predict(self, batch: Any) -> Any:
        x = np.asarray(batch, dtype=np.float64)
        if (x < 0).any():
            raise ValueError(f"negative input not supported: {x.tolist()}")
        return (x.sum(axis=1) > 1.0).astype(np.int64)


class CountingClassifier:
    """A classifier that counts its ``predict_proba`` calls (to see what a request computes)."""

    classes_ = np.array([0, 1])

    def __init__(self) -> None:
        self.proba_calls = 0

    def predict(self, batch: Any) -> Any:
        x = np.asarray(batch, dtype=np.float64)
        return (x.sum(axis=1) > 1.0).astype(np.int64)

    def predict_proba(self, batch: Any) -> Any:
        self.proba_calls += 1
        p1 = 1.0 / (1.0 + np.exp(-np.asarray(batch, dtype=np.float64).sum(axis=1)))
        return np.column_stack([1.0 - p1, p1])
