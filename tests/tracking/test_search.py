"""``Client.search_runs`` (filters, sort orders, pages, pandas) and run references, on every
backend."""

from __future__ import annotations

import math

import pytest

import labline
from labline import InvalidArgumentError, NotFoundError, RunPage


def _seed(client: labline.Client, n: int = 12) -> list[str]:
    ids = []
    for i in range(n):
        with client.start_run(
            "search",
            f"run-{i:02d}",
            params={"lr": 10.0 ** -(i % 4), "model": "cnn" if i % 2 else "mlp"},
            tags={"stage": "final" if i % 3 else "dev"},
            capture_env=False,
        ) as run:
            run.log_metric("accuracy", 0.5 + i / 40, step=0)
            run.log_metric("accuracy", 0.4 + i / 40, step=1)
            ids.append(run.id)
    return ids


def test_filter_order_and_pages(client: labline.Client) -> None:
    _seed(client)
    text = "params.lr > 0.01 and metrics.accuracy >= 0.5 and tags.stage = 'final'"
    page = client.search_runs("search", filter=text, order_by=["metrics.accuracy DESC"])
    assert isinstance(page, RunPage) and page.next_page_token is None
    # lr in {1, 0.1} for i % 4 in {0, 1}; last accuracy 0.4 + i/40 >= 0.5 for i >= 4; i % 3 != 0
    assert [r.name for r in page] == ["run-08", "run-05", "run-04"]
    everything = client.search_runs("search", order_by=["metrics.accuracy.max desc"])
    walked: list[str] = []
    token = None
    while True:
        part = client.search_runs(
            "search", order_by=["metrics.accuracy.max desc"], limit=5, page_token=token
        )
        walked += [r.id for r in part]
        assert len(part) <= 5
        token = part.next_page_token
        if token is None:
            break
    assert walked == [r.id for r in everything] and len(walked) == 12
    assert [r.name for r in everything][:2] == ["run-11", "run-10"]


def test_page_tokens_are_validated(client: labline.Client) -> None:
    _seed(client, 4)
    first = client.search_runs("search", filter="params.model = 'cnn'", limit=1)
    assert first.next_page_token is not None
    second = client.search_runs(
        "search", filter="params.model = 'cnn'", limit=1, page_token=first.next_page_token
    )
    assert len(second) == 1 and second[0].id != first[0].id and second.next_page_token is None
    with pytest.raises(InvalidArgumentError, match="another search"):
        client.search_runs(
            "search", filter="params.model = 'mlp'", limit=1, page_token=first.next_page_token
        )
    for bad in ("garbage", "", "eyJ2IjoxLCJvIjotMX0"):
        with pytest.raises(InvalidArgumentError, match="page_token"):
            client.search_runs("search", limit=1, page_token=bad)
    for limit in (0, -1, 2.5, True):
        with pytest.raises(InvalidArgumentError, match="limit"):
            client.search_runs("search", limit=limit)  # type: ignore[arg-type]


def test_errors_and_the_old_keywords(client: labline.Client) -> None:
    ids = _seed(client, 4)
    with pytest.raises(InvalidArgumentError, match="at column 21: expected a value after '>='"):
        client.search_runs("search", filter="metrics.accuracy >= ")
    with pytest.raises(InvalidArgumentError, match="order_by item 1"):
        client.search_runs("search", order_by=["metrics.accuracy sideways"])
    with pytest.raises(InvalidArgumentError, match="status must be one of"):
        client.search_runs("search", status="done")
    with pytest.raises(NotFoundError):
        client.search_runs("nope", filter="status = 'finished'")
    assert [r.id for r in client.search_runs("search", params={"model": "cnn"})] == [ids[3], ids[1]]
    assert [r.id for r in client.search_runs(tags={"stage": "dev"}, run_ids=ids)] == [
        ids[3],
        ids[0],
    ]
    assert len(client.search_runs(status="finished")) == 4
    assert client.search_runs(status=labline.RunStatus.FAILED) == []


def test_to_pandas(client: labline.Client) -> None:
    _seed(client, 3)
    page = client.search_runs("search", order_by=["name"])
    frame = page.to_pandas()
    assert list(frame["name"]) == ["run-00", "run-01", "run-02"]
    assert list(frame.columns[:6]) == [
        "run_id",
        "experiment",
        "name",
        "status",
        "created_at",
        "ended_at",
    ]
    assert list(frame["params.lr"]) == ["1.0", "0.1", "0.01"]
    assert frame["metrics.accuracy"].dtype == "float64"
    assert math.isclose(frame["metrics.accuracy"].iloc[2], 0.4 + 2 / 40)
    picked = page.to_pandas(columns=["name", "metrics.accuracy.max", "tags.missing"])
    assert list(picked.columns) == ["name", "metrics.accuracy.max", "tags.missing"]
    assert math.isclose(picked["metrics.accuracy.max"].iloc[1], 0.5 + 1 / 40)
    assert picked["tags.missing"].isna().all()
    empty = client.search_runs("search", filter="name = 'nobody'").to_pandas()
    assert len(empty) == 0 and "run_id" in empty.columns


def test_run_references(client: labline.Client) -> None:
    ids = _seed(client, 3)
    first = ids[0]
    assert client.find_run(first).id == first
    assert client.find_run(first[:4]).id == first or _shares_prefix(ids, first[:4])
    assert client.find_run(first[:10]).id == first
    assert client.find_run("run-01").id == ids[1]
    assert client.find_run("run-01", experiment="search").id == ids[1]
    with pytest.raises(NotFoundError, match="no run 'nobody'"):
        client.find_run("nobody")
    # a name used in two experiments is ambiguous unless the experiment is given
    with client.start_run("other", "run-01", capture_env=False) as twin:
        pass
    with pytest.raises(InvalidArgumentError, match="ambiguous") as info:
        client.find_run("run-01")
    assert ids[1][:12] in str(info.value) and twin.id[:12] in str(info.value)
    assert "search/run-01" in str(info.value) and "other/run-01" in str(info.value)
    assert client.find_run("run-01", experiment="other").id == twin.id
    # a prefix that is also another run's name: both are listed
    prefix = ids[2][:6]
    with client.start_run("search", prefix, capture_env=False) as named:
        pass
    with pytest.raises(InvalidArgumentError, match="ambiguous") as info:
        client.find_run(prefix)
    assert ids[2][:12] in str(info.value) and named.id[:12] in str(info.value)
    # fewer than 4 characters is not a prefix
    with pytest.raises(NotFoundError):
        client.find_run(first[:3])


def _shares_prefix(ids: list[str], prefix: str) -> bool:
    return sum(i.startswith(prefix) for i in ids) > 1


def test_the_search_runs_docstring_example_runs() -> None:
    import doctest

    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in doctest.DocTestFinder().find(labline.Client.search_runs, "search_runs", globs={}):
        runner.run(test)
    assert runner.tries > 0 and runner.failures == 0
