"""What every step of ``labline demo`` shares: the store, the data, the console, the summary.

A step is a function ``step(ctx: DemoContext) -> None`` in a ``_demo_<topic>.py`` module,
listed once in :data:`labline._demo.STEPS`. It announces each numbered line with
:meth:`DemoContext.step` (the numbers follow the order the steps run in), records what a test
should check in :attr:`DemoContext.summary` (plain JSON data), and passes objects to later steps
through :attr:`DemoContext.state`. Processes a step starts are stopped by the step, or
registered with :attr:`DemoContext.stack` so they stop when the demo ends; a step that leaves a
server up for the user (the team server, its web UI) adds its URL to
:attr:`DemoContext.services`, and ``labline demo --keep`` keeps those running until Ctrl-C.
Lines a step adds to :attr:`DemoContext.closing` are the demo's last words (the web UI's URL).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from . import Client, LablineError, Settings

__all__ = ["SEEDS", "DemoContext", "DemoData", "free_port"]

SEEDS = range(5)


@dataclass(frozen=True)
class DemoData:
    """scikit-learn's digits, split once for every step (60% train, 40% test, stratified)."""

    X_train: np.ndarray[Any, Any]
    X_test: np.ndarray[Any, Any]
    y_train: np.ndarray[Any, Any]
    y_test: np.ndarray[Any, Any]

    @classmethod
    def digits(cls) -> DemoData:
        """Load and split the bundled digits data (nothing is downloaded)."""
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.4, random_state=0, stratify=y
        )
        return cls(X_train, X_test, y_train, y_test)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DemoContext:
    """The demo's shared state (see the module docstring)."""

    home: Path
    settings: Settings
    client: Client
    data: DemoData
    out: Console
    serve: bool = True
    keep: bool = False
    summary: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    services: list[str] = field(default_factory=list)
    closing: list[str] = field(default_factory=list)
    _number: int = 0

    def step(self, text: str) -> None:
        """Print the next numbered line of the demo."""
        self._number += 1
        self.out.print(f"[bold]{self._number}.[/bold] {text}")

    def env(self) -> dict[str, str]:
        """The environment a ``labline`` subprocess needs to use the demo's store."""
        return {
            **os.environ,
            "LABLINE_HOME": str(self.settings.home),
            "LABLINE_URI": self.settings.uri,
            "LABLINE_ARTIFACT_URI": self.settings.artifact_uri,
        }

    @contextlib.contextmanager
    def served(self, ref: str, *extra: str, timeout: float = 120.0) -> Iterator[str]:
        """Run ``labline serve REF`` on a free port until the block ends; yield its base URL.

        Raises:
            LablineError: the server did not become ready within ``timeout`` seconds.
        """
        import httpx

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "labline", "serve", ref, "--port", str(port)]
        proc = subprocess.Popen(
            [*cmd, "--log-level", "warning", *extra],
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if httpx.get(f"{base}/v2/health/ready", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    raise LablineError(f"labline serve did not become ready: {err[-500:]}")
                time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
