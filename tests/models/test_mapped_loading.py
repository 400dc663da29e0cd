"""Large data files are hashed through one private memory map and loaded from that same map:
safetensors tensors and .npy arrays are views of it, not copies."""

from __future__ import annotations

import ctypes
import hashlib
from pathlib import Path

import numpy as np
import pytest

from labline import DigestMismatchError, IntegrityError
from labline.models import load_package, read_verified, write_package
from labline.models._adapters import TorchAdapter, npy_load
from labline.models._mapped import MappedFile

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

WIDE = 1600  # a 1600 x 1600 float32 layer: 10.2 MB, above the 8 MiB mapping threshold

NET = """
import torch

class Wide(torch.nn.Module):
    def __init__(self, n_in, width):
        super().__init__()
        self.n_in, self.width = n_in, width
        self.hidden = torch.nn.Linear(n_in, width)
        self.mid = torch.nn.Linear(width, width)
        self.out = torch.nn.Linear(width, 3)
        # computed here and not saved: a module built on the meta device lacks it
        self.register_buffer("scale", torch.full((width,), 0.5), persistent=False)
        self.register_buffer("steps", torch.tensor(7, dtype=torch.int64))

    def forward(self, x):
        return self.out(torch.relu(self.mid(torch.relu(self.hidden(x)))) * self.scale)
"""


def _address_range(mapped: MappedFile) -> tuple[int, int]:
    anchor = ctypes.c_char.from_buffer(mapped.buffer())
    base = ctypes.addressof(anchor)
    return base, base + mapped.size


def test_mapped_hash_equals_sha256_of_the_bytes(tmp_path: Path) -> None:
    data = np.random.default_rng(0).bytes((16 << 20) + 4099)  # not a whole number of chunks
    (tmp_path / "blob").write_bytes(data)
    mapped = MappedFile(tmp_path / "blob")
    assert mapped.sha256() == hashlib.sha256(data).hexdigest()
    with mapped.open() as f:  # and reading it back gives the same bytes
        assert f.read() == data
    (tmp_path / "other").write_bytes(data)
    (tmp_path / "other").replace(tmp_path / "blob")  # same bytes, another file
    with pytest.raises(IntegrityError, match="changed after it was verified"):
        mapped.open()


def test_safetensors_views_match_the_reference_loader_for_every_dtype(tmp_path: Path) -> None:
    from labline.models._adapters import _safetensors_views

    g = torch.Generator().manual_seed(0)
    tensors = {
        "big": torch.randn(1100, 2000, generator=g),
        "half": torch.randn(3, 5, generator=g).half(),
        "bf16": torch.randn(7, generator=g).bfloat16(),
        "ints": torch.arange(-5, 5, dtype=torch.int64).reshape(2, 5),
        "bytes": torch.arange(0, 9, dtype=torch.uint8),
        "flags": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.5, dtype=torch.float64),
        "empty": torch.empty(0, 4),
    }
    path = tmp_path / "w.safetensors"
    safetensors_torch.save_file(tensors, str(path), metadata={"note": "x"})
    mapped = MappedFile(path)
    got = _safetensors_views(torch, mapped, "w.safetensors")
    want = safetensors_torch.load_file(str(path))
    assert got.keys() == want.keys()
    for k in want:
        assert got[k].dtype == want[k].dtype and got[k].shape == want[k].shape, k
        assert torch.equal(got[k], want[k]), k
    lo, hi = _address_range(mapped)
    assert lo <= got["big"].data_ptr() < hi  # a view of the mapping, not a copy


def test_a_large_torch_package_loads_its_weights_in_place(tmp_path: Path, make_module) -> None:  # type: ignore[no-untyped-def]
    mod = make_module(NET)
    torch.manual_seed(0)
    net = mod.Wide(4, WIDE)
    x = np.random.default_rng(1).normal(size=(30, 4)).astype(np.float32)
    manifest = write_package(
        net, tmp_path / "pkg", name="wide", input_example=x[:2], classes=[0, 1, 2]
    )
    weights = manifest.entry["weights"]
    assert manifest.file(weights).size > 8 << 20

    pkg = read_verified(tmp_path / "pkg", manifest.digest)
    mapped = pkg.mapped[weights]
    module = TorchAdapter().load(manifest.entry, {weights: mapped})
    lo, hi = _address_range(mapped)
    for name, p in module.named_parameters():
        assert lo <= p.data_ptr() < hi, f"{name} was copied"
    assert module.scale.eq(0.5).all() and int(module.steps) == 7  # built for real when needed

    loaded = load_package(tmp_path / "pkg", expected_digest=manifest.digest)
    with torch.inference_mode():
        want = net(torch.from_numpy(x)).argmax(1).numpy()
    np.testing.assert_array_equal(loaded.predict(x), want)


def test_a_large_npy_file_is_an_array_over_the_mapping(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    for order in ("C", "F"):
        arr = np.asarray(rng.normal(size=(1100, 1000)), order=order)
        path = tmp_path / f"a{order}.npy"
        np.save(path, arr)
        mapped = MappedFile(path)
        got = npy_load(mapped)
        np.testing.assert_array_equal(got, arr)
        assert not got.flags.owndata
        lo, hi = _address_range(mapped)
        assert lo <= got.__array_interface__["data"][0] < hi


def test_a_large_weights_file_altered_on_disk_is_refused(tmp_path: Path, make_module) -> None:  # type: ignore[no-untyped-def]
    mod = make_module(NET)
    net = mod.Wide(4, WIDE)
    x = np.zeros((2, 4), dtype=np.float32)
    manifest = write_package(net, tmp_path / "pkg", name="wide", input_example=x, classes=[0, 1, 2])
    path = tmp_path / "pkg" / manifest.entry["weights"]
    with open(path, "r+b") as f:
        f.seek(9 << 20)
        byte = f.read(1)
        f.seek(9 << 20)
        f.write(bytes([byte[0] ^ 1]))
    with pytest.raises(DigestMismatchError, match=str(path)):
        load_package(tmp_path / "pkg")
