"""Artifact paths never leave their folder: no ``..`` or absolute paths from a request, no
symbolic link carrying a logged folder's files out of it, no download written through a
symbolic link out of the destination."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from server_support import ASGIClient

import labline
from labline.server import ServerSettings, create_app


@pytest.fixture
def local(tmp_path: Path) -> labline.Client:
    client = labline.Client(labline.Settings.local(tmp_path / "home"))
    yield client  # type: ignore[misc]
    client.close()


def test_a_logged_folder_refuses_a_link_leading_out(local: labline.Client, tmp_path: Path) -> None:
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "id_rsa").write_text("secret key\n")
    folder = tmp_path / "model"
    (folder / "weights").mkdir(parents=True)
    (folder / "weights" / "w.bin").write_bytes(b"\x00" * 8)
    (folder / "readme.txt").write_text("inside\n")
    os.symlink(folder / "readme.txt", folder / "weights" / "readme-link.txt")  # stays inside
    with local.start_run("e", capture_env=False) as run:
        logged = run.log_artifact(folder)
        assert {a.path for a in logged} == {
            "model/readme.txt",
            "model/weights/w.bin",
            "model/weights/readme-link.txt",
        }
        os.symlink(outside / "id_rsa", folder / "key")
        with pytest.raises(labline.InvalidArgumentError, match=r"symbolic link.*outside") as e:
            run.log_artifact(folder, "again")
        assert "secret key" not in str(e.value)
    assert not any(a.path.startswith("again/") for a in local.list_artifacts(run.id))


def test_a_download_never_writes_through_a_link_out_of_the_destination(
    local: labline.Client, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "f.txt").write_text("payload\n")
    with local.start_run("e", capture_env=False) as run:
        run.log_artifact(src / "sub", "sub")
    dst = tmp_path / "dst"
    dst.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, dst / "sub")  # a planted link where the artifact's folder goes
    with pytest.raises(labline.InvalidArgumentError, match="symbolic link"):
        local.download_artifacts(run.id, dst=dst)
    assert list(elsewhere.iterdir()) == []
    (dst / "sub").unlink()
    local.download_artifacts(run.id, dst=dst)
    assert (dst / "sub" / "f.txt").read_text() == "payload\n"


@pytest.mark.parametrize(
    "path",
    ["../../etc/passwd", "/etc/passwd", "a/../../b", "a/./b", "a//b", "C:/x", "a\\..\\b", "x/"],
)
def test_the_server_refuses_paths_that_could_leave_a_folder(
    local: labline.Client, tmp_path: Path, path: str
) -> None:
    with local.start_run("e", capture_env=False) as run:
        (tmp_path / "f.txt").write_text("x")
        run.log_artifact(tmp_path / "f.txt")
    http = ASGIClient(create_app(local, ServerSettings()))
    try:
        listing = http.get(f"/api/v1/runs/{run.id}/artifacts", params={"path": path})
        assert listing.status_code == 400, listing.text
        assert listing.json()["error"]["field"] == "path"
        download = http.get(f"/api/v1/runs/{run.id}/artifacts/{path}")
        # the router may already normalise the URL ("/../" segments): never a 2xx or a 5xx
        assert download.status_code in (400, 404), download.text
        assert "Traceback" not in download.text
    finally:
        http.close()
