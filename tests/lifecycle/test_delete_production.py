"""Done-when of issue 9: ``labline runs delete`` on the run whose model is in production breaks
neither ``load_model`` nor serving, also after ``labline gc``. Real CLI, every backend."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import labline

X, Y = load_iris(return_X_y=True)


def _cli(settings: labline.Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LABLINE_HOME": str(settings.home),
        "LABLINE_URI": settings.uri,
        "LABLINE_ARTIFACT_URI": settings.artifact_uri,
    }
    return subprocess.run(
        [sys.executable, "-m", "labline", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )


def test_deleting_the_run_of_the_production_model_breaks_nothing(
    client: labline.Client, settings: labline.Settings
) -> None:
    from labline.serving import RegistryModelSource, ServeSettings, create_app

    model = LogisticRegression(max_iter=500).fit(X, Y)
    with client.start_run("iris", capture_env=False) as run:
        run.log_model(model, input_example=X[:2], eval_inputs=X[:20])
    mv = client.register_model(run.id, name="iris")
    client.promote("iris", mv.version, "production", reason="picked")

    out = _cli(settings, "runs", "delete", run.id, "--json")
    assert out.returncode == 0, out.stderr
    gc = _cli(settings, "gc", "--grace", "0", "--json")
    assert gc.returncode == 0, gc.stderr
    assert json.loads(gc.stdout)["runs_kept"] == [run.id]
    shutil.rmtree(Path(settings.home) / "packages", ignore_errors=True)

    fresh = labline.Client(settings)
    try:
        loaded = fresh.load_model("iris@production")
        np.testing.assert_array_equal(loaded.predict(X[:10]), model.predict(X[:10]))
        app = create_app(ServeSettings(), RegistryModelSource("iris@production", fresh))

        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://serve") as http:
                field = loaded.manifest.input_schema[0].name
                return await http.post("/predict", json={"columns": {field: X[:3].tolist()}})

        r = asyncio.run(call())
        assert r.status_code == 200 and r.headers.get("x-labline-model-digest") == mv.digest
        shown = _cli(settings, "models", "show", "iris@production", "--json")
        assert json.loads(shown.stdout)["version"]["run_id"] == run.id
    finally:
        fresh.close()
