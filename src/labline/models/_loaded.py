"""A verified, loaded model package: the one object both research and serving call."""

from __future__ import annotations

import os
import platform
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .._exceptions import InvalidArgumentError
from ..core._profile import ReferenceProfile
from ._adapters import Predictor, adapter_named
from ._manifest import Manifest
from ._package import VerifiedPackage, read_verified
from ._schema import FieldSpec, InputField, assemble_batch, input_fields, prepare_batch
from ._source import CODE_DIR, installed_version, package_modules


@dataclass(frozen=True)
class RequirementMismatch:
    """A distribution whose installed version differs from the one recorded at logging time."""

    name: str
    recorded: str
    installed: str | None


def requirement_mismatches(manifest: Manifest) -> tuple[RequirementMismatch, ...]:
    """Compare the recorded requirements (and Python version) with this interpreter's."""
    out = []
    for dist, recorded in sorted(manifest.requirements.items()):
        got = installed_version(dist)
        if got != recorded:
            out.append(RequirementMismatch(dist, recorded, got))
    if manifest.python_version != platform.python_version():
        out.append(
            RequirementMismatch("python", manifest.python_version, platform.python_version())
        )
    return tuple(out)


def _probe_non_finite(
    adapter: str, schema: tuple[FieldSpec, ...], prepare: Any, predict: Any
) -> tuple[bool, bool]:
    """``(refuses NaN, refuses ±Inf)``: what the model's own code does with them, found out once
    at load by predicting on a row of zeros and on the same row with one NaN / infinity.

    Only scikit-learn models on all-float inputs are probed: their input validation raises on
    what the estimator cannot take (and estimator tags get pipelines with imputers wrong), so
    refusing those values in the wrapper turns a ValueError deep in the estimator (a 500 in
    serving) into a SchemaError naming the field. Other models receive what they are sent.
    """
    kinds = [np.dtype(f.dtype).kind if f.dtype != "str" else "U" for f in schema]
    if adapter != "sklearn" or "f" not in kinds or any(k not in "iuf" for k in kinds):
        return False, False
    try:
        base = prepare(
            {
                f.name: np.zeros((1, *(d or 1 for d in f.shape[1:])), dtype=np.dtype(f.dtype))
                for f in schema
            }
        )
        if not isinstance(base, np.ndarray) or base.dtype.kind != "f" or base.size == 0:
            return False, False
        # where a float field's value lands in the prepared matrix
        at = kinds.index("f") if len(schema) > 1 and base.shape[-1] == len(schema) else 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            predict(base)
    except Exception:  # the probe itself is not possible: pass values through
        return False, False

    def refuses(value: float) -> bool:
        row = base.copy()
        row.flat[at] = value
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                predict(row)
        except Exception:
            return True
        return False

    return refuses(np.nan), refuses(np.inf) or refuses(-np.inf)


class LoadedModel:
    """A model package loaded after every file matched its SHA-256.

    Use :func:`labline.load_model` to get one. The calling convention is fixed at load time;
    each call checks the batch against the input schema once, then runs the model.

    Attributes:
        name: the model's name.
        version: the registry version, or ``None`` when loaded from a folder.
        digest: the package digest, ``"sha256:<hex>"``.
        manifest: the package manifest.
        classes: class labels (classifiers), in ``predict_proba`` column order.
        has_proba: whether :meth:`predict_proba` is available.
        requirement_mismatches: installed versions that differ from the recorded ones.
        reference_profile: the verified reference profile drift is measured against, or
            ``None`` for a package written without one.

    Example:
        >>> model = labline.load_model("digits@production")  # doctest: +SKIP
        >>> model.predict({"x0": [0.1], "x1": [2.0]})          # doctest: +SKIP
        array([3])
    """

    def __init__(self, package: VerifiedPackage, *, version: int | None = None) -> None:
        manifest = package.manifest
        self.name: str = manifest.name
        self.version = version
        self.digest: str = package.digest
        self.manifest: Manifest = manifest
        self.path = package.folder
        self.requirement_mismatches = requirement_mismatches(manifest)
        self.reference_profile: ReferenceProfile | None = (
            None
            if manifest.profile is None
            else ReferenceProfile.from_bytes(package.read(manifest.profile))
        )
        if self.requirement_mismatches:
            listed = ", ".join(
                f"{m.name} {m.recorded} → {m.installed or 'not installed'}"
                for m in self.requirement_mismatches
            )
            warnings.warn(
                f"model {manifest.name!r} was packaged with other versions: {listed}",
                UserWarning,
                stacklevel=3,
            )
        adapter = adapter_named(manifest.adapter)
        self._as_matrix = adapter.as_matrix
        code = {p.removeprefix(f"{CODE_DIR}/"): package.read(p) for p in manifest.code}
        # the verified bytes, or for a large data file the verified mapping it is loaded from
        files = {manifest.entry["weights"]: package.file(manifest.entry["weights"])}
        with package_modules(code, package.folder / CODE_DIR):
            model = adapter.load(manifest.entry, files)
        self.model: Any = model
        self._predictor: Predictor = adapter.wrap(model, manifest.entry, manifest.classes)
        self.classes: tuple[Any, ...] | None = manifest.classes
        self.has_proba: bool = manifest.has_proba and self._predictor.has_proba
        # Decided once, here: which non-finite inputs the model itself would reject.
        self.input_fields: tuple[InputField, ...] = input_fields(manifest.input_schema)
        self.rejects_nan, self.rejects_inf = _probe_non_finite(
            manifest.adapter, manifest.input_schema, self.prepare, self._predictor.predict
        )
        # the one rule set every batch goes through, here and in the model server
        self.input_fields = input_fields(
            manifest.input_schema, reject_nan=self.rejects_nan, reject_inf=self.rejects_inf
        )

    def __repr__(self) -> str:
        v = "" if self.version is None else f" v{self.version}"
        return f"<LoadedModel {self.name}{v} {self.digest[:19]}>"

    def prepare(self, batch: Any) -> Any:
        """Check ``batch`` against the input schema and return its prepared form.

        Every field goes through :meth:`InputField.check <labline.models.InputField.check>`,
        the rule set the model server applies to what it decodes from the wire.

        Returns:
            A 2-D array (scikit-learn, PyTorch) or the batch in the layout of the logged
            example (plain Python models); see :mod:`labline.models._schema`.

        Raises:
            SchemaError: a field is missing or has the wrong dtype or shape, or holds a
                non-finite value the model refuses; the message names the field and the
                expected type.
        """
        m = self.manifest
        return prepare_batch(batch, self.input_fields, m.input_layout, as_matrix=self._as_matrix)

    def prepare_checked(self, columns: dict[str, npt.NDArray[Any]]) -> Any:
        """The prepared form of columns that already passed :attr:`input_fields` (no re-check).

        Args:
            columns: one array per field, each returned by ``InputField.check`` (the model
                server concatenates several requests' columns into one batch).

        Returns:
            What :meth:`prepare` returns for the same values.
        """
        m = self.manifest
        return assemble_batch(columns, self.input_fields, m.input_layout, as_matrix=self._as_matrix)

    def predict(self, batch: Any) -> npt.NDArray[Any]:
        """Validate ``batch`` and return the model's predictions (one per row).

        Raises:
            SchemaError: the batch does not match the input schema.
        """
        return self._predictor.predict(self.prepare(batch))

    def predict_proba(self, batch: Any) -> npt.NDArray[np.float64]:
        """Validate ``batch`` and return class probabilities, columns in :attr:`classes` order.

        Raises:
            SchemaError: the batch does not match the input schema.
            InvalidArgumentError: the model has no ``predict_proba``.
        """
        self._require_proba()
        return self._predictor.predict_proba(self.prepare(batch))

    def predict_prepared(self, prepared: Any) -> npt.NDArray[Any]:
        """Predict on a batch returned by :meth:`prepare` (no second validation)."""
        return self._predictor.predict(prepared)

    def predict_proba_prepared(self, prepared: Any) -> npt.NDArray[np.float64]:
        """Class probabilities for a batch returned by :meth:`prepare`.

        Raises:
            InvalidArgumentError: the model has no ``predict_proba``.
        """
        self._require_proba()
        return self._predictor.predict_proba(prepared)

    def _require_proba(self) -> None:
        if not self.has_proba:
            raise InvalidArgumentError(f"model {self.name!r} has no predict_proba")


def load_package(
    folder: str | os.PathLike[str],
    *,
    expected_digest: str | None = None,
    version: int | None = None,
) -> LoadedModel:
    """Verify and load the package in ``folder``.

    Args:
        folder: the package folder.
        expected_digest: the package digest to insist on (from the registry).
        version: the registry version, for display.

    Returns:
        The loaded model.

    Raises:
        DigestMismatchError: a file is missing or modified (nothing was imported or read).
        IntegrityError: the manifest is malformed.
    """
    return LoadedModel(read_verified(folder, expected_digest), version=version)
