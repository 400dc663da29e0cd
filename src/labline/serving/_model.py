"""The served model: a loaded package plus everything decided once, at load time.

Schema fields, dtypes, output datatypes and response headers are computed here once so the
request path does no reflection.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .._exceptions import InvalidArgumentError
from ..core import ReferenceProfile
from ..models import InputField
from ._deferral import Deferral

__all__ = ["ServableModel", "ServedModel", "WireField", "numpy_to_v2", "v2_to_numpy"]


class ServableModel(Protocol):
    """What the server needs from :func:`labline.load_model`'s ``LoadedModel``."""

    name: str
    version: int | None
    digest: str
    classes: Any
    has_proba: bool
    input_fields: tuple[InputField, ...]

    def prepare_checked(self, columns: dict[str, Any]) -> Any: ...
    def predict_prepared(self, prepared: Any) -> Any: ...
    def predict_proba_prepared(self, prepared: Any) -> Any: ...


_V2_BY_NUMPY: dict[str, str] = {
    "bool": "BOOL",
    "uint8": "UINT8",
    "uint16": "UINT16",
    "uint32": "UINT32",
    "uint64": "UINT64",
    "int8": "INT8",
    "int16": "INT16",
    "int32": "INT32",
    "int64": "INT64",
    "float16": "FP16",
    "float32": "FP32",
    "float64": "FP64",
    "object": "BYTES",
}
_NUMPY_BY_V2: dict[str, np.dtype[Any]] = {v: np.dtype(k) for k, v in _V2_BY_NUMPY.items()}


def numpy_to_v2(dtype: np.dtype[Any]) -> str:
    """Open Inference Protocol datatype name of a numpy dtype (strings are ``BYTES``)."""
    if dtype.kind in "USO":
        return "BYTES"
    try:
        return _V2_BY_NUMPY[dtype.name]
    except KeyError:
        raise InvalidArgumentError(
            f"dtype {dtype.name} has no Open Inference Protocol datatype"
        ) from None


def v2_to_numpy(datatype: str) -> np.dtype[Any] | None:
    """numpy dtype of an Open Inference Protocol datatype name, or None if unknown."""
    return _NUMPY_BY_V2.get(datatype)


@dataclass(frozen=True)
class WireField:
    """An input field as the Open Inference Protocol names it; values are checked by ``field``.

    Attributes:
        field: the model's own checker (the rule set ``LoadedModel.predict`` applies).
        row_shape: the shape of one row, ``-1`` for a free dimension.
        v2_datatype: the Open Inference Protocol datatype of the field's dtype.
    """

    field: InputField
    row_shape: tuple[int, ...]
    v2_datatype: str

    @property
    def name(self) -> str:
        """The field's name."""
        return self.field.name


class ServedModel:
    """A loaded model package wrapped for the request path.

    Args:
        model: what :func:`labline.load_model` returned.
        calibration: the version's current :class:`labline.Calibration`; with one, every
            answer says whether the item is deferred and gives its confidence score.

    The calling convention (``prepare`` then ``predict_prepared`` / ``predict_proba_prepared``)
    and all per-model constants are fixed here, once.

    Raises:
        InvalidArgumentError: no input schema, or a calibration of a model without
            probabilities or of another package, or whose score function cannot be imported.
    """

    def __init__(self, model: ServableModel, calibration: Any = None) -> None:
        self.model = model
        self.name: str = model.name
        self.version: int | None = model.version
        self.digest: str = model.digest
        self.version_text: str = "" if model.version is None else str(model.version)
        self.fields: tuple[WireField, ...] = tuple(
            WireField(
                field=f,
                row_shape=tuple(-1 if d is None else int(d) for d in f.spec.shape[1:]),
                v2_datatype=numpy_to_v2(f.dtype),
            )
            for f in model.input_fields
        )
        if not self.fields:
            raise InvalidArgumentError(f"model {model.name!r} has no input schema; cannot serve it")
        self.field_by_name: Mapping[str, WireField] = {f.name: f for f in self.fields}
        self.field_names: frozenset[str] = frozenset(self.field_by_name)
        self.has_proba: bool = bool(model.has_proba)
        self.classes: tuple[Any, ...] | None = (
            None if model.classes is None else tuple(model.classes)
        )
        # what drift is measured against (packages written before profiles existed have none)
        profile = getattr(model, "reference_profile", None)
        self.reference_profile: ReferenceProfile | None = (
            profile if isinstance(profile, ReferenceProfile) else None
        )
        classes = None if model.classes is None else np.asarray(list(model.classes))
        self.classes_json: list[Any] | None = None if classes is None else classes.tolist()
        self.prediction_dtype: np.dtype[Any] = (
            np.dtype(np.float64)
            if classes is None
            else (np.dtype(object) if classes.dtype.kind in "USO" else classes.dtype)
        )
        self.prediction_v2_datatype = numpy_to_v2(self.prediction_dtype)
        self.n_classes: int = 0 if classes is None else len(classes)
        self.headers: dict[str, str] = {
            "x-labline-model-name": header_text(self.name),
            "x-labline-model-version": self.version_text,
            "x-labline-model-digest": self.digest,
        }
        self.raw_headers: tuple[tuple[bytes, bytes], ...] = tuple(
            (k.encode(), v.encode()) for k, v in self.headers.items()
        )
        self.calibration = calibration
        self.deferral: Deferral | None = None
        if calibration is not None:
            if not self.has_proba:
                raise InvalidArgumentError(
                    f"model {model.name!r} gives no probabilities; its calibration cannot apply"
                )
            if calibration.model_digest != self.digest:
                raise InvalidArgumentError(
                    f"calibration {calibration.id} is of another package than {self.digest}"
                )
            self.deferral = Deferral.from_calibration(calibration)
        self.identity_json: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
        }
        if self.deferral is not None:
            self.identity_json["calibration_id"] = self.deferral.calibration_id
        # the Open Inference Protocol outputs this model answers, in order
        self.output_names: tuple[str, ...] = (
            "predictions",
            *(("probabilities",) if self.has_proba else ()),
            *(("deferred", "confidence") if self.deferral is not None else ()),
        )
        self._predict = model.predict_prepared
        self._predict_proba = model.predict_proba_prepared if self.has_proba else None
        self._prepare = model.prepare_checked

    def with_calibration(self, calibration: Any) -> ServedModel:
        """The same loaded model under another calibration (or none): nothing is reloaded.

        Raises:
            InvalidArgumentError: as the constructor.
        """
        return ServedModel(self.model, calibration)

    def run(
        self, columns: dict[str, np.ndarray[Any, Any]], *, with_proba: bool = True
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
        """Run the packaged code on a batch of checked columns.

        Args:
            columns: one array per field, each from ``InputField.check``.
            with_proba: also compute class probabilities (when the model has them); a
                request that does not ask for them does not pay for ``predict_proba``
                (unless the model is calibrated: deciding needs them).

        Returns:
            (predictions, probabilities or None)
        """
        prepared = self._prepare(columns)
        predictions = np.asarray(self._predict(prepared))
        proba = (
            None
            if self._predict_proba is None or not (with_proba or self.deferral is not None)
            else np.asarray(self._predict_proba(prepared))
        )
        return predictions, proba

    def outputs_v2(self) -> list[dict[str, Any]]:
        """Output tensor metadata for the Open Inference Protocol."""
        outputs = [{"name": "predictions", "datatype": self.prediction_v2_datatype, "shape": [-1]}]
        if self.has_proba:
            outputs.append(
                {"name": "probabilities", "datatype": "FP64", "shape": [-1, self.n_classes or -1]}
            )
        if self.deferral is not None:
            outputs.append({"name": "deferred", "datatype": "BOOL", "shape": [-1]})
            outputs.append({"name": "confidence", "datatype": "FP64", "shape": [-1]})
        return outputs

    def inputs_v2(self) -> list[dict[str, Any]]:
        """Input tensor metadata for the Open Inference Protocol."""
        return [
            {"name": f.name, "datatype": f.v2_datatype, "shape": [-1, *f.row_shape]}
            for f in self.fields
        ]


# Printable ASCII except '%': what stays as is when a header value has to be percent-encoded.
_HEADER_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


def header_text(text: str) -> str:
    """``text`` as an HTTP header value: as is when printable ASCII, else percent-encoded UTF-8.

    Model names may hold any character but '/' and '@'; a raw control character would break
    the response (and non-Latin-1 text cannot be sent at all). The body carries the exact name.
    """
    if text.isascii() and text.isprintable():
        return text
    return urllib.parse.quote(text, safe=_HEADER_SAFE)
