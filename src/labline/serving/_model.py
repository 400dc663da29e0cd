"""The served model: a loaded package plus everything decided once, at load time.

Schema fields, dtypes, output datatypes and response headers are computed here once so the
request path does no reflection.
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .._exceptions import InvalidArgumentError, SchemaError

__all__ = ["Field", "FieldSpecLike", "ServableModel", "ServedModel", "numpy_to_v2", "v2_to_numpy"]


class FieldSpecLike(Protocol):
    """One input field of a model package's manifest."""

    @property
    def name(self) -> str: ...
    @property
    def dtype(self) -> Any: ...
    @property
    def shape(self) -> Any: ...


class ServableModel(Protocol):
    """What the server needs from :func:`labline.load_model`'s ``LoadedModel``."""

    name: str
    version: int | None
    digest: str
    classes: Any
    has_proba: bool

    @property
    def manifest(self) -> Any: ...
    def prepare(self, batch: Any) -> Any: ...
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


def _as_dtype(dtype: Any) -> np.dtype[Any]:
    text = str(dtype).lower()
    if text in {"str", "string", "bytes", "object", "utf8", "large_string"}:
        return np.dtype(object)
    try:
        resolved: np.dtype[Any] = np.dtype(dtype)
    except TypeError:
        resolved = np.dtype(text)
    return resolved


# Kinds of JSON-decoded arrays accepted for each target kind (strings are never parsed as
# numbers: a string in a numeric field is a client error, not something to coerce).
_ACCEPTED_KINDS: dict[str, str] = {"f": "fiu", "i": "iu", "u": "iu", "b": "b", "O": "U", "U": "U"}


@dataclass(frozen=True)
class Field:
    """An input field with its dtype and per-row shape resolved for the request path."""

    name: str
    dtype: np.dtype[Any]
    row_shape: tuple[int, ...]  # -1 marks a free dimension
    v2_datatype: str
    reject_nan: bool = False  # decided at load from what the model's own code refuses
    reject_inf: bool = False

    def describe(self) -> str:
        """``float64[64]``-style text used in error messages."""
        dims = ",".join("*" if d < 0 else str(d) for d in self.row_shape)
        return f"{self.dtype.name if self.dtype.kind != 'O' else 'string'}" + (
            f"[{dims}]" if dims else ""
        )

    def column_from_json(self, values: Any, n_rows: int) -> np.ndarray[Any, Any]:
        """Convert a JSON-decoded column (one value per row) into an array of this field.

        Raises:
            SchemaError: wrong type, wrong shape or wrong number of rows (message names the
                field, never the values).
        """
        try:
            arr = np.asarray(values)
        except (ValueError, TypeError):
            raise SchemaError(
                f"field {self.name!r}: rows have inconsistent shapes; expected {self.describe()} per row"
            ) from None
        return self.check_array(arr, n_rows, source="JSON")

    def check_array(
        self, arr: np.ndarray[Any, Any], n_rows: int, *, source: str
    ) -> np.ndarray[Any, Any]:
        """Check kind and shape of ``arr`` and cast it to this field's dtype."""
        want = self.dtype
        if arr.dtype != want:
            accepted = _ACCEPTED_KINDS.get(want.kind, want.kind)
            if want.kind == "f" and arr.dtype.kind == "O" and not self.reject_nan:
                arr = self._nulls_as_nan(arr)  # the model handles missing values itself
            elif arr.dtype.kind not in accepted or (
                source == "binary" and not np.can_cast(arr.dtype, want, "same_kind")
            ):
                raise SchemaError(
                    f"field {self.name!r}: expected {self.describe()} values, got {_kind_name(arr)}"
                )
            else:
                arr = self._cast(arr)
        if (
            arr.ndim != 1 + len(self.row_shape)
            or arr.shape[0] != n_rows
            or any(
                d >= 0 and d != got for d, got in zip(self.row_shape, arr.shape[1:], strict=False)
            )
        ):
            got_shape = "x".join(str(d) for d in arr.shape) or "scalar"
            raise SchemaError(
                f"field {self.name!r}: expected shape ({n_rows} rows) x {self.describe()}, got {got_shape}"
            )
        if (self.reject_nan or self.reject_inf) and arr.dtype.kind == "f":
            if self.reject_nan and self.reject_inf:
                bad, what = (
                    ~np.isfinite(arr),
                    "NaN or infinity; the model accepts only finite values",
                )
            elif self.reject_inf:
                bad, what = np.isinf(arr), "infinity; the model accepts only finite values"
            else:
                bad, what = np.isnan(arr), "NaN; the model does not accept missing values"
            if bad.any():
                raise SchemaError(f"field {self.name!r}: contains {what}")
        return arr

    def _cast(self, arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Cast to this field's dtype, refusing values the cast would silently change."""
        want = self.dtype
        if want.kind == "O":
            return arr.astype(object)
        kind = arr.dtype.kind
        if want.kind in "iu" and kind in "iu" and arr.size and not np.can_cast(arr.dtype, want):
            # e.g. 2**63 arrives as uint64, -1 for a uint8 field: astype would wrap around
            info = np.iinfo(want)
            if int(arr.min()) < info.min or int(arr.max()) > info.max:
                raise SchemaError(
                    f"field {self.name!r}: values outside the {want.name} range "
                    f"[{info.min}, {info.max}]"
                )
        if not (want.kind == "f" and kind == "f" and want.itemsize < arr.dtype.itemsize):
            return arr.astype(want, copy=False)
        with np.errstate(over="ignore", invalid="ignore"):  # checked right below instead
            out = arr.astype(want)
        overflow = np.isinf(out)
        if overflow.any() and (overflow & np.isfinite(arr)).any():
            raise SchemaError(f"field {self.name!r}: values outside the {want.name} range")
        return out

    def _nulls_as_nan(self, arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Numbers and JSON nulls (missing values, as NaN) for a model that accepts NaN."""
        for v in arr.flat:
            if v is not None and type(v) not in (int, float):
                raise SchemaError(
                    f"field {self.name!r}: expected {self.describe()} values or null, "
                    f"got {_kind_name(np.asarray([v]))}"
                )
        return arr.astype(self.dtype)


def _kind_name(arr: np.ndarray[Any, Any]) -> str:
    kind = arr.dtype.kind
    if kind == "U" or kind == "S":
        return "strings"
    if kind == "O":
        return "null or mixed values"
    if kind == "b":
        return "booleans"
    if kind in "iu":
        return "integers"
    if kind == "f":
        return "floats"
    return str(arr.dtype.name)


def _row_shape(shape: Any) -> tuple[int, ...]:
    """Per-row shape from a schema shape, whose first dimension is the batch (``None``)."""
    if shape is None:
        return ()
    dims = tuple(shape) if isinstance(shape, Sequence) and not isinstance(shape, str) else (shape,)
    return tuple(-1 if d is None or (isinstance(d, int) and d < 0) else int(d) for d in dims[1:])


class ServedModel:
    """A loaded model package wrapped for the request path.

    Args:
        model: what :func:`labline.load_model` returned.

    The calling convention (``prepare`` then ``predict_prepared`` / ``predict_proba_prepared``)
    and all per-model constants are fixed here, once.
    """

    def __init__(self, model: ServableModel) -> None:
        self.model = model
        self.name: str = model.name
        self.version: int | None = model.version
        self.digest: str = model.digest
        self.version_text: str = "" if model.version is None else str(model.version)
        schema = getattr(model.manifest, "input_schema", None) or ()
        self.fields: tuple[Field, ...] = tuple(
            Field(
                name=f.name,
                dtype=(dt := _as_dtype(f.dtype)),
                row_shape=_row_shape(f.shape),
                v2_datatype=numpy_to_v2(dt),
                reject_nan=bool(getattr(model, "rejects_nan", False)),
                reject_inf=bool(getattr(model, "rejects_inf", False)),
            )
            for f in schema
        )
        if not self.fields:
            raise InvalidArgumentError(f"model {model.name!r} has no input schema; cannot serve it")
        self.field_by_name: Mapping[str, Field] = {f.name: f for f in self.fields}
        self.field_names: frozenset[str] = frozenset(self.field_by_name)
        self.has_proba: bool = bool(model.has_proba)
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
        self.identity_json: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
        }
        self._predict = model.predict_prepared
        self._predict_proba = model.predict_proba_prepared if self.has_proba else None
        self._prepare = model.prepare

    def run(
        self, columns: dict[str, np.ndarray[Any, Any]]
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
        """Run the packaged code on a batch of columns: predictions and (if any) probabilities."""
        prepared = self._prepare(columns)
        predictions = np.asarray(self._predict(prepared))
        proba = None if self._predict_proba is None else np.asarray(self._predict_proba(prepared))
        return predictions, proba

    def outputs_v2(self) -> list[dict[str, Any]]:
        """Output tensor metadata for the Open Inference Protocol."""
        outputs = [{"name": "predictions", "datatype": self.prediction_v2_datatype, "shape": [-1]}]
        if self.has_proba:
            outputs.append(
                {"name": "probabilities", "datatype": "FP64", "shape": [-1, self.n_classes or -1]}
            )
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


def rows_for_shape(shape: Sequence[int]) -> int:
    """Number of elements of a tensor shape."""
    return math.prod(shape)
