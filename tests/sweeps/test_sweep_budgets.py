"""``compare`` warns when the two groups' runs came from sweeps whose budgets are more than 2x
apart, naming both budgets; sweeps tuned alike draw no warning."""

from __future__ import annotations

import pytest

import labline

optuna = pytest.importorskip("optuna", reason="the sweeps extra is part of dev")
from labline.optuna import Storage  # noqa: E402


def _sweep(client: labline.Client, name: str, n_trials: int, shift: float) -> list[str]:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=Storage(client=client, experiment="tuning"),
        study_name=name,
        direction="maximize",
        sampler=optuna.samplers.RandomSampler(seed=n_trials),
    )
    study.optimize(lambda t: shift + t.suggest_float("x", 0, 1), n_trials=n_trials)
    trials = client.sweeps.trials(client.sweeps.get(name).id)
    return [t.run_id for t in trials]


def test_compare_names_both_budgets_when_they_are_more_than_2x_apart(
    client: labline.Client,
) -> None:
    tuned = _sweep(client, "tuned", 10, 0.5)
    untuned = _sweep(client, "untuned", 3, 0.0)
    alike = _sweep(client, "alike", 6, 0.2)
    report = client.compare("runs:" + ",".join(tuned[:3]), "runs:" + ",".join(untuned), "value")
    warnings = [n for n in report.notes if n.startswith("warning: unequal tuning budgets")]
    assert len(warnings) == 1
    assert "'tuned' (10 trials)" in warnings[0] and "'untuned' (3 trials)" in warnings[0]
    assert "labline compare-sweeps tuned untuned" in warnings[0]
    assert warnings[0] in report.to_dict()["notes"]
    assert warnings[0] in " ".join(str(report).replace("• ", "").split())  # the table's notes
    # 10 and 6 trials are within 2x: no warning; nor for runs that come from no sweep
    report = client.compare("runs:" + ",".join(tuned[:3]), "runs:" + ",".join(alike[:3]), "value")
    assert not [n for n in report.notes if "unequal tuning budgets" in n]
    plain = []
    for v in (0.1, 0.2, 0.3):
        with client.start_run("tuning", capture_env=False) as run:
            run.log_metric("value", v)
        plain.append(run.id)
    report = client.compare("runs:" + ",".join(plain), "runs:" + ",".join(untuned), "value")
    assert not [n for n in report.notes if "unequal tuning budgets" in n]
