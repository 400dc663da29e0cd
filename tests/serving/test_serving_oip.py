"""Open Inference Protocol V2 driven by the real ``tritonclient.http`` on a real socket."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pytest
from serving_support import load

import labline

tritonhttp = pytest.importorskip("tritonclient.http")
from tritonclient.utils import InferenceServerException  # noqa: E402


@pytest.fixture(scope="module")
def triton_target(package_v1: Path, tabular_package: Path) -> Any:
    """One server per module (starting uvicorn costs time); yields (url, loaded model)."""
    from serving_support import ThreadedServer

    from labline.serving import ServeSettings, StaticModelSource, create_app

    model = load(package_v1)
    with ThreadedServer(create_app(ServeSettings(), StaticModelSource(model))) as srv:
        yield srv, model


def _client(srv: Any) -> Any:
    return tritonhttp.InferenceServerClient(
        url=f"127.0.0.1:{srv.port}", connection_timeout=10, network_timeout=10
    )


def test_health_metadata_and_readiness(triton_target: Any) -> None:
    srv, model = triton_target
    client = _client(srv)
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("digits")
    assert not client.is_model_ready("other")
    meta = client.get_server_metadata()
    assert meta["name"] == "labline" and "binary_tensor_data" in meta["extensions"]
    md = client.get_model_metadata("digits")
    assert md["name"] == "digits"
    assert md["inputs"] == [{"name": "input", "datatype": "FP64", "shape": [-1, 64]}]
    assert [o["name"] for o in md["outputs"]] == ["predictions", "probabilities"]
    assert md["outputs"][0]["datatype"] == "INT64"
    assert md["outputs"][1]["shape"] == [-1, 10]
    if model.version is not None:
        assert md["versions"] == [str(model.version)]
        assert (
            client.get_model_metadata("digits", model_version=str(model.version))["name"]
            == "digits"
        )
    with pytest.raises(InferenceServerException, match="unknown model"):
        client.get_model_metadata("nope")
    with pytest.raises(InferenceServerException, match="not served"):
        client.get_model_metadata("digits", model_version="999")

    r = httpx.get(f"{srv.url}/v2/health/live")
    assert r.status_code == 200 and r.json() == {"live": True}
    assert httpx.get(f"{srv.url}/v2/health/ready").json() == {"ready": True}


@pytest.mark.parametrize("binary_in", [True, False])
@pytest.mark.parametrize("binary_out", [True, False, None])
def test_infer_binary_and_json(
    triton_target: Any, digits: Any, binary_in: bool, binary_out: bool | None
) -> None:
    srv, model = triton_target
    X = digits[0][:5].astype(np.float64)
    client = _client(srv)
    inp = tritonhttp.InferInput("input", list(X.shape), "FP64")
    inp.set_data_from_numpy(X, binary_data=binary_in)
    outputs = (
        None
        if binary_out is None
        else [
            tritonhttp.InferRequestedOutput("predictions", binary_data=binary_out),
            tritonhttp.InferRequestedOutput("probabilities", binary_data=binary_out),
        ]
    )
    result = client.infer("digits", [inp], outputs=outputs, request_id="req-42")
    response = result.get_response()
    assert response["id"] == "req-42"
    assert response["model_name"] == "digits"
    assert response["parameters"] == {"digest": model.digest}
    assert response["model_version"] == ("" if model.version is None else str(model.version))
    np.testing.assert_array_equal(result.as_numpy("predictions"), model.predict({"input": X}))
    np.testing.assert_allclose(
        result.as_numpy("probabilities"), model.predict_proba({"input": X}), rtol=1e-12
    )
    assert result.as_numpy("probabilities").shape == (5, 10)


def test_infer_fp32_is_accepted_and_only_requested_outputs_returned(
    triton_target: Any, digits: Any
) -> None:
    srv, model = triton_target
    X = digits[0][:3].astype(np.float32)
    client = _client(srv)
    inp = tritonhttp.InferInput("input", list(X.shape), "FP32")
    inp.set_data_from_numpy(X)
    result = client.infer("digits", [inp], outputs=[tritonhttp.InferRequestedOutput("predictions")])
    assert [o["name"] for o in result.get_response()["outputs"]] == ["predictions"]
    np.testing.assert_array_equal(
        result.as_numpy("predictions"), model.predict({"input": X.astype(np.float64)})
    )


def test_infer_errors_are_4xx_json(triton_target: Any, digits: Any) -> None:
    srv, _ = triton_target
    client = _client(srv)
    X = digits[0][:2]

    def infer(name: str, shape: list[int], dtype: str, data: Any, model: str = "digits") -> None:
        inp = tritonhttp.InferInput(name, shape, dtype)
        inp.set_data_from_numpy(data)
        client.infer(model, [inp])

    with pytest.raises(InferenceServerException, match="unknown input tensor 'x'"):
        infer("x", [2, 64], "FP64", X)
    with pytest.raises(InferenceServerException, match="expected FP64"):
        infer("input", [2, 64], "BYTES", np.array([["a"] * 64] * 2, dtype=object))
    with pytest.raises(InferenceServerException, match="field 'input'"):
        infer("input", [2, 32], "FP64", X[:, :32].copy())
    with pytest.raises(InferenceServerException, match="unknown model"):
        infer("input", [2, 64], "FP64", X, model="nope")

    url = f"{srv.url}/v2/models/digits/infer"
    cases = [
        (b"{nope", {}, "not valid JSON"),
        (b'{"inputs": []}', {}, "non-empty 'inputs'"),
        (
            b'{"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP64"}]}',
            {},
            "needs 'data'",
        ),
        (
            b'{"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP64", "data": [1, 2]}]}',
            {},
            "has 2 elements",
        ),
        (
            b'{"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP64", "parameters": {"binary_data_size": 512}}]}'
            + b"\0" * 10,
            {"inference-header-content-length": "110"},
            "binary",
        ),
        (b"{}", {"inference-header-content-length": "99"}, "exceeds the request body"),
    ]
    for body, headers, needle in cases:
        r = httpx.post(url, content=body, headers=headers)
        assert 400 <= r.status_code < 500, (needle, r.text)
        assert needle in r.json()["error"], (needle, r.json())


def test_versioned_infer_path_and_json_request_by_hand(
    make_client: Any, package_v1: Path, digits: Any
) -> None:
    model = load(package_v1)
    X = digits[0][:2]
    doc = {
        "id": "abc",
        "inputs": [{"name": "input", "shape": [2, 64], "datatype": "FP64", "data": X.tolist()}],
        "outputs": [{"name": "predictions"}],
    }

    async def go() -> None:
        async with make_client(package_v1) as c:
            version = "" if model.version is None else str(model.version)
            path = (
                f"/v2/models/digits/versions/{version}/infer"
                if version
                else "/v2/models/digits/infer"
            )
            r = await c.post(path, json=doc)
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["id"] == "abc"
            assert body["outputs"] == [
                {
                    "name": "predictions",
                    "datatype": "INT64",
                    "shape": [2],
                    "data": model.predict({"input": X}).tolist(),
                }
            ]
            assert r.headers["x-labline-model-digest"] == model.digest
            r2 = await c.post("/v2/models/digits/versions/999/infer", json=doc)
            assert r2.status_code == 404 and "not served" in r2.json()["error"]
            doc2 = {
                **doc,
                "outputs": [{"name": "predictions", "parameters": {"classification": 3}}],
            }
            r3 = await c.post("/v2/models/digits/infer", json=doc2)
            assert r3.status_code == 400 and "classification" in r3.json()["error"]
            r4 = await c.post(
                "/v2/models/digits/infer", json={**doc, "outputs": [{"name": "logits"}]}
            )
            assert r4.status_code == 400 and "unknown output 'logits'" in r4.json()["error"]
            c.app.state.server.ready = False  # type: ignore[attr-defined]
            r5 = await c.get("/v2/health/ready")
            assert r5.status_code == 503 and r5.json() == {"ready": False}
            r6 = await c.get("/v2/models/digits/ready")
            assert r6.status_code == 503

    asyncio.run(go())


def test_named_columns_as_tensors(make_client: Any, tabular_package: Path) -> None:
    model = load(tabular_package)
    doc = {
        "inputs": [
            {"name": "age", "shape": [2], "datatype": "INT64", "data": [70, 20]},
            {"name": "income", "shape": [2], "datatype": "FP64", "data": [40.0, 70.5]},
        ]
    }

    async def go() -> None:
        async with make_client(tabular_package) as c:
            md = (await c.get("/v2/models/tabular")).json()
            assert md["inputs"] == [
                {"name": "age", "datatype": "INT64", "shape": [-1]},
                {"name": "income", "datatype": "FP64", "shape": [-1]},
            ]
            assert md["outputs"][0]["datatype"] == "BYTES"
            r = await c.post("/v2/models/tabular/infer", json=doc)
            assert r.status_code == 200, r.text
            out = {o["name"]: o for o in r.json()["outputs"]}
            assert (
                out["predictions"]["data"]
                == model.predict({"age": [70, 20], "income": [40.0, 70.5]}).tolist()
            )
            missing = {"inputs": doc["inputs"][:1]}
            r2 = await c.post("/v2/models/tabular/infer", json=missing)
            assert r2.status_code == 400 and "missing input tensor 'income'" in r2.json()["error"]

    asyncio.run(go())


def test_bytes_outputs_in_binary_mode(serve_in_thread: Any, tabular_package: Path) -> None:
    model = load(tabular_package)
    srv = serve_in_thread(tabular_package)
    client = _client(srv)
    age = tritonhttp.InferInput("age", [3], "INT64")
    age.set_data_from_numpy(np.array([70, 20, 30], dtype=np.int64))
    income = tritonhttp.InferInput("income", [3], "FP64")
    income.set_data_from_numpy(np.array([40.0, 70.5, 20.0]))
    result = client.infer("tabular", [age, income])
    got = [b.decode() for b in result.as_numpy("predictions")]
    assert got == model.predict({"age": [70, 20, 30], "income": [40.0, 70.5, 20.0]}).tolist()


@pytest.mark.parametrize(
    "doc",
    [
        [],
        {"inputs": "x"},
        {"inputs": [1]},
        {"inputs": [{"name": 3}]},
        {"inputs": [{"name": "input", "shape": "2x64", "datatype": "FP64", "data": []}]},
        {"inputs": [{"name": "input", "shape": [-1, 64], "datatype": "FP64", "data": []}]},
        {"inputs": [{"name": "input", "shape": [2**40, 2**40], "datatype": "FP64", "data": [1]}]},
        {"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP128", "data": [0] * 64}]},
        {
            "inputs": [
                {"name": "input", "shape": [1, 64], "datatype": "FP64", "data": [[0], [0, 1]]}
            ]
        },
        {"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP64", "data": ["a"] * 64}]},
        {"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP64", "data": [None] * 64}]},
        {"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP64", "data": [{}] * 64}]},
        {"inputs": [{"name": "input", "shape": [64], "datatype": "FP64", "data": [0] * 64}]},
        {"inputs": [{"name": "input", "shape": [0, 64], "datatype": "FP64", "data": []}]},
        {
            "inputs": [
                {
                    "name": "input",
                    "shape": [1, 64],
                    "datatype": "FP64",
                    "data": [0] * 64,
                    "parameters": 5,
                }
            ]
        },
        {
            "inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP64", "data": [0] * 64}],
            "outputs": "all",
        },
        {
            "inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP64", "data": [0] * 64}],
            "outputs": [{"name": "predictions", "parameters": ["x"]}],
        },
        {
            "inputs": [
                {"name": "input", "shape": [1, 64], "datatype": "FP64", "data": [0] * 64},
                {"name": "input", "shape": [1, 64], "datatype": "FP64", "data": [0] * 64},
            ]
        },
    ],
)
def test_malformed_v2_documents_are_4xx(make_client: Any, package_v1: Path, doc: Any) -> None:
    async def go() -> None:
        async with make_client(package_v1) as c:
            r = await c.post("/v2/models/digits/infer", json=doc)
            assert 400 <= r.status_code < 500, r.text
            assert r.json()["error"]

    asyncio.run(go())


SECRET = "PAYLOAD-MARKER-v2-91c"
_ROW = [0.0] * 64


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ({"id": {"x": SECRET}, "inputs": []}, "'id' must be a string"),
        (
            {
                "id": 7,
                "inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP64", "data": _ROW}],
            },
            "'id' must be a string",
        ),
        (
            {
                "inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP64", "data": _ROW}],
                "parameters": {"binary_data_output": SECRET},
            },
            "'binary_data_output' must be true or false",
        ),
        (
            {
                "inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP64", "data": _ROW}],
                "parameters": SECRET,
            },
            "'parameters' must be an object",
        ),
        (
            {
                "inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP64", "data": _ROW}],
                "outputs": [{"name": "predictions", "parameters": {"binary_data": "yes"}}],
            },
            "outputs[0].parameters: 'binary_data' must be true or false",
        ),
        (
            {
                "inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP64", "data": _ROW}],
                "outputs": [{"name": "predictions"}, {"name": "predictions"}],
            },
            "output 'predictions' is requested twice",
        ),
        (
            {
                "inputs": [
                    {
                        "name": "input",
                        "shape": [1, 64],
                        "datatype": "FP64",
                        "data": [SECRET, *_ROW[1:]],
                    }
                ]
            },
            "field 'input'",
        ),
    ],
)
def test_malformed_v2_documents_name_the_problem_never_the_payload(
    make_client: Any, package_v1: Path, doc: Any, needle: str, caplog: Any
) -> None:
    async def go() -> None:
        async with make_client(package_v1) as c:
            r = await c.post("/v2/models/digits/infer", json=doc)
            assert r.status_code == 400, r.text
            assert needle in r.json()["error"]
            assert SECRET not in r.text
            assert r.headers["x-labline-model-digest"].startswith("sha256:")

    with caplog.at_level(logging.DEBUG):
        asyncio.run(go())
    assert SECRET not in caplog.text


def test_v2_json_body_with_a_non_json_content_type(make_client: Any, package_v1: Path) -> None:
    doc = {"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP64", "data": _ROW}]}

    async def go() -> None:
        async with make_client(package_v1) as c:
            url = "/v2/models/digits/infer"
            r = await c.post(url, content=orjson.dumps(doc), headers={"content-type": "text/plain"})
            assert r.status_code == 200, r.text  # JSON is JSON whatever the label
            r = await c.post(url, content=b"a,b\n1,2", headers={"content-type": "text/csv"})
            assert r.status_code == 415 and "'text/csv'" in r.json()["error"]

    asyncio.run(go())


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_tensor_values_are_4xx_naming_the_field(
    triton_target: Any, digits: Any, bad: float
) -> None:
    srv, model = triton_target
    X = digits[0][:4].astype(np.float64)
    X[2, 5] = bad
    inp = tritonhttp.InferInput("input", list(X.shape), "FP64")
    inp.set_data_from_numpy(X, binary_data=True)
    with pytest.raises(InferenceServerException) as ei:
        _client(srv).infer("digits", [inp])
    assert "field 'input'" in str(ei.value) and "finite" in str(ei.value)
    assert ei.value.status() == "400"
    # the library path refuses it the same way, before the estimator sees it
    with pytest.raises(labline.SchemaError, match="field 'input'"):
        model.predict({"input": X})
    # and the server is still serving
    good = tritonhttp.InferInput("input", [1, X.shape[1]], "FP64")
    good.set_data_from_numpy(X[:1], binary_data=True)
    assert _client(srv).infer("digits", [good]).as_numpy("predictions").shape == (1,)
