"""Resuming a run and marking a stale run failed, on every backend."""

from __future__ import annotations

import socket
import subprocess
import sys

import numpy as np
import pytest

import labline
from labline import InvalidArgumentError, NotFoundError, ParamConflictError, RunStatus


def _dead_pid() -> int:
    """The id of a process that has exited (its run looks stale on this host)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_resume_continues_steps_and_keeps_params_write_once(client: labline.Client) -> None:
    with client.start_run("exp", name="long", params={"lr": 0.1}, capture_env=False) as run:
        run.log_metric("loss", 1.0)
        run.log_metric("loss", 0.5)
        run.log_metric("acc", 0.7, step=10)
    with client.start_run(run_id=run.id, params={"lr": 0.1}, tags={"resumed": 1}) as again:
        assert again.id == run.id and client.get_run(run.id).status is RunStatus.RUNNING
        again.log_metric("loss", 0.25)
        again.log_metric("acc", 0.8)
        again.log_param("epochs", 3)
        with pytest.raises(ParamConflictError, match="lr"):
            again.log_param("lr", 0.2)
    info = client.get_run(run.id)
    assert info.status is RunStatus.FINISHED and info.ended_at is not None
    assert info.params == {"epochs": "3", "lr": "0.1"} and info.tags == {"resumed": "1"}
    loss = client.get_metric_series(run.id, "loss")
    assert loss.steps.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(loss.values, [1.0, 0.5, 0.25])
    assert client.get_metric_series(run.id, "acc").steps.tolist() == [10, 11]


def test_resume_with_another_param_value_is_refused_before_reopening(
    client: labline.Client,
) -> None:
    with client.start_run("exp", params={"lr": 0.1}, capture_env=False) as run:
        pass
    with pytest.raises(ParamConflictError, match="lr"):
        client.start_run(run_id=run.id, params={"lr": 0.3})
    assert client.get_run(run.id).status is RunStatus.FINISHED  # untouched
    with pytest.raises(InvalidArgumentError, match="experiment"):
        client.start_run("other", run_id=run.id)
    with pytest.raises(NotFoundError):
        client.start_run(run_id="f" * 32)


def test_a_failed_run_resumes_by_prefix_and_a_live_run_cannot(client: labline.Client) -> None:
    with pytest.raises(RuntimeError), client.start_run("exp", capture_env=False) as run:
        raise RuntimeError("out of memory")
    assert client.get_run(run.id).error
    live = client.start_run(run_id=run.id[:12])
    try:
        info = client.get_run(run.id)
        assert info.status is RunStatus.RUNNING and info.error is None and info.ended_at is None
        with pytest.raises(InvalidArgumentError, match="still running"):
            client.start_run(run_id=run.id)
    finally:
        live.end()


def test_module_function_resumes(client: labline.Client) -> None:
    with labline.start_run("exp", client=client, capture_env=False) as run:
        run.log_metric("x", 1.0)
    with labline.start_run(run_id=run.id, client=client) as again:
        again.log_metric("x", 2.0)
    assert client.get_metric_series(run.id, "x").steps.tolist() == [0, 1]


def test_only_a_stale_run_can_be_marked_failed(client: labline.Client) -> None:
    exp = client.create_experiment("exp")
    stale = client.store.create_run(exp.id, "killed", host=socket.gethostname(), pid=_dead_pid())
    assert client.get_run(stale.id).status is RunStatus.STALE
    with client.start_run("exp", capture_env=False) as done:
        live = client.start_run("exp", capture_env=False)
        try:
            with pytest.raises(InvalidArgumentError, match="running"):
                client.mark_run_failed(live.id)
        finally:
            live.end()
    with pytest.raises(InvalidArgumentError, match="finished"):
        client.mark_run_failed(done.id)
    failed = client.mark_run_failed(stale.id[:10], reason="OOM-killed at epoch 3")
    assert failed.status is RunStatus.FAILED and failed.error == "OOM-killed at epoch 3"
    assert failed.ended_at is not None
    assert client.get_run(stale.id).status is RunStatus.FAILED
    with pytest.raises(InvalidArgumentError, match="failed"):
        client.mark_run_failed(stale.id)


def test_marking_failed_records_who_by_default(client: labline.Client) -> None:
    exp = client.create_experiment("exp")
    stale = client.store.create_run(exp.id, "", host=socket.gethostname(), pid=_dead_pid())
    as_ops = labline.Client(settings=client.settings, store=client.store, actor="ops-oncall")
    assert "ops-oncall" in (as_ops.mark_run_failed(stale).error or "")
