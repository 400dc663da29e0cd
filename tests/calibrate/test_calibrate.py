"""client.calibrate: the record stored with the version (SQLite and PostgreSQL), held-out data
from arrays and files, refusal of training data, infeasible targets, and the parity gate
replaying the deferral decisions."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

import labline
from labline import InfeasibleTargetError, InvalidArgumentError, NotFoundError, ParityError
from labline.core.stats import _abstention as ab

X, Y = load_digits(return_X_y=True)
RNG = np.random.default_rng(0)
ORDER = RNG.permutation(len(Y))
TRAIN, HELD = ORDER[:500], ORDER[500:]


def _register(client: labline.Client) -> labline.models.ModelVersion:
    ids = np.arange(len(Y))
    with client.start_run("digits", capture_env=False) as run:
        run.log_dataset("train", X[TRAIN])
        # a weak model on purpose (few iterations): it must defer on some digits
        model = LogisticRegression(max_iter=15).fit(X[TRAIN] / 16, Y[TRAIN])
        model_x = X[TRAIN] / 16
        pred = model.predict(model_x)
        run.log_predictions("train", ids[TRAIN], Y[TRAIN], pred, model.predict_proba(model_x))
        return run.log_model(  # type: ignore[no-any-return]
            model, name="digits", input_example=X[HELD][:3] / 16, eval_inputs=X[HELD][:50] / 16
        )


@pytest.fixture
def version(client: labline.Client) -> labline.models.ModelVersion:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _register(client)


def test_calibrate_stores_the_record_with_the_version(client, version):
    Xh, yh = X[HELD] / 16, Y[HELD]
    cal = client.calibrate("digits/1", (Xh, yh), target_error=0.05, confidence=0.9)
    assert isinstance(cal, labline.Calibration)
    assert (cal.model_name, cal.model_version, cal.model_digest) == (
        "digits",
        1,
        version.digest,
    )
    assert (cal.method, cal.score, cal.target_error, cal.confidence) == ("ltt", "top", 0.05, 0.9)
    assert cal.n == len(HELD) and cal.data_source == "arrays"
    assert cal.data_fingerprint == labline.fingerprint(Xh).digest
    # the record is what the statistics say on the same data
    model = client.load_model("digits/1")
    scores = ab.confidence_scores(model.predict_proba(Xh))
    correct = model.predict(Xh) == yh
    ref = ab.calibrate_abstention(scores, correct, target=0.05, confidence=0.9)
    assert cal.threshold == ref.threshold and cal.coverage == ref.coverage
    assert 0 < cal.coverage < 1 and cal.coverage_low <= cal.coverage <= cal.coverage_high
    assert cal.kept_error <= cal.risk_bound and cal.aurc == pytest.approx(ref.aurc)
    assert len(cal.curve_coverage) == len(cal.curve_risk) == len(cal.curve_threshold) > 10
    # the decisions on the package's 50 parity inputs are kept for the gate
    assert len(cal.parity_deferred) == 50 and any(cal.parity_deferred)
    assert "exchangeable" in cal.guarantee
    # stored: read back equal, listed, current
    assert client.get_calibration(cal.id) == cal
    assert client.current_calibration("digits", 1) == cal
    assert client.list_calibrations("digits/1") == [cal]
    again = client.calibrate("digits/1", (Xh, yh), target_error=0.1, confidence=0.9, method="sgr")
    assert again.id > cal.id and client.current_calibration("digits", 1) == again
    assert [c.id for c in client.list_calibrations("digits/1")] == [cal.id, again.id]
    assert cal.to_json()["curve_risk"] == list(cal.curve_risk)


def test_scores_margin_entropy_and_importable_function(client, version):
    Xh, yh = X[HELD] / 16, Y[HELD]
    for score in ("margin", "entropy"):
        cal = client.calibrate("digits/1", (Xh, yh), target_error=0.1, confidence=0.9, score=score)
        assert cal.score == score
    cal = client.calibrate(
        "digits/1", (Xh, yh), target_error=0.1, confidence=0.9, score=_second_class_gap
    )
    assert cal.score == f"{__name__}:_second_class_gap"
    with pytest.raises(InvalidArgumentError, match="importable"):
        client.calibrate("digits/1", (Xh, yh), target_error=0.1, score=lambda p: p.max(axis=1))


def _second_class_gap(p: np.ndarray) -> np.ndarray:
    s = np.sort(p, axis=1)
    return s[:, -1] - s[:, -2]


def test_training_data_is_refused(client, version):
    with pytest.raises(InvalidArgumentError, match="training data set 'train'"):
        client.calibrate("digits/1", (X[TRAIN], Y[TRAIN]), target_error=0.1)
    # the same rows shuffled are the same data
    shuffled = RNG.permutation(TRAIN)
    with pytest.raises(InvalidArgumentError, match="training data set"):
        client.calibrate("digits/1", (X[shuffled], Y[shuffled]), target_error=0.1)
    # held-out rows whose ids meet the training ids the run logged
    mixed = np.concatenate([HELD[:400], TRAIN[:3]])
    with pytest.raises(InvalidArgumentError, match="3 calibration ids"):
        client.calibrate("digits/1", (X[mixed] / 16, Y[mixed]), target_error=0.1, ids=mixed)


def test_infeasible_target_names_the_best_guaranteeable(client, version):
    with pytest.raises(InfeasibleTargetError, match="best target") as info:
        client.calibrate("digits/1", (X[HELD][:100] / 16, Y[HELD][:100]), target_error=0.001)
    best = info.value.result.best_target
    assert 0.001 < best < 1
    assert client.current_calibration("digits", 1) is None


def test_files_npz_parquet_csv(client, version, tmp_path: Path):
    Xh, yh = X[HELD] / 16, Y[HELD]
    np.savez(tmp_path / "held.npz", X=Xh, y=yh, ids=HELD)
    cal = client.calibrate("digits/1", tmp_path / "held.npz", target_error=0.1, confidence=0.9)
    assert cal.data_source == "held.npz" and cal.n == len(HELD)
    np.savez(tmp_path / "bad.npz", features=Xh)
    with pytest.raises(InvalidArgumentError, match="'X' and 'y'"):
        client.calibrate("digits/1", tmp_path / "bad.npz")
    with pytest.raises(NotFoundError):
        client.calibrate("digits/1", tmp_path / "missing.npz")
    (tmp_path / "held.txt").write_text("1,2,3")
    with pytest.raises(InvalidArgumentError, match=r"\.npz, \.parquet or \.csv"):
        client.calibrate("digits/1", tmp_path / "held.txt")
    # a table: the model's one array input is the feature columns in file order, label "y"
    cols = {f"px{i}": Xh[:, i] for i in range(Xh.shape[1])}
    table = pa.table({**cols, "y": yh})
    pq.write_table(table, tmp_path / "held.parquet")
    from_table = client.calibrate("digits/1", tmp_path / "held.parquet", target_error=0.1)
    assert from_table.data_source == "held.parquet"
    from_npz = client.calibrate("digits/1", (Xh, yh), target_error=0.1)
    assert from_table.threshold == from_npz.threshold
    assert from_table.coverage == from_npz.coverage
    csv = "\n".join(
        [",".join([*cols, "y"])]
        + [
            ",".join([*(repr(float(v)) for v in row), str(t)])
            for row, t in zip(Xh, yh, strict=True)
        ]
    )
    (tmp_path / "held.csv").write_text(csv + "\n")
    from_csv = client.calibrate("digits/1", tmp_path / "held.csv", target_error=0.1)
    assert from_csv.threshold == from_npz.threshold
    pq.write_table(table.rename_columns([*cols, "label"]), tmp_path / "nolabel.parquet")
    with pytest.raises(InvalidArgumentError, match="no label column 'y'"):
        client.calibrate("digits/1", tmp_path / "nolabel.parquet")


def test_bad_arguments_are_refused(client, version):
    Xh, yh = X[HELD] / 16, Y[HELD]
    with pytest.raises(InvalidArgumentError, match="target_error"):
        client.calibrate("digits/1", (Xh, yh), target_error=2)
    with pytest.raises(InvalidArgumentError, match="method"):
        client.calibrate("digits/1", (Xh, yh), method="crc")
    with pytest.raises(InvalidArgumentError, match="rows"):
        client.calibrate("digits/1", (Xh, yh[:-1]))
    with pytest.raises(NotFoundError):
        client.calibrate("digits/7", (Xh, yh))
    with pytest.raises(InvalidArgumentError, match=r"\(X, y\)"):
        client.calibrate("digits/1", [1, 2, 3])


def test_store_refuses_non_finite_and_foreign_digests(client, version):
    cal = client.calibrate("digits/1", (X[HELD] / 16, Y[HELD]), target_error=0.1, confidence=0.9)
    fields = {f.name for f in dataclasses.fields(labline.core._calibration.CalibrationDraft)}
    draft = labline.core._calibration.CalibrationDraft(**{k: getattr(cal, k) for k in fields})
    with pytest.raises(InvalidArgumentError, match="curve_risk"):
        client.store.add_calibration(
            dataclasses.replace(draft, curve_risk=(math.nan,) * len(draft.curve_risk))
        )
    with pytest.raises(InvalidArgumentError, match="threshold"):
        client.store.add_calibration(dataclasses.replace(draft, threshold=math.inf))
    with pytest.raises(InvalidArgumentError, match="model_digest"):
        client.store.add_calibration(dataclasses.replace(draft, model_digest="sha256:" + "0" * 64))
    with pytest.raises(NotFoundError):
        client.store.add_calibration(dataclasses.replace(draft, model_version=5))
    with pytest.raises(NotFoundError):
        client.get_calibration(10**20)


def test_parity_gate_replays_the_deferral_decisions(client, version):
    cal = client.calibrate("digits/1", (X[HELD] / 16, Y[HELD]), target_error=0.1, confidence=0.9)
    report = client.check_parity("digits", 1)
    assert report.passed and report.deferral_checked == 50 and report.deferral_differing == 0
    assert "deferral decisions: 50 of 50 reproduced" in report.summary()
    promotion = client.promote("digits", 1, "production")
    assert "50 deferral decisions" in promotion.event.parity
    # a calibration whose recorded decisions the package does not reproduce is refused
    fields = {f.name for f in dataclasses.fields(labline.core._calibration.CalibrationDraft)}
    draft = labline.core._calibration.CalibrationDraft(**{k: getattr(cal, k) for k in fields})
    flipped = tuple(not d for d in cal.parity_deferred[:3]) + cal.parity_deferred[3:]
    client.store.add_calibration(dataclasses.replace(draft, parity_deferred=flipped))
    report = client.check_parity("digits", 1)
    assert not report.passed and report.deferral_differing == 3
    with pytest.raises(ParityError, match="deferral decisions: 47 of 50"):
        client.promote("digits", 1, "staging")
