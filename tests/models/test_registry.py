"""The registry: log_model, immutable versions, aliases with history, parity gate, diff."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import labline
from labline import (
    DigestMismatchError,
    ImmutableError,
    InvalidArgumentError,
    NotFoundError,
    ParityError,
)
from labline.models import Registry, resolve

X, Y = load_iris(return_X_y=True)

SOURCE = """
    import numpy as np

    class Shift:
        classes_ = np.array([0, 1])

        def __init__(self, k):
            self.k = k

        def predict(self, batch):
            return (np.asarray(batch)[:, 0] {op} self.k).astype(np.int64)

        def predict_proba(self, batch):
            p = 1 / (1 + np.exp(-(np.asarray(batch)[:, 0] - self.k)))
            return np.column_stack([1 - p, p])
    """


@pytest.fixture
def settings(tmp_path: Path) -> labline.Settings:
    return labline.Settings.local(tmp_path / "home")


@pytest.fixture
def client(settings: labline.Settings) -> labline.Client:
    return labline.Client(settings)


def _log_pipeline(
    settings: labline.Settings, c: float = 1.0, lr: float = 0.1
) -> labline.models.ModelVersion:
    with labline.start_run("iris", params={"C": c}, settings=settings, capture_env=False) as run:
        run.log_dataset("train", X)
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=500)).fit(X, Y)
        run.log_metric("accuracy", float(model.score(X, Y)))
        return run.log_model(model, name="iris", input_example=X[:3], eval_inputs=X)  # type: ignore[no-any-return]


def test_log_model_registers_versions_and_loads_by_reference(
    settings: labline.Settings, client: labline.Client
) -> None:
    v1 = _log_pipeline(settings, c=1.0)
    v2 = _log_pipeline(settings, c=0.01)
    assert (v1.version, v2.version) == (1, 2) and v1.digest != v2.digest
    assert v1.meta["adapter"] == "sklearn" and v1.run_id is not None
    model = labline.load_model("iris/1", settings=settings)
    assert (model.name, model.version, model.digest) == ("iris", 1, v1.digest)
    assert model.manifest.run_id == v1.run_id
    assert model.manifest.datasets[0]["name"] == "train"
    assert labline.load_model("iris", settings=settings).version == 2  # latest
    # every file of the package is in the blob store under its SHA-256
    for f in model.manifest.files:
        assert client.blobs.exists(f.sha256)
    assert client.blobs.exists(v1.digest.removeprefix("sha256:"))
    assert resolve("iris/2", settings=settings) == ("iris", 2, v2.digest)
    with pytest.raises(NotFoundError):
        labline.load_model("iris/9", settings=settings)
    with pytest.raises(NotFoundError):
        labline.load_model("iris@production", settings=settings)


def test_same_package_twice_is_idempotent_and_versions_are_immutable(
    tmp_path: Path, client: labline.Client
) -> None:
    from labline.models import write_package

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, Y)
    write_package(model, tmp_path / "a", name="iris", input_example=X[:3])
    write_package(
        model.set_params(logisticregression__C=0.5).fit(X, Y),
        tmp_path / "b",
        name="iris",
        input_example=X[:3],
    )
    reg = Registry(client)
    first = reg.register_package(tmp_path / "a")
    assert reg.register_package(tmp_path / "a") == first  # idempotent
    with pytest.raises(ImmutableError, match="iris/1 is already registered with other content"):
        reg.register_package(tmp_path / "b", version=1)
    assert reg.register_package(tmp_path / "b").version == 2
    assert [v.version for v in reg.list_versions("iris")] == [1, 2]


def test_altered_blob_is_refused_at_load(
    settings: labline.Settings, client: labline.Client
) -> None:
    v1 = _log_pipeline(settings)
    reg = Registry(client)
    manifest = reg.manifest(v1.digest)
    weights = manifest.file("weights/model.skops")
    blob = client.blobs.local_path(weights.sha256)
    assert blob is not None
    data = bytearray(blob.read_bytes())
    data[100] ^= 0xFF
    blob.chmod(0o644)
    blob.write_bytes(bytes(data))
    with pytest.raises(DigestMismatchError) as exc:
        labline.load_model("iris/1", settings=settings)
    assert exc.value.path == "weights/model.skops" and exc.value.expected == weights.sha256


def test_deleted_file_of_a_cached_package_is_refused_and_the_copy_rebuilt(
    settings: labline.Settings, client: labline.Client
) -> None:
    v1 = _log_pipeline(settings)
    folder = Registry(client).package_dir(v1.digest)
    (folder / "weights" / "model.skops").unlink()
    with pytest.raises(DigestMismatchError, match=r"weights/model\.skops.*missing"):
        labline.load_model(folder)  # a folder given as such is verified, never repaired
    # through the registry the cached copy is discarded and rebuilt from the store's blobs
    assert labline.load_model("iris/1", settings=settings).digest == v1.digest
    assert (folder / "weights" / "model.skops").is_file()


def test_promote_runs_the_parity_gate_and_history_answers_which_version_was_live(
    settings: labline.Settings, client: labline.Client
) -> None:
    _log_pipeline(settings, c=1.0)
    _log_pipeline(settings, c=0.01)
    reg = Registry(client)
    t0 = datetime.now(UTC)
    first = reg.promote("iris", 1, "production", actor="ana", reason="first release")
    assert first.parity is not None and first.parity.passed and first.parity.n == 150
    assert first.event.from_version is None and first.event.to_version == 1
    t1 = datetime.now(UTC)
    second = reg.promote("iris", 2, "production", actor="bo", reason="smaller C")
    assert (second.event.from_version, second.event.to_version, second.event.seq) == (1, 2, 2)
    assert second.event.parity.startswith("passed (150 examples")
    rec = reg.get_alias("iris", "production")
    assert rec.version == 2 and rec.digest == reg.get_version("iris", 2).digest
    assert labline.load_model("iris@production", settings=settings).version == 2
    hist = reg.history("iris", "production")
    assert [(e.actor, e.reason, e.from_version, e.to_version) for e in hist] == [
        ("ana", "first release", None, 1),
        ("bo", "smaller C", 1, 2),
    ]
    assert reg.live_at("iris", "production", t0 - timedelta(seconds=1)) is None
    assert reg.live_at("iris", "production", t1) == 1
    assert reg.live_at("iris", "production", datetime.now(UTC)) == 2


def test_history_of_an_unknown_model_or_alias_is_not_found(
    settings: labline.Settings, client: labline.Client
) -> None:
    # An empty history (or "not set") for a typo would read as "nothing was ever live".
    _log_pipeline(settings)
    reg = Registry(client)
    reg.promote("iris", 1, "staging", skip_parity=True, reason="smoke")
    with pytest.raises(NotFoundError, match="no registered model 'irsi'"):
        reg.history("irsi", "staging")
    with pytest.raises(NotFoundError, match="no registered model 'irsi'"):
        reg.live_at("irsi", "staging", datetime.now(UTC))
    with pytest.raises(NotFoundError, match="no alias iris@prod"):
        reg.history("iris", "prod")
    with pytest.raises(NotFoundError, match="no alias iris@prod"):
        reg.live_at("iris", "prod", datetime.now(UTC))
    assert [e.alias for e in reg.history("iris")] == ["staging"]
    assert reg.live_at("iris", "staging", datetime(2000, 1, 1, tzinfo=UTC)) is None


def test_skip_parity_needs_a_reason_which_is_recorded(
    settings: labline.Settings, client: labline.Client
) -> None:
    _log_pipeline(settings)
    reg = Registry(client)
    with pytest.raises(InvalidArgumentError, match="requires a reason"):
        reg.promote("iris", 1, "staging", skip_parity=True)
    p = reg.promote("iris", 1, "staging", skip_parity=True, reason="hotfix, replay infra down")
    assert p.parity is None
    assert reg.history("iris", "staging")[0].parity == "skipped"
    assert reg.history("iris", "staging")[0].reason == "hotfix, replay infra down"


def test_model_whose_code_changed_after_training_is_not_promoted(
    settings: labline.Settings, client: labline.Client, make_module
) -> None:  # type: ignore[no-untyped-def]
    mod = make_module(SOURCE.format(op=">"))
    trained = mod.Shift(0.5)
    (make_module.dir / f"{mod.__name__}.py").write_text(textwrap.dedent(SOURCE.format(op=">=")))
    ev = np.array([[0.0], [0.5], [0.5], [1.0]])
    with (
        labline.start_run("shift", settings=settings, capture_env=False) as run,
        pytest.warns(UserWarning, match="does not reproduce the model's outputs"),
    ):
        v = run.log_model(trained, name="shift", input_example=ev[:1], eval_inputs=ev)
    reg = Registry(client)
    with pytest.raises(ParityError, match="2 of 4 examples differ") as exc:
        reg.promote("shift", v.version, "production")
    report = exc.value.report
    assert [d.index for d in report.first] == [1, 2]
    assert report.first[0].recorded_label == "0" and report.first[0].replayed_label == "1"
    with pytest.raises(NotFoundError):
        reg.get_alias("shift", "production")
    assert reg.history("shift") == []


def test_diff_shows_params_metrics_data_and_code(
    settings: labline.Settings, client: labline.Client, make_module
) -> None:  # type: ignore[no-untyped-def]
    mod = make_module(SOURCE.format(op=">"), name="diffed_shift")
    ev = np.array([[0.0], [1.0]])
    with labline.start_run("shift", params={"k": 0.5}, settings=settings, capture_env=False) as run:
        run.log_dataset("train", np.arange(3.0))
        run.log_metric("acc", 0.7)
        run.log_model(mod.Shift(0.5), name="shift", input_example=ev)
    (make_module.dir / "diffed_shift.py").write_text(textwrap.dedent(SOURCE.format(op=">=")))
    import importlib

    importlib.reload(mod)
    with labline.start_run(
        "shift", params={"k": 0.25}, settings=settings, capture_env=False
    ) as run:
        run.log_dataset("train", np.arange(4.0))
        run.log_metric("acc", 0.8)
        run.log_model(mod.Shift(0.25), name="shift", input_example=ev)
    d = Registry(client).diff("shift", 1, 2)
    assert d.params == {"k": ("0.5", "0.25")}
    assert d.metrics == {"acc": (0.7, 0.8)}
    assert set(d.datasets) == {"train"} and d.datasets["train"][0] != d.datasets["train"][1]
    assert "code/diffed_shift.py" in d.files
    assert "-        return (np.asarray(batch)[:, 0] > self.k)" in d.code
    assert "+        return (np.asarray(batch)[:, 0] >= self.k)" in d.code
    assert "--- v1/code/diffed_shift.py" in d.code
    # the code shown is the code registered: an altered source blob is refused, not displayed
    reg = Registry(client)
    sha = reg.manifest(reg.get_version("shift", 2).digest).file("code/diffed_shift.py").sha256
    blob = reg.blobs.local_path(sha)
    assert blob is not None
    blob.chmod(0o644)
    blob.write_text("import os  # not what was registered\n")
    with pytest.raises(DigestMismatchError, match=r"code/diffed_shift\.py"):
        reg.diff("shift", 1, 2)


_PROMOTER = """
import sys
import time
from pathlib import Path
import labline
settings = labline.Settings(home=sys.argv[1], uri=sys.argv[2], artifact_uri=sys.argv[1] + "/blobs")
reg = labline.Client(settings).registry
me = sys.argv[3]
reg.get_version("iris", 1)  # connected and ready
print("ready", flush=True)
go = Path(sys.argv[1]) / "go"
while not go.exists():  # start together
    time.sleep(0.001)
other = "p2" if me == "p1" else "p1"
for i in range(int(sys.argv[4])):
    # at most one step ahead of the other writer, so that on a loaded machine one process
    # cannot finish before the other starts: the two really race on every step
    while i > 0 and sum(e.actor == other for e in reg.history("iris", "production")) < i - 1:
        time.sleep(0.002)
    reg.promote("iris", 1 + i % 2, "production", actor=me, reason=f"{me}-{i}", skip_parity=True)
"""


def test_two_processes_promoting_at_once_leave_a_consistent_history(
    tmp_path: Path, store_url: str
) -> None:
    settings = labline.Settings(home=tmp_path, uri=store_url, artifact_uri=str(tmp_path / "blobs"))
    from labline.models import write_package

    reg = Registry(labline.Client(settings))
    for c in (1.0, 0.1):
        m = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=500)).fit(X, Y)
        write_package(m, tmp_path / f"pkg{c}", name="iris", input_example=X[:2])
        reg.register_package(tmp_path / f"pkg{c}")
    n = 25
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _PROMOTER, str(tmp_path), store_url, who, str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in ("p1", "p2")
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    (tmp_path / "go").touch()
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err[-2000:]
    hist = reg.history("iris", "production")
    assert [e.seq for e in hist] == list(range(1, 2 * n + 1))
    assert hist[0].from_version is None
    for prev, ev in itertools.pairwise(hist):
        assert ev.from_version == prev.to_version  # an unbroken chain: no lost update
        assert ev.at >= prev.at
    assert sorted(e.reason for e in hist) == sorted(
        f"{w}-{i}" for w in ("p1", "p2") for i in range(n)
    )
    assert reg.get_alias("iris", "production").version == hist[-1].to_version
    switches = sum(a.actor != b.actor for a, b in itertools.pairwise(hist))
    assert switches >= 2  # the two writers really interleaved
    assert json.dumps([e.seq for e in hist])  # history is plain data
