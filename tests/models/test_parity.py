"""The parity gate: replay of the recorded evaluation inputs in a fresh interpreter."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import numpy as np
import pytest

from labline import ParityError
from labline.models import load_package, write_package
from labline.models._parity import check_parity, replay_in_subprocess, require_parity

SOURCE = """
    import numpy as np

    class Scorer:
        classes_ = np.array(["neg", "pos"])

        def __init__(self, w):
            self.w = np.asarray(w, dtype=float)

        def _p(self, batch):
            z = np.asarray(batch, dtype=float) @ self.w {tweak}
            return 1.0 / (1.0 + np.exp(-z))

        def predict(self, batch):
            return np.where(self._p(batch) > 0.5, "pos", "neg")

        def predict_proba(self, batch):
            p = self._p(batch)
            return np.column_stack([1 - p, p])
    """

RNG = np.random.default_rng(0)
EVAL = RNG.normal(size=(200, 3))


def _digest(folder: Path) -> str:
    return "sha256:" + hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()


def _log_with_source_on_disk(make_module, tmp_path: Path, tweak: str) -> Path:  # type: ignore[no-untyped-def]
    """Train with the original code, then package while the file on disk says ``tweak``."""
    mod = make_module(SOURCE.format(tweak=""))
    model = mod.Scorer([1.0, -2.0, 0.5])
    path = make_module.dir / f"{mod.__name__}.py"
    path.write_text(textwrap.dedent(SOURCE.format(tweak=tweak)))
    folder = tmp_path / "pkg"
    write_package(model, folder, name="scorer", input_example=EVAL[:2], eval_inputs=EVAL)
    return folder


def test_unchanged_model_passes_in_a_fresh_interpreter(tmp_path: Path, make_module) -> None:  # type: ignore[no-untyped-def]
    folder = _log_with_source_on_disk(make_module, tmp_path, tweak="")
    report = replay_in_subprocess(folder, _digest(folder))
    assert report.passed, report.summary()
    assert report.n == 200 and report.n_differing == 0 and report.max_abs_diff == 0.0
    require_parity(report)  # does not raise


def test_code_changed_after_training_is_blocked(tmp_path: Path, make_module) -> None:  # type: ignore[no-untyped-def]
    folder = _log_with_source_on_disk(make_module, tmp_path, tweak="+ 0.3")
    report = replay_in_subprocess(folder, _digest(folder))
    assert not report.passed and report.error is None
    assert report.n_differing == 200  # every probability moved
    assert report.first and report.first[0].max_proba_diff > 1e-6
    assert report.max_abs_diff == pytest.approx(
        max(d.max_proba_diff for d in report.first), abs=0.1
    )
    assert report.max_abs_diff < 0.1  # sigmoid(z + 0.3) - sigmoid(z) <= 0.075
    with pytest.raises(ParityError, match=r"parity failed: \d+ of 200 examples differ"):
        require_parity(report)


def test_tolerance_is_configurable(tmp_path: Path, make_module) -> None:  # type: ignore[no-untyped-def]
    folder = _log_with_source_on_disk(make_module, tmp_path, tweak="+ 1e-9")
    model = load_package(folder)
    strict = check_parity(model, tolerance=1e-12)
    assert not strict.passed and strict.max_abs_diff < 1e-8
    assert check_parity(model).passed  # default 1e-6
    assert replay_in_subprocess(folder, _digest(folder), tolerance=1e-6).passed


def test_replay_reports_a_package_that_cannot_load(tmp_path: Path, make_module) -> None:  # type: ignore[no-untyped-def]
    folder = _log_with_source_on_disk(make_module, tmp_path, tweak="")
    report = replay_in_subprocess(folder, "sha256:" + "0" * 64)
    assert not report.passed
    assert report.error is not None and "DigestMismatchError" in report.error
    assert "parity replay failed" in report.summary()


def test_torch_package_passes_parity_in_a_fresh_interpreter(tmp_path: Path, make_module) -> None:  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch")
    mod = make_module(
        """
        import torch

        class Net(torch.nn.Module):
            def __init__(self, n_in, n_out):
                super().__init__()
                self.n_in, self.n_out = n_in, n_out
                self.lin = torch.nn.Linear(n_in, n_out)
            def forward(self, x):
                return self.lin(x)
        """
    )
    torch.manual_seed(1)
    x = EVAL.astype(np.float32)
    folder = tmp_path / "pkg"
    write_package(
        mod.Net(3, 4),
        folder,
        name="net",
        input_example=x[:2],
        eval_inputs=x,
        classes=["a", "b", "c", "d"],
    )
    report = replay_in_subprocess(folder, _digest(folder))
    assert report.passed, report.summary()
    assert report.n == 200
