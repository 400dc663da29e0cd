"""A real ``labline server`` process (the CLI, uvicorn) on a free port of 127.0.0.1, on an
SQLite store in a folder, that a test can SIGKILL and start again on the same port and store."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

import labline


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """``labline server --store sqlite:///<home>/labline.db`` with an admin token."""

    def __init__(self, home: Path, *, workers: int = 1) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None
        with labline.Client(labline.Settings.local(home)) as c:
            self.admin_token = c.create_token("admin-user", "admin").secret
            self.researcher_token = c.create_token("ana", "researcher").secret

    def start(self) -> ServerProcess:
        env = {**os.environ, "LABLINE_HOME": str(self.home)}
        env.pop("LABLINE_URI", None)
        env.pop("LABLINE_TOKEN", None)
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "labline", "server",
                "--port", str(self.port),
                "--store", f"sqlite:///{self.home / 'labline.db'}",
                "--artifacts", str(self.home / "blobs"),
                "--workers", str(self.workers),
                "--log-level", "warning",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"labline server exited: {err[-2000:]}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("labline server did not start")

    def kill(self) -> None:
        """SIGKILL the server process (no shutdown, no last write)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        if self.proc.stderr is not None:
            self.proc.stderr.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()

    def env(self, home: Path, token: str | None = None) -> dict[str, str]:
        """The environment of a client process of this server with its own ``home``."""
        return {
            **os.environ,
            "LABLINE_HOME": str(home),
            "LABLINE_URI": self.url,
            "LABLINE_TOKEN": token or self.researcher_token,
        }

    def settings(self, home: Path, token: str | None = None) -> labline.Settings:
        """Settings of a client of this server with its own ``home``."""
        return labline.Settings.from_env(self.env(home, token))
