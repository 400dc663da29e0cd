"""Following ``name@alias``: switch after verification, never failing in-flight requests."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import httpx
import numpy as np
import pytest

import labline
from labline.models import registry
from labline.serving import RegistryModelSource


def _load_until(url: str, stop: threading.Event, rows: np.ndarray, out: list[Any]) -> None:
    with httpx.Client(timeout=30) as client:
        i = 0
        while not stop.is_set():
            row = rows[i % len(rows)]
            r = client.post(f"{url}/predict", json=[{"input": row.tolist()}])
            out.append(
                (r.status_code, r.headers.get("x-labline-model-digest"), r.json(), i % len(rows))
            )
            i += 1


def test_alias_move_switches_without_failing_in_flight_requests(
    serve_in_thread: Any, registry_home: Any, digits: Any, caplog: Any
) -> None:
    settings, v1, v2 = registry_home
    reg = registry(settings)
    reg.promote("digits", v1.version, "production", reason="first release")
    source = RegistryModelSource("digits@production", labline.Client(settings))
    assert source.followable
    srv = serve_in_thread(source, poll_interval_s=0.1)
    models = {v1.digest: source.load()}
    assert models[v1.digest].version == v1.version
    rows = digits[0][:50]

    stop = threading.Event()
    results: list[list[Any]] = [[] for _ in range(4)]
    workers = [
        threading.Thread(target=_load_until, args=(srv.url, stop, rows, out)) for out in results
    ]
    with caplog.at_level(logging.INFO, logger="labline.serving"):
        for w in workers:
            w.start()
        try:
            time.sleep(0.3)
            reg.promote("digits", v2.version, "production", reason="better")  # runs the parity gate
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if any(out and out[-1][1] == v2.digest for out in results):
                    break
                time.sleep(0.05)
            time.sleep(0.3)
        finally:
            stop.set()
            for w in workers:
                w.join()

    models[v2.digest] = registry(settings).load(f"digits/{v2.version}")
    total = sum(len(out) for out in results)
    assert total > 20
    for out in results:
        digests = [d for _, d, _, _ in out]
        assert all(status == 200 for status, *_ in out), {s for s, *_ in out}
        # each client sees v1, then v2, never back
        assert digests == sorted(digests, key=lambda d: d == v2.digest)
        for _status, digest, body, i in out:
            assert body["model"]["digest"] == digest
            expected = models[digest].predict_proba({"input": rows[i : i + 1]})
            np.testing.assert_allclose(body["probabilities"], expected, rtol=1e-9)
    assert any(out[-1][1] == v2.digest for out in results)
    assert any(out[0][1] == v1.digest for out in results)
    switch_logs = [r.getMessage() for r in caplog.records if "switched" in r.getMessage()]
    assert len(switch_logs) == 1 and v1.digest in switch_logs[0] and v2.digest in switch_logs[0]

    metrics = httpx.get(f"{srv.url}/metrics").text
    assert f'digest="{v2.digest}"' in metrics and f'digest="{v1.digest}"' not in metrics
    assert "labline_serving_model_switches_total 1.0" in metrics


def test_a_tampered_target_is_refused_and_the_old_model_keeps_serving(
    registry_home: Any, digits: Any, digits_models: Any, caplog: Any, make_client: Any
) -> None:
    import asyncio

    import labline

    settings, v1, _ = registry_home
    reg = registry(settings)
    reg.promote("digits", v1.version, "staging", reason="test", skip_parity=True)
    X = digits[0]
    with labline.start_run(experiment="serving-tests", settings=settings) as run:
        v3 = run.log_model(digits_models[0], "digits", input_example=X[:6], eval_inputs=X[:30])
    manifest = reg.manifest(v3.digest)
    weights = manifest.entry["weights"]
    entry = next(f for f in manifest.files if f.path == weights)
    blob = reg.blobs.local_path(entry.sha256)
    assert blob is not None
    blob.chmod(0o644)
    blob.write_bytes(b"tampered" + blob.read_bytes())

    source = RegistryModelSource("digits@staging", labline.Client(settings))

    async def go() -> None:
        from labline.serving import ServeSettings, create_app

        app = create_app(ServeSettings(poll_interval_s=0.1), source)
        server = app.state.server
        reg.promote("digits", v3.version, "staging", reason="simulated bad push", skip_parity=True)
        with caplog.at_level(logging.INFO, logger="labline.serving"):
            assert await server.check_for_update() is False
            assert await server.check_for_update() is False  # remembered, not reloaded
        assert server.model.digest == v1.digest
        refusals = [r for r in caplog.records if "not switching" in r.getMessage()]
        assert len(refusals) == 1 and "digest mismatch" in refusals[0].getMessage()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.post("/predict", json=[{"input": X[0].tolist()}])
            assert r.status_code == 200 and r.headers["x-labline-model-digest"] == v1.digest

    asyncio.run(go())


def test_pinned_server_does_not_follow(
    serve_in_thread: Any, registry_home: Any, digits: Any
) -> None:
    settings, v1, v2 = registry_home
    reg = registry(settings)
    reg.promote("digits", v1.version, "canary", reason="test", skip_parity=True)
    srv = serve_in_thread(
        RegistryModelSource("digits@canary", labline.Client(settings)),
        poll_interval_s=0.05,
        follow=False,
    )
    reg.promote("digits", v2.version, "canary", reason="test", skip_parity=True)
    time.sleep(0.4)
    r = httpx.post(f"{srv.url}/predict", json=[{"input": digits[0][0].tolist()}])
    assert r.headers["x-labline-model-digest"] == v1.digest


@pytest.mark.parametrize("ref", ["digits/1", "digits"])
def test_version_refs_are_not_followable(registry_home: Any, ref: str) -> None:
    settings, *_ = registry_home
    assert not RegistryModelSource(ref, labline.Client(settings)).followable


def test_workers_follow_the_target_the_parent_publishes(
    registry_home: Any, digits: Any, tmp_path: Any
) -> None:
    """The parent resolves the alias once per poll; every worker loads exactly that version,
    even when the alias has moved again by the time the worker looks."""
    import asyncio

    from labline.serving import ServeSettings, create_app
    from labline.serving._workers import AliasTargetSource, AliasTargetWriter

    settings, v1, v2 = registry_home
    reg = registry(settings)
    reg.promote("digits", v1.version, "fleet", reason="test", skip_parity=True)
    target = tmp_path / "alias-target.json"
    writer = AliasTargetWriter(labline.Client(settings), "digits@fleet", target, interval_s=60)
    writer.publish()
    workers = [
        create_app(
            ServeSettings(poll_interval_s=0.25),
            AliasTargetSource("digits@fleet", labline.Client(settings), target),
        ).server
        for _ in range(2)
    ]
    assert [w.model.digest for w in workers] == [v1.digest, v1.digest]

    reg.promote("digits", v2.version, "fleet", reason="test", skip_parity=True)

    async def check_all() -> list[bool]:
        return [await w.check_for_update() for w in workers]

    # not published yet: the workers keep serving what the parent last saw
    assert asyncio.run(check_all()) == [False, False]
    writer.publish()
    reg.promote("digits", v1.version, "fleet", reason="moved back", skip_parity=True)
    assert asyncio.run(check_all()) == [True, True]
    assert [w.model.digest for w in workers] == [v2.digest, v2.digest]
    assert [w.model.version for w in workers] == [v2.version, v2.version]
