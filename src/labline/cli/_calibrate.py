"""``labline calibrate MODEL_REF --data HELD_OUT``: choose and store a version's abstention
threshold; without ``--data``, show the version's current calibration (``--all``: every one)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from .. import Calibration
from ._context import CliContext, json_option, pass_ctx
from ._output import console, emit_json, fmt_time

_ERR = Console(stderr=True)


def _calibration_json(cal: Calibration) -> dict[str, object]:
    return cal.to_json()


def _show(cal: Calibration) -> None:
    table = Table("", "", title=f"{cal.model_name}/{cal.model_version} calibration {cal.id}")
    rows = [
        ("method", {"ltt": "Learn-then-Test (Hoeffding–Bentkus)", "sgr": "SGR"}[cal.method]),
        ("score", cal.score),
        ("target error", f"{cal.target_error:g} with confidence {cal.confidence:g}"),
        ("threshold", f"answer when score >= {cal.threshold:.6g}"),
        (
            "coverage",
            f"{cal.coverage:.3f} [{cal.coverage_low:.3f}, {cal.coverage_high:.3f}]",
        ),
        ("error among kept", f"{cal.kept_error:.4f} (upper bound {cal.risk_bound:.4f})"),
        ("error without deferral", f"{cal.overall_error:.4f}"),
        ("AURC", f"{cal.aurc:.4f}"),
        ("best target at this n", f"{cal.best_target:.4g}"),
        ("data", f"{cal.data_source} ({cal.n} examples, {cal.data_fingerprint[:19]})"),
        ("created", f"{fmt_time(cal.created_at)} by {cal.created_by}"),
    ]
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)
    console.print(cal.guarantee)


def register(main: click.Group) -> None:
    """Add ``calibrate`` to the CLI."""

    @main.command("calibrate")
    @click.argument("model_ref")
    @click.option(
        "--data",
        "data",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Held-out data: .npz (X, y[, ids]) or .parquet/.csv (feature columns, a label "
        "column, an optional id column). Without it, show the current calibration.",
    )
    @click.option("--target-error", type=float, default=0.02, show_default=True)
    @click.option("--confidence", type=float, default=0.95, show_default=True)
    @click.option("--method", type=click.Choice(["ltt", "sgr"]), default="ltt", show_default=True)
    @click.option(
        "--score",
        default="top",
        show_default=True,
        help="top, margin, entropy or module:function (of the probability matrix).",
    )
    @click.option("--label", default="y", show_default=True, help="Label column of a table.")
    @click.option("--all", "show_all", is_flag=True, help="Without --data: every calibration.")
    @json_option
    @pass_ctx
    def calibrate(
        ctx: CliContext,
        model_ref: str,
        data: Path | None,
        target_error: float,
        confidence: float,
        method: str,
        score: str,
        label: str,
        show_all: bool,
        as_json: bool,
    ) -> None:
        """Choose the threshold under which MODEL_REF (name/3, name@alias) defers, so that with
        probability CONFIDENCE the error among the answers it keeps is at most TARGET_ERROR
        (for requests drawn like the held-out data), and store it with the version."""
        client = ctx.client
        if data is None:
            cals = client.list_calibrations(model_ref)
            shown = cals if show_all else cals[-1:]
            if as_json:
                emit_json(
                    [_calibration_json(c) for c in shown]
                    if show_all
                    else (_calibration_json(shown[0]) if shown else None)
                )
                return
            if not shown:
                console.print(
                    f"{model_ref} has no calibration (labline calibrate {model_ref} "
                    "--data HELD_OUT)"
                )
                return
            for c in shown:
                _show(c)
            return
        if as_json:
            cal = client.calibrate(
                model_ref,
                data,
                target_error=target_error,
                confidence=confidence,
                method=method,
                score=score,
                label=label,
            )
            emit_json(_calibration_json(cal))
            return
        with _ERR.status(f"calibrating {model_ref} on {data.name} ..."):
            cal = client.calibrate(
                model_ref,
                data,
                target_error=target_error,
                confidence=confidence,
                method=method,
                score=score,
                label=label,
            )
        _show(cal)
