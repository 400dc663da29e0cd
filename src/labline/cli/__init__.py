"""The ``labline`` command line: a thin layer over :class:`labline.Client`.

Every command that prints a result takes ``--json`` (then prints only JSON on stdout).
Errors go through click's exception machinery (see ``_errors``): one line on stderr and the
exit code of the error's family; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from .. import Settings
from ._context import CliContext
from ._errors import from_exception


class _Group(click.Group):
    """Turns every error into its click exception (one line, its exit code) unless ``--debug``."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as e:
            obj = ctx.obj
            if (isinstance(obj, CliContext) and obj.debug) or "--debug" in sys.argv[1:2]:
                raise
            raise from_exception(e) from e


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(package_name="labline")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """labline: tracking, statistics, verified model packages, serving."""
    ctx.obj = CliContext(settings=Settings.from_env(), debug=debug)


def _register() -> None:
    from . import (
        _calibrate,
        _compare,
        _datasets,
        _db,
        _demo,
        _import,
        _models,
        _monitor,
        _review,
        _run_lifecycle,
        _runs,
        _serve,
        _server,
        _sweeps,
    )

    _calibrate.register(main)
    _compare.register(main)
    _datasets.register(main)
    _db.register(main)
    _demo.register(main)
    _import.register(main)
    _models.register(main)
    _monitor.register(main)
    _review.register(main)
    _runs.register(main)
    _run_lifecycle.register(main)
    _serve.register(main)
    _server.register(main)
    _sweeps.register(main)


_register()
