"""Sweeps run from a configuration: a real small sweep (a random forest on digits, 20 trials,
2 worker processes) through Optuna on SQLite and PostgreSQL; commands as objectives; resume;
``labline sweep run|list|show`` and ``labline compare-sweeps`` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import labline
from labline import RunStatus, TrialState

pytest.importorskip("optuna", reason="the sweeps extra is part of dev")
pytest.importorskip("sklearn", reason="the sklearn extra is part of dev")

HERE = Path(__file__).parent

FOREST_SPACE = {
    "n_estimators": {"type": "int", "low": 2, "high": 30, "log": True},
    "max_depth": {"type": "int", "low": 2, "high": 12},
}


def _forest(name: str, trials: int, parallelism: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "experiment": "digits",
        "metric": "accuracy",
        "direction": "maximize",
        "budget": {"trials": trials},
        "parallelism": parallelism,
        "sampler": {"name": "tpe", "seed": 0},
        "space": FOREST_SPACE,
        "objective": {"function": "_digits_objective:forest"},
        **extra,
    }


@pytest.mark.slow
def test_a_digits_sweep_of_20_trials_on_2_worker_processes(client: labline.Client) -> None:
    sweep = client.sweeps.run(_forest("forest", trials=20, parallelism=2))
    trials = client.sweeps.trials(sweep.id)
    assert sorted(t.number for t in trials) == list(range(20))
    assert all(t.state is TrialState.COMPLETE for t in trials)
    # each trial is a finished child run with the sampled params and the metrics it returned
    runs = {r.id: r for r in client.child_runs(sweep.run_id)}
    assert len(runs) == 20
    for t in trials:
        run = runs[t.run_id]
        assert run.status is RunStatus.FINISHED
        assert int(run.params["n_estimators"]) == t.params["n_estimators"].internal
        assert 2 <= int(run.params["max_depth"]) <= 12
        assert run.metrics["accuracy"].last_value == pytest.approx(t.values[0])
        assert run.metrics["n_estimators"].last_value == int(run.params["n_estimators"])
    parent = client.get_run(sweep.run_id)
    assert parent.status is RunStatus.FINISHED
    # trials came from both workers (two processes, one study)
    assert len({r.metrics["worker_pid"].last_value for r in runs.values()}) == 2

    summary = client.sweeps.summary("forest")
    scores = [t.values[0] for t in trials]
    assert summary.best[0].value == max(scores) and len(summary.best) == 5
    assert [b.value for b in summary.best] == sorted(scores, reverse=True)[:5]
    assert summary.states == {"complete": 20}
    assert summary.importances is not None
    assert set(summary.importances) == {"n_estimators", "max_depth"}
    assert sum(summary.importances.values()) == pytest.approx(1.0)
    curve = summary.curve
    assert curve is not None and curve.budgets == tuple(range(1, 21))
    assert curve.estimate[0] == pytest.approx(np.mean(scores))
    assert curve.estimate[-1] == pytest.approx(max(scores))
    assert all(np.diff(curve.estimate) >= -1e-12)
    assert all(
        lo <= e <= hi for lo, e, hi in zip(curve.low, curve.estimate, curve.high, strict=True)
    )
    assert curve.seconds is not None and curve.seconds[-1] > 0
    assert "fANOVA" in str(summary) and "budget curve" in str(summary)
    json.dumps(summary.to_dict(), allow_nan=False)


def _quadratic(name: str, trials: int, command: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "metric": "loss",
        "direction": "minimize",
        "budget": {"trials": trials},
        "sampler": {"name": "random", "seed": 1},
        "space": {"x": {"type": "float", "low": -3, "high": 3}},
        "objective": {"command": command},
        **extra,
    }


SQUARE = [
    sys.executable,
    "-c",
    "import json, os, sys; p = json.loads(os.environ['LABLINE_TRIAL_PARAMS']); "
    "x = float(sys.argv[1]); assert x == p['x']; "
    "print('training...'); print(json.dumps({'loss': (x - 1) ** 2, 'abs_x': abs(x)}))",
    "{x}",
]


def test_a_command_objective_is_resumed_to_its_budget(client: labline.Client) -> None:
    sweep = client.sweeps.run(_quadratic("quad", 3, SQUARE))
    assert len(client.sweeps.trials(sweep.id)) == 3
    # resuming with a larger budget adds only the missing trials
    client.sweeps.run(_quadratic("quad", 5, SQUARE))
    trials = client.sweeps.trials(sweep.id)
    assert [t.number for t in trials] == [0, 1, 2, 3, 4]
    for t in trials:
        x = float(t.params["x"].display)
        assert t.values == pytest.approx(((x - 1) ** 2,))
        run = client.get_run(t.run_id)
        assert run.metrics["abs_x"].last_value == pytest.approx(abs(x))
    # the same budget again runs nothing; another search space is refused, naming it
    client.sweeps.run(_quadratic("quad", 5, SQUARE))
    assert len(client.sweeps.trials(sweep.id)) == 5
    other = _quadratic("quad", 6, SQUARE)
    other["space"] = {"x": {"type": "float", "low": 0, "high": 1}}
    with pytest.raises(labline.InvalidArgumentError, match="another space"):
        client.sweeps.run(other)


def test_failing_commands_fail_their_trials_not_the_sweep(client: labline.Client) -> None:
    fails = [sys.executable, "-c", "import sys; sys.exit(3)"]
    silent = [sys.executable, "-c", "print('no result here')"]
    for name, command in (("exits", fails), ("silent", silent)):
        sweep = client.sweeps.run(_quadratic(name, 2, command))
        trials = client.sweeps.trials(sweep.id)
        assert [t.state for t in trials] == [TrialState.FAIL, TrialState.FAIL]
        assert all(client.get_run(t.run_id).status is RunStatus.FAILED for t in trials)
        assert client.get_run(sweep.run_id).status is RunStatus.FINISHED
    with pytest.raises(labline.InvalidArgumentError, match="no complete trial"):
        client.compare_sweeps("exits", "silent")
    summary = client.sweeps.summary("exits")  # shown, with the reason there is no curve
    assert summary.states == {"fail": 2} and summary.best == () and summary.curve is None
    assert any("no complete trial" in n for n in summary.notes)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"budget": {}}, "budget"),
        ({"budget": {"trials": 0}}, "budget.trials"),
        ({"direction": "up"}, "direction"),
        ({"sampler": "bayes"}, "sampler"),
        ({"space": {"x": {"type": "float", "low": 2, "high": 1}}}, "space.x"),
        ({"space": {"x": {"type": "float", "low": 0, "high": 1, "log": True}}}, "space.x"),
        ({"space": {"x": {"type": "categorical", "choices": []}}}, "space.x.choices"),
        ({"objective": {"function": "not a path"}}, "objective.function"),
        ({"objective": {"function": "no_such_module_x:f"}}, "objective.function"),
        ({"objective": {}}, "objective"),
        ({"parallelism": -1}, "parallelism"),
        ({"colour": "blue"}, "colour"),
        ({"space": {"seed": [1, 2]}}, "seed_param"),
    ],
)
def test_bad_configurations_name_the_field(
    client: labline.Client, change: dict[str, Any], named: str
) -> None:
    config = {**_quadratic("bad", 2, SQUARE), **change}
    with pytest.raises(labline.InvalidArgumentError, match=named.replace(".", r"\.")):
        client.sweeps.run(config)
    assert client.sweeps.list() == []


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LABLINE_HOME": str(home)}
    env.pop("LABLINE_URI", None)
    return subprocess.run(
        [sys.executable, "-m", "labline", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


@pytest.mark.slow
def test_the_cli_runs_lists_shows_and_compares_sweeps(tmp_path: Path) -> None:
    import yaml

    home = tmp_path / "home"
    knn = {
        **_forest("knn", trials=8, parallelism=1),
        "space": {
            "n_neighbors": {"type": "int", "low": 1, "high": 40, "log": True},
            "weights": ["uniform", "distance"],
        },
        "objective": {"function": "_digits_objective:knn"},
    }
    for name, config in (("forest", _forest("forest", 8, 2)), ("knn", knn)):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(config))
        path = str(tmp_path / f"{name}.yaml")
        out = _cli(home, "sweep", "run", path, "--app-dir", str(HERE), "--json")
        assert out.returncode == 0, out.stderr[-2000:]
        shown = json.loads(out.stdout)
        assert shown["sweep"]["name"] == name and shown["states"] == {"complete": 8}
    out = _cli(home, "sweep", "list", "--json")
    listed = {s["name"]: s for s in json.loads(out.stdout)}
    assert listed["forest"]["trials"] == 8 and listed["knn"]["metric"] == "accuracy"
    table = _cli(home, "sweep", "show", "forest")
    assert table.returncode == 0 and "parameter importances" in table.stdout
    out = _cli(home, "sweep", "show", "forest", "--json")
    shown = json.loads(out.stdout)
    assert len(shown["curve"]["estimate"]) == 8 and shown["best"][0]["params"]["max_depth"] >= 2

    app = ("--app-dir", str(HERE))
    out = _cli(home, "compare-sweeps", "knn", "forest", "--json", "--seeds", "3", *app)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
    budgets = report["budgets"]
    assert budgets["unit"] == "trials" and budgets["budget"] == 8
    assert budgets["verdict"] in ("better", "worse", "no detectable difference")
    assert budgets["crossings_seconds"] is not None
    assert report["seeds"] == [0, 1, 2]
    seed_analysis = report["seed_report"]["comparisons"][0]["analysis"]
    assert seed_analysis["paired_by_seed"] is True
    assert report["verdict"] == seed_analysis["verdict"]
    # the re-runs are child runs of their sweeps, reused by the next comparison
    out = _cli(home, "compare-sweeps", "knn", "forest", "--budget", "seconds", "--seeds", "3", *app)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "crossings in compute time" in out.stdout and "seconds of compute" in out.stdout
    client = labline.Client(labline.Settings.local(home))
    reruns = [
        r for r in client.child_runs(client.sweeps.get("forest").run_id) if "sweep.rerun" in r.tags
    ]
    assert sorted(int(r.params["seed"]) for r in reruns) == [0, 1, 2]
    client.close()
    bad = _cli(home, "compare-sweeps", "knn", "nope")
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "nope" in bad.stderr


def test_a_budget_in_seconds_stops_the_sweep(client: labline.Client) -> None:
    config = _quadratic("timed", 1, SQUARE)
    config["budget"] = {"seconds": 2}
    sweep = client.sweeps.run(config)
    trials = client.sweeps.trials(sweep.id)
    assert trials and all(t.state is TrialState.COMPLETE for t in trials)
    # no trial starts after the budget is spent (one may finish after it)
    starts = [t.datetime_start for t in trials if t.datetime_start is not None]
    assert (max(starts) - min(starts)).total_seconds() < 2
    assert client.get_run(sweep.run_id).status is RunStatus.FINISHED
