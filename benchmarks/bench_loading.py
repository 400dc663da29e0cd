"""Verified loading vs. hashing plus an unverified load of the same model.

Run: ``.venv/bin/python benchmarks/bench_loading.py [--mb 400] [--repeats 3]``
(``--mb 40`` for a quick run).

Two models of about ``--mb`` MB are written once into ``--workdir`` (reused by later runs):
a PyTorch MLP packaged with safetensors weights, and a scikit-learn random forest packaged
with skops (also saved with ``mlflow.sklearn.save_model``). Every contender then runs in a
fresh interpreter that imports its libraries first (not timed) and times only the load; the
process's peak RSS during the load (``VmHWM`` after resetting it through
``/proc/self/clear_refs``) and how much it grew over the RSS just before the load are reported. Contenders
are interleaved (the order rotates every round), files are warm in the page cache for all of
them, and medians over ``--repeats`` rounds are quoted.

Contenders:

torch      sha256                 ``hashlib.sha256`` over the weights file, one pass
           safetensors.load_file  ``safetensors.torch.load_file``: the unverified load
           labline verified       ``labline.models.load_package``: manifest and every file
                                  verified, module built, weights loaded
sklearn    sha256                 as above, over the skops file
           skops.io.load          the unverified load (trusted types given)
           mlflow.sklearn         ``mlflow.sklearn.load_model`` of the same forest (saved in
                                  mlflow's default format, skops, no verification)
           labline verified       as above

Target (issue 16): labline verified <= 1.1 x (sha256 + the unverified load) in time, and its
peak RSS <= 1.1 x the unverified load's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TORCH_MODULE = """
import torch

class Wide(torch.nn.Module):
    def __init__(self, n_in, width, n_layers):
        super().__init__()
        self.n_in, self.width, self.n_layers = n_in, width, n_layers
        layers = [torch.nn.Linear(n_in, width)]
        layers += [torch.nn.Linear(width, width) for _ in range(n_layers - 1)]
        self.layers = torch.nn.ModuleList(layers)
        self.head = torch.nn.Linear(width, 2)

    def forward(self, x):
        for layer in self.layers:
            x = torch.relu(layer(x))
        return self.head(x)
"""

CONTENDERS = {
    "torch": ("sha256", "safetensors.load_file", "labline verified"),
    "sklearn": ("sha256", "skops.io.load", "mlflow.sklearn", "labline verified"),
}
_LAYOUT = 2  # bump when the models built change, so that --workdir is rebuilt
UNVERIFIED = {"torch": "safetensors.load_file", "sklearn": "skops.io.load"}


# ---------------------------------------------------------------------------- setup (once)


def _build_torch(work: Path, mb: int) -> None:
    import numpy as np
    import torch

    from labline.models import write_package

    src = work / "src"
    src.mkdir(parents=True, exist_ok=True)
    (src / "bench_wide.py").write_text(TORCH_MODULE)
    sys.path.insert(0, str(src))
    import bench_wide

    n_layers = 5  # 4 square layers hold the weight
    width = int((mb * 1e6 / 4 / (n_layers - 1)) ** 0.5)
    torch.manual_seed(0)
    net = bench_wide.Wide(8, width, n_layers)
    x = np.random.default_rng(0).normal(size=(16, 8)).astype(np.float32)
    write_package(net, work / "torch_pkg", name="wide", input_example=x, classes=[0, 1])


def _build_sklearn(work: Path, mb: int) -> None:
    import mlflow.sklearn
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier

    from labline.models import write_package

    # random labels grow every tree to purity: with 60,000 samples a tree takes about 1.8 MB
    # in the skops file (node records and class counts)
    rng = np.random.default_rng(0)
    n_samples = 60_000
    n_trees = max(2, round(mb * 1e6 / 1.8e6))
    X = rng.normal(size=(n_samples, 10))
    y = rng.integers(0, 2, size=n_samples)
    forest = RandomForestClassifier(n_estimators=n_trees, n_jobs=2, random_state=0).fit(X, y)
    write_package(forest, work / "sklearn_pkg", name="forest", input_example=X[:4])
    # mlflow's default format (skops here), trusting the tree type as its docs tell users to
    mlflow.sklearn.save_model(
        forest, str(work / "sklearn_mlflow"), skops_trusted_types=["sklearn.tree._tree.Tree"]
    )


def _setup(work: Path, mb: int) -> dict[str, Any]:
    info_path = work / "info.json"
    if info_path.is_file():
        info: dict[str, Any] = json.loads(info_path.read_text())
        if info.get("mb") == mb and info.get("layout") == _LAYOUT:
            return info
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    print(f"building the models (~{mb} MB each) in {work} ...", file=sys.stderr)
    _build_torch(work, mb)
    _build_sklearn(work, mb)
    import skops.io as sio

    from labline.models import read_verified

    info = {"mb": mb, "layout": _LAYOUT}
    for fmt, weights in (("torch", "model.safetensors"), ("sklearn", "model.skops")):
        pkg = read_verified(work / f"{fmt}_pkg")
        info[fmt] = {
            "digest": pkg.digest,
            "weights": str(work / f"{fmt}_pkg" / "weights" / weights),
            "bytes": (work / f"{fmt}_pkg" / "weights" / weights).stat().st_size,
        }
    info["sklearn"]["trusted"] = sio.get_untrusted_types(file=info["sklearn"]["weights"])
    info_path.write_text(json.dumps(info))
    return info


# ---------------------------------------------------------------------------- one measurement


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1e3
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak_rss() -> bool:
    """Reset the process's peak RSS (Linux >= 4.0), so that it measures the load alone."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _worker(fmt: str, contender: str, work: Path) -> None:
    """Runs in a fresh interpreter: import, then time one load; print one JSON line."""
    info = json.loads((work / "info.json").read_text())[fmt]
    weights = info["weights"]
    if fmt == "torch":
        import safetensors.torch
        import torch  # noqa: F401

        sys.path.insert(0, str(work / "src"))  # plain loads import the class the usual way
    else:
        import sklearn.ensemble  # noqa: F401
        import skops.io

        if contender == "mlflow.sklearn":
            import mlflow.sklearn
    import labline.models

    def sha256() -> object:
        h = hashlib.sha256()
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        with open(weights, "rb", buffering=0) as f:
            while n := f.readinto(buf):
                h.update(view[:n])
        return h.hexdigest()

    loads = {
        "sha256": sha256,
        "safetensors.load_file": lambda: safetensors.torch.load_file(weights),
        "skops.io.load": lambda: skops.io.load(weights, trusted=info.get("trusted")),
        "mlflow.sklearn": lambda: mlflow.sklearn.load_model(str(work / "sklearn_mlflow")),
        "labline verified": lambda: labline.models.load_package(
            work / f"{fmt}_pkg", expected_digest=info["digest"]
        ),
    }
    load = loads[contender]
    reset = _reset_peak_rss()
    before = _status_mb("VmRSS")
    t = time.perf_counter()
    obj = load()
    seconds = time.perf_counter() - t
    if reset:
        peak = _status_mb("VmHWM")
    else:  # the peak of the whole process, imports included
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    del obj
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "before_mb": before}))


def _measure(fmt: str, contender: str, work: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", fmt, contender, "--workdir", str(work)],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"{fmt} / {contender} failed:\n{proc.stderr[-2000:]}")
    out: dict[str, float] = json.loads(lines[-1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=400, help="model size in MB (default 400)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--worker", nargs=2, metavar=("FORMAT", "CONTENDER"))
    args = parser.parse_args()
    work = args.workdir or Path(os.environ.get("TMPDIR", "/tmp")) / f"labline-bench-load-{args.mb}"
    if args.worker:
        _worker(args.worker[0], args.worker[1], work)
        return
    info = _setup(work, args.mb)
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    for fmt, names in CONTENDERS.items():
        for name in names:  # warm the page cache (and import caches) before measuring
            _measure(fmt, name, work)
        for rnd in range(args.repeats):
            order = names[rnd % len(names) :] + names[: rnd % len(names)]
            for name in order:
                runs.setdefault((fmt, name), []).append(_measure(fmt, name, work))

    def med(fmt: str, name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[(fmt, name)])

    print(f"median of {args.repeats} fresh processes per contender, warm page cache")
    for fmt, names in CONTENDERS.items():
        size = info[fmt]["bytes"] / 1e6
        print(f"\n{fmt}: weights file {size:.0f} MB")
        print(f"  {'contender':24s} {'seconds':>8s} {'peak RSS MB':>12s} {'RSS growth MB':>14s}")
        for name in names:
            s = med(fmt, name, "seconds")
            peak = med(fmt, name, "peak_mb")
            grew = statistics.median(r["peak_mb"] - r["before_mb"] for r in runs[(fmt, name)])
            print(f"  {name:24s} {s:8.3f} {peak:12.0f} {grew:14.0f}")
        plain = UNVERIFIED[fmt]
        floor = med(fmt, "sha256", "seconds") + med(fmt, plain, "seconds")
        ours = med(fmt, "labline verified", "seconds")
        mem = med(fmt, "labline verified", "peak_mb") / med(fmt, plain, "peak_mb")
        print(
            f"  labline verified / (sha256 + {plain}): {ours:.3f} / {floor:.3f} s = "
            f"{ours / floor:.2f}x (target <= 1.10x)"
        )
        print(f"  peak RSS labline verified / {plain}: {mem:.2f}x (target <= 1.10x)")
        if fmt == "sklearn":
            mlf = med(fmt, "mlflow.sklearn", "seconds")
            print(f"  labline verified / mlflow.sklearn.load_model: {ours / mlf:.2f}x in time")


if __name__ == "__main__":
    main()
