"""``labline models`` commands, run in-process through click's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import labline
from labline.cli import main

X, Y = load_iris(return_X_y=True)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    settings = labline.Settings.local(tmp_path / "home")
    for c in (1.0, 0.1):
        with labline.start_run(
            "iris", params={"C": c}, settings=settings, capture_env=False
        ) as run:
            run.log_model(
                LogisticRegression(C=c, max_iter=500).fit(X, Y),
                name="iris",
                input_example=X[:2],
                eval_inputs=X[:20],
            )
    return tmp_path / "home"


def _run(home: Path, *args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args), env={"LABLINE_HOME": str(home)})
    return r.exit_code, r.stdout, r.stderr


def test_models_commands_print_json(home: Path) -> None:
    code, out, _ = _run(home, "models", "list", "--json")
    assert code == 0, (out, _)
    assert json.loads(out)[0]["latest_version"] == 2
    code, out, _ = _run(
        home,
        "models",
        "promote",
        "iris",
        "1",
        "--alias",
        "production",
        "--reason",
        "first",
        "--json",
    )
    assert code == 0, out
    body = json.loads(out)
    assert body["parity"]["passed"] and body["event"]["to_version"] == 1
    code, out, _ = _run(
        home,
        "models",
        "promote",
        "iris",
        "2",
        "-a",
        "production",
        "--skip-parity",
        "-r",
        "hotfix",
        "--json",
    )
    assert code == 0 and json.loads(out)["parity"] is None
    code, out, _ = _run(home, "models", "history", "iris@production", "--json")
    events = json.loads(out)
    assert [(e["from_version"], e["to_version"], e["parity"][:7]) for e in events] == [
        (None, 1, "passed "),
        (1, 2, "skipped"),
    ]
    code, out, _ = _run(
        home, "models", "history", "iris@production", "--at", events[0]["at"], "--json"
    )
    assert json.loads(out)["version"] == 1
    code, out, _ = _run(home, "models", "diff", "iris", "1", "2", "--json")
    assert json.loads(out)["params"] == {"C": ["1.0", "0.1"]}
    code, out, _ = _run(home, "models", "show", "iris@production", "--json")
    assert json.loads(out)["manifest"]["adapter"] == "sklearn"
    code, out, _ = _run(home, "models", "list", "iris", "--json")
    assert [v["aliases"] for v in json.loads(out)] == [[], ["production"]]


def test_models_errors_are_one_line(home: Path) -> None:
    code, out, err = _run(
        home, "models", "promote", "iris", "1", "-a", "production", "--skip-parity"
    )
    assert code == 1 and out == ""
    assert err.strip() == "error: skipping the parity gate requires a reason (--reason)"
    code, _, err = _run(home, "models", "show", "iris/9")
    assert code == 1 and err.strip() == "error: no model version iris/9"


def test_bad_references_aliases_and_times_are_refused_naming_the_field(home: Path) -> None:
    code, out, err = _run(home, "models", "history", "iirs@production")
    assert code == 1 and out == "" and err.strip() == "error: no registered model 'iirs'"
    code, _, err = _run(home, "models", "history", "iris@production", "--at", "2026-01-01")
    assert code == 1 and err.strip() == "error: no alias iris@production (it was never set)"
    for alias in ("prod uction", "prod/uction", "3"):
        code, _, err = _run(
            home, "models", "promote", "iris", "1", "-a", alias, "--skip-parity", "-r", "x"
        )
        assert code == 1 and err.strip().startswith("error: alias must start with a letter")
    for ref in ("iris/0", "iris/-1", "iris/abc", "iris@", "@production"):
        code, _, err = _run(home, "models", "show", ref)
        assert code == 1 and err.startswith("error: "), ref
    code, _, err = _run(home, "models", "history", "iris@production", "--at", "March 3rd")
    assert code == 2 and "Invalid value for --at: not an ISO time" in err
    code, _, err = _run(home, "models", "promote", "iris", "7", "-a", "production")
    assert code == 1 and err.strip() == "error: no model version iris/7"
    code, _, err = _run(home, "models", "promote", "iris", "abc", "-a", "production")
    assert code == 2 and "'VERSION'" in err
    # nothing was recorded by any of the refused commands
    code, out, _ = _run(home, "models", "list", "--json")
    assert json.loads(out)[0]["aliases"] == {}
