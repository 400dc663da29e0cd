"""The keyboard flow of the review page in a real browser: Playwright driving Debian's
Chromium against ``labline review serve`` on 127.0.0.1. A console error fails the test."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

import labline
from labline import ReviewItemDraft

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and os.environ.get("CI") != "true",
    reason="Debian's chromium is not installed (scripts/setup.sh installs it; required in CI)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"labline review serve exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("labline review serve did not start")


def test_keyboard_flow(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # a busy machine can take longer than 5 s to draw
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    digits = load_digits()
    x, y = digits.data, digits.target
    settings = labline.Settings.local(tmp_path)
    with labline.Client(settings, actor="ann") as client:
        clf = LogisticRegression(max_iter=200).fit(x[:300], y[:300])
        with client.start_run("digits", capture_env=False) as run:
            mv = run.log_model(clf, "digits", input_example=x[:5])
        rows = x[300:305]
        proba = clf.predict_proba(rows)
        ids = client.enqueue_review_items(
            [
                ReviewItemDraft(
                    model_name="digits",
                    model_version=mv.version,
                    model_digest=mv.digest,
                    calibration_id=None,
                    inputs=rows[i].tolist(),
                    guess=int(clf.classes_[proba[i].argmax()]),
                    confidence=float(proba[i].max()),
                    margin=0.1 * (i + 1),
                    reason="deferred",
                    request_id=f"r{i}",
                    created_at=datetime.now(UTC),
                )
                for i in range(5)
            ]
        )
        guesses = [int(clf.classes_[p.argmax()]) for p in proba]

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABLINE_")}
    env["LABLINE_HOME"] = str(tmp_path)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(labline.__file__).parents[1]), env.get("PYTHONPATH", "")]
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "labline", "review", "serve", "--port", str(port), "--as", "ann"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    console_errors: list[str] = []
    try:
        _wait_for(port, proc)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = browser.new_page()
                page.on(
                    "console",
                    lambda m: console_errors.append(m.text) if m.type == "error" else None,
                )
                page.on("pageerror", lambda e: console_errors.append(str(e)))
                page.goto(f"http://127.0.0.1:{port}/")
                item_id = page.locator("#item-id")

                def at(i: int) -> None:
                    expect(item_id).to_have_text(str(ids[i]))
                    expect(page.locator("body")).not_to_have_attribute("data-busy", "1")

                at(0)
                expect(page.locator("#input img")).to_be_visible()
                assert page.locator("#classes button").count() == 10
                page.keyboard.press("3")  # a class
                at(1)
                page.keyboard.press("Enter")  # accept the guess
                at(2)
                page.keyboard.press("x")  # none of these
                at(3)
                page.keyboard.press(" ")  # skip
                at(4)
                page.keyboard.press("Backspace")  # undo the skip: item 3 comes back
                at(3)
                page.keyboard.press("7")
                at(4)
                page.keyboard.press("?")
                expect(page.locator("#help")).to_be_visible()
                page.keyboard.press("Escape")
                expect(page.locator("#help")).to_be_hidden()
                # edit the first decision from the list of recent ones
                page.locator("#recent button", has_text=f"item {ids[0]} ").click()
                expect(page.locator("#banner")).to_contain_text("Editing your decision")
                at(0)
                page.keyboard.press("5")
                at(4)
                page.keyboard.press("1")
                expect(page.locator("#empty")).to_be_visible()
                expect(page.locator("#recent li")).to_have_count(5)
            finally:
                browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert console_errors == []
    with labline.Client(settings) as client:
        decisions = {d.item_id: (d.kind, d.label, d.reviewer) for d in client.review_decisions()}
        assert decisions == {
            ids[0]: ("label", 5, "ann"),
            ids[1]: ("label", guesses[1], "ann"),
            ids[2]: ("reject", None, "ann"),
            ids[3]: ("label", 7, "ann"),
            ids[4]: ("label", 1, "ann"),
        }
        assert client.review_counts()["done"] == 5
