"""Model packages: writing, verified loading, adapters, schema checks."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from labline import DigestMismatchError, InvalidArgumentError, SchemaError
from labline.models import FieldSpec, load_package, read_verified, write_package

X, Y = load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def pipeline() -> object:
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, Y)


@pytest.fixture
def pkg(tmp_path: Path, pipeline: object) -> Path:
    folder = tmp_path / "pkg"
    write_package(pipeline, folder, name="iris", input_example=X[:5], eval_inputs=X)
    return folder


def test_sklearn_pipeline_round_trips(pkg: Path, pipeline: object) -> None:
    manifest = json.loads((pkg / "manifest.json").read_bytes())
    digest = "sha256:" + hashlib.sha256((pkg / "manifest.json").read_bytes()).hexdigest()
    model = load_package(pkg, expected_digest=digest)
    assert model.digest == digest
    assert model.manifest.adapter == "sklearn" and manifest["adapter"] == "sklearn"
    assert model.manifest.input_schema == (FieldSpec("input", "float64", (None, 4)),)
    assert model.classes == (0, 1, 2) and model.has_proba
    np.testing.assert_array_equal(model.predict(X), pipeline.predict(X))  # type: ignore[attr-defined]
    np.testing.assert_array_equal(model.predict_proba(X), pipeline.predict_proba(X))  # type: ignore[attr-defined]
    # every file but the manifest is listed with its SHA-256; no pickle in a sklearn package
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    on_disk = {p.relative_to(pkg).as_posix() for p in pkg.rglob("*") if p.is_file()} - {
        "manifest.json"
    }
    assert set(listed) == on_disk
    for path, sha in listed.items():
        assert hashlib.sha256((pkg / path).read_bytes()).hexdigest() == sha
    assert not any(p.endswith(".pkl") for p in listed)
    assert {"scikit-learn", "numpy", "skops"} <= set(manifest["requirements"])


def test_one_byte_altered_file_is_refused(pkg: Path) -> None:
    weights = pkg / "weights" / "model.skops"
    data = bytearray(weights.read_bytes())
    expected = hashlib.sha256(data).hexdigest()
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(DigestMismatchError) as exc:
        load_package(pkg)
    assert exc.value.path == "weights/model.skops"
    assert exc.value.expected == expected
    assert exc.value.actual == hashlib.sha256(data).hexdigest()
    assert expected in str(exc.value) and exc.value.actual in str(exc.value)


def test_deleted_file_is_refused(pkg: Path) -> None:
    (pkg / "parity" / "labels.npy").unlink()
    with pytest.raises(DigestMismatchError, match=r"parity/labels\.npy.*missing"):
        load_package(pkg)


def test_manifest_must_match_the_expected_digest(pkg: Path) -> None:
    good = "sha256:" + hashlib.sha256((pkg / "manifest.json").read_bytes()).hexdigest()
    obj = json.loads((pkg / "manifest.json").read_bytes())
    obj["classes"] = [0, 1, 7]  # a consistent but different manifest
    (pkg / "manifest.json").write_text(json.dumps(obj))
    with pytest.raises(DigestMismatchError) as exc:
        load_package(pkg, expected_digest=good)
    assert exc.value.path == "manifest.json"


def test_modified_code_is_refused_before_it_is_imported(tmp_path: Path, make_module) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "imported.txt"
    mod = make_module(
        f"""
        import numpy as np
        from pathlib import Path
        Path({str(marker)!r}).write_text("imported")

        class Threshold:
            def __init__(self, t):
                self.t = t
            def predict(self, batch):
                return (np.asarray(batch)[:, 0] > self.t).astype(np.int64)
        """
    )
    marker.unlink()
    folder = tmp_path / "pkg"
    manifest = write_package(
        mod.Threshold(0.5), folder, name="thr", input_example=np.array([[0.1], [0.9]])
    )
    code = folder / manifest.code[0]
    code.write_text(code.read_text().replace("> self.t", ">= self.t"))
    with pytest.raises(DigestMismatchError, match=manifest.code[0]):
        load_package(folder)
    assert not marker.exists()  # refused before a single line of the package's code ran


def test_plain_python_class_round_trips_with_its_source(tmp_path: Path, make_module) -> None:  # type: ignore[no-untyped-def]
    helper = make_module(
        """
        def scale(x):
            return x * 2.0
        """
    )
    mod = make_module(
        f"""
        import numpy as np
        from {helper.__name__} import scale

        class Rules:
            classes_ = np.array(["low", "high"])
            def __init__(self, cut):
                self.cut = cut
                self.weights = np.array([1.0, 0.5])
            def predict(self, batch):
                x = np.asarray(batch["a"]) + np.asarray(batch["b"]) * self.weights[1]
                return np.where(scale(x) > self.cut, "high", "low")
            def predict_proba(self, batch):
                p = 1 / (1 + np.exp(-(np.asarray(batch["a"]) - self.cut)))
                return np.column_stack([1 - p, p])
        """
    )
    model = mod.Rules(3.0)
    example = {"a": [1.0, 2.0, 3.0], "b": [0.5, 1.0, 4.0]}
    manifest = write_package(model, tmp_path / "pkg", name="rules", input_example=example)
    assert manifest.adapter == "python" and manifest.entry["format"] == "skops"
    assert sorted(manifest.code) == sorted(
        [f"code/{helper.__name__}.py", f"code/{mod.__name__}.py"]
    )
    loaded = load_package(tmp_path / "pkg")
    assert loaded.classes == ("low", "high")
    records = [{"a": 1.0, "b": 0.5}, {"a": 3.0, "b": 4.0}]
    np.testing.assert_array_equal(
        loaded.predict(records), model.predict({"a": [1.0, 3.0], "b": [0.5, 4.0]})
    )
    # the loaded class is the package's copy of the code, not the host's module
    assert type(loaded.model) is not mod.Rules
    assert type(loaded.model).__module__ == mod.__name__


def test_two_versions_of_the_same_code_load_side_by_side(tmp_path: Path, make_module) -> None:  # type: ignore[no-untyped-def]
    source = """
        import numpy as np
        class Plus:
            def predict(self, batch):
                return np.asarray(batch)[:, 0] + {k}
        """
    mod = make_module(source.format(k=1), name="side_by_side_model")
    write_package(mod.Plus(), tmp_path / "v1", name="plus", input_example=np.zeros((2, 1)))
    (make_module.dir / "side_by_side_model.py").write_text(textwrap.dedent(source.format(k=100)))
    import importlib

    importlib.reload(mod)
    write_package(mod.Plus(), tmp_path / "v2", name="plus", input_example=np.zeros((2, 1)))
    a, b = load_package(tmp_path / "v1"), load_package(tmp_path / "v2")
    x = np.array([[1.0]])
    assert a.predict(x)[0] == 2.0 and b.predict(x)[0] == 101.0


def test_pickle_fallback_for_state_skops_cannot_hold(tmp_path: Path, make_module) -> None:  # type: ignore[no-untyped-def]
    mod = make_module(
        """
        import array
        import numpy as np

        class Locked:
            def __init__(self):
                self.offset = array.array("d", [3.0])  # skops cannot represent array.array
            def predict(self, batch):
                return np.asarray(batch)[:, 0] + self.offset[0]
        """
    )
    manifest = write_package(
        mod.Locked(), tmp_path / "pkg", name="locked", input_example=np.ones((2, 1))
    )
    assert manifest.entry["format"] == "pickle"
    loaded = load_package(tmp_path / "pkg")
    assert loaded.predict(np.ones((1, 1)))[0] == 4.0


def test_torch_module_round_trips(tmp_path: Path, make_module) -> None:  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch")
    mod = make_module(
        """
        import torch

        class Net(torch.nn.Module):
            def __init__(self, n_in, n_hidden, n_out=3):
                super().__init__()
                self.n_in, self.n_hidden, self.n_out = n_in, n_hidden, n_out
                self.body = torch.nn.Sequential(
                    torch.nn.Linear(n_in, n_hidden), torch.nn.ReLU(), torch.nn.Linear(n_hidden, n_out)
                )
            def forward(self, x):
                return self.body(x)
        """
    )
    torch.manual_seed(0)
    net = mod.Net(4, 16)
    xf = X.astype(np.float32)
    manifest = write_package(
        net,
        tmp_path / "pkg",
        name="net",
        input_example=xf[:3],
        eval_inputs=xf,
        classes=["setosa", "versicolor", "virginica"],
    )
    assert manifest.adapter == "torch"
    assert manifest.entry["init_kwargs"] == {"n_in": 4, "n_hidden": 16, "n_out": 3}
    assert manifest.input_schema == (FieldSpec("input", "float32", (None, 4)),)
    assert not any(f.path.endswith(".pkl") for f in manifest.files)
    loaded = load_package(tmp_path / "pkg")
    with torch.inference_mode():
        logits = net(torch.from_numpy(xf))
    expected = np.array(["setosa", "versicolor", "virginica"])[logits.argmax(1).numpy()]
    np.testing.assert_array_equal(loaded.predict(xf), expected)
    np.testing.assert_allclose(loaded.predict_proba(X).sum(axis=1), 1.0)
    np.testing.assert_allclose(
        loaded.predict_proba(xf), torch.softmax(logits.double(), 1).numpy(), atol=1e-12
    )


def test_torch_module_needs_recoverable_constructor_arguments(tmp_path: Path, make_module) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("torch")
    mod = make_module(
        """
        import torch
        class Net(torch.nn.Module):
            def __init__(self, width):
                super().__init__()
                self.lin = torch.nn.Linear(2, width)
            def forward(self, x):
                return self.lin(x)
        """
    )
    with pytest.raises(InvalidArgumentError, match=r"'width'.*init_kwargs"):
        write_package(
            mod.Net(3), tmp_path / "pkg", name="net", input_example=np.zeros((1, 2), np.float32)
        )
    m = write_package(
        mod.Net(3),
        tmp_path / "pkg2",
        name="net",
        input_example=np.zeros((1, 2), np.float32),
        init_kwargs={"width": 3},
    )
    assert load_package(tmp_path / "pkg2").predict(np.zeros((2, 2))).shape == (2, 3)
    assert m.classes is None


def test_schema_errors_name_the_field_and_expected_type(tmp_path: Path, pipeline: object) -> None:
    cols = {f"f{i}": X[:, i].tolist() for i in range(4)}
    write_package(pipeline, tmp_path / "pkg", name="iris", input_example=cols)
    model = load_package(tmp_path / "pkg")
    assert [f.name for f in model.manifest.input_schema] == ["f0", "f1", "f2", "f3"]
    secret = "payload-secret-value"
    with pytest.raises(SchemaError, match=r"missing field 'f2' \(expected float64") as exc:
        model.predict({"f0": [1.0], "f1": [1.0], "f3": [1.0]})
    with pytest.raises(
        SchemaError, match=r"field 'f1': expected float64 with shape \(None,\), got str"
    ) as exc:
        model.predict({"f0": [1.0], "f1": [secret], "f2": [1.0], "f3": [1.0]})
    assert secret not in str(exc.value)
    with pytest.raises(SchemaError, match="record 1 is missing field 'f3'"):
        model.predict([{"f0": 1, "f1": 1, "f2": 1, "f3": 1}, {"f0": 1, "f1": 1, "f2": 1}])
    with pytest.raises(SchemaError, match="4 columns"):
        model.predict(np.zeros((2, 3)))
    # the three layouts give the same prepared matrix
    rows = X[:3]
    recs = [{f"f{i}": float(r[i]) for i in range(4)} for r in rows]
    a = model.prepare(rows)
    np.testing.assert_array_equal(a, model.prepare(recs))
    np.testing.assert_array_equal(a, model.prepare({k: v[:3] for k, v in cols.items()}))
    np.testing.assert_array_equal(model.predict_prepared(a), model.predict(recs))


def test_tensor_schema_checks_shape_and_dtype(pkg: Path) -> None:
    model = load_package(pkg)
    with pytest.raises(
        SchemaError,
        match=r"field 'input': expected float64 with shape \(None, 4\), got size 5 in dimension 1",
    ):
        model.predict(np.zeros((2, 5)))
    with pytest.raises(SchemaError, match="got a 1-D array"):
        model.predict(np.zeros(4))
    with pytest.raises(SchemaError, match="got str values"):
        model.predict(np.array([["a", "b", "c", "d"]]))
    assert model.predict(np.zeros((2, 4), dtype=np.int32)).shape == (2,)  # ints cast safely


def test_ragged_and_empty_batches_are_schema_errors(tmp_path: Path, pipeline: object) -> None:
    # Both reached the estimator before (a raw ValueError: a 500 in serving, not a 4xx).
    write_package(pipeline, tmp_path / "t", name="iris", input_example=X[:5])
    tensor = load_package(tmp_path / "t")
    with pytest.raises(SchemaError, match=r"field 'input': values do not form a regular array"):
        tensor.predict([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0]])
    with pytest.raises(SchemaError, match="the batch is empty"):
        tensor.predict(np.zeros((0, 4)))
    cols = {f"f{i}": X[:5, i].tolist() for i in range(4)}
    write_package(pipeline, tmp_path / "c", name="iris", input_example=cols)
    columns = load_package(tmp_path / "c")
    with pytest.raises(SchemaError, match=r"field 'f1': values do not form a regular array"):
        columns.predict({"f0": [1.0, 2.0], "f1": [[1.0], [1.0, 2.0]], "f2": [1, 2], "f3": [1, 2]})
    with pytest.raises(SchemaError, match="the batch is empty"):
        columns.predict({"f0": [], "f1": [], "f2": [], "f3": []})
    with pytest.raises(SchemaError, match=r"field 'batch': values do not form a regular array"):
        columns.predict([[1.0, 2.0, 3.0, 4.0], [1.0]])


def test_predict_proba_without_support_is_an_invalid_argument(tmp_path: Path, make_module) -> None:  # type: ignore[no-untyped-def]
    mod = make_module(
        """
        import numpy as np
        class Zero:
            def predict(self, batch):
                return np.zeros(len(batch))
        """
    )
    write_package(mod.Zero(), tmp_path / "pkg", name="zero", input_example=np.zeros((2, 2)))
    model = load_package(tmp_path / "pkg")
    assert not model.has_proba
    with pytest.raises(InvalidArgumentError, match="no predict_proba"):
        model.predict_proba(np.zeros((1, 2)))


def test_version_differences_are_listed_at_load(tmp_path: Path, pipeline: object) -> None:
    write_package(
        pipeline,
        tmp_path / "pkg",
        name="iris",
        input_example=X[:2],
        requirements={"numpy": "0.0.1", "not-a-real-dist-xyz": "1.0"},
    )
    with pytest.warns(UserWarning, match="numpy 0.0.1 →"):
        model = load_package(tmp_path / "pkg")
    names = {m.name: m for m in model.requirement_mismatches}
    assert names["numpy"].recorded == "0.0.1" and names["numpy"].installed == np.__version__
    assert names["not-a-real-dist-xyz"].installed is None


def test_class_defined_in_a_function_cannot_be_packaged(tmp_path: Path) -> None:
    class Local:
        def predict(self, batch: object) -> object:
            return batch

    with pytest.raises(InvalidArgumentError, match="inside a function"):
        write_package(Local(), tmp_path / "pkg", name="x", input_example=np.zeros((1, 1)))


def test_unsafe_paths_in_a_manifest_are_refused(pkg: Path) -> None:
    from labline import IntegrityError

    obj = json.loads((pkg / "manifest.json").read_bytes())
    obj["files"].append({"path": "../outside", "sha256": "0" * 64, "size": 1})
    (pkg / "manifest.json").write_text(json.dumps(obj))
    with pytest.raises(IntegrityError, match="unsafe path"):
        read_verified(pkg)


def test_large_weights_verified_in_place_are_still_checked(tmp_path: Path, make_module) -> None:  # type: ignore[no-untyped-def]
    mod = make_module(
        """
        import numpy as np

        class Table:
            def __init__(self):
                self.table = np.arange(1_200_000, dtype=np.float64)  # > 8 MiB of skops
            def predict(self, batch):
                return self.table[np.asarray(batch)[:, 0].astype(np.int64)]
        """
    )
    manifest = write_package(mod.Table(), tmp_path / "pkg", name="t", input_example=np.ones((2, 1)))
    weights = manifest.file("weights/model.skops")
    assert weights.size >= 8 << 20
    pkg = read_verified(tmp_path / "pkg")
    assert weights.path in pkg.mapped and weights.path not in pkg.contents
    assert load_package(tmp_path / "pkg").predict(np.array([[7.0]]))[0] == 7.0
    path = tmp_path / "pkg" / weights.path
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(DigestMismatchError) as exc:
        load_package(tmp_path / "pkg")
    assert exc.value.path == weights.path and exc.value.expected == weights.sha256


def test_only_the_modules_the_model_imports_are_packaged(tmp_path: Path, make_module) -> None:  # type: ignore[no-untyped-def]
    import importlib
    import uuid

    proj = f"proj_{uuid.uuid4().hex[:6]}"
    root = make_module.dir / proj
    (root / "models").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "models" / "__init__.py").write_text("")
    (root / "util.py").write_text("def double(x):\n    return 2 * x\n")
    (root / "features.py").write_text("OFFSET = 1.0\n")
    (root / "unrelated.py").write_text("raise RuntimeError('never imported')\n")
    (root / "models" / "net.py").write_text(
        textwrap.dedent(
            f"""
            import numpy as np
            from ..util import double
            from {proj} import features

            class Net:
                def predict(self, batch):
                    return double(np.asarray(batch)[:, 0]) + features.OFFSET
            """
        )
    )
    importlib.invalidate_caches()
    mod = importlib.import_module(f"{proj}.models.net")
    try:
        manifest = write_package(
            mod.Net(), tmp_path / "pkg", name="net", input_example=np.ones((1, 1))
        )
    finally:
        for name in [n for n in sys.modules if n.split(".")[0] == proj]:
            del sys.modules[name]
    assert set(manifest.code) == {
        f"code/{proj}/__init__.py",
        f"code/{proj}/models/__init__.py",
        f"code/{proj}/models/net.py",
        f"code/{proj}/util.py",
        f"code/{proj}/features.py",
    }
    assert load_package(tmp_path / "pkg").predict(np.array([[2.0]]))[0] == 5.0


def test_state_skops_restores_incompletely_falls_back_to_pickle(
    tmp_path: Path, make_module
) -> None:  # type: ignore[no-untyped-def]
    mod = make_module(
        """
        import collections
        import numpy as np

        class Window:
            def __init__(self):
                self.recent = collections.deque([1.0, 2.0, 3.0])  # skops restores it empty
            def predict(self, batch):
                return np.asarray(batch)[:, 0] + sum(self.recent)
        """
    )
    manifest = write_package(
        mod.Window(), tmp_path / "pkg", name="w", input_example=np.ones((2, 1))
    )
    assert manifest.entry["format"] == "pickle"
    assert load_package(tmp_path / "pkg").predict(np.zeros((1, 1)))[0] == 6.0


_NARROW_SKOPS = """
import json, sys
from labline.models._adapters import _skops_load, skip_skops_estimator_scan
from labline.models._loaded import load_package

assert skip_skops_estimator_scan()
from skops.io import _trusted_types
from labline import IntegrityError
assert _trusted_types.SKLEARN_ESTIMATOR_TYPE_NAMES == []  # the scan was skipped
model = load_package(sys.argv[1])  # the manifest lists every estimator type of the file
out = {"predict": model.predict(json.loads(sys.argv[2])).tolist()}
entry = dict(model.manifest.entry)
data = (model.path / entry["weights"]).read_bytes()
# one recorded type fewer is refused: the narrowed default does not fill in for the manifest
short = [t for t in entry["trusted_types"] if not t.endswith("StandardScaler")]
try:
    _skops_load(data, {**entry, "trusted_types": short})
    out["short"] = "loaded"
except IntegrityError as e:
    out["short"] = str(e)
# a package written before the complete list existed recorded only non-default types
legacy = _skops_load(data, {"weights": entry["weights"], "format": "skops", "trusted_types": []})
out["legacy"] = legacy.predict(json.loads(sys.argv[2])).tolist()
print(json.dumps(out))
"""


def test_skops_loads_without_the_estimator_scan_trusting_only_the_manifest(pkg: Path) -> None:
    manifest = json.loads((pkg / "manifest.json").read_bytes())
    assert manifest["entry"]["trusted_types_complete"] is True
    assert "sklearn.preprocessing._data.StandardScaler" in manifest["entry"]["trusted_types"]
    rows = X[:3].tolist()
    proc = subprocess.run(
        [sys.executable, "-c", _NARROW_SKOPS, str(pkg), json.dumps(rows)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    expected = load_package(pkg).predict(X[:3]).tolist()
    assert out["predict"] == expected and out["legacy"] == expected
    assert "StandardScaler" in out["short"]
