"""Running the model server: one process, or N uvicorn workers acting as one server.

With ``workers > 1`` the parent process (uvicorn's supervisor) owns one temporary directory
for the server, removed when the server stops. In it:

* ``metrics/``: every worker's Prometheus samples (prometheus_client's multiprocess mode), so
  ``GET /metrics`` answers the sum over all workers whichever worker serves the scrape;
* ``alias-target.json``: where the followed alias points. The parent alone polls the
  registry (every ``poll_interval_s``) and rewrites this file when the alias moves; each
  worker reads it every :data:`TARGET_CHECK_S` seconds and loads exactly the version named
  there (after verifying it, as always).

So after an alias moves, every worker serves the new version within
``poll_interval_s + TARGET_CHECK_S`` seconds plus the time one worker takes to load and
verify the package, and all workers serve the same version: the one the parent saw.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import json
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._exceptions import LablineError
from .._imports import import_optional
from ._app import ModelServerApp, create_app
from ._metrics import ServingMetrics
from ._model import ServableModel
from ._settings import ServeSettings
from ._source import ModelSource, RegistryModelSource

if TYPE_CHECKING:
    from .._client import Client

__all__ = [
    "TARGET_CHECK_S",
    "AliasTargetSource",
    "AliasTargetWriter",
    "ServeOptions",
    "configure_logging",
    "run_server",
    "worker_app",
]

_log = logging.getLogger("labline.serving")

CONFIG_ENV = "LABLINE_SERVE_CONFIG"
"""Environment variable carrying the parent's configuration to the worker processes."""
TARGET_FILE = "alias-target.json"
TARGET_CHECK_S = 0.25
"""Seconds between two reads of the alias target by each worker."""
_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client reads it when imported
_WORKER_HEALTHCHECK_S = 120


@dataclass(frozen=True)
class ServeOptions:
    """How the server process(es) run.

    Attributes:
        host: interface to bind.
        port: TCP port.
        workers: uvicorn worker processes.
        log_level: labline's log level (``debug``, ``info``, ``warning``, ``error``).
        access_log: one line per request (method, path, status; never bodies) at this level.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    log_level: str = "info"
    access_log: bool = False


def configure_logging(level: str) -> None:
    """Send labline's log records to stderr at ``level`` (once per process)."""
    logger = logging.getLogger("labline")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level.upper())


def _uvicorn_log_config(log_level: str, access_log: bool) -> dict[str, Any]:
    """uvicorn's logging, with its start-up chatter quiet at ``info`` but access lines shown.

    uvicorn applies one level to its error and access loggers alike; setting them apart here
    is what lets ``--access-log`` print at the default level.
    """
    uvicorn_config = import_optional("uvicorn.config", "serve")
    config: dict[str, Any] = copy.deepcopy(uvicorn_config.LOGGING_CONFIG)
    quiet = "WARNING" if log_level == "info" else log_level.upper()
    config["loggers"]["uvicorn"]["level"] = quiet
    config["loggers"]["uvicorn.error"]["level"] = quiet
    config["loggers"]["uvicorn.access"]["level"] = "INFO" if access_log else "WARNING"
    return config


def _build_app(
    ref: str,
    source: ModelSource,
    settings: ServeSettings,
    metrics: ServingMetrics | None = None,
    client: Client | None = None,
) -> ModelServerApp:
    from ..models import skip_skops_estimator_scan

    # A model server only loads verified packages, each trusting exactly the types its manifest
    # lists: skip skops' import-time scan of every scikit-learn estimator (seconds of start-up).
    skip_skops_estimator_scan()
    app = create_app(settings, source, metrics, review_client=client)
    gc.freeze()  # the loaded model is long-lived: keep it out of every later GC pass
    model = app.server.model
    _log.info(
        "serving %s (%s version %s, %s)", ref, model.name, model.version_text or "-", model.digest
    )
    if model.deferral is not None:
        d = model.deferral
        _log.info(
            "calibration %d: defer below %s %.6g (promised deferral rate %.1f%%); "
            "audit fraction %g%s",
            d.calibration_id,
            d.score_name,
            d.threshold,
            100 * d.promised_deferral_rate,
            settings.audit_fraction,
            "" if settings.review else "; review queue off",
        )
    return app


# -- alias following shared by the workers ---------------------------------------------------


def _write_target(path: Path, name: str, version: int | None, digest: str) -> None:
    """Replace the target file atomically (a reader never sees half a file)."""
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({"name": name, "version": version, "digest": digest}))
    os.replace(tmp, path)


def _read_target(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


class AliasTargetWriter:
    """The parent's poller: resolves the alias and publishes where it points to the workers.

    Args:
        client: the registry's client (used from this poller's thread only).
        ref: the followed ``name@alias``.
        target: the target file in the server's directory.
        interval_s: seconds between two registry lookups.
    """

    def __init__(self, client: Client, ref: str, target: Path, interval_s: float) -> None:
        self.client = client
        self.ref = ref
        self.target = target
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="labline-alias", daemon=True)
        self._digest: str | None = None

    def publish(self) -> None:
        """Resolve the alias now and write the target if it changed.

        Raises:
            LablineError: the registry lookup failed.
        """
        resolved = self.client.resolve_model(self.ref)
        if resolved.digest != self._digest:
            _write_target(self.target, resolved.name, resolved.version, resolved.digest)
            if self._digest is not None:
                _log.info(
                    "%s now points at version %s (%s); workers follow",
                    self.ref,
                    resolved.version,
                    resolved.digest,
                )
            self._digest = resolved.digest

    def start(self) -> None:
        """Publish the current target, then poll in a background thread."""
        self.publish()
        self._thread.start()

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.publish()
            except LablineError as e:
                _log.warning("alias check for %s failed: %s", self.ref, e.message)
            except Exception as e:  # keep polling; never quote a third-party message
                _log.warning("alias check for %s failed with %s", self.ref, type(e).__name__)


class AliasTargetSource:
    """A worker's model source: the version the parent published for a followed alias.

    Args:
        ref: the followed ``name@alias`` (for messages).
        client: loads the published version.
        target: the target file in the server's directory.
    """

    def __init__(self, ref: str, client: Client, target: Path) -> None:
        self._ref = ref
        self._client = client
        self._target = target

    @property
    def ref(self) -> str:
        return self._ref

    @property
    def followable(self) -> bool:
        return True

    def load(self) -> ServableModel:
        doc = _read_target(self._target)
        ref = self._ref if doc["version"] is None else f"{doc['name']}/{doc['version']}"
        return self._client.load_model(ref)

    def current_digest(self) -> str:
        return str(_read_target(self._target)["digest"])

    def calibration(self, name: str, version: int | None) -> Any:
        return None if version is None else self._client.current_calibration(name, version)


# -- entry points ---------------------------------------------------------------------------


def worker_app() -> ModelServerApp:
    """App factory for uvicorn's worker processes (``factory=True``).

    Reads the configuration :func:`run_server` put in the environment.
    """
    from .. import Client, Settings

    config = json.loads(os.environ[CONFIG_ENV])
    configure_logging(config["log_level"])
    s = config["client"]
    client = Client(
        settings=Settings(Path(s["home"]), s["uri"], s["artifact_uri"], token=s.get("token"))
    )
    settings = ServeSettings(**config["serve"])
    source: ModelSource
    if config["target"] is not None:
        source = AliasTargetSource(config["ref"], client, Path(config["target"]))
        settings = dataclasses.replace(settings, poll_interval_s=TARGET_CHECK_S)
    else:
        source = RegistryModelSource(config["ref"], client)
    return _build_app(
        config["ref"], source, settings, ServingMetrics(config["metrics_dir"]), client
    )


def run_server(ref: str, client: Client, settings: ServeSettings, options: ServeOptions) -> None:
    """Serve ``ref`` over HTTP until the process is stopped (blocks).

    Args:
        ref: ``name@alias``, ``name/version`` or a package folder.
        client: the registry's client.
        settings: batching, limits and alias following.
        options: address, workers and logging.

    Raises:
        NotFoundError: ``ref`` names no model, version or alias.
        LablineError: the model cannot be loaded or verified.
        MissingDependencyError: the ``serve`` extra is not installed.
    """
    uvicorn = import_optional("uvicorn", "serve")
    configure_logging(options.log_level)
    common: dict[str, Any] = {
        "host": options.host,
        "port": options.port,
        "log_level": None,  # levels come from log_config
        "log_config": _uvicorn_log_config(options.log_level, options.access_log),
        "access_log": options.access_log,
        "timeout_graceful_shutdown": 30,
    }
    follows = settings.follow and "@" in ref and not os.path.isdir(ref)
    workers = options.workers
    started = (
        f"starting on http://{options.host}:{options.port} "
        f"({workers} worker{'' if workers == 1 else 's'}, max batch {settings.max_batch_size}, "
        f"{'following ' + ref if follows else 'not following an alias'})"
    )
    if workers == 1:
        app = _build_app(ref, RegistryModelSource(ref, client), settings, client=client)
        _log.info("%s", started)
        uvicorn.run(app, **common)
        return
    # Fail fast in the parent on a bad reference (a lookup, no loading); each worker then
    # loads and verifies its own copy.
    resolved = client.resolve_model(ref)
    worker_ref = ref
    if "@" in ref and not follows and resolved.version is not None:
        # Pinned: every worker must serve the version the alias points at *now*, even one that
        # finishes loading after the alias has moved.
        worker_ref = f"{resolved.name}/{resolved.version}"
    with tempfile.TemporaryDirectory(prefix="labline-serve-") as shared:
        metrics_dir = Path(shared) / "metrics"
        metrics_dir.mkdir()
        writer: AliasTargetWriter | None = None
        if follows:
            writer = AliasTargetWriter(
                client, ref, Path(shared) / TARGET_FILE, settings.poll_interval_s
            )
            writer.start()
        s = client.settings
        os.environ[_MULTIPROC_ENV] = str(metrics_dir)
        os.environ[CONFIG_ENV] = json.dumps(
            {
                "ref": worker_ref,
                "log_level": options.log_level,
                "serve": dataclasses.asdict(settings),
                "client": {
                    "home": str(s.home),
                    "uri": s.uri,
                    "artifact_uri": s.artifact_uri,
                    "token": s.token,  # a labline server's token, for the workers only
                },
                "metrics_dir": str(metrics_dir),
                "target": None if writer is None else str(writer.target),
            }
        )
        _log.info("%s; shared state in %s", started, shared)
        try:
            uvicorn.run(
                "labline.serving._workers:worker_app",
                factory=True,
                workers=workers,
                # uvicorn kills a worker that does not answer its health check in time; one
                # starting up (spawning, then loading and verifying a package) may take a while
                timeout_worker_healthcheck=_WORKER_HEALTHCHECK_S,
                **common,
            )
        finally:
            if writer is not None:
                writer.stop()
            os.environ.pop(_MULTIPROC_ENV, None)
            os.environ.pop(CONFIG_ENV, None)
