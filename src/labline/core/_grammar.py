"""The textual forms of labline, each with one owner: names, keys, run ids, model references,
run selectors and digests. Everything that parses or checks one of these calls this module."""

from __future__ import annotations

import re

from .._exceptions import InvalidArgumentError

__all__ = ["check_alias_name", "check_artifact_path", "check_model_name"]

MAX_NAME_LEN = 250

_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,249}$")
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,249}$")


def check_model_name(name: object) -> str:
    """Return ``name`` if it is a valid model name (letters, digits, ``_.-``, at most 250).

    Raises:
        InvalidArgumentError: it is not.
    """
    if not isinstance(name, str) or not _MODEL_NAME.match(name):
        raise InvalidArgumentError(
            f"model name {name[:80]!r} is invalid: use letters, digits, '_', '.', '-' (at most 250)"
            if isinstance(name, str)
            else "model name must be a string"
        )
    return name


def check_alias_name(alias: object) -> str:
    """Return ``alias`` if valid: it starts with a letter, so it never looks like a version.

    Raises:
        InvalidArgumentError: it is not.
    """
    if not isinstance(alias, str) or not _ALIAS.match(alias):
        raise InvalidArgumentError(
            "alias must start with a letter and contain only letters, digits, '_', '.', '-'"
        )
    return alias


MAX_ARTIFACT_PATH_LEN = 1000


def check_artifact_path(path: object, what: str = "artifact path") -> str:
    """Return a run artifact path (``"model/weights/x.skops"``) in its one spelling: relative,
    ``/``-separated, no empty, ``.`` or ``..`` parts (so it can never leave a download folder);
    surrounding slashes are dropped.

    Raises:
        InvalidArgumentError: it is not such a path (the message names ``what``).
    """
    if not isinstance(path, str):
        raise InvalidArgumentError(f"{what} must be a string")
    clean = path.strip("/")
    parts = clean.split("/")
    if (
        not clean
        or len(clean) > MAX_ARTIFACT_PATH_LEN
        or "\\" in clean
        or any(p in ("", ".", "..") or any(ord(c) < 32 for c in p) for p in parts)
    ):
        raise InvalidArgumentError(
            f"{what} {path[:80]!r} is invalid: use a relative path of '/'-separated names "
            f"without '.' or '..' parts (at most {MAX_ARTIFACT_PATH_LEN} characters)"
        )
    return clean
