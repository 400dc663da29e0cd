"""HttpStore: the metadata store of ``LABLINE_URI=http://host:port`` (with ``LABLINE_TOKEN``),
every call a request to ``labline server``'s ``/api/v1``.

The server records every write as the token's name: the ``created_by``/``actor`` arguments of
the contract are checked as every backend checks them, but not sent (the server decides). Metric points travel as
compressed columnar batches (:mod:`labline.core._metric_wire`), each with its writer's id and
sequence number, so a batch retried after a lost answer is stored once; a call without a batch
id gets a fresh one, and is retried under it.

Sweeps and trials go through ``/api/v1/sweeps`` and ``/api/v1/trials``
(:mod:`labline.store.http._sweeps`): the server's store numbers trials and moves their states,
so Optuna and Ray workers anywhere share a study.

Token records are admin data, served by admin endpoints: with an admin's ``LABLINE_TOKEN``,
``labline server token create|list|revoke`` work against the server (other roles get 403).
Creating a token generates its secret here and sends only its SHA-256 and first characters
(``POST /api/v1/tokens/records``), so a secret never travels, nor is it in any answer or log of
the server; listing and revoking use ``/api/v1/tokens``. Looking a token up by its hash is not
offered: the server authenticates each request's token itself.

Calibrations, the review queue and labelled datasets are in :mod:`labline.store.http._hitl`;
promotion through the parity gate, ``gc`` and blob verification are carried out by the server
(:attr:`HttpStore.server_side`). Schema upgrades only make sense next to the database: they
are refused with a message that says where to do them (``labline db upgrade`` where the
server runs).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, NoReturn

from ..._exceptions import InvalidArgumentError, NotFoundError
from ...core import to_jsonable
from ...core._grammar import (
    Digest,
    check_actor,
    check_alias_name,
    check_model_name,
    check_model_version,
    is_model_version,
)
from ...core._metric_wire import (
    METRIC_BATCH_MEDIA_TYPE,
    decode_metric_batch,
    encode_metric_batch,
)
from ...core._run_query import FilterExpr, OrderKey, filter_text, order_text
from ...core._types import (
    AliasEvent,
    AliasRecord,
    ArtifactRecord,
    DatasetRecord,
    Experiment,
    Hypothesis,
    HypothesisStatus,
    MetricSeries,
    ModelVersion,
    PredictionsRecord,
    PurgeResult,
    RegisteredModel,
    Role,
    Run,
    RunStatus,
    SchemaStatus,
    TokenRecord,
)
from ...core._validation import check_hypothesis_fields
from .._base import MetadataStore, MetricBatchId, MetricChunk
from ._hitl import HitlHttpMixin, row_id
from ._records import decode_record
from ._server_side import HttpServerSide
from ._sweeps import HttpSweepsMixin
from ._transport import HttpTransport
from ._transport import path_segment as _q

__all__ = ["MAX_BATCH_POINTS", "HttpStore"]

MAX_BATCH_POINTS = 400_000
"""Points per request: a larger batch is sent in parts (each its own writer id and sequence
number, so each part is stored once), keeping every body under the server's limit."""

_SEARCH_PAGE = 10_000


def _claimed(created_by: str) -> None:
    """Check the writer a caller claims as the SQL stores do (the server records its token's
    name instead)."""
    if created_by:
        check_actor(created_by, "created_by")


def _elsewhere(what: str) -> NoReturn:
    raise InvalidArgumentError(
        f"{what} is not available through labline server's HTTP store: use the server's own "
        "pages and endpoints, or a client on the server's database"
    )


class HttpStore(HitlHttpMixin, HttpSweepsMixin, MetadataStore):
    """The metadata store behind a ``labline server`` (see the module docstring): runs,
    metrics, blobs, registry, hypotheses, sweeps, calibrations, the review queue and labelled
    datasets for any role that may; token records for an admin token only (created from a
    hash: the secret stays with the caller).

    Args:
        url: the server, ``http://host:port`` (or ``https://``).
        token: a token from ``labline server token create`` (optional on a loopback server
            without tokens).
        transport: an already open transport (tests).

    Example:
        >>> store = HttpStore("http://127.0.0.1:5000", "ll_...")  # doctest: +SKIP
        >>> store.list_experiments()  # doctest: +SKIP
        [Experiment(id=1, name='digits', ...)]
    """

    def __init__(
        self, url: str, token: str | None = None, *, transport: HttpTransport | None = None
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise InvalidArgumentError(f"an HTTP store needs an http(s):// URL, not {url[:40]!r}")
        self.url = url.rstrip("/")
        self.http = transport or HttpTransport(self.url, token)
        self._server_side = HttpServerSide(self.http)

    def __repr__(self) -> str:
        return f"<HttpStore {self.url}>"

    @property
    def server_side(self) -> HttpServerSide:
        """Promotion, gc and blob verification, carried out by the server."""
        return self._server_side

    def close(self) -> None:
        """Close the connections."""
        self.http.close()

    # -- experiments ---------------------------------------------------------------------------
    def create_experiment(self, name: str, *, tags: Mapping[str, str] | None = None) -> Experiment:
        body = {"name": name, "tags": dict(tags or {})}
        return decode_record(Experiment, self.http.json("POST", "/experiments", json_body=body))

    def get_or_create_experiment(self, name: str) -> Experiment:
        data = self.http.json(
            "POST", "/experiments/get-or-create", json_body={"name": name}, idempotent=True
        )
        return decode_record(Experiment, data)

    def get_experiment(self, name_or_id: str | int) -> Experiment:
        return decode_record(Experiment, self.http.json("GET", f"/experiments/{_q(name_or_id)}"))

    def list_experiments(self, *, include_deleted: bool = False) -> list[Experiment]:
        data = self.http.json(
            "GET", "/experiments", params={"include_deleted": str(include_deleted).lower()}
        )
        return [decode_record(Experiment, e) for e in data]

    def rename_experiment(self, name_or_id: str | int, name: str) -> None:
        self.http.json("PATCH", f"/experiments/{_q(name_or_id)}", json_body={"name": name})

    def delete_experiment(self, name_or_id: str | int, *, actor: str) -> None:
        check_actor(actor)
        self.http.json("DELETE", f"/experiments/{_q(name_or_id)}", idempotent=True)

    def restore_experiment(self, name_or_id: str | int) -> None:
        self.http.json("POST", f"/experiments/{_q(name_or_id)}/restore", idempotent=True)

    def set_experiment_tags(self, name_or_id: str | int, tags: Mapping[str, str]) -> None:
        self.http.json(
            "POST",
            f"/experiments/{_q(name_or_id)}/tags",
            json_body={"tags": dict(tags)},
            idempotent=True,
        )

    def delete_experiment_tag(self, name_or_id: str | int, key: str) -> None:
        self.http.json("DELETE", f"/experiments/{_q(name_or_id)}/tags/{_q(key)}")

    # -- runs ----------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: int,
        name: str,
        *,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        env: Mapping[str, Any] | None = None,
        host: str = "",
        pid: int = 0,
        parent_id: str | None = None,
        created_by: str = "",
        run_id: str | None = None,
        created_at: datetime | None = None,
    ) -> Run:
        _claimed(created_by)
        body = {
            "run_id": run_id,
            "created_at": None if created_at is None else created_at.isoformat(),
            "experiment_id": experiment_id,
            "name": name,
            "params": dict(params or {}),
            "tags": dict(tags or {}),
            "env": to_jsonable(dict(env or {}), non_finite="null"),
            "host": host,
            "pid": pid,
            "parent_id": parent_id,
        }
        return decode_record(Run, self.http.json("POST", "/runs/open", json_body=body))

    def get_run(self, run_id: str) -> Run:
        return decode_record(Run, self.http.json("GET", f"/runs/{_q(run_id)}"))

    def search_runs(
        self,
        *,
        experiment: str | int | None = None,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        run_ids: Sequence[str] | None = None,
        status: RunStatus | None = None,
        filter: FilterExpr | None = None,
        order_by: Sequence[OrderKey] = (),
        offset: int = 0,
        limit: int | None = None,
        include_deleted: bool = False,
    ) -> list[Run]:
        body: dict[str, Any] = {
            "experiment": None if experiment is None else str(experiment),
            "filter": None if filter is None else filter_text(filter),
            "order_by": [order_text(k) for k in order_by] or None,
            "params": dict(params) if params else None,
            "tags": dict(tags) if tags else None,
            "run_ids": None if run_ids is None else list(run_ids),
            "status": None if status is None else RunStatus(status).value,
            "include_deleted": include_deleted,
        }
        # The server pages by token; the offset is walked page by page from the start.
        runs: list[Run] = []
        wanted = None if limit is None else offset + limit
        token: str | None = None
        while True:
            page_size = (
                _SEARCH_PAGE if wanted is None else max(1, min(_SEARCH_PAGE, wanted - len(runs)))
            )
            page = self.http.json(
                "POST",
                "/runs/search",
                json_body={**body, "limit": page_size, "page_token": token},
                idempotent=True,
            )
            runs.extend(decode_record(Run, r) for r in page["runs"])
            token = page.get("next_page_token")
            if token is None or (wanted is not None and len(runs) >= wanted):
                break
        return runs[offset:wanted]

    def child_runs(self, run_id: str) -> list[Run]:
        return [
            decode_record(Run, r) for r in self.http.json("GET", f"/runs/{_q(run_id)}/children")
        ]

    def set_run_status(
        self,
        run_id: str,
        status: RunStatus,
        error: str | None = None,
        *,
        ended_at: datetime | None = None,
    ) -> None:
        body = {
            "status": RunStatus(status).value,
            "error": error,
            "ended_at": None if ended_at is None else ended_at.isoformat(),
        }
        self.http.json("POST", f"/runs/{_q(run_id)}/status", json_body=body, idempotent=True)

    def resume_run(self, run_id: str, *, host: str = "", pid: int = 0) -> Run:
        data = self.http.json(
            "POST", f"/runs/{_q(run_id)}/resume", json_body={"host": host, "pid": pid}
        )
        return decode_record(Run, data)

    def rename_run(self, run_id: str, name: str) -> None:
        self.http.json("PATCH", f"/runs/{_q(run_id)}", json_body={"name": name}, idempotent=True)

    def delete_run(self, run_id: str, *, actor: str) -> None:
        check_actor(actor)
        self.http.json("DELETE", f"/runs/{_q(run_id)}", idempotent=True)

    def restore_run(self, run_id: str) -> None:
        self.http.json("POST", f"/runs/{_q(run_id)}/restore", idempotent=True)

    def heartbeat(self, run_id: str) -> None:
        self.http.json("POST", f"/runs/{_q(run_id)}/heartbeat", idempotent=True)

    # -- params, tags, metrics -----------------------------------------------------------------
    def log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        self.http.json(
            "POST",
            f"/runs/{_q(run_id)}/params",
            json_body={"params": dict(params)},
            idempotent=True,
        )

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        self.http.json(
            "POST", f"/runs/{_q(run_id)}/tags", json_body={"tags": dict(tags)}, idempotent=True
        )

    def delete_tag(self, run_id: str, key: str) -> None:
        self.http.json("DELETE", f"/runs/{_q(run_id)}/tags/{_q(key)}")

    def append_metrics(
        self,
        run_id: str,
        chunks: Mapping[str, MetricChunk],
        *,
        batch: MetricBatchId | None = None,
    ) -> None:
        writer, seq = batch if batch is not None else (uuid.uuid4().hex, 0)
        parts = list(_split(chunks, MAX_BATCH_POINTS))
        for i, part in enumerate(parts):
            # one part keeps the batch's id; parts of a split batch get ids of their own
            part_writer = writer if len(parts) == 1 else f"{writer[:56]}.p{i}"
            self.http.request(
                "POST",
                f"/runs/{_q(run_id)}/metric-batches",
                content=encode_metric_batch(part),
                headers={
                    "content-type": METRIC_BATCH_MEDIA_TYPE,
                    "x-labline-writer": part_writer,
                    "x-labline-seq": str(seq),
                },
                idempotent=True,
            )

    def get_metric_series(self, run_id: str, key: str) -> MetricSeries:
        # columnar, not JSON: a series may hold millions of points
        payload = self.http.request("GET", f"/runs/{_q(run_id)}/metric-batches/{_q(key)}").content
        steps, timestamps, values = decode_metric_batch(payload)[key]
        return MetricSeries(run_id, key, steps, timestamps, values)

    # -- datasets, predictions, artifacts ------------------------------------------------------
    def add_dataset(self, record: DatasetRecord) -> None:
        body = to_jsonable(record, non_finite="null")
        body.pop("run_id")
        self.http.json(
            "POST", f"/runs/{_q(record.run_id)}/datasets", json_body=body, idempotent=True
        )

    def list_datasets(self, run_id: str) -> list[DatasetRecord]:
        data = self.http.json("GET", f"/runs/{_q(run_id)}/datasets")
        return [decode_record(DatasetRecord, d) for d in data]

    def add_predictions(self, record: PredictionsRecord) -> None:
        body = to_jsonable(record, non_finite="null")
        for field in ("run_id", "created_at"):
            body.pop(field)
        self.http.json(
            "POST", f"/runs/{_q(record.run_id)}/predictions", json_body=body, idempotent=True
        )

    def list_predictions(
        self, run_id: str | None = None, *, dataset_fingerprint: str | None = None
    ) -> list[PredictionsRecord]:
        query = {"run_id": run_id, "dataset_fingerprint": dataset_fingerprint}
        data = self.http.json(
            "GET", "/predictions", params={k: v for k, v in query.items() if v is not None}
        )
        return [decode_record(PredictionsRecord, p) for p in data]

    def add_artifacts(self, records: Sequence[ArtifactRecord]) -> None:
        by_run: dict[str, list[dict[str, Any]]] = {}
        for r in records:
            by_run.setdefault(r.run_id, []).append(
                {"path": r.path, "digest": r.digest, "size": r.size}
            )
        for run_id, artifacts in by_run.items():
            self.http.json(
                "POST",
                f"/runs/{_q(run_id)}/artifact-records",
                json_body={"artifacts": artifacts},
                idempotent=True,
            )

    def list_artifacts(self, run_id: str) -> list[ArtifactRecord]:
        data = self.http.json("GET", f"/runs/{_q(run_id)}/artifacts")
        return [decode_record(ArtifactRecord, a) for a in data]

    # -- purge and blob references -------------------------------------------------------------
    def purge_deleted(self, *, dry_run: bool = False) -> PurgeResult:
        data = self.http.json("POST", "/purge", json_body={"dry_run": dry_run})
        return PurgeResult(
            runs=tuple(data["runs"]),
            experiments=tuple(data["experiments"]),
            kept=tuple(data["kept"]),
        )

    def referenced_blob_digests(self, *, excluding_runs: Collection[str] = ()) -> set[str]:
        data = self.http.json(
            "POST",
            "/blob-references",
            json_body={"excluding_runs": sorted(excluding_runs)},
            idempotent=True,
        )
        return set(data["digests"])

    def registered_package_digests(self) -> set[str]:
        return set(self.http.json("GET", "/package-digests")["digests"])

    def upgrade_schema(self) -> SchemaStatus:
        raise InvalidArgumentError(
            "a labline server upgrades its own store: run `labline db upgrade` where it runs"
        )

    # -- registry ------------------------------------------------------------------------------
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
        check_model_name(name)
        if not Digest.is_canonical(digest):
            raise InvalidArgumentError(
                "digest must be 'sha256:' followed by 64 lowercase hex digits"
            )
        if version is not None:
            check_model_version(version)
        check_actor(created_by, "created_by")
        body = {
            "digest": digest,
            "run_id": run_id,
            "meta": to_jsonable(dict(meta), non_finite="null"),
            "version": version,
        }
        data = self.http.json(
            "POST", f"/models/{_q(name)}/digests", json_body=body, idempotent=True
        )
        return decode_record(ModelVersion, data["version"]), bool(data["created"])

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        if not is_model_version(version):
            raise NotFoundError(f"no model version {name}/{version}")
        return decode_record(
            ModelVersion, self.http.json("GET", f"/models/{_q(name)}/versions/{version}")
        )

    def list_model_versions(self, name: str) -> list[ModelVersion]:
        data = self.http.json("GET", f"/models/{_q(name)}/versions")
        return [decode_record(ModelVersion, v) for v in data]

    def list_registered_models(self) -> list[RegisteredModel]:
        return [decode_record(RegisteredModel, m) for m in self.http.json("GET", "/models")]

    def create_registered_model(
        self,
        name: str,
        *,
        created_by: str,
        description: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> RegisteredModel:
        check_actor(created_by, "created_by")
        body = {"name": name, "description": description, "tags": dict(tags or {})}
        return decode_record(RegisteredModel, self.http.json("POST", "/models", json_body=body))

    def get_registered_model(self, name: str) -> RegisteredModel:
        return decode_record(RegisteredModel, self.http.json("GET", f"/models/{_q(name)}"))

    def update_registered_model(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        delete_tags: Collection[str] = (),
    ) -> RegisteredModel:
        body = {
            "description": description,
            "tags": dict(tags or {}),
            "delete_tags": list(delete_tags),
        }
        data = self.http.json("PATCH", f"/models/{_q(name)}", json_body=body)
        return decode_record(RegisteredModel, data)

    def delete_registered_model(self, name: str) -> None:
        self.http.json("DELETE", f"/models/{_q(name)}")

    def get_alias(self, name: str, alias: str) -> AliasRecord:
        return decode_record(
            AliasRecord, self.http.json("GET", f"/models/{_q(name)}/aliases/{_q(alias)}")
        )

    def list_aliases(self, name: str) -> list[AliasRecord]:
        data = self.http.json("GET", f"/models/{_q(name)}/aliases")
        return [decode_record(AliasRecord, a) for a in data]

    def set_alias(
        self, name: str, alias: str, version: int, *, actor: str, reason: str, parity: str
    ) -> AliasEvent:
        check_alias_name(alias)
        check_actor(actor)
        if not is_model_version(version):
            raise NotFoundError(f"no model version {name}/{version}")
        data = self.http.json(
            "POST",
            f"/models/{_q(name)}/aliases/{_q(alias)}/moves",
            json_body={"version": version, "reason": reason, "parity": parity},
        )
        return decode_record(AliasEvent, data)

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasEvent]:
        data = self.http.json(
            "GET",
            f"/models/{_q(name)}/history",
            params={} if alias is None else {"alias": alias},
        )
        return [decode_record(AliasEvent, e) for e in data]

    # -- hypotheses ----------------------------------------------------------------------------
    def add_hypothesis(
        self,
        *,
        statement: str,
        baseline: str,
        candidate: str,
        metric: str,
        dataset: str | None,
        min_effect: float,
        alpha: float,
        seeds: int,
        supersedes: int | None = None,
        created_by: str = "",
    ) -> Hypothesis:
        _claimed(created_by)
        fields = check_hypothesis_fields(
            statement=statement,
            baseline=baseline,
            candidate=candidate,
            metric=metric,
            dataset=dataset,
            min_effect=min_effect,
            alpha=alpha,
            seeds=seeds,
            supersedes=supersedes,
        )
        if fields["supersedes"] is not None and row_id(fields["supersedes"]) is None:
            raise NotFoundError(f"hypothesis {supersedes} does not exist (supersedes)")
        body = to_jsonable(fields)
        return decode_record(
            Hypothesis, self.http.json("POST", "/hypotheses/records", json_body=body)
        )

    def get_hypothesis(self, hypothesis_id: int) -> Hypothesis:
        hid = row_id(hypothesis_id)
        if hid is None:
            raise NotFoundError(f"hypothesis {hypothesis_id!r} does not exist")
        return decode_record(Hypothesis, self.http.json("GET", f"/hypotheses/{hid}"))

    def list_hypotheses(self) -> list[Hypothesis]:
        return [decode_record(Hypothesis, h) for h in self.http.json("GET", "/hypotheses")]

    def record_hypothesis_result(
        self, hypothesis_id: int, status: HypothesisStatus, result: Mapping[str, Any]
    ) -> Hypothesis:
        hid = row_id(hypothesis_id)
        if hid is None:
            raise NotFoundError(f"hypothesis {hypothesis_id!r} does not exist")
        try:
            wanted = HypothesisStatus(status)
        except ValueError:
            raise InvalidArgumentError("status must be an evaluated status") from None
        data = self.http.json(
            "POST",
            f"/hypotheses/{hid}/result",
            json_body={"status": wanted.value, "result": to_jsonable(result)},
        )
        return decode_record(Hypothesis, data)

    # -- tokens --------------------------------------------------------------------------------
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
        check_actor(created_by, "created_by")
        body = {
            "name": name,
            "role": Role(role).value,
            "secret_hash": secret_hash,
            "prefix": prefix,
            "expires_at": None if expires_at is None else expires_at.isoformat(),
        }
        data = self.http.json("POST", "/tokens/records", json_body=body)
        return decode_record(TokenRecord, data)

    def find_token(self, secret_hash: str) -> tuple[TokenRecord, str]:
        _elsewhere(
            "looking a token up by its hash (the server authenticates each request's "
            "LABLINE_TOKEN itself)"
        )

    def list_tokens(self) -> list[TokenRecord]:
        data = self.http.json("GET", "/tokens", params={"include_inactive": "true"})
        return [decode_record(TokenRecord, t) for t in data]

    def revoke_token(self, token_id: int, *, actor: str) -> TokenRecord:
        check_actor(actor)
        return decode_record(TokenRecord, self.http.json("DELETE", f"/tokens/{int(token_id)}"))

    def count_active_tokens(self, now: datetime) -> int:
        data = self.http.json("GET", "/tokens", params={"include_inactive": "true"})
        return sum(decode_record(TokenRecord, t).active_at(now) for t in data)


def _split(chunks: Mapping[str, MetricChunk], limit: int) -> list[dict[str, MetricChunk]]:
    """Chunks in parts of at most ``limit`` points (one part when they fit)."""
    parts: list[dict[str, MetricChunk]] = [{}]
    room = limit
    for key, (steps, timestamps, values) in chunks.items():
        start = 0
        while start < len(values):
            if room == 0:
                parts.append({})
                room = limit
            take = min(room, len(values) - start)
            end = start + take
            parts[-1][key] = (steps[start:end], timestamps[start:end], values[start:end])
            room -= take
            start = end
    return parts
