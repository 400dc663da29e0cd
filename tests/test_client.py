"""``Client`` is the root object: how it is made, who it acts for, and the wrappers over it."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest

import labline
from labline._client import default_client


def test_client_from_a_uri_keeps_blobs_beside_the_database(tmp_path: Path) -> None:
    with labline.Client(f"sqlite:///{tmp_path / 'db' / 'labline.db'}", actor="ana") as client:
        assert client.actor == "ana"
        assert client.settings.home == tmp_path / "db"
        assert client.settings.artifact_uri == str(tmp_path / "db" / "blobs")
        with client.start_run("e", capture_env=False) as run:
            run.log_metric("m", 1.0)
        assert [r.id for r in client.search_runs("e")] == [run.id]


def test_client_accepts_settings_positionally_and_by_keyword(tmp_path: Path) -> None:
    settings = labline.Settings.local(tmp_path)
    a = labline.Client(settings)
    b = labline.Client(settings=settings, artifact_uri=str(tmp_path / "elsewhere"))
    assert a.settings == settings
    assert b.settings.uri == settings.uri and b.settings.artifact_uri.endswith("elsewhere")
    with pytest.raises(labline.InvalidArgumentError, match="once"):
        labline.Client(settings, settings=settings)
    a.close()
    b.close()


def test_default_actor_is_the_os_user(local_settings: labline.Settings) -> None:
    with labline.Client(local_settings) as client:
        assert client.actor == getpass.getuser()
    with pytest.raises(labline.InvalidArgumentError, match="actor"):
        labline.Client(local_settings, actor="  ")


def test_module_functions_use_one_default_client_per_settings(
    local_settings: labline.Settings,
) -> None:
    client = default_client(local_settings)
    assert default_client(local_settings) is client
    with labline.start_run("wrapped", settings=local_settings, capture_env=False) as run:
        assert run.client is client
    assert client.get_run(run.id).status is labline.RunStatus.FINISHED


def test_find_run_accepts_a_unique_prefix(client: labline.Client) -> None:
    with client.start_run("e", capture_env=False) as run:
        pass
    assert client.find_run(run.id[:8]).id == run.id
    with pytest.raises(labline.NotFoundError):
        client.find_run("zzzzzzzz")


def test_download_artifact(client: labline.Client, tmp_path: Path) -> None:
    src = tmp_path / "notes.txt"
    src.write_text("hello")
    with client.start_run("e", capture_env=False) as run:
        run.log_artifact(src)
    out = client.download_artifact(run.id, "notes.txt", tmp_path / "copy.txt")
    assert out.read_text() == "hello"
    with pytest.raises(labline.NotFoundError, match="no artifact"):
        client.download_artifact(run.id, "missing.txt", tmp_path / "x")


def test_every_write_records_the_clients_actor(client: labline.Client) -> None:
    ana = labline.Client(settings=client.settings, actor="ana", store=client.store)
    with ana.start_run("e", capture_env=False) as run:
        pass
    assert client.get_run(run.id).created_by == "ana"
    h = ana.add_hypothesis(
        "s", baseline="e:m=1", candidate="e:m=2", metric="accuracy", min_effect=0.0
    )
    assert client.get_hypothesis(h.id).created_by == "ana"
    revised = labline.Client(settings=client.settings, actor="bo", store=client.store)
    assert revised.revise_hypothesis(h.id, min_effect=0.1).created_by == "bo"
    bo = labline.Client(settings=client.settings, actor="bo", store=client.store)
    assert bo.delete_run(run.id).deleted_by == "bo"


def test_runs_are_deleted_restored_renamed_and_retagged(client: labline.Client) -> None:
    with client.start_run("e", "first", params={"m": "1"}, capture_env=False) as run:
        pass
    assert client.rename_run(run.id, "renamed").name == "renamed"
    client.set_tag(run.id, "stage", "final")
    client.set_tag(run.id, "note", 3)
    client.delete_tag(run.id, "note")
    assert client.get_run(run.id).tags == {"stage": "final"}
    assert client.delete_run(run.id).deleted
    assert client.search_runs("e") == []
    assert [r.id for r in client.search_runs("e", include_deleted=True)] == [run.id]
    with pytest.raises(labline.InvalidArgumentError, match="no finished run"):
        client.compare("e:m=1", "e:m=2", "accuracy")  # a deleted run is not selected
    assert not client.restore_run(run.id).deleted
    assert [r.id for r in client.search_runs("e")] == [run.id]
