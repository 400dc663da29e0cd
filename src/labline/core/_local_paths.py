"""Local files that must stay inside one folder: a folder logged as artifacts never carries a
symbolic link out of itself, and artifacts copied into a folder never land outside it through
a symbolic link already there. (The artifact path grammar, no ``..`` and no absolute paths,
is :func:`labline.core._grammar.check_artifact_path`.)"""

from __future__ import annotations

import os
from pathlib import Path

from .._exceptions import InvalidArgumentError
from ._hashing import iter_files

__all__ = ["confined_files", "confined_target"]


def confined_files(root: str | os.PathLike[str]) -> list[Path]:
    """The regular files below ``root`` (sorted, relative to it), refusing any symbolic link
    whose target lies outside ``root``: logging a folder never uploads what it only points at
    (a key in ``~/.ssh``, a data set elsewhere).

    Raises:
        InvalidArgumentError: a link leads outside ``root``; the message names it.
    """
    base = Path(root)
    real = base.resolve()
    files = iter_files(base)
    for rel in files:
        if not (base / rel).resolve().is_relative_to(real):
            raise InvalidArgumentError(
                f"{(base / rel).as_posix()!r} is a symbolic link to a file outside "
                f"{base.as_posix()!r}; copy the file in or log it on its own"
            )
    return files


def confined_target(root: str | os.PathLike[str], rel: str) -> Path:
    """Where the artifact path ``rel`` (already checked by the grammar) is written under the
    folder ``root``, refusing a symbolic link on the way that leads outside ``root``.

    Raises:
        InvalidArgumentError: a folder on the way is a link out of ``root``.
    """
    base = Path(root)
    target = base / rel
    if not target.parent.resolve().is_relative_to(base.resolve()):
        raise InvalidArgumentError(
            f"cannot write {rel!r} into {base.as_posix()!r}: a symbolic link on the way leads "
            "outside that folder"
        )
    return target
