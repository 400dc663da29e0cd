"""Watching a served model from outside: the live report of a running ``labline serve`` and the
Prometheus alerting rules for a model (the use cases behind ``labline monitor`` and
``labline alerts export``)."""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ._exceptions import InvalidArgumentError
from .core._alerts import AlertThresholds, alert_rules_document, alert_rules_yaml

if TYPE_CHECKING:
    from ._client import Client
    from .core._review import AuditAccuracy

__all__ = ["MonitoringReport", "alert_rules", "fetch_monitoring"]

_MAX_BYTES = 16 << 20


@dataclass(frozen=True)
class MonitoringReport:
    """What a model server says about its live traffic, checked against a model reference.

    Attributes:
        server: the server's base URL.
        ref: the model reference asked about.
        expected_digest: the package digest ``ref`` resolves to in the registry.
        served_digest: the digest the server serves.
        matches_ref: whether the server serves exactly what ``ref`` points at.
        document: the server's ``GET /monitoring`` answer (status, window, reference, report).
        live_accuracy: the served version's accuracy measured on reviewed audit samples (a
            random share of the answers it kept, labelled by reviewers), with its Wilson 95%
            interval: what the estimated accuracy is checked against. None for a package
            served from a folder (no registered version to audit).
    """

    server: str
    ref: str
    expected_digest: str
    served_digest: str
    matches_ref: bool
    document: dict[str, Any]
    live_accuracy: AuditAccuracy | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object ``labline monitor --json`` prints."""
        return {
            "server": self.server,
            "ref": self.ref,
            "expected_digest": self.expected_digest,
            "served_digest": self.served_digest,
            "matches_ref": self.matches_ref,
            **self.document,
            "live_accuracy": None
            if self.live_accuracy is None
            else dataclasses.asdict(self.live_accuracy),
        }


def _monitoring_url(server: str) -> str:
    parsed = urllib.parse.urlsplit(server)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidArgumentError("server must be an http:// or https:// URL")
    return server.rstrip("/") + "/monitoring"


def fetch_monitoring(
    client: Client, ref: str, server: str, *, timeout: float = 30.0
) -> MonitoringReport:
    """Ask the model server at ``server`` for its live report and check it serves ``ref``.

    Args:
        client: resolves ``ref`` in the registry.
        ref: ``name@alias``, ``name/version`` or a package folder.
        server: the model server's base URL (``http://host:port``).
        timeout: seconds to wait for the answer.

    Returns:
        The report (``matches_ref`` False when the server serves another version of the
        model), with the live accuracy of the served version on its reviewed audit samples.

    Raises:
        NotFoundError: ``ref`` names no model, version or alias.
        InvalidArgumentError: a malformed URL, an unreachable server, an answer that is not a
            labline model server's, or a server serving another model.
    """
    resolved = client.resolve_model(ref)
    url = _monitoring_url(server)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            body = answer.read(_MAX_BYTES + 1)
    except urllib.error.HTTPError as e:
        raise InvalidArgumentError(
            f"the model server at {server} answered {e.code} to GET /monitoring"
        ) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise InvalidArgumentError(
            f"cannot reach the model server at {server} ({type(reason).__name__})"
        ) from None
    try:
        doc = json.loads(body[:_MAX_BYTES])
        model = doc["model"]
        served_name, served_digest = str(model["name"]), str(model["digest"])
    except (ValueError, KeyError, TypeError):
        raise InvalidArgumentError(
            f"{server} did not answer like a labline model server (GET /monitoring)"
        ) from None
    if served_name != resolved.name:
        raise InvalidArgumentError(
            f"the server at {server} serves model {served_name!r}, not {resolved.name!r}"
        )
    served_version = model.get("version")
    live = (
        client.audit_accuracy(resolved.name, served_version)
        if isinstance(served_version, int) and not isinstance(served_version, bool)
        else None
    )
    return MonitoringReport(
        server=server,
        ref=str(ref),
        expected_digest=resolved.digest,
        served_digest=served_digest,
        matches_ref=served_digest == resolved.digest,
        document=doc,
        live_accuracy=live,
    )


def alert_rules(
    client: Client,
    ref: str,
    thresholds: AlertThresholds | None = None,
    *,
    format: Literal["yaml", "json"] = "yaml",
) -> str:
    """The Prometheus alerting rules for the model ``ref`` resolves to.

    Args:
        client: resolves ``ref`` in the registry.
        ref: ``name@alias``, ``name/version`` or a package folder.
        thresholds: where each alert fires (defaults: :class:`AlertThresholds`).
        format: ``yaml`` or ``json`` (the same rules; Prometheus reads both).

    Returns:
        The rules file's text (see :mod:`labline.core._alerts` for the rules).

    Raises:
        NotFoundError: ``ref`` names no model, version or alias.
        InvalidArgumentError: an unknown format.
    """
    if format not in ("yaml", "json"):
        raise InvalidArgumentError("format must be 'yaml' or 'json'")
    resolved = client.resolve_model(ref)
    if format == "json":
        doc = alert_rules_document(resolved.name, resolved.version, resolved.digest, thresholds)
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    return alert_rules_yaml(resolved.name, resolved.version, resolved.digest, thresholds)
