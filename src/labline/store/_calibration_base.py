"""Store contract of calibrations (the record lives in :mod:`labline.core._calibration`).

Contract (every backend; ``tests/store/test_calibration_store.py`` runs it on SQLite,
PostgreSQL and a labline server over HTTP):

* **Calibrations are immutable and append-only.** Each ``add_calibration`` stores a new record
  with a new id; nothing updates or deletes one. A version's *current* calibration is its
  newest (recalibrating keeps the history).
* A calibration belongs to an existing model version whose digest it names; adding one for an
  unknown version raises :class:`~labline.NotFoundError`, for another digest
  :class:`~labline.InvalidArgumentError`.
* Every number is finite (checked by ``check_calibration_draft`` before any write), so records
  store on PostgreSQL's JSON too.
* Methods are thread-safe and process-safe; database failures raise
  :class:`~labline.StorageError`.
"""

from __future__ import annotations

import abc

from ..core._calibration import Calibration, CalibrationDraft

__all__ = ["CalibrationStoreBase"]


class CalibrationStoreBase(abc.ABC):
    """Abstract calibration methods of :class:`~labline.store.MetadataStore`."""

    @abc.abstractmethod
    def add_calibration(self, draft: CalibrationDraft) -> Calibration:
        """Store a calibration of an existing model version.

        Returns:
            The stored record, with its id and time.

        Raises:
            NotFoundError: the model version does not exist.
            InvalidArgumentError: a field is not acceptable, or the digest is not the version's.
        """

    @abc.abstractmethod
    def get_calibration(self, calibration_id: int) -> Calibration:
        """One calibration by id. Raises NotFoundError."""

    @abc.abstractmethod
    def list_calibrations(self, name: str, version: int) -> list[Calibration]:
        """Every calibration of one version, oldest first (empty when there is none).

        Raises:
            NotFoundError: the model version does not exist.
        """

    @abc.abstractmethod
    def current_calibration(self, name: str, version: int) -> Calibration | None:
        """The newest calibration of one version, or ``None``.

        Raises:
            NotFoundError: the model version does not exist.
        """
