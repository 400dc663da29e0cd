"""``labline compare`` and ``labline hypothesis`` through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

import labline
from labline.cli import main

N = 800


def _env(home: Path) -> dict[str, str]:
    return {"LABLINE_HOME": str(home), "LABLINE_URI": "", "LABLINE_ARTIFACT_URI": ""}


def _log(settings: labline.Settings, model: str, accuracy: float, rng: np.random.Generator) -> None:
    y = np.random.default_rng(0).integers(0, 2, N)
    with labline.start_run(
        "digits", params={"model": model}, settings=settings, capture_env=False
    ) as run:
        run.log_predictions("test", np.arange(N), y, np.where(rng.random(N) < accuracy, y, 1 - y))


def test_compare_prints_json_only_with_json(tmp_path: Path) -> None:
    settings = labline.Settings.local(tmp_path)
    rng = np.random.default_rng(0)
    _log(settings, "logreg", 0.7, rng)
    _log(settings, "cnn", 0.85, rng)
    runner = CliRunner()
    args = [
        "compare",
        "-b",
        "digits:model=logreg",
        "-c",
        "digits:model=cnn",
        "-m",
        "accuracy",
        "--resamples",
        "500",
    ]
    result = runner.invoke(main, [*args, "--json"], env=_env(tmp_path))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["comparisons"][0]["analysis"]["verdict"] == "better"
    table = runner.invoke(main, args, env=_env(tmp_path))
    assert table.exit_code == 0 and "McNemar" in table.stdout and "better" in table.stdout


def test_compare_errors_are_one_line(tmp_path: Path) -> None:
    settings = labline.Settings.local(tmp_path)
    _log(settings, "logreg", 0.7, np.random.default_rng(1))
    result = CliRunner().invoke(
        main,
        ["compare", "-b", "digits:model=logreg", "-c", "digits:model=zzz", "-m", "accuracy"],
        env=_env(tmp_path),
    )
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0
    assert "matches no finished run" in result.stderr and "Traceback" not in result.stderr


def test_hypothesis_add_list_show_revise(tmp_path: Path) -> None:
    runner = CliRunner()
    env = _env(tmp_path)
    added = runner.invoke(
        main,
        [
            "hypothesis",
            "add",
            "cnn beats logreg",
            "-b",
            "digits:model=logreg",
            "-c",
            "digits:model=cnn",
            "-m",
            "accuracy",
            "--min-effect",
            "0.02",
            "--json",
        ],
        env=env,
    )
    assert added.exit_code == 0, added.output
    h = json.loads(added.stdout)
    assert h["status"] == "waiting for runs" and "baseline 0/1 runs" in h["progress"]

    settings = labline.Settings.local(tmp_path)
    rng = np.random.default_rng(2)
    _log(settings, "logreg", 0.7, rng)
    _log(settings, "cnn", 0.85, rng)

    evaluated_now = runner.invoke(main, ["hypothesis", "evaluate", str(h["id"])], env=env)
    assert evaluated_now.exit_code == 0 and "evaluated: supported" in evaluated_now.stdout
    shown = runner.invoke(main, ["hypothesis", "show", str(h["id"]), "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    evaluated = json.loads(shown.stdout)
    assert (
        evaluated["status"] == "evaluated: supported"
        and evaluated["result"]["preregistered"] is True
    )

    revised = runner.invoke(
        main, ["hypothesis", "revise", str(h["id"]), "--min-effect", "0.5", "--json"], env=env
    )
    assert revised.exit_code == 0, revised.output
    assert json.loads(revised.stdout)["supersedes"] == h["id"]

    assert runner.invoke(main, ["hypothesis", "evaluate", "--json"], env=env).exit_code == 0
    listed = runner.invoke(main, ["hypothesis", "list", "--json"], env=env)
    items = json.loads(listed.stdout)
    assert [i["status"] for i in items] == ["evaluated: supported", "evaluated: refuted"]
    assert items[0]["superseded_by"] == [items[1]["id"]]

    text = runner.invoke(main, ["hypothesis", "show", str(h["id"])], env=env)
    assert (
        text.exit_code == 0
        and "superseded by" in text.stdout
        and "registered before the runs" in text.stdout
    )
    table = runner.invoke(main, ["hypothesis", "list"], env=env)
    assert table.exit_code == 0 and "cnn beats" in table.stdout and "supported" in table.stdout
