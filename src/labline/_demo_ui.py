"""The last step of ``labline demo``: the web UI on the demo's store.

It starts ``labline server`` on a free 127.0.0.1 port (no token: a loopback server lets its
own user in as admin), fetches the runs table and one run page over HTTP to prove the UI
serves this store, and ends the demo with the UI's URL. With ``--keep`` the server stays up
until Ctrl-C; otherwise it is stopped with the demo's other processes.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator

from . import LablineError
from ._demo_context import DemoContext, free_port

__all__ = ["web_ui"]


@contextlib.contextmanager
def _ui_server(ctx: DemoContext, timeout: float = 120.0) -> Iterator[str]:
    """``labline server`` on the demo's store until the block ends; yields its base URL."""
    import httpx

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "labline", "server", "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--log-level", "warning"],
        env=ctx.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise LablineError(f"labline server did not become ready: {err[-500:]}")
            time.sleep(0.2)
        yield base
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stderr:
            proc.stderr.close()


def web_ui(ctx: DemoContext) -> None:
    """Serve the web UI on the demo's store, fetch two pages, end with its URL."""
    home = ctx.settings.home
    if not ctx.serve:
        ctx.step(
            f"web UI: LABLINE_HOME={home} labline server, then open http://127.0.0.1:5000/ "
            "(skipped here: --no-serve)"
        )
        ctx.summary["ui"] = {"served": False}
        return
    import httpx

    run = ctx.client.search_runs("digits", order_by=["metrics.accuracy DESC"], limit=1)[0]
    base = ctx.stack.enter_context(_ui_server(ctx))
    with httpx.Client(base_url=base, timeout=30, follow_redirects=True) as http:
        table = http.get("/runs", params={"experiment": "digits"})
        page = http.get(f"/runs/{run.id}")
        chart = http.get(f"/ui-api/runs/{run.id}/metrics/accuracy")
    ctx.summary["ui"] = {
        "served": True,
        "url": base + "/",
        "runs_status": table.status_code,
        "runs_listed": table.text.count('class="run-link"'),
        "run_status": page.status_code,
        "run_page_names_run": run.name in page.text,
        "chart_status": chart.status_code,
        "kept": ctx.keep,
    }
    ctx.step(
        f"web UI (labline server on this store): runs table {table.status_code} with "
        f"{ctx.summary['ui']['runs_listed']} runs, run page of {run.name} {page.status_code}, "
        f"its chart data {chart.status_code}"
    )
    if ctx.keep:
        ctx.services.append(f"web UI {base}/")
        ctx.closing.append(f"Web UI: {base}/  (this store; running until Ctrl-C)")
    else:
        ctx.closing.append(
            f"Web UI: served at {base}/ during the demo; open it again with "
            f"LABLINE_HOME={home} labline server  →  http://127.0.0.1:5000/  "
            "(or run the demo with --keep to leave it up)"
        )
