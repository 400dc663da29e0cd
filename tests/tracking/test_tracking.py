"""The tracking API end to end, on every backend."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import labline
from labline import RunStatus

WORKER = str(Path(__file__).with_name("_worker.py"))


def test_context_manager_finishes_and_records_everything(
    client: labline.Client, tmp_path: Path
) -> None:
    with labline.start_run(
        "exp", name="r1", params={"lr": 0.1, "depth": 3}, tags={"team": "a"}, client=client
    ) as run:
        for i in range(10):
            run.log_metric("loss", 1.0 / (i + 1))
        run.log_metrics({"acc": 0.9, "f1": np.float32(0.5)}, step=7)
        run.log_metric("weird", math.nan)
        run.log_metric("weird", math.inf)
        run.log_metric("weird", -math.inf)
        run.log_param("optimizer", "adam")
        run.set_tag("team", "b")
    info = client.get_run(run.id)
    assert info.status is RunStatus.FINISHED and info.ended_at is not None
    assert info.params == {"depth": "3", "lr": "0.1", "optimizer": "adam"}
    assert info.tags == {"team": "b"}
    loss = client.get_metric_series(run.id, "loss")
    np.testing.assert_array_equal(loss.steps, np.arange(10))
    np.testing.assert_allclose(loss.values, 1.0 / np.arange(1, 11))
    assert np.all(np.diff(loss.timestamps) >= 0) and abs(loss.timestamps[0] - time.time()) < 60
    assert client.get_metric_series(run.id, "acc").steps.tolist() == [7]
    assert client.get_metric_series(run.id, "f1").values.tolist() == [0.5]
    w = client.get_metric_series(run.id, "weird").values
    assert math.isnan(w[0]) and w[1] == math.inf and w[2] == -math.inf


def test_exception_marks_run_failed_with_error(client: labline.Client) -> None:
    with pytest.raises(ZeroDivisionError), labline.start_run("exp", client=client) as run:
        run.log_metric("loss", 1.0)
        1 / 0  # noqa: B018
    info = client.get_run(run.id)
    assert info.status is RunStatus.FAILED
    assert info.error is not None and "ZeroDivisionError" in info.error
    assert client.get_metric_series(run.id, "loss").values.tolist() == [
        1.0
    ]  # flushed on failure too


def test_plain_object_usage_and_end_is_idempotent(client: labline.Client) -> None:
    run = labline.start_run("exp", client=client)
    run.log_metric("x", 1)
    assert client.get_run(run.id).status is RunStatus.RUNNING
    run.end()
    run.end()
    assert client.get_run(run.id).status is RunStatus.FINISHED
    with pytest.raises(labline.InvalidArgumentError, match="has ended"):
        run.log_metric("y", 1.0)


def test_background_flush_happens_within_a_second(client: labline.Client) -> None:
    with labline.start_run("exp", client=client, capture_env=False) as run:
        run.log_metric("loss", 0.25)
        deadline = time.monotonic() + 10
        while "loss" not in client.get_run(run.id).metrics:
            assert time.monotonic() < deadline, "point not flushed by the background writer"
            time.sleep(0.05)
        assert client.get_run(run.id).metrics["loss"].last_value == 0.25


def test_bad_input_is_refused_and_nothing_is_lost(client: labline.Client) -> None:
    with labline.start_run("exp", client=client, params={"lr": 0.1}) as run:
        run.log_metric("loss", 1.0)
        with pytest.raises(
            labline.InvalidArgumentError, match="'loss' value must be a real number, got str 'high'"
        ):
            run.log_metric("loss", "high")  # type: ignore[arg-type]
        with pytest.raises(labline.InvalidArgumentError, match="got NoneType"):
            run.log_metric("loss", None)  # type: ignore[arg-type]
        with pytest.raises(labline.InvalidArgumentError, match="empty"):
            run.log_metric("", 1.0)
        with pytest.raises(labline.InvalidArgumentError, match="limit is 250"):
            run.log_metric("k" * 300, 1.0)
        with pytest.raises(labline.InvalidArgumentError, match="step must be an integer"):
            run.log_metric("loss", 1.0, step="3")  # type: ignore[arg-type]
        with pytest.raises(
            labline.ParamConflictError, match=r"'lr' is already set to '0.1'.*'0.2'"
        ):
            run.log_param("lr", 0.2)
        run.log_metric("loss", 2.0)
    info = client.get_run(run.id)
    assert info.params == {"lr": "0.1"}
    assert client.get_metric_series(run.id, "loss").values.tolist() == [1.0, 2.0]
    with pytest.raises(labline.NotFoundError, match="no run 'not-a-run'"):
        client.get_run("not-a-run")
    with pytest.raises(labline.NotFoundError, match="no experiment 'nope'"):
        client.search_runs("nope")


def test_datasets_are_fingerprinted_by_content(client: labline.Client, tmp_path: Path) -> None:
    x = np.arange(20.0).reshape(10, 2)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.csv").write_text("1,2\n")
    with labline.start_run("exp", client=client) as r1:
        a = r1.log_dataset("train", x, source="synthetic")
        f = r1.log_dataset("files", tmp_path / "d")
    with labline.start_run("exp", client=client) as r2:
        b = r2.log_dataset("train", x.copy())
        c = r2.log_dataset("train-f32", x.astype(np.float32))
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert a.n_rows == 10 and a.meta["source"] == "synthetic"
    assert f.kind == "folder"
    (tmp_path / "d" / "a.csv").write_text("1,3\n")
    assert labline.fingerprint(tmp_path / "d").digest != f.fingerprint
    with pytest.raises(labline.InvalidArgumentError, match="does not exist"):
        labline.fingerprint(tmp_path / "missing")


def test_predictions_round_trip_sorted_by_id(client: labline.Client) -> None:
    rng = np.random.default_rng(0)
    ids = rng.permutation(1000)
    y = rng.integers(0, 3, 1000)
    proba = rng.dirichlet(np.ones(3), 1000)
    with labline.start_run("exp", client=client) as run:
        run.log_dataset("test", np.column_stack([ids, y]))
        rec = run.log_predictions("test", ids, y, proba.argmax(1), proba, classes=["a", "b", "c"])
        with pytest.raises(labline.InvalidArgumentError, match="appears more than once"):
            run.log_predictions("dup", [1, 1], [0, 0], [0, 0])
        with pytest.raises(labline.InvalidArgumentError, match="one entry per example"):
            run.log_predictions("short", [1, 2], [0], [0, 0])
        with pytest.raises(labline.AlreadyExistsError):
            run.log_predictions("test", ids, y, y)
    assert rec.classes == ("a", "b", "c") and rec.n_rows == 1000 and rec.has_proba
    table = client.load_predictions(run.id, "test")
    order = np.argsort(ids)
    assert table.column("id").to_numpy().tolist() == list(range(1000))
    np.testing.assert_array_equal(table.column("y_true").to_numpy(), y[order])
    got = np.stack(table.column("proba").to_numpy(zero_copy_only=False))
    np.testing.assert_allclose(got, proba[order])
    assert (
        client.get_predictions_record(run.id, "test").dataset_fingerprint
        == client.list_datasets(run.id)[0].fingerprint
    )


def test_tampered_predictions_blob_is_refused(client: labline.Client) -> None:
    with labline.start_run("exp", client=client) as run:
        rec = run.log_predictions("test", [1, 2], [0, 1], [0, 0])
    path = client.blobs.local_path(rec.blob_digest)
    assert path is not None
    data = bytearray(path.read_bytes())
    data[-10] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(labline.DigestMismatchError, match=rec.blob_digest):
        client.load_predictions(run.id, "test")


def test_artifacts_files_and_folders_stored_once(client: labline.Client, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.txt").write_text("same")
    (tmp_path / "out" / "sub").mkdir()
    (tmp_path / "out" / "sub" / "b.txt").write_text("same")
    (tmp_path / "c.txt").write_text("other")
    with labline.start_run("exp", client=client) as run:
        recs = run.log_artifact(tmp_path / "out")
        run.log_artifact(tmp_path / "c.txt", name="notes/c.txt")
        with pytest.raises(labline.InvalidArgumentError, match="does not exist"):
            run.log_artifact(tmp_path / "missing")
        run.download_artifact("notes/c.txt", tmp_path / "back.txt")
    assert [r.path for r in recs] == ["out/a.txt", "out/sub/b.txt"]
    assert recs[0].digest == recs[1].digest
    assert (tmp_path / "back.txt").read_text() == "other"
    blobs = [p for p in Path(client.settings.artifact_uri).rglob("*") if p.is_file()]
    assert len(blobs) == 2  # "same" once, "other" once
    assert [a.path for a in client.list_artifacts(run.id)] == [
        "notes/c.txt",
        "out/a.txt",
        "out/sub/b.txt",
    ]


def test_environment_is_captured(
    client: labline.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    (repo / "train.py").write_text("print(1)\n")
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=repo, check=True)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    monkeypatch.chdir(repo)
    with labline.start_run("exp", client=client) as clean:
        pass
    (repo / "train.py").write_text("print(2)\n")
    with labline.start_run("exp", client=client) as dirty:
        pass
    env = client.get_run(clean.id).env
    assert (
        env["git"]["commit"] == commit
        and env["git"]["dirty"] is False
        and env["git"]["diff_sha256"] is None
    )
    denv = client.get_run(dirty.id).env
    assert denv["git"]["dirty"] is True and len(denv["git"]["diff_sha256"]) == 64
    assert env["python"].count(".") == 2 and "numpy" in env["packages"]
    assert env["command"][0] == sys.executable and env["host"] and env["pid"] == os.getpid()


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(labline.__file__).parents[1])
    return env


def test_four_processes_log_concurrently_without_losing_points(settings: labline.Settings) -> None:
    n = 3000
    procs = [
        subprocess.Popen(
            [sys.executable, WORKER, "many", settings.uri, str(settings.home), str(i), str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_worker_env(),
        )
        for i in range(4)
    ]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    client = labline.Client(settings)
    runs = client.search_runs("concurrent")
    assert len(runs) == 4
    for r in runs:
        assert r.status is RunStatus.FINISHED
        loss = client.get_metric_series(r.id, "loss")
        assert loss.steps.tolist() == list(range(n))
        assert loss.values.tolist() == [float(i) for i in range(n)]
        assert len(client.get_metric_series(r.id, "acc")) == n
    client.close()


def test_sigkill_keeps_flushed_points_and_run_shows_stale(settings: labline.Settings) -> None:
    p = subprocess.Popen(
        [sys.executable, WORKER, "killme", settings.uri, str(settings.home), "k"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_worker_env(),
    )
    assert p.stdout is not None
    run_id = p.stdout.readline().strip()
    assert p.stdout.readline().strip() == "flushed", p.stderr.read() if p.stderr else ""
    time.sleep(0.3)  # let it log (and maybe flush) some more
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    client = labline.Client(settings)  # the store opens cleanly after the kill
    run = client.get_run(run_id)
    assert run.status is RunStatus.STALE
    loss = client.get_metric_series(run_id, "loss")
    assert len(loss) >= 5000
    assert loss.steps.tolist() == list(range(len(loss)))  # every flushed point, in order, no gaps
    client.close()


def test_points_are_flushed_at_interpreter_exit(settings: labline.Settings) -> None:
    out = subprocess.run(
        [sys.executable, WORKER, "noend", settings.uri, str(settings.home), "x"],
        capture_output=True,
        text=True,
        env=_worker_env(),
        timeout=120,
        check=True,
    )
    client = labline.Client(settings)
    run_id = out.stdout.strip()
    assert client.get_run(run_id).status is RunStatus.FINISHED
    assert len(client.get_metric_series(run_id, "loss")) == 1234
    client.close()


def test_log_metric_series_appends_arrays(client: labline.Client) -> None:
    with labline.start_run("exp", client=client) as run:
        run.log_metric("loss", 9.0)
        run.log_metric_series("loss", np.array([1.0, math.nan, 3.0]))
        run.log_metric_series("loss", [4.0, 5.0], steps=[10, 20], timestamps=[1.0, 2.0])
        run.log_metric("loss", 6.0)
        with pytest.raises(labline.InvalidArgumentError, match="real numbers"):
            run.log_metric_series("loss", ["a", "b"])
        with pytest.raises(labline.InvalidArgumentError, match="2 integers"):
            run.log_metric_series("loss", [1.0, 2.0], steps=[1])
    s = client.get_metric_series(run.id, "loss")
    assert s.steps.tolist() == [0, 1, 2, 3, 10, 20, 21]
    np.testing.assert_array_equal(s.values, [9.0, 1.0, math.nan, 3.0, 4.0, 5.0, 6.0])
    assert s.timestamps[4:6].tolist() == [1.0, 2.0]


def test_dataframe_fingerprints_cover_values_dtypes_and_columns() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    fp = labline.fingerprint(df)
    assert fp.kind == "dataframe" and fp.n_rows == 3 and fp.meta["columns"] == ["a", "b"]
    assert labline.fingerprint(df.copy()).digest == fp.digest
    assert labline.fingerprint(df.astype({"a": "float64"})).digest != fp.digest
    assert labline.fingerprint(df.rename(columns={"b": "c"})).digest != fp.digest
    assert labline.fingerprint(df.iloc[::-1]).digest != fp.digest
    changed = df.copy()
    changed.loc[1, "b"] = "q"
    assert labline.fingerprint(changed).digest != fp.digest
    assert labline.fingerprint(df["a"]).kind == "series"
