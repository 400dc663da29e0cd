"""The CLI as a user runs it: a real subprocess, real store, JSON and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import labline


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LABLINE_HOME": str(home)}
    env.pop("LABLINE_URI", None)
    return subprocess.run(
        [sys.executable, "-m", "labline", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_runs_list_show_and_experiments_json(tmp_path: Path) -> None:
    settings = labline.Settings.local(tmp_path)
    with labline.start_run(
        "digits", name="lr-1", params={"model": "logreg"}, settings=settings
    ) as run:
        run.log_metric("acc", 0.91)
        run.log_dataset("test", [1, 2, 3])
    with labline.start_run("other", settings=settings):
        pass
    out = _cli(tmp_path, "experiments", "list", "--json")
    assert out.returncode == 0, out.stderr
    assert {e["name"]: e["runs"] for e in json.loads(out.stdout)} == {"digits": 1, "other": 1}
    out = _cli(tmp_path, "runs", "list", "--experiment", "digits", "--json")
    rows = json.loads(out.stdout)
    assert [r["id"] for r in rows] == [run.id]
    assert rows[0]["metrics"]["acc"]["last_value"] == 0.91 and rows[0]["status"] == "finished"
    exp_id = next(
        e["id"]
        for e in json.loads(_cli(tmp_path, "experiments", "list", "--json").stdout)
        if e["name"] == "digits"
    )
    out = _cli(tmp_path, "runs", "list", "--experiment", str(exp_id), "--json")
    assert [r["id"] for r in json.loads(out.stdout)] == [run.id]
    out = _cli(tmp_path, "runs", "list", "--param", "model=logreg", "--json")
    assert [r["id"] for r in json.loads(out.stdout)] == [run.id]
    out = _cli(tmp_path, "runs", "show", run.id[:10], "--json")
    shown = json.loads(out.stdout)
    assert shown["params"] == {"model": "logreg"} and shown["datasets"][0]["name"] == "test"
    assert "packages" in shown["env"]
    table = _cli(tmp_path, "runs", "show", run.id)
    assert table.returncode == 0 and "acc" in table.stdout and "logreg" in table.stdout
    listing = _cli(tmp_path, "runs", "list")
    assert "lr-1" in listing.stdout


def test_errors_are_one_line_and_debug_shows_traceback(tmp_path: Path) -> None:
    out = _cli(tmp_path, "runs", "show", "doesnotexist")
    assert out.returncode == 1
    assert out.stdout == ""
    assert out.stderr.strip().splitlines() == ["error: no run 'doesnotexist'"]
    out = _cli(tmp_path, "--debug", "runs", "show", "doesnotexist")
    assert out.returncode != 0 and "Traceback" in out.stderr
    out = _cli(tmp_path, "runs", "list", "--experiment", "nope", "--json")
    assert out.returncode == 1 and out.stdout == "" and "no experiment 'nope'" in out.stderr
