"""Record-level writes, as methods :class:`~labline.Client` inherits: what a remote writer (the
HTTP store of ``LABLINE_URI=http://...``) asks ``labline server`` to record for it.

A training process on another machine runs labline's own tracking code; only its store calls
travel. These methods are those calls, checked and recorded as the client's actor (on the
server: the token's name, never an actor the caller claims). Records that name a blob (a
predictions file, an artifact, a model package) are accepted only once the blob is stored, so a
record never points at nothing.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from ._exceptions import DigestMismatchError, InvalidArgumentError, NotFoundError
from .core._calibration import Calibration, CalibrationDraft
from .core._grammar import Digest
from .core._hashing import sha256_file
from .core._metric_wire import (
    METRIC_BATCH_MEDIA_TYPE,
    decode_metric_batch,
    encode_metric_batch,
)
from .core._types import (
    AliasEvent,
    ArtifactRecord,
    Experiment,
    Hypothesis,
    HypothesisStatus,
    ModelVersion,
    PredictionsRecord,
    PurgeResult,
    Role,
    Run,
    TokenRecord,
)
from .core._validation import check_metric_batch, param_value
from .store import BlobStore, MetadataStore
from .store._base import MetricBatchId, MetricChunk

__all__ = ["RecordWriteMethods"]


class RecordWriteMethods:
    """Record-level writes of :class:`~labline.Client` (see the module docstring)."""

    store: MetadataStore
    blobs: BlobStore
    actor: str

    def _require_blob(self, digest: str, what: str) -> None:
        if not self.blobs.exists(Digest.parse(digest).hex):
            raise NotFoundError(f"no blob {Digest.parse(digest)} for {what}; upload it first")

    def get_or_create_experiment(self, name: str) -> Experiment:
        """The experiment called ``name``, created if needed (safe under concurrency).

        Raises:
            InvalidArgumentError: an empty or too long name.
        """
        return self.store.get_or_create_experiment(name)

    def open_run(
        self,
        experiment_id: int,
        name: str = "",
        *,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        env: Mapping[str, Any] | None = None,
        host: str = "",
        pid: int = 0,
        parent_id: str | None = None,
        run_id: str | None = None,
        created_at: datetime | None = None,
    ) -> Run:
        """Create a running run for a writer process on ``host``/``pid`` (its liveness is
        judged by its heartbeats), recorded as started by this client's actor; an import keeps
        its source's ``run_id`` and ``created_at``.

        Raises:
            NotFoundError: an unknown experiment or parent.
            AlreadyExistsError: ``run_id`` is taken.
            InvalidArgumentError: a bad name, key or value.
        """
        return self.store.create_run(
            experiment_id,
            name,
            params={k: param_value(k, v) for k, v in (params or {}).items()},
            tags={k: str(v) for k, v in (tags or {}).items()},
            env=env or {},
            host=host,
            pid=pid,
            parent_id=parent_id,
            created_by=self.actor,
            run_id=run_id,
            created_at=created_at,
        )

    def reopen_run(self, run_id: str, *, host: str = "", pid: int = 0) -> Run:
        """Move an ended or stale run back to running for the writer on ``host``/``pid``.

        Raises:
            NotFoundError: no such run.
            InvalidArgumentError: it is running in a live process.
        """
        return self.store.resume_run(run_id, host=host, pid=pid)

    def heartbeat(self, run_id: str) -> None:
        """Record that the run's writer is alive. Raises NotFoundError."""
        self.store.heartbeat(run_id)

    def append_metric_batch(
        self, run_id: str, chunks: Mapping[str, MetricChunk], batch: MetricBatchId
    ) -> int:
        """Append a writer's batch of points (stored once, however often it is sent).

        Returns:
            How many points the batch holds.

        Raises:
            NotFoundError: no such run.
            InvalidArgumentError: a bad key, lengths that differ, or a bad batch id.
        """
        self.store.append_metrics(run_id, chunks, batch=check_metric_batch(batch))
        return sum(len(c[2]) for c in chunks.values())

    def ingest_metric_batch(
        self, run_id: str, payload: bytes, batch: MetricBatchId, *, media_type: str
    ) -> int:
        """Append a batch of points received in the wire format of
        :mod:`labline.core._metric_wire` (what ``labline server`` does with a remote writer's
        request body), stored once per ``batch`` id.

        Returns:
            How many points the batch holds.

        Raises:
            InvalidArgumentError: a media type other than the format's own or
                ``application/octet-stream`` (names ``content-type``), bytes that are
                not such a batch, a bad key or batch id.
            NotFoundError: no such run.
        """
        if media_type not in (METRIC_BATCH_MEDIA_TYPE, "application/octet-stream"):
            error = InvalidArgumentError(f"content-type must be {METRIC_BATCH_MEDIA_TYPE}")
            error.field = "content-type"  # type: ignore[attr-defined]
            raise error
        return self.append_metric_batch(run_id, decode_metric_batch(payload), batch)

    def metric_series_payload(self, run_id: str, key: str) -> tuple[bytes, str]:
        """Every point of one series in the wire format of :mod:`labline.core._metric_wire`
        (what a remote reader asks a server for: columnar and compressed, not JSON).

        Returns:
            ``(payload, media type)``.

        Raises:
            NotFoundError: no such run or metric.
        """
        series = self.store.get_metric_series(run_id, key)
        chunk = (series.steps, series.timestamps, series.values)
        return encode_metric_batch({key: chunk}), METRIC_BATCH_MEDIA_TYPE

    def add_predictions_record(self, record: PredictionsRecord) -> None:
        """Index a predictions file already stored as a blob.

        Raises:
            NotFoundError: no such run, or the blob is not stored.
            InvalidArgumentError: a bad record.
        """
        self._require_blob(record.blob_digest, f"the predictions of {record.dataset!r}")
        self.store.add_predictions(record)

    def add_artifact_records(self, records: Sequence[ArtifactRecord]) -> None:
        """Record files a run logged whose blobs are already stored.

        Raises:
            NotFoundError: no such run, or a blob is not stored.
            ImmutableError: a path already holds other content.
        """
        for rec in records:
            self._require_blob(rec.digest, f"artifact {rec.path!r}")
        self.store.add_artifacts(records)

    def register_digest(
        self,
        name: str,
        digest: str,
        *,
        run_id: str | None,
        meta: Mapping[str, Any],
        version: int | None = None,
    ) -> tuple[ModelVersion, bool]:
        """Register a package whose manifest blob is stored, as this client's actor.

        Returns:
            ``(version, created)`` as :meth:`~labline.store.MetadataStore.register_model_version`.

        Raises:
            NotFoundError: the manifest blob is not stored.
            ImmutableError: ``version`` is taken by other content.
        """
        self._require_blob(digest, f"model {name!r}")
        return self.store.register_model_version(
            name, digest, run_id=run_id, created_by=self.actor, meta=meta, version=version
        )

    def record_alias_move(
        self, name: str, alias: str, version: int, *, reason: str, parity: str
    ) -> AliasEvent:
        """Point ``name@alias`` at ``version`` with the parity outcome the caller reports,
        as this client's actor (no gate runs here: :meth:`promote` runs it).

        Raises:
            NotFoundError: the version does not exist.
            InvalidArgumentError: a malformed alias.
        """
        return self.store.set_alias(
            name, alias, version, actor=self.actor, reason=reason, parity=parity
        )

    def add_hypothesis_record(
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
    ) -> Hypothesis:
        """Store a hypothesis as given (the caller resolved its metric), registered by this
        client's actor.

        Raises:
            InvalidArgumentError: an empty field, alpha outside (0, 1), min_effect < 0 or
                seeds < 1.
            NotFoundError: ``supersedes`` names no hypothesis.
        """
        return self.store.add_hypothesis(
            statement=statement,
            baseline=baseline,
            candidate=candidate,
            metric=metric,
            dataset=dataset,
            min_effect=min_effect,
            alpha=alpha,
            seeds=seeds,
            supersedes=supersedes,
            created_by=self.actor,
        )

    def record_hypothesis_result(
        self, hypothesis_id: int, status: HypothesisStatus | str, result: Mapping[str, Any]
    ) -> Hypothesis:
        """Store a hypothesis's evaluation, once.

        Raises:
            NotFoundError: no such hypothesis.
            InvalidArgumentError: an unknown status, or ``waiting for runs``.
            ImmutableError: it was evaluated before.
        """
        try:
            wanted = HypothesisStatus(status)
        except ValueError:
            raise InvalidArgumentError(f"unknown hypothesis status {status!r}") from None
        return self.store.record_hypothesis_result(hypothesis_id, wanted, result)

    def add_calibration_record(self, draft: CalibrationDraft) -> Calibration:
        """Store a calibration computed elsewhere for an existing version.

        Raises:
            NotFoundError: the version does not exist.
            InvalidArgumentError: a field is not acceptable.
        """
        return self.store.add_calibration(draft)

    def add_token_record(
        self,
        *,
        name: str,
        role: Role | str,
        secret_hash: str,
        prefix: str,
        expires_at: datetime | None,
    ) -> TokenRecord:
        """Store a token whose secret the caller generated and kept (what
        ``labline server token create`` on ``LABLINE_URI=http://...`` asks of an admin
        endpoint): only its SHA-256 and first characters arrive, created by this client's actor.

        Raises:
            InvalidArgumentError: a bad name, role, hash, prefix or expiry.
            AlreadyExistsError: a token with this hash exists.
        """
        try:
            chosen = Role(role)
        except ValueError:
            raise InvalidArgumentError(f"role must be one of {[r.value for r in Role]}") from None
        return self.store.add_token(
            name=name,
            role=chosen,
            secret_hash=secret_hash,
            prefix=prefix,
            expires_at=expires_at,
            created_by=self.actor,
        )

    def purge_deleted(self, *, dry_run: bool = False) -> PurgeResult:
        """Erase deleted runs and experiments (the metadata half of :meth:`gc`)."""
        return self.store.purge_deleted(dry_run=dry_run)

    def referenced_blob_digests(self, *, excluding_runs: Sequence[str] = ()) -> set[str]:
        """Digests of every blob a metadata row references (see ``gc``)."""
        return self.store.referenced_blob_digests(excluding_runs=excluding_runs)

    def registered_package_digests(self) -> set[str]:
        """Digests of every registered package."""
        return self.store.registered_package_digests()

    # -- blobs (content-addressed) ----------------------------------------------------------------
    def has_blob(self, digest: str) -> bool:
        """Whether the blob ``digest`` is stored. Raises InvalidArgumentError for a bad digest."""
        return self.blobs.exists(Digest.parse(digest).hex)

    def blob_size(self, digest: str) -> int:
        """The size in bytes of a stored blob. Raises NotFoundError."""
        return self.blobs.stat(Digest.parse(digest).hex)[0]

    def store_blob_file(self, path: str | os.PathLike[str], digest: str) -> str:
        """Store the local file ``path`` as the blob ``digest``, refusing content whose
        SHA-256 differs (what an upload checks on arrival).

        Returns:
            The hex digest.

        Raises:
            InvalidArgumentError: the content hashes to another digest (names ``digest``).
        """
        expected = Digest.parse(digest).hex
        actual = sha256_file(path)
        if actual != expected:
            error = InvalidArgumentError(
                f"digest: the uploaded content hashes to sha256:{actual}, not sha256:{expected}"
            )
            error.field = "digest"  # type: ignore[attr-defined]
            raise error
        return self.blobs.put_file(path)

    def blob_chunks(self, digest: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The bytes of a stored blob, chunk by chunk, hashed as they are read: a blob whose
        content changed ends with :class:`~labline.DigestMismatchError` before its last chunk.

        Raises:
            NotFoundError: no such blob (raised before the first chunk).
        """
        expected = Digest.parse(digest).hex
        f = self.blobs.open(expected)

        def chunks() -> Iterator[bytes]:
            h = hashlib.sha256()
            with f:
                pending = f.read(chunk_size)
                while pending:
                    h.update(pending)
                    nxt = f.read(chunk_size)
                    if not nxt and h.hexdigest() != expected:
                        raise DigestMismatchError(
                            f"blob sha256:{expected}",
                            expected,
                            h.hexdigest(),
                            location=self.blobs.location(expected),
                        )
                    yield pending
                    pending = nxt

        return chunks()

    def find_predictions(
        self, run_id: str | None = None, *, dataset_fingerprint: str | None = None
    ) -> list[PredictionsRecord]:
        """Predictions records of a run and/or of a data set fingerprint."""
        return self.store.list_predictions(run_id, dataset_fingerprint=dataset_fingerprint)
