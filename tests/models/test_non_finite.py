"""What a loaded model does with NaN and infinity is found out once at load, from the model
itself, and refused values are a SchemaError naming the field instead of an estimator crash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import labline


def _load(tmp_path: Path, model: Any, X: np.ndarray) -> Any:
    settings = labline.Settings.local(tmp_path / "home")
    with labline.start_run("nonfinite", settings=settings) as run:
        run.log_model(model, name="m", input_example=X[:3])
    return labline.load_model("m/1", settings=settings)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    X = np.random.default_rng(0).normal(size=(60, 3))
    return X, (X[:, 0] > 0).astype(int)


def test_plain_estimator_refuses_nan_and_inf(tmp_path: Path, data: Any) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = data
    model = _load(tmp_path, LogisticRegression().fit(X, y), X)
    assert (model.rejects_nan, model.rejects_inf) == (True, True)
    bad = X[:2].copy()
    bad[1, 0] = np.nan
    with pytest.raises(labline.SchemaError, match="contains NaN or infinity"):
        model.predict(bad)
    bad[1, 0] = -np.inf
    with pytest.raises(labline.SchemaError, match="contains NaN or infinity"):
        model.predict(bad)
    assert model.predict(X[:2]).shape == (2,)


def test_pipeline_with_imputer_accepts_nan_but_not_inf(tmp_path: Path, data: Any) -> None:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    X, y = data
    model = _load(tmp_path, make_pipeline(SimpleImputer(), LogisticRegression()).fit(X, y), X)
    assert (model.rejects_nan, model.rejects_inf) == (False, True)
    row = X[:1].copy()
    row[0, 1] = np.nan
    assert model.predict(row).shape == (1,)
    row[0, 1] = np.inf
    with pytest.raises(labline.SchemaError, match="contains infinity"):
        model.predict(row)


def test_model_that_takes_both_gets_both(tmp_path: Path, data: Any) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = data
    model = _load(tmp_path, HistGradientBoostingClassifier(max_iter=5).fit(X, y), X)
    assert (model.rejects_nan, model.rejects_inf) == (False, False)
    row = X[:2].copy()
    row[0, 0], row[1, 2] = np.nan, np.inf
    assert model.predict(row).shape == (2,)
