"""``labline serve MODEL_REF``: serve a verified model package over HTTP."""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import os
from typing import Any

import click

from .._imports import import_optional
from .._settings import Settings
from ._context import CliContext

pass_ctx = click.make_pass_decorator(CliContext)

_CONFIG_ENV = "LABLINE_SERVE_CONFIG"
_log = logging.getLogger("labline.serving")


def _build_app(ref: str, settings: Settings, serve_settings: Any) -> Any:
    from ..models._adapters import skip_skops_estimator_scan
    from ..serving import RegistryModelSource, create_app

    # A model server only loads verified packages, each trusting exactly the types its manifest
    # lists: skip skops' import-time scan of every scikit-learn estimator (seconds of start-up).
    skip_skops_estimator_scan()

    app = create_app(serve_settings, RegistryModelSource(ref, settings))
    gc.freeze()  # the loaded model is long-lived: keep it out of every later GC pass
    model = app.state.server.model
    _log.info(
        "serving %s (%s version %s, %s)", ref, model.name, model.version_text or "-", model.digest
    )
    return app


def worker_app() -> Any:
    """App factory for ``--workers N`` (each uvicorn worker process calls it)."""
    from ..serving import ServeSettings

    config = json.loads(os.environ[_CONFIG_ENV])
    _configure_logging(config["log_level"])
    serve_settings = ServeSettings(**config["serve"])
    return _build_app(config["ref"], Settings.from_env(), serve_settings)


def _configure_logging(level: str) -> None:
    logger = logging.getLogger("labline")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level.upper())


@click.command("serve")
@click.argument("model_ref")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="uvicorn worker processes.",
)
@click.option(
    "--pin", is_flag=True, help="Do not follow the alias; keep the version it points at now."
)
@click.option(
    "--max-batch-size",
    default=64,
    show_default=True,
    type=click.IntRange(1),
    help="Most rows per model call.",
)
@click.option(
    "--max-wait-ms",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Longest hold-back for a batch while more requests are arriving.",
)
@click.option(
    "--poll-interval",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0.05),
    help="Seconds between alias checks.",
)
@click.option(
    "--max-body-bytes", default=8 * 1024 * 1024, show_default=True, type=click.IntRange(1)
)
@click.option(
    "--model-thread",
    is_flag=True,
    help="Run model calls in a worker thread (models that release the GIL).",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
@click.option(
    "--access-log", is_flag=True, help="Log one line per request (path and status, never bodies)."
)
@pass_ctx
def serve(
    ctx: CliContext,
    model_ref: str,
    host: str,
    port: int,
    workers: int,
    pin: bool,
    max_batch_size: int,
    max_wait_ms: float,
    poll_interval: float,
    max_body_bytes: int,
    model_thread: bool,
    log_level: str,
    access_log: bool,
) -> None:
    """Serve MODEL_REF (name@alias, name/version or a package path) over HTTP.

    Endpoints: POST /predict, the Open Inference Protocol V2 under /v2, GET /metrics.
    A server started on name@alias follows the alias unless --pin is given.
    """
    from ..serving import ServeSettings

    uvicorn = import_optional("uvicorn", "serve")
    serve_settings = ServeSettings(
        max_batch_size=max_batch_size,
        max_wait_ms=max_wait_ms,
        follow=not pin,
        poll_interval_s=poll_interval,
        max_body_bytes=max_body_bytes,
        model_thread=model_thread,
    )
    _configure_logging(log_level)
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "warning" if log_level == "info" else log_level,
        "access_log": access_log,
        "timeout_graceful_shutdown": 30,
    }
    follows = serve_settings.follow and "@" in model_ref and not os.path.isdir(model_ref)
    started = (
        f"starting on http://{host}:{port} ({workers} worker{'' if workers == 1 else 's'}, "
        f"max batch {max_batch_size}, "
        f"{'following ' + model_ref if follows else 'not following an alias'})"
    )
    if workers == 1:
        app = _build_app(model_ref, ctx.settings, serve_settings)
        _log.info("%s", started)
        uvicorn.run(app, **common)
        return
    # Fail fast in the parent on a bad reference (a lookup, no loading); each worker then
    # loads and verifies its own copy.
    from ..models import resolve

    resolved = resolve(model_ref, settings=ctx.settings)
    worker_ref = model_ref
    if "@" in model_ref and not follows and resolved.version is not None:
        # Pinned: every worker must serve the version the alias points at *now*, even one that
        # finishes loading after the alias has moved.
        worker_ref = f"{resolved.name}/{resolved.version}"
    _log.info("%s", started)
    os.environ[_CONFIG_ENV] = json.dumps(
        {"ref": worker_ref, "log_level": log_level, "serve": dataclasses.asdict(serve_settings)}
    )
    uvicorn.run("labline.cli._serve:worker_app", factory=True, workers=workers, **common)


def register(main: click.Group) -> None:
    """Add ``labline serve`` to the CLI."""
    main.add_command(serve)
