"""``labline serve`` as a real process: start-up, errors, workers, graceful SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from serving_support import free_port, load


def _start(args: list[str], home: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    log = home / f"serve-{port}.log"
    home.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "labline", "serve", *args, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "LABLINE_HOME": str(home)},
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                return proc, url, log
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start")


def test_sigterm_finishes_in_flight_requests(tmp_path: Path, package_v1: Path, digits: Any) -> None:
    model = load(package_v1)
    proc, url, log = _start([str(package_v1), "--log-level", "info"], tmp_path / "home")
    try:
        body = json.dumps([{"input": digits[0][3].tolist()}]).encode()
        port = int(url.rsplit(":", 1)[1])
        sock = socket.create_connection(("127.0.0.1", port))
        head = (
            f"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        sock.sendall(head + body[:20])  # the request is in flight: headers and part of the body
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        sock.sendall(body[20:])
        sock.settimeout(20)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        headers, _, rest = data.partition(b"\r\n\r\n")
        length = int(
            next(
                h for h in headers.split(b"\r\n") if h.lower().startswith(b"content-length")
            ).split(b":")[1]
        )
        while len(rest) < length:
            rest += sock.recv(65536)
        sock.close()
        assert headers.startswith(b"HTTP/1.1 200")
        assert json.loads(rest)["predictions"] == model.predict({"input": digits[0][3:4]}).tolist()
        # uvicorn re-raises the signal once shut down, so the exit is "terminated by SIGTERM"
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert "serving" in text and model.digest in text
    assert "0.0625" not in text  # no payload values in the logs


def test_unknown_reference_is_a_one_line_error(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "labline", "serve", "nosuch@production", "--port", str(free_port())],
        capture_output=True,
        text=True,
        env={**os.environ, "LABLINE_HOME": str(tmp_path / "home")},
        timeout=60,
    )
    assert out.returncode == 1
    assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1
    assert "nosuch" in out.stderr


@pytest.mark.slow
def test_pinned_workers_serve_an_alias_and_do_not_follow_it(
    tmp_path: Path, registry_home: Any, digits: Any
) -> None:
    from labline.models import registry

    settings, v1, v2 = registry_home
    reg = registry(settings)
    reg.promote("digits", v1.version, "workers", reason="test", skip_parity=True)
    args = ["digits@workers", "--workers", "2", "--pin", "--poll-interval", "0.1"]
    proc, url, log = _start(args, settings.home)
    try:
        r = httpx.post(f"{url}/predict", json=[{"input": digits[0][0].tolist()}], timeout=10)
        assert r.status_code == 200
        assert r.headers["x-labline-model-digest"] == v1.digest
        assert r.json()["model"]["version"] == v1.version
        reg.promote("digits", v2.version, "workers", reason="test", skip_parity=True)
        time.sleep(1.0)  # ten poll intervals, had it been following
        for _ in range(4):  # whichever worker answers
            r = httpx.post(f"{url}/predict", json=[{"input": digits[0][0].tolist()}], timeout=10)
            assert r.headers["x-labline-model-digest"] == v1.digest
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
    assert "not following an alias" in log.read_text()
