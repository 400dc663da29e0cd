"""Store contract of labelled datasets: immutable versions of reviewed items with their labels
(records in :mod:`labline.core._review`).

Contract (checked by ``tests/review/test_labelled_datasets.py`` on SQLite, PostgreSQL and a
labline server over HTTP):

* Versions are immutable and numbered 1, 2, 3... per name without gaps, also when several
  processes add versions at once. Adding content whose fingerprint equals the latest version's
  adds nothing and returns that version.
* Every example references a review item (the lineage back to the model's answer).
* Unknown names or versions raise :class:`~labline.NotFoundError`; database failures
  :class:`~labline.StorageError`.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any

from ..core._review import LabelledDataset

__all__ = ["LabelledRow", "LabelledStoreBase"]

LabelledRow = tuple[int, Any, Sequence[int]]
"""``(item_id, label, decision_ids)`` of one example."""


class LabelledStoreBase(abc.ABC):
    """Abstract labelled-dataset methods of :class:`~labline.store.MetadataStore`."""

    @abc.abstractmethod
    def add_labelled_dataset(
        self,
        name: str,
        fingerprint: str,
        examples: Sequence[LabelledRow],
        *,
        created_by: str,
        query: Mapping[str, Any],
        meta: Mapping[str, Any],
    ) -> tuple[LabelledDataset, bool]:
        """Add a version (see the module docstring).

        Returns:
            ``(version, created)``; ``created`` is false when the latest version has the same
            fingerprint (then it is returned).
        """

    @abc.abstractmethod
    def list_labelled_datasets(self, name: str | None = None) -> list[LabelledDataset]:
        """Every version (of ``name``, or of every dataset), by name then version."""

    @abc.abstractmethod
    def get_labelled_dataset(self, name: str, version: int | None = None) -> LabelledDataset:
        """One version (the latest when ``version`` is None). Raises NotFoundError."""

    @abc.abstractmethod
    def labelled_dataset_rows(self, name: str, version: int) -> list[LabelledRow]:
        """The examples of one version, by item id. Raises NotFoundError."""
