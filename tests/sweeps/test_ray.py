"""Ray Tune trials log to labline from the Ray workers of a real local Ray cluster, started by
the test (``ray start --head`` on 127.0.0.1, 2 CPUs, free ports) and stopped at the end: a
digits sweep of 20 trials, 2 at a time, sampled by ``OptunaSearch``; a sweep configuration run
with ``engine: ray``; and an ASHA-scheduled sweep whose workers write through labline server,
its early-stopped trials ending ``pruned``."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import labline
from labline import RunStatus, TrialState

if TYPE_CHECKING:  # Ray workers import this module (for its trainables) without tests/ on
    from http_store_support import ThreadedServer  # their path: support code loads in tests

ray = pytest.importorskip("ray", reason="the ray extra is part of dev")
pytest.importorskip("sklearn", reason="the sklearn extra is part of dev")

HERE = Path(__file__).parent
SRC = Path(labline.__file__).parent.parent


def _free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _free_range(width: int = 40) -> int:
    """The first of ``width`` consecutive free ports (Ray's worker ports)."""
    for _ in range(50):
        (start,) = _free_ports(1)
        if start + width >= 65535:
            continue
        ok = True
        for port in range(start, start + width):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return start
    raise RuntimeError("no free range of ports for Ray's workers")


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """A Ray head on 127.0.0.1 with 2 CPUs, in the foreground (``--block``) so that stopping
    this one process stops the cluster it started; its address."""
    ray_bin = Path(sys.executable).parent / "ray"
    gcs, node, objects, metrics, agent, agent_grpc, env_agent = _free_ports(7)
    workers = _free_range()
    temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), str(HERE), os.environ.get("PYTHONPATH", "")]),
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    proc = subprocess.Popen(
        [
            str(ray_bin),
            "start",
            "--head",
            "--block",
            "--node-ip-address",
            "127.0.0.1",
            "--num-cpus",
            "2",
            "--port",
            str(gcs),
            "--node-manager-port",
            str(node),
            "--object-manager-port",
            str(objects),
            "--metrics-export-port",
            str(metrics),
            "--dashboard-agent-listen-port",
            str(agent),
            "--dashboard-agent-grpc-port",
            str(agent_grpc),
            "--runtime-env-agent-port",
            str(env_agent),
            "--min-worker-port",
            str(workers),
            "--max-worker-port",
            str(workers + 39),
            "--include-dashboard",
            "false",
            "--object-store-memory",
            str(100 * 1024 * 1024),
            "--temp-dir",
            str(temp),
            "--disable-usage-stats",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    address = f"127.0.0.1:{gcs}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"ray start exited: {proc.stdout.read()[-3000:]}")  # type: ignore[union-attr]
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", gcs)) == 0:
                    break
            time.sleep(0.5)
        else:
            raise RuntimeError("the Ray head did not come up in 180 s")
        yield address
    finally:
        if ray.is_initialized():
            ray.shutdown()
        # --block: SIGTERM to this one process makes it stop every Ray process it started
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(temp, ignore_errors=True)


def _train(config: dict[str, Any]) -> None:
    """A Tune trainable: a forest on digits, reported once per growth stage."""
    from _digits_objective import forest

    import labline.ray

    for stage, fraction in enumerate((0.5, 1.0)):
        n = max(1, round(config["n_estimators"] * fraction))
        result = forest({"n_estimators": n, "max_depth": config["max_depth"]})
        labline.ray.report(
            {
                "accuracy": result["accuracy"],
                "stage": stage,
                "trees": n,
                "worker_pid": result["worker_pid"],
            }
        )


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_tune_trials_with_optuna_search_log_from_ray_workers(
    ray_cluster: str, tmp_path: Path
) -> None:
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    import labline.ray

    client = labline.Client(labline.Settings.local(tmp_path / "home"))
    space = {
        "n_estimators": tune.lograndint(2, 31),
        "max_depth": tune.randint(2, 13),
        "data": "digits",  # a constant: a plain param of each trial run
    }
    ray.init(
        address=ray_cluster,
        runtime_env={"env_vars": {"PYTHONPATH": f"{SRC}{os.pathsep}{HERE}"}},
        log_to_driver=False,
    )
    try:
        results = tune.Tuner(
            labline.ray.trainable(
                _train, sweep="forest-ray", metric="accuracy", param_space=space, client=client
            ),
            param_space=space,
            tune_config=tune.TuneConfig(
                search_alg=OptunaSearch(metric="accuracy", mode="max", seed=0),
                num_samples=20,
                max_concurrent_trials=2,
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(storage_path=str(tmp_path / "ray_results"), verbose=0),
        ).fit()
    finally:
        ray.shutdown()
    assert results.num_errors == 0
    sweep = client.sweeps.get("forest-ray")
    trials = client.sweeps.trials(sweep.id)
    assert sorted(t.number for t in trials) == list(range(20))
    assert all(t.state is TrialState.COMPLETE for t in trials)
    runs = {r.id: r for r in client.child_runs(sweep.run_id)}
    ray_ids = {r.tags["ray.trial_id"] for r in runs.values()}
    assert len(ray_ids) == 20
    by_ray_id = {r.metrics["trial_id"]: r for r in results}
    assert set(by_ray_id) == ray_ids
    for t in trials:
        run = runs[t.run_id]
        tuned = by_ray_id[run.tags["ray.trial_id"]]
        # the config is the run's params; the reported results its metrics
        assert run.status is RunStatus.FINISHED
        assert int(run.params["n_estimators"]) == tuned.config["n_estimators"]
        assert int(run.params["max_depth"]) == tuned.config["max_depth"]
        assert run.params["data"] == "digits"
        assert t.values == (tuned.metrics["accuracy"],)
        series = client.get_metric_series(run.id, "accuracy")
        assert list(series.steps) == [0, 1, 2] and series.values[-1] == t.values[0]
        assert run.metrics["trees"].last_value == tuned.config["n_estimators"]
        assert run.metrics["worker_pid"].last_value != os.getpid()  # logged in a Ray worker
    # the distributions came from the Tune space: importances work as for an Optuna sweep
    summary = client.sweeps.summary("forest-ray")
    assert summary.importances is not None and set(summary.importances) == {
        "n_estimators",
        "max_depth",
    }
    assert summary.best[0].value == max(t.values[0] for t in trials)
    client.close()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_sweep_configuration_runs_on_the_ray_engine(ray_cluster: str, tmp_path: Path) -> None:
    client = labline.Client(labline.Settings.local(tmp_path / "home"))
    config = {
        "name": "forest-ray-config",
        "experiment": "digits",
        "metric": "accuracy",
        "direction": "maximize",
        "budget": {"trials": 6},
        "parallelism": 2,
        "engine": "ray",
        "ray_address": ray_cluster,
        "sampler": {"name": "tpe", "seed": 0},
        "space": {
            "n_estimators": {"type": "int", "low": 2, "high": 30, "log": True},
            "max_depth": {"type": "int", "low": 2, "high": 12},
        },
        "objective": {"function": "_digits_objective:forest"},
    }
    sweep = client.sweeps.run(config)
    trials = client.sweeps.trials(sweep.id)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 6
    assert client.get_run(sweep.run_id).status is RunStatus.FINISHED
    pids = {client.get_run(t.run_id).metrics["worker_pid"].last_value for t in trials}
    assert os.getpid() not in pids  # the trials ran in Ray's workers
    client.close()


def _climb(config: dict[str, Any]) -> None:
    """A Tune trainable whose score grows a little each step; better the higher ``rank``."""
    import labline.ray

    for step in range(8):
        labline.ray.report({"score": config["rank"] + 0.01 * step, "worker_pid": os.getpid()})


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_asha_stopped_trials_end_pruned_through_labline_server(
    ray_cluster: str, http_server: ThreadedServer, tmp_path: Path
) -> None:
    """Ray workers log through labline server (the trainable carries LABLINE_URI=http://...
    and the token); trials ASHA stops early end ``pruned`` through the driver's callback,
    and the sweep's run ends finished."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    import labline.ray
    from http_store_support import fresh_http_client

    for client in fresh_http_client(http_server, tmp_path):
        assert client.settings.uri == http_server.url
        # the best first: later, worse trials fall below the first ones' results at a rung
        space = {"rank": tune.grid_search([8, 7, 6, 5, 4, 3, 2, 1])}
        wrapped = labline.ray.trainable(
            _climb, sweep="asha", metric="score", mode="max", param_space=space, client=client
        )
        ray.init(
            address=ray_cluster,
            runtime_env={"env_vars": {"PYTHONPATH": f"{SRC}{os.pathsep}{HERE}"}},
            log_to_driver=False,
        )
        try:
            results = tune.Tuner(
                wrapped,
                param_space=space,
                tune_config=tune.TuneConfig(
                    scheduler=ASHAScheduler(
                        metric="score", mode="max", max_t=8, grace_period=1, reduction_factor=2
                    ),
                    max_concurrent_trials=2,
                    reuse_actors=True,
                ),
                run_config=tune.RunConfig(
                    storage_path=str(tmp_path / "ray_results"),
                    verbose=0,
                    callbacks=[wrapped.callback()],
                ),
            ).fit()
        finally:
            ray.shutdown()
        assert results.num_errors == 0
        sweep = client.sweeps.get("asha")
        trials = client.sweeps.trials(sweep.id)
        assert len(trials) == 8
        states = [t.state for t in trials]
        assert TrialState.RUNNING not in states and TrialState.FAIL not in states
        assert TrialState.PRUNED in states and TrialState.COMPLETE in states
        runs = {r.id: r for r in client.child_runs(sweep.run_id)}
        for t in trials:
            run = runs[t.run_id]
            assert run.status is RunStatus.FINISHED and run.tags["sweep.state"] == t.state.value
            assert run.created_by == "tester"  # written through the server, as its token
            assert run.metrics["worker_pid"].last_value != os.getpid()  # in a Ray worker
            steps = len(t.intermediate_values)
            if t.state is TrialState.PRUNED:
                # stopped early, valued at its last report (as Optuna values a pruned trial)
                assert steps < 8 and t.values == (t.intermediate_values[steps - 1],)
            else:
                assert steps == 8 and t.values == (t.intermediate_values[7],)
        assert client.get_run(sweep.run_id).status is RunStatus.FINISHED
