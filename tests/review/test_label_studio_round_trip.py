"""The Label Studio round trip against a real Label Studio.

``scripts/setup.sh`` installs Label Studio and label-studio-sdk in a venv of their own
(``.venvs/label-studio``) and migrates an empty database template there. The test starts
Label Studio on 127.0.0.1 (a free port, its own data dir under tmp, the user and API token
from ``LABEL_STUDIO_USERNAME/PASSWORD/USER_TOKEN``), exports labline's queue with
``labline review export``, and lets ``label_studio_driver.py`` (run by Label Studio's venv,
with label-studio-sdk as the client) create the projects, import the tasks, annotate through
the API as two annotators and export; ``labline review import`` then reads that export back.
Nothing is lost: inputs, ids, the model's guess, score and version survive the trip, and every
annotation becomes exactly one decision (a second import records nothing new).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from review_support import draft

import labline
from labline.core._label_studio import REJECT_CHOICE, label_studio_config

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
VENV = Path(os.environ.get("LABLINE_LABEL_STUDIO_VENV", ROOT / ".venvs" / "label-studio"))
LS_BIN = VENV / "bin" / "label-studio"
LS_PY = VENV / "bin" / "python"
TEMPLATE = VENV / "labline-template" / "label_studio.sqlite3"
TEMPLATE_DONE = VENV / "labline-template" / "done"  # written once the migrations are complete

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not LS_BIN.exists(),
        reason=f"Label Studio is not installed in {VENV} (run scripts/setup.sh)",
    ),
]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ls_env(data: Path, user: str, password: str, token: str) -> dict[str, str]:
    return {
        **os.environ,
        "LABEL_STUDIO_BASE_DATA_DIR": str(data),
        "LABEL_STUDIO_USERNAME": user,
        "LABEL_STUDIO_PASSWORD": password,
        "LABEL_STUDIO_USER_TOKEN": token,
        "SENTRY_DSN": "",
        "PYTHONPATH": "",  # Label Studio's venv imports only its own packages
    }


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A real Label Studio on 127.0.0.1, stopped at the end."""
    data = tmp_path_factory.mktemp("label-studio")
    if TEMPLATE_DONE.exists():  # an already migrated empty database: start-up takes seconds
        shutil.copy(TEMPLATE, data / "label_studio.sqlite3")
    user, password = "reviewer@labline.test", secrets.token_hex(12)
    token = secrets.token_hex(20)
    port = _free_port()
    log = data / "label-studio.log"
    cmd = [str(LS_BIN), "start", "--no-browser", "--internal-host", "127.0.0.1"]
    cmd += ["-p", str(port), "--data-dir", str(data), "--enable-legacy-api-token"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd,
            env=_ls_env(data, user, password, token),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=data,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 1200  # a fresh database migrates for minutes
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"Label Studio exited: {log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "Label Studio did not start"
            time.sleep(1)
        yield {"url": url, "token": token, "user": user, "log": log}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _labline(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [sys.executable, "-m", "labline", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "LABLINE_HOME": str(home)},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out


@pytest.mark.timeout(1800)
def test_round_trip_through_a_real_label_studio(
    label_studio: dict[str, Any], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    client = labline.Client(labline.Settings.local(home), actor="server")
    # five 8x8 digits (two reviews each) and two texts of a sentiment model
    digits = client.enqueue_review_items(
        [draft(i, confidence=0.5 + i / 20) for i in range(5)], reviews_needed=2
    )
    texts = client.enqueue_review_items(
        [
            draft(10 + i, model_name="sentiment", inputs=text, guess=guess)
            for i, (text, guess) in enumerate(
                [("the parcel came broken", "positive"), ("quick, kind, perfect", "positive")]
            )
        ]
    )
    tasks_digits, tasks_texts = tmp_path / "digits.json", tmp_path / "texts.json"
    _labline(home, "review", "export", "--model", "digits", "-o", str(tasks_digits))
    _labline(home, "review", "export", "--model", "sentiment", "-o", str(tasks_texts))
    second = "second@labline.test"
    d = [str(i) for i in digits]
    plan = {
        "url": label_studio["url"],
        "token": label_studio["token"],
        "second_annotator": second,
        "projects": [
            {
                "title": "labline digits",
                "config": label_studio_config(list(range(10)), "image"),
                "tasks": str(tasks_digits),
                "out": str(tmp_path / "digits-export.json"),
                "predictions_out": str(tmp_path / "digits-predictions.json"),
                "answers": {
                    d[0]: [["first", "3"], ["second", "3"]],
                    d[1]: [["first", REJECT_CHOICE], ["second", "8"]],
                    d[2]: [["first", "7"]],
                    d[3]: [["first", "cancel"]],
                    # d[4]: not annotated
                },
            },
            {
                "title": "labline sentiment",
                "config": label_studio_config(["positive", "negative"], "text"),
                "tasks": str(tasks_texts),
                "out": str(tmp_path / "texts-export.json"),
                "predictions_out": str(tmp_path / "texts-predictions.json"),
                "answers": {
                    str(texts[0]): [["first", "negative"]],
                    str(texts[1]): [["second", "positive"]],
                },
            },
        ],
    }
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    run = subprocess.run(
        [str(LS_PY), str(HERE / "label_studio_driver.py"), str(plan_file)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    user_ids = json.loads(run.stdout.strip().splitlines()[-1])

    # Label Studio kept everything labline sent
    exported = json.loads((tmp_path / "digits-export.json").read_text())
    held = json.loads((tmp_path / "digits-predictions.json").read_text())
    assert len(exported) == 5
    for task in exported:
        item = client.get_review_item(task["data"]["labline_id"])
        assert task["data"]["input"] == item.inputs
        assert task["data"]["labline_model_version"] == 1
        assert task["data"]["image"].startswith("data:image/png;base64,")
        assert len(task["predictions"]) == 1
        (prediction,) = held[str(item.id)]
        assert prediction["score"] == pytest.approx(item.confidence)
        assert prediction["model_version"] == "1"
        assert prediction["result"][0]["value"]["choices"] == [str(item.guess)]
    texts_export = json.loads((tmp_path / "texts-export.json").read_text())
    assert sorted(t["data"]["text"] for t in texts_export) == sorted(
        ["the parcel came broken", "quick, kind, perfect"]
    )

    # labline reads the annotations back: one decision per annotation, nothing lost
    out = _labline(home, "review", "import", str(tmp_path / "digits-export.json"), "--json")
    report = json.loads(out.stdout)
    assert (report["tasks"], report["recorded"], report["repeated"], report["passed"]) == (
        5,
        5,
        0,
        1,
    )
    out = _labline(home, "review", "import", str(tmp_path / "texts-export.json"), "--json")
    assert json.loads(out.stdout)["recorded"] == 2
    decisions = {(x.item_id, x.reviewer): x for x in client.review_decisions()}
    # Label Studio's JSON export names each annotator by user id
    first, two = (f"label-studio:{user_ids[who]}" for who in ("first", "second"))
    assert decisions[(digits[0], first)].label == 3 and decisions[(digits[0], two)].label == 3
    assert decisions[(digits[1], first)].kind == "reject"
    assert decisions[(digits[1], two)].label == 8
    assert decisions[(digits[2], first)].label == 7
    assert not any(item == digits[3] or item == digits[4] for item, _ in decisions)
    assert decisions[(texts[0], first)].label == "negative"
    assert decisions[(texts[1], two)].label == "positive"
    assert all(x.source == "label-studio" for x in decisions.values())
    assert client.get_review_item(digits[0]).status == "done"  # two reviews, as needed
    assert client.get_review_item(digits[2]).status == "open"  # one of two
    stats = client.review_stats(model="digits")
    assert stats.agreement and stats.agreement[0].method == "cohen"
    # importing the same export again records nothing new
    again = json.loads(
        _labline(home, "review", "import", str(tmp_path / "digits-export.json"), "--json").stdout
    )
    assert (again["recorded"], again["repeated"]) == (0, 5)
    client.close()
