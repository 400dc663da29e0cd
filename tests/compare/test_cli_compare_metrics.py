"""``labline compare -m`` on any metric, through the real CLI in a subprocess, on both backends.

Custom metrics come from ``package.module:function`` (a module on PYTHONPATH) and from the
``labline.metrics`` entry-point group (a ``.dist-info`` with ``entry_points.txt`` on the path,
which is what installing a distribution leaves behind).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score

import labline

N = 400

METRIC_MODULE = """
from sklearn.metrics import f1_score

import labline


def weighted_f1(y_true, y_pred, sample_weight=None):
    return f1_score(y_true, y_pred, average="weighted", sample_weight=sample_weight)


def broken(y_true, y_pred):
    return float("inf")


worst_class_error = labline.Metric(
    "worst_class_error",
    lambda y_true, y_pred: max(float((y_pred[y_true == k] != k).mean()) for k in set(y_true)),
)
"""


def _cli(settings: labline.Settings, *args: str, path: Path | None = None):
    env = {
        **os.environ,
        "LABLINE_HOME": str(settings.home),
        "LABLINE_URI": settings.uri,
        "LABLINE_ARTIFACT_URI": settings.artifact_uri,
        "PYTHONWARNINGS": "ignore",
    }
    if path is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(path), os.environ.get("PYTHONPATH", "")) if p
        )
    return subprocess.run(
        [sys.executable, "-m", "labline", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def _log_runs(settings: labline.Settings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two models x 4 seeds: predictions on one test set and a logged val_loss / val_accuracy."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, N)
    preds = {}
    with labline.Client(settings) as client:
        for model, accuracy, loss in (("logreg", 0.70, 0.50), ("cnn", 0.85, 0.40)):
            for seed in range(4):
                pred = np.where(rng.random(N) < accuracy, y, (y + 1) % 3)
                preds[model, seed] = pred
                with client.start_run(
                    "digits", params={"model": model, "seed": seed}, capture_env=False
                ) as run:
                    noise = float(rng.normal(0, 0.002))
                    run.log_metrics({"val_loss": loss + noise, "val_accuracy": accuracy})
                    run.log_metric("val_loss", loss - 0.1 + 0.01 * seed + noise, step=5)
                    if seed == 0:
                        run.log_predictions("test", np.arange(N), y, pred)
    return y, preds["logreg", 0], preds["cnn", 0]


@pytest.fixture
def logged(settings: labline.Settings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _log_runs(settings)


@pytest.fixture
def logged_locally(local_settings: labline.Settings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # loading code is independent of the backend (the service tests cover both): SQLite only
    return _log_runs(local_settings)


def test_logged_metric_through_the_cli(settings: labline.Settings, logged) -> None:
    base = ["compare", "-b", "digits:model=logreg", "-c", "digits:model=cnn"]
    out = _cli(settings, *base, "-m", "val_loss", "--resamples", "2000", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    a = data["comparisons"][0]["analysis"]
    assert data["level"] == "run" and data["metric"] == "val_loss"
    assert data["higher_is_better"] is False and a["paired_by_seed"] is True
    assert a["estimate"] == pytest.approx(-0.10, abs=0.01) and a["verdict"] == "better"
    assert a["test"] == "run-level paired t-test"  # 4 seed pairs: too few for the sign flips

    best = _cli(settings, *base, "-m", "val_loss:min", "--json")
    assert best.returncode == 0, best.stderr
    assert json.loads(best.stdout)["metric"] == "val_loss:min"

    flipped = _cli(settings, *base, "-m", "val_loss", "--higher-is-better", "--json")
    assert json.loads(flipped.stdout)["comparisons"][0]["analysis"]["verdict"] == "worse"

    table = _cli(settings, *base, "-m", "val_loss")
    assert table.returncode == 0, table.stderr
    assert "run-level comparison" in table.stdout and "low power" in table.stdout


def test_module_function_and_entry_point_metrics(
    local_settings: labline.Settings, logged_locally, tmp_path: Path
) -> None:
    settings = local_settings
    y, pred_a, pred_b = logged_locally
    path = tmp_path / "plugins"
    path.mkdir()
    (path / "team_metrics.py").write_text(METRIC_MODULE)
    dist = path / "team_metrics-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: team-metrics\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[labline.metrics]\nwf1 = team_metrics:weighted_f1\n"
        "worst_class_error = team_metrics:worst_class_error\n"
    )
    expected = f1_score(y, pred_b, average="weighted") - f1_score(y, pred_a, average="weighted")
    with labline.Client(settings) as client:
        runs = {r.params["model"]: r.id for r in client.search_runs("digits", params={"seed": "0"})}
    base = ["compare", "-b", f"runs:{runs['logreg']}", "-c", f"runs:{runs['cnn']}"]

    imported = _cli(
        settings, *base, "-m", "team_metrics:weighted_f1", "--resamples", "300", "--json", path=path
    )
    assert imported.returncode == 0, imported.stderr
    data = json.loads(imported.stdout)
    assert data["metric"] == "weighted_f1" and data["level"] == "example"
    assert data["comparisons"][0]["analysis"]["estimate"] == pytest.approx(expected)
    assert data["comparisons"][0]["analysis"]["verdict"] == "better"

    registered = _cli(settings, *base, "-m", "wf1", "--resamples", "300", "--json", path=path)
    assert registered.returncode == 0, registered.stderr
    assert json.loads(registered.stdout)["metric"] == "wf1"
    assert json.loads(registered.stdout)["comparisons"][0]["analysis"]["estimate"] == (
        pytest.approx(expected)
    )

    # a Metric object registered as is: its name and direction (an error: lower is better)
    worst = _cli(
        settings, *base, "-m", "worst_class_error", "--resamples", "200", "--json", path=path
    )
    assert worst.returncode == 0, worst.stderr
    data = json.loads(worst.stdout)
    assert data["metric"] == "worst_class_error" and data["higher_is_better"] is False

    broken = _cli(settings, *base, "-m", "team_metrics:broken", path=path)
    assert broken.returncode == 1 and broken.stderr.strip().count("\n") == 0
    assert "metric 'broken' must return a finite scalar, got inf" in broken.stderr
    assert "Traceback" not in broken.stderr

    missing = _cli(settings, *base, "-m", "team_metrics:nothing", path=path)
    assert missing.returncode == 1 and "has no attribute 'nothing'" in missing.stderr


def test_cli_metric_errors_are_one_line(local_settings: labline.Settings, logged_locally) -> None:
    settings = local_settings
    base = ["compare", "-b", "digits:model=logreg", "-c", "digits:model=cnn"]
    for metric, message in (
        ("val_f1", "has no logged metric 'val_f1'"),
        ("val_loss:best", "after ':' comes last, min or max"),
        ("no_such_pkg.mod:fn", "cannot import 'no_such_pkg.mod'"),
    ):
        out = _cli(settings, *base, "-m", metric)
        assert out.returncode == 1, out.stdout
        assert out.stderr.strip().count("\n") == 0 and message in out.stderr, out.stderr


def test_hypotheses_take_any_metric_compare_takes(settings: labline.Settings, logged) -> None:
    """A hypothesis on a logged metric (`-m val_loss`, `val_loss:min`) is registered, shown,
    evaluated by `hypothesis evaluate` and by a `compare` of exactly its groups and metric."""
    groups = ["-b", "digits:model=logreg", "-c", "digits:model=cnn"]
    add = _cli(
        settings, "hypothesis", "add", "cnn lowers val loss", *groups, "-m", "val_loss",
        "--min-effect", "0.05", "--seeds", "4", "--json",
    )  # fmt: skip
    assert add.returncode == 0, add.stderr
    first = json.loads(add.stdout)
    assert first["metric"] == "val_loss" and first["status"] == "waiting for runs"

    best = _cli(
        settings, "hypothesis", "add", "cnn's best val loss is lower", *groups,
        "-m", "val_loss:min", "--min-effect", "0.05", "--seeds", "4", "--json",
    )  # fmt: skip
    assert best.returncode == 0, best.stderr
    assert json.loads(best.stdout)["metric"] == "val_loss:min"

    evaluated = _cli(settings, "hypothesis", "evaluate", str(first["id"]), "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    data = json.loads(evaluated.stdout)
    data = data[0] if isinstance(data, list) else data
    assert data["status"] == "evaluated: supported", data  # the loss falls ~0.10 >= 0.05
    assert data["result"]["level"] == "run" and data["result"]["metric"] == "val_loss"

    # a compare of exactly the second hypothesis's groups and metric evaluates it too
    shown = _cli(settings, "compare", *groups, "-m", "val_loss:min", "--json")
    assert shown.returncode == 0, shown.stderr
    with labline.Client(settings) as client:
        second = client.get_hypothesis(json.loads(best.stdout)["id"])
    assert second.status.evaluated and second.result["metric"] == "val_loss:min"

    refused = _cli(
        settings, "hypothesis", "add", "x", *groups, "-m", "val_loss:best", "--min-effect", "0"
    )
    assert refused.returncode == 1 and "after ':' comes last, min or max" in refused.stderr


def test_hypothesis_on_an_imported_metric_is_matched_by_its_spelling(
    local_settings: labline.Settings, logged_locally, tmp_path: Path, monkeypatch
) -> None:
    path = tmp_path / "plugins"
    path.mkdir()
    # numpy, not scikit-learn: evaluation recomputes it on 10,000 resamples per run
    (path / "team_metrics.py").write_text(
        "import numpy as np\n\n"
        "def agreement(y_true, y_pred, sample_weight=None):\n"
        "    return float(np.average(y_true == y_pred, weights=sample_weight))\n"
    )
    monkeypatch.syspath_prepend(str(path))
    with labline.Client(local_settings) as client:
        runs = {r.params["model"]: r.id for r in client.search_runs("digits", params={"seed": "0"})}
        h = client.add_hypothesis(
            "cnn agrees with the labels more often",
            baseline=f"runs:{runs['logreg']}",
            candidate=f"runs:{runs['cnn']}",
            metric="team_metrics:agreement",
            min_effect=0.0,
        )
        assert h.metric == "team_metrics:agreement"
        with pytest.raises(labline.InvalidArgumentError, match="cannot import"):
            client.add_hypothesis(
                "x", baseline="digits", candidate="digits", metric="nope_pkg:f", min_effect=0
            )
        # another metric with the same groups leaves it waiting; its own spelling evaluates it
        client.compare(h.baseline, h.candidate, "accuracy", n_resamples=200)
        assert not client.get_hypothesis(h.id).status.evaluated
        client.compare(h.baseline, h.candidate, "team_metrics:agreement", n_resamples=200)
        done = client.get_hypothesis(h.id)
        assert done.status.evaluated and done.result["metric"] == "agreement"
