"""labline's exceptions on click's machinery: one ``ClickException`` subclass per family,
each with its exit code, printed as one line on stderr.

Exit codes (one table, here)::

    0   success
    1   the request cannot be done as asked: NotFoundError, InvalidArgumentError (and
        SchemaError, ParamConflictError), AlreadyExistsError, ImmutableError
    2   a usage error caught by click itself (unknown option, bad option value)
    3   stored content is not what was recorded: IntegrityError, DigestMismatchError
    4   a model package does not reproduce its recorded outputs: ParityError
    5   the metadata or artifact store failed: StorageError, SchemaVersionError
    6   an optional dependency is not installed: MissingDependencyError
    70  a bug: an exception labline did not raise on purpose (the traceback with ``--debug``)
"""

from __future__ import annotations

from typing import IO, Any

import click

from .. import (
    IntegrityError,
    LablineError,
    MissingDependencyError,
    ParityError,
    StorageError,
)

__all__ = [
    "CommandError",
    "DependencyFailure",
    "IntegrityFailure",
    "InternalFailure",
    "ParityFailure",
    "StorageFailure",
    "from_exception",
]


class CommandError(click.ClickException):
    """A labline error shown as ``error: <message>`` on stderr; exit 1 unless a family says
    otherwise."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True, file=file)


class IntegrityFailure(CommandError):
    """Stored content is not what was recorded (a digest differs)."""

    exit_code = 3


class ParityFailure(CommandError):
    """A model package does not reproduce its recorded outputs."""

    exit_code = 4


class StorageFailure(CommandError):
    """The metadata or artifact store failed, or its schema is not this labline's."""

    exit_code = 5


class DependencyFailure(CommandError):
    """An optional dependency is not installed (the message names the extra)."""

    exit_code = 6


class InternalFailure(CommandError):
    """An exception labline did not raise on purpose: a bug."""

    exit_code = 70


_FAMILIES: tuple[tuple[type[LablineError], type[CommandError]], ...] = (
    (IntegrityError, IntegrityFailure),
    (ParityError, ParityFailure),
    (StorageError, StorageFailure),
    (MissingDependencyError, DependencyFailure),
    (LablineError, CommandError),
)


def from_exception(e: BaseException) -> CommandError:
    """The click exception that reports ``e`` (the first family in the table it belongs to)."""
    if isinstance(e, LablineError):
        for family, cls in _FAMILIES:
            if isinstance(e, family):
                return cls(str(e))
    first = (str(e).strip().splitlines() or [""])[0]
    return InternalFailure(
        f"unexpected {type(e).__name__}: {first} (run with --debug for the traceback)"
    )
