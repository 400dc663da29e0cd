"""Content-addressed blobs on a local folder and on an fsspec URL."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import labline
from labline.artifacts import BlobStore


@pytest.fixture(params=["local", "memory"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return BlobStore(str(tmp_path / "blobs"))
    import uuid

    return BlobStore(f"memory://labline-test-{uuid.uuid4().hex}")


def test_put_get_dedup(blobs: BlobStore, tmp_path: Path) -> None:
    d1 = blobs.put_bytes(b"weights")
    assert d1 == hashlib.sha256(b"weights").hexdigest()
    assert blobs.put_bytes(b"weights") == d1 and blobs.exists(d1)
    f = tmp_path / "w.bin"
    f.write_bytes(b"weights")
    assert blobs.put_file(f) == d1
    assert blobs.get_bytes(d1) == b"weights"
    blobs.verify(d1)
    with pytest.raises(labline.NotFoundError, match="no blob"):
        blobs.get_bytes("0" * 64)
    with pytest.raises(labline.InvalidArgumentError, match="not a SHA-256"):
        blobs.get_bytes("../../etc/passwd")


def test_verify_detects_tampering(tmp_path: Path) -> None:
    blobs = BlobStore(str(tmp_path))
    d = blobs.put_bytes(b"abc")
    p = blobs.local_path(d)
    assert p is not None
    p.write_bytes(b"abd")
    with pytest.raises(labline.DigestMismatchError, match=d):
        blobs.verify(d)


def test_settings_from_env(tmp_path: Path) -> None:
    s = labline.Settings.from_env({"LABLINE_HOME": str(tmp_path)})
    assert s.uri == f"sqlite:///{tmp_path}/labline.db" and s.artifact_uri == f"{tmp_path}/blobs"
    s = labline.Settings.from_env(
        {"LABLINE_URI": "postgresql+psycopg://u@h/db", "LABLINE_ARTIFACT_URI": "s3://b/p"}
    )
    assert (s.uri, s.artifact_uri) == ("postgresql+psycopg://u@h/db", "s3://b/p")
    with pytest.raises(labline.InvalidArgumentError, match="not supported"):
        labline.Client(labline.Settings(home=tmp_path, uri="mysql://x", artifact_uri=str(tmp_path)))
