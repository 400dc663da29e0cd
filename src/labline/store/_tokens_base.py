"""Store contract for the access tokens of ``labline server``.

Contract (in addition to :class:`~labline.store.MetadataStore`'s):
    * The store never sees a token's secret: it keeps the SHA-256 hex digest the caller computed
      (``secret_hash``) and the secret's first characters (``prefix``), and finds a token by its
      digest.
    * Tokens are never deleted; revoking one records when and by whom, once (revoking again is
      a no-op that returns the record as it is).
    * ``find_token`` returns revoked and expired tokens too: deciding whether one works is the
      caller's (so that a refusal can say why without a second query).
"""

from __future__ import annotations

import abc
from datetime import datetime

from ..core._types import Role, TokenRecord

__all__ = ["TokenStoreBase"]


class TokenStoreBase(abc.ABC):
    """Abstract token-store methods; see the module docstring for the contract."""

    @abc.abstractmethod
    def add_token(
        self,
        *,
        name: str,
        role: Role,
        secret_hash: str,
        prefix: str,
        expires_at: datetime | None,
        created_by: str,
    ) -> TokenRecord:
        """Store a new token.

        Raises:
            InvalidArgumentError: an empty or too long name, a hash that is not 64 hex digits.
            AlreadyExistsError: a token with this hash exists (a secret was reused).
        """

    @abc.abstractmethod
    def find_token(self, secret_hash: str) -> tuple[TokenRecord, str]:
        """The token whose secret hashes to ``secret_hash`` (revoked and expired ones too),
        with the digest as stored (for the caller's constant-time comparison).

        Raises:
            NotFoundError: no such token.
        """

    @abc.abstractmethod
    def list_tokens(self) -> list[TokenRecord]:
        """Every token ever created (revoked and expired ones too), oldest first."""

    @abc.abstractmethod
    def revoke_token(self, token_id: int, *, actor: str) -> TokenRecord:
        """Revoke a token (recording ``actor``) and return its record; revoking twice keeps
        the first revocation.

        Raises:
            NotFoundError: no such token.
        """

    @abc.abstractmethod
    def count_active_tokens(self, now: datetime) -> int:
        """How many tokens work at ``now`` (neither revoked nor expired)."""
