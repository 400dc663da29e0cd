"""The ``labline`` command line: a thin layer over the library.

Every command that prints a result takes ``--json`` (then prints only JSON on stdout).
Errors are one line on stderr and a non-zero exit status; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from .. import LablineError, Settings
from ._context import CliContext
from ._output import error


class _Group(click.Group):
    """Turns errors into one line on stderr (exit 1) unless ``--debug`` is given."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as e:
            obj = ctx.obj
            if (isinstance(obj, CliContext) and obj.debug) or "--debug" in sys.argv[1:2]:
                raise
            if isinstance(e, LablineError):
                error(str(e))
            else:  # a bug in labline or a library: still one line, the traceback with --debug
                error(f"unexpected {type(e).__name__}: {e} (run with --debug for the traceback)")
            ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(package_name="labline")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """labline: tracking, statistics, verified model packages, serving, human review."""
    ctx.obj = CliContext(settings=Settings.from_env(), debug=debug)


def _register() -> None:
    from . import _compare, _demo, _models, _run_lifecycle, _runs, _serve

    _compare.register(main)
    _demo.register(main)

    _models.register(main)
    _runs.register(main)
    _run_lifecycle.register(main)
    _serve.register(main)


_register()
