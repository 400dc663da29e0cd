"""Store contract of the use cases a store's own server carries out (a ``labline server``
behind the HTTP store), where the packages and the blobs are.

A client on a database runs these itself: it replays a package for the parity gate, and it
walks the blob store to collect or re-hash blobs. A client of a server has neither the right
nor the means: promotion must run the gate on the server (an engineer's token may promote,
but only through the gate), and the server's blobs can only be listed and removed there. Such
a store offers :class:`ServerSideOperations` as :attr:`MetadataStore.server_side
<labline.store.MetadataStore.server_side>`; the use cases ask it first.

Contract: each method does on the server what the client-side use case does (same results,
same exceptions), recorded as the server's caller (the token's name).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

from ..core._types import AliasEvent, BlobVerification, GcReport

__all__ = ["ServerSideOperations"]


class ServerSideOperations(abc.ABC):
    """Use cases a store's server carries out itself (see the module docstring)."""

    @abc.abstractmethod
    def promote(
        self,
        name: str,
        version: int,
        alias: str,
        *,
        reason: str | None,
        skip_parity: bool,
        tolerance: float,
    ) -> tuple[AliasEvent, Mapping[str, Any] | None]:
        """Move ``name@alias`` to ``version`` once the parity gate passes on the server.

        Returns:
            The alias event, and the parity report as JSON (``None`` when the gate was
            skipped).

        Raises:
            ParityError: the replay did not reproduce the recorded outputs.
            PermissionDeniedError: the caller may not promote (or skip the gate).
            NotFoundError: unknown version.
            InvalidArgumentError: a malformed alias, or a skip without a reason.
        """

    @abc.abstractmethod
    def collect_garbage(self, *, dry_run: bool, grace: float) -> GcReport:
        """Purge deleted runs, then unreferenced blobs, on the server (``labline gc``).

        Raises:
            PermissionDeniedError: the caller is not an admin.
        """

    @abc.abstractmethod
    def verify_blobs(self) -> BlobVerification:
        """Re-hash every blob the server stores.

        Raises:
            PermissionDeniedError: the caller is not an admin.
        """
