"""What a parity replay found: the report, and the comparison of replayed outputs with the
recorded ones. Pure (numpy only), so both the package writer (which checks that an output
survives serialization) and the parity gate use it without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

DEFAULT_TOLERANCE = 1e-6
_MAX_SHOWN = 5


@dataclass(frozen=True)
class ParityDifference:
    """One example whose replayed output differs from the recorded one."""

    index: int
    recorded_label: str
    replayed_label: str
    max_proba_diff: float


@dataclass(frozen=True)
class ParityReport:
    """The outcome of a parity replay.

    Attributes:
        passed: every example reproduced its recorded output.
        n: how many examples were replayed.
        n_differing: how many examples differ (label, or probability beyond the tolerance).
        first: the first few differing examples.
        max_abs_diff: the largest absolute difference of a probability (or numeric output).
        tolerance: the tolerance used.
        error: set when the package could not be loaded or run at all.
        deferral_checked: how many deferral decisions of the version's calibration were
            replayed (0: the version has no calibration).
        deferral_differing: how many of them the replay did not reproduce.
    """

    passed: bool
    n: int
    n_differing: int
    first: tuple[ParityDifference, ...]
    max_abs_diff: float
    tolerance: float
    error: str | None = None
    deferral_checked: int = 0
    deferral_differing: int = 0

    def summary(self) -> str:
        """One paragraph for humans (CLI output, error messages)."""
        if self.error is not None:
            return f"parity replay failed: {self.error}"
        deferral = (
            f"; deferral decisions: {self.deferral_checked - self.deferral_differing} of "
            f"{self.deferral_checked} reproduced"
            if self.deferral_checked
            else ""
        )
        if self.passed:
            return (
                f"parity ok: {self.n} examples reproduced "
                f"(largest difference {self.max_abs_diff:.3g}, tolerance {self.tolerance:g})"
                + deferral
            )
        if self.n_differing == 0 and self.deferral_differing:
            return "parity failed" + deferral
        shown = "; ".join(
            f"#{d.index}: recorded {d.recorded_label}, replayed {d.replayed_label}"
            + (f", proba diff {d.max_proba_diff:.3g}" if d.max_proba_diff else "")
            for d in self.first
        )
        return (
            f"parity failed: {self.n_differing} of {self.n} examples differ "
            f"(largest difference {self.max_abs_diff:.3g}, tolerance {self.tolerance:g}); "
            f"first: {shown}" + deferral
        )

    def to_json(self) -> dict[str, Any]:
        """Return the report as a JSON object."""
        return asdict(self)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ParityReport:
        """Inverse of :meth:`to_json` (non-finite numbers may come as ``"Infinity"``, ``"NaN"``:
        JSON from a server)."""
        first = tuple(
            ParityDifference(**{**d, "max_proba_diff": float(d["max_proba_diff"])})
            for d in obj["first"]
        )
        numbers = {k: float(obj[k]) for k in ("max_abs_diff", "tolerance")}
        return cls(**{**obj, **numbers, "first": first})


def _short(v: Any) -> str:
    s = repr(v.item() if isinstance(v, np.generic) else v)
    return s if len(s) <= 40 else s[:37] + "..."


def compare_outputs(
    recorded_labels: npt.NDArray[Any],
    replayed_labels: npt.NDArray[Any],
    recorded_proba: npt.NDArray[np.float64] | None,
    replayed_proba: npt.NDArray[np.float64] | None,
    tolerance: float,
) -> ParityReport:
    """Compare replayed outputs with the recorded ones.

    Returns:
        The report (``passed`` is false on any label difference, or a probability or numeric
        output differing by more than ``tolerance``).
    """
    n = int(recorded_labels.shape[0])
    if replayed_labels.shape != recorded_labels.shape:
        return ParityReport(
            False,
            n,
            n,
            (),
            float("inf"),
            tolerance,
            error=f"output shape {replayed_labels.shape} != recorded {recorded_labels.shape}",
        )
    numeric = recorded_labels.dtype.kind == "f"
    if numeric:
        diff = np.abs(replayed_labels.astype(np.float64) - recorded_labels)
        diff = np.where(np.isnan(diff), np.inf, diff)
        row_diff = diff.reshape(n, -1).max(axis=1) if n else np.zeros(0)
        bad = row_diff > tolerance
        max_diff = float(row_diff.max()) if n else 0.0
        proba_row = np.zeros(n)
    else:
        bad = (replayed_labels != recorded_labels).reshape(n, -1).any(axis=1)
        max_diff = 0.0
        proba_row = np.zeros(n)
    if recorded_proba is not None:
        if replayed_proba is None or replayed_proba.shape != recorded_proba.shape:
            return ParityReport(
                False,
                n,
                n,
                (),
                float("inf"),
                tolerance,
                error="probabilities missing or of another shape",
            )
        pdiff = np.abs(replayed_proba - recorded_proba)
        pdiff = np.where(np.isnan(pdiff), np.inf, pdiff)
        proba_row = pdiff.max(axis=1) if n else np.zeros(0)
        bad = bad | (proba_row > tolerance)
        max_diff = max(max_diff, float(proba_row.max()) if n else 0.0)
    idx = np.flatnonzero(bad)
    first = tuple(
        ParityDifference(
            int(i), _short(recorded_labels[i]), _short(replayed_labels[i]), float(proba_row[i])
        )
        for i in idx[:_MAX_SHOWN]
    )
    return ParityReport(not idx.size, n, int(idx.size), first, max_diff, tolerance)
