"""The manifest of a model package and its canonical bytes.

A package is a folder::

    manifest.json            this manifest, canonical JSON (sorted keys, no spaces, UTF-8)
    weights/...              the model's state (skops, safetensors, or pickle as a last resort)
    code/...                 the source files of the model's own code
    parity/...               the evaluation inputs and the model's outputs on them

``manifest.json`` lists every other file with its SHA-256 and size; the **package digest** is
``"sha256:" +`` the SHA-256 of the manifest's canonical bytes, so it pins every byte of the
package.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._exceptions import IntegrityError
from ..core._hashing import sha256_bytes
from ._schema import FieldSpec

FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"


def is_package_path(ref: str | os.PathLike[str]) -> bool:
    """Whether a model reference names a package folder (a path object, or a folder holding
    a manifest) rather than a registered model."""
    return isinstance(ref, os.PathLike) or os.path.isfile(os.path.join(ref, MANIFEST_FILE))


@dataclass(frozen=True)
class FileEntry:
    """A file of a package: its path relative to the package root, SHA-256 (hex) and size."""

    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Manifest:
    """What a model package contains and how to load it.

    Attributes:
        name: the model's name.
        adapter: ``"sklearn"``, ``"torch"`` or ``"python"``.
        entry: adapter-specific loading instructions (weights file, class, trusted types...).
        input_layout: layout of the logged input example (see :mod:`labline.models._schema`).
        input_schema: the input fields.
        output_schema: the output fields (``label``, and ``proba`` for classifiers).
        classes: the class labels of a classifier, in ``predict_proba`` column order.
        has_proba: whether the model has ``predict_proba``.
        python_version: ``major.minor.micro`` of the interpreter that wrote the package.
        requirements: pinned ``{distribution: version}`` the model's code relies on.
        run_id: the training run, if logged from one.
        datasets: ``{"name", "fingerprint"}`` of the data sets the training run logged.
        parity: where the parity record lives: ``{"inputs", "labels", "proba", "n"}``.
        code: paths of the source files (under ``code/``).
        files: every file of the package except the manifest itself.
        format_version: the package format version.
        profile: the reference profile file (``profile/reference.json``) when the package
            has one; packages written before profiles existed have none and still load.
    """

    name: str
    adapter: str
    entry: Mapping[str, Any]
    input_layout: str
    input_schema: tuple[FieldSpec, ...]
    output_schema: tuple[FieldSpec, ...]
    classes: tuple[Any, ...] | None
    has_proba: bool
    python_version: str
    requirements: Mapping[str, str]
    run_id: str | None
    datasets: tuple[Mapping[str, str], ...]
    parity: Mapping[str, Any] | None
    code: tuple[str, ...]
    files: tuple[FileEntry, ...] = field(default=())
    format_version: int = FORMAT_VERSION
    profile: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the JSON object written to ``manifest.json``.

        ``profile`` is written only when set, so a manifest without one keeps the bytes (and
        the digest) it had before profiles existed.
        """
        doc: dict[str, Any] = {
            "format_version": self.format_version,
            "name": self.name,
            "adapter": self.adapter,
            "entry": dict(self.entry),
            "input_layout": self.input_layout,
            "input_schema": [f.to_json() for f in self.input_schema],
            "output_schema": [f.to_json() for f in self.output_schema],
            "classes": None if self.classes is None else list(self.classes),
            "has_proba": self.has_proba,
            "python_version": self.python_version,
            "requirements": dict(sorted(self.requirements.items())),
            "run_id": self.run_id,
            "datasets": [dict(d) for d in self.datasets],
            "parity": None if self.parity is None else dict(self.parity),
            "code": list(self.code),
            "files": [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in self.files],
        }
        if self.profile is not None:
            doc["profile"] = self.profile
        return doc

    def canonical_bytes(self) -> bytes:
        """Return the canonical JSON bytes whose SHA-256 is the package digest."""
        return canonical_json(self.to_json())

    @property
    def digest(self) -> str:
        """The package digest, ``"sha256:<hex>"``."""
        return "sha256:" + sha256_bytes(self.canonical_bytes())

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Manifest:
        """Build a manifest from its JSON object.

        Raises:
            IntegrityError: the object is not a manifest this version of labline understands.
        """
        try:
            version = int(obj["format_version"])
            if version != FORMAT_VERSION:
                raise IntegrityError(f"unsupported model package format version {version}")
            classes = obj["classes"]
            return cls(
                name=str(obj["name"]),
                adapter=str(obj["adapter"]),
                entry=dict(obj["entry"]),
                input_layout=str(obj["input_layout"]),
                input_schema=tuple(FieldSpec.from_json(f) for f in obj["input_schema"]),
                output_schema=tuple(FieldSpec.from_json(f) for f in obj["output_schema"]),
                classes=None if classes is None else tuple(classes),
                has_proba=bool(obj["has_proba"]),
                python_version=str(obj["python_version"]),
                requirements={str(k): str(v) for k, v in obj["requirements"].items()},
                run_id=None if obj["run_id"] is None else str(obj["run_id"]),
                datasets=tuple({str(k): str(v) for k, v in d.items()} for d in obj["datasets"]),
                parity=None if obj["parity"] is None else dict(obj["parity"]),
                code=tuple(str(c) for c in obj["code"]),
                files=tuple(
                    FileEntry(str(f["path"]), str(f["sha256"]), int(f["size"]))
                    for f in obj["files"]
                ),
                format_version=version,
                profile=None if obj.get("profile") is None else str(obj["profile"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise IntegrityError(
                f"malformed model package manifest: {type(e).__name__} {e}"
            ) from None

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        """Parse ``manifest.json`` bytes.

        Raises:
            IntegrityError: the bytes are not a valid manifest.
        """
        try:
            obj = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise IntegrityError(f"model package manifest is not valid JSON: {e}") from None
        if not isinstance(obj, dict):
            raise IntegrityError("model package manifest is not a JSON object")
        return cls.from_json(obj)

    def file(self, path: str) -> FileEntry:
        """Return the entry of ``path``.

        Raises:
            IntegrityError: the manifest does not list ``path``.
        """
        for f in self.files:
            if f.path == path:
                return f
        raise IntegrityError(f"model package manifest does not list {path!r}")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def canonical_json(obj: Any) -> bytes:
    """Serialize ``obj`` as canonical JSON: sorted keys, no whitespace, UTF-8, no NaN."""
    return json.dumps(
        obj,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_json_default,
    ).encode("utf-8")
