"""Calibrated abstention: pick a confidence threshold so that, with probability at least
``confidence`` over the draw of the calibration data, the error rate among the answers the
model keeps (its *selective risk*) is at most ``target``.

Two procedures, both valid when the calibration examples and the future ones are
exchangeable (drawn the same way, in no particular order):

* **Learn-then-Test** (Angelopoulos, Bates, Candès, Jordan & Lei 2021), the default. Each
  candidate threshold λ (every distinct calibration score) is a null hypothesis "the selective
  risk at λ exceeds the target". Given how many calibration examples λ keeps, their errors are
  binomial, so the Hoeffding–Bentkus p-value (binary-loss form, LTT §3.2) tests it. The
  hypotheses are tested in a fixed sequence from the most to the least confident threshold at
  level δ = 1 − confidence, stopping at the first one not rejected: the family-wise error is at
  most δ without any multiplicity correction. The sequence starts at the first threshold that
  keeps enough examples for a rejection to be possible at all (with zero errors), which depends
  on the scores alone, never on the labels.
* **SGR** (Geifman & El-Yaniv 2017, "Selective classification for deep neural networks",
  Algorithm 1): a binary search over the sorted scores, ⌈log2 n⌉ steps, each bounding the
  selective risk with the exact binomial (Clopper–Pearson) tail at level δ / ⌈log2 n⌉ (a
  union bound over the steps). labline keeps the most permissive probed threshold whose bound
  meets the target.

Scores: higher means more confident. ``"top"`` is the top class probability, ``"margin"`` the
top minus the runner-up, ``"entropy"`` minus the entropy of the probability row; a callable
receives the probability matrix and returns one score per row.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ..._exceptions import InvalidArgumentError

__all__ = [
    "ABSTENTION_METHODS",
    "SCORE_NAMES",
    "AbstentionResult",
    "RiskCoverage",
    "aurc",
    "binomial_upper_bound",
    "calibrate_abstention",
    "clopper_pearson",
    "confidence_scores",
    "deferral_decisions",
    "defers",
    "hoeffding_bentkus_p_value",
    "ltt_fixed_sequence",
    "resolve_score",
    "risk_coverage_curve",
    "sgr_threshold",
]

AbstentionMethod = Literal["ltt", "sgr"]
ABSTENTION_METHODS: tuple[str, ...] = ("ltt", "sgr")
SCORE_NAMES: tuple[str, ...] = ("top", "margin", "entropy")
ScoreFunction = Callable[[npt.NDArray[np.float64]], Any]

# the stored risk-coverage curve keeps at most this many points (evenly spaced in coverage)
CURVE_POINTS = 201


def confidence_scores(
    proba: npt.ArrayLike, score: str | ScoreFunction = "top"
) -> npt.NDArray[np.float64]:
    """One confidence score per row of a probability matrix (higher: more confident).

    Args:
        proba: ``(n, n_classes)`` class probabilities.
        score: ``"top"``, ``"margin"``, ``"entropy"``, ``"module:function"`` or a callable
            on the matrix.

    Returns:
        ``(n,)`` float64 scores.

    Raises:
        InvalidArgumentError: an unknown score name, a matrix of the wrong shape, or a score
            function returning the wrong shape or non-finite values.
    """
    score = resolve_score(score)
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 1:
        raise InvalidArgumentError(f"proba must be an (n, n_classes) matrix, got shape {p.shape}")
    if callable(score):
        s = np.asarray(score(p), dtype=np.float64).reshape(-1)
        if s.shape[0] != p.shape[0]:
            raise InvalidArgumentError(
                f"the score function returned {s.shape[0]} scores for {p.shape[0]} rows"
            )
    elif score == "top":
        s = p.max(axis=1)
    elif score == "margin":
        if p.shape[1] < 2:
            s = p[:, 0].copy()
        else:
            top2 = np.partition(p, p.shape[1] - 2, axis=1)[:, -2:]
            s = top2[:, 1] - top2[:, 0]
    elif score == "entropy":
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
        s = terms.sum(axis=1)  # minus the entropy: higher is more confident
    else:
        raise InvalidArgumentError(
            f"score must be one of {', '.join(SCORE_NAMES)} or a callable, got {score!r}"
        )
    if not np.all(np.isfinite(s)):
        raise InvalidArgumentError("the confidence scores contain NaN or infinity")
    return s


def defers(scores: npt.ArrayLike, threshold: float) -> npt.NDArray[np.bool_]:
    """The deferral rule (its one owner): defer a row whose score is below the threshold,
    answer one whose score is at or above it. Calibration, the parity gate and serving all
    decide through this function.

    Example:
        >>> defers([0.5, 0.9, 0.95], 0.9).tolist()
        [True, False, False]
    """
    return np.asarray(np.asarray(scores, dtype=np.float64) < threshold, dtype=np.bool_)


def deferral_decisions(
    proba: npt.ArrayLike, score: str | ScoreFunction, threshold: float
) -> npt.NDArray[np.bool_]:
    """Whether each row of a probability matrix is deferred under ``score`` and ``threshold``
    (see :func:`defers`)."""
    return defers(confidence_scores(proba, score), threshold)


def resolve_score(score: str | ScoreFunction) -> str | ScoreFunction:
    """A score name as given, or the function a ``"module:function"`` string names.

    Raises:
        InvalidArgumentError: the module or the function cannot be found.
    """
    if callable(score) or score in SCORE_NAMES or ":" not in score:
        return score
    module, _, name = score.partition(":")
    try:
        obj: Any = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        raise InvalidArgumentError(f"score function {score!r} cannot be imported") from e
    if not callable(obj):
        raise InvalidArgumentError(f"score {score!r} is not a function")
    return obj  # type: ignore[no-any-return]


def hoeffding_bentkus_p_value(
    errors: npt.ArrayLike, n: npt.ArrayLike, alpha: float, *, binary: bool = True
) -> npt.NDArray[np.float64]:
    """The Hoeffding–Bentkus p-value of the null "risk > alpha" (LTT, Proposition 3).

    ``min(exp(-n h(min(r, alpha), alpha)), c · P(Bin(n, alpha) <= ceil(n r)))`` with
    ``h(a, b) = a log(a/b) + (1-a) log((1-a)/(1-b))``, ``r = errors / n``, and ``c = e`` for
    losses in [0, 1] or ``c = 1`` for binary losses (errors), where the binomial tail is exact.

    Args:
        errors: number of errors (losses summed) per hypothesis.
        n: examples per hypothesis (``0`` gives p = 1).
        alpha: the risk level tested.
        binary: the loss is 0/1 (the default here: an answer is right or wrong).

    Returns:
        One p-value per hypothesis, in [0, 1].
    """
    from scipy.stats import binom  # lazy: keeps `import labline` fast

    k = np.asarray(errors, dtype=np.float64)
    m = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(m > 0, k / np.where(m > 0, m, 1.0), 1.0)
        a = np.minimum(r, alpha)
        h = np.where(a > 0, a * np.log(a / alpha), 0.0) + np.where(
            a < 1, (1 - a) * np.log((1 - a) / (1 - alpha)), 0.0
        )
    hoeffding = np.exp(-m * h)
    bentkus = (1.0 if binary else math.e) * binom.cdf(np.ceil(m * r - 1e-9), m, alpha)
    p = np.minimum(hoeffding, bentkus)
    return np.asarray(np.where(m > 0, np.clip(p, 0.0, 1.0), 1.0), dtype=np.float64)


def binomial_upper_bound(
    errors: npt.ArrayLike, n: npt.ArrayLike, delta: float
) -> npt.NDArray[np.float64]:
    """The exact one-sided binomial (Clopper–Pearson) upper bound on a risk at level ``delta``:
    the ``b`` with ``P(Bin(n, b) <= errors) = delta`` (``B*`` in Geifman & El-Yaniv 2017).

    Returns:
        One bound per entry; 1 where ``errors == n`` or ``n == 0``.
    """
    from scipy.stats import beta as beta_dist  # lazy: keeps `import labline` fast

    k = np.asarray(errors, dtype=np.float64)
    m = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        b = beta_dist.ppf(1 - delta, k + 1, np.maximum(m - k, 1e-300))
    return np.asarray(np.where((m > 0) & (k < m), b, 1.0), dtype=np.float64)


def clopper_pearson(k: int, n: int, level: float) -> tuple[float, float]:
    """The two-sided Clopper–Pearson interval of a proportion at ``level`` (e.g. 0.95)."""
    if n <= 0:
        return 0.0, 1.0
    from scipy.stats import beta as beta_dist  # lazy: keeps `import labline` fast

    a = 1 - level
    lo = 0.0 if k == 0 else float(beta_dist.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(beta_dist.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


@dataclass(frozen=True)
class RiskCoverage:
    """The empirical risk–coverage curve: at each distinct threshold (descending), the share
    of examples kept and the error rate among them."""

    thresholds: npt.NDArray[np.float64]
    kept: npt.NDArray[np.int64]
    errors: npt.NDArray[np.int64]
    n: int

    @property
    def coverage(self) -> npt.NDArray[np.float64]:
        """Share of examples kept at each threshold."""
        return np.asarray(self.kept / self.n, dtype=np.float64)

    @property
    def risk(self) -> npt.NDArray[np.float64]:
        """Error rate among the kept examples at each threshold."""
        return np.asarray(self.errors / self.kept, dtype=np.float64)


def risk_coverage_curve(scores: npt.ArrayLike, correct: npt.ArrayLike) -> RiskCoverage:
    """The risk–coverage curve over every distinct score (ties kept or dropped together).

    Args:
        scores: ``(n,)`` confidence scores (higher: more confident).
        correct: ``(n,)`` whether each answer was right.

    Raises:
        InvalidArgumentError: empty input, lengths that differ, or non-finite scores.
    """
    s, ok = _checked(scores, correct)
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    err_cum = np.cumsum(~ok[order])
    ends = np.flatnonzero(np.append(s_sorted[1:] != s_sorted[:-1], True))
    return RiskCoverage(
        thresholds=s_sorted[ends],
        kept=(ends + 1).astype(np.int64),
        errors=err_cum[ends].astype(np.int64),
        n=int(s.shape[0]),
    )


def aurc(curve: RiskCoverage) -> float:
    """Area under the risk–coverage curve (Geifman et al. 2019): the mean, over the n coverage
    levels 1/n ... 1, of the selective risk; a tie group counts once per example in it."""
    kept = curve.kept
    widths = np.diff(np.concatenate(([0], kept)))
    return float(np.sum(widths * (curve.errors / kept)) / curve.n)


def _checked(
    scores: npt.ArrayLike, correct: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    ok = np.asarray(correct).reshape(-1).astype(bool)
    if s.shape[0] == 0:
        raise InvalidArgumentError("calibration needs at least one example")
    if s.shape != ok.shape:
        raise InvalidArgumentError(f"{s.shape[0]} scores but {ok.shape[0]} correctness values")
    if not np.all(np.isfinite(s)):
        raise InvalidArgumentError("the confidence scores contain NaN or infinity")
    return s, ok


def _check_levels(target: float, confidence: float) -> None:
    if not (isinstance(target, (int, float)) and 0 < target < 1):
        raise InvalidArgumentError(f"target_error must be in (0, 1), got {target!r}")
    if not (isinstance(confidence, (int, float)) and 0 < confidence < 1):
        raise InvalidArgumentError(f"confidence must be in (0, 1), got {confidence!r}")


def ltt_fixed_sequence(curve: RiskCoverage, target: float, delta: float) -> int | None:
    """Learn-then-Test with fixed-sequence testing over the curve's thresholds, most confident
    first. Returns the index (into ``curve``) of the least confident threshold whose null
    "selective risk > target" was rejected, or ``None``.

    The sequence starts at the first threshold keeping at least ``n_min`` examples, the fewest
    for which zero errors would reject at ``delta`` — a rule on the scores alone.
    """
    start = _ltt_start(curve, target, delta)
    if start is None:
        return None
    p = hoeffding_bentkus_p_value(curve.errors[start:], curve.kept[start:], target)
    failed = np.flatnonzero(p > delta)
    last = (failed[0] if failed.size else p.shape[0]) - 1
    return None if last < 0 else start + int(last)


def _ltt_start(curve: RiskCoverage, target: float, delta: float) -> int | None:
    """Where LTT's fixed sequence starts: the first threshold keeping at least ``n_min``
    examples (``None``: no threshold keeps that many)."""
    n_min = math.ceil(math.log(delta) / math.log1p(-target))
    start = int(np.searchsorted(curve.kept, n_min, side="left"))
    return None if start >= curve.kept.shape[0] else start


def _ltt_feasible(curve: RiskCoverage, target: float, delta: float) -> bool:
    """Whether :func:`ltt_fixed_sequence` finds a threshold: the fixed sequence goes on past
    its first hypothesis exactly when that one is rejected, so only its p-value is needed
    (the same elementwise computation, so the same decision to the last bit)."""
    start = _ltt_start(curve, target, delta)
    if start is None:
        return False
    at = slice(start, start + 1)
    p = hoeffding_bentkus_p_value(curve.errors[at], curve.kept[at], target)
    return not bool(p[0] > delta)


def sgr_threshold(
    curve: RiskCoverage,
    target: float,
    delta: float,
    *,
    bounds: dict[int, float] | None = None,
) -> tuple[int | None, float | None]:
    """SGR (Geifman & El-Yaniv 2017): binary search over the sorted scores with the binomial
    bound at ``delta / ceil(log2 n)``. Returns ``(index into curve or None, its bound)``: the
    most permissive probed threshold whose bound is at most ``target``.

    ``bounds`` caches the bound of each probed threshold (it depends on the threshold and
    ``delta`` only, not on ``target``), for searches at many targets on one curve.
    """
    n = curve.n
    steps = max(1, math.ceil(math.log2(n))) if n > 1 else 1
    level = delta / steps
    known: dict[int, float] = {} if bounds is None else bounds
    # positions in the ascending order of the n scores; a position z keeps scores >= s_(z)
    ascending_kept = curve.kept  # kept counts per distinct threshold (descending thresholds)
    z_min, z_max = 0, n - 1
    best: tuple[int | None, float | None] = (None, None)
    for _ in range(steps):
        z = math.ceil((z_min + z_max) / 2)
        want = n - z  # keep the examples from ascending position z up: n - z of them
        # the distinct threshold keeping at least `want` (ties are kept together)
        idx = int(np.searchsorted(ascending_kept, want, side="left"))
        idx = min(idx, ascending_kept.shape[0] - 1)
        if idx not in known:
            known[idx] = float(binomial_upper_bound(curve.errors[idx], curve.kept[idx], level))
        bound = known[idx]
        if bound < target:
            if best[0] is None or idx > best[0]:
                best = (idx, bound)
            z_max = z  # the bound holds: try keeping more
        else:
            z_min = z
        if z_min >= z_max:
            break
    return best


@dataclass(frozen=True)
class AbstentionResult:
    """What calibration found.

    Attributes:
        method: ``"ltt"`` or ``"sgr"``.
        target: the target selective risk (error rate among kept answers).
        confidence: the probability, over the calibration draw, that the guarantee holds.
        n: calibration examples.
        feasible: whether some threshold meets the target at this confidence.
        threshold: keep an answer when its score is at least this (``None``: infeasible).
        coverage: share of calibration examples kept at the threshold.
        coverage_low, coverage_high: the Clopper–Pearson interval (at ``confidence``) of the
            share of future answers that will be kept.
        kept_error: the error rate among kept calibration examples.
        risk_bound: an upper confidence bound on the selective risk at the threshold (the
            binomial bound at ``1 - confidence``; SGR's own bound for SGR).
        best_target: the smallest target this procedure can guarantee with these data.
        aurc: area under the risk–coverage curve of the score.
        curve_coverage, curve_risk, curve_threshold: the curve, at most ``CURVE_POINTS``
            points.
        overall_error: the error rate with no abstention.
    """

    method: str
    target: float
    confidence: float
    n: int
    feasible: bool
    threshold: float | None
    coverage: float
    coverage_low: float
    coverage_high: float
    kept_error: float | None
    risk_bound: float | None
    best_target: float
    aurc: float
    overall_error: float
    curve_coverage: tuple[float, ...]
    curve_risk: tuple[float, ...]
    curve_threshold: tuple[float, ...]

    def summary(self) -> str:
        """One sentence for humans."""
        if not self.feasible:
            return (
                f"no threshold keeps the error among kept answers at or below {self.target:g} "
                f"with confidence {self.confidence:g} on these {self.n} examples; the best "
                f"target {self.method.upper()} can guarantee with this n is {self.best_target:.4g}"
            )
        return (
            f"keep answers with score >= {self.threshold:.6g}: coverage {self.coverage:.3f} "
            f"[{self.coverage_low:.3f}, {self.coverage_high:.3f}], error among kept "
            f"{self.kept_error:.4f} (guaranteed <= {self.target:g} with probability "
            f"{self.confidence:g})"
        )


def _select(curve: RiskCoverage, method: str, target: float, delta: float) -> int | None:
    if method == "ltt":
        return ltt_fixed_sequence(curve, target, delta)
    return sgr_threshold(curve, target, delta)[0]


def _best_target(curve: RiskCoverage, method: str, delta: float) -> float:
    """Smallest target the procedure meets on these data (bisection: feasibility is monotone
    in the target for both procedures).

    Each step asks only whether the procedure finds a threshold: for LTT that is one p-value
    (see ``_ltt_feasible``), for SGR a search whose bounds are shared by all the steps.
    """
    bounds: dict[int, float] = {}

    def feasible(target: float) -> bool:
        if method == "ltt":
            return _ltt_feasible(curve, target, delta)
        return sgr_threshold(curve, target, delta, bounds=bounds)[0] is not None

    lo, hi = 0.0, 1.0 - 1e-12
    if not feasible(hi):
        return 1.0
    for _ in range(50):
        mid = (lo + hi) / 2
        if not feasible(mid):
            lo = mid
        else:
            hi = mid
    return hi


def _downsample(curve: RiskCoverage) -> tuple[tuple[float, ...], ...]:
    m = curve.kept.shape[0]
    if m <= CURVE_POINTS:
        idx = np.arange(m)
    else:
        idx = np.unique(np.searchsorted(curve.kept, np.linspace(1, curve.n, CURVE_POINTS)))
        idx = idx[idx < m]
    return (
        tuple(float(x) for x in curve.coverage[idx]),
        tuple(float(x) for x in curve.risk[idx]),
        tuple(float(x) for x in curve.thresholds[idx]),
    )


def calibrate_abstention(
    scores: npt.ArrayLike,
    correct: npt.ArrayLike,
    *,
    target: float = 0.02,
    confidence: float = 0.95,
    method: str = "ltt",
) -> AbstentionResult:
    """Pick the confidence threshold with the guarantee described in this module.

    Args:
        scores: ``(n,)`` confidence scores of the calibration examples (higher: surer).
        correct: ``(n,)`` whether the model's answer was right.
        target: the error rate allowed among kept answers.
        confidence: probability over the calibration draw that the guarantee holds.
        method: ``"ltt"`` (Learn-then-Test, the default) or ``"sgr"``.

    Returns:
        The result; ``feasible`` is false (and ``best_target`` says what is reachable) when
        no threshold meets the target.

    Raises:
        InvalidArgumentError: levels outside (0, 1), an unknown method, or bad inputs.
    """
    _check_levels(target, confidence)
    if method not in ABSTENTION_METHODS:
        raise InvalidArgumentError(
            f"method must be one of {', '.join(ABSTENTION_METHODS)}, got {method!r}"
        )
    curve = risk_coverage_curve(scores, correct)
    delta = 1 - confidence
    idx = _select(curve, method, target, delta)
    overall = float(curve.errors[-1] / curve.n)
    cov, risk, thr = _downsample(curve)
    common: dict[str, Any] = {
        "method": method,
        "target": float(target),
        "confidence": float(confidence),
        "n": curve.n,
        "aurc": aurc(curve),
        "overall_error": overall,
        "curve_coverage": cov,
        "curve_risk": risk,
        "curve_threshold": thr,
    }
    if idx is None:
        return AbstentionResult(
            feasible=False,
            threshold=None,
            coverage=0.0,
            coverage_low=0.0,
            coverage_high=0.0,
            kept_error=None,
            risk_bound=None,
            best_target=_best_target(curve, method, delta),
            **common,
        )
    kept, errors = int(curve.kept[idx]), int(curve.errors[idx])
    if method == "sgr":
        bound = sgr_threshold(curve, target, delta)[1]
    else:
        bound = float(binomial_upper_bound(errors, kept, delta))
    lo, hi = clopper_pearson(kept, curve.n, confidence)
    return AbstentionResult(
        feasible=True,
        threshold=float(curve.thresholds[idx]),
        coverage=kept / curve.n,
        coverage_low=lo,
        coverage_high=hi,
        kept_error=errors / kept,
        risk_bound=bound,
        best_target=_best_target(curve, method, delta),
        **common,
    )
