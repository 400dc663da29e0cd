"""``labline monitor MODEL_REF --server URL`` and ``labline alerts export MODEL_REF``."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from .. import AlertThresholds
from ._context import CliContext, json_option, pass_ctx
from ._output import console, emit_json


def _num(value: Any, fmt: str = ".3g") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return format(value, fmt)
    return str(value)


def _p(value: Any) -> str:
    if value is None:
        return "-"
    return "<1e-16" if value < 1e-16 else format(value, ".2g")


def _render(doc: dict[str, Any]) -> None:
    model = doc["model"]
    version = model.get("version")
    console.print(
        f"[bold]{model['name']}[/bold] version {version if version is not None else '-'} "
        f"({model['digest'][:19]}…) on {doc['server']}: [bold]{doc['status']}[/bold]"
    )
    if not doc["matches_ref"]:
        console.print(
            f"[yellow]note:[/yellow] {doc['ref']} points at {doc['expected_digest'][:19]}…, "
            "the server serves another package (it may not have followed the alias yet)"
        )
    deferral = doc.get("deferral")
    if deferral is not None:
        cal = deferral["calibration"]
        rate = deferral["deferral_rate"]
        console.print(
            f"deferral (calibration {cal['id']}, {cal['score']} ≥ {cal['threshold']:.4g}): "
            f"{'-' if rate is None else format(rate, '.1%')} of the last "
            f"{deferral['window_rows']} rows deferred, promised "
            f"{deferral['promised_deferral_rate']:.1%}; review: {deferral['enqueued']} queued, "
            f"{deferral['buffered']} buffered, {deferral['dropped']} dropped"
        )
    window = doc.get("window") or {}
    console.print(
        f"window: {window.get('rows', 0)} of {window.get('capacity', 0)} rows "
        f"(worker {doc.get('worker', '-')}; {window.get('seen', 0)} rows seen, "
        f"{doc.get('dropped_batches', 0)} batches dropped)"
    )
    ref = doc.get("reference")
    if ref is None:
        console.print("no reference profile in this package: drift cannot be measured")
        _render_live_accuracy(doc.get("live_accuracy"))
        return
    report = doc.get("report")
    if report is None:
        console.print(f"reference: {ref['rows']} rows; no live traffic yet")
        _render_live_accuracy(doc.get("live_accuracy"))
        return
    table = Table(
        title=f"drift against the reference ({ref['rows']} rows), Holm at α={report['alpha']}"
    )
    for col in (
        "feature",
        "test",
        "statistic",
        "p (Holm)",
        "drifted",
        "PSI",
        "JS dist",
        "ref",
        "live",
    ):
        table.add_column(col, justify="left" if col in ("feature", "test") else "right")
    for f in [*report["features"], report.get("predictions"), report.get("confidence")]:
        if f is None:
            continue
        table.add_row(
            f["feature"],
            f["test"],
            _num(f["statistic"]),
            _p(f["adjusted_p_value"]),
            "[red]yes[/red]" if f["drifted"] else "no",
            _num(f["psi"]),
            _num(f["js_distance"]),
            _num(f["reference_center"]),
            _num(f["live_center"]),
        )
    console.print(table)
    console.print(
        f"drifted features: {len(report['drifted'])} of {len(report['features'])} "
        f"({report['drifted_share']:.0%})"
    )
    acc = report.get("accuracy")
    if acc is not None:
        reference = ref.get("accuracy") if ref.get("accuracy") is not None else acc["reference"]
        console.print(
            f"estimated accuracy: {acc['value']:.3f} [{acc['ci_low']:.3f}, {acc['ci_high']:.3f}] "
            f"(reference {_num(reference)}) — {doc['assumption']}"
        )
    _render_live_accuracy(doc.get("live_accuracy"))


def _render_live_accuracy(live: dict[str, Any] | None) -> None:
    """The measured accuracy on reviewed audit samples, beside the estimate."""
    if live is None:
        return
    if not live["checked"]:
        console.print(
            "live accuracy: no audit sample of this version reviewed yet "
            "(labline serve --review --audit-fraction F; labline review label)"
        )
        return
    console.print(
        f"live accuracy on {live['checked']} reviewed audit samples: {live['accuracy']:.3f} "
        f"[{live['ci_low']:.3f}, {live['ci_high']:.3f}] (Wilson 95%; a random share of the "
        "answers the model kept, labelled by reviewers)"
    )


@click.command("monitor")
@click.argument("model_ref")
@click.option("--server", required=True, help="Base URL of the running `labline serve`.")
@click.option("--timeout", default=30.0, show_default=True, type=click.FloatRange(0.1))
@json_option
@pass_ctx
def monitor(ctx: CliContext, model_ref: str, server: str, timeout: float, as_json: bool) -> None:
    """Live report of MODEL_REF from a running model server: drift of each input feature
    (KS, chi-squared, Holm), prediction and confidence drift, PSI and Jensen–Shannon
    distance, and the accuracy estimated without labels."""
    report = ctx.client.monitor(model_ref, server, timeout=timeout)
    if as_json:
        emit_json(report.to_json())
        return
    _render(report.to_json())


@click.group("alerts")
def alerts() -> None:
    """Prometheus alerting rules for a served model."""


@alerts.command("export")
@click.argument("model_ref")
@click.option("--drift-share", default=0.3, show_default=True, type=click.FloatRange(0, 1))
@click.option("--drift-for", default="10m", show_default=True, help="Prometheus duration.")
@click.option("--accuracy-margin", default=0.05, show_default=True, type=click.FloatRange(0, 1))
@click.option("--accuracy-for", default="15m", show_default=True)
@click.option("--error-rate", default=0.01, show_default=True, type=click.FloatRange(0, 1))
@click.option(
    "--latency-p99",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Seconds.",
)
@click.option("--deferral-margin", default=0.05, show_default=True, type=click.FloatRange(0, 1))
@click.option("--slow-for", default="5m", show_default=True, help="For errors, latency, deferral.")
@click.option("--digest-window", default="15m", show_default=True)
@json_option
@pass_ctx
def export(
    ctx: CliContext,
    model_ref: str,
    drift_share: float,
    drift_for: str,
    accuracy_margin: float,
    accuracy_for: str,
    error_rate: float,
    latency_p99: float,
    deferral_margin: float,
    slow_for: str,
    digest_window: str,
    as_json: bool,
) -> None:
    """Print Prometheus alerting rules for MODEL_REF (redirect into rules.yml): drift share
    held for a window, estimated accuracy below the reference minus a margin, accuracy on
    reviewed audit samples below it, error rate, p99
    latency, deferral above the calibrated promise, and the digest changing outside a
    promotion. Each names the model version and carries a runbook line. With --json the same
    rules as a JSON object (Prometheus reads JSON rule files too)."""
    thresholds = AlertThresholds(
        drift_share=drift_share,
        drift_for=drift_for,
        accuracy_margin=accuracy_margin,
        accuracy_for=accuracy_for,
        error_rate=error_rate,
        latency_p99_s=latency_p99,
        deferral_margin=deferral_margin,
        slow_for=slow_for,
        digest_window=digest_window,
    )
    text = ctx.client.alert_rules(model_ref, thresholds, format="json" if as_json else "yaml")
    click.echo(text, nl=False)


def register(main: click.Group) -> None:
    """Add ``labline monitor`` and ``labline alerts`` to the CLI."""
    main.add_command(monitor)
    main.add_command(alerts)
