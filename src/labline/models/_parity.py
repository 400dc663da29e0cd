"""The parity gate: does a package reproduce the outputs recorded when it was logged?

:func:`replay_in_subprocess` starts a fresh interpreter (``python -I``: no current directory
on ``sys.path``, no ``PYTHONPATH``, no user site) that sees only the package's files and the
installed libraries, loads the package through the same verified loader serving uses, and
replays the recorded evaluation inputs. Labels must match exactly (numeric regression outputs
and probabilities within ``tolerance``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .._exceptions import ParityError
from ..core.stats._abstention import deferral_decisions
from ._package import load_parity_value, read_verified
from ._parity_report import DEFAULT_TOLERANCE, ParityDifference, ParityReport, compare_outputs

__all__ = [
    "DEFAULT_TOLERANCE",
    "ParityDifference",
    "ParityReport",
    "check_parity",
    "compare_outputs",
    "replay_in_subprocess",
    "require_parity",
]


def check_parity(
    model: Any,
    tolerance: float = DEFAULT_TOLERANCE,
    deferral: Mapping[str, Any] | None = None,
) -> ParityReport:
    """Replay a loaded model's parity record in this process.

    Args:
        model: a :class:`~labline.models.LoadedModel`.
        tolerance: largest accepted absolute difference of probabilities / numeric outputs.
        deferral: the version's calibration, ``{"score", "threshold", "deferred"}``: the
            replayed probabilities must give the same deferral decisions.

    Returns:
        The report.
    """
    pkg = read_verified(model.path, model.digest)
    parity = pkg.manifest.parity
    if parity is None:
        return ParityReport(
            False, 0, 0, (), 0.0, tolerance, error="the package has no parity record"
        )
    inputs = load_parity_value(pkg, parity["inputs"])
    labels = np.asarray(load_parity_value(pkg, parity["labels"]))
    proba = load_parity_value(pkg, parity.get("proba"))
    prepared = model.prepare(inputs)
    got = np.asarray(model.predict_prepared(prepared))
    got_proba = (
        model.predict_proba_prepared(prepared) if proba is not None and model.has_proba else None
    )
    report = compare_outputs(labels, got, proba, got_proba, tolerance)
    if deferral is None or not deferral.get("deferred"):
        return report
    expected = np.asarray(deferral["deferred"], dtype=bool)
    if got_proba is None:
        return replace(report, passed=False, error="no probabilities to replay deferral with")
    replayed = deferral_decisions(got_proba, deferral["score"], float(deferral["threshold"]))
    if replayed.shape != expected.shape:
        return replace(report, passed=False, error="deferral decisions of another length")
    differing = int(np.count_nonzero(replayed != expected))
    return replace(
        report,
        passed=report.passed and differing == 0,
        deferral_checked=int(expected.shape[0]),
        deferral_differing=differing,
    )


# ``-I`` ignores PYTHONPATH and the current directory; the replay must still import the very
# labline this process runs (a source checkout or worktree, not only the installed copy).
_LABLINE_PARENT = str(Path(__file__).resolve().parents[2])
_BOOT = (
    "import sys, runpy; sys.path.insert(0, sys.argv.pop(1)); "
    "runpy.run_module('labline.models._parity_worker', run_name='__main__', alter_sys=True)"
)


def replay_in_subprocess(
    folder: str | os.PathLike[str],
    digest: str,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    timeout: float = 600.0,
    deferral: Mapping[str, Any] | None = None,
) -> ParityReport:
    """Load the package in a fresh, isolated interpreter and replay its parity record.

    Args:
        folder: the package folder.
        digest: the package digest the subprocess must verify against.
        tolerance: largest accepted absolute difference.
        timeout: seconds before the replay is abandoned (reported as an error).
        deferral: the version's calibration to replay too (see :func:`check_parity`).

    Returns:
        The report; ``error`` is set if the package could not be loaded or run.
    """
    cmd = [
        sys.executable,
        "-I",
        "-c",
        _BOOT,
        _LABLINE_PARENT,
        os.fspath(folder),
        digest,
        repr(tolerance),
        json.dumps(None if deferral is None else dict(deferral)),
    ]
    env = {
        k: v
        for k, v in os.environ.items()
        if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    }
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=os.fspath(folder),
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return ParityReport(
            False, 0, 0, (), float("inf"), tolerance, error=f"timed out after {timeout:g}s"
        )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        return ParityReport(
            False,
            0,
            0,
            (),
            float("inf"),
            tolerance,
            error=f"replay process exited with {proc.returncode}: {tail[0]}",
        )
    return ParityReport.from_json(json.loads(lines[-1]))


def require_parity(report: ParityReport) -> None:
    """Raise :class:`ParityError` carrying ``report`` unless it passed."""
    if not report.passed:
        raise ParityError(report.summary(), report)
