"""Errors go through click's machinery with one exit code per family; `db upgrade`; run edits."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import labline
from labline.cli import main
from labline.cli._errors import from_exception


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (labline.NotFoundError("no run 'x'"), 1),
        (labline.InvalidArgumentError("bad"), 1),
        (labline.SchemaError("bad field"), 1),
        (labline.AlreadyExistsError("taken"), 1),
        (labline.ImmutableError("frozen"), 1),
        (labline.IntegrityError("altered"), 3),
        (labline.DigestMismatchError("weights/a.npy", "0" * 64, None), 3),
        (labline.ParityError("differs"), 4),
        (labline.StorageError("down"), 5),
        (labline.SchemaVersionError("newer"), 5),
        (labline.MissingDependencyError("pip install labline[serve]"), 6),
        (RuntimeError("a bug\nsecond line"), 70),
    ],
)
def test_every_error_family_has_one_exit_code(error: Exception, code: int) -> None:
    exc = from_exception(error)
    assert exc.exit_code == code
    assert "\n" not in exc.format_message()


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABLINE_")}
    return {**env, "LABLINE_HOME": str(home)}


def test_an_error_is_one_line_with_its_familys_exit_code(tmp_path: Path) -> None:
    runner = CliRunner()
    settings = labline.Settings.local(tmp_path)
    with labline.Client(settings) as client:
        with client.start_run("e", capture_env=False) as run:
            run.log_predictions("test", [1, 2], [0, 1], [0, 1])
        blob = client.list_predictions(run.id)[0].blob_digest
        path = client.blobs.local_path(blob)
        assert path is not None
    path.write_bytes(b"not the file that was logged")
    args = ["compare", "-b", f"runs:{run.id}", "-c", f"runs:{run.id}", "-m", "accuracy"]
    result = runner.invoke(main, args, env=_env(tmp_path))
    assert result.exit_code == 1 and "one side only" in result.stderr  # a refused request
    with labline.Client(settings) as client, client.start_run("e", capture_env=False) as other:
        other.log_predictions("test", [1, 2], [0, 1], [1, 1])
    args = ["compare", "-b", f"runs:{run.id}", "-c", f"runs:{other.id}", "-m", "accuracy"]
    result = runner.invoke(main, args, env=_env(tmp_path))
    assert result.exit_code == 3, result.output  # stored content altered
    assert result.stderr.startswith("error: digest mismatch") and result.stderr.count("\n") == 1


def test_db_upgrade_applies_pending_migrations_once(tmp_path: Path) -> None:
    from alembic import command

    from labline.store.sql._store import SQLStore, _alembic_config, head_revision

    store = SQLStore(labline.Settings.local(tmp_path).uri)
    cfg = _alembic_config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003_registry")
    store.close()
    runner = CliRunner()
    first = runner.invoke(main, ["db", "upgrade", "--json"], env=_env(tmp_path))
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == {
        "from": "0003_registry",
        "to": head_revision(),
        "changed": True,
    }
    again = runner.invoke(main, ["db", "upgrade"], env=_env(tmp_path))
    assert again.exit_code == 0 and again.stdout.strip() == f"schema already at {head_revision()}"


def test_runs_rename_tag_delete_restore(tmp_path: Path) -> None:
    with (
        labline.Client(labline.Settings.local(tmp_path)) as client,
        client.start_run("e", "first", capture_env=False) as run,
    ):
        pass
    runner = CliRunner()
    env = _env(tmp_path)

    def cli(*args: str) -> dict[str, object]:
        result = runner.invoke(main, [*args, "--json"], env=env)
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        assert isinstance(out, (dict, list))
        return out if isinstance(out, dict) else {"rows": out}

    assert cli("runs", "rename", run.id[:8], "second")["name"] == "second"
    assert cli("runs", "tag", run.id, "stage=final", "owner=ana")["tags"] == {
        "owner": "ana",
        "stage": "final",
    }
    assert cli("runs", "untag", run.id, "owner")["tags"] == {"stage": "final"}
    assert cli("runs", "delete", run.id)["deleted_at"] is not None
    assert cli("runs", "list")["rows"] == []
    assert len(cli("runs", "list", "--deleted")["rows"]) == 1  # type: ignore[arg-type]
    assert cli("runs", "restore", run.id[:8])["deleted_at"] is None
    assert len(cli("runs", "list")["rows"]) == 1  # type: ignore[arg-type]
