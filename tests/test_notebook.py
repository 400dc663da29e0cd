"""``examples/research.ipynb`` runs top to bottom in a real kernel, and shows what it promises."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nbclient
import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "research.ipynb"
SRC = Path(__file__).resolve().parents[1] / "src"


def _outputs(cell: Any, mime: str) -> str:
    return "".join(
        o.get("data", {}).get(mime, "") if mime != "stream" else o.get("text", "")
        for o in cell.get("outputs", [])
    )


@pytest.fixture(scope="module")
def kernel_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("untouched-home")


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory, kernel_home: Path) -> list[Any]:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    # the kernel must import this checkout's labline, and its store must not be the user's
    env["LABLINE_HOME"] = str(kernel_home)
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=300,
        resources={"metadata": {"path": str(tmp_path_factory.mktemp("cwd"))}},
    )
    # python3 resolves to the interpreter running the tests (jupyter_client swaps "python" in
    # the native kernelspec for sys.executable), so the kernel uses this venv's packages
    client.execute(env=env)
    return [c for c in nb.cells if c.cell_type == "code"]


def test_every_cell_ran_without_error(executed: list[Any]) -> None:
    for cell in executed:
        assert cell.execution_count is not None
        assert not [o for o in cell.outputs if o.output_type == "error"]


def test_search_result_and_run_render_as_html(executed: list[Any]) -> None:
    page_html = next(
        _outputs(c, "text/html") for c in executed if c.source.rstrip().endswith("page")
    )
    assert "6 runs" in page_html
    assert "<th>metrics.accuracy</th>" in page_html and "<th>params.model</th>" in page_html
    run_html = next(_outputs(c, "text/html") for c in executed if c.source.startswith("page[0]"))
    assert "Run digits/" in run_html and "metrics.accuracy" in run_html


def test_comparison_renders_as_html(executed: list[Any]) -> None:
    html = next(_outputs(c, "text/html") for c in executed if "labline.compare(" in c.source)
    assert "<table>" in html and "digits:model=forest" in html


def test_registered_version_renders_and_loaded_model_predicts(executed: list[Any]) -> None:
    mv_html = next(_outputs(c, "text/html") for c in executed if "register_model" in c.source)
    assert "Model digits v1" in mv_html and "sha256:" in mv_html
    printed = next(_outputs(c, "stream") for c in executed if "load_model" in c.source)
    predicted, actual = (line.split(":", 1)[1].strip() for line in printed.splitlines())
    predicted_labels = [int(v) for v in predicted.strip("[]").split(",")]
    actual_labels = [int(v) for v in actual.strip("[]").split(",")]
    assert len(predicted_labels) == 10
    assert sum(p == a for p, a in zip(predicted_labels, actual_labels, strict=True)) >= 8


def test_notebook_keeps_its_store_in_its_own_temporary_folder(
    executed: list[Any], kernel_home: Path
) -> None:
    # the default store (LABLINE_HOME of the kernel) stays empty: everything went to the
    # notebook's temporary Client, never into the working copy or the user's home
    assert executed
    assert list(kernel_home.iterdir()) == []
