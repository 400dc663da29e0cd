"""``Client``: the root object. Every use case of labline is a method of it.

A client is a handle on one store (metadata in SQLite/PostgreSQL, content-addressed blobs)
acting for one actor (the OS user by default; a server passes the token's user). The
module-level functions ``labline.start_run``, ``labline.compare``, ``labline.load_model``, ...
are thin wrappers over :func:`default_client` (see ``_api.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from . import _calibrate, _compare, _gc, _hypotheses, _metric_views, _monitor, _tokens
from ._environment import current_user
from ._exceptions import (
    DigestMismatchError,
    InvalidArgumentError,
    LocalArtifactsWarning,
    NotFoundError,
)
from ._gc import DEFAULT_GRACE
from ._labelled import LabelledDatasetMethods
from ._mlflow_import import import_mlflow
from ._mlflow_models import MlflowModels
from ._record_writes import RecordWriteMethods
from ._settings import Settings, redact_uri
from ._sweeps import Sweeps
from ._tracking import ActiveRun
from .core._calibration import Calibration
from .core._grammar import (
    Digest,
    RunSelector,
    check_actor,
    check_artifact_path,
    check_key,
    parse_selector,
)
from .core._local_paths import confined_target
from .core._prediction_summary import summarize_predictions
from .core._predictions import decode_predictions, read_table
from .core._run_groups import group_runs
from .core._run_page import RunPage
from .core._run_query import (
    Attribute,
    Comparison,
    Field,
    FieldKind,
    Like,
    Or,
    decode_page_token,
    encode_page_token,
    parse_filter,
    parse_order_by,
)
from .core._types import (
    AliasEvent,
    AliasRecord,
    ArtifactRecord,
    BadBlob,
    BlobVerification,
    DatasetRecord,
    Experiment,
    GcReport,
    Hypothesis,
    HypothesisProgress,
    IssuedToken,
    LoggedModel,
    MetricSeries,
    MlflowImportReport,
    ModelDiff,
    ModelVersion,
    PredictionsRecord,
    PredictionsSummary,
    RegisteredModel,
    ResolvedRef,
    Role,
    Run,
    RunGroup,
    RunStatus,
    SchemaStatus,
    SeedBand,
    SeriesEnvelope,
    TokenRecord,
)
from .core._validation import metric_step, metric_timestamp, metric_value, param_value
from .models._loaded import LoadedModel, load_package
from .models._manifest import is_package_path
from .models._package import read_verified
from .models._parity import DEFAULT_TOLERANCE
from .models._registry import DEFAULT_MODEL_PATH, Registry
from .store import BlobStore, MetadataStore, open_blobs, open_store
from .store._base import MetricChunk

if TYPE_CHECKING:
    from ._compare import ComparisonReport
    from ._monitor import MonitoringReport
    from ._sweep_report import SweepComparison
    from .core._alerts import AlertThresholds
    from .core.stats import Metric
    from .models._manifest import Manifest
    from .models._parity import ParityReport
    from .models._registry import Promotion

__all__ = ["Client", "default_client"]

_RUN_ID = re.compile(r"[0-9a-f]{32}")
_RUN_ID_PREFIX = re.compile(r"[0-9a-f]{4,32}")


def _settings_for(
    uri: str | Settings | None, artifact_uri: str | None, settings: Settings | None
) -> Settings:
    if isinstance(uri, Settings):  # Client(settings): the form existing callers use
        if settings is not None:
            raise InvalidArgumentError("give the settings once (as uri or as settings=)")
        settings, uri = uri, None
    if uri is not None and not isinstance(uri, str):
        raise InvalidArgumentError(f"uri must be a string, got {type(uri).__name__}")
    base = settings or Settings.from_env()
    if uri is None and artifact_uri is None:
        return base
    home = base.home
    if uri is not None and uri.startswith("sqlite:///") and uri != "sqlite:///:memory:":
        # an embedded store keeps its package cache (and by default its blobs) beside the file
        home = Path(uri.removeprefix("sqlite:///")).absolute().parent
        if artifact_uri is None:
            artifact_uri = str(home / "blobs")
    return Settings(
        home=home,
        uri=base.uri if uri is None else uri,
        artifact_uri=base.artifact_uri if artifact_uri is None else artifact_uri,
        token=base.token,
        max_buffered_points=base.max_buffered_points,
    )


class Client(LabelledDatasetMethods, RecordWriteMethods):
    """A handle on one labline store, acting for one actor. Every use case is a method.

    Args:
        uri: metadata store URL (``sqlite:///path/labline.db`` or ``postgresql+psycopg://...``);
            ``LABLINE_URI`` (or ``./.labline``) when omitted. A :class:`Settings` is accepted
            here too.
        artifact_uri: blob root (a folder or an fsspec URL); beside an SQLite file by default.
        actor: who the writes are recorded as (default: the OS user).
        settings: explicit settings instead of ``uri``/``artifact_uri``.
        store: an already open metadata store (tests, servers).
        blobs: an already open blob store.

    Raises:
        InvalidArgumentError: an unsupported URI.
        SchemaVersionError: the database was written by a newer labline.
        StorageError: the store cannot be reached.

    Example:
        >>> import tempfile, labline
        >>> client = labline.Client(labline.Settings.local(tempfile.mkdtemp()))
        >>> with client.start_run("demo", params={"lr": 0.1}, capture_env=False) as run:
        ...     run.log_metric("loss", 0.5)
        >>> [r.params["lr"] for r in client.search_runs("demo")]
        ['0.1']
        >>> client.close()
    """

    def __init__(
        self,
        uri: str | Settings | None = None,
        artifact_uri: str | None = None,
        actor: str | None = None,
        *,
        settings: Settings | None = None,
        store: MetadataStore | None = None,
        blobs: BlobStore | None = None,
    ) -> None:
        self.settings = _settings_for(uri, artifact_uri, settings)
        self.actor = (
            check_actor(actor.strip() if isinstance(actor, str) else actor)
            if actor is not None
            else current_user()
        )
        self.store = store or open_store(self.settings)
        self.blobs = blobs or open_blobs(self.settings, self.store)
        self._registry: Registry | None = None
        self._sweeps: Sweeps | None = None
        self._mlflow_models: MlflowModels | None = None

    def as_actor(self, actor: str) -> Client:
        """A client on the same store and blobs (sharing their connections) whose writes are
        recorded as ``actor``: what a server makes for each request from the token's user.

        Raises:
            InvalidArgumentError: an empty actor.
        """
        return Client(settings=self.settings, actor=actor, store=self.store, blobs=self.blobs)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Client uri={self.settings.uri!r} actor={self.actor!r}>"

    def close(self) -> None:
        """Release the store's connections."""
        self.store.close()

    def upgrade_schema(self) -> SchemaStatus:
        """Apply every pending migration of the metadata store (``labline db upgrade``).

        Returns:
            The revision the store was at when this client opened it, and the one it is at now.

        Raises:
            SchemaVersionError: the database was written by a newer labline.
            StorageError: the store failed.
        """
        return self.store.upgrade_schema()

    # -- experiments ---------------------------------------------------------------------------
    def create_experiment(self, name: str, *, tags: Mapping[str, Any] | None = None) -> Experiment:
        """Create an experiment, with ``tags`` (values are stored as text).

        Raises:
            AlreadyExistsError: the name is taken.
            InvalidArgumentError: the name is empty or too long, or a tag key is malformed.
        """
        return self.store.create_experiment(name, tags={k: str(v) for k, v in (tags or {}).items()})

    def get_experiment(self, name_or_id: str | int) -> Experiment:
        """One experiment by name or id. Raises NotFoundError."""
        return self.store.get_experiment(name_or_id)

    def list_experiments(self, *, include_deleted: bool = False) -> list[Experiment]:
        """Every experiment, oldest first (deleted ones only with ``include_deleted``)."""
        return self.store.list_experiments(include_deleted=include_deleted)

    def rename_experiment(self, name_or_id: str | int, name: str) -> Experiment:
        """Give an experiment a new name and return it (selectors use the new name).

        Raises:
            NotFoundError: no such experiment.
            AlreadyExistsError: the name is taken.
            InvalidArgumentError: an empty or too long name.
        """
        exp = self.store.get_experiment(name_or_id)
        self.store.rename_experiment(exp.id, name)
        return self.store.get_experiment(exp.id)

    def delete_experiment(self, name_or_id: str | int) -> Experiment:
        """Delete an experiment: it and its runs are hidden from lists, searches and compare
        selectors, nothing is erased until ``gc``, and :meth:`restore_experiment` brings it
        back. Records this client's actor.

        Raises:
            NotFoundError: no such experiment.
        """
        exp = self.store.get_experiment(name_or_id)
        self.store.delete_experiment(exp.id, actor=self.actor)
        return self.store.get_experiment(exp.id)

    def restore_experiment(self, name_or_id: str | int) -> Experiment:
        """Undo :meth:`delete_experiment` and return the experiment.

        Raises:
            NotFoundError: no such experiment.
        """
        exp = self.store.get_experiment(name_or_id)
        self.store.restore_experiment(exp.id)
        return self.store.get_experiment(exp.id)

    def set_experiment_tags(self, name_or_id: str | int, tags: Mapping[str, Any]) -> Experiment:
        """Set or overwrite tags of an experiment (values are stored as text; the last write
        wins) and return it.

        Raises:
            NotFoundError: no such experiment.
            InvalidArgumentError: a malformed key.
        """
        exp = self.store.get_experiment(name_or_id)
        self.store.set_experiment_tags(exp.id, {k: str(v) for k, v in tags.items()})
        return self.store.get_experiment(exp.id)

    def delete_experiment_tag(self, name_or_id: str | int, key: str) -> Experiment:
        """Remove a tag of an experiment and return the experiment.

        Raises:
            NotFoundError: no such experiment, or it has no tag ``key``.
        """
        exp = self.store.get_experiment(name_or_id)
        self.store.delete_experiment_tag(exp.id, key)
        return self.store.get_experiment(exp.id)

    # -- runs ----------------------------------------------------------------------------------
    def start_run(
        self,
        experiment: str | None = None,
        name: str | None = None,
        *,
        run_id: str | None = None,
        parent: str | Run | ActiveRun | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        capture_env: bool = True,
        flush_interval: float = 1.0,
    ) -> ActiveRun:
        """Start a run (or resume one) and return it; use it as a context manager or call
        ``end()``.

        Args:
            experiment: experiment name (created if new; ``"default"`` when omitted).
            name: run name (default: ``run-<first 8 characters of the run id>``).
            run_id: resume this run instead of starting one: it is running again, each metric
                continues after its last logged step, and its params stay write-once (the same
                value again is fine, another value raises :class:`ParamConflictError`).
                ``experiment`` and ``name``, if given, must be the run's.
            parent: start a child of this run (a run or a reference :meth:`find_run` takes),
                in the parent's experiment; ``labline runs list`` shows children under their
                parent (sweeps are parents of their trials).
            params: write-once params to record now.
            tags: tags to set now.
            capture_env: record git commit and dirtiness, Python, packages, command line, host
                (a resumed run keeps the environment it was started in).
            flush_interval: seconds between background metric writes.

        Returns:
            The :class:`ActiveRun`.

        Raises:
            InvalidArgumentError: a name, key or value is invalid, or ``run_id`` is still
                running in a live process.
            NotFoundError: ``run_id`` or ``parent`` names no run.
            ParamConflictError: resuming with another value for a param already written.
            StorageError: the store cannot be reached.
        """
        if self.settings.shares_metadata_only:
            warnings.warn(
                f"runs go to the shared store {redact_uri(self.settings.uri)} but their models, "
                f"predictions and artifacts to the local folder {self.settings.artifact_uri}: "
                "teammates will see these runs but cannot compare or load them. Set "
                "LABLINE_ARTIFACT_URI to storage everyone reaches (s3://bucket/prefix, any "
                "fsspec URL), or use a team server: LABLINE_URI=http://host:port with "
                "LABLINE_TOKEN",
                LocalArtifactsWarning,
                stacklevel=2,
            )
        return ActiveRun.start(
            self,
            experiment,
            name,
            run_id=None if run_id is None else self.find_run(run_id).id,
            parent=None if parent is None else self.get_run(self._run_id(parent)),
            params=params,
            tags=tags,
            capture_env=capture_env,
            flush_interval=flush_interval,
        )

    def get_run(self, run_id: str) -> Run:
        """One run (deleted or not). Raises NotFoundError."""
        return self.store.get_run(run_id)

    def find_run(
        self,
        run_ref: str,
        experiment: str | int | None = None,
        *,
        include_deleted: bool = False,
    ) -> Run:
        """The run a reference names: its full id, a unique prefix of at least 4 characters
        of its id, or its name where that is unique (in ``experiment`` when given, else in
        the whole store). The one resolver behind every command that takes a run.

        Args:
            run_ref: id, id prefix or run name.
            experiment: look names (and prefixes) up in this experiment only.
            include_deleted: look among deleted runs too (a full id always finds its run).

        Raises:
            NotFoundError: nothing has that id, prefix or name.
            InvalidArgumentError: the reference matches several runs; the message lists them.
        """
        if not isinstance(run_ref, str) or not run_ref.strip():
            raise InvalidArgumentError("a run reference must be a non-empty string")
        ref = run_ref.strip()
        if _RUN_ID.fullmatch(ref):
            try:
                run = self.store.get_run(ref)
            except NotFoundError:
                pass
            else:
                if experiment is None or self.get_experiment(experiment).id == run.experiment_id:
                    return run
        name = Comparison(Field(FieldKind.ATTRIBUTE, Attribute.NAME.value), "=", ref)
        by_prefix = Like(Field(FieldKind.ATTRIBUTE, Attribute.ID.value), ref + "%")
        expr = Or((by_prefix, name)) if _RUN_ID_PREFIX.fullmatch(ref) else name
        matches = self.store.search_runs(
            experiment=experiment, filter=expr, limit=11, include_deleted=include_deleted
        )
        if len(matches) == 1:
            return matches[0]
        where = "" if experiment is None else f" in experiment {experiment!r}"
        if not matches:
            raise NotFoundError(f"no run {ref!r}{where}")
        shown = "; ".join(f"{r.id[:12]} ({r.experiment}/{r.name})" for r in matches[:10])
        more = ", and more" if len(matches) > 10 else ""
        raise InvalidArgumentError(
            f"run reference {ref!r} is ambiguous{where}: it matches {shown}{more}; "
            "give more characters of the id (or the experiment of the name)"
        )

    def search_runs(
        self,
        experiment: str | int | None = None,
        *,
        filter: str | None = None,
        order_by: Sequence[str] | str | None = None,
        limit: int | None = None,
        page_token: str | None = None,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        run_ids: Sequence[str] | None = None,
        status: RunStatus | str | None = None,
        include_deleted: bool = False,
    ) -> RunPage:
        """Runs matching a filter, in the order asked, one page at a time; evaluated by the
        database (SQL on SQLite and PostgreSQL), never by looping in Python.

        Args:
            experiment: only runs of this experiment (name or id); all when omitted.
            filter: e.g. ``"params.lr > 0.01 and metrics.accuracy >= 0.9 and
                tags.stage = 'final' and status = 'finished'"``; the language (and, or, not,
                ``= != < <= > >=``, like, ilike, in, is [not] null, ``metrics.loss.min``)
                is described in :mod:`labline.core._run_query`.
            order_by: e.g. ``["metrics.accuracy DESC", "params.lr"]``; runs lacking a sort
                key come last; ties newest first. Default: newest first.
            limit: at most this many runs on the page; all when omitted.
            page_token: ``next_page_token`` of the previous page of the same search.
            params, tags: exact text matches (``{"model": "logreg"}``).
            run_ids: only these runs (full ids).
            status: only runs in this status (``stale`` included).
            include_deleted: also deleted runs and runs of deleted experiments (hidden
                otherwise).

        Returns:
            A :class:`RunPage`: a list-like of runs with ``next_page_token`` (None on the last
            page) and ``to_pandas()``.

        Args:
            experiment: experiment name or id.
            params: ``{key: value}`` params every run must have.
            tags: ``{key: value}`` tags every run must have.
            run_ids: only these runs.
            status: only runs in this state.
            limit: at most this many runs.
            include_deleted: also return deleted runs.

        Raises:
            InvalidArgumentError: a malformed filter (the message gives the column), sort key,
                limit or page token.
            NotFoundError: an unknown experiment.

        Example:
            >>> import tempfile, labline
            >>> client = labline.Client(labline.Settings.local(tempfile.mkdtemp()))
            >>> for lr in (0.001, 0.1):
            ...     with client.start_run("demo", params={"lr": lr}, capture_env=False) as run:
            ...         run.log_metric("accuracy", 0.9 + lr)
            >>> page = client.search_runs("demo", filter="params.lr > 0.01",
            ...                           order_by=["metrics.accuracy DESC"])
            >>> [r.params["lr"] for r in page], page.next_page_token
            (['0.1'], None)
            >>> client.close()
        """
        expr = parse_filter(filter) if filter is not None else None
        keys = parse_order_by(order_by) if order_by is not None else ()
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            raise InvalidArgumentError(f"limit must be a positive integer, got {limit!r}")
        if status is not None:
            try:
                status = RunStatus(status)
            except ValueError:
                known = ", ".join(s.value for s in RunStatus)
                raise InvalidArgumentError(
                    f"status must be one of {known}, got {status!r}"
                ) from None
        identity = json.dumps(
            [
                experiment,
                filter,
                [str(k.field) + (" desc" if k.descending else "") for k in keys],
                sorted((params or {}).items()),
                sorted((tags or {}).items()),
                None if run_ids is None else sorted(run_ids),
                None if status is None else status.value,
                include_deleted,
            ],
            default=str,
        )
        offset = 0 if page_token is None else decode_page_token(page_token, identity)
        runs = self.store.search_runs(
            experiment=experiment,
            params=params,
            tags=tags,
            run_ids=run_ids,
            status=status,
            filter=expr,
            order_by=keys,
            offset=offset,
            limit=None if limit is None else limit + 1,  # one more tells if a page follows
            include_deleted=include_deleted,
        )
        if limit is not None and len(runs) > limit:
            return RunPage(tuple(runs[:limit]), encode_page_token(identity, offset + limit))
        return RunPage(tuple(runs))

    def group_runs(
        self,
        experiment: str | int | None = None,
        *,
        by: str,
        metrics: Sequence[str] = (),
        filter: str | None = None,
        confidence: float = 0.95,
        limit: int = 10_000,
    ) -> list[RunGroup]:
        """Runs matching a search grouped by one param (e.g. the seeds of each configuration),
        with each metric's mean over the group and its confidence interval.

        Args:
            experiment: only runs of this experiment; all when omitted.
            by: the param key to group by.
            metrics: metric keys to summarise (each run's last value).
            filter: the :meth:`search_runs` filter.
            confidence: level of the intervals (Student t over runs).
            limit: at most this many runs are grouped (newest first).

        Returns:
            One :class:`RunGroup` per value of ``by`` (runs lacking it: value ``None``, last).

        Raises:
            InvalidArgumentError: a bad filter, key, level or limit.
            NotFoundError: an unknown experiment.
        """
        check_key("param", by)
        for key in metrics:
            check_key("metric", key)
        runs = self.search_runs(experiment, filter=filter, limit=limit)
        return group_runs(list(runs), by, list(metrics), confidence)

    def child_runs(self, run: str | Run | ActiveRun) -> list[Run]:
        """The runs started with ``parent=run``, oldest first.

        Raises:
            NotFoundError: no such run.
        """
        return self.store.child_runs(self._run_id(run))

    def gc(self, *, dry_run: bool = False, grace: float = DEFAULT_GRACE) -> GcReport:
        """Purge what was deleted, then remove the blobs nothing references any more.

        Deleted runs (and the runs of deleted experiments) are erased with everything they
        logged, in one transaction; a deleted run that a registered model version links to
        is kept. Then every blob that no run, prediction set or registered package references
        is removed. Blobs a model version, a data set's predictions or a live run reference
        are never removed, and neither is any blob younger than ``grace`` seconds (a run may be
        about to record it). A crash at any point leaves at worst unreferenced blobs for the
        next ``gc``.

        Args:
            dry_run: only report what would be purged and removed.
            grace: seconds a new, not yet referenced blob is kept.

        Returns:
            What was purged and removed (or would be).

        Raises:
            IntegrityError: a registered package's manifest is missing or altered (nothing
                is removed from the blob store then).
            StorageError: the store failed.
        """
        if not isinstance(grace, (int, float)) or isinstance(grace, bool) or not grace >= 0:
            raise InvalidArgumentError("grace must be a number of seconds >= 0")
        return _gc.collect_garbage(self, dry_run=dry_run, grace=float(grace))

    def select_runs(self, selector: str | RunSelector) -> list[Run]:
        """The finished runs a selector picks (``digits:model=logreg``, ``runs:ID,ID``, or a
        parsed :class:`RunSelector`), oldest first; deleted runs only when named by id.

        Raises:
            InvalidArgumentError: a malformed selector.
            NotFoundError: an explicit run id or the experiment does not exist.
        """
        parsed = selector if isinstance(selector, RunSelector) else parse_selector(selector)
        return _compare.select_runs(self, parsed)

    def rename_run(self, run_id: str, name: str) -> Run:
        """Give a run a new name and return it.

        Raises:
            NotFoundError: no such run.
            InvalidArgumentError: an empty or too long name.
        """
        self.store.rename_run(run_id, name)
        return self.store.get_run(run_id)

    def delete_run(self, run_id: str) -> Run:
        """Delete a run: it is hidden from searches (and so from compare selectors) but
        nothing is erased, and :meth:`restore_run` brings it back. Records this client's actor.

        Raises:
            NotFoundError: no such run.
        """
        self.store.delete_run(run_id, actor=self.actor)
        return self.store.get_run(run_id)

    def restore_run(self, run_id: str) -> Run:
        """Undo :meth:`delete_run` and return the run.

        Raises:
            NotFoundError: no such run.
        """
        self.store.restore_run(run_id)
        return self.store.get_run(run_id)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Set a tag on any run, running or finished (tags, unlike params, may change).

        Raises:
            NotFoundError: no such run.
            InvalidArgumentError: a bad key.
        """
        self.store.set_tags(run_id, {key: str(value)})

    # -- runs logged call by call (the MLflow API, imports) -------------------------------------
    def create_run(
        self,
        experiment: str | int | None = None,
        name: str | None = None,
        *,
        parent: str | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> Run:
        """Create a running run that is logged call by call (no live process of this client
        writes it, no heartbeat thread): what a remote API such as MLflow's does. End it with
        :meth:`end_run`; while nothing is logged for ``stale_after`` seconds it shows as stale.

        Args:
            experiment: experiment name (created if new; ``"default"`` when omitted) or id.
            name: run name (default: ``run-<first 8 characters of the id>``).
            parent: the parent run's id.
            params: write-once params to record now.
            tags: tags to set now.

        Returns:
            The new run.

        Raises:
            NotFoundError: an unknown experiment id or parent.
            InvalidArgumentError: a bad name, key or value.
        """
        if isinstance(experiment, bool) or not isinstance(experiment, (int, str, type(None))):
            raise InvalidArgumentError("experiment must be a name or an id")
        if isinstance(experiment, int):
            exp = self.store.get_experiment(experiment)
        else:
            exp = self.store.get_or_create_experiment(experiment or "default")
        parent_id = None if parent is None else self.store.get_run(parent).id
        return self.store.create_run(
            exp.id,
            name or "",
            params={k: param_value(k, v) for k, v in (params or {}).items()},
            tags={k: str(v) for k, v in (tags or {}).items()},
            parent_id=parent_id,
            created_by=self.actor,
        )

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Mapping[str, Sequence[tuple[int, float, float]]] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Log params, tags and metric points to a run in one call, all or nothing: every
        key and value is checked first, then the write-once params are written (a conflict
        stores nothing), then the tags (last write wins), then the points are appended.

        Args:
            run_id: the run.
            metrics: ``{key: [(step, timestamp, value), ...]}``, timestamps in seconds since
                the epoch; NaN and ±Inf values are kept.
            params: write-once params (the same value again is accepted).
            tags: tags to set or overwrite.

        Raises:
            NotFoundError: no such run.
            ParamConflictError: a param already holds another value (nothing is stored).
            InvalidArgumentError: a bad key, step, timestamp or value (nothing is stored).
        """
        chunks: dict[str, MetricChunk] = {}
        for key, series in (metrics or {}).items():
            check_key("metric", key)
            chunks[key] = (
                np.asarray([metric_step(key, p[0]) for p in series], dtype=np.int64),
                np.asarray([metric_timestamp(key, p[1]) for p in series], dtype=np.float64),
                np.asarray([metric_value(key, p[2]) for p in series], dtype=np.float64),
            )
        clean_params = {check_key("param", k): param_value(k, v) for k, v in (params or {}).items()}
        clean_tags = {check_key("tag", k): str(v) for k, v in (tags or {}).items()}
        if clean_params:
            self.store.log_params(run_id, clean_params)
        if clean_tags:
            self.store.set_tags(run_id, clean_tags)
        if chunks:
            self.store.append_metrics(run_id, chunks)
        elif not clean_params and not clean_tags:
            self.store.get_run(run_id)  # an empty batch still names an existing run

    def add_dataset_record(self, record: DatasetRecord) -> None:
        """Record that a run saw a data set identified elsewhere (an MLflow data set digest,
        an imported run), without reading its content. Re-recording the same name and
        fingerprint is a no-op.

        Raises:
            NotFoundError: no such run.
            InvalidArgumentError: a bad name, or another fingerprint under the same name.
        """
        self.store.add_dataset(record)

    def end_run(
        self,
        run_id: str,
        status: RunStatus | str,
        error: str | None = None,
        *,
        ended_at: datetime | None = None,
    ) -> Run:
        """Set the outcome of a run logged call by call: ``finished`` or ``failed`` (with
        ``error``), or ``running`` again; ended now or at ``ended_at`` (an import keeps its
        source's end time). Returns the run.

        Raises:
            NotFoundError: no such run.
            InvalidArgumentError: another status.
        """
        try:
            wanted = RunStatus(status)
        except ValueError:
            raise InvalidArgumentError(f"unknown run status {status!r}") from None
        self.store.set_run_status(run_id, wanted, error, ended_at=ended_at)
        return self.store.get_run(run_id)

    def log_artifact_file(
        self, run_id: str, path: str, file: str | os.PathLike[str]
    ) -> ArtifactRecord:
        """Store the local ``file`` as the run's artifact ``path`` (content-addressed).

        Raises:
            NotFoundError: no such run.
            InvalidArgumentError: a malformed ``path``.
            ImmutableError: the run already has other content at ``path``.
        """
        clean = check_artifact_path(path)
        self.store.get_run(run_id)
        record = ArtifactRecord(
            run_id=run_id,
            path=clean,
            digest=self.blobs.put_file(file),
            size=Path(file).stat().st_size,
        )
        self.store.add_artifacts([record])
        return record

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag from a run.

        Raises:
            NotFoundError: no such run, or it has no tag ``key``.
        """
        self.store.delete_tag(run_id, key)

    def get_metric_series(self, run_id: str, key: str) -> MetricSeries:
        """Every point of one metric series. Raises NotFoundError."""
        return self.store.get_metric_series(run_id, key)

    def metric_envelope(
        self,
        run_id: str,
        key: str,
        *,
        buckets: int = 1000,
        step_min: float | None = None,
        step_max: float | None = None,
    ) -> SeriesEnvelope:
        """One metric series downsampled for a chart: the lowest and highest value per bucket
        of steps, so a spike is never hidden (see :func:`labline.core._downsample.envelope`).

        Args:
            run_id: the run.
            key: the metric.
            buckets: how many step spans (about one per pixel of the chart).
            step_min, step_max: a zoom window; the whole series when omitted.

        Returns:
            A :class:`SeriesEnvelope` (every point, exactly, when the window holds few).

        Raises:
            NotFoundError: no such run or metric.
            InvalidArgumentError: a bad bucket count or window.
        """
        return _metric_views.metric_envelope(
            self, run_id, key, buckets=buckets, step_min=step_min, step_max=step_max
        )

    def seed_band(
        self,
        run_ids: Sequence[str],
        key: str,
        *,
        buckets: int = 500,
        confidence: float = 0.95,
        step_min: float | None = None,
        step_max: float | None = None,
    ) -> SeedBand:
        """The mean of one metric across runs (seeds) with its confidence band, per step bucket.

        Args:
            run_ids: the runs of one configuration.
            key: the metric.
            buckets: how many step spans.
            confidence: level of the band.
            step_min, step_max: a zoom window.

        Returns:
            A :class:`SeedBand`.

        Raises:
            NotFoundError: a run does not exist.
            InvalidArgumentError: no runs, a bad bucket count, window or level.
        """
        return _metric_views.seed_band(
            self,
            run_ids,
            key,
            buckets=buckets,
            confidence=confidence,
            step_min=step_min,
            step_max=step_max,
        )

    # -- datasets, predictions, artifacts ------------------------------------------------------
    def list_datasets(self, run_id: str) -> list[DatasetRecord]:
        """The data sets a run logged, with their fingerprints."""
        return self.store.list_datasets(run_id)

    def list_predictions(self, run_id: str) -> list[PredictionsRecord]:
        """The per-example prediction sets a run logged."""
        return self.store.list_predictions(run_id)

    def get_predictions_record(self, run_id: str, dataset: str) -> PredictionsRecord:
        """The record of one run's predictions on one data set. Raises NotFoundError."""
        for rec in self.store.list_predictions(run_id):
            if rec.dataset == dataset:
                return rec
        raise NotFoundError(f"run {run_id} has no predictions on dataset {dataset!r}")

    def load_predictions(self, run_id: str, dataset: str) -> Any:
        """Per-example predictions as a ``pyarrow.Table`` sorted by ``id``.

        Columns: ``id`` (int64 or string), ``y_true``, ``y_pred`` and, when logged, ``proba``
        (fixed-size list of float64, one entry per class of ``PredictionsRecord.classes``).

        Raises:
            NotFoundError: no such run or no predictions on that data set.
            DigestMismatchError: the stored Parquet file was altered.
        """
        rec = self.get_predictions_record(run_id, dataset)
        return read_table(self.read_predictions_file(rec))

    def predictions_summary(
        self, run_id: str, dataset: str, *, worst: int = 20
    ) -> PredictionsSummary:
        """A run's predictions on one data set at a glance: confusion matrix, per-class
        precision/recall/F1 and the ``worst`` examples (lowest probability of the true class).

        Raises:
            NotFoundError: no such run or no predictions on that data set.
            DigestMismatchError: the stored file was altered.
            InvalidArgumentError: ``worst`` out of range.
        """
        rec = self.get_predictions_record(run_id, dataset)
        arrays = decode_predictions(self.read_predictions_file(rec))
        return summarize_predictions(rec.run_id, rec.dataset, arrays, rec.classes, worst)

    def read_predictions_file(self, record: PredictionsRecord) -> bytes:
        """The verified bytes of the predictions file ``record`` indexes (see
        :mod:`labline.core._predictions` for the format).

        Raises:
            DigestMismatchError: the stored file was altered.
        """
        return self.blobs.get_verified_bytes(
            record.blob_digest, label=f"predictions of run {record.run_id} on {record.dataset}"
        )

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[ArtifactRecord]:
        """The files a run logged, sorted by path; with ``path``, only that file or the files
        under that folder.

        Raises:
            NotFoundError: no such run, or nothing logged at ``path``.
            InvalidArgumentError: a malformed ``path``.
        """
        records = self.store.list_artifacts(run_id)
        if path is None:
            return records
        clean = check_artifact_path(path)
        chosen = [a for a in records if a.path == clean or a.path.startswith(clean + "/")]
        if not chosen:
            raise NotFoundError(f"run {run_id} has no artifact {clean!r}")
        return chosen

    def download_artifact(self, run_id: str, path: str, dest: str | os.PathLike[str]) -> Path:
        """Copy the file a run logged at ``path`` to the file ``dest`` (checked against its
        digest) and return ``dest``.

        Raises:
            NotFoundError: the run has no such artifact.
            DigestMismatchError: the stored file was altered (nothing is written).
        """
        rec = next((a for a in self.store.list_artifacts(run_id) if a.path == path), None)
        if rec is None:
            raise NotFoundError(f"run {run_id} has no artifact {path!r}")
        return self.blobs.download_verified(
            rec.digest, dest, label=f"artifact {rec.path} of run {run_id}"
        )

    def open_artifact(
        self, run_id: str, path: str, *, chunk_size: int = 1 << 20
    ) -> tuple[ArtifactRecord, Iterator[bytes]]:
        """The record of the file a run logged at ``path`` and its bytes as chunks, for
        streaming (what ``labline server`` sends). The bytes are hashed as they are read; if
        they do not match the recorded digest the iterator raises at the end, so a stream of
        altered content never ends normally.

        Raises:
            NotFoundError: no such run, artifact or blob (raised here, before any byte).
            InvalidArgumentError: a malformed ``path``.
            DigestMismatchError: (from the iterator) the stored file was altered.
        """
        clean = check_artifact_path(path)
        rec = next((a for a in self.store.list_artifacts(run_id) if a.path == clean), None)
        if rec is None:
            self.get_run(run_id)  # an unknown run says so
            raise NotFoundError(f"run {run_id} has no artifact {clean!r}")
        handle = self.blobs.open(rec.digest)
        expected = Digest.parse(rec.digest).hex

        def chunks() -> Iterator[bytes]:
            h = hashlib.sha256()
            with handle:
                while chunk := handle.read(chunk_size):
                    h.update(chunk)
                    yield chunk
            if h.hexdigest() != expected:
                raise DigestMismatchError(
                    f"artifact {rec.path} of run {run_id}",
                    expected,
                    h.hexdigest(),
                    location=self.blobs.location(rec.digest),
                )

        return rec, chunks()

    def download_artifacts(
        self,
        run: str | Run | ActiveRun,
        path: str | None = None,
        *,
        dst: str | os.PathLike[str] = ".",
    ) -> Path:
        """Copy a run's artifacts (finished runs too) into the folder ``dst``, each at its
        path inside the run, every byte checked against the digest recorded when it was logged.

        Args:
            run: a run, or a reference :meth:`find_run` takes.
            path: one file, or a folder prefix (``"model"`` copies ``model/...``); every
                artifact when omitted.
            dst: the folder to copy into (created if needed).

        Returns:
            The local path of ``path`` (``dst/path``), or ``dst`` when ``path`` is omitted.

        Raises:
            NotFoundError: no such run, or nothing logged at ``path``.
            DigestMismatchError: a stored file was altered; that file is not written.
            InvalidArgumentError: a malformed ``path``, or a symbolic link in ``dst`` that
                would carry a file outside it.
        """
        run_id = self._run_id(run)
        chosen = self.list_artifacts(run_id, path)
        root = Path(dst)
        result = root if path is None else root / check_artifact_path(path)
        root.mkdir(parents=True, exist_ok=True)
        for rec in chosen:
            self.blobs.download_verified(
                rec.digest,
                confined_target(root, check_artifact_path(rec.path)),
                label=f"artifact {rec.path} of run {run_id}",
            )
        return result

    def _run_id(self, run: str | Run | ActiveRun) -> str:
        if isinstance(run, (Run, ActiveRun)):
            return run.id
        if not isinstance(run, str):
            raise InvalidArgumentError(f"run must be a run or a run id, got {type(run).__name__}")
        return self.find_run(run).id

    # -- run lifecycle ---------------------------------------------------------------------------
    def mark_run_failed(self, run: str | Run, reason: str | None = None) -> Run:
        """Mark a stale run failed: one still marked running whose process is gone (or has
        sent no heartbeat for ``stale_after`` seconds), so it stops showing as stale.

        Args:
            run: a run, or a reference :meth:`find_run` takes.
            reason: the error text to record (default: says who marked it and why).

        Returns:
            The run, now failed.

        Raises:
            NotFoundError: no such run.
            InvalidArgumentError: the run is not stale (a live run is ended by its own
                process; an ended run keeps its outcome).
        """
        current = self.get_run(self._run_id(run))
        if current.status is not RunStatus.STALE:
            raise InvalidArgumentError(
                f"run {current.id} is {current.status.value}; only a stale run (its process "
                "gone or silent) can be marked failed"
            )
        text = reason or f"marked failed by {self.actor}: its process stopped without ending it"
        self.store.set_run_status(current.id, RunStatus.FAILED, text)
        return self.store.get_run(current.id)

    # -- compare -------------------------------------------------------------------------------
    def compare(
        self,
        baseline: str,
        candidate: str | Sequence[str],
        metric: str | Metric,
        *,
        dataset: str | None = None,
        higher_is_better: bool | None = None,
        alpha: float = 0.05,
        margin: float | None = None,
        min_effect: float | None = None,
        n_resamples: int = 10_000,
        seed: int = 0,
        evaluate_hypotheses: bool = True,
    ) -> ComparisonReport:
        """Compare candidate run groups with a baseline group on any metric (paired statistics).

        See :func:`labline.compare` for the method and the arguments: a built-in or custom
        per-example metric on shared predictions, or any logged metric at run level. A waiting
        hypothesis about exactly these groups and this metric is evaluated too (once its runs
        are in), unless ``evaluate_hypotheses`` is false: then the comparison only reads (a
        viewer's page); :meth:`matching_hypotheses` tells which hypotheses it answers.

        Raises:
            InvalidArgumentError: a bad selector, metric or option, or unpairable predictions.
            NotFoundError: an experiment or run id does not exist.
        """
        loaded: _compare.PredictionSets = {}  # the hypotheses evaluated below reuse them
        report = _compare.compare_runs(
            self,
            baseline,
            candidate,
            metric,
            dataset=dataset,
            higher_is_better=higher_is_better,
            alpha=alpha,
            margin=margin,
            min_effect=min_effect,
            n_resamples=n_resamples,
            seed=seed,
            loaded_predictions=loaded,
        )
        if not evaluate_hypotheses or not isinstance(metric, str):
            return report  # a Metric object has no spelling a hypothesis could store
        candidates = [candidate] if isinstance(candidate, str) else list(candidate)
        _hypotheses.evaluate_matching(
            self,
            baseline,
            candidates,
            _hypotheses.canonical_metric(metric),
            report.dataset,
            loaded,
        )
        return report

    # -- hypotheses ----------------------------------------------------------------------------
    def add_hypothesis(
        self,
        statement: str,
        *,
        baseline: str,
        candidate: str,
        metric: str,
        min_effect: float,
        alpha: float = 0.05,
        dataset: str | None = None,
        seeds: int = 1,
        supersedes: int | None = None,
    ) -> Hypothesis:
        """Register a hypothesis before its runs exist. See :func:`labline.add_hypothesis`.

        Raises:
            InvalidArgumentError: a bad selector, metric, alpha, min_effect or seeds.
            NotFoundError: ``supersedes`` names no hypothesis.
        """
        return _hypotheses.add_hypothesis(
            self,
            statement,
            baseline=baseline,
            candidate=candidate,
            metric=metric,
            min_effect=min_effect,
            alpha=alpha,
            dataset=dataset,
            seeds=seeds,
            supersedes=supersedes,
        )

    def get_hypothesis(self, hypothesis_id: int) -> Hypothesis:
        """One hypothesis as stored (reading never evaluates). Raises NotFoundError."""
        return _hypotheses.get_hypothesis(self, hypothesis_id)

    def list_hypotheses(self) -> list[Hypothesis]:
        """Every hypothesis as stored, oldest first, superseded ones included."""
        return _hypotheses.list_hypotheses(self)

    def revise_hypothesis(
        self,
        hypothesis_id: int,
        *,
        statement: str | None = None,
        metric: str | None = None,
        min_effect: float | None = None,
        alpha: float | None = None,
        seeds: int | None = None,
    ) -> Hypothesis:
        """Register a changed copy of a hypothesis that supersedes it.

        Raises:
            NotFoundError: no such hypothesis.
            InvalidArgumentError: nothing would change, or a new value is invalid.
        """
        return _hypotheses.revise_hypothesis(
            self,
            hypothesis_id,
            statement=statement,
            metric=metric,
            min_effect=min_effect,
            alpha=alpha,
            seeds=seeds,
        )

    def evaluate_hypothesis(self, hypothesis_id: int) -> Hypothesis:
        """Evaluate a waiting hypothesis if its runs have arrived (once; then it is frozen).

        Returns:
            The hypothesis as it stands afterwards (still waiting when runs are missing).

        Raises:
            NotFoundError: no such hypothesis.
        """
        return _hypotheses.evaluate_hypothesis(self, hypothesis_id)

    def evaluate_hypotheses(self) -> list[Hypothesis]:
        """Evaluate every waiting hypothesis whose runs have arrived; return all, oldest first."""
        return _hypotheses.evaluate_hypotheses(self)

    def matching_hypotheses(self, report: ComparisonReport) -> list[Hypothesis]:
        """The hypotheses a comparison answers: same baseline group, a candidate group of the
        report, the same metric and a data set that agrees; evaluated or waiting, oldest
        first. Reading only: nothing is evaluated (see :meth:`evaluate_hypothesis`).
        """
        return _hypotheses.matching_hypotheses(
            self,
            report.baseline,
            [c.candidate for c in report.comparisons],
            report.metric,
            report.dataset,
        )

    def hypothesis_progress(self, hypothesis: Hypothesis) -> HypothesisProgress:
        """How far a waiting hypothesis is from evaluation (runs each selector matches now)."""
        return _hypotheses.hypothesis_progress(self, hypothesis)

    # -- sweeps --------------------------------------------------------------------------------
    def compare_sweeps(
        self,
        baseline: str | int,
        candidate: str | int,
        *,
        metric: str | None = None,
        higher_is_better: bool | None = None,
        budget: float | None = None,
        unit: str = "trials",
        seeds: Sequence[int] | int = (),
        alpha: float = 0.05,
        n_resamples: int = 2000,
        seed: int = 0,
    ) -> SweepComparison:
        """Compare two sweeps fairly about their tuning budget (Dodge et al. 2019).

        Each sweep's expected best score against its budget is estimated with Tang et al.'s
        (2020) unbiased estimator from its complete trials, with a 95% smoothed-bootstrap band,
        in trials and (from the trials' times) in compute time; the budgets where the curves
        cross are named, and the verdict at ``budget`` is a permutation test of the difference
        of the curves there. With ``seeds``, each sweep's best configuration is re-run once per
        seed (the seed passed as the configuration's ``seed_param``; earlier re-runs reused)
        and the re-runs are compared with labline's seed-aware run-level test.

        Args:
            baseline, candidate: the sweeps (names or ids).
            metric: the metric (the baseline's objective when omitted); another logged metric
                of the trials (``key``, ``key:min``, ``key:max``) works too.
            higher_is_better: the direction (default: the sweep's or the metric's).
            budget: where to give the verdict (default: the largest budget both reached).
            unit: ``"trials"`` or ``"seconds"`` (compute time).
            seeds: re-run the best configurations with these seeds (an int n: seeds 0..n-1).
            alpha: significance level.
            n_resamples: bootstrap resamples of the bands (and permutations).
            seed: random seed of the resampling.

        Returns:
            The :class:`SweepComparison`.

        Raises:
            NotFoundError: a sweep does not exist.
            InvalidArgumentError: no complete trials, a bad budget, unit or metric, or re-runs
                asked of a sweep not run from a configuration.
        """
        from ._sweep_report import compare_sweeps

        return compare_sweeps(
            self,
            baseline,
            candidate,
            metric=metric,
            higher_is_better=higher_is_better,
            budget=budget,
            unit=unit,
            seeds=seeds,
            alpha=alpha,
            n_resamples=n_resamples,
            seed=seed,
        )

    @property
    def sweeps(self) -> Sweeps:
        """The sweeps use case on this client's store: sweeps, trials and their search state."""
        if self._sweeps is None:
            self._sweeps = Sweeps(self)
        return self._sweeps

    def import_mlflow(self, source: str, *, experiment: str | None = None) -> MlflowImportReport:
        """Copy an MLflow tracking store into this store: experiments, runs (their ids, names,
        times, status, parents), params, tags, full metric histories and artifacts. Runs
        already imported are skipped, so a second import imports nothing new.

        Args:
            source: ``sqlite:///path/mlflow.db`` or the URL of a running MLflow server (its
                token, if it needs one, from ``MLFLOW_TRACKING_TOKEN``).
            experiment: import only the MLflow experiment of this name.

        Returns:
            What was copied, and what could not be.

        Raises:
            InvalidArgumentError: an unsupported source, or the server refused a request.
            NotFoundError: no such database, or no experiment named ``experiment``.
        """
        return import_mlflow(self, source, experiment=experiment)

    @property
    def mlflow_models(self) -> MlflowModels:
        """Models logged through the MLflow API (MLflow 3 logged models) on this client's
        store: create, finalize, tag, search, and register as labline packages."""
        if self._mlflow_models is None:
            self._mlflow_models = MlflowModels(self)
        return self._mlflow_models

    # -- registry ------------------------------------------------------------------------------
    @property
    def registry(self) -> Registry:
        """The model-registry use case on this client's store (created on first use)."""
        if self._registry is None:
            self._registry = Registry(self)
        return self._registry

    def log_model(
        self, run: ActiveRun, model: Any, name: str | None, input_example: Any, **kwargs: Any
    ) -> ModelVersion | LoggedModel:
        """Package ``model`` into ``run`` and register it when ``name`` is given. See
        :meth:`ActiveRun.log_model`."""
        return self.registry.log_model(run.id, model, name, input_example, **kwargs)

    def register_model(self, source: str, *, name: str, version: int | None = None) -> ModelVersion:
        """Register a model package a run logged earlier (``run.log_model(model)`` without a
        name), once a comparison has picked it. The version links to that run.

        Args:
            source: ``"RUN/PATH"`` or ``"RUN"`` (path ``model``); RUN is anything
                :meth:`find_run` takes.
            name: the registered model's name.
            version: insist on a version number.

        Returns:
            The new version (or the existing one if this package was registered before).

        Raises:
            NotFoundError: no such run, or no package at that path.
            DigestMismatchError: a stored file of the package was altered.
            InvalidArgumentError: a malformed source or name.
            ImmutableError: ``version`` is taken by other content.
        """
        if not isinstance(source, str) or not source.strip("/"):
            raise InvalidArgumentError("source must look like RUN/PATH (e.g. 3f2a9c1d/model)")
        run_ref, _, path = source.strip("/").partition("/")
        run = self.find_run(run_ref)
        return self.registry.register_logged(
            run.id, path or DEFAULT_MODEL_PATH, name, version=version
        )

    def register_package(
        self, folder: str | os.PathLike[str], *, version: int | None = None
    ) -> ModelVersion:
        """Verify the package in ``folder``, store its files and register it as a version.

        Returns:
            The new version, or the existing one if this package was registered before.

        Raises:
            DigestMismatchError: the package does not verify.
            ImmutableError: ``version`` is taken by other content.
        """
        return self.registry.register_package(folder, version=version)

    def list_models(self) -> list[RegisteredModel]:
        """Every registered model, by name."""
        return self.registry.list_models()

    def create_model(
        self, name: str, *, description: str = "", tags: Mapping[str, Any] | None = None
    ) -> RegisteredModel:
        """Create a registered model before its first version (registering a version creates
        the model too), with a description and tags. Records this client's actor.

        Raises:
            AlreadyExistsError: the name is taken.
            InvalidArgumentError: a malformed name or tag key.
        """
        return self.store.create_registered_model(
            name,
            created_by=self.actor,
            description=description,
            tags={k: str(v) for k, v in (tags or {}).items()},
        )

    def get_model(self, name: str) -> RegisteredModel:
        """One registered model: latest version, aliases, description and tags.

        Raises:
            NotFoundError: no such model.
        """
        return self.store.get_registered_model(name)

    def update_model(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
        delete_tags: Sequence[str] = (),
    ) -> RegisteredModel:
        """Edit a registered model's card: its description (when given) and tags (set, last
        write wins; or deleted). Its versions stay as they are.

        Raises:
            NotFoundError: no such model, or no tag in ``delete_tags`` (nothing is changed).
            InvalidArgumentError: a malformed tag key.
        """
        return self.store.update_registered_model(
            name,
            description=description,
            tags={k: str(v) for k, v in (tags or {}).items()},
            delete_tags=tuple(delete_tags),
        )

    def delete_model(self, name: str) -> None:
        """Delete a registered model that has no versions yet.

        Raises:
            NotFoundError: no such model.
            ImmutableError: it has versions (immutable, so kept with their model).
        """
        self.store.delete_registered_model(name)

    def list_model_versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name``, oldest first. Raises NotFoundError."""
        return self.registry.list_versions(name)

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        """One version. Raises NotFoundError."""
        return self.registry.get_version(name, version)

    def list_aliases(self, name: str) -> list[AliasRecord]:
        """The current aliases of ``name``, by alias."""
        return self.store.list_aliases(name)

    def get_alias(self, name: str, alias: str) -> AliasRecord:
        """Where ``name@alias`` points now. Raises NotFoundError."""
        return self.registry.get_alias(name, alias)

    def resolve_model(self, ref: str | os.PathLike[str]) -> ResolvedRef:
        """``(name, version, digest)`` that ``ref`` points at now, without loading it.

        Args:
            ref: ``"name@alias"``, ``"name/3"``, ``"name"`` (latest) or a package folder.

        Raises:
            NotFoundError: unknown model, version or alias.
            InvalidArgumentError: a malformed reference.
        """
        if is_package_path(ref):
            pkg = read_verified(ref)
            return ResolvedRef(pkg.manifest.name, None, pkg.digest)
        return self.registry.resolve(str(ref))

    def load_model(self, ref: str | os.PathLike[str]) -> LoadedModel:
        """Load a model after verifying every file's SHA-256 against the registry.

        Args:
            ref: ``"name@alias"``, ``"name/3"``, ``"name"`` (latest) or a package folder.

        Raises:
            DigestMismatchError: a file is missing or altered; nothing was imported or read.
            NotFoundError: unknown model, version or alias.
        """
        if is_package_path(ref):
            return load_package(ref)
        return self.registry.load(str(ref))

    def get_manifest(self, digest: str) -> Manifest:
        """The verified manifest of a stored package. Raises DigestMismatchError."""
        return self.registry.manifest(digest)

    def package_dir(self, digest: str) -> Path:
        """A local copy of a stored package (made once, in ``<home>/packages``).

        The copy is verified while it is written and renamed into place only when complete.
        It is not trusted afterwards: loading it verifies every file against ``digest``, and
        :meth:`load_model` rebuilds a copy that fails.

        Raises:
            DigestMismatchError: a stored blob of the package does not hash to its digest;
                the error names the file and the blob's location.
        """
        return self.registry.package_dir(digest)

    def check_parity(
        self, name: str, version: int, *, tolerance: float = DEFAULT_TOLERANCE
    ) -> ParityReport:
        """Replay a version's parity record in a fresh interpreter and return the report."""
        return self.registry.check_parity(name, version, tolerance=tolerance)

    def promote(
        self,
        name: str,
        version: int,
        alias: str,
        *,
        reason: str | None = None,
        skip_parity: bool = False,
        tolerance: float = DEFAULT_TOLERANCE,
    ) -> Promotion:
        """Point ``name@alias`` at ``version`` once it passes the parity gate (recorded with
        this client's actor).

        Raises:
            ParityError: the replay did not reproduce the recorded outputs.
            InvalidArgumentError: ``skip_parity`` without a reason, or a malformed alias.
            NotFoundError: unknown version.
        """
        return self.registry.promote(
            name, version, alias, reason=reason, skip_parity=skip_parity, tolerance=tolerance
        )

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasEvent]:
        """The append-only history of one alias (or every alias) of ``name``, oldest first.

        Raises:
            NotFoundError: unknown model, or an alias that was never set.
        """
        return self.registry.history(name, alias)

    def alias_version_at(self, name: str, alias: str, when: datetime) -> int | None:
        """Which version ``name@alias`` pointed at, at ``when`` (``None``: not set yet).

        Raises:
            InvalidArgumentError: ``when`` has no timezone.
            NotFoundError: unknown model, or an alias that was never set.
        """
        return self.registry.live_at(name, alias, when)

    def diff_model_versions(self, name: str, a: int, b: int) -> ModelDiff:
        """What changed between versions ``a`` and ``b``: params, metrics, data, files, code.

        Raises:
            NotFoundError: unknown version.
        """
        return self.registry.diff(name, a, b)

    # -- access tokens (labline server) ----------------------------------------------------------
    def create_token(
        self, name: str, role: Role | str, *, expires: timedelta | str | None = None
    ) -> IssuedToken:
        """Create an access token for ``labline server`` (recorded as created by this actor).

        The secret (``ll_`` and 256 random bits) is in the returned :class:`IssuedToken` only:
        the store keeps its SHA-256.

        Args:
            name: who the token is for; every write made with it is recorded as this name.
            role: ``admin``, ``researcher``, ``engineer``, ``reviewer`` or ``viewer``.
            expires: a lifetime (``timedelta`` or ``"30d"``); never expires when omitted.

        Returns:
            The token's record and its secret.

        Raises:
            InvalidArgumentError: an empty name, an unknown role or a bad lifetime.

        Example:
            >>> import tempfile, labline
            >>> client = labline.Client(labline.Settings.local(tempfile.mkdtemp()))
            >>> issued = client.create_token("alice", "researcher", expires="30d")
            >>> issued.secret.startswith("ll_"), client.authenticate(issued.secret).name
            (True, 'alice')
            >>> client.close()
        """
        return _tokens.issue_token(self, name, role, expires)

    def list_tokens(self, *, include_inactive: bool = False) -> list[TokenRecord]:
        """The tokens that work now, oldest first (revoked and expired ones too with
        ``include_inactive``). Secrets are never listed: they are not stored."""
        tokens = self.store.list_tokens()
        if include_inactive:
            return tokens
        now = datetime.now(UTC)
        return [t for t in tokens if t.active_at(now)]

    def revoke_token(self, name_or_id: str | int) -> list[TokenRecord]:
        """Revoke a token by its id, or every working token of a name; recorded with this
        client's actor. A revoked token is refused from the next request on.

        Returns:
            The revoked tokens' records.

        Raises:
            NotFoundError: no token has that id, or no working token has that name.
        """
        return _tokens.revoke_tokens(self, name_or_id)

    def authenticate(self, secret: str) -> TokenRecord:
        """The token ``secret`` belongs to, if it works now (what a server checks on every
        request; the comparison is constant-time).

        Raises:
            AuthenticationError: an unknown, revoked or expired token (the message never
                quotes the secret).
        """
        return _tokens.authenticate_token(self, secret)

    def has_active_tokens(self) -> bool:
        """Whether any token works now (a server bound beyond loopback needs one)."""
        return self.store.count_active_tokens(datetime.now(UTC)) > 0

    # -- calibrated abstention ------------------------------------------------------------------
    def calibrate(
        self,
        model_ref: str,
        data: Any,
        *,
        target_error: float = 0.02,
        confidence: float = 0.95,
        method: str = "ltt",
        score: str | Callable[[Any], Any] = "top",
        label: str = "y",
        ids: Any = None,
    ) -> Calibration:
        """Choose the confidence threshold under which a model version defers, with a
        guarantee, and store it with the version (serving then answers ``deferred``).

        With probability at least ``confidence`` over the draw of the calibration data, the
        error rate among the answers the model keeps is at most ``target_error``, provided
        future requests are exchangeable with the calibration data (drawn the same way).

        Args:
            model_ref: ``"name/3"`` or ``"name@alias"``.
            data: held-out ``(X, y)``, or the path of a ``.npz`` (arrays ``X``, ``y``, optional
                ``ids``), ``.parquet`` or ``.csv`` (a label column and an optional ``id``).
            target_error: the error rate allowed among kept answers.
            confidence: the probability the guarantee holds.
            method: ``"ltt"`` (Learn-then-Test with Hoeffding–Bentkus p-values, the default)
                or ``"sgr"`` (Geifman & El-Yaniv's binomial bound).
            score: ``"top"`` probability (default), ``"margin"``, ``"entropy"``, or an
                importable function of the probability matrix (or ``"module:function"``).
            label: the label column of a table file.
            ids: example ids of ``(X, y)`` data, checked against the training ids.

        Returns:
            The stored calibration (the version's current one from now on).

        Raises:
            InfeasibleTargetError: no threshold meets the target; the message and
                ``.result.best_target`` give the best target guaranteeable with this n.
            InvalidArgumentError: the data is the training data (same fingerprint or shared
                ids), malformed data, levels outside (0, 1), or a model without probabilities.
            NotFoundError: unknown model, version or file.

        Example:
            >>> cal = client.calibrate("digits@production", (X_val, y_val),  # doctest: +SKIP
            ...                        target_error=0.02, confidence=0.95)
            >>> cal.threshold, cal.coverage                                  # doctest: +SKIP
            (0.9731, 0.842)
        """
        return _calibrate.calibrate(
            self,
            model_ref,
            data,
            target_error=target_error,
            confidence=confidence,
            method=method,
            score=score,
            label=label,
            ids=ids,
        )

    def get_calibration(self, calibration_id: int) -> Calibration:
        """One stored calibration. Raises NotFoundError."""
        return self.store.get_calibration(calibration_id)

    def list_calibrations(self, model_ref: str) -> list[Calibration]:
        """Every calibration of the version ``model_ref`` points at, oldest first.

        Raises:
            NotFoundError: unknown model, version or alias.
        """
        ref = self.registry.resolve(str(model_ref))
        assert ref.version is not None
        return self.store.list_calibrations(ref.name, ref.version)

    def current_calibration(self, name: str, version: int) -> Calibration | None:
        """The calibration serving uses for ``name/version`` (its newest), or ``None``.

        Raises:
            NotFoundError: unknown version.
        """
        return self.store.current_calibration(name, version)

    # -- verification of stored blobs ----------------------------------------------------------
    def verify_models(
        self,
        ref: str | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> BlobVerification:
        """Re-hash the blob store's copies of model packages and report every bad file.

        Loads verify the local copy they load (``<home>/packages``); the store's blobs, which
        those copies are built from, are checked here.

        Args:
            ref: ``"name/3"`` or ``"name@alias"`` (one version), ``"name"`` (every version of
                it), or ``None`` (every version of every model).
            progress: called with ``(blobs done, blobs in all)`` after each blob.

        Returns:
            How many distinct blobs were re-hashed, and each bad one with the package files
            (``"name/version:path"``) stored in it.

        Raises:
            NotFoundError: unknown model, version or alias.
            InvalidArgumentError: a malformed reference.

        Example:
            >>> report = labline.Client().verify_models("digits")  # doctest: +SKIP
            >>> report.ok, report.checked                          # doctest: +SKIP
            (True, 14)
        """
        registry = self.registry
        return registry.verify_versions(registry.versions_matching(ref), progress=progress)

    def verify_blobs(
        self, *, progress: Callable[[int, int], None] | None = None
    ) -> BlobVerification:
        """Re-hash every blob in the blob store (packages, artifacts, predictions).

        Args:
            progress: called with ``(blobs done, blobs in all)`` after each blob.

        Returns:
            How many blobs were re-hashed and every one whose content no longer matches its
            name.
        """
        server = self.store.server_side
        if server is not None:  # a labline server re-hashes its own blobs
            return server.verify_blobs()
        digests = list(self.blobs.iter_digests())
        bad: list[BadBlob] = []
        for done, digest in enumerate(digests, 1):
            actual = self.blobs.rehash(digest)
            if actual != digest:
                bad.append(BadBlob(digest, actual, self.blobs.location(digest)))
            if progress is not None:
                progress(done, len(digests))
        return BlobVerification(len(digests), tuple(bad))

    # -- monitoring a served model ---------------------------------------------------------------
    def monitor(self, ref: str, server: str, *, timeout: float = 30.0) -> MonitoringReport:
        """The live report of the model server at ``server``, checked against ``ref``.

        The server (``labline serve``) tests its live window against the package's reference
        profile: per-feature drift (KS / chi-squared with Holm), prediction and confidence
        drift, and accuracy estimated from calibrated confidences.

        Args:
            ref: ``name@alias``, ``name/version`` or a package folder.
            server: the model server's base URL, e.g. ``http://127.0.0.1:8000``.
            timeout: seconds to wait for the answer.

        Returns:
            The report; ``matches_ref`` says whether the server serves what ``ref`` points at.

        Raises:
            NotFoundError: ``ref`` names no model, version or alias.
            InvalidArgumentError: a malformed URL, an unreachable server, or a server serving
                another model.
        """
        return _monitor.fetch_monitoring(self, ref, server, timeout=timeout)

    def alert_rules(
        self,
        ref: str,
        thresholds: AlertThresholds | None = None,
        *,
        format: Literal["yaml", "json"] = "yaml",
    ) -> str:
        """Prometheus alerting rules for the model ``ref`` resolves to: feature drift,
        estimated and audited accuracy drops, error rate, p99 latency, deferral above the
        promise, digest change; each with a severity, the model version and a runbook line.

        Args:
            ref: ``name@alias``, ``name/version`` or a package folder.
            thresholds: where each alert fires.
            format: ``yaml`` (default) or ``json``; Prometheus reads both.

        Returns:
            The rules file's text.

        Raises:
            NotFoundError: ``ref`` names no model, version or alias.
            InvalidArgumentError: an unknown format.
        """
        return _monitor.alert_rules(self, ref, thresholds, format=format)


_DEFAULT_CLIENTS: dict[Settings, Client] = {}
_DEFAULT_LOCK = threading.Lock()


def default_client(settings: Settings | None = None) -> Client:
    """The process-wide client for ``settings`` (``Settings.from_env()`` when omitted).

    One per settings, kept open: serving polls the registry for alias moves, and reopening
    the store (and re-checking its schema) on every call would dominate a lookup.
    """
    s = settings or Settings.from_env()
    with _DEFAULT_LOCK:
        if s not in _DEFAULT_CLIENTS:
            _DEFAULT_CLIENTS[s] = Client(settings=s)
        return _DEFAULT_CLIENTS[s]
