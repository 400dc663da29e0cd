"""``labline review ...`` and ``labline datasets ...`` through click, against a real store."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
from click.testing import CliRunner
from review_support import draft

import labline
from labline.cli import main


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABLINE_")}
    return {**env, "LABLINE_HOME": str(home)}


def test_review_commands_end_to_end(tmp_path: Path) -> None:
    runner = CliRunner()
    env = _env(tmp_path)
    with labline.Client(labline.Settings.local(tmp_path)) as client:
        ids = client.enqueue_review_items(
            [
                draft(i, margin=0.1 * (i + 1), reason="audit" if i == 3 else "deferred")
                for i in range(4)
            ]
        )
    r = runner.invoke(main, ["review", "list", "--json"], env=env)
    assert r.exit_code == 0, r.output
    assert [i["id"] for i in json.loads(r.stdout)] == ids
    r = runner.invoke(main, ["review", "list"], env=env)
    assert r.exit_code == 0 and "review queue" in r.stdout
    # label one by id, then work through the rest interactively: Enter, a class, x (reject)
    r = runner.invoke(main, ["review", "label", str(ids[0]), "7", "--as", "ann", "--json"], env=env)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["label"] == 7
    r = runner.invoke(main, ["review", "label", "--as", "bob"], input="\n3\nx\n", env=env)
    assert r.exit_code == 0, r.output
    assert "nothing left to review (3 decided)" in r.stdout
    r = runner.invoke(main, ["review", "stats", "--json"], env=env)
    stats = json.loads(r.stdout)
    assert (stats["done"], stats["labelled"], stats["rejected"]) == (4, 3, 1)
    assert stats["decisions_by_reviewer"] == {"ann": 1, "bob": 3}
    assert (stats["audit_checked"], stats["audit_correct"]) == (1, 0)  # rejected: model wrong
    r = runner.invoke(main, ["review", "stats"], env=env)
    assert r.exit_code == 0 and "items 4: 0 open" in r.stdout
    # errors: one line with the family's exit code
    r = runner.invoke(main, ["review", "label", str(ids[0]), "7", "--as", "ann"], env=env)
    assert r.exit_code != 0 and r.stderr.count("\n") == 1 and "already" in r.stderr
    r = runner.invoke(main, ["review", "label", "999", "1"], env=env)
    assert r.exit_code != 0 and "no review item 999" in r.stderr
    r = runner.invoke(main, ["review", "label", str(ids[0])], env=env)
    assert r.exit_code == 2 and "exactly one of" in r.stderr


def test_export_import_and_datasets(tmp_path: Path) -> None:
    runner = CliRunner()
    env = _env(tmp_path)
    with labline.Client(labline.Settings.local(tmp_path)) as client:
        ids = client.enqueue_review_items([draft(i) for i in range(3)])
    out = tmp_path / "tasks.json"
    r = runner.invoke(main, ["review", "export", "-o", str(out)], env=env)
    assert r.exit_code == 0, r.output
    tasks = json.loads(out.read_text())
    assert [t["data"]["labline_id"] for t in tasks] == ids
    # annotate as Label Studio would, and import
    for t, choice in zip(tasks, ["3", "None of these", "5"], strict=True):
        t["annotations"] = [
            {
                "id": 1,
                "completed_by": {"email": "a@x.org"},
                "result": [{"type": "choices", "value": {"choices": [choice]}}],
            }
        ]
    annotated = tmp_path / "export.json"
    annotated.write_text(json.dumps(tasks))
    r = runner.invoke(main, ["review", "import", str(annotated), "--json"], env=env)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["recorded"] == 3
    r = runner.invoke(main, ["review", "import", str(annotated)], env=env)
    assert "0 decisions recorded, 3 already there" in r.stdout
    r = runner.invoke(main, ["review", "export", "--format", "jsonl", "--status", "done"], env=env)
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["outcome"] for row in rows] == [
        {"kind": "label", "label": 3},
        {"kind": "reject", "label": None},
        {"kind": "label", "label": 5},
    ]
    r = runner.invoke(main, ["datasets", "create", "fixes", "--json"], env=env)
    assert r.exit_code == 0, r.output
    created = json.loads(r.stdout)
    assert created["version"] == 1 and created["n_examples"] == 2
    r = runner.invoke(main, ["datasets", "create", "fixes"], env=env)
    assert "unchanged" in r.stdout
    r = runner.invoke(main, ["datasets", "list", "--json"], env=env)
    assert [d["fingerprint"] for d in json.loads(r.stdout)] == [created["fingerprint"]]
    r = runner.invoke(main, ["datasets", "show", "fixes@1", "--json"], env=env)
    shown = json.loads(r.stdout)
    assert [e["label"] for e in shown["examples"]] == [3, 5]
    assert shown["examples"][0]["reviewers"] == ["label-studio:a@x.org"]
    r = runner.invoke(main, ["datasets", "show", "fixes"], env=env)
    assert r.exit_code == 0 and "lineage" in r.stdout
    pq_path = tmp_path / "fixes.parquet"
    r = runner.invoke(main, ["datasets", "export", "fixes", "-o", str(pq_path)], env=env)
    assert r.exit_code == 0, r.output
    assert labline.fingerprint(pq.read_table(pq_path)).digest == created["fingerprint"]
    r = runner.invoke(main, ["datasets", "export", "fixes", "-o", str(tmp_path / "x.txt")], env=env)
    assert r.exit_code == 2 and ".parquet" in r.stderr
    r = runner.invoke(main, ["datasets", "show", "nope"], env=env)
    assert r.exit_code != 0 and "no labelled dataset nope" in r.stderr
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"data": {}}]))
    r = runner.invoke(main, ["review", "import", str(bad)], env=env)
    assert r.exit_code != 0 and r"tasks[0].data.labline_id" in r.stderr
