"""Re-hashing the store's blobs: ``Client.verify_models``, ``Client.verify_blobs`` and
``labline models verify``, which catch rot that loads (checking the local copy) cannot see."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import labline

X, Y = load_iris(return_X_y=True)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    settings = labline.Settings.local(tmp_path / "home")
    for c in (1.0, 0.1):
        with labline.start_run("iris", settings=settings, capture_env=False) as run:
            run.log_model(
                LogisticRegression(C=c, max_iter=500).fit(X, Y), name="iris", input_example=X[:2]
            )
    return tmp_path / "home"


def _client(home: Path) -> labline.Client:
    return labline.Client(labline.Settings.local(home))


def _blob(client: labline.Client, digest: str) -> Path:
    path = client.blobs.local_path(digest)
    assert path is not None
    return path


def _rot(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.chmod(0o644)
    path.write_bytes(bytes(data))


def test_rot_in_the_store_after_a_first_load_is_reported_by_verify(home: Path) -> None:
    client = _client(home)
    v1, v2 = client.list_model_versions("iris")
    manifest = client.get_manifest(v1.digest)
    all_files = {f.sha256 for v in (v1, v2) for f in client.get_manifest(v.digest).files}
    expected_checked = len(all_files | {v1.digest[7:], v2.digest[7:]})
    assert client.verify_models("iris") == labline.BlobVerification(expected_checked, ())
    client.load_model("iris/1")  # the local copy is built (and verified)

    weights = manifest.file("weights/model.skops")
    _rot(_blob(client, weights.sha256))
    labels = manifest.file(manifest.parity["labels"])  # type: ignore[index]
    _blob(client, labels.sha256).unlink()
    # the load checks the local copy it loads, which is still intact
    assert client.load_model("iris/1").digest == v1.digest

    report = client.verify_models("iris")
    assert not report.ok and report.checked == expected_checked
    by_digest = {b.digest: b for b in report.bad}
    assert set(by_digest) == {weights.sha256, labels.sha256}
    rotten = by_digest[weights.sha256]
    assert rotten.used_by == ("iris/1:weights/model.skops",)
    assert rotten.location == str(_blob(client, weights.sha256))
    assert rotten.actual is not None and rotten.actual != weights.sha256
    assert by_digest[labels.sha256].actual is None  # missing
    # identical files are stored once: a blob lists every package file kept in it
    shared = labels.sha256 in {f.sha256 for f in client.get_manifest(v2.digest).files}
    assert by_digest[labels.sha256].used_by == ("iris/1:parity/labels.npy",) + (
        ("iris/2:parity/labels.npy",) if shared else ()
    )
    assert {b.digest for b in client.verify_models("iris/2").bad} == (
        {labels.sha256} if shared else set()
    )
    assert {b.digest for b in client.verify_models("iris/1").bad} == set(by_digest)

    every = client.verify_blobs()
    assert {b.digest for b in every.bad} == {weights.sha256}  # a deleted blob is not listed
    assert every.checked == sum(1 for p in (home / "blobs").rglob("*") if p.is_file())


def test_a_rotten_manifest_blob_is_reported_against_its_version(home: Path) -> None:
    client = _client(home)
    v1 = client.get_model_version("iris", 1)
    _rot(_blob(client, v1.digest[7:]))
    report = client.verify_models()
    assert [b.used_by for b in report.bad] == [("iris/1:manifest.json",)]


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LABLINE_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "labline", "models", "verify", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_models_verify_cli_lists_bad_files_and_exits_non_zero(home: Path) -> None:
    client = _client(home)
    ok = _cli(home, "--all", "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ok"] is True

    v1 = client.get_model_version("iris", 1)
    weights = client.get_manifest(v1.digest).file("weights/model.skops")
    _rot(_blob(client, weights.sha256))

    bad = _cli(home, "iris", "--json")
    assert bad.returncode == 1, bad.stderr
    body = json.loads(bad.stdout)
    assert body["ok"] is False
    assert [(b["digest"], b["used_by"]) for b in body["bad"]] == [
        (weights.sha256, ["iris/1:weights/model.skops"])
    ]
    text = _cli(home, "iris/1")
    assert text.returncode == 1 and "iris/1:weights/model.skops" in text.stdout
    assert _cli(home, "iris/2").returncode == 0

    usage = _cli(home)
    assert usage.returncode == 2 and "NAME[/VERSION] or --all" in usage.stderr
    unknown = _cli(home, "nope/1")
    assert unknown.returncode != 0 and "Traceback" not in unknown.stderr
