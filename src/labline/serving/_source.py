"""Where the served model comes from, and how to notice that an alias moved."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ._model import ServableModel

if TYPE_CHECKING:
    from .._client import Client

__all__ = ["ModelSource", "RegistryModelSource", "StaticModelSource"]


@runtime_checkable
class ModelSource(Protocol):
    """Loads the model to serve and tells whether its reference now points elsewhere.

    Both methods are called from a worker thread, never on the event loop.
    """

    @property
    def ref(self) -> str: ...

    @property
    def followable(self) -> bool:
        """True when the reference can move (an alias) and should be polled."""
        ...

    def load(self) -> ServableModel:
        """Load (and verify) the model the reference points at now."""
        ...

    def current_digest(self) -> str:
        """Package digest the reference points at now (cheap: a registry lookup, no loading)."""
        ...

    def calibration(self, name: str, version: int | None) -> Any:
        """The current :class:`labline.Calibration` of ``name/version``, or ``None`` (cheap: a
        store lookup; polled to pick up a new calibration)."""
        ...


class StaticModelSource:
    """A model that never changes (an already loaded object, e.g. for tests or embedding).

    Args:
        model: a ``LoadedModel`` (or anything with the same interface).
        calibration: its :class:`labline.Calibration`, if it defers.
    """

    def __init__(self, model: ServableModel, calibration: Any = None) -> None:
        self._model = model
        self._calibration = calibration

    @property
    def ref(self) -> str:
        return self._model.name

    @property
    def followable(self) -> bool:
        return False

    def load(self) -> ServableModel:
        return self._model

    def current_digest(self) -> str:
        return self._model.digest

    def calibration(self, name: str, version: int | None) -> Any:
        return self._calibration


class RegistryModelSource:
    """A model reference loaded and resolved through a :class:`labline.Client`.

    Args:
        ref: ``name@alias``, ``name/version`` or a package path.
        client: the client whose registry holds the model (kept open: following polls it).

    Only ``name@alias`` references are followable.
    """

    def __init__(self, ref: str | os.PathLike[str], client: Client) -> None:
        self._ref = str(ref)
        self._client = client
        self._is_alias = "@" in self._ref and not os.path.isdir(self._ref)

    @property
    def ref(self) -> str:
        return self._ref

    @property
    def followable(self) -> bool:
        return self._is_alias

    def load(self) -> ServableModel:
        return self._client.load_model(self._ref)

    def current_digest(self) -> str:
        return self._client.resolve_model(self._ref).digest

    def calibration(self, name: str, version: int | None) -> Any:
        return None if version is None else self._client.current_calibration(name, version)
