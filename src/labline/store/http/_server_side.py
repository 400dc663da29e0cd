"""What a ``labline server`` carries out for the HTTP store's client (see
:mod:`labline.store._server_side_base`): promotion through the parity gate, ``gc`` and blob
verification, each one request that the server runs as the token's name and role."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...core._types import AliasEvent, BlobVerification, GcReport
from .._server_side_base import ServerSideOperations
from ._records import decode_record
from ._transport import HttpTransport
from ._transport import path_segment as _q

__all__ = ["HttpServerSide"]


class HttpServerSide(ServerSideOperations):
    """Server-side use cases through one transport."""

    def __init__(self, transport: HttpTransport) -> None:
        self.http = transport

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
        body = {
            "alias": alias,
            "reason": reason,
            "skip_parity": skip_parity,
            "tolerance": float(tolerance),
        }
        data = self.http.json(
            "POST", f"/models/{_q(name)}/versions/{int(version)}/promote", json_body=body
        )
        return decode_record(AliasEvent, data["event"]), data.get("parity")

    def collect_garbage(self, *, dry_run: bool, grace: float) -> GcReport:
        data = self.http.json("POST", "/gc", json_body={"dry_run": dry_run, "grace": grace})
        return decode_record(GcReport, data)

    def verify_blobs(self) -> BlobVerification:
        return decode_record(BlobVerification, self.http.json("POST", "/verify-blobs"))
