"""``POST /predict`` in-process through the app factory and httpx's ASGI transport."""

from __future__ import annotations

import asyncio
import gzip
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from serving_support import load

SECRET = "PAYLOAD-MARKER-7f3a"


def test_records_and_columns_answer_predictions_probabilities_and_model_identity(
    make_client: Any, package_v1: Path, digits: Any
) -> None:
    X = digits[0][:7]
    model = load(package_v1)

    async def go() -> None:
        async with make_client(package_v1) as c:
            r = await c.post("/predict", json=[{"input": row.tolist()} for row in X])
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["predictions"] == model.predict({"input": X}).tolist()
            np.testing.assert_allclose(
                body["probabilities"], model.predict_proba({"input": X}), rtol=1e-12
            )
            assert body["classes"] == list(range(10))
            assert body["model"] == {
                "name": "digits",
                "version": model.version,
                "digest": model.digest,
            }
            assert r.headers["x-labline-model-name"] == "digits"
            assert r.headers["x-labline-model-digest"] == model.digest
            assert r.headers["x-labline-model-version"] == (
                "" if model.version is None else str(model.version)
            )

            r2 = await c.post("/predict", json={"columns": {"input": X.tolist()}})
            assert r2.status_code == 200
            assert r2.json()["predictions"] == body["predictions"]
            r3 = await c.post("/predict", json={"records": [{"input": X[0].tolist()}]})
            assert r3.json()["predictions"] == body["predictions"][:1]

    asyncio.run(go())


def test_named_columns_with_string_classes(make_client: Any, tabular_package: Path) -> None:
    model = load(tabular_package)
    records = [
        {"age": 70, "income": 40.0},
        {"age": 20, "income": 70.5},
        {"age": 30, "income": 20.0},
    ]

    async def go() -> None:
        async with make_client(tabular_package) as c:
            r = await c.post("/predict", json=records)
            assert r.status_code == 200, r.text
            expected = model.predict({"age": [70, 20, 30], "income": [40.0, 70.5, 20.0]}).tolist()
            assert r.json()["predictions"] == expected
            assert set(r.json()["classes"]) == {"other", "rich", "senior"}
            cols = await c.post(
                "/predict", json={"columns": {"age": [70, 20, 30], "income": [40.0, 70.5, 20.0]}}
            )
            assert cols.json()["predictions"] == expected

    asyncio.run(go())


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b'{"records": [', 400, "not valid JSON"),
        (b"", 400, "empty"),
        (b"[]", 400, "no records"),
        (b'"just a string"', 400, "expected a JSON list of records"),
        (b"[1, 2]", 400, "record 0 is not a JSON object"),
        (b'[{"inputs": [0]}]', 400, "missing field 'input'"),
        (b'[{"input": [' + b"0," * 63 + b'0], "extra": 1}]', 400, "unknown field 'extra'"),
        (b'[{"input": [1, 2, 3]}]', 400, "field 'input'"),
        (
            b'[{"input": [' + b'"' + SECRET.encode() + b'",' + b"0," * 62 + b"0]}]",
            400,
            "got str values",
        ),
        (b'[{"input": [' + b"null," * 63 + b"0]}]", 400, "field 'input'"),
        (b'[{"input": [[1], [2, 3]]}]', 400, "field 'input'"),
        (b'{"columns": {"input": 5}}', 400, "column 'input' must be a list"),
        (b'{"records": {"input": 1}}', 400, "'records' must be a list"),
    ],
)
def test_malformed_input_is_a_4xx_naming_the_problem_never_the_payload(
    make_client: Any, package_v1: Path, body: bytes, status: int, needle: str, caplog: Any
) -> None:
    async def go() -> None:
        async with make_client(package_v1) as c:
            r = await c.post("/predict", content=body, headers={"content-type": "application/json"})
            assert r.status_code == status, r.text
            assert needle in r.json()["error"]
            assert SECRET not in r.text
            assert r.headers["x-labline-model-name"] == "digits"  # errors name the model too

    with caplog.at_level(logging.DEBUG):
        asyncio.run(go())
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    ("content_type", "body", "status", "needle"),
    [
        ("text/csv", b"input\n" + SECRET.encode(), 415, "Content-Type is 'text/csv'"),
        ("multipart/form-data; boundary=x", b"--x\r\n", 415, "'multipart/form-data'"),
        ("application/json", b"input,1", 400, "not valid JSON"),
        ("application/vnd.api+json", b"{", 400, "not valid JSON"),
    ],
)
def test_non_json_bodies_name_the_content_type(
    make_client: Any, package_v1: Path, content_type: str, body: bytes, status: int, needle: str
) -> None:
    async def go() -> None:
        async with make_client(package_v1) as c:
            r = await c.post("/predict", content=body, headers={"content-type": content_type})
            assert r.status_code == status, r.text
            assert needle in r.json()["error"]
            if status == 415:
                assert "send application/json" in r.json()["error"]
            assert SECRET not in r.text

    asyncio.run(go())


def test_json_body_under_curl_default_content_type_is_served(
    make_client: Any, package_v1: Path, digits: Any
) -> None:
    async def go() -> None:
        async with make_client(package_v1) as c:
            body = ('[{"input": ' + str(digits[0][0].tolist()) + "}]").encode()
            ct = {"content-type": "application/x-www-form-urlencoded"}  # what curl -d sends
            r = await c.post("/predict", content=body, headers=ct)
            assert r.status_code == 200, r.text

    asyncio.run(go())


def test_wrong_shape_names_expected_shape(make_client: Any, package_v1: Path) -> None:
    async def go() -> None:
        async with make_client(package_v1) as c:
            r = await c.post("/predict", json=[{"input": [0.0] * 63}])
            assert r.status_code == 400
            assert "expected float64 with shape (None, 64)" in r.json()["error"]
            assert "got size 63 in dimension 1" in r.json()["error"]

    asyncio.run(go())


def test_oversized_body_is_413_and_declared_length_checked_first(
    make_client: Any, package_v1: Path
) -> None:
    async def go() -> None:
        async with make_client(package_v1, max_body_bytes=1000) as c:
            big = b'[{"input": [' + b"0.0," * 400 + b"0.0]}]"
            r = await c.post("/predict", content=big)
            assert r.status_code == 413
            assert "1000 bytes" in r.json()["error"]

            async def chunks() -> Any:  # no Content-Length: streamed, counted as it arrives
                for _ in range(10):
                    yield b" " * 200

            r2 = await c.post("/predict", content=chunks())
            assert r2.status_code == 413
            bomb = gzip.compress(b" " * 100_000)
            r3 = await c.post("/predict", content=bomb, headers={"content-encoding": "gzip"})
            assert r3.status_code == 413

    asyncio.run(go())


def test_gzip_body_and_unknown_encoding(make_client: Any, package_v1: Path, digits: Any) -> None:
    async def go() -> None:
        async with make_client(package_v1) as c:
            raw = ('[{"input": ' + str(digits[0][0].tolist()) + "}]").encode()
            r = await c.post(
                "/predict", content=gzip.compress(raw), headers={"content-encoding": "gzip"}
            )
            assert r.status_code == 200, r.text
            r2 = await c.post("/predict", content=raw, headers={"content-encoding": "br"})
            assert r2.status_code == 415
            r3 = await c.post("/predict", content=b"not gzip", headers={"content-encoding": "gzip"})
            assert r3.status_code == 400

    asyncio.run(go())


def test_unknown_route_and_method(make_client: Any, package_v1: Path) -> None:
    async def go() -> None:
        async with make_client(package_v1) as c:
            r = await c.get("/nope")
            assert r.status_code == 404 and r.json() == {"error": "not found"}
            r2 = await c.get("/predict")
            assert r2.status_code == 405 and "error" in r2.json()

    asyncio.run(go())


@pytest.mark.parametrize("name", ["模型", "line\nbreak", "tab\there"])
def test_any_model_name_is_served_with_a_valid_header(
    serve_in_thread: Any, tmp_path: Path, name: str
) -> None:
    """Names may hold any character but '/' and '@'; headers must stay valid HTTP."""
    from urllib.parse import quote, unquote

    import httpx
    from sklearn.linear_model import LogisticRegression

    from labline.models import write_package

    X = np.random.default_rng(0).normal(size=(40, 4))
    est = LogisticRegression().fit(X, (X[:, 0] > 0).astype(np.int64))
    write_package(est, tmp_path / "pkg", name=name, input_example=X[:3])
    srv = serve_in_thread(tmp_path / "pkg")
    q = quote(name, safe="")
    doc = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [0] * 4}]}
    with httpx.Client(base_url=srv.url, timeout=10) as c:
        answers = [
            c.post("/predict", json=[{"input": [0.0] * 4}]),
            c.get(f"/v2/models/{q}"),
            c.post(f"/v2/models/{q}/infer", json=doc),
            c.post("/predict", content=b"{"),  # error answers carry the headers too
        ]
        assert [r.status_code for r in answers] == [200, 200, 200, 400]
        for r in answers:
            assert unquote(r.headers["x-labline-model-name"]) == name
        assert answers[0].json()["model"]["name"] == name
        assert answers[1].json()["name"] == name
        assert answers[2].json()["model_name"] == name
        assert c.get(f"/v2/models/{q}/ready").json() == {"name": name, "ready": True}
