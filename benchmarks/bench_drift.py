"""Drift detection and label-free accuracy on seeded synthetic shifts, beside alibi-detect.

Run: ``.venv/bin/python benchmarks/bench_drift.py`` (200 windows per condition and size, 1,000
unshifted: about 10 minutes on an idle 2-core machine, mostly alibi-detect's; ``--windows 10``
for a quick look). alibi-detect runs in a venv of its own, ``.venvs/alibi-detect`` (``BENCH_PEERS=1
bash scripts/setup.sh`` creates it; ``BENCH_ALIBI_PYTHON=/path/to/python`` points elsewhere):
installed into labline's venv it would downgrade numpy to 1.x. It needs neither TensorFlow nor
PyTorch for ``TabularDrift``.

Data: 8 numeric features ``x0..x7`` ~ N(0, 1), a count ``k0`` ~ Poisson(1) (a numeric
feature with heavy ties, tested with KS from its sketch), and 2 categorical ones (``c0`` with
4 categories at 0.4/0.3/0.2/0.1, ``c1`` with 3 at 0.5/0.3/0.2); the label follows a logistic model of
``x0..x2`` only, so a logistic regression fitted on a large training set is calibrated. The
reference is 5,000 evaluation rows: labline profiles them as ``labline.models`` does when it
packages a model (quantile sketches of 512 points, category counts); alibi-detect keeps the
5,000 rows themselves.

Windows of 100, 1,000 and 10,000 rows under each condition, every window drawn from its own
seed (condition, size, index), so both detectors see the same windows (checked: the alibi
process returns a checksum per window):

* ``none``: no shift (the false-alarm rate);
* ``mean 0.1σ`` .. ``mean 1σ``: ``x0`` shifted by that many standard deviations;
* ``var x1.5``: the variance of ``x0`` multiplied by 1.5;
* ``swap c0``: the frequencies of ``c0``'s two most frequent categories swapped;
* ``k0 rate x1.5``: the rate of the count ``k0`` multiplied by 1.5 (1 to 1.5);
* ``4x 0.15σ``: ``x0..x3`` each shifted by 0.15σ (several features drift at once: here Holm
  flags more of them than Bonferroni; the share of the 4 found is printed).

A window *alarms* when at least one feature drifted:

* labline: KS (numeric) / chi-squared (categorical), Holm across the 11 features, α = 0.05;
* labline uncorrected: the same tests, any raw p < 0.05 (Evidently's per-column default);
* alibi-detect ``TabularDrift``: KS / chi-squared with its default Bonferroni, p_val = 0.05.

Accuracy without labels (pure covariate shift, the calibrated model): per window, the mean
confidence (labline's estimate) against the window's realized accuracy (labels drawn from the
unchanged logistic model); the mean absolute error over the windows of the shifted conditions,
beside the error of assuming the reference accuracy still holds.

Targets (issue 15): false alarms <= 5% of unshifted windows after the correction; power >= 0.8
at a 0.5σ mean shift with n = 1,000; estimated-accuracy MAE <= 0.02 under pure covariate shift.
The realized accuracy of a window of n rows itself scatters by about sqrt(acc (1 - acc) / n)
around its expectation (0.04 at n = 100), so the MAE target is read at n >= 1,000, and the MAE
against the window's *expected* accuracy (from the true label probabilities, no label noise)
is printed for every n.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

SEED = 20261207
REFERENCE_ROWS = 5000
TRAIN_ROWS = 50_000
SIZES = (100, 1000, 10_000)
NUMERIC = 8
C0_P = (0.4, 0.3, 0.2, 0.1)
C1_P = (0.5, 0.3, 0.2)
K0_RATE = 1.0
CATEGORICAL_COLUMNS = (NUMERIC + 1, NUMERIC + 2)
COEF = np.array([1.5, 1.0, -0.8])
CONDITIONS: dict[str, tuple[str, float]] = {
    "none": ("none", 0.0),
    "mean 0.1σ": ("mean", 0.1),
    "mean 0.25σ": ("mean", 0.25),
    "mean 0.5σ": ("mean", 0.5),
    "mean 1σ": ("mean", 1.0),
    "var x1.5": ("var", 1.5),
    "swap c0": ("swap", 0.0),
    "k0 rate x1.5": ("rate", 1.5),
    "4x 0.15σ": ("mean4", 0.15),
}
ALPHA = 0.05


# ------------------------------------------------------------- data (plain numpy: both venvs)


def draw(rng: np.random.Generator, n: int, kind: str = "none", amount: float = 0.0) -> Any:
    """``n`` rows (float64, 11 columns: x0..x7, k0, c0, c1) under one condition."""
    x = rng.normal(size=(n, NUMERIC))
    c0_p = np.array(C0_P)
    if kind == "mean":
        x[:, 0] += amount
    elif kind == "mean4":
        x[:, :4] += amount
    elif kind == "var":
        x[:, 0] *= np.sqrt(amount)
    elif kind == "swap":
        c0_p[[0, 1]] = c0_p[[1, 0]]
    k0 = rng.poisson(K0_RATE * (amount if kind == "rate" else 1.0), size=n)
    c0 = rng.choice(len(C0_P), size=n, p=c0_p)
    c1 = rng.choice(len(C1_P), size=n, p=np.array(C1_P))
    return np.column_stack([x, k0, c0, c1]).astype(np.float64)


def true_probability(rows: Any) -> Any:
    """P(y = 1 | x) of the label model (the same before and after a covariate shift)."""
    return 1 / (1 + np.exp(-(rows[:, :3] @ COEF)))


def window_seed(condition: str, n: int, index: int) -> list[int]:
    return [SEED, list(CONDITIONS).index(condition), n, index]


def window(condition: str, n: int, index: int) -> Any:
    kind, amount = CONDITIONS[condition]
    return draw(np.random.default_rng(window_seed(condition, n, index)), n, kind, amount)


def reference_rows() -> Any:
    return draw(np.random.default_rng([SEED, 1]), REFERENCE_ROWS)


def checksum(rows: Any) -> float:
    return float(np.round(rows.sum(), 6))


# ------------------------------------------------------------------------- alibi-detect side


def alibi_worker(spec_path: str) -> None:
    """Run in alibi-detect's venv: TabularDrift on every window; JSON lines on stdout."""
    import warnings

    warnings.filterwarnings("ignore")
    from alibi_detect.cd import TabularDrift

    spec = json.loads(Path(spec_path).read_text())
    ref = reference_rows().astype(np.float32)
    cats = {j: None for j in CATEGORICAL_COLUMNS}
    detector = TabularDrift(ref, p_val=ALPHA, categories_per_feature=cats)
    for condition, n, windows in spec["jobs"]:
        for i in range(windows):
            rows = window(condition, n, i)
            t0 = time.perf_counter()
            out = detector.predict(rows.astype(np.float32))
            dt = time.perf_counter() - t0
            flagged = int(np.sum(out["data"]["p_val"] < ALPHA / ref.shape[1]))
            print(
                json.dumps(
                    [condition, n, i, int(out["data"]["is_drift"]), flagged, checksum(rows), dt]
                ),
                flush=True,
            )


def alibi_python() -> str | None:
    given = os.environ.get("BENCH_ALIBI_PYTHON")
    if given:
        return given
    local = Path(__file__).resolve().parent.parent / ".venvs" / "alibi-detect" / "bin" / "python"
    return str(local) if local.is_file() else None


AlibiResults = dict[tuple[str, int, int], tuple[int, int, float, float]]


def run_alibi(jobs: list[tuple[str, int, int]]) -> AlibiResults | str:
    python = alibi_python()
    if python is None:
        return "not installed (BENCH_PEERS=1 bash scripts/setup.sh creates .venvs/alibi-detect)"
    probe = subprocess.run(
        [python, "-c", "import alibi_detect.cd"], capture_output=True, text=True, timeout=300
    )
    if probe.returncode != 0:
        return "does not import in its venv: " + probe.stderr.strip().splitlines()[-1][:200]
    with tempfile.TemporaryDirectory() as d:
        spec = Path(d) / "spec.json"
        spec.write_text(json.dumps({"jobs": jobs}))
        out = subprocess.run(
            [python, __file__, "--alibi-worker", str(spec)],
            capture_output=True,
            text=True,
            timeout=3600,
            env={**os.environ, "PYTHONPATH": "", "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
    if out.returncode != 0:
        return "failed: " + (out.stderr.strip().splitlines() or ["?"])[-1][:200]
    results = {}
    for line in out.stdout.splitlines():
        condition, n, i, drift, flagged, total, dt = json.loads(line)
        results[(condition, n, i)] = (drift, flagged, total, dt)
    return results


# ------------------------------------------------------------------------------ labline side


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--windows", type=int, default=200, help="windows per condition and size (5x unshifted)"
    )
    parser.add_argument("--alibi-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.alibi_worker:
        alibi_worker(args.alibi_worker)
        return

    from sklearn.linear_model import LogisticRegression

    from labline.core._profile import build_profile
    from labline.core.stats import drift_report
    from labline.core.stats._agreement import wilson_interval

    started = time.perf_counter()
    names = [f"x{j}" for j in range(NUMERIC)] + ["k0", "c0", "c1"]

    def columns(rows: Any) -> dict[str, Any]:
        cols = {names[j]: rows[:, j] for j in range(NUMERIC + 1)}
        cols["c0"] = rows[:, NUMERIC + 1].astype(np.int64)
        cols["c1"] = rows[:, NUMERIC + 2].astype(np.int64)
        return cols

    rng = np.random.default_rng([SEED, 0])
    train = draw(rng, TRAIN_ROWS)
    y_train = rng.random(TRAIN_ROWS) < true_probability(train)
    model = LogisticRegression(max_iter=1000).fit(train, y_train)
    ref = reference_rows()
    y_ref = np.random.default_rng([SEED, 2]).random(REFERENCE_ROWS) < true_probability(ref)
    proba = model.predict_proba(ref)
    profile = build_profile(
        columns(ref),
        model.predict(ref),
        proba,
        classes=tuple(model.classes_.tolist()),
        labels=y_ref,
    )
    reference_accuracy = profile.accuracy
    assert reference_accuracy is not None
    print(
        f"reference: {REFERENCE_ROWS} rows, 11 features (9 numeric, one of them tied counts; 2 categorical); "
        f"{args.windows} windows per condition and size; α = {ALPHA}"
    )
    print(
        f"model: logistic regression (calibrated by construction), reference accuracy "
        f"{reference_accuracy:.3f}, expected from confidence {profile.expected_accuracy:.3f}\n"
    )

    # the false-alarm rate is the figure closest to its bound: 5x the windows for it
    jobs = [(c, n, args.windows * (5 if c == "none" else 1)) for c in CONDITIONS for n in SIZES]
    labline_alarm: dict[tuple[str, int], list[int]] = {}
    raw_alarm: dict[tuple[str, int], list[int]] = {}
    flagged: dict[tuple[str, int], list[int]] = {}
    acc_err: dict[tuple[str, int], list[float]] = {}
    acc_err_expected: dict[tuple[str, int], list[float]] = {}
    stay_err: dict[tuple[str, int], list[float]] = {}
    seconds: list[float] = []
    sums: dict[tuple[str, int, int], float] = {}
    label_rng = np.random.default_rng([SEED, 3])
    for condition, n, windows in jobs:
        for i in range(windows):
            rows = window(condition, n, i)
            sums[(condition, n, i)] = checksum(rows)
            predictions = model.predict(rows)
            p = model.predict_proba(rows)
            t0 = time.perf_counter()
            report = drift_report(
                profile,
                columns(rows),
                predictions=predictions,
                proba=p,
                classes=tuple(model.classes_.tolist()),
                alpha=ALPHA,
            )
            seconds.append(time.perf_counter() - t0)
            key = (condition, n)
            labline_alarm.setdefault(key, []).append(int(bool(report.drifted)))
            raw_alarm.setdefault(key, []).append(
                int(any(f.p_value < ALPHA for f in report.features))
            )
            flagged.setdefault(key, []).append(len(report.drifted))
            assert report.accuracy is not None
            truth = true_probability(rows)
            labels = label_rng.random(n) < truth
            realized = float(np.mean(predictions == labels))
            expected = float(np.mean(np.where(predictions, truth, 1 - truth)))
            acc_err.setdefault(key, []).append(abs(report.accuracy.value - realized))
            acc_err_expected.setdefault(key, []).append(abs(report.accuracy.value - expected))
            stay_err.setdefault(key, []).append(abs(reference_accuracy - realized))
    labline_seconds = time.perf_counter() - started

    t0 = time.perf_counter()
    alibi = run_alibi(jobs)
    alibi_wall = time.perf_counter() - t0
    alibi_alarm: dict[tuple[str, int], list[int]] = {}
    alibi_flagged: dict[tuple[str, int], list[int]] = {}
    alibi_seconds: list[float] = []
    if isinstance(alibi, dict):
        for (condition, n, i), (drift, found, total, dt) in alibi.items():
            if abs(total - sums[(condition, n, i)]) > 1e-3 * max(1.0, abs(total)):
                raise SystemExit(f"alibi saw another window: {condition} n={n} #{i}")
            alibi_alarm.setdefault((condition, n), []).append(drift)
            alibi_flagged.setdefault((condition, n), []).append(found)
            alibi_seconds.append(dt)
        if len(alibi) != len(sums):
            raise SystemExit("alibi-detect answered fewer windows than asked")

    def rate(table: dict[tuple[str, int], list[int]], key: tuple[str, int]) -> str:
        values = table.get(key)
        return "   -  " if not values else f"{np.mean(values):6.3f}"

    print("share of windows that alarm (false alarms for 'none', power otherwise):")
    header = f"  {'condition':<11} {'n':>6}   {'labline':>7} {'alibi':>7} {'uncorr.':>7}"
    print(header)
    for condition in CONDITIONS:
        for n in SIZES:
            key = (condition, n)
            print(
                f"  {condition:<11} {n:>6}   {rate(labline_alarm, key):>7} "
                f"{rate(alibi_alarm, key):>7} {rate(raw_alarm, key):>7}"
            )
    print("\nseveral features drifting (4x 0.15σ): share of the 4 shifted features flagged")
    for n in SIZES:
        key = ("4x 0.15σ", n)
        line = f"  n = {n:>6,}: labline (Holm) {np.mean(flagged[key]) / 4:.3f}"
        if alibi_flagged:
            line += f"   alibi (Bonferroni) {np.mean(alibi_flagged[key]) / 4:.3f}"
        print(line)
    shifted = [c for c, (kind, _) in CONDITIONS.items() if kind in ("mean", "mean4", "var")]
    print(
        "\nestimated accuracy (mean confidence) under pure covariate shift (x0 or x0..x3 shifted):"
    )
    print(f"  {'n':>6}   {'MAE vs realized':>15} {'vs expected':>11} {'reference acc.':>14}")
    for n in SIZES:
        mae = statistics.fmean(e for c in shifted for e in acc_err[(c, n)])
        mae_exp = statistics.fmean(e for c in shifted for e in acc_err_expected[(c, n)])
        stay = statistics.fmean(e for c in shifted for e in stay_err[(c, n)])
        print(f"  {n:>6}   {mae:15.4f} {mae_exp:11.4f} {stay:14.4f}")

    fa = max(np.mean(labline_alarm[("none", n)]) for n in SIZES)
    pooled = [a for n in SIZES for a in labline_alarm[("none", n)]]
    lo, hi = wilson_interval(sum(pooled), len(pooled))
    power = float(np.mean(labline_alarm[("mean 0.5σ", 1000)]))
    mae_1000 = max(
        statistics.fmean(e for c in shifted for e in acc_err[(c, n)]) for n in SIZES if n >= 1000
    )
    mae_exp_all = max(
        statistics.fmean(e for c in shifted for e in acc_err_expected[(c, n)]) for n in SIZES
    )
    print("\ntargets (labline; alibi-detect's TabularDrift on the same windows beside it):")
    line = f"  false alarms, worst n:          {fa:.3f}  [<= 0.05]"
    if alibi_alarm:
        line += f"   alibi {max(np.mean(alibi_alarm[('none', n)]) for n in SIZES):.3f}"
    print(line)
    print(
        f"  false alarms, all sizes pooled: {np.mean(pooled):.3f}  "
        f"(95% CI [{lo:.3f}, {hi:.3f}], {len(pooled)} windows)"
    )
    line = f"  power at 0.5σ, n = 1,000:       {power:.3f}  [>= 0.8]"
    if alibi_alarm:
        line += f"   alibi {np.mean(alibi_alarm[('mean 0.5σ', 1000)]):.3f}"
    print(line)
    for n in SIZES:
        if alibi_alarm:
            ratio = np.mean(labline_alarm[("mean 0.25σ", n)]) / max(
                np.mean(alibi_alarm[("mean 0.25σ", n)]), 1e-9
            )
            print(f"  power at 0.25σ, n = {n:>6,}:  labline / alibi = {ratio:.2f}x")
    print(f"  accuracy MAE, n >= 1,000:       {mae_1000:.4f}  [<= 0.02] (vs realized accuracy)")
    print(f"  accuracy MAE vs expected, any n: {mae_exp_all:.4f}")
    med = statistics.median(seconds) * 1000
    print(f"\ntime per window (median over all sizes): labline {med:.2f} ms", end="")
    if alibi_seconds:
        amed = statistics.median(alibi_seconds) * 1000
        print(f", alibi-detect {amed:.2f} ms (labline / alibi = {med / amed:.2f}x)")
    else:
        print(f"; alibi-detect {alibi}")
    print(
        f"(labline part {labline_seconds:.0f} s, alibi part {alibi_wall:.0f} s; "
        f"1-min load average {os.getloadavg()[0]:.1f}, cpus={os.cpu_count()}, machine shared)"
    )


if __name__ == "__main__":
    sys.exit(main())
