"""A real ``labline server`` (uvicorn) in a child process on 127.0.0.1 and a free port, for
tests whose clients live in other processes. Always stopped (SIGTERM, then SIGKILL) at exit."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx

SRC = str(Path(__file__).resolve().parents[2] / "src")


def free_port() -> int:
    """A TCP port nothing listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child process importing this checkout's labline."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABLINE_")}
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra or {})
    return env


class LiveServer:
    """A running server: its base URL and what it logged so far."""

    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log

    def log_text(self) -> str:
        """Everything the server wrote to stdout and stderr."""
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def live_server(
    store: str,
    artifacts: str,
    log_dir: str | os.PathLike[str],
    *,
    args: Sequence[str] = (),
    home: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> Iterator[LiveServer]:
    """Run ``labline server --store STORE --artifacts ARTIFACTS ARGS`` (its output in a file
    under ``log_dir``) and yield it once ``/api/v1/health`` answers."""
    port = free_port()
    extra = dict(env or {})
    if home is not None:
        extra["LABLINE_HOME"] = str(home)
    log_path = Path(log_dir) / f"server-{port}.log"
    log = open(log_path, "wb")  # noqa: SIM115 (closed below)
    command = [sys.executable, "-m", "labline", "server", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--store", store, "--artifacts", artifacts, *args],
        env=child_env(extra),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = LiveServer(f"http://127.0.0.1:{port}", log_path)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"labline server exited with {proc.returncode}: {server.log_text()[-2000:]}"
                )
            try:
                if httpx.get(f"{server.url}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"labline server did not answer within {timeout} s")
            time.sleep(0.2)
        yield server
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()
