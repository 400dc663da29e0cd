"""A real ``labline server`` on 127.0.0.1 for the MLflow client tests (the CLI in a process
of its own, as a team runs it) over a fresh store, with one bearer token per role."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

import labline

HERE = Path(__file__).parent
SRC = HERE.parents[1] / "src"
ROLES = ("researcher", "viewer", "engineer", "admin")


@dataclass
class MlflowServer:
    url: str
    home: Path
    tokens: dict[str, str] = field(default_factory=dict)
    """Role → the secret of the server's token ``<role>-user``."""

    def client(self) -> labline.Client:
        return labline.Client(labline.Settings.local(self.home))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    home = tmp_path_factory.mktemp("labline-home")
    with labline.Client(labline.Settings.local(home)) as admin:
        tokens = {role: admin.create_token(f"{role}-user", role).secret for role in ROLES}
    port = _free_port()
    env = dict(os.environ)
    env["LABLINE_HOME"] = str(home)
    env.pop("LABLINE_URI", None)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    log = open(home / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "labline",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/api/2.0/mlflow/experiments/get?experiment_id=0", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((home / "server.log").read_text()) from None
                time.sleep(0.2)
        yield MlflowServer(url, home, tokens)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def as_role(mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Point the mlflow client at the server with the token of a role."""
    import mlflow

    def use(role: str = "researcher") -> None:
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", mlflow_server.tokens[role])
        monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
        mlflow.set_tracking_uri(mlflow_server.url)

    use("researcher")
    yield use
    if mlflow.active_run() is not None:
        mlflow.end_run()
