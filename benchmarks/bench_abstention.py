"""Calibrated abstention against MAPIE, and the cost of deciding deferral per request.

Run: .venv/bin/python benchmarks/bench_abstention.py [--splits 1000]
     [--part guarantee|decision|calibrate]

Part 1: guarantee and coverage against MAPIE's ``BinaryClassificationController`` (LTT), on
binary tasks scikit-learn ships (breast_cancer; digits as even vs odd), each with a
deliberately imperfect model fitted once on a fixed training part; its answers on the other
rows are the population. Each of ``--splits`` calibration sets is an i.i.d. draw of n rows
from the population (exchangeable with future requests, as the guarantee assumes), the same
draw for every method; each method picks a threshold on the confidence score (the top
probability) at the same target error among kept answers and the same confidence:

* labline LTT (fixed sequence with Hoeffding–Bentkus p-values, every distinct score a
  candidate);
* MAPIE with its defaults (Bonferroni–Holm over its 100-point threshold grid) and MAPIE with
  fixed-sequence testing over the same grid ordered from most to least confident (LTT's own
  procedure). Selective classification is posed to MAPIE exactly: a "keep" classifier whose
  positive-class probability is the confidence score, labels = "the model's answer is right",
  risk = precision of keeping (so 1 - precision is the error among kept answers).

On the whole population we record the coverage (share kept) and whether the kept error
exceeds the target (a violation of the guarantee). Printed: mean coverage, the violation rate
with its Monte-Carlo standard error (at most delta = 1 - confidence, up to 3 standard errors),
and the oracle coverage (the largest coverage whose kept error on the population meets the
target). A method that finds no threshold keeps nothing (coverage 0, never a violation).

Part 2: the deferral decision on the serving hot path, per single-row request: scoring the
probabilities, comparing with the threshold and offering the answer to the review feed
(the audit draw and the buffer append), timed over many requests in CPU time of the thread
(median of interleaved repeats), beside the model's own ``predict_proba`` on that row (the
floor every request pays anyway).

Part 3: the cost of ``calibrate_abstention`` itself on 10,000 and 100,000 calibration examples
(LTT and SGR, a target some threshold meets), beside the same call with the search for the
smallest guaranteeable target done as it was before (plain bisection running the whole
procedure at every one of its 51 steps), interleaved, CPU medians; the results must be equal
field for field.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from labline.core.stats._abstention import calibrate_abstention, confidence_scores

TARGET = 0.05
CONFIDENCE = 0.9
GRID = np.linspace(0.0, 0.99, 100)  # MAPIE's default threshold grid


@dataclass
class Tally:
    coverage: list[float]
    violations: int = 0
    found: int = 0

    def add(self, keep: np.ndarray, correct: np.ndarray) -> None:
        self.coverage.append(float(keep.mean()))
        if keep.any():
            self.found += 1
            if 1.0 - correct[keep].mean() > TARGET:
                self.violations += 1


def _task(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(confidence, correct) of an imperfect model on the rows not used to train it."""
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.linear_model import LogisticRegression

    if name == "breast_cancer":
        X, y = load_breast_cancer(return_X_y=True)
        X = X[:, [0, 1]]  # two features only: a deliberately weak model
    else:
        X, y = load_digits(return_X_y=True)
        y = y % 2  # even vs odd
        X = X / 16.0
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    n_train = len(y) // 4
    train, rest = order[:n_train], order[n_train:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegression(max_iter=20).fit(X[train], y[train])
    proba = model.predict_proba(X[rest])
    correct = model.predict(X[rest]) == y[rest]
    return confidence_scores(proba), correct, proba


def _oracle(conf: np.ndarray, correct: np.ndarray) -> float:
    order = np.argsort(-conf, kind="stable")
    errors = np.cumsum(~correct[order])
    kept = np.arange(1, len(conf) + 1)
    ok = np.flatnonzero(errors / kept <= TARGET)
    return float((ok[-1] + 1) / len(conf)) if ok.size else 0.0


def _mapie_keep(
    fwer: str, grid: np.ndarray
) -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    from mapie.risk_control import BinaryClassificationController

    def keep(cal_conf: np.ndarray, cal_correct: np.ndarray, test_conf: np.ndarray) -> np.ndarray:
        controller = BinaryClassificationController(
            lambda c: np.column_stack([1.0 - c, c]),
            "precision",
            target_level=1.0 - TARGET,
            confidence_level=CONFIDENCE,
            fwer_method=fwer,  # type: ignore[arg-type]
            list_predict_params=grid,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            controller.calibrate(cal_conf, cal_correct.astype(int))
        best = controller.best_predict_param
        if best is None:
            return np.zeros(len(test_conf), dtype=bool)
        return test_conf >= float(np.asarray(best).reshape(-1)[0])

    return keep


def _labline_keep(method: str) -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    def keep(cal_conf: np.ndarray, cal_correct: np.ndarray, test_conf: np.ndarray) -> np.ndarray:
        r = calibrate_abstention(
            cal_conf, cal_correct, target=TARGET, confidence=CONFIDENCE, method=method
        )
        if r.threshold is None:
            return np.zeros(len(test_conf), dtype=bool)
        return test_conf >= r.threshold

    return keep


def guarantee(splits: int) -> None:
    methods = {
        "labline LTT (HB, fixed sequence)": _labline_keep("ltt"),
        "MAPIE defaults (Bonferroni-Holm)": _mapie_keep("bonferroni_holm", GRID),
        "MAPIE fixed sequence (most->least)": _mapie_keep("fixed_sequence", GRID[::-1]),
    }
    delta = 1.0 - CONFIDENCE
    print(f"target error {TARGET} among kept answers, confidence {CONFIDENCE} (delta {delta:.2f})")
    for task in ("breast_cancer", "digits_even_odd"):
        conf, correct, _ = _task(task)
        n = len(conf)
        n_cal = n // 2
        tallies = {name: Tally([]) for name in methods}
        seconds = dict.fromkeys(methods, 0.0)
        oracle = _oracle(conf, correct)
        rng = np.random.default_rng(12345)
        for _ in range(splits):
            cal = rng.integers(0, n, n_cal)  # an i.i.d. draw from the population
            for name, keep_fn in methods.items():  # interleaved, the same draw for everyone
                t0 = time.perf_counter()
                keep = keep_fn(conf[cal], correct[cal], conf)
                seconds[name] += time.perf_counter() - t0
                tallies[name].add(keep, correct)
        print(
            f"\n{task}: population of {n} held-out answers (model error "
            f"{1 - correct.mean():.3f}), {splits} calibration draws of n={n_cal}; "
            f"oracle coverage {oracle:.3f}"
        )
        print(
            f"  {'method':36s} {'coverage':>9s} {'violations':>11s} {'(MC se)':>8s} "
            f"{'found':>6s} {'ms/draw':>8s}"
        )
        for name, t in tallies.items():
            rate = t.violations / splits
            se = (rate * (1 - rate) / splits) ** 0.5
            print(
                f"  {name:36s} {np.mean(t.coverage):9.3f} {rate:11.3f} {se:8.3f} "
                f"{t.found / splits:6.2f} {1000 * seconds[name] / splits:8.2f}"
            )
        lab = float(np.mean(tallies["labline LTT (HB, fixed sequence)"].coverage))
        for peer in ("MAPIE defaults (Bonferroni-Holm)", "MAPIE fixed sequence (most->least)"):
            mc = float(np.mean(tallies[peer].coverage))
            ratio = f"{lab / mc:.2f}" if mc else "inf (MAPIE keeps nothing)"
            print(f"  coverage labline / {peer}: {ratio}; labline >= MAPIE: {lab >= mc}")
        rate = tallies["labline LTT (HB, fixed sequence)"].violations / splits
        limit = delta + 3 * (delta * (1 - delta) / splits) ** 0.5
        print(
            f"  labline violation rate {rate:.3f} <= delta {delta:.2f} (+3 MC se {limit:.3f}): "
            f"{rate <= limit}"
        )


def decision_cost(requests: int, repeats: int) -> None:
    """Per-request cost of deciding deferral on the hot path vs the model's own call."""
    from datetime import UTC, datetime

    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    from labline.serving._batching import BatchResult, Job
    from labline.serving._deferral import Deferral
    from labline.serving._metrics import ServingMetrics
    from labline.serving._review_feed import ReviewFeed

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegression(max_iter=200).fit(X[:1000], y[:1000])

    @dataclass
    class _Cal:
        id: int = 1
        threshold: float = 0.9
        score: str = "top"
        coverage: float = 0.9
        coverage_low: float = 0.88
        coverage_high: float = 0.92
        target_error: float = 0.02
        confidence: float = 0.95

    deferral = Deferral.from_calibration(_Cal())

    class _Served:  # what the feed reads of a served model
        name, version, version_text, digest = "digits", 1, "1", "sha256:" + "0" * 64
        fields: tuple[Any, ...] = ()

    served: Any = _Served()
    served.deferral = deferral
    feed = ReviewFeed(None, ServingMetrics(), audit_fraction=0.01, capacity=10**9)
    rows = [X[1000 + i % 700 : 1001 + i % 700] for i in range(requests)]
    probas = [model.predict_proba(r) for r in rows]
    preds = [model.predict(r) for r in rows]
    loop = asyncio.new_event_loop()
    future: Any = loop.create_future()
    _ = datetime.now(UTC)

    jobs = [[Job(served, {"input": r}, 1, future, True, "rid")] for r in rows]

    def decide_all() -> None:
        for job, p, pr in zip(jobs, probas, preds, strict=True):
            deferred, conf = deferral.decide(p)
            feed.offer(job, [BatchResult(served, pr, p, 1, deferred, conf, p)])

    def model_all() -> None:
        for r in rows:
            model.predict_proba(r)

    decide_t, model_t = [], []
    clock = time.thread_time  # CPU time of this thread: other processes' load does not count
    for _ in range(repeats):  # interleaved
        t0 = clock()
        decide_all()
        decide_t.append((clock() - t0) / requests)
        t0 = clock()
        model_all()
        model_t.append((clock() - t0) / requests)
        with feed._lock:  # keep the buffer from growing across repeats
            feed._buffer.clear()
            feed._buffered = 0
    loop.close()
    d, m = statistics.median(decide_t), statistics.median(model_t)
    print(
        f"\ndeferral decision per single-row request (score + threshold + audit draw + "
        f"buffer offer), CPU time: {d * 1e6:.1f} us (budget 100 us: {d < 1e-4})"
    )
    print(f"floor, the model's own predict_proba on that row: {m * 1e6:.1f} us; ratio {d / m:.2f}")


def _bisected_best_target(curve: Any, method: str, delta: float) -> float:
    """``_best_target`` as it was: bisection over the whole procedure at every step."""
    from labline.core.stats import _abstention as ab

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


def calibrate_cost(repeats: int) -> None:
    from labline.core.stats import _abstention as ab

    current = ab._best_target
    print(
        "\ncalibrate_abstention, CPU seconds (median of interleaved repeats): now vs the "
        "bisection it replaced"
    )
    print(f"  {'n':>8s} {'method':6s} {'now':>9s} {'before':>9s} {'before/now':>10s}  equal")
    for n in (10_000, 100_000):
        rng = np.random.default_rng(n)
        scores = rng.random(n)
        correct = rng.random(n) >= 0.2 * (1 - scores)  # errors where the score is low
        for method in ("ltt", "sgr"):
            times: dict[str, list[float]] = {"now": [], "before": []}
            results: dict[str, Any] = {}
            for _ in range(repeats):
                for name, best in (("now", current), ("before", _bisected_best_target)):
                    ab._best_target = best  # type: ignore[assignment]
                    try:
                        t = time.process_time()
                        results[name] = calibrate_abstention(
                            scores, correct, target=TARGET, confidence=CONFIDENCE, method=method
                        )
                        times[name].append(time.process_time() - t)
                    finally:
                        ab._best_target = current
            now, before = statistics.median(times["now"]), statistics.median(times["before"])
            print(
                f"  {n:8,d} {method:6s} {now:9.4f} {before:9.4f} {before / now:9.1f}x  "
                f"{results['now'] == results['before']}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--part", choices=["all", "guarantee", "decision", "calibrate"], default="all"
    )
    args = parser.parse_args()
    if args.part in ("all", "guarantee"):
        guarantee(args.splits)
    if args.part in ("all", "decision"):
        decision_cost(args.requests, args.repeats)
    if args.part in ("all", "calibrate"):
        calibrate_cost(min(args.repeats, 5))


if __name__ == "__main__":
    main()
