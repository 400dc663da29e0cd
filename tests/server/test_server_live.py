"""A real ``labline server`` (uvicorn, started through the CLI) on 127.0.0.1 with SQLite and with
PostgreSQL behind it, its clients in other processes; the refusal to listen beyond loopback
without a token, through the real command."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
from live_server import child_env, live_server

import labline

CLIENT_PROCESS = textwrap.dedent(
    """
    import hashlib, json, sys, httpx
    url, secret, me, run_ids = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
    http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {secret}"}, timeout=60)
    out = {"who": http.get("/api/v1/whoami").json()["name"]}
    r = http.post("/api/v1/experiments", json={"name": f"exp-{me}"})
    out["created"] = r.status_code
    for run_id in run_ids:
        r = http.put(f"/api/v1/runs/{run_id}/tags/by-{me}", json={"value": me})
        assert r.status_code == 200, r.text
    seen, token = [], None
    while True:
        params = {"experiment": "live", "filter": "metrics.acc >= 0.5", "limit": 3,
                  "order_by": "metrics.acc DESC"}
        if token:
            params["page_token"] = token
        page = http.get("/api/v1/runs", params=params).json()
        seen += [r["id"] for r in page["runs"]]
        token = page["next_page_token"]
        if not token:
            break
    out["seen"] = seen
    blob = http.get(f"/api/v1/runs/{run_ids[0]}/artifacts/notes/readme.txt")
    out["digest_ok"] = blob.headers["x-labline-digest"].endswith(
        hashlib.sha256(blob.content).hexdigest())
    out["denied"] = http.post("/api/v1/gc", json={"dry_run": True}).status_code
    print(json.dumps(out))
    """
)


def _seed(client: labline.Client, tmp_path: Path) -> list[str]:
    (tmp_path / "readme.txt").write_text("shared notes\n")
    ids = []
    for i in range(8):
        with client.start_run("live", params={"i": i}, capture_env=False) as run:
            run.log_metric("acc", i / 8)
            run.log_artifact(tmp_path / "readme.txt", "notes/readme.txt")
        ids.append(run.id)
    return ids


def test_clients_in_other_processes_on_each_backend(
    settings: labline.Settings, client: labline.Client, tmp_path: Path
) -> None:
    run_ids = _seed(client, tmp_path)
    secrets = {f"user{i}": client.create_token(f"user{i}", "researcher").secret for i in range(4)}
    with live_server(
        settings.uri, settings.artifact_uri, tmp_path, args=["--workers", "2"]
    ) as server:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", CLIENT_PROCESS, server.url, secret, name, ",".join(run_ids)],
                env=child_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name, secret in secrets.items()
        ]
        results = {}
        for name, proc in zip(secrets, procs, strict=True):
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err[-3000:]
            results[name] = json.loads(out.strip().splitlines()[-1])
        log = server.log_text()
    expected_seen = [
        r.id
        for r in client.search_runs(
            "live", filter="metrics.acc >= 0.5", order_by=["metrics.acc DESC"], limit=100
        )
    ]
    for name, got in results.items():
        assert got["who"] == name and got["created"] == 201
        assert got["seen"] == expected_seen and len(expected_seen) == 4
        assert got["digest_ok"] is True
        assert got["denied"] == 403  # gc needs the admin role
    # every write arrived once, recorded as the token's user
    assert sorted(e.name for e in client.list_experiments()) == sorted(
        ["live", *(f"exp-{n}" for n in secrets)]
    )
    for run_id in run_ids:
        tags = client.get_run(run_id).tags
        assert {k: v for k, v in tags.items() if k.startswith("by-")} == {
            f"by-{n}": n for n in secrets
        }
    assert "Traceback" not in log and not any(s in log for s in secrets.values())


def test_a_public_address_needs_a_token_through_the_real_cli(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = child_env({"LABLINE_HOME": str(home)})
    refused = subprocess.run(
        [sys.executable, "-m", "labline", "server", "--host", "0.0.0.0", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 1
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "refusing to listen on 0.0.0.0" in lines[0]
    assert "labline server token create --name <you> --role admin" in lines[0]
    token_create = ["server", "token", "create", "--name", "ops", "--role", "admin", "--json"]
    created = subprocess.run(
        [sys.executable, "-m", "labline", *token_create],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    secret = json.loads(created.stdout)["secret"]
    db = f"sqlite:///{home / 'labline.db'}"
    with live_server(db, str(home / "blobs"), tmp_path, args=["--host", "0.0.0.0"]) as server:
        assert httpx.get(f"{server.url}/api/v1/whoami").status_code == 401
        who = httpx.get(
            f"{server.url}/api/v1/whoami", headers={"Authorization": f"Bearer {secret}"}
        )
        assert who.json()["name"] == "ops"
        assert hashlib.sha256(secret.encode()).hexdigest() not in server.log_text()
        assert secret not in server.log_text()
