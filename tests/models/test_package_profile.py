"""The reference profile inside a model package: written from the evaluation data, covered by
the manifest and the digest, and optional (older packages load without one)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from labline import DigestMismatchError
from labline.core._profile import PROFILE_FILE
from labline.models import Manifest, load_package, read_verified, write_package


@pytest.fixture
def iris_pkg(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    X, y = load_iris(return_X_y=True)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    X, y = X[order], y[order]
    model = LogisticRegression(max_iter=500).fit(X[:100], y[:100])
    folder = tmp_path / "pkg"
    write_package(
        model, folder, name="iris", input_example=X[:3], eval_inputs=X[100:], eval_labels=y[100:]
    )
    return folder, X, y


def test_the_profile_describes_the_evaluation_data(iris_pkg) -> None:  # type: ignore[no-untyped-def]
    folder, X, y = iris_pkg
    model = load_package(folder)
    profile = model.reference_profile
    assert profile is not None
    assert model.manifest.profile == PROFILE_FILE
    assert PROFILE_FILE in {f.path for f in model.manifest.files}
    assert profile.n == 50
    assert [f.name for f in profile.features] == [f"input[{j}]" for j in range(4)]
    first = profile.features[0]
    assert first.kind == "numeric" and first.exact
    assert list(first.points) == sorted(X[100:, 0].tolist())
    preds = model.predict(X[100:])
    assert profile.accuracy == pytest.approx(float(np.mean(preds == y[100:])))
    proba = model.predict_proba(X[100:])
    assert profile.expected_accuracy == pytest.approx(float(proba.max(axis=1).mean()))
    assert profile.predictions is not None and profile.predictions.kind == "categorical"


def test_a_tampered_profile_is_refused(iris_pkg) -> None:  # type: ignore[no-untyped-def]
    folder, _, _ = iris_pkg
    path = folder / PROFILE_FILE
    doc = json.loads(path.read_text())
    doc["n"] = 10_000
    path.write_text(json.dumps(doc))
    with pytest.raises(DigestMismatchError) as e:
        load_package(folder)
    assert PROFILE_FILE in str(e.value)


def test_a_package_without_a_profile_keeps_its_bytes_and_loads(iris_pkg) -> None:  # type: ignore[no-untyped-def]
    folder, X, _ = iris_pkg
    manifest = read_verified(folder).manifest
    (folder / PROFILE_FILE).unlink()
    old = Manifest(
        **{
            **manifest.__dict__,
            "profile": None,
            "files": tuple(f for f in manifest.files if f.path != PROFILE_FILE),
        }
    )
    assert "profile" not in old.to_json()  # the manifest of an older package, byte for byte
    (folder / "manifest.json").write_bytes(old.canonical_bytes())
    model = load_package(folder, expected_digest=old.digest)
    assert model.reference_profile is None
    assert model.predict(X[:2]).shape == (2,)
