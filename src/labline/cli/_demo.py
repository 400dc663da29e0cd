"""``labline demo``: the whole loop in one command."""

from __future__ import annotations

from pathlib import Path

import click

from ._output import console, emit_json


@click.command("demo")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".labline-demo"),
    show_default=True,
    help="Folder for the demo's own store (emptied first).",
)
@click.option("--no-serve", is_flag=True, help="Skip starting `labline serve`.")
@click.option("--keep", is_flag=True, help="Keep the servers the demo starts running until Ctrl-C.")
@click.option("--json", "as_json", is_flag=True, help="Print only a JSON summary on stdout.")
def demo(home: Path, no_serve: bool, keep: bool, as_json: bool) -> None:
    """Run the end-to-end loop on scikit-learn's digits: hypothesis, seeded runs, paired
    statistics, verified package, parity-gated promotion, tamper refusal, serving."""
    from rich.console import Console

    from .._demo import run_demo

    quiet = Console(file=open("/dev/null", "w")) if as_json else console  # noqa: SIM115
    summary = run_demo(home.absolute(), quiet, serve=not no_serve, keep=keep)
    if as_json:
        emit_json(summary)


def register(group: click.Group) -> None:
    """Add ``demo`` to the top-level group."""
    group.add_command(demo)
