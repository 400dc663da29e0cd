"""The web UI step of ``labline demo`` alone, on a small store: it serves the UI, proves it
over HTTP, ends the demo with the URL, and leaves no process behind unless asked to."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import httpx
import pytest
from rich.console import Console

import labline
from labline._demo_context import DemoContext, DemoData
from labline._demo_ui import web_ui


def _context(home: Path, *, keep: bool, serve: bool = True) -> DemoContext:
    settings = labline.Settings.local(home)
    client = labline.Client(settings)
    for seed in range(2):
        with client.start_run("digits", params={"seed": seed}, capture_env=False) as run:
            run.log_metric("accuracy", 0.9 + seed / 100)
    empty = DemoData(*(None,) * 4)  # type: ignore[arg-type]
    return DemoContext(
        home=home,
        settings=settings,
        client=client,
        data=empty,
        out=Console(file=io.StringIO()),
        serve=serve,
        keep=keep,
    )


@pytest.mark.parametrize("keep", [False, True])
def test_web_ui_step_serves_then_stops(tmp_path: Path, keep: bool) -> None:
    ctx = _context(tmp_path, keep=keep)
    with ctx.stack:
        web_ui(ctx)
        ui = ctx.summary["ui"]
        assert ui["runs_status"] == 200 and ui["runs_listed"] == 2
        assert ui["run_status"] == 200 and ui["run_page_names_run"] and ui["chart_status"] == 200
        assert httpx.get(ui["url"] + "runs", timeout=10).status_code == 200  # still up
        assert any(ui["url"] in line for line in ctx.closing)
        assert bool(ctx.services) is keep
    ctx.client.close()
    # the demo's exit stack stopped the server: nothing listens on its port any more
    with pytest.raises(httpx.ConnectError), contextlib.closing(httpx.Client()) as http:
        http.get(ui["url"], timeout=5)


def test_web_ui_step_without_serving_says_how(tmp_path: Path) -> None:
    ctx = _context(tmp_path, keep=False, serve=False)
    with ctx.stack:
        web_ui(ctx)
    ctx.client.close()
    assert ctx.summary["ui"] == {"served": False}
    printed = ctx.out.file.getvalue()  # type: ignore[attr-defined]
    assert "labline server" in printed and "http://127.0.0.1:5000/" in printed
