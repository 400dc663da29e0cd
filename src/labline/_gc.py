"""Garbage collection: purge what was deleted, then the blobs nothing references any more.

Order is what makes a crash harmless. First the metadata rows of deleted runs and experiments
go, in one transaction (all or nothing). Only then are blobs removed, and only those no row
references: a crash between or during the two steps leaves unreferenced blobs (the next ``gc``
removes them), never a row that points at a missing blob. The references are read again right
before removing, and blobs younger than ``grace`` seconds are kept, so a live run that has just
written a blob and is about to record it is never robbed of it.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import TYPE_CHECKING

from ._exceptions import DigestMismatchError, IntegrityError, NotFoundError
from .core._types import GcReport
from .models._manifest import Manifest

if TYPE_CHECKING:
    from ._client import Client

DEFAULT_GRACE = 3600.0
"""Seconds a new blob is kept even when nothing references it yet (a run may be about to)."""


def referenced_blobs(client: Client, *, excluding_runs: Collection[str] = ()) -> set[str]:
    """Hex digests of every blob some metadata row needs: run artifacts and predictions (of
    deleted, unpurged runs too), every registered package's manifest and the files it lists.

    Raises:
        IntegrityError: a registered package's manifest is missing or altered; gc then removes
            nothing, since it cannot tell which files that package needs.
    """
    refs = set(client.store.referenced_blob_digests(excluding_runs=excluding_runs))
    for digest in sorted(client.store.registered_package_digests()):
        refs.add(digest)
        try:
            data = client.blobs.get_verified_bytes(digest, label=f"manifest sha256:{digest}")
        except (NotFoundError, DigestMismatchError) as e:
            raise IntegrityError(
                f"the manifest of registered package sha256:{digest} is missing or altered "
                f"({e}); gc removes no blob until it is restored"
            ) from None
        refs.update(f.sha256 for f in Manifest.from_bytes(data).files)
    return refs


def collect_garbage(
    client: Client, *, dry_run: bool = False, grace: float = DEFAULT_GRACE
) -> GcReport:
    """See :meth:`labline.Client.gc`."""
    server = client.store.server_side
    if server is not None:  # a labline server's blobs are listed and removed on the server
        return server.collect_garbage(dry_run=dry_run, grace=grace)
    purge = client.store.purge_deleted(dry_run=dry_run)
    # a dry run purged nothing: count what the purge would no longer reference
    referenced = referenced_blobs(client, excluding_runs=purge.runs if dry_run else ())
    now = time.time()
    candidates: list[tuple[str, int]] = []
    for digest in client.blobs.iter_digests():
        if digest in referenced:
            continue
        try:
            size, mtime = client.blobs.stat(digest)
        except NotFoundError:  # removed meanwhile (another gc)
            continue
        if now - mtime >= grace:
            candidates.append((digest, size))
    removed = freed = 0
    if dry_run:
        removed, freed = len(candidates), sum(size for _, size in candidates)
    elif candidates:
        referenced = referenced_blobs(client)  # again: a run may have recorded one since
        for digest, size in candidates:
            if digest in referenced:
                continue
            try:
                client.blobs.delete(digest)
            except NotFoundError:
                continue
            removed += 1
            freed += size
    return GcReport(
        runs_purged=purge.runs,
        experiments_purged=purge.experiments,
        runs_kept=purge.kept,
        blobs_removed=removed,
        bytes_freed=freed,
        dry_run=dry_run,
    )
