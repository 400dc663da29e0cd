"""Finished runs: download artifacts (verified), log a model without registering, register
it later from the run. Every backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import labline
from labline import DigestMismatchError, InvalidArgumentError, LoggedModel, NotFoundError

X, Y = load_iris(return_X_y=True)


def _files(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "plots").mkdir(parents=True)
    (src / "plots" / "loss.svg").write_text("<svg/>")
    (src / "plots" / "roc.svg").write_text("<svg>roc</svg>")
    (src / "notes.txt").write_text("lr too high")
    return src


def test_download_artifacts_file_folder_and_all(client: labline.Client, tmp_path: Path) -> None:
    src = _files(tmp_path)
    with client.start_run("exp", capture_env=False) as run:
        run.log_artifact(src / "plots")
        run.log_artifact(src / "notes.txt")
    one = client.download_artifacts(run.id, "notes.txt", dst=tmp_path / "a")
    assert one == tmp_path / "a" / "notes.txt" and one.read_text() == "lr too high"
    folder = client.download_artifacts(client.get_run(run.id), "plots/", dst=tmp_path / "b")
    assert folder == tmp_path / "b" / "plots"
    assert sorted(p.name for p in folder.iterdir()) == ["loss.svg", "roc.svg"]
    assert not (tmp_path / "b" / "notes.txt").exists()
    everything = client.download_artifacts(run.id[:10], dst=tmp_path / "c")
    got = sorted(p.relative_to(everything).as_posix() for p in everything.rglob("*") if p.is_file())
    assert got == ["notes.txt", "plots/loss.svg", "plots/roc.svg"]
    assert [a.path for a in client.list_artifacts(run.id, "plots")] == [
        "plots/loss.svg",
        "plots/roc.svg",
    ]
    with pytest.raises(NotFoundError, match="plot"):
        client.download_artifacts(run.id, "plot", dst=tmp_path / "d")  # a prefix is whole names
    with pytest.raises(InvalidArgumentError, match="path"):
        client.download_artifacts(run.id, "../notes.txt", dst=tmp_path / "d")


def test_a_tampered_blob_is_refused_and_not_written(client: labline.Client, tmp_path: Path) -> None:
    src = _files(tmp_path)
    with client.start_run("exp", capture_env=False) as run:
        (rec,) = run.log_artifact(src / "notes.txt")
    blob = client.blobs.local_path(rec.digest)
    assert blob is not None
    blob.write_text("lr fine")
    with pytest.raises(DigestMismatchError, match=r"notes\.txt"):
        client.download_artifacts(run.id, "notes.txt", dst=tmp_path / "out")
    assert not (tmp_path / "out" / "notes.txt").exists()
    assert [p.name for p in (tmp_path / "out").iterdir()] == []  # no temporary left behind


def test_artifact_names_cannot_escape(client: labline.Client, tmp_path: Path) -> None:
    src = _files(tmp_path)
    with (
        client.start_run("exp", capture_env=False) as run,
        pytest.raises(InvalidArgumentError, match="artifact name"),
    ):
        run.log_artifact(src / "notes.txt", name="../../etc/notes.txt")


def _fit(c: float) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=500).fit(X, Y)


def test_log_model_without_name_packages_and_registers_later(
    client: labline.Client, tmp_path: Path
) -> None:
    runs = {}
    for c in (1.0, 0.01):
        with client.start_run("iris", params={"C": c}, capture_env=False) as run:
            run.log_dataset("train", X)
            logged = run.log_model(_fit(c), input_example=X[:2], eval_inputs=X[:20])
            runs[c] = run
        assert isinstance(logged, LoggedModel)
        assert logged.run_id == run.id and logged.path == "model"
        assert logged.ref == f"{run.id}/model"
    assert client.list_models() == []  # nothing registered yet
    paths = [a.path for a in client.list_artifacts(runs[1.0].id, "model")]
    assert "model/manifest.json" in paths and any(p.startswith("model/weights/") for p in paths)

    # the comparison picked C=1.0: register it from the finished run
    mv = client.register_model(f"{runs[1.0].id[:10]}/model", name="iris")
    assert (mv.name, mv.version, mv.run_id) == ("iris", 1, runs[1.0].id)
    model = client.load_model("iris/1")
    assert model.name == "iris"
    np.testing.assert_array_equal(model.predict(X[:30]), _fit(1.0).predict(X[:30]))
    manifest = client.get_manifest(mv.digest)
    assert manifest.run_id == runs[1.0].id and manifest.datasets[0]["name"] == "train"
    # the package's files are the very files the run logged
    logged_files = {
        a.path.removeprefix("model/"): a.digest for a in client.list_artifacts(runs[1.0].id)
    }
    assert {f.path: f.sha256 for f in manifest.files}.items() <= logged_files.items()
    # registering again is idempotent; the bare run reference means RUN/model
    assert client.register_model(runs[1.0].id, name="iris").version == 1
    assert client.register_model(runs[0.01].id, name="iris").version == 2
    assert client.check_parity("iris", 1).passed


def test_named_log_model_also_packages_into_the_run(client: labline.Client) -> None:
    with client.start_run("iris", capture_env=False) as run:
        v1 = run.log_model(_fit(1.0), "iris", input_example=X[:2])
        v2 = run.log_model(_fit(0.1), "iris", input_example=X[:2])
        custom = run.log_model(_fit(0.5), input_example=X[:2], path="candidates/c05")
    assert (v1.version, v2.version) == (1, 2)
    assert v1.run_id == run.id
    manifests = [a.path for a in client.list_artifacts(run.id) if a.path.endswith("manifest.json")]
    assert manifests == [
        "candidates/c05/manifest.json",
        "model-2/manifest.json",
        "model/manifest.json",
    ]
    assert isinstance(custom, LoggedModel) and custom.path == "candidates/c05"
    mv = client.register_model(f"{run.id}/candidates/c05", name="iris-small")
    assert mv.run_id == run.id and client.load_model("iris-small").name == "iris-small"


def test_register_model_refuses_what_is_not_a_package(
    client: labline.Client, tmp_path: Path
) -> None:
    src = _files(tmp_path)
    with client.start_run("exp", capture_env=False) as run:
        run.log_artifact(src / "plots")
    with pytest.raises(NotFoundError, match="no model package"):
        client.register_model(f"{run.id}/plots", name="m")
    with pytest.raises(NotFoundError):
        client.register_model("0000000000/model", name="m")
    with pytest.raises(InvalidArgumentError):
        client.register_model(f"{run.id}/model", name="bad/name")
    with (
        pytest.raises(InvalidArgumentError, match="input_example"),
        client.start_run("exp", capture_env=False) as r2,
    ):
        r2.log_model(_fit(1.0))


def test_register_model_verifies_every_file(client: labline.Client) -> None:
    with client.start_run("iris", capture_env=False) as run:
        run.log_model(_fit(1.0), input_example=X[:2])
    weights = next(a for a in client.list_artifacts(run.id) if "/weights/" in a.path)
    blob = client.blobs.local_path(weights.digest)
    assert blob is not None
    blob.write_bytes(b"not the weights")
    with pytest.raises(DigestMismatchError, match="weights"):
        client.register_model(run.id, name="iris")
    assert client.list_models() == []
