"""``labline demo``: the whole loop on scikit-learn's bundled digits data, in one command.

The demo runs :data:`STEPS` in order on a fresh store; each step lives in a
``_demo_<topic>.py`` module and numbers its own lines through the shared
:class:`~labline._demo_context.DemoContext`. Everything runs on this machine; nothing is
downloaded.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from . import Client, Settings
from ._demo_context import DemoContext, DemoData
from ._demo_everyday import everyday
from ._demo_loop import compare_and_register, hypothesis_and_runs, promote_and_tamper, serve
from ._demo_mlflow import mlflow_code
from ._demo_monitor import monitor
from ._demo_review import review_loop
from ._demo_sweeps import sweeps
from ._demo_team import team_server
from ._demo_ui import web_ui

__all__ = ["STEPS", "run_demo"]

#: The demo's steps, in order: research → statistics → verified package → production → ...
STEPS: tuple[Callable[[DemoContext], None], ...] = (
    hypothesis_and_runs,
    compare_and_register,
    promote_and_tamper,
    serve,
    monitor,
    everyday,
    review_loop,
    sweeps,
    mlflow_code,
    team_server,
    web_ui,  # last: the demo ends with the URL of the UI on its store
)


def run_demo(
    home: Path, console: Console | None = None, *, serve: bool = True, keep: bool = False
) -> dict[str, Any]:
    """Run the end-to-end demo in a fresh store at ``home``; return a summary (also printed).

    Args:
        home: folder for the demo's store; emptied first.
        console: where to print (a new rich console by default).
        serve: also start servers (``labline serve`` and the others) and query them over HTTP.
        keep: leave the long-lived servers a step starts running until Ctrl-C.

    Returns:
        ``{"runs": ..., "comparison": ..., "model": ..., "served": ...}`` and what each later
        step adds, as plain data.
    """
    out = console or Console()
    if home.exists():
        shutil.rmtree(home)
    settings = Settings.local(home)
    client = Client(settings)
    ctx = DemoContext(
        home=home,
        settings=settings,
        client=client,
        data=DemoData.digits(),
        out=out,
        serve=serve,
        keep=keep,
        summary={"home": str(home)},
    )
    out.rule("[bold]labline demo[/bold]: research → statistics → verified package → production")
    with ctx.stack:
        for step in STEPS:
            step(ctx)
        out.rule("done")
        cli = shutil.which("labline") or str(Path(sys.executable).with_name("labline"))
        out.print(
            f"Explore: LABLINE_HOME={home} {cli} runs list   (or: models history digits@production)"
        )
        for line in ctx.closing:
            out.print(line)
        if keep and ctx.services:
            out.print(f"Running until Ctrl-C: {', '.join(ctx.services)}")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    client.close()
    return ctx.summary
