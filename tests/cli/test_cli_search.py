"""``labline runs list`` with filters, sort orders, columns and formats; run references in
``runs show``: the real CLI in a subprocess."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import labline


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LABLINE_HOME": str(home), "COLUMNS": "200"}
    env.pop("LABLINE_URI", None)
    return subprocess.run(
        [sys.executable, "-m", "labline", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _seed(home: Path) -> list[str]:
    ids = []
    with labline.Client(labline.Settings.local(home)) as client:
        for i, (lr, acc) in enumerate([(0.1, 0.95), (0.001, 0.97), (0.05, 0.91), (0.5, 0.80)]):
            with client.start_run(
                "digits", f"r{i}", params={"lr": lr}, tags={"stage": "final"}, capture_env=False
            ) as run:
                run.log_metric("accuracy", acc)
                ids.append(run.id)
    return ids


def test_runs_list_filter_order_columns_formats(tmp_path: Path) -> None:
    ids = _seed(tmp_path)
    query = [
        "runs",
        "list",
        "-e",
        "digits",
        "--filter",
        "params.lr > 0.01 and metrics.accuracy >= 0.9 and status = 'finished'",
        "--order-by",
        "metrics.accuracy DESC",
    ]
    out = _cli(tmp_path, *query, "--json")
    assert out.returncode == 0, out.stderr
    assert [r["id"] for r in json.loads(out.stdout)] == [ids[0], ids[2]]
    cols = ["--columns", "name,params.lr,metrics.accuracy,status"]
    out = _cli(tmp_path, *query, *cols, "--format", "json")
    assert json.loads(out.stdout) == [
        {"name": "r0", "params.lr": "0.1", "metrics.accuracy": 0.95, "status": "finished"},
        {"name": "r2", "params.lr": "0.05", "metrics.accuracy": 0.91, "status": "finished"},
    ]
    out = _cli(tmp_path, *query, *cols, "--format", "csv")
    assert out.returncode == 0, out.stderr
    rows = list(csv.reader(io.StringIO(out.stdout)))
    assert rows == [
        ["name", "params.lr", "metrics.accuracy", "status"],
        ["r0", "0.1", "0.95", "finished"],
        ["r2", "0.05", "0.91", "finished"],
    ]
    out = _cli(tmp_path, "runs", "list", "--format", "csv", "--order-by", "name")
    header, *body = list(csv.reader(io.StringIO(out.stdout)))
    assert header[:3] == ["run_id", "experiment", "name"] and "params.lr" in header
    assert [row[2] for row in body] == ["r0", "r1", "r2", "r3"]
    out = _cli(tmp_path, *query, *cols)
    assert out.returncode == 0 and "r0" in out.stdout and "0.95" in out.stdout
    assert "r1" not in out.stdout and "r3" not in out.stdout
    # paging: the token goes to stderr, stdout stays JSON
    out = _cli(tmp_path, "runs", "list", "--order-by", "name", "--limit", "3", "--json")
    assert [r["name"] for r in json.loads(out.stdout)] == ["r0", "r1", "r2"]
    token = out.stderr.strip().rsplit(" ", 1)[-1]
    out = _cli(
        tmp_path,
        "runs",
        "list",
        "--order-by",
        "name",
        "--limit",
        "3",
        "--page-token",
        token,
        "--json",
    )
    assert [r["name"] for r in json.loads(out.stdout)] == ["r3"] and out.stderr == ""


def test_runs_list_errors_are_one_line(tmp_path: Path) -> None:
    _seed(tmp_path)
    out = _cli(tmp_path, "runs", "list", "--filter", "metrics.accuracy >= and", "--json")
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.strip().splitlines() == [
        "error: invalid filter at column 21: expected a value after '>=', found 'and'"
    ]
    out = _cli(tmp_path, "runs", "list", "--columns", "name,params.", "--format", "csv")
    assert out.returncode == 1 and "field 'params.'" in out.stderr
    out = _cli(tmp_path, "runs", "list", "--page-token", "nope")
    assert out.returncode == 1 and "page_token" in out.stderr


def test_run_references_in_runs_show(tmp_path: Path) -> None:
    ids = _seed(tmp_path)
    for ref in (ids[1], ids[1][:8], "r1"):
        out = _cli(tmp_path, "runs", "show", ref, "--json")
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["id"] == ids[1]
    with (
        labline.Client(labline.Settings.local(tmp_path)) as client,
        client.start_run("other", "r1", capture_env=False),
    ):
        pass
    out = _cli(tmp_path, "runs", "show", "r1")
    assert out.returncode == 1 and "ambiguous" in out.stderr and "digits/r1" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
