"""Package verification throughput vs. raw ``hashlib.sha256`` on the same bytes.

Run: ``.venv/bin/python benchmarks/bench_hashing.py [--mb 256] [--reps 5]``

Two packages are written to a temp folder: a PyTorch module whose safetensors weights are
about ``--mb`` MiB, and a scikit-learn model whose skops file is about ``--mb``/4 MiB. For each,
the figure is :func:`labline.models.read_verified` (manifest + every file checked against its
SHA-256, what every load does) and the floor is ``hashlib.sha256`` over the same files' bytes
already in memory. Runs alternate between the two, files are warm in the page cache for both,
and medians are reported. Target: verification >= 80% of hashlib's throughput.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from labline.models import read_verified, write_package

TORCH_MODULE = """
import torch

class Wide(torch.nn.Module):
    def __init__(self, n_in, width, n_layers):
        super().__init__()
        self.n_in, self.width, self.n_layers = n_in, width, n_layers
        layers = [torch.nn.Linear(n_in, width)]
        layers += [torch.nn.Linear(width, width) for _ in range(n_layers - 1)]
        self.layers = torch.nn.ModuleList(layers)

    def forward(self, x):
        for layer in self.layers:
            x = torch.relu(layer(x))
        return x
"""


def _median_seconds(fn: Callable[[], object], reps: int) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _measure(name: str, folder: Path, reps: int) -> float:
    manifest_bytes = (folder / "manifest.json").read_bytes()
    blobs = [manifest_bytes] + [
        (folder / f.path).read_bytes() for f in read_verified(folder).manifest.files
    ]
    total = sum(len(b) for b in blobs)

    def raw() -> None:
        for b in blobs:
            hashlib.sha256(b).hexdigest()

    ours_t, raw_t = [], []
    for _ in range(reps):  # alternate so machine noise hits both alike
        raw_t.append(_median_seconds(raw, 1))
        ours_t.append(_median_seconds(lambda: read_verified(folder), 1))
    ours, floor = statistics.median(ours_t), statistics.median(raw_t)
    mb = total / 2**20
    ratio = floor / ours
    print(
        f"{name:<28} {mb:8.1f} MiB  verify {mb / ours:8.1f} MiB/s   "
        f"hashlib.sha256 {mb / floor:8.1f} MiB/s   ratio {ratio:6.1%}"
    )
    return ratio


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=256, help="size of the torch weights in MiB")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ratios = []
        try:
            import torch
        except ImportError:
            torch = None
        if torch is not None:
            (root / "src").mkdir()
            (root / "src" / "bench_wide.py").write_text(textwrap.dedent(TORCH_MODULE))
            sys.path.insert(0, str(root / "src"))
            mod = importlib.import_module("bench_wide")
            width = 2048
            n_layers = max(1, args.mb * 2**20 // (width * width * 4))
            net = mod.Wide(64, width, n_layers)
            write_package(
                net, root / "torch", name="wide", input_example=np.zeros((2, 64), np.float32)
            )
            ratios.append(_measure("torch (safetensors)", root / "torch", args.reps))
        from sklearn.ensemble import RandomForestClassifier

        rng = np.random.default_rng(0)
        n = max(2000, args.mb * 120)
        x = rng.normal(size=(n, 8))
        y = (x[:, 0] + rng.normal(size=n) > 0).astype(int)
        forest = RandomForestClassifier(n_estimators=40, random_state=0, n_jobs=1).fit(x, y)
        write_package(forest, root / "sklearn", name="forest", input_example=x[:2])
        ratios.append(_measure("scikit-learn (skops)", root / "sklearn", args.reps))
    worst = min(ratios)
    print(f"worst ratio {worst:.1%} (target >= 80%): {'PASS' if worst >= 0.8 else 'BELOW TARGET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
