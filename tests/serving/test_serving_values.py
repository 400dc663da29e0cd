"""Values a cast would silently change, and non-finite values, decided from the loaded model."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from serving_support import load

SECRET = 987654.321  # a payload value that must never reach a log line or an error


@pytest.fixture(scope="module")
def nan_tolerant_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gradient-boosted classifier: scikit-learn itself accepts NaN (missing values) in it."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from labline.models import write_package

    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 3))
    y = (X[:, 0] > 0).astype(np.int64)
    est = HistGradientBoostingClassifier(max_iter=5).fit(X, y)
    folder = tmp_path_factory.mktemp("pkg") / "hgb"
    write_package(est, folder, name="hgb", input_example=X[:5])
    return folder


@pytest.fixture(scope="module")
def float32_package(tmp_path_factory: pytest.TempPathFactory, digits: Any) -> Path:
    from sklearn.linear_model import LogisticRegression

    from labline.models import write_package

    X = digits[0][:200].astype(np.float32)
    est = LogisticRegression(max_iter=200).fit(X, digits[1][:200])
    folder = tmp_path_factory.mktemp("pkg") / "digits32"
    write_package(est, folder, name="digits32", input_example=X[:5])
    return folder


def _v2(**tensors: tuple[str, list[int], Any]) -> dict[str, Any]:
    return {
        "inputs": [
            {"name": name, "datatype": dt, "shape": shape, "data": data}
            for name, (dt, shape, data) in tensors.items()
        ]
    }


@pytest.mark.parametrize(
    ("age", "datatype"),
    [(2**63, "INT64"), (2**64 - 1, "UINT64"), (-(2**63), "INT64")],
)
def test_integers_outside_the_field_range_are_refused_not_wrapped(
    make_client: Any, tabular_package: Path, age: int, datatype: str
) -> None:
    async def go() -> None:
        async with make_client(tabular_package) as c:
            if age == -(2**63):  # the edge itself is in range and served
                r = await c.post("/predict", json=[{"age": age, "income": 1.0}])
                assert r.status_code == 200, r.text
                return
            r = await c.post("/predict", json=[{"age": age, "income": 1.0}])
            assert r.status_code == 400, r.text
            assert "field 'age'" in r.json()["error"] and "int64 range" in r.json()["error"]
            doc = _v2(age=(datatype, [1], [age]), income=("FP64", [1], [1.0]))
            r2 = await c.post("/v2/models/tabular/infer", json=doc)
            assert r2.status_code == 400, r2.text
            assert "int64 range" in r2.json()["error"]

    asyncio.run(go())


def test_float_downcast_overflow_is_refused(make_client: Any, float32_package: Path) -> None:
    model = load(float32_package)
    assert model.manifest.input_schema[0].dtype in ("float32", np.float32)

    async def go() -> None:
        async with make_client(float32_package) as c:
            row = [0.0] * 64
            r = await c.post("/predict", json=[{"input": row}])
            assert r.status_code == 200, r.text
            row[7] = 1e300  # finite as float64, infinity as float32
            r = await c.post("/predict", json=[{"input": row}])
            assert r.status_code == 400, r.text
            assert "field 'input'" in r.json()["error"] and "float32" in r.json()["error"]

    asyncio.run(go())


def test_non_finite_values_in_a_named_column_name_that_column(
    make_client: Any, tabular_package: Path
) -> None:
    model = load(tabular_package)
    assert model.rejects_inf  # scikit-learn trees refuse infinity (NaN is a missing value)

    async def go() -> None:
        async with make_client(tabular_package) as c:
            doc = _v2(age=("INT64", [2], [30, 40]), income=("FP64", [2], [1.0, 2.0]))
            assert (await c.post("/v2/models/tabular/infer", json=doc)).status_code == 200
            # JSON cannot carry infinity; the binary-data extension can
            raw = np.array([1.0, np.inf]).tobytes()
            header = orjson.dumps(
                {
                    "inputs": [
                        doc["inputs"][0],
                        {
                            "name": "income",
                            "datatype": "FP64",
                            "shape": [2],
                            "parameters": {"binary_data_size": len(raw)},
                        },
                    ]
                }
            )
            r = await c.post(
                "/v2/models/tabular/infer",
                content=header + raw,
                headers={"inference-header-content-length": str(len(header))},
            )
            assert r.status_code == 400, r.text
            assert "field 'income'" in r.json()["error"] and "infinity" in r.json()["error"]
            r = await c.post("/predict", json=[{"age": 30, "income": None}])
            if model.rejects_nan:
                assert r.status_code == 400 and "field 'income'" in r.json()["error"]
            else:
                want = model.predict({"age": [30], "income": [np.nan]}).tolist()
                assert r.status_code == 200 and r.json()["predictions"] == want
            r = await c.post("/predict", json=[{"age": None, "income": 1.0}])
            assert r.status_code == 400 and "field 'age'" in r.json()["error"]  # ints: no NaN

    asyncio.run(go())


def test_nan_policy_follows_the_loaded_model(
    make_client: Any, nan_tolerant_package: Path, caplog: Any
) -> None:
    """Missing values (JSON null) reach a model that accepts NaN, exactly as the library does."""
    model = load(nan_tolerant_package)
    X = np.array([[0.5, np.nan, 1.0], [-0.5, 0.2, np.nan]])
    try:
        expected: list[Any] | None = model.predict({"input": X}).tolist()
    except Exception:
        expected = None  # the library refuses NaN for this model; so must the server
    assert (expected is None) == model.rejects_nan
    records = [{"input": [None if np.isnan(v) else v for v in row]} for row in X]

    async def go() -> None:
        async with make_client(nan_tolerant_package) as c:
            r = await c.post("/predict", json=records)
            if expected is None:
                assert r.status_code == 400 and "field 'input'" in r.json()["error"]
            else:
                assert r.status_code == 200, r.text
                assert r.json()["predictions"] == expected
            # whatever the NaN policy, strings are never accepted in place of numbers
            bad = [{"input": [SECRET, "x", None]}]
            r = await c.post("/predict", json=bad)
            assert r.status_code == 400 and "field 'input'" in r.json()["error"]
            assert str(SECRET) not in r.text
            r = await c.post("/predict", json=[{"input": [0.1, True, None]}])
            assert r.status_code == 400, r.text

    with caplog.at_level(logging.DEBUG):
        asyncio.run(go())
    assert str(SECRET) not in caplog.text
