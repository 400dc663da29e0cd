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
