"""``/api/v1`` administration and identity: who am I, health, tokens, gc."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from .. import Client, TokenRecord
from ..core import to_jsonable
from ._errors import ERROR_RESPONSES
from ._permissions import declares, request_client, request_principal, requires
from ._principal import Permission
from ._schemas import (
    BlobVerificationOut,
    GcIn,
    GcOut,
    HealthOut,
    IdPath,
    IssuedTokenOut,
    TokenIn,
    TokenOut,
    WhoAmIOut,
)
from ._schemas_records import TokenRecordIn

__all__ = ["router"]

router = APIRouter(tags=["admin"], responses=ERROR_RESPONSES)
ClientDep = Annotated[Client, Depends(request_client)]
READ, ADMIN = requires(Permission.READ), requires(Permission.ADMIN)


def _token(record: TokenRecord) -> TokenOut:
    data = to_jsonable(record)
    data["active"] = record.active_at(datetime.now(UTC))
    return TokenOut.model_validate(data)


@router.get("/whoami", dependencies=[READ], summary="The caller")
def whoami(request: Request) -> WhoAmIOut:
    """The token's name, its role and the rights the role holds."""
    principal = request_principal(request)
    return WhoAmIOut(
        name=principal.name,
        role=principal.role,
        permissions=sorted(p.value for p in Permission if principal.can(p)),
    )


@router.get("/tokens", dependencies=[ADMIN], summary="List tokens")
def list_tokens(
    client: ClientDep, include_inactive: Annotated[bool, Query()] = False
) -> list[TokenOut]:
    """Tokens that work now (revoked and expired ones too with ``include_inactive``); never
    their secrets, which are not stored."""
    return [_token(t) for t in client.list_tokens(include_inactive=include_inactive)]


@router.post("/tokens", dependencies=[ADMIN], status_code=201, summary="Create a token")
def create_token(client: ClientDep, body: TokenIn) -> IssuedTokenOut:
    """Create a token; its secret is in this answer only."""
    issued = client.create_token(body.name, body.role, expires=body.expires)
    return IssuedTokenOut(token=_token(issued.record), secret=issued.secret)


@router.post(
    "/tokens/records", dependencies=[ADMIN], status_code=201, summary="Store a token by its hash"
)
def add_token_record(client: ClientDep, body: TokenRecordIn) -> TokenOut:
    """Store a token whose secret the caller generated: only its SHA-256 and first characters
    arrive (how ``labline server token create`` works against a server; the secret is shown by
    the caller and never travels). 409 when the hash is taken."""
    return _token(
        client.add_token_record(
            name=body.name,
            role=body.role,
            secret_hash=body.secret_hash,
            prefix=body.prefix,
            expires_at=body.expires_at,
        )
    )


@router.delete("/tokens/{token_id:int}", dependencies=[ADMIN], summary="Revoke a token")
def revoke_token(client: ClientDep, token_id: IdPath) -> TokenOut:
    """Revoke one token by id (refused from the next request on)."""
    return _token(client.revoke_token(token_id)[0])


@router.post("/gc", dependencies=[ADMIN], summary="Collect garbage")
def gc(client: ClientDep, body: GcIn) -> GcOut:
    """Purge deleted runs and experiments, then unreferenced blobs (see ``labline gc``)."""
    return GcOut.model_validate(to_jsonable(client.gc(dry_run=body.dry_run, grace=body.grace)))


@router.post("/verify-blobs", dependencies=[ADMIN], summary="Verify every stored blob")
def verify_blobs(client: ClientDep) -> BlobVerificationOut:
    """Re-hash every blob in the blob store (packages, artifacts, predictions) and report each
    one whose content no longer matches its name (``labline models verify --blobs``)."""
    report = client.verify_blobs()
    data: dict[str, Any] = to_jsonable(report)
    data["ok"] = not report.bad
    return BlobVerificationOut.model_validate(data)


@declares("public")
def health() -> HealthOut:
    """Liveness: answers without a token."""
    return HealthOut(status="ok")


router.add_api_route("/health", health, methods=["GET"], summary="Liveness", tags=["admin"])
