"""Multipart upload through the artifact proxy, as the unmodified mlflow client does it for
large files (``MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD``): parts go to part URLs without the
token, ``complete`` joins them; a wrong ETag or a foreign upload id is refused."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any as MlflowServer  # the fixture type of conftest.py

import httpx
import mlflow
import pytest
from mlflow import MlflowClient


def test_large_artifact_goes_up_in_parts(
    mlflow_server: MlflowServer, as_role, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", "1000")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", "4096")
    data = os.urandom(3 * 4096 + 123)
    (tmp_path / "weights.bin").write_bytes(data)
    mlflow.set_experiment("mlflow-mpu")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(tmp_path / "weights.bin"), "big")
    back = MlflowClient().download_artifacts(run.info.run_id, "big/weights.bin", str(tmp_path))
    assert Path(back).read_bytes() == data
    with mlflow_server.client() as lab:
        [record] = lab.list_artifacts(run.info.run_id)
        assert record.path == "big/weights.bin" and record.size == len(data)


def test_parts_are_checked_and_upload_ids_are_credentials(
    mlflow_server: MlflowServer, as_role
) -> None:
    mlflow.set_experiment("mlflow-mpu-checks")
    with mlflow.start_run() as run:
        pass
    base = f"{mlflow_server.url}/api/2.0/mlflow-artifacts"
    target = f"{run.info.experiment_id}/{run.info.run_id}/artifacts"
    auth = {"Authorization": f"Bearer {mlflow_server.tokens['researcher']}"}
    with httpx.Client(timeout=30) as http:
        created = http.post(
            f"{base}/mpu/create/{target}", json={"path": "x.bin", "num_parts": 2}, headers=auth
        ).json()
        urls = [c["url"] for c in created["credentials"]]
        assert len(urls) == 2 and all("/mpu/part/" in u for u in urls)
        etags = [http.put(u, content=b"ab" * (i + 1)).headers["ETag"] for i, u in enumerate(urls)]
        bad = http.post(
            f"{base}/mpu/complete/{target}",
            json={
                "path": "x.bin",
                "upload_id": created["upload_id"],
                "parts": [
                    {"part_number": 1, "etag": etags[1]},
                    {"part_number": 2, "etag": etags[1]},
                ],
            },
            headers=auth,
        )
        assert bad.status_code == 400 and "ETag" in bad.json()["message"]
        unknown = http.put(f"{base}/mpu/part/{'0' * 32}/1", content=b"x")
        assert unknown.status_code == 404
        assert unknown.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        again = http.post(
            f"{base}/mpu/create/{target}", json={"path": "y.bin", "num_parts": 1}, headers=auth
        ).json()
        aborted = http.post(
            f"{base}/mpu/abort/{target}",
            json={"path": "y.bin", "upload_id": again["upload_id"]},
            headers=auth,
        )
        assert aborted.status_code == 200
        gone = http.put(again["credentials"][0]["url"], content=b"x")
        assert gone.status_code == 404
    with mlflow_server.client() as lab:
        assert lab.list_artifacts(run.info.run_id) == []
