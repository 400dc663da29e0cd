"""What outside clients found (issue 16, items 12-16 and 19), one test each, in-process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from serving_support import load

import labline
from labline.serving import ServeSettings, StaticModelSource, create_app

SECRET = 4242.4242  # a payload value that must never come back in an error


def _row_doc(**extra: Any) -> dict[str, Any]:
    tensor = {"name": "input", "shape": [1, 64], "datatype": "FP64", "data": [0.5] * 64}
    return {"inputs": [tensor], **extra}


@pytest.fixture(scope="module")
def counting_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from _raising_model import CountingClassifier

    from labline.models import write_package

    folder = tmp_path_factory.mktemp("pkg") / "counting"
    write_package(
        CountingClassifier(), folder, name="counting", input_example=np.array([[0.5, 0.7]])
    )
    return folder


# -- 12: only requested outputs are computed ------------------------------------------------


def test_predict_proba_runs_only_when_probabilities_are_asked_for(
    counting_package: Path,
) -> None:
    model = load(counting_package)
    assert model.has_proba
    tensor = {"name": "input", "shape": [1, 2], "datatype": "FP64", "data": [0.5, 0.9]}

    async def go() -> None:
        app = create_app(ServeSettings(), StaticModelSource(model))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            url = "/v2/models/counting/infer"
            before = model.model.proba_calls
            r = await c.post(url, json={"inputs": [tensor], "outputs": [{"name": "predictions"}]})
            assert r.status_code == 200, r.text
            assert [o["name"] for o in r.json()["outputs"]] == ["predictions"]
            assert model.model.proba_calls == before  # not computed
            r = await c.post(url, json={"inputs": [tensor]})
            assert [o["name"] for o in r.json()["outputs"]] == ["predictions", "probabilities"]
            assert model.model.proba_calls == before + 1
            r = await c.post("/predict", json=[{"input": [0.5, 0.9]}])
            assert r.status_code == 200 and "probabilities" in r.json()
            assert model.model.proba_calls == before + 2

    asyncio.run(go())


# -- 13: 405 answers carry Allow ------------------------------------------------------------


def test_method_not_allowed_names_the_allowed_methods(make_client: Any, package_v1: Path) -> None:
    async def go() -> None:
        async with make_client(package_v1) as c:
            r = await c.get("/predict")
            assert r.status_code == 405 and r.json() == {"error": "method not allowed"}
            assert r.headers["allow"] == "POST"
            r = await c.delete("/v2/models/digits/infer")
            assert r.status_code == 405 and r.headers["allow"] == "POST"
            r = await c.post("/v2/health/live")
            assert r.status_code == 405
            assert set(r.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}
            r = await c.get("/nowhere")
            assert r.status_code == 404 and "allow" not in r.headers

    asyncio.run(go())


# -- 14: "outputs": [] means all outputs ------------------------------------------------------


def test_an_empty_outputs_list_answers_every_output(make_client: Any, package_v1: Path) -> None:
    async def go() -> None:
        async with make_client(package_v1) as c:
            r = await c.post("/v2/models/digits/infer", json=_row_doc(outputs=[]))
            assert r.status_code == 200, r.text
            names = [o["name"] for o in r.json()["outputs"]]
            assert names == ["predictions", "probabilities"]

    asyncio.run(go())


# -- 15: parameters are objects at every level, holding strings, numbers or booleans --------


@pytest.mark.parametrize("bad", [[], 0, False, "", [SECRET], 1.5])
@pytest.mark.parametrize("level", ["request", "input", "output"])
def test_parameters_must_be_an_object_at_every_level(
    make_client: Any, package_v1: Path, level: str, bad: Any
) -> None:
    doc = _row_doc(outputs=[{"name": "predictions"}])
    holder = {"request": doc, "input": doc["inputs"][0], "output": doc["outputs"][0]}[level]
    holder["parameters"] = bad

    async def go() -> None:
        async with make_client(package_v1) as c:
            r = await c.post("/v2/models/digits/infer", json=doc)
            assert r.status_code == 400, r.text
            assert "'parameters' must be an object" in r.json()["error"]
            assert str(SECRET) not in r.text

    asyncio.run(go())


@pytest.mark.parametrize("value", [{"x": 1}, [1, 2], None])
@pytest.mark.parametrize("level", ["request", "input", "output"])
def test_parameter_values_are_strings_numbers_or_booleans(
    make_client: Any, package_v1: Path, level: str, value: Any
) -> None:
    def doc_with(params: dict[str, Any]) -> dict[str, Any]:
        doc = _row_doc(outputs=[{"name": "predictions"}])
        holder = {"request": doc, "input": doc["inputs"][0], "output": doc["outputs"][0]}[level]
        holder["parameters"] = params
        return doc

    async def go() -> None:
        async with make_client(package_v1) as c:
            url = "/v2/models/digits/infer"
            ok = doc_with({"tag": "a", "priority": 2, "weight": 0.5, "flag": True})
            assert (await c.post(url, json=ok)).status_code == 200
            r = await c.post(url, json=doc_with({"tag": value}))
            assert r.status_code == 400, r.text
            assert "parameter 'tag' must be a string, number or boolean" in r.json()["error"]

    asyncio.run(go())


# -- 16: JSON values are checked against the declared datatype ------------------------------


@pytest.mark.parametrize(
    ("datatype", "value", "needle"),
    [
        ("INT8", 300, "int8 range"),
        ("UINT8", -1, "uint8 range"),
        ("INT64", 0.5, "not integers"),
        ("FP32", 1e300, "float32 range"),
        ("INT16", True, "not integers"),
        ("FP64", False, "not numbers"),
        ("BOOL", 1, "not booleans"),
        ("INT64", 2**70, "datatype INT64"),  # beyond 64 bits
    ],
)
def test_json_tensor_values_must_fit_the_declared_datatype(
    make_client: Any, package_v1: Path, datatype: str, value: Any, needle: str
) -> None:
    data = [0] * 64 if datatype != "BOOL" else [False] * 64
    data[5] = value
    doc = {"inputs": [{"name": "input", "shape": [1, 64], "datatype": datatype, "data": data}]}

    async def go() -> None:
        async with make_client(package_v1) as c:
            r = await c.post("/v2/models/digits/infer", json=doc)
            assert r.status_code == 400, r.text
            assert "field 'input'" in r.json()["error"] and needle in r.json()["error"]
            ok = {"inputs": [{**doc["inputs"][0], "data": [0] * 64}]}
            if datatype != "BOOL":  # the same datatype with in-range values is served
                assert (await c.post("/v2/models/digits/infer", json=ok)).status_code == 200

    asyncio.run(go())


# -- 19: one schema engine: the library and the server agree --------------------------------


def _library_answer(model: Any, batch: Any) -> tuple[str, Any]:
    try:
        return "ok", model.predict(batch).tolist()
    except labline.SchemaError as e:
        return "refused", e.message


async def _server_answer(c: httpx.AsyncClient, path: str, doc: Any) -> tuple[str, Any]:
    r = await c.post(path, json=doc)
    if r.status_code == 200:
        body = r.json()
        preds = body["predictions"] if "predictions" in body else body["outputs"][0]["data"]
        return "ok", preds
    assert r.status_code == 400, r.text
    return "refused", r.json()["error"]


@pytest.mark.parametrize(
    "row",
    [
        [True] + [0.0] * 63,  # a JSON true in a float field
        [0.5, True] + [0.0] * 62,  # ... among numbers (numpy alone would make it 1.0)
        [1] * 64,  # integers in a float field
        [0.25] * 64,
        ["1.0"] + [0.0] * 63,
    ],
)
def test_library_and_server_give_the_same_answer(
    make_client: Any, package_v1: Path, row: list[Any]
) -> None:
    model = load(package_v1)
    expected = _library_answer(model, {"input": [row]})
    assert _library_answer(model, [row]) == expected  # every layout takes the same path
    if True in (type(v) is bool for v in row):
        assert expected[0] == "refused" and "got bool values" in expected[1]

    async def go() -> None:
        async with make_client(package_v1) as c:
            assert await _server_answer(c, "/predict", [{"input": row}]) == expected
            assert await _server_answer(c, "/predict", {"columns": {"input": [row]}}) == expected

    asyncio.run(go())


def test_library_and_server_agree_on_named_columns(make_client: Any, tabular_package: Path) -> None:
    model = load(tabular_package)
    cases = [
        {"age": 30, "income": True},
        {"age": True, "income": 50.0},
        {"age": 30.5, "income": 50.0},
        {"age": 30, "income": 50},
        {"age": 2**63, "income": 50.0},
    ]

    async def go() -> None:
        async with make_client(tabular_package) as c:
            for record in cases:
                expected = _library_answer(model, [record])
                assert await _server_answer(c, "/predict", [record]) == expected, record
                columns = {k: [v] for k, v in record.items()}
                assert _library_answer(model, columns) == expected, record

    asyncio.run(go())


# -- mounting the app inside another one ------------------------------------------------------


def test_the_app_mounts_into_another_starlette_app(package_v1: Path, digits: Any) -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Mount, Route

    model_app = create_app(ServeSettings(), StaticModelSource(load(package_v1)))

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        async with model_app.lifespan(app):
            yield

    async def home(request: Any) -> Any:
        return PlainTextResponse("home")

    outer = Starlette(
        routes=[Route("/", home), Mount("/models/digits", app=model_app)], lifespan=lifespan
    )
    row = digits[0][0].tolist()

    async def go() -> None:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=outer), base_url="http://t"
        ) as c:
            assert (await c.get("/")).text == "home"
            r = await c.post("/models/digits/predict", json=[{"input": row}])
            assert r.status_code == 200, r.text
            doc = {"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP64", "data": row}]}
            r2 = await c.post("/models/digits/v2/models/digits/infer", json=doc)
            assert r2.status_code == 200, r2.text
            assert r2.json()["outputs"][0]["data"] == r.json()["predictions"]
            assert (await c.get("/models/digits/v2/health/ready")).json() == {"ready": True}
            assert (await c.get("/models/digits/predict")).status_code == 405

    asyncio.run(go())
