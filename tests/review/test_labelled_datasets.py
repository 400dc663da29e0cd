"""Reviewed items become versioned, fingerprinted datasets with lineage; a training run that
logs one gets the same fingerprint, so later runs can tell they saw the same data. On SQLite,
PostgreSQL and a labline server (over HTTP)."""

from __future__ import annotations

import pyarrow as pa
import pytest
from review_support import DIGEST, draft, review_all

import labline
from http_store_support import Actors


@pytest.fixture
def client(actors: Actors) -> labline.Client:
    return actors("ann")


def test_versions_fingerprints_and_lineage(client: labline.Client) -> None:
    ids = client.enqueue_review_items([draft(i) for i in range(6)])
    answers = {ids[0]: 3, ids[1]: None, ids[2]: 5, ids[3]: 0}
    for _ in range(4):
        item = client.next_review_item(order="time")
        assert item is not None
        if answers[item.id] is None:
            client.reject_review_item(item.id)
        else:
            client.label_review_item(item.id, answers[item.id])
    v1 = client.create_labelled_dataset("reviewed")
    assert (v1.name, v1.version, v1.n_examples) == ("reviewed", 1, 3)
    assert v1.meta["left_out"] == {"rejected": 1} and v1.meta["model_versions"] == {"digits/1": 3}
    assert v1.meta["calibrations"] == [7] and v1.meta["reviewers"] == ["ann"]
    # nothing new reviewed: the same content makes no new version
    assert client.create_labelled_dataset("reviewed") == v1
    table = client.labelled_dataset_table("reviewed")
    assert table.column_names[0] == "labline_id" and table.column_names[-1] == "label"
    assert table.num_columns == 66 and table["label"].to_pylist() == [3, 5, 0]
    assert labline.fingerprint(table).digest == v1.fingerprint
    ex = client.labelled_examples("reviewed", 1)
    assert [e.item_id for e in ex] == [ids[0], ids[2], ids[3]]
    e = ex[0]
    decision = client.review_decisions([e.item_id])[0]
    assert e.decision_ids == (decision.id,) and e.reviewers == ("ann",)
    assert (e.request_id, e.model_name, e.model_version, e.model_digest, e.calibration_id) == (
        "req-0",
        "digits",
        1,
        DIGEST,
        7,
    )
    # one more label: version 2 with another fingerprint; version 1 unchanged
    review_all(client, lambda item: 1)
    v2 = client.create_labelled_dataset("reviewed")
    assert v2.version == 2 and v2.n_examples == 5 and v2.fingerprint != v1.fingerprint
    assert client.get_labelled_dataset("reviewed", 1) == v1
    assert client.labelled_dataset_table("reviewed", 1).equals(table)
    assert [d.version for d in client.list_labelled_datasets()] == [1, 2]


def test_a_run_that_logs_the_dataset_has_its_fingerprint(client: labline.Client) -> None:
    client.enqueue_review_items([draft(i) for i in range(3)])
    review_all(client, lambda item: item.guess)
    ds = client.create_labelled_dataset("fix-1")
    table = client.labelled_dataset_table("fix-1")
    with client.start_run("retrain", capture_env=False) as a:
        a.log_dataset("reviewed", table)
    with client.start_run("retrain", capture_env=False) as b:
        b.log_dataset("reviewed", client.labelled_dataset_table("fix-1", ds.version))
    fps = {r.fingerprint for run in (a, b) for r in client.list_datasets(run.id)}
    assert fps == {ds.fingerprint}


def test_tabular_and_text_inputs_become_columns(client: labline.Client) -> None:
    client.enqueue_review_items(
        [
            draft(0, inputs={"age": 31, "city": "Oslo"}, guess="yes"),
            draft(1, inputs={"age": None, "city": "Rome"}, guess="no"),
        ]
    )
    client.enqueue_review_items([draft(2, inputs="a short review", guess="pos", model_name="text")])
    review_all(client, lambda item: item.guess)
    client.create_labelled_dataset("tab", model="digits")
    t = client.labelled_dataset_table("tab")
    assert t.column_names == ["labline_id", "age", "city", "label"]
    assert t["age"].to_pylist() == [31, None] and t["label"].to_pylist() == ["yes", "no"]
    client.create_labelled_dataset("txt", model="text")
    assert client.labelled_dataset_table("txt").column_names == ["labline_id", "text", "label"]
    assert isinstance(t, pa.Table)


def test_bad_requests(client: labline.Client) -> None:
    with pytest.raises(labline.InvalidArgumentError, match="nothing to version"):
        client.create_labelled_dataset("empty")
    with pytest.raises(labline.InvalidArgumentError, match="dataset name"):
        client.create_labelled_dataset("")
    with pytest.raises(labline.NotFoundError, match="no labelled dataset nope"):
        client.get_labelled_dataset("nope")
    with pytest.raises(labline.InvalidArgumentError, match="version must be"):
        client.get_labelled_dataset("nope", 0)
