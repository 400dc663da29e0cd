"""Module-level entry points of ``labline.models``: thin wrappers over the default client."""

from __future__ import annotations

import os
from typing import Any

from .. import _client
from .._settings import Settings
from ..core._types import LoggedModel, ModelVersion, ResolvedRef
from ._loaded import LoadedModel
from ._registry import Registry


def registry(settings: Settings | None = None) -> Registry:
    """The registry of the store ``settings`` points at (``Settings.from_env()`` by default)."""
    return _client.default_client(settings).registry


def load_model(ref: str | os.PathLike[str], *, settings: Settings | None = None) -> LoadedModel:
    """Load a model package after verifying every file's SHA-256.

    Args:
        ref: ``"name@alias"``, ``"name/3"``, ``"name"`` (latest version) or a package folder.
        settings: the store holding the registry (``Settings.from_env()`` by default); not
            needed for a folder.

    Returns:
        The loaded model.

    Raises:
        DigestMismatchError: a file is missing or altered; nothing was imported or read.
        NotFoundError: unknown model, version or alias.

    Example:
        >>> model = labline.load_model("digits@production")  # doctest: +SKIP
        >>> model.predict(batch)                             # doctest: +SKIP
    """
    return _client.default_client(settings).load_model(ref)


def resolve(ref: str | os.PathLike[str], *, settings: Settings | None = None) -> ResolvedRef:
    """Return ``(name, version, digest)`` that ``ref`` points at now, without loading it.

    Raises:
        NotFoundError: unknown model, version or alias.
        DigestMismatchError: ``ref`` is a folder whose manifest cannot be read.
    """
    return _client.default_client(settings).resolve_model(ref)


resolve_ref = resolve


def log_model(
    run: Any, model: Any, name: str | None = None, input_example: Any = None, **kwargs: Any
) -> ModelVersion | LoggedModel:
    """Package ``model`` into the active run ``run``; register it as a version of ``name``
    when a name is given.

    See :meth:`labline.models.Registry.log_model` for the arguments.
    """
    return run.client.log_model(run, model, name, input_example, **kwargs)  # type: ignore[no-any-return]
