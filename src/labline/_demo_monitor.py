"""The monitoring step of ``labline demo``: the served model is watched, drift is seen, and
whoever is on call gets alert rules.

1. serve ``digits@production`` with monitoring (a 300-row live window) and replay held-out
   digits: the live window looks like the package's reference profile;
2. replay the same digits as a dimmer scanner would write them (every pixel at 60%): the
   drift report (``labline monitor``'s, through :meth:`labline.Client.monitor`) flags the
   features that moved (KS / chi-squared, Holm-corrected) and the accuracy estimated without
   labels drops below the reference;
3. export the Prometheus alerting rules (``labline alerts export``) and check them with
   ``promtool`` when it is installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from ._demo_context import DemoContext
from ._demo_loop import input_field

__all__ = ["monitor"]

WINDOW = 300
DIMMER = 0.6


def _replay(base: str, field: str, rows: np.ndarray[Any, Any], per_request: int = 50) -> None:
    import httpx

    with httpx.Client(base_url=base, timeout=30) as http:
        for start in range(0, len(rows), per_request):
            chunk = rows[start : start + per_request].tolist()
            http.post("/predict", json={"columns": {field: chunk}}).raise_for_status()


def _rule_names(rules: str) -> list[str]:
    """The alert names of an exported rules file (its strings are JSON-quoted)."""
    prefix = "- alert: "
    return [
        json.loads(line.strip()[len(prefix) :])
        for line in rules.splitlines()
        if line.strip().startswith(prefix)
    ]


def _promtool_check(rules: str) -> str | None:
    """``promtool check rules`` on the file: its verdict line, or None without promtool."""
    promtool = shutil.which("promtool")
    if promtool is None:
        return None
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "rules.yml"
        path.write_text(rules)
        out = subprocess.run(
            [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
        )
    return "SUCCESS" if out.returncode == 0 else "FAILED"


def _report_table(report: dict[str, Any], top: int = 5) -> Table:
    table = Table(
        "feature", "test", "statistic", "p (Holm)", "PSI", title=f"the {top} most drifted features"
    )
    ranked = sorted(report["features"], key=lambda f: f["adjusted_p_value"])[:top]
    for f in ranked:
        p = f["adjusted_p_value"]
        table.add_row(
            f["feature"],
            f["test"],
            f"{f['statistic']:.3g}",
            "<1e-16" if p < 1e-16 else f"{p:.2g}",
            f"{f['psi']:.3g}",
        )
    return table


def monitor(ctx: DemoContext) -> None:
    """Serve with monitoring, replay unshifted then shifted digits, read the drift report,
    export the alert rules."""
    if not ctx.serve:
        return
    client, d = ctx.client, ctx.data
    ref = "digits@production"
    field = input_field(client.load_model(ref))
    held_out = d.X_test[:WINDOW]
    summary: dict[str, Any] = {}
    extra = ("--monitor-window", str(WINDOW), "--monitor-interval", "1")
    with ctx.served(ref, *extra) as base:
        _replay(base, field, held_out)
        quiet = client.monitor(ref, base).document["report"]
        summary["quiet_drifted_share"] = quiet["drifted_share"]
        ctx.step(
            f"labline serve {ref} with monitoring; {WINDOW} held-out digits replayed: "
            f"{len(quiet['drifted'])} of {len(quiet['features'])} pixel features drifted "
            f"(KS / chi-squared, Holm at α={quiet['alpha']})"
        )
        _replay(base, field, np.round(held_out * DIMMER))
        live = client.monitor(ref, base)
        report = live.document["report"]
        accuracy = report["accuracy"] or {}
        reference = live.document["reference"] or {}
        expected = reference.get("accuracy") or reference.get("expected_accuracy")
        summary.update(
            shifted_drifted_share=report["drifted_share"],
            drifted_features=len(report["drifted"]),
            prediction_drift=bool((report.get("predictions") or {}).get("drifted")),
            estimated_accuracy=accuracy.get("value"),
            estimated_accuracy_ci=[accuracy.get("ci_low"), accuracy.get("ci_high")],
            reference_accuracy=expected,
            matches_ref=live.matches_ref,
        )
        ctx.step(
            f"the same digits from a dimmer scanner (pixels at {DIMMER:.0%}): "
            f"{len(report['drifted'])} of {len(report['features'])} features drifted "
            f"({report['drifted_share']:.0%}); prediction drift "
            f"{'yes' if summary['prediction_drift'] else 'no'}; estimated accuracy "
            f"{accuracy.get('value', float('nan')):.3f} "
            f"[{accuracy.get('ci_low', float('nan')):.3f}, "
            f"{accuracy.get('ci_high', float('nan')):.3f}] vs {expected or float('nan'):.3f} "
            "at packaging "
            "(from calibrated confidences, no labels; assumes no concept drift)"
        )
        ctx.out.print(_report_table(report))
    rules = client.alert_rules(ref)
    names = _rule_names(rules)
    checked = _promtool_check(rules)
    summary.update(alert_rules=names, promtool=checked)
    ctx.step(
        f"labline alerts export {ref} > rules.yml: {', '.join(names)}"
        + (f" (promtool check rules: {checked})" if checked else "")
    )
    ctx.summary["monitor"] = summary
