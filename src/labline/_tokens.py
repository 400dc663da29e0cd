"""Access tokens for ``labline server``: issue, list, revoke and authenticate.

A token is ``ll_`` followed by 43 URL-safe characters: 256 random bits from :mod:`secrets`.
It is shown once, when it is issued; the store keeps only its SHA-256 (hex) and its first
characters (to tell tokens apart in lists). Authentication hashes the presented secret, finds
the token by that digest and compares the digests again with :func:`hmac.compare_digest`, so
the time taken does not depend on how much of a guess was right.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ._exceptions import AuthenticationError, InvalidArgumentError, NotFoundError
from .core._grammar import check_actor, parse_duration
from .core._types import IssuedToken, Role, TokenRecord

if TYPE_CHECKING:
    from ._client import Client

__all__ = [
    "TOKEN_PREFIX",
    "authenticate_token",
    "hash_secret",
    "issue_token",
    "revoke_tokens",
]

TOKEN_PREFIX = "ll_"
_SHOWN = 10  # characters of the secret kept to tell tokens apart: "ll_" + 7 of 43
_MAX_SECRET = 200  # longer presented secrets are refused before hashing


def hash_secret(secret: str) -> str:
    """The SHA-256 hex digest a token's secret is stored as."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _role(role: object) -> Role:
    try:
        return Role(str(role) if not isinstance(role, Role) else role)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise InvalidArgumentError(f"role must be one of {known}, got {role!r}") from None


def _expiry(expires: timedelta | str | None, now: datetime) -> datetime | None:
    if expires is None:
        return None
    if isinstance(expires, str):
        expires = parse_duration(expires, "expires")
    if not isinstance(expires, timedelta) or expires <= timedelta(0):
        raise InvalidArgumentError("expires must be a positive duration (e.g. 30d)")
    return now + expires


def issue_token(
    client: Client, name: str, role: Role | str, expires: timedelta | str | None = None
) -> IssuedToken:
    """Create a token for ``name`` with ``role``; see :meth:`labline.Client.create_token`."""
    name = check_actor(name.strip() if isinstance(name, str) else name, "token name")
    chosen = _role(role)
    now = datetime.now(UTC)
    expires_at = _expiry(expires, now)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = client.store.add_token(
        name=name,
        role=chosen,
        secret_hash=hash_secret(secret),
        prefix=secret[:_SHOWN],
        expires_at=expires_at,
        created_by=client.actor,
    )
    return IssuedToken(record, secret)


def authenticate_token(client: Client, secret: str) -> TokenRecord:
    """The token a presented secret belongs to, if it works now; see
    :meth:`labline.Client.authenticate`."""
    if not isinstance(secret, str) or not secret or len(secret) > _MAX_SECRET:
        raise AuthenticationError("invalid token")
    presented = hash_secret(secret)
    try:
        record, stored = client.store.find_token(presented)
    except NotFoundError:
        raise AuthenticationError("invalid token") from None
    # The lookup matched on the digest; compare again in constant time so a backend that
    # matched loosely (a case-folding collation, say) can never let a near miss through.
    if not hmac.compare_digest(presented.encode(), stored.encode()):
        raise AuthenticationError("invalid token")
    now = datetime.now(UTC)
    if record.revoked_at is not None:
        raise AuthenticationError(f"token {record.prefix}... was revoked")
    if record.expires_at is not None and now >= record.expires_at:
        raise AuthenticationError(f"token {record.prefix}... expired")
    return record


def revoke_tokens(client: Client, name_or_id: str | int) -> list[TokenRecord]:
    """Revoke one token by id, or every active token of a name; see
    :meth:`labline.Client.revoke_token`."""
    if isinstance(name_or_id, int) and not isinstance(name_or_id, bool):
        return [client.store.revoke_token(name_or_id, actor=client.actor)]
    if not isinstance(name_or_id, str) or not name_or_id.strip():
        raise InvalidArgumentError("give a token id or a token name")
    now = datetime.now(UTC)
    chosen = [
        t for t in client.store.list_tokens() if t.name == name_or_id.strip() and t.active_at(now)
    ]
    if not chosen:
        raise NotFoundError(f"no active token named {name_or_id.strip()!r}")
    return [client.store.revoke_token(t.id, actor=client.actor) for t in chosen]
