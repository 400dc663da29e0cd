"""Calibrated abstention (core.stats._abstention) against MAPIE, scipy/statsmodels and
textbook loops written from the papers, plus edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from labline import InvalidArgumentError
from labline.core.stats import _abstention as ab

mapie_methods = pytest.importorskip("mapie.risk_control.methods")


def _binom_cdf(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


def _textbook_hb(errors: int, n: int, alpha: float) -> float:
    """LTT Proposition 3 (binary loss): min(Hoeffding, exact binomial tail)."""
    r = errors / n
    a = min(r, alpha)
    h = (a * math.log(a / alpha) if a > 0 else 0.0) + (
        (1 - a) * math.log((1 - a) / (1 - alpha)) if a < 1 else 0.0
    )
    return min(math.exp(-n * h), _binom_cdf(errors, n, alpha))


def _textbook_ltt(scores, correct, alpha: float, delta: float) -> float | None:
    """LTT with fixed-sequence testing, written as the paper's loop: thresholds from most to
    least confident, stop at the first null not rejected. Starts where zero errors could reject."""
    thresholds = sorted(set(scores), reverse=True)
    chosen = None
    started = False
    for lam in thresholds:
        kept = [c for s, c in zip(scores, correct, strict=True) if s >= lam]
        n = len(kept)
        if not started:
            if (1 - alpha) ** n > delta:
                continue
            started = True
        errors = sum(1 for c in kept if not c)
        if _textbook_hb(errors, n, alpha) <= delta:
            chosen = lam
        else:
            break
    return chosen


def _textbook_b_star(errors: int, n: int, delta: float) -> float:
    """Geifman & El-Yaniv's B*: the largest b with P(Bin(n, b) <= errors) >= delta (bisection)."""
    lo, hi = errors / n, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if _binom_cdf(errors, n, mid) >= delta:
            lo = mid
        else:
            hi = mid
    return lo


def _textbook_sgr(scores, correct, r_star: float, delta: float) -> float | None:
    """SGR (Algorithm 1), keeping the most permissive probed threshold whose bound holds."""
    srt = sorted(scores)
    m = len(srt)
    k = max(1, math.ceil(math.log2(m)))
    z_min, z_max = 0, m - 1
    best = None
    for _ in range(k):
        z = math.ceil((z_min + z_max) / 2)
        theta = srt[z]
        kept = [c for s, c in zip(scores, correct, strict=True) if s >= theta]
        errors = sum(1 for c in kept if not c)
        b = _textbook_b_star(errors, len(kept), delta / k)
        if b < r_star:
            if best is None or theta < best:
                best = theta
            z_max = z
        else:
            z_min = z
        if z_min >= z_max:
            break
    return best


def _synthetic(rng: np.random.Generator, n: int, ties: bool = False):
    s = rng.uniform(size=n)
    if ties:
        s = np.round(s, 2)
    ok = rng.uniform(size=n) < 0.6 + 0.4 * s
    return s, ok


def test_hb_p_value_matches_mapie_both_forms():
    rng = np.random.default_rng(1)
    n = rng.integers(1, 500, size=200)
    errors = rng.binomial(n, rng.uniform(0, 0.3, size=200))
    # MAPIE recovers the error count as ceil(n * (errors / n)), which float rounding lifts by
    # one for some (errors, n); compare where it recovers the count exactly
    exact = np.ceil(n * (errors / n)) == errors
    assert exact.mean() > 0.8
    n, errors = n[exact], errors[exact]
    for alpha in (0.01, 0.05, 0.2):
        for binary in (True, False):
            ours = ab.hoeffding_bentkus_p_value(errors, n, alpha, binary=binary)
            ref = mapie_methods.compute_hoeffding_bentkus_p_value(
                errors / n, n.astype(float), alpha, binary=binary
            ).ravel()
            np.testing.assert_allclose(ours, np.minimum(ref, 1.0), rtol=1e-10, atol=1e-14)


def test_hb_p_value_matches_textbook_formula():
    for errors, n, alpha in [(0, 60, 0.05), (2, 100, 0.05), (7, 80, 0.1), (30, 90, 0.2)]:
        got = float(ab.hoeffding_bentkus_p_value(errors, n, alpha)[()])
        assert got == pytest.approx(_textbook_hb(errors, n, alpha), rel=1e-9, abs=1e-15)


def test_zero_examples_give_p_one():
    assert float(ab.hoeffding_bentkus_p_value(0, 0, 0.05)[()]) == 1.0


def test_binomial_bound_matches_statsmodels_clopper_pearson():
    for errors, n in [(0, 50), (3, 100), (17, 200), (99, 100)]:
        ours = float(ab.binomial_upper_bound(errors, n, 0.05)[()])
        # a one-sided bound at delta is the upper end of the two-sided interval at 2*delta
        ref = proportion_confint(errors, n, alpha=0.10, method="beta")[1]
        assert ours == pytest.approx(ref, rel=1e-9)
        assert ours == pytest.approx(_textbook_b_star(errors, n, 0.05), abs=1e-9)
    assert float(ab.binomial_upper_bound(5, 5, 0.05)[()]) == 1.0


def test_clopper_pearson_matches_statsmodels():
    for k, n in [(0, 20), (5, 20), (20, 20), (300, 1000)]:
        lo, hi = ab.clopper_pearson(k, n, 0.95)
        rlo, rhi = proportion_confint(k, n, alpha=0.05, method="beta")
        assert (lo, hi) == (pytest.approx(rlo, abs=1e-12), pytest.approx(rhi, abs=1e-12))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ties", [False, True])
def test_ltt_threshold_matches_textbook_loop(seed, ties):
    rng = np.random.default_rng(seed)
    s, ok = _synthetic(rng, 300, ties)
    target, conf = (0.08, 0.9) if seed % 2 else (0.12, 0.95)
    res = ab.calibrate_abstention(s, ok, target=target, confidence=conf, method="ltt")
    ref = _textbook_ltt(list(s), list(ok), target, 1 - conf)
    assert res.feasible == (ref is not None)
    if ref is not None:
        assert res.threshold == ref
        kept = s >= ref
        assert res.coverage == kept.mean()
        assert res.kept_error == pytest.approx(1 - ok[kept].mean())


@pytest.mark.parametrize("seed", range(6))
def test_sgr_threshold_matches_textbook_loop(seed):
    rng = np.random.default_rng(100 + seed)
    s, ok = _synthetic(rng, 257 + 40 * seed, ties=seed % 2 == 1)
    res = ab.calibrate_abstention(s, ok, target=0.12, confidence=0.9, method="sgr")
    ref = _textbook_sgr(list(s), list(ok), 0.12, 0.1)
    assert res.feasible == (ref is not None)
    if ref is not None:
        assert res.threshold == ref
        assert res.risk_bound is not None and res.risk_bound < 0.12


def test_infeasible_target_says_so_and_reports_the_best_target():
    rng = np.random.default_rng(5)
    s, ok = _synthetic(rng, 200)
    for method in ("ltt", "sgr"):
        res = ab.calibrate_abstention(s, ok, target=0.001, confidence=0.95, method=method)
        assert not res.feasible and res.threshold is None
        assert "best target" in res.summary()
        # the reported best target is feasible, and a hair below it is not
        assert ab.calibrate_abstention(
            s, ok, target=min(res.best_target * 1.0001, 0.999), confidence=0.95, method=method
        ).feasible
        assert not ab.calibrate_abstention(
            s, ok, target=res.best_target * 0.99, confidence=0.95, method=method
        ).feasible


def _bisected_best_target(curve: ab.RiskCoverage, method: str, delta: float) -> float:
    """The smallest feasible target by plain bisection, running the whole procedure at every
    step (what ``_best_target`` computed before it asked only for feasibility)."""
    lo, hi = 0.0, 1.0 - 1e-12
    if ab._select(curve, method, hi, delta) is None:
        return 1.0
    for _ in range(50):
        mid = (lo + hi) / 2
        if ab._select(curve, method, mid, delta) is None:
            lo = mid
        else:
            hi = mid
    return hi


@pytest.mark.parametrize("method", ["ltt", "sgr"])
def test_best_target_equals_bisection_over_the_whole_procedure(method: str) -> None:
    rng = np.random.default_rng(21)
    for case in range(24):
        n = int(rng.choice([1, 5, 40, 300, 2_000]))
        scores = rng.random(n)
        if case % 3 == 0:
            scores = np.round(scores, 1)  # ties
        error_rate = float(rng.choice([0.0, 0.01, 0.1, 0.4]))
        correct = rng.random(n) >= error_rate * 2 * (1 - scores)
        curve = ab.risk_coverage_curve(scores, correct)
        for delta in (0.01, 0.1, 0.3):
            assert ab._best_target(curve, method, delta) == _bisected_best_target(
                curve, method, delta
            ), (case, n, delta)


def test_perfect_model_keeps_everything():
    s = np.linspace(0.5, 1, 400)
    res = ab.calibrate_abstention(s, np.ones(400, bool), target=0.02, confidence=0.95)
    assert res.feasible and res.coverage == 1.0 and res.threshold == 0.5
    assert res.aurc == 0.0


def test_scores_top_margin_entropy_and_callable():
    p = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(ab.confidence_scores(p), [0.7, 0.4, 1.0])
    np.testing.assert_allclose(ab.confidence_scores(p, "margin"), [0.5, 0.05, 1.0])
    ent = -np.array([-sum(x * math.log(x) for x in row if x > 0) for row in p])
    np.testing.assert_allclose(ab.confidence_scores(p, "entropy"), ent)
    np.testing.assert_allclose(ab.confidence_scores(p, lambda m: m[:, 0]), [0.7, 0.4, 1.0])
    with pytest.raises(InvalidArgumentError, match="score must be one of"):
        ab.confidence_scores(p, "variance")
    with pytest.raises(InvalidArgumentError, match="NaN or infinity"):
        ab.confidence_scores(p, lambda m: np.full(3, np.nan))
    with pytest.raises(InvalidArgumentError, match="returned 2 scores"):
        ab.confidence_scores(p, lambda m: m[:2, 0])


def test_aurc_matches_the_mean_of_selective_risks_and_ties_count_per_example():
    rng = np.random.default_rng(3)
    s = rng.uniform(size=500)
    ok = rng.uniform(size=500) < s
    order = np.argsort(-s)
    errs = np.cumsum(~ok[order])
    ref = float(np.mean(errs / np.arange(1, 501)))
    assert ab.aurc(ab.risk_coverage_curve(s, ok)) == pytest.approx(ref)
    # two tied examples, one wrong: both coverage levels see the tie group's risk 0.5
    assert ab.aurc(ab.risk_coverage_curve([0.9, 0.9], [True, False])) == 0.5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"target": 0.0}, "target_error"),
        ({"target": 1.5}, "target_error"),
        ({"confidence": 1.0}, "confidence"),
        ({"method": "crc"}, "method"),
    ],
)
def test_bad_levels_are_refused(kwargs, match):
    with pytest.raises(InvalidArgumentError, match=match):
        ab.calibrate_abstention([0.5, 0.6], [True, True], **kwargs)


def test_bad_inputs_are_refused():
    with pytest.raises(InvalidArgumentError, match="at least one"):
        ab.calibrate_abstention([], [])
    with pytest.raises(InvalidArgumentError, match="correctness"):
        ab.calibrate_abstention([0.5, 0.6], [True])
    with pytest.raises(InvalidArgumentError, match="NaN"):
        ab.calibrate_abstention([0.5, np.inf], [True, True])


def test_curve_is_capped_and_finite():
    rng = np.random.default_rng(9)
    s, ok = _synthetic(rng, 5000)
    res = ab.calibrate_abstention(s, ok, target=0.1, confidence=0.9)
    assert 2 <= len(res.curve_coverage) <= ab.CURVE_POINTS
    assert len(res.curve_coverage) == len(res.curve_risk) == len(res.curve_threshold)
    assert all(math.isfinite(x) for x in res.curve_risk + res.curve_threshold)
    assert res.curve_coverage[-1] == 1.0
    assert res.curve_risk[-1] == pytest.approx(res.overall_error)
