"""``labline serve MODEL_REF``: serve a verified model package over HTTP."""

from __future__ import annotations

import click

from ._context import CliContext, pass_ctx


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
    "--monitor/--no-monitor",
    default=True,
    show_default=True,
    help="Test live windows for drift against the package's reference profile.",
)
@click.option(
    "--monitor-window",
    default=1000,
    show_default=True,
    type=click.IntRange(10),
    help="Rows per live window.",
)
@click.option(
    "--monitor-interval",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0.05),
    help="Seconds between two drift tests.",
)
@click.option(
    "--monitor-max-features",
    default=32,
    show_default=True,
    type=click.IntRange(0),
    help="Features exported as labelled Prometheus gauges (the first in schema order).",
)
@click.option(
    "--review/--no-review",
    default=True,
    show_default=True,
    help="Queue a calibrated model's deferred answers (and audit samples) for review.",
)
@click.option(
    "--audit-fraction",
    default=0.01,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of confident answers also sent to review at random (measures live accuracy).",
)
@click.option(
    "--review-buffer",
    default=10_000,
    show_default=True,
    type=click.IntRange(1),
    help="Most review items held in memory for the writer; beyond it they count as dropped.",
)
@click.option(
    "--reviews-needed",
    default=1,
    show_default=True,
    type=click.IntRange(1, 20),
    help="Reviewers each queued item needs (agreement is reported above 1).",
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
    monitor: bool,
    monitor_window: int,
    monitor_interval: float,
    monitor_max_features: int,
    review: bool,
    audit_fraction: float,
    review_buffer: int,
    reviews_needed: int,
    log_level: str,
    access_log: bool,
) -> None:
    """Serve MODEL_REF (name@alias, name/version or a package path) over HTTP.

    Endpoints: POST /predict, the Open Inference Protocol V2 under /v2, GET /metrics,
    GET /monitoring (drift of the live window against the package's reference profile).
    A calibrated version (labline calibrate) answers each item with deferred and its
    confidence; deferred items and --audit-fraction of the confident ones go to the review
    queue (labline review) through a bounded buffer, off the request path.
    A server started on name@alias follows the alias unless --pin is given; with
    --workers N every worker serves the new version within --poll-interval + 0.25 s plus
    the time to load it, and /metrics sums all workers.
    """
    from ..serving import ServeOptions, ServeSettings, run_server

    serve_settings = ServeSettings(
        max_batch_size=max_batch_size,
        max_wait_ms=max_wait_ms,
        follow=not pin,
        poll_interval_s=poll_interval,
        max_body_bytes=max_body_bytes,
        model_thread=model_thread,
        monitor=monitor,
        monitor_window=monitor_window,
        monitor_interval_s=monitor_interval,
        monitor_max_features=monitor_max_features,
        review=review,
        audit_fraction=audit_fraction,
        review_buffer=review_buffer,
        reviews_needed=reviews_needed,
    )
    options = ServeOptions(
        host=host, port=port, workers=workers, log_level=log_level, access_log=access_log
    )
    run_server(model_ref, ctx.client, serve_settings, options)


def register(main: click.Group) -> None:
    """Add ``labline serve`` to the CLI."""
    main.add_command(serve)
