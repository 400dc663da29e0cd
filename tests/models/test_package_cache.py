"""The local package cache (``<home>/packages/<digest>``): verified while written, rebuilt when
a cached copy no longer verifies, never left behind by a failed load."""

from __future__ import annotations

from pathlib import Path

import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import labline
from labline import DigestMismatchError
from labline.serving import RegistryModelSource

X, Y = load_iris(return_X_y=True)


@pytest.fixture
def settings(tmp_path: Path) -> labline.Settings:
    return labline.Settings.local(tmp_path / "home")


@pytest.fixture
def client(settings: labline.Settings) -> labline.Client:
    return labline.Client(settings)


def _log(settings: labline.Settings) -> labline.models.ModelVersion:
    with labline.start_run("iris", settings=settings, capture_env=False) as run:
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, Y)
        return run.log_model(model, name="iris", input_example=X[:3], eval_inputs=X)  # type: ignore[no-any-return]


def _flip_byte(path: Path, at: int = 100) -> bytes:
    """Corrupt one byte of ``path`` in place; return the original content."""
    original = path.read_bytes()
    data = bytearray(original)
    data[at] ^= 0xFF
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    return original


def _cache_entries(settings: labline.Settings) -> list[Path]:
    cache = Path(settings.home) / "packages"
    return sorted(cache.iterdir()) if cache.is_dir() else []


def test_a_load_that_met_a_corrupt_store_blob_leaves_nothing_behind(
    settings: labline.Settings, client: labline.Client
) -> None:
    v1 = _log(settings)
    weights = client.get_manifest(v1.digest).file("weights/model.skops")
    blob = client.blobs.local_path(weights.sha256)
    assert blob is not None
    good = _flip_byte(blob)

    with pytest.raises(DigestMismatchError) as exc:
        labline.load_model("iris/1", settings=settings)
    # the error names the file of the package and where the bad bytes are on disk
    assert exc.value.path == "weights/model.skops" and exc.value.expected == weights.sha256
    assert str(blob) in str(exc.value)
    assert _cache_entries(settings) == []  # no copy (and no temporary folder) was kept

    blob.write_bytes(good)  # the store is repaired: everything works without manual cleanup
    assert labline.load_model("iris/1", settings=settings).predict(X[:5]).tolist() == Y[:5].tolist()
    promotion = client.promote("iris", 1, "production")
    assert promotion.parity is not None and promotion.parity.passed
    served = RegistryModelSource("iris@production", labline.Client(settings)).load()
    assert served.digest == v1.digest


def test_a_cached_copy_that_no_longer_verifies_is_rebuilt_from_the_store(
    settings: labline.Settings, client: labline.Client
) -> None:
    v1 = _log(settings)
    labline.load_model("iris/1", settings=settings)
    [folder] = _cache_entries(settings)
    _flip_byte(folder / "weights" / "model.skops")
    (folder / "parity" / "labels.npy").unlink()

    model = labline.load_model("iris/1", settings=settings)
    assert model.digest == v1.digest and model.predict(X[:5]).tolist() == Y[:5].tolist()
    assert _cache_entries(settings) == [folder]

    # the parity gate replays from the cache too: a copy altered after the first load is
    # discarded and rebuilt before the replay, instead of failing the promotion
    _flip_byte(folder / "weights" / "model.skops")
    promotion = client.promote("iris", 1, "production")
    assert promotion.parity is not None and promotion.parity.passed


def test_when_both_copies_are_bad_the_error_names_the_store_blob(
    settings: labline.Settings, client: labline.Client
) -> None:
    v1 = _log(settings)
    labline.load_model("iris/1", settings=settings)
    [folder] = _cache_entries(settings)
    _flip_byte(folder / "weights" / "model.skops")
    weights = client.get_manifest(v1.digest).file("weights/model.skops")
    blob = client.blobs.local_path(weights.sha256)
    assert blob is not None
    _flip_byte(blob, at=200)
    with pytest.raises(DigestMismatchError) as exc:
        labline.load_model("iris/1", settings=settings)
    assert str(blob) in str(exc.value)
    assert _cache_entries(settings) == []


def test_a_bad_cached_copy_fails_a_folder_load_naming_its_path(
    settings: labline.Settings, client: labline.Client
) -> None:
    v1 = _log(settings)
    folder = client.package_dir(v1.digest)
    target = folder / "weights" / "model.skops"
    _flip_byte(target)
    with pytest.raises(DigestMismatchError) as exc:
        labline.load_model(folder)  # a folder given by the user is never repaired
    assert str(target) in str(exc.value)
