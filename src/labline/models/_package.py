"""Writing a model package to a folder and reading one back, verified.

Reading (:func:`read_verified`) checks the manifest against the expected package digest and
every listed file against its SHA-256 *before* anything is imported or deserialized.

Source files and pickles, which execute code, are read into memory once and hashed from those
very bytes, which are then the only bytes used: there is no window between check and use.
Large files (8 MiB or more) in data formats whose loaders run no code of the file's choosing
(``.safetensors``, ``.npy`` without pickle, ``.skops`` with its allow-list of types) are hashed
through a private memory map and loaded from that same map (:mod:`labline.models._mapped`):
one read of the file in all, no second copy in memory, and verification at the speed of SHA-256
itself (see ``benchmarks/bench_loading.py``).
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .._exceptions import DigestMismatchError, IntegrityError, InvalidArgumentError
from ..core._grammar import Digest, check_package_name
from ..core._hashing import sha256_bytes, sha256_read
from ..core._profile import PROFILE_FILE, build_profile
from ._adapters import (
    PythonAdapter,
    SavedState,
    adapter_named,
    choose_adapter,
    npy_bytes,
    npy_load,
)
from ._manifest import MANIFEST_FILE, FileEntry, Manifest, canonical_json
from ._mapped import MappedFile, PackageFile
from ._parity_report import compare_outputs
from ._schema import FieldSpec, InputLayout, batch_columns, infer_input, prepare_batch
from ._source import CODE_DIR, collect_sources, pinned_versions, relpath_ok

_MAPPED_SUFFIXES = (".safetensors", ".npy", ".skops")
_MAP_MIN = 8 << 20


def _digest_hex(digest: str) -> str:
    return Digest.parse(digest).hex


def _array_or_json(prefix: str, value: Any) -> tuple[str, bytes]:
    """Store arrays as ``.npy`` (no pickle) and anything else as JSON."""
    if isinstance(value, np.ndarray) and value.dtype.kind != "O":
        return f"{prefix}.npy", npy_bytes(value)
    if isinstance(value, np.ndarray):
        value = value.tolist()
    try:
        return f"{prefix}.json", canonical_json(value)
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError(
            f"cannot store the parity record ({prefix}): values must be arrays or JSON-serializable ({e})"
        ) from None


def _label_spec(labels: npt.NDArray[Any]) -> FieldSpec:
    kind = labels.dtype.kind
    dtype = "str" if kind in "USO" else labels.dtype.name
    return FieldSpec("label", dtype, (None, *labels.shape[1:]))


def _reproduces(
    ad: PythonAdapter,
    saved: SavedState,
    classes: tuple[Any, ...] | None,
    prepared: Any,
    labels: npt.NDArray[Any],
    proba: npt.NDArray[np.float64] | None,
) -> bool:
    try:
        restored = ad.wrap(ad.load(saved.entry, saved.files), saved.entry, classes)
        got = np.asarray(restored.predict(prepared))
        got_proba = restored.predict_proba(prepared) if proba is not None else None
    except Exception:  # the restored object cannot even predict
        return False
    return compare_outputs(labels, got, proba, got_proba, tolerance=0.0).passed


def write_package(
    model: Any,
    folder: str | os.PathLike[str],
    *,
    name: str,
    input_example: Any,
    eval_inputs: Any = None,
    eval_labels: Any = None,
    run_id: str | None = None,
    datasets: tuple[Mapping[str, str], ...] = (),
    adapter: str | None = None,
    classes: Any = None,
    init_kwargs: Mapping[str, Any] | None = None,
    output: str | None = None,
    requirements: Mapping[str, str] | None = None,
) -> Manifest:
    """Write ``model`` as a package into the empty or new folder ``folder``.

    Args:
        model: a scikit-learn estimator or pipeline, a CPU ``torch.nn.Module``, or any object
            with ``predict(batch)`` (and optionally ``predict_proba(batch)``).
        folder: where to write the package.
        name: the model's name.
        input_example: a small batch; the input schema is inferred from it.
        eval_inputs: the batch whose predictions form the parity record (default: the example)
            and the reference profile drift is measured against (use a few hundred rows or
            more of evaluation data: a profile of a handful of rows detects little).
        eval_labels: the true labels of ``eval_inputs``, when known: the profile then records
            the measured accuracy the monitoring alerts compare against.
        run_id: the training run.
        datasets: ``{"name", "fingerprint"}`` of the data sets of the training run.
        adapter: force ``"sklearn"``, ``"torch"`` or ``"python"`` instead of detecting it.
        classes: class labels (torch classifiers; otherwise read from ``classes_``).
        init_kwargs: constructor arguments of a torch module (default: read from attributes
            named like the ``__init__`` parameters).
        output: torch classifiers: ``"logits"`` (default) or ``"proba"``.
        requirements: extra or overriding pinned ``{distribution: version}``.

    Returns:
        The manifest written (its ``digest`` is the package digest).

    Raises:
        InvalidArgumentError: the model cannot be packaged, or the example does not fit it.
        SchemaError: ``eval_inputs`` do not match the schema of ``input_example``.
    """
    check_package_name(name)
    ad = choose_adapter(model, adapter)
    saved = ad.save(model, init_kwargs=init_kwargs, output=output)
    cls_labels = ad.classes_of(model, classes=classes)
    layout, schema = infer_input(input_example)
    if ad.as_matrix and layout == InputLayout.OBJECT:
        raise InvalidArgumentError(
            "input_example must be a 2-D array, a dict of columns or a list of records"
        )
    predictor = ad.wrap(model, saved.entry, cls_labels)
    if eval_inputs is None:
        eval_inputs = input_example
    prepared = prepare_batch(eval_inputs, schema, layout, as_matrix=ad.as_matrix)
    labels = predictor.predict(prepared)
    proba = predictor.predict_proba(prepared) if predictor.has_proba else None
    # skops can restore some objects silently incompletely (a deque comes back empty): keep
    # skops only if the restored object reproduces the outputs exactly.
    if (
        isinstance(ad, PythonAdapter)
        and saved.entry["format"] == "skops"
        and not _reproduces(ad, saved, cls_labels, prepared, labels, proba)
    ):
        saved = ad.save_pickle(model)

    sources, lib_tops = collect_sources(saved.class_modules)
    reqs = pinned_versions(lib_tops | saved.library_tops)
    reqs.update(requirements or {})

    files: dict[str, bytes] = dict(saved.files)
    for rel, src in sources.items():
        files[f"{CODE_DIR}/{rel}"] = src
    inputs_path, inputs_bytes = _array_or_json("parity/inputs", eval_inputs)
    labels_path, labels_bytes = _array_or_json("parity/labels", labels)
    files[inputs_path] = inputs_bytes
    files[labels_path] = labels_bytes
    parity: dict[str, Any] = {
        "inputs": inputs_path,
        "labels": labels_path,
        "proba": None,
        "n": len(labels),
    }
    output_schema = [_label_spec(labels)]
    columns = batch_columns(eval_inputs, schema, layout)
    profile_path: str | None = None
    if columns is not None:
        profile = build_profile(
            columns,
            np.asarray(labels),
            None if proba is None else np.asarray(proba),
            classes=cls_labels,
            labels=None if eval_labels is None else np.asarray(eval_labels),
        )
        files[PROFILE_FILE] = profile.to_bytes()
        profile_path = PROFILE_FILE
    if proba is not None:
        files["parity/proba.npy"] = npy_bytes(np.asarray(proba, dtype=np.float64))
        parity["proba"] = "parity/proba.npy"
        output_schema.append(FieldSpec("proba", "float64", (None, int(proba.shape[1]))))

    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    entries = []
    for rel in sorted(files):
        data = files[rel]
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        entries.append(FileEntry(rel, sha256_bytes(data), len(data)))
    manifest = Manifest(
        name=name,
        adapter=ad.name,
        entry=saved.entry,
        input_layout=layout,
        input_schema=schema,
        output_schema=tuple(output_schema),
        classes=cls_labels,
        has_proba=predictor.has_proba,
        python_version=platform.python_version(),
        requirements=reqs,
        run_id=run_id,
        datasets=tuple(datasets),
        parity=parity,
        code=tuple(sorted(f"{CODE_DIR}/{rel}" for rel in sources)),
        files=tuple(entries),
        profile=profile_path,
    )
    (root / MANIFEST_FILE).write_bytes(manifest.canonical_bytes())
    return manifest


@dataclass(frozen=True)
class VerifiedPackage:
    """A package whose manifest and files all matched their digests.

    Attributes:
        folder: the package folder.
        manifest: the parsed manifest.
        digest: the package digest, ``"sha256:<hex>"``.
        contents: the verified bytes of every file, except large data files (in ``mapped``).
        mapped: large data files, hashed through a private memory map that loaders read them
            from (see :mod:`labline.models._mapped`).
    """

    folder: Path
    manifest: Manifest
    digest: str
    contents: Mapping[str, bytes]
    mapped: Mapping[str, MappedFile]

    def file(self, path: str) -> PackageFile:
        """The verified content of ``path``: its bytes, or its verified mapping.

        Raises:
            IntegrityError: the manifest does not list ``path``.
        """
        if path in self.contents:
            return self.contents[path]
        if path in self.mapped:
            return self.mapped[path]
        raise IntegrityError(f"model package manifest does not list {path!r}")

    def read(self, path: str) -> bytes:
        """The verified bytes of ``path`` (a copy, for a large data file).

        Raises:
            IntegrityError: the manifest does not list ``path``.
        """
        content = self.file(path)
        if isinstance(content, MappedFile):
            with content.buffer() as view:
                return bytes(view)
        return content


def _verify_file(folder: Path, entry: FileEntry) -> tuple[PackageFile, str]:
    if not relpath_ok(entry.path) or entry.path == MANIFEST_FILE:
        raise IntegrityError(f"model package manifest lists an unsafe path {entry.path!r}")
    path = folder / entry.path
    try:
        if entry.path.endswith(_MAPPED_SUFFIXES) and entry.size >= _MAP_MIN:
            try:
                mapped = MappedFile(path)
            except ValueError:  # empty, unlike what the manifest says: hashed as bytes below
                pass
            else:
                return mapped, mapped.sha256()
        return sha256_read(path)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise DigestMismatchError(entry.path, entry.sha256, None, location=str(path)) from None


def read_verified(
    folder: str | os.PathLike[str], expected_digest: str | None = None
) -> VerifiedPackage:
    """Read and verify the package in ``folder``.

    Args:
        folder: the package folder.
        expected_digest: the package digest the registry recorded (``"sha256:<hex>"`` or hex);
            when given, the manifest must hash to it.

    Returns:
        The verified package.

    Raises:
        DigestMismatchError: the manifest or a file is missing or differs from its digest;
            the error names the file and both digests.
        IntegrityError: the manifest is malformed or lists an unsafe path.
    """
    root = Path(folder)
    try:
        manifest_bytes, actual = sha256_read(root / MANIFEST_FILE)
    except (FileNotFoundError, NotADirectoryError):
        raise DigestMismatchError(
            MANIFEST_FILE,
            _digest_hex(expected_digest) if expected_digest else "(any)",
            None,
            location=str(root / MANIFEST_FILE),
        ) from None
    if expected_digest is not None and actual != _digest_hex(expected_digest):
        raise DigestMismatchError(
            MANIFEST_FILE, _digest_hex(expected_digest), actual, location=str(root / MANIFEST_FILE)
        )
    manifest = Manifest.from_bytes(manifest_bytes)
    contents: dict[str, bytes] = {MANIFEST_FILE: manifest_bytes}
    mapped: dict[str, MappedFile] = {}
    for entry in manifest.files:
        data, got = _verify_file(root, entry)
        if got != entry.sha256:
            raise DigestMismatchError(
                entry.path, entry.sha256, got, location=str(root / entry.path)
            )
        if isinstance(data, MappedFile):
            mapped[entry.path] = data
        else:
            contents[entry.path] = data
    return VerifiedPackage(root, manifest, "sha256:" + actual, contents, mapped)


def load_parity_value(pkg: VerifiedPackage, path: str | None) -> Any:
    """Load one parity file (``.npy`` without pickle, or JSON)."""
    if path is None:
        return None
    if path.endswith(".npy"):
        return npy_load(pkg.file(path))
    return json.loads(pkg.read(path).decode("utf-8"))


__all__ = ["VerifiedPackage", "adapter_named", "read_verified", "write_package"]
