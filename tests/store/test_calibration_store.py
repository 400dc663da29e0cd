"""The calibration store contract (store/_calibration_base.py) on SQLite, PostgreSQL and a
labline server (over HTTP)."""

from __future__ import annotations

import dataclasses
import hashlib
import math
import threading

import pytest

from http_store_support import recorded_actor, stored_blob
from labline import InvalidArgumentError, NotFoundError
from labline.core._calibration import CalibrationDraft

PACKAGE = b"a calibrated package's manifest"
DIGEST = "sha256:" + hashlib.sha256(PACKAGE).hexdigest()
DATA = "sha256:" + "cd" * 32


def _draft(**kw: object) -> CalibrationDraft:
    base = CalibrationDraft(
        model_name="m",
        model_version=1,
        model_digest=DIGEST,
        method="ltt",
        score="top",
        target_error=0.02,
        confidence=0.95,
        n=1000,
        threshold=0.93,
        coverage=0.8,
        coverage_low=0.77,
        coverage_high=0.83,
        kept_error=0.01,
        risk_bound=0.018,
        best_target=0.015,
        aurc=0.03,
        overall_error=0.08,
        curve_coverage=(0.001, 0.5, 1.0),
        curve_risk=(0.0, 0.004, 0.08),
        curve_threshold=(1.0, 0.97, -3.5),
        data_fingerprint=DATA,
        data_source="held.npz",
        parity_deferred=(False, True, False),
        created_by="alice",
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


@pytest.fixture
def registered(store):
    stored_blob(store, PACKAGE)  # a server registers only packages it holds
    store.register_model_version("m", DIGEST, run_id=None, created_by="alice", meta={})
    return store


def test_add_get_list_current(registered):
    store = registered
    assert store.current_calibration("m", 1) is None and store.list_calibrations("m", 1) == []
    a = store.add_calibration(_draft())
    b = store.add_calibration(_draft(method="sgr", threshold=0.95))
    assert b.id > a.id and a.created_at.tzinfo is not None
    assert store.get_calibration(a.id) == a
    assert {k: getattr(a, k) for k in ("curve_risk", "curve_threshold", "parity_deferred")} == {
        "curve_risk": (0.0, 0.004, 0.08),
        "curve_threshold": (1.0, 0.97, -3.5),
        "parity_deferred": (False, True, False),
    }
    assert store.list_calibrations("m", 1) == [a, b]
    assert store.current_calibration("m", 1) == b
    assert a.created_by == recorded_actor(store, "alice")  # a server records its token's name


def test_unknown_versions_and_ids(registered):
    store = registered
    with pytest.raises(NotFoundError):
        store.add_calibration(_draft(model_version=2))
    with pytest.raises(NotFoundError):
        store.list_calibrations("m", 2)
    with pytest.raises(NotFoundError):
        store.current_calibration("nope", 1)
    for bad in (0, -1, 2**70, True, "1"):
        with pytest.raises(NotFoundError):
            store.get_calibration(bad)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("threshold", math.nan),
        ("coverage", 1.5),
        ("curve_risk", (0.0, math.inf, 0.1)),
        ("curve_coverage", (0.1, 0.2)),
        ("method", "crc"),
        ("score", "not a score"),
        ("model_digest", "sha256:" + "00" * 32),
        ("data_fingerprint", "nope"),
        ("n", 0),
        ("created_by", ""),
        ("parity_deferred", (1, 0)),
    ],
)
def test_bad_drafts_are_refused_naming_the_field(registered, field, value):
    with pytest.raises(InvalidArgumentError, match=field.split("_")[0]):
        registered.add_calibration(_draft(**{field: value}))
    assert registered.list_calibrations("m", 1) == []


def test_concurrent_adds_get_distinct_ids(registered):
    ids: list[int] = []
    errors: list[BaseException] = []

    def add() -> None:
        try:
            for _ in range(5):
                ids.append(registered.add_calibration(_draft()).id)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=add) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(ids)) == 20
    assert len(registered.list_calibrations("m", 1)) == 20
