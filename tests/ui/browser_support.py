"""What the web UI's browser tests share: a real ``labline server`` (uvicorn in a subprocess on
a free 127.0.0.1 port) on a seeded store with one token per role, and Playwright pages on
Debian's Chromium that record every console error and save numbered screenshots under
``test-artifacts/ui/<test>/`` (gitignored; CI uploads the folder)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

import labline

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    """A running ``labline server``: its base URL and a token secret per role."""

    url: str
    tokens: dict[str, str]
    ids: dict[str, Any] = field(default_factory=dict)


def subprocess_env(settings: labline.Settings) -> dict[str, str]:
    """The environment of a ``labline`` subprocess on ``settings``' store, importing the labline
    this test imports (a worktree or an installed copy)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABLINE_")}
    env["LABLINE_HOME"] = str(settings.home)
    env["LABLINE_URI"] = settings.uri
    env["LABLINE_ARTIFACT_URI"] = settings.artifact_uri
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(labline.__file__).parents[1]), env.get("PYTHONPATH", "")]
    )
    return env


@dataclass
class ServerProcess:
    """``labline server`` on a free port until :meth:`stop`."""

    settings: labline.Settings
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> str:
        cmd = [sys.executable, "-m", "labline", "server", "--port", str(self.port)]
        self.proc = subprocess.Popen(
            [*cmd, "--log-level", "warning"],
            env=subprocess_env(self.settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise AssertionError(f"labline server exited: {err[-2000:]}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=2).status_code < 500:
                    return self.url
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise AssertionError("labline server did not start")

    def stop(self) -> str:
        """Stop the server (SIGTERM, then SIGKILL); return what it wrote to stderr."""
        if self.proc is None:
            return ""
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        self.proc = None
        return err.decode(errors="replace") if err else ""


class BrowserPage:
    """A Playwright page that records console errors and saves numbered screenshots."""

    def __init__(self, browser: Browser, base: str, name: str, color_scheme: str = "light"):
        self.base = base
        self.context = browser.new_context(
            viewport={"width": 1400, "height": 900},
            color_scheme=color_scheme,  # type: ignore[arg-type]
        )
        # a busy machine (the suite runs on two workers beside the servers it starts) can take
        # longer than Playwright's 5 s defaults to draw a page: wait longer, fail the same way
        from playwright.sync_api import expect

        expect.set_options(timeout=30_000)
        self.context.set_default_timeout(60_000)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", name)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.shots = 0

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def allow_console_error(self, text: str) -> None:
        """Expect one console error containing ``text`` (the browser logs a page answered
        with an error status, which a test may ask for on purpose); it no longer fails."""
        for i, error in enumerate(self.errors):
            if text in error:
                del self.errors[i]
                return
        raise AssertionError(f"no console error containing {text!r} in {self.errors}")

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base + path)

    def shot(self, label: str) -> Path:
        """Save a full-page screenshot as ``NN-label.png``."""
        self.shots += 1
        path = self.folder / f"{self.shots:02d}-{label}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def login(self, token: str) -> None:
        """Log in through the login form with ``token``."""
        self.goto("/login")
        self.page.fill('input[name="token"]', token)
        self.page.click('button[type="submit"]')
        self.page.wait_for_url(re.compile(r".*/runs.*"))

    def close(self) -> None:
        self.context.close()


def browser_pages(browser: Browser, base: str, name: str) -> Iterator[BrowserPage]:
    """One :class:`BrowserPage` for a test; a console error fails it (after its screenshots)."""
    page = BrowserPage(browser, base, name)
    try:
        yield page
    finally:
        try:
            page.shot("last")
        finally:
            page.close()
    assert page.errors == [], f"browser console errors: {page.errors}"
