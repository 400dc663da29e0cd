"""Issue 16 on real runs: pairing by id whatever the row order, what a refusal names, one sign
convention in every output, the seed shown and reproducible, dropped runs named, and the checks
``log_predictions`` makes on probabilities."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import labline
from labline import InvalidArgumentError
from labline.cli import main
from labline.core._types import RunStatus

N = 600


def _log(
    client: labline.Client,
    model: str,
    ids: np.ndarray,
    y: np.ndarray,
    pred: np.ndarray,
    *,
    proba: np.ndarray | None = None,
    dataset_data: object = None,
    seed: int = 0,
) -> str:
    with labline.start_run(
        "digits", params={"model": model, "seed": seed}, client=client, capture_env=False
    ) as run:
        if dataset_data is not None:
            run.log_dataset("test", dataset_data)
        run.log_predictions("test", ids, y, pred, y_proba=proba)
        return run.id


def _binary(rng: np.random.Generator, y: np.ndarray, sharp: float) -> tuple[np.ndarray, np.ndarray]:
    p1 = np.clip(0.5 + sharp * (2 * y - 1) + rng.normal(0, 0.2, y.size), 0.01, 0.99)
    return (p1 > 0.5).astype(int), np.column_stack([1 - p1, p1])


# --- 6. pairing ignores row order ----------------------------------------------------------------


def test_the_same_rows_in_another_order_pair_once_log_dataset_was_called(
    client: labline.Client,
) -> None:
    rng = np.random.default_rng(1)
    features = rng.normal(size=(N, 3))
    y = (features[:, 0] > 0).astype(int)
    ids = np.arange(N)
    pred_a = np.where(rng.random(N) < 0.8, y, 1 - y)
    pred_b = np.where(rng.random(N) < 0.85, y, 1 - y)
    shuffle = rng.permutation(N)
    # each run logs the same test rows, ids and labels, but in its own order
    _log(client, "logreg", ids, y, pred_a, dataset_data=np.column_stack([ids, features]))
    _log(
        client,
        "cnn",
        ids[shuffle],
        y[shuffle],
        pred_b[shuffle],
        dataset_data=np.column_stack([ids, features])[shuffle],
    )
    report = labline.compare(
        "digits:model=logreg", "digits:model=cnn", "accuracy", n_resamples=200, client=client
    )
    correct_a, correct_b = (pred_a == y).mean(), (pred_b == y).mean()
    assert report[0].analysis.difference == pytest.approx(correct_b - correct_a)


def test_different_rows_are_refused_naming_what_differs(client: labline.Client) -> None:
    rng = np.random.default_rng(2)
    features = rng.normal(size=(N, 2))
    y = (features[:, 0] > 0).astype(int)
    ids = np.arange(N)
    a = _log(client, "logreg", ids, y, y, dataset_data=features)
    relabelled = y.copy()
    relabelled[[3, 7]] = 1 - relabelled[[3, 7]]
    changed = features.copy()
    changed[[3, 7], 0] *= -1
    b = _log(client, "cnn", ids, relabelled, y, dataset_data=changed)
    with pytest.raises(InvalidArgumentError, match="fingerprint differs") as info:
        labline.compare("digits:model=logreg", "digits:model=cnn", "accuracy", client=client)
    message = str(info.value)
    assert a[:8] in message and b[:8] in message
    assert "2 shared ids with different true labels (ids 3, 7)" in message


def test_different_ids_are_named(client: labline.Client) -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, N)
    _log(client, "logreg", np.arange(N), y, y)
    _log(client, "cnn", np.arange(N) + 2, y, y)
    with pytest.raises(InvalidArgumentError, match="differ") as info:
        labline.compare("digits:model=logreg", "digits:model=cnn", "accuracy", client=client)
    message = str(info.value)
    assert "first only: ids 0, 1" in message and f"second only: ids {N}, {N + 1}" in message


# --- 7. inconsistent predictions -------------------------------------------------------------


def test_log_predictions_refuses_bad_probability_rows(client: labline.Client) -> None:
    y = np.array([0, 1, 1, 0])
    good = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
    with labline.start_run("digits", client=client, capture_env=False) as run:
        too_much = good.copy()
        too_much[2] = [0.9, 0.9]
        with pytest.raises(
            InvalidArgumentError, match=r"sum to 1 \(within ±0.0001\): row 2 sums to 1.8"
        ):
            run.log_predictions("a", np.arange(4), y, good.argmax(1), too_much)
        with_nan = good.copy()
        with_nan[1, 0] = np.nan
        with pytest.raises(InvalidArgumentError, match=r"NaN \(row 1"):
            run.log_predictions("b", np.arange(4), y, good.argmax(1), with_nan)
        rec = run.log_predictions("c", np.arange(4), y, good.argmax(1), good)
    assert rec.has_proba


def test_log_predictions_warns_when_labels_disagree_with_the_most_probable_class(
    client: labline.Client,
) -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 200)
    pred, proba = _binary(rng, y, 0.3)
    with labline.start_run("digits", client=client, capture_env=False) as run:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            run.log_predictions("agree", np.arange(200), y, pred, proba)
        with pytest.warns(UserWarning, match=r"on 100.0% of the examples \(more than 1%\)"):
            run.log_predictions("swapped", np.arange(200), y, pred, proba[:, ::-1])


# --- 4, 5, 8: one sign convention, the seed, dropped runs --------------------------------------


def _stale_run(client: labline.Client, model: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    experiment = client.store.get_or_create_experiment("digits")
    run = client.store.create_run(
        experiment.id,
        "crashed",
        params={"model": model, "seed": "9"},
        host=socket.gethostname(),
        pid=int(proc.stdout),
    )
    assert client.store.get_run(run.id).status is RunStatus.STALE
    return run.id


def test_report_keeps_difference_and_improvement_apart_and_names_dropped_runs(
    client: labline.Client,
) -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, N)
    for model, sharp in (("logreg", 0.3), ("cnn", 0.2)):  # the candidate is worse
        pred, proba = _binary(rng, y, sharp)
        _log(client, model, np.arange(N), y, pred, proba=proba)
    stale = _stale_run(client, "cnn")
    report = labline.compare(
        "digits:model=logreg",
        "digits:model=cnn",
        "log_loss",
        n_resamples=300,
        seed=17,
        client=client,
    )
    a = report[0].analysis
    assert a.difference > 0 and a.improvement < 0  # higher log-loss: worse
    data = report.to_dict()
    row = data["comparisons"][0]["analysis"]
    assert row["difference"] == pytest.approx(a.candidate_mean - a.baseline_mean)
    assert row["improvement"] == pytest.approx(-row["difference"])
    assert row["improvement_ci"] == pytest.approx([-a.ci_high, -a.ci_low])
    assert data["seed"] == 17 and "candidate − baseline" in data["difference_means"]
    text = str(report)
    html = report._repr_html_()
    for shown in (text, html):
        assert "difference (candidate − baseline)" in shown and "improvement" in shown
        assert f"{a.difference:+.4g} [" in shown and f"{a.improvement:+.4g} [" in shown
    assert "seed 17" in text
    assert f"{stale[:8]} (crashed, stale)" in text and any(stale[:8] in n for n in data["notes"])


def _env(home: Path) -> dict[str, str]:
    return {"LABLINE_HOME": str(home), "LABLINE_URI": "", "LABLINE_ARTIFACT_URI": ""}


def test_hypothesis_show_prints_the_seed_that_reproduces_its_p_value(tmp_path: Path) -> None:
    settings = labline.Settings.local(tmp_path)
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, N)
    with labline.Client(settings) as client:
        for _ in range(3):  # a spare hypothesis: the seed must not be just "1"
            client.add_hypothesis(
                "placeholder",
                baseline="x:model=a",
                candidate="x:model=b",
                metric="auc",
                min_effect=0.01,
            )
        h = client.add_hypothesis(
            "cnn has a higher AUC",
            baseline="digits:model=logreg",
            candidate="digits:model=cnn",
            metric="auc",
            min_effect=0.01,
        )
        assert h.seed == h.id
        for model, sharp in (("logreg", 0.2), ("cnn", 0.25)):
            pred, proba = _binary(rng, y, sharp)
            _log(client, model, np.arange(N), y, pred, proba=proba)
    runner = CliRunner()
    # reads never write: the result exists once the hypothesis is evaluated explicitly
    evaluated = runner.invoke(main, ["hypothesis", "evaluate", str(h.id)], env=_env(tmp_path))
    assert evaluated.exit_code == 0, evaluated.output
    shown = runner.invoke(main, ["hypothesis", "show", str(h.id), "--json"], env=_env(tmp_path))
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["seed"] == h.id and f"--seed {h.id}" in data["reproduce"]
    recorded = data["result"]["comparisons"][0]["analysis"]["p_value"]
    assert data["result"]["seed"] == h.id
    table = runner.invoke(main, ["hypothesis", "show", str(h.id)], env=_env(tmp_path))
    assert "seed" in table.stdout and "difference (candidate − baseline)" in table.stdout
    assert "improvement [CI]" in table.stdout
    # run exactly what `hypothesis show` printed
    argv = data["reproduce"].split()[1:]
    assert argv[0] == "compare"
    again = runner.invoke(main, [*[a.strip("'") for a in argv], "--json"], env=_env(tmp_path))
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["comparisons"][0]["analysis"]["p_value"] == recorded
    assert json.loads(again.stdout)["seed"] == h.id


def test_migration_backfills_the_seed_of_existing_hypotheses(store_url: str) -> None:
    import sqlalchemy as sa
    from alembic import command

    from labline.store.sql import SQLStore
    from labline.store.sql._store import _alembic_config, head_revision

    store = SQLStore(store_url)
    cfg = _alembic_config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006_run_parents_exp_deletes")
    with store.engine.begin() as conn:  # a hypothesis written under the previous schema
        conn.execute(
            sa.text(
                "INSERT INTO hypotheses (statement, baseline, candidate, metric, min_effect, "
                "alpha, seeds, created_at, status) VALUES ('old', 'e:a=1', 'e:a=2', 'auc', "
                "0.01, 0.05, 1, CURRENT_TIMESTAMP, 'waiting for runs')"
            )
        )
    store.close()
    upgraded = SQLStore(store_url)
    # upgrading from 0006 runs the seed backfill (0007) and every later migration
    assert upgraded.schema_revision() == head_revision()
    (old,) = upgraded.list_hypotheses()
    assert old.seed == old.id
    new = upgraded.add_hypothesis(
        statement="new",
        baseline="e:a=1",
        candidate="e:a=2",
        metric="auc",
        dataset=None,
        min_effect=0.01,
        alpha=0.05,
        seeds=1,
    )
    assert new.seed == new.id and new.id != old.id
    upgraded.close()


def test_there_is_one_migration_head() -> None:
    from alembic.script import ScriptDirectory

    from labline.store.sql._store import _alembic_config

    assert len(ScriptDirectory.from_config(_alembic_config()).get_heads()) == 1
