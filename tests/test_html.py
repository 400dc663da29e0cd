"""The notebook HTML of runs, run search pages and model versions: escaped, capped, complete."""

from __future__ import annotations

from datetime import UTC, datetime

from labline import RunPage
from labline.core import _html
from labline.core._types import MetricSummary, ModelVersion, Run, RunStatus

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _run(i: int = 0, *, name: str = "baseline", params: dict[str, str] | None = None) -> Run:
    return Run(
        id=f"{i:032x}",
        experiment="digits",
        experiment_id=1,
        name=name,
        status=RunStatus.FINISHED,
        created_at=WHEN,
        ended_at=WHEN,
        heartbeat_at=None,
        error=None,
        params=params if params is not None else {"lr": "0.1"},
        tags={"stage": "final"},
        env={},
        metrics={"accuracy": MetricSummary("accuracy", 0.9375, 4, 0.5, 0.95, 5)},
    )


def test_run_renders_its_identity_params_metrics_and_tags() -> None:
    out = _run(7)._repr_html_()
    assert f"{7:032x}" in out
    assert "digits/baseline" in out
    assert "finished" in out
    assert "params.lr" in out and "0.1" in out
    assert "metrics.accuracy" in out and "0.9375 (min 0.5, max 0.95)" in out
    assert "tags.stage" in out and "final" in out


def test_run_page_renders_one_row_per_run_with_params_and_last_metric() -> None:
    page = RunPage((_run(1, name="a"), _run(2, name="b")), next_page_token="tok")
    out = page._repr_html_()
    assert out.count("<tr>") == 3  # header + 2 runs
    assert "2 runs" in out
    assert f"{1:032x}"[:12] in out and f"{2:032x}"[:12] in out
    assert "<th>params.lr</th>" in out and "<th>metrics.accuracy</th>" in out
    assert "<td>0.9375</td>" in out
    assert "next page" in out


def test_model_version_renders_name_version_digest_and_run() -> None:
    mv = ModelVersion(
        name="digits",
        version=3,
        digest="sha256:" + "ab" * 32,
        run_id="f" * 32,
        created_at=WHEN,
        created_by="ann",
        meta={"adapter": "sklearn"},
    )
    out = mv._repr_html_()
    assert "Model digits v3" in out
    assert "sha256:" + "ab" * 32 in out
    assert "f" * 32 in out
    assert "ann" in out and "meta.adapter" in out and "sklearn" in out


def test_user_text_is_escaped_everywhere() -> None:
    evil = "<script>alert(1)</script>"
    run = _run(name=evil, params={evil: evil})
    for out in (run._repr_html_(), RunPage((run,))._repr_html_()):
        assert "<script>" not in out
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out


def test_rows_columns_and_long_cells_are_capped_and_what_is_left_out_is_counted() -> None:
    many_params = {f"p{k:03d}": "x" * 1000 for k in range(40)}
    runs = tuple(_run(i, params=many_params) for i in range(_html.MAX_ROWS + 7))
    out = RunPage(runs)._repr_html_()
    assert out.count("<tr>") == 1 + _html.MAX_ROWS
    assert f"7 more rows not shown ({_html.MAX_ROWS + 7} in all)" in out
    total_columns = 4 + 40 + 1
    assert (
        f"{total_columns - _html.MAX_COLUMNS} more columns not shown ({total_columns} in all)"
        in out
    )
    assert out.count("<th>") == _html.MAX_COLUMNS
    assert "x" * _html.MAX_CELL_CHARS not in out
    assert len(out) < 200_000
