"""``labline import mlflow``: a store made by the MLflow client on its SQLite backend is
imported by the real CLI, every field compared, and a second import imports nothing new."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

import labline

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning:mlflow.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # MLflow's own SQLAlchemy use
]
SRC = Path(__file__).resolve().parents[2] / "src"


def _make_store(tmp: Path) -> tuple[str, MlflowClient]:
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment(
        "imported", artifact_location=str(tmp / "artifacts"), tags={"team": "vision"}
    )
    client.set_experiment_tag(exp, "mlflow.note.content", "# Imported\nnotes")
    other = client.create_experiment("other", artifact_location=str(tmp / "other-artifacts"))
    retired = client.create_experiment("retired", tags={"why": "superseded"})
    client.delete_experiment(retired)
    parent = client.create_run(exp, run_name="parent", tags={"team": "vision"})
    pid = parent.info.run_id
    client.log_batch(
        pid,
        metrics=[Metric("loss", 1.0 / (s + 1), 1_700_000_000_000 + s, s) for s in range(50)]
        + [Metric("odd", float("nan"), 1_700_000_000_500, 0)],
        params=[Param("lr", "0.01"), Param("layers", "3")],
        tags=[RunTag("stage", "final")],
    )
    (tmp / "notes.txt").write_text("hello")
    client.log_artifact(pid, str(tmp / "notes.txt"))
    client.log_artifact(pid, str(tmp / "notes.txt"), "nested/dir")
    child = client.create_run(exp, run_name="child", tags={"mlflow.parentRunId": pid})
    client.log_metric(child.info.run_id, "loss", 0.5, step=3)
    client.set_terminated(child.info.run_id, "FAILED")
    client.set_terminated(pid, "FINISHED")
    gone = client.create_run(exp, run_name="gone")
    client.set_terminated(gone.info.run_id, "KILLED")
    client.delete_run(gone.info.run_id)
    client.set_terminated(client.create_run(other, run_name="elsewhere").info.run_id)
    return uri, client


def _cli(home: Path, *args: str) -> dict:
    env = {**os.environ, "LABLINE_HOME": str(home), "PYTHONPATH": str(SRC)}
    env.pop("LABLINE_URI", None)
    proc = subprocess.run(
        [sys.executable, "-m", "labline", "import", "mlflow", *args, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_import_copies_every_field_and_twice_imports_nothing(tmp_path: Path) -> None:
    uri, mlc = _make_store(tmp_path)
    home = tmp_path / "labline"
    first = _cli(home, uri)
    assert first["runs_imported"] == 4 and first["runs_skipped"] == 0
    assert first["metric_points"] == 52 and first["artifacts"] == 2
    assert sorted(first["experiments"]) == ["default", "imported", "other", "retired"]

    with labline.Client(labline.Settings.local(home)) as lab:
        for src_exp in mlc.search_experiments(view_type=3):
            exp = lab.get_experiment(src_exp.name if src_exp.name != "Default" else "default")
            assert dict(exp.tags) == src_exp.tags
            assert exp.deleted == (src_exp.lifecycle_stage == "deleted")
        assert lab.get_experiment("imported").tags["mlflow.note.content"] == "# Imported\nnotes"
        assert lab.get_experiment("retired").deleted
        for exp_name in ("imported", "other"):
            exp = mlc.get_experiment_by_name(exp_name)
            for src in mlc.search_runs([exp.experiment_id], run_view_type=3):
                run = lab.get_run(src.info.run_id)  # the same id
                assert run.experiment == exp_name
                assert run.name == src.info.run_name
                assert run.deleted == (src.info.lifecycle_stage == "deleted")
                status = {"FINISHED": "finished", "FAILED": "failed", "KILLED": "failed"}
                assert run.status.value == status[src.info.status]
                assert round(run.created_at.timestamp() * 1000) == src.info.start_time
                assert round(run.ended_at.timestamp() * 1000) == src.info.end_time
                assert dict(run.params) == src.data.params
                tags = {k: v for k, v in src.data.tags.items() if k != "mlflow.runName"}
                parent = tags.pop("mlflow.parentRunId", None)
                assert run.parent_id == parent
                assert dict(run.tags) == tags
                assert run.created_by == src.info.user_id
                assert set(run.metrics) == set(src.data.metrics)
                for key in src.data.metrics:
                    history = mlc.get_metric_history(src.info.run_id, key)
                    series = lab.get_metric_series(run.id, key)
                    assert list(series.steps) == [m.step for m in history]
                    assert [round(t * 1000) for t in series.timestamps] == [
                        m.timestamp for m in history
                    ]
                    for got, want in zip(series.values, history, strict=True):
                        assert (math.isnan(got) and math.isnan(want.value)) or got == want.value
                files = sorted(a.path for a in lab.list_artifacts(run.id))
                want_files = []
                stack = [""]
                while stack:
                    for f in mlc.list_artifacts(src.info.run_id, stack.pop() or None):
                        (stack if f.is_dir else want_files).append(f.path)
                assert files == sorted(want_files)
                for path in files:
                    local = mlc.download_artifacts(src.info.run_id, path, str(tmp_path / "dl"))
                    copy = lab.download_artifact(run.id, path, tmp_path / "lab" / path)
                    assert copy.read_bytes() == Path(local).read_bytes()

    again = _cli(home, uri)
    assert again["runs_imported"] == 0 and again["runs_skipped"] == 4
    assert again["metric_points"] == 0 and again["artifacts"] == 0


def test_import_of_one_experiment_and_bad_sources(tmp_path: Path) -> None:
    uri, _ = _make_store(tmp_path)
    home = tmp_path / "labline"
    only = _cli(home, uri, "--experiment", "other")
    assert only["experiments"] == ["other"] and only["runs_imported"] == 1
    env = {**os.environ, "LABLINE_HOME": str(home), "PYTHONPATH": str(SRC)}
    for source, message in (
        ("postgresql://x/y", "SOURCE must be"),
        (f"sqlite:///{tmp_path / 'nothing.db'}", "no MLflow database"),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "labline", "import", "mlflow", source],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert proc.returncode != 0 and message in proc.stderr
        assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_import_from_a_running_mlflow_server(tmp_path: Path) -> None:
    import socket
    import time

    import httpx

    uri, mlc = _make_store(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    log = open(tmp_path / "mlflow.log", "wb")  # noqa: SIM115 - closed below
    cmd = [str(mlflow_cli), "server", "--backend-store-uri", uri, "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port), "--workers", "1"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "mlflow server down"
            time.sleep(0.5)
        home = tmp_path / "from-server"
        first = _cli(home, url)
        assert first["runs_imported"] == 4 and first["metric_points"] == 52
        assert first["artifacts"] == 2
        with labline.Client(labline.Settings.local(home)) as lab:
            assert dict(lab.get_experiment("imported").tags) == {
                "team": "vision",
                "mlflow.note.content": "# Imported\nnotes",
            }
            assert lab.get_experiment("retired").deleted
            exp = mlc.get_experiment_by_name("imported")
            for src in mlc.search_runs([exp.experiment_id], run_view_type=3):
                run = lab.get_run(src.info.run_id)
                assert dict(run.params) == src.data.params
                assert run.deleted == (src.info.lifecycle_stage == "deleted")
                for key in src.data.metrics:
                    history = mlc.get_metric_history(src.info.run_id, key)
                    assert len(lab.get_metric_series(run.id, key)) == len(history)
        assert _cli(home, url)["runs_imported"] == 0
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
