"""``labline import mlflow``: copy an MLflow tracking store into labline, from its SQLite
database (``sqlite:///path/mlflow.db``) or from a running MLflow server (``http(s)://...``).

Experiments keep their names (MLflow's ``Default`` is labline's ``default``), tags and
lifecycle; runs keep their
ids, names, start and end times, status, lifecycle (deleted runs stay deleted), parent, params,
tags, every metric value with its step and timestamp, and their artifact files. A run whose id
is already in labline is skipped, so importing twice imports nothing new.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote, urlparse

from ._exceptions import InvalidArgumentError, NotFoundError
from ._imports import import_optional
from .core._types import Experiment, MlflowImportReport, RunStatus

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["import_mlflow"]

RUN_NAME_TAG = "mlflow.runName"
PARENT_TAG = "mlflow.parentRunId"
_STATUS = {
    "FINISHED": (RunStatus.FINISHED, None),
    "FAILED": (RunStatus.FAILED, "failed in MLflow"),
    "KILLED": (RunStatus.FAILED, "killed (MLflow status KILLED)"),
}


@dataclass
class SourceExperiment:
    """One experiment as the source stores it."""

    id: str
    name: str
    deleted: bool
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class SourceRun:
    """One run as the source stores it."""

    id: str
    experiment_id: str
    name: str
    status: str
    start_ms: int | None
    end_ms: int | None
    deleted: bool
    user: str
    artifact_uri: str
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metric_keys: list[str] = field(default_factory=list)  # what a server says was logged


class Source(Protocol):
    """A place MLflow data is read from."""

    def experiments(self) -> list[SourceExperiment]:
        """Every experiment (deleted ones too), with its tags."""

    def runs(self, experiment_id: str) -> list[SourceRun]:
        """Every run of an experiment (deleted ones too), with params and tags."""

    def metrics(self, run: SourceRun) -> dict[str, list[tuple[int, float, float]]]:
        """``{key: [(step, timestamp seconds, value)]}``: the full history, in logged order."""

    def artifacts(self, run: SourceRun, into: Path) -> Iterator[tuple[str, Path]]:
        """``(path inside the run, local file)`` of every artifact, copied under ``into``."""


def _seconds(ms: Any) -> float:
    return int(ms) / 1000.0


def _when(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000.0, tz=UTC)


class SqliteSource:
    """MLflow's SQLAlchemy schema in a SQLite file, read directly (nothing is written)."""

    def __init__(self, uri: str) -> None:
        sa = import_optional("sqlalchemy", "server")
        path = uri.removeprefix("sqlite:///")
        if not Path(path).is_file():
            raise NotFoundError(f"no MLflow database at {path!r}")
        self._engine = sa.create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
        self._text = sa.text
        self.notes: list[str] = []

    def _rows(self, sql: str, **params: Any) -> list[Any]:
        with self._engine.connect() as conn:
            return list(conn.execute(self._text(sql), params))

    def experiments(self) -> list[SourceExperiment]:
        out = {
            str(r[0]): SourceExperiment(str(r[0]), r[1], r[2] == "deleted")
            for r in self._rows(
                "SELECT experiment_id, name, lifecycle_stage FROM experiments "
                "ORDER BY experiment_id"
            )
        }
        for exp_id, key, value in self._rows(
            "SELECT experiment_id, key, value FROM experiment_tags"
        ):
            if str(exp_id) in out:
                out[str(exp_id)].tags[key] = value or ""
        return list(out.values())

    def runs(self, experiment_id: str) -> list[SourceRun]:
        runs = [
            SourceRun(
                id=r[0],
                experiment_id=experiment_id,
                name=r[1] or "",
                status=r[2] or "RUNNING",
                start_ms=r[3],
                end_ms=r[4],
                deleted=r[5] == "deleted",
                user=r[6] or "",
                artifact_uri=r[7] or "",
            )
            for r in self._rows(
                "SELECT run_uuid, name, status, start_time, end_time, lifecycle_stage, user_id, "
                "artifact_uri FROM runs WHERE experiment_id = :e ORDER BY start_time, run_uuid",
                e=int(experiment_id),
            )
        ]
        by_id = {r.id: r for r in runs}
        for table, target in (("params", "params"), ("tags", "tags")):
            for run_id, key, value in self._rows(
                f"SELECT t.run_uuid, t.key, t.value FROM {table} t JOIN runs r "
                "ON r.run_uuid = t.run_uuid WHERE r.experiment_id = :e",
                e=int(experiment_id),
            ):
                getattr(by_id[run_id], target)[key] = value or ""
        return runs

    def metrics(self, run: SourceRun) -> dict[str, list[tuple[int, float, float]]]:
        out: dict[str, list[tuple[int, float, float]]] = {}
        for key, value, ts, step, is_nan in self._rows(
            "SELECT key, value, timestamp, step, is_nan FROM metrics WHERE run_uuid = :r "
            "ORDER BY key, timestamp, step",
            r=run.id,
        ):
            out.setdefault(key, []).append(
                (int(step), _seconds(ts), math.nan if is_nan else float(value))
            )
        return out

    def artifacts(self, run: SourceRun, into: Path) -> Iterator[tuple[str, Path]]:
        uri = run.artifact_uri
        parsed = urlparse(uri)
        if parsed.scheme not in ("", "file"):
            self.notes.append(
                f"run {run.id}: artifacts at {parsed.scheme}: are not read from a SQLite "
                "source (import from the MLflow server instead)"
            )
            return
        root = Path(unquote(parsed.path) if parsed.scheme == "file" else uri)
        if not root.is_dir():
            return
        for path in sorted(root.rglob("*")):
            if path.is_file():
                yield path.relative_to(root).as_posix(), path


class ServerSource:
    """A running MLflow server, read through its REST API."""

    def __init__(self, url: str, token: str | None = None) -> None:
        httpx = import_optional("httpx", "server")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=120)
        self.notes: list[str] = []

    def _get(self, endpoint: str, params: Mapping[str, Any]) -> Any:
        r = self._http.get(endpoint, params=dict(params))
        if r.status_code >= 400:
            raise InvalidArgumentError(
                f"the MLflow server answered {r.status_code} to GET {endpoint}"
            )
        return r.json()

    def _post(self, path: str, body: Mapping[str, Any]) -> Any:
        r = self._http.post(path, json=dict(body))
        if r.status_code >= 400:
            raise InvalidArgumentError(f"the MLflow server answered {r.status_code} to POST {path}")
        return r.json()

    def experiments(self) -> list[SourceExperiment]:
        out, token = [], None
        while True:
            body: dict[str, Any] = {"max_results": 1000, "view_type": "ALL"}
            if token:
                body["page_token"] = token
            page = self._post("/api/2.0/mlflow/experiments/search", body)
            out += [
                SourceExperiment(
                    e["experiment_id"],
                    e["name"],
                    e.get("lifecycle_stage") == "deleted",
                    {t["key"]: t.get("value", "") for t in e.get("tags", [])},
                )
                for e in page.get("experiments", [])
            ]
            token = page.get("next_page_token")
            if not token:
                return sorted(out, key=lambda e: int(e.id) if e.id.isdigit() else 0)

    def runs(self, experiment_id: str) -> list[SourceRun]:
        out, token = [], None
        while True:
            body: dict[str, Any] = {
                "experiment_ids": [experiment_id],
                "max_results": 1000,
                "run_view_type": "ALL",
            }
            if token:
                body["page_token"] = token
            page = self._post("/api/2.0/mlflow/runs/search", body)
            for r in page.get("runs", []):
                info, data = r["info"], r.get("data", {})
                out.append(
                    SourceRun(
                        id=info["run_id"],
                        experiment_id=experiment_id,
                        name=info.get("run_name", ""),
                        status=info.get("status", "RUNNING"),
                        start_ms=info.get("start_time"),
                        end_ms=info.get("end_time"),
                        deleted=info.get("lifecycle_stage") == "deleted",
                        user=info.get("user_id", ""),
                        artifact_uri=info.get("artifact_uri", ""),
                        params={p["key"]: p.get("value", "") for p in data.get("params", [])},
                        tags={t["key"]: t.get("value", "") for t in data.get("tags", [])},
                        metric_keys=[m["key"] for m in data.get("metrics", [])],
                    )
                )
            token = page.get("next_page_token")
            if not token:
                return sorted(out, key=lambda r: (r.start_ms or 0, r.id))

    def metrics(self, run: SourceRun) -> dict[str, list[tuple[int, float, float]]]:
        out: dict[str, list[tuple[int, float, float]]] = {}
        for key in run.metric_keys:
            token = None
            while True:
                params: dict[str, Any] = {"run_id": run.id, "metric_key": key, "max_results": 25000}
                if token:
                    params["page_token"] = token
                page = self._get("/api/2.0/mlflow/metrics/get-history", params)
                for m in page.get("metrics", []):
                    value = m.get("value", 0.0)
                    out.setdefault(key, []).append(
                        (int(m.get("step", 0)), _seconds(m.get("timestamp", 0)), float(value))
                    )
                token = page.get("next_page_token")
                if not token:
                    break
        return out

    def artifacts(self, run: SourceRun, into: Path) -> Iterator[tuple[str, Path]]:
        stack = [""]
        while stack:
            folder = stack.pop()
            params = {"run_id": run.id, **({"path": folder} if folder else {})}
            listing = self._get("/api/2.0/mlflow/artifacts/list", params)
            for f in listing.get("files", []):
                if f.get("is_dir"):
                    stack.append(f["path"])
                    continue
                local = into / f["path"]
                local.parent.mkdir(parents=True, exist_ok=True)
                with self._http.stream(
                    "GET", "/get-artifact", params={"path": f["path"], "run_uuid": run.id}
                ) as r:
                    if r.status_code >= 400:
                        self.notes.append(f"run {run.id}: {f['path']} could not be downloaded")
                        continue
                    with open(local, "wb") as out:
                        for chunk in r.iter_bytes():
                            out.write(chunk)
                yield f["path"], local


def open_source(uri: str) -> Source:
    """The reader of an MLflow tracking URI: ``sqlite:///...`` or ``http(s)://...``.

    Raises:
        InvalidArgumentError: another kind of URI.
        NotFoundError: no database file there.
    """
    if uri.startswith("sqlite:///"):
        return SqliteSource(uri)
    if uri.startswith(("http://", "https://")):
        return ServerSource(uri, os.environ.get("MLFLOW_TRACKING_TOKEN"))
    raise InvalidArgumentError(
        "SOURCE must be an MLflow SQLite tracking URI (sqlite:///path/mlflow.db) or the URL of "
        "a running MLflow server (http://host:5000)"
    )


def _ordered(runs: list[SourceRun]) -> list[SourceRun]:
    """Parents before their children."""
    ids = {r.id for r in runs}
    done: set[str] = set()
    out: list[SourceRun] = []
    pending = list(runs)
    while pending:
        rest = []
        for r in pending:
            parent = r.tags.get(PARENT_TAG)
            if parent is None or parent not in ids or parent in done:
                out.append(r)
                done.add(r.id)
            else:
                rest.append(r)
        if len(rest) == len(pending):  # a cycle cannot happen in MLflow; import as they come
            out += rest
            break
        pending = rest
    return out


def import_mlflow(
    client: Client, source: str, *, experiment: str | None = None
) -> MlflowImportReport:
    """Copy the MLflow store at ``source`` into ``client``'s store (see the module docstring).

    Raises:
        InvalidArgumentError: an unsupported source, or the server refused a request.
        NotFoundError: no such database, or no experiment named ``experiment``.
    """
    reader = open_source(source)
    experiments = reader.experiments()
    if experiment is not None:
        experiments = [e for e in experiments if e.name == experiment]
        if not experiments:
            raise NotFoundError(f"the MLflow store has no experiment named {experiment!r}")
    imported = skipped = points = files = 0
    names = []
    for source_exp in experiments:
        labline_name = "default" if source_exp.name == "Default" else source_exp.name
        names.append(labline_name)
        runs = _ordered(reader.runs(source_exp.id))
        exp = _experiment_for(client, labline_name)
        if source_exp.tags:  # last write wins: importing again leaves them as the source has them
            client.set_experiment_tags(exp.id, source_exp.tags)
        for run in runs:
            try:
                client.get_run(run.id)
                skipped += 1
                continue
            except NotFoundError:
                pass
            n_points, n_files = _import_run(client, reader, run, exp.id)
            imported += 1
            points += n_points
            files += n_files
        if source_exp.deleted and not client.get_experiment(exp.id).deleted:
            client.delete_experiment(exp.id)
    parsed = urlparse(source)
    shown = parsed._replace(netloc=parsed.hostname or "").geturl() if parsed.password else source
    return MlflowImportReport(
        source=shown,
        experiments=tuple(names),
        runs_imported=imported,
        runs_skipped=skipped,
        metric_points=points,
        artifacts=files,
        notes=tuple(getattr(reader, "notes", ())),
    )


def _experiment_for(client: Client, name: str) -> Experiment:
    """The labline experiment an MLflow one is imported into, made if new (an experiment
    deleted by an earlier import of the same store is reused, still deleted)."""
    try:
        return client.get_experiment(name)
    except NotFoundError:
        return client.store.get_or_create_experiment(name)


def _import_run(
    client: Client, reader: Source, run: SourceRun, experiment_id: int
) -> tuple[int, int]:
    tags = dict(run.tags)
    name = run.name or tags.get(RUN_NAME_TAG, "")
    tags.pop(RUN_NAME_TAG, None)
    parent = tags.pop(PARENT_TAG, None)
    if parent is not None:
        try:
            parent = client.get_run(parent).id
        except NotFoundError:
            tags[PARENT_TAG] = parent  # its parent was not imported: keep the link as a tag
            parent = None
    store = client.store
    created = store.create_run(
        experiment_id,
        name,
        params=run.params,
        tags=tags,
        parent_id=parent,
        created_by=run.user or client.actor,
        run_id=run.id,
        created_at=_when(run.start_ms),
    )
    metrics = reader.metrics(run)
    if metrics:
        client.log_batch(created.id, metrics=metrics)
    n_files = 0
    with tempfile.TemporaryDirectory(prefix="labline-mlflow-import-") as tmp:
        for path, local in reader.artifacts(run, Path(tmp)):
            client.log_artifact_file(created.id, path, local)
            n_files += 1
    status, error = _STATUS.get(run.status, (None, None))
    if status is not None:
        store.set_run_status(created.id, status, error, ended_at=_when(run.end_ms))
    if run.deleted:
        client.delete_run(created.id)
    return sum(len(v) for v in metrics.values()), n_files
