"""Errors of ``labline server``: the structured document everywhere, 4xx naming the field for
bad input, 413 beyond the body limit (announced or streamed), and never a traceback, SQL or
token in a response or a log line."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest
from server_support import ASGIClient, bearer

import labline
from labline.server import Role, ServerSettings, create_app

LEAKS = ("Traceback", 'File "', "SELECT ", "INSERT ", "sqlalchemy", "psycopg", "ll_")


@pytest.fixture
def small(client: labline.Client) -> Iterator[ASGIClient]:
    http = ASGIClient(create_app(client, ServerSettings(max_body_bytes=2000)))
    yield http
    http.close()


def test_errors_are_structured(small: ASGIClient) -> None:
    r = small.get("/api/v1/nowhere")
    assert r.status_code == 404
    assert r.json() == {"error": {"type": "NotFoundError", "message": "no route '/api/v1/nowhere'"}}
    r = small.put("/api/v1/experiments")
    assert r.status_code == 405 and r.json()["error"]["type"] == "MethodNotAllowed"
    r = small.get("/api/v1/runs", params={"limit": 0})
    assert r.status_code == 400 and r.json()["error"]["field"] == "limit"
    r = small.post(
        "/api/v1/experiments", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
    r = small.post("/api/v1/experiments", json={"name": ""})
    assert r.status_code == 400 and r.json()["error"]["field"] == "name"
    small.post("/api/v1/experiments", json={"name": "taken"})
    r = small.post("/api/v1/experiments", json={"name": "taken"})
    assert r.status_code == 409 and r.json()["error"]["type"] == "AlreadyExistsError"


def test_bodies_beyond_the_limit_get_413(small: ASGIClient) -> None:
    big = {"name": "x" * 5000}
    r = small.post("/api/v1/experiments", json=big)
    assert r.status_code == 413 and r.json()["error"]["type"] == "PayloadTooLargeError"

    async def chunks() -> AsyncIterator[bytes]:  # no content-length: checked while reading
        yield b'{"name": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}'

    r = small.post(
        "/api/v1/experiments", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    assert small.get("/api/v1/experiments").json() == []  # nothing was created


def test_no_traceback_sql_or_token_in_responses_or_logs(
    client: labline.Client, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Real failures: a tampered predictions blob (500), bad tokens (401), bad filters (400),
    a missing run (404); every body and every captured log line is scanned."""
    secret = client.create_token("ana", Role.ADMIN).secret
    ids = np.arange(20)
    for model in ("a", "b"):
        with client.start_run("e", params={"model": model}, capture_env=False) as run:
            run.log_predictions("d", ids, ids % 2, (ids + (model == "a")) % 2)
    rec = client.list_predictions(run.id)[0]
    blob = Path(client.settings.artifact_uri)
    victim = next(
        p for p in blob.rglob("*") if p.is_file() and rec.blob_digest.split(":")[-1] in p.name
    )
    victim.chmod(0o644)
    victim.write_bytes(b"tampered")
    http = ASGIClient(create_app(client, ServerSettings()))
    caplog.set_level(logging.DEBUG)
    bodies = []
    try:
        auth = bearer(secret)
        r = http.post(
            "/api/v1/compare",
            json={
                "baseline": "e:model=a",
                "candidate": ["e:model=b"],
                "metric": "accuracy",
                "n_resamples": 200,
            },
            headers=auth,
        )
        assert r.status_code == 500 and r.json()["error"]["type"] == "DigestMismatchError"
        bodies.append(r.text)
        for header in (f"Bearer {secret}x", f"Bearer {secret[:-2]}", "Bearer ll_guess"):
            r = http.get("/api/v1/experiments", headers={"Authorization": header})
            assert r.status_code == 401
            bodies.append(r.text)
        for query in ("params.x = ", "metrics.a >", "tags.x in ('a'", "drop table runs"):
            r = http.get("/api/v1/runs", params={"filter": query}, headers=auth)
            assert r.status_code == 400, query
            bodies.append(r.text)
        r = http.get("/api/v1/runs/" + "f" * 32, headers=auth)
        assert r.status_code == 404
        bodies.append(r.text)
        r = http.get("/api/v1/hypotheses/" + "9" * 30, headers=auth)
        assert r.status_code in (400, 404)
        bodies.append(r.text)
    finally:
        http.close()
    logged = "\n".join(
        f"{rec.getMessage()} {rec.exc_text or ''} {rec.exc_info or ''}" for rec in caplog.records
    )
    assert any("answered 500: DigestMismatchError" in rec.getMessage() for rec in caplog.records)
    for text in [*bodies, logged]:
        for leak in LEAKS:
            assert leak not in text, (leak, text[:300])
        assert secret[3:] not in text
