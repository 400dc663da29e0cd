"""Run lifecycle through the real CLI in a subprocess: artifacts, mark-failed, register later."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import labline

X, Y = load_iris(return_X_y=True)


def _cli(settings: labline.Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LABLINE_HOME": str(settings.home),
        "LABLINE_URI": settings.uri,
        "LABLINE_ARTIFACT_URI": settings.artifact_uri,
    }
    return subprocess.run(
        [sys.executable, "-m", "labline", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )


def _ok(settings: labline.Settings, *args: str) -> object:
    out = _cli(settings, *args, "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_runs_artifacts_lists_and_downloads(
    client: labline.Client, settings: labline.Settings, tmp_path: Path
) -> None:
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "loss.svg").write_text("<svg/>")
    (tmp_path / "notes.txt").write_text("hello")
    with client.start_run("exp", name="with-files", capture_env=False) as run:
        run.log_artifact(tmp_path / "plots")
        run.log_artifact(tmp_path / "notes.txt")
    listed = _ok(settings, "runs", "artifacts", run.id[:8])
    assert [a["path"] for a in listed] == ["notes.txt", "plots/loss.svg"]  # type: ignore[union-attr,index]
    assert [a["path"] for a in _ok(settings, "runs", "artifacts", run.id, "plots")] == [  # type: ignore[union-attr,index]
        "plots/loss.svg"
    ]
    dst = tmp_path / "out"
    got = _ok(settings, "runs", "artifacts", run.id, "plots", "--download", str(dst))
    assert got["path"] == str(dst / "plots")  # type: ignore[index]
    assert (dst / "plots" / "loss.svg").read_text() == "<svg/>"
    table = _cli(settings, "runs", "artifacts", run.id)
    assert table.returncode == 0 and "notes.txt" in table.stdout
    missing = _cli(settings, "runs", "artifacts", run.id, "nope")
    assert missing.returncode != 0 and "nope" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


def test_runs_mark_failed_only_for_stale_runs(
    client: labline.Client, settings: labline.Settings
) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    exp = client.create_experiment("exp")
    stale = client.store.create_run(exp.id, "killed", host=socket.gethostname(), pid=proc.pid)
    with client.start_run("exp", capture_env=False) as done:
        pass
    refused = _cli(settings, "runs", "mark-failed", done.id)
    assert refused.returncode != 0 and "finished" in refused.stderr
    out = _ok(settings, "runs", "mark-failed", stale.id[:10], "--reason", "node lost")
    assert out["status"] == "failed" and out["error"] == "node lost"  # type: ignore[index]
    assert client.get_run(stale.id).status is labline.RunStatus.FAILED


def test_models_register_from_a_finished_run(
    client: labline.Client, settings: labline.Settings
) -> None:
    with client.start_run("iris", capture_env=False) as run:
        run.log_model(
            LogisticRegression(max_iter=500).fit(X, Y), input_example=X[:2], eval_inputs=X[:10]
        )
    assert _ok(settings, "models", "list") == []
    mv = _ok(settings, "models", "register", f"{run.id[:10]}/model", "--name", "iris")
    assert mv["name"] == "iris" and mv["version"] == 1 and mv["run_id"] == run.id  # type: ignore[index]
    shown = _ok(settings, "models", "show", "iris/1")
    assert shown["version"]["run_id"] == run.id  # type: ignore[index]
    table = _cli(settings, "models", "show", "iris/1")
    assert table.returncode == 0 and f"run {run.id}" in table.stdout
    plain = _cli(settings, "models", "register", run.id, "--name", "iris")
    assert plain.returncode == 0 and "iris/1" in plain.stdout


@pytest.mark.parametrize("args", [("models", "register", "0000000000/model", "--name", "x")])
def test_models_register_errors_are_one_line(
    settings: labline.Settings, client: labline.Client, args: tuple[str, ...]
) -> None:
    out = _cli(settings, *args)
    assert out.returncode != 0 and len(out.stderr.strip().splitlines()) == 1


def test_experiments_lifecycle_tree_and_gc(
    client: labline.Client, settings: labline.Settings, tmp_path: Path
) -> None:
    (tmp_path / "junk.txt").write_text("only the deleted experiment has this")
    with client.start_run("sweep", name="search", capture_env=False) as parent:
        with client.start_run(parent=parent, name="trial-a", capture_env=False):
            pass
        with client.start_run(parent=parent, name="trial-b", capture_env=False) as tb:
            pass
    with client.start_run("scratch", capture_env=False) as junk:
        (junk_file,) = junk.log_artifact(tmp_path / "junk.txt")

    rows = _ok(settings, "runs", "list", "--experiment", "sweep")
    assert {r["name"]: r["parent_id"] for r in rows} == {  # type: ignore[union-attr,index]
        "search": None,
        "trial-a": parent.id,
        "trial-b": parent.id,
    }
    table = _cli(settings, "runs", "list", "--experiment", "sweep").stdout
    lines = [line for line in table.splitlines() if "search" in line or "trial-" in line]
    assert "search" in lines[0] and all("└ trial-" in line for line in lines[1:])
    shown = _ok(settings, "runs", "show", parent.id)
    assert [c["name"] for c in shown["children"]] == ["trial-a", "trial-b"]  # type: ignore[index]
    assert _ok(settings, "runs", "show", tb.id)["parent_id"] == parent.id  # type: ignore[index]
    assert "child runs" in _cli(settings, "runs", "show", parent.id).stdout

    renamed = _ok(settings, "experiments", "rename", "scratch", "trash")
    assert renamed["name"] == "trash"  # type: ignore[index]
    tagged = _ok(settings, "experiments", "tag", "trash", "note=kept for a=b", "owner=ana")
    assert tagged["tags"] == {"note": "kept for a=b", "owner": "ana"}  # type: ignore[index]
    untagged = _ok(settings, "experiments", "tag", "trash", "--delete", "owner")
    assert untagged["tags"] == {"note": "kept for a=b"}  # type: ignore[index]
    bad = _cli(settings, "experiments", "tag", "trash", "--delete", "owner")
    assert bad.returncode != 0 and "owner" in bad.stderr and "Traceback" not in bad.stderr
    assert _ok(settings, "experiments", "delete", "trash")["deleted_at"]  # type: ignore[index]
    names = [e["name"] for e in _ok(settings, "experiments", "list")]  # type: ignore[union-attr]
    assert names == ["sweep"]
    everything = _ok(settings, "experiments", "list", "--deleted")
    assert [e["name"] for e in everything] == ["sweep", "trash"]  # type: ignore[union-attr,index]
    assert not _ok(settings, "experiments", "restore", "trash")["deleted_at"]  # type: ignore[index]
    _ok(settings, "experiments", "delete", "trash")

    dry = _ok(settings, "gc", "--dry-run", "--grace", "0")
    assert dry["dry_run"] and dry["runs_purged"] == [junk.id]  # type: ignore[index]
    assert client.blobs.exists(junk_file.digest)
    report = _ok(settings, "gc", "--grace", "0")
    assert report["runs_purged"] == [junk.id] and report["blobs_removed"] == 1  # type: ignore[index]
    assert not client.blobs.exists(junk_file.digest)
    verified = _ok(settings, "gc", "--verify")
    assert verified["bad"] == []  # type: ignore[index]

    with client.start_run("sweep", capture_env=False) as r:
        (kept,) = r.log_artifact(tmp_path / "junk.txt")
    blob = client.blobs.local_path(kept.digest)
    assert blob is not None
    blob.write_text("flipped")
    bad = _cli(settings, "gc", "--verify", "--json")
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["bad"][0]["digest"] == kept.digest
    text = _cli(settings, "gc", "--verify")
    assert text.returncode == 1 and kept.digest in text.stdout
