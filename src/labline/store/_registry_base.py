"""Store contract of the model registry (its records live in :mod:`labline.core._types`).

Contract (every backend, checked by ``tests/models/test_registry_store.py`` on SQLite,
PostgreSQL and a labline server over HTTP):

* **Versions are immutable.** A version is ``(name, number) → package digest``; nothing ever
  updates or deletes one. Registering a digest already registered under the name returns the
  existing version (idempotent); asking for a specific number that is taken by another digest
  raises :class:`~labline.ImmutableError`. Numbers are 1, 2, 3... per name, without gaps, also
  when several processes register at once.
* **Alias history is append-only.** Every move of an alias appends an event ``(seq, from →
  to, when, who, why, parity)``; ``seq`` counts 1, 2, 3... per alias and each event's
  ``from_version`` is the previous event's ``to_version``, also when several processes move the
  same alias at once (the losers of a race retry against the new state).
* **A model's card is editable, its versions are not.** A model may be created before its
  first version (:meth:`create_registered_model`); its description and tags change in place
  (tags last-write-wins) and move ``updated_at``; a model without versions may be deleted,
  one with versions never is (:class:`~labline.ImmutableError`).
* Methods are thread-safe and process-safe; unknown names raise
  :class:`~labline.NotFoundError`; database failures raise :class:`~labline.StorageError`.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Mapping
from typing import Any

from ..core._types import AliasEvent, AliasRecord, ModelVersion, RegisteredModel

__all__ = ["RegistryStoreBase"]


class RegistryStoreBase(abc.ABC):
    """Abstract registry methods of :class:`~labline.store.MetadataStore`."""

    @abc.abstractmethod
    def register_model_version(
        self,
        name: str,
        digest: str,
        *,
        run_id: str | None,
        created_by: str,
        meta: Mapping[str, Any],
        version: int | None = None,
    ) -> tuple[ModelVersion, bool]:
        """Register ``digest`` under ``name`` (creating the model on first use).

        Args:
            version: insist on this number (refused if taken by another digest).

        Returns:
            ``(version, created)``; ``created`` is false when the digest was already
            registered under ``name`` (then the existing version is returned).

        Raises:
            ImmutableError: ``version`` is taken by a different digest.
            InvalidArgumentError: a malformed name or digest, a version outside 1..2**31-1, or
                ``created_by`` empty or longer than 250 characters.
        """

    @abc.abstractmethod
    def get_model_version(self, name: str, version: int) -> ModelVersion:
        """One version. Raises NotFoundError."""

    @abc.abstractmethod
    def list_model_versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name``, oldest first. Raises NotFoundError for an unknown model."""

    @abc.abstractmethod
    def list_registered_models(self) -> list[RegisteredModel]:
        """Every registered model, by name."""

    @abc.abstractmethod
    def create_registered_model(
        self,
        name: str,
        *,
        created_by: str,
        description: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> RegisteredModel:
        """Create a registered model without versions (its first version comes later).

        Raises:
            AlreadyExistsError: the name is taken.
            InvalidArgumentError: a malformed name or tag key, or ``created_by`` empty or
                longer than 250 characters.
        """

    @abc.abstractmethod
    def get_registered_model(self, name: str) -> RegisteredModel:
        """One registered model. Raises NotFoundError."""

    @abc.abstractmethod
    def update_registered_model(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        delete_tags: Collection[str] = (),
    ) -> RegisteredModel:
        """Change a model's card: replace its description (when not ``None``), set tags and
        delete tags; returns the model as it is now.

        Raises:
            NotFoundError: no such model, or a tag in ``delete_tags`` it does not have
                (nothing is changed).
            InvalidArgumentError: a malformed tag key.
        """

    @abc.abstractmethod
    def delete_registered_model(self, name: str) -> None:
        """Delete a registered model that has no versions.

        Raises:
            NotFoundError: no such model.
            ImmutableError: it has versions (they, and so the model, are kept forever).
        """

    @abc.abstractmethod
    def get_alias(self, name: str, alias: str) -> AliasRecord:
        """Where ``name@alias`` points now. Raises NotFoundError."""

    @abc.abstractmethod
    def list_aliases(self, name: str) -> list[AliasRecord]:
        """The current aliases of ``name``, by alias."""

    @abc.abstractmethod
    def set_alias(
        self, name: str, alias: str, version: int, *, actor: str, reason: str, parity: str
    ) -> AliasEvent:
        """Point ``name@alias`` at ``version`` and append the move to the history.

        Returns:
            The appended event.

        Raises:
            NotFoundError: the version does not exist.
            InvalidArgumentError: a malformed alias name, or ``actor`` empty or longer than 250
                characters.
        """

    @abc.abstractmethod
    def alias_history(self, name: str, alias: str | None = None) -> list[AliasEvent]:
        """The moves of one alias (or of every alias of ``name``), oldest first."""
