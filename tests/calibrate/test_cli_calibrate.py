"""``labline calibrate`` through the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

import labline

X, Y = load_digits(return_X_y=True)
X = X / 16


def _cli(settings: labline.Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LABLINE_HOME": str(settings.home),
        "LABLINE_URI": settings.uri,
        "LABLINE_ARTIFACT_URI": settings.artifact_uri,
    }
    return subprocess.run(
        [sys.executable, "-m", "labline", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )


@pytest.fixture
def held_out(local_settings: labline.Settings, tmp_path: Path) -> Path:
    with labline.Client(local_settings) as client, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with client.start_run("digits", capture_env=False) as run:
            run.log_dataset("train", X[:600])
            model = LogisticRegression(max_iter=20).fit(X[:600], Y[:600])
            run.log_model(model, name="digits", input_example=X[600:603], eval_inputs=X[600:640])
    np.savez(tmp_path / "held.npz", X=X[600:], y=Y[600:])
    np.savez(tmp_path / "train.npz", X=X[:600], y=Y[:600])
    return tmp_path


def test_calibrate_prints_json_and_shows_the_current_one(local_settings, held_out):
    s = local_settings
    out = _cli(
        s,
        "calibrate",
        "digits/1",
        "--data",
        str(held_out / "held.npz"),
        "--target-error",
        "0.05",
        "--confidence",
        "0.9",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    cal = json.loads(out.stdout)
    assert cal["model_name"] == "digits" and cal["model_version"] == 1
    assert cal["method"] == "ltt" and cal["target_error"] == 0.05 and cal["n"] == len(Y) - 600
    assert 0 < cal["coverage"] < 1 and "exchangeable" in cal["guarantee"]
    shown = _cli(s, "calibrate", "digits/1", "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["id"] == cal["id"]
    human = _cli(
        s,
        "calibrate",
        "digits/1",
        "--data",
        str(held_out / "held.npz"),
        "--target-error",
        "0.1",
        "--confidence",
        "0.9",
        "--method",
        "sgr",
    )
    assert human.returncode == 0, human.stderr
    assert "SGR" in human.stdout and "answer when score >=" in human.stdout
    every = json.loads(_cli(s, "calibrate", "digits/1", "--all", "--json").stdout)
    assert [c["method"] for c in every] == ["ltt", "sgr"]


def test_calibrate_errors_are_one_line(local_settings, held_out):
    s = local_settings
    out = _cli(
        s, "calibrate", "digits/1", "--data", str(held_out / "held.npz"), "--target-error", "0.0005"
    )
    assert out.returncode == 1
    assert out.stderr.startswith("error: no threshold") and "best target" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    out = _cli(s, "calibrate", "digits/1", "--data", str(held_out / "train.npz"))
    assert out.returncode == 1 and "training data set 'train'" in out.stderr
    out = _cli(
        s, "calibrate", "digits/1", "--data", str(held_out / "held.npz"), "--confidence", "1.5"
    )
    assert out.returncode == 1 and "confidence" in out.stderr
    assert "Traceback" not in out.stderr
