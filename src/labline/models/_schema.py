"""Input schemas of model packages: inference from an example, validation of a batch.

Three batch layouts are accepted everywhere a model takes input:

* a 2-D numpy array (or anything ``numpy.asarray`` turns into one, e.g. a list of rows),
* a dict of columns, ``{"col": [v0, v1, ...], ...}`` (no pandas needed),
* a list of records, ``[{"col": v0, ...}, ...]``.

A schema is a tuple of :class:`FieldSpec`. Inferred from a 2-D array it is one tensor field
``FieldSpec("input", dtype, (None, n_features))``; inferred from columns or records it is one
field per column with shape ``(None,)``.

The *prepared* form of a batch (what :meth:`LoadedModel.prepare` returns and
``predict_prepared`` takes) is decided once, when the package is loaded:

* scikit-learn and PyTorch models: a 2-D numpy array, columns in schema order, of the tensor
  field's dtype (tensor schemas) or float64 (column schemas; ``object`` if a column holds
  strings);
* plain Python models: the batch converted to the layout of the example the model was logged
  with (a 2-D array, a dict of 1-D arrays, or a list of dicts), or the object itself when the
  example was none of those (then no schema is recorded and nothing is checked).

Error messages name the field and the expected type, never the values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .._exceptions import SchemaError
from ..core._json import holds_bool

__all__ = [
    "FieldSpec",
    "InputField",
    "InputLayout",
    "assemble_batch",
    "batch_columns",
    "check_columns",
    "infer_input",
    "input_fields",
    "prepare_batch",
]

TENSOR_FIELD = "input"


class InputLayout:
    """How the example batch was laid out; the prepared form of plain Python models follows it."""

    NDARRAY = "ndarray"
    COLUMNS = "columns"
    RECORDS = "records"
    OBJECT = "object"


@dataclass(frozen=True)
class FieldSpec:
    """One input or output field: its name, dtype (numpy name or ``"str"``) and shape.

    ``None`` in the shape is a dimension of any size (the batch dimension).
    """

    name: str
    dtype: str
    shape: tuple[int | None, ...]

    def describe(self) -> str:
        """Return ``"float64 with shape (None, 4)"``, used in error messages."""
        dims = ", ".join("None" if d is None else str(d) for d in self.shape)
        if len(self.shape) == 1:
            dims += ","
        return f"{self.dtype} with shape ({dims})"

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form used in manifests."""
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> FieldSpec:
        """Inverse of :meth:`to_json`."""
        return cls(str(obj["name"]), str(obj["dtype"]), tuple(obj["shape"]))


def _dtype_name(arr: npt.NDArray[Any]) -> str:
    kind = arr.dtype.kind
    if kind in "US":
        return "str"
    if kind == "O":
        if all(isinstance(v, str) for v in arr.ravel().tolist()):
            return "str"
        raise SchemaError("cannot infer a dtype for a column of mixed Python objects")
    if kind in "biuf":
        return arr.dtype.name
    raise SchemaError(f"unsupported input dtype kind {kind!r}")


_KIND_NAMES = {"b": "bool", "i": "int", "u": "int", "f": "float", "U": "str", "S": "str"}


def _value_category(arr: npt.NDArray[Any]) -> str:
    """What the values of ``arr`` are, in words used by error messages (never the values)."""
    kind = arr.dtype.kind
    if kind in _KIND_NAMES:
        return _KIND_NAMES[kind]
    if kind == "O":
        values = arr.ravel().tolist()
        if all(isinstance(v, str) for v in values):
            return "str"
        if any(v is None for v in values):
            return "null"
        return "mixed objects"
    return f"dtype kind {kind!r}"


def _numpy_dtype(dtype: str) -> np.dtype[Any]:
    return np.dtype(object) if dtype == "str" else np.dtype(dtype)


@dataclass(frozen=True)
class InputField:
    """A :class:`FieldSpec` resolved for checking batches: the one input-checking rule set.

    :meth:`LoadedModel.predict <labline.LoadedModel.predict>` and the model server both turn
    each field's values into an array through :meth:`check`, so a value is accepted or refused
    (with the same message) whichever way it arrives.

    The rules: a float field takes floats and integers (``None`` as NaN when the model accepts
    NaN); an int field takes integers inside its dtype's range; a bool field takes booleans; a
    str field takes strings. Booleans are not numbers, strings are never parsed, and a cast
    that would change a value (integer wrap-around, float overflow) is refused.

    Attributes:
        spec: the field as recorded in the manifest.
        dtype: its numpy dtype (``object`` for strings).
        reject_nan: refuse NaN (the model's own code does; decided at load).
        reject_inf: refuse infinities (likewise).
    """

    spec: FieldSpec
    dtype: np.dtype[Any]
    reject_nan: bool = False
    reject_inf: bool = False

    @classmethod
    def from_spec(
        cls, spec: FieldSpec, *, reject_nan: bool = False, reject_inf: bool = False
    ) -> InputField:
        """Resolve ``spec``'s dtype once.

        Raises:
            SchemaError: the recorded dtype is not a numpy dtype name or ``"str"``.
        """
        try:
            dtype = _numpy_dtype(spec.dtype)
        except TypeError:
            raise SchemaError(f"field {spec.name!r}: unknown dtype {spec.dtype[:32]!r}") from None
        return cls(spec, dtype, reject_nan, reject_inf)

    @property
    def name(self) -> str:
        """The field's name."""
        return self.spec.name

    def describe(self) -> str:
        """Return ``"float64 with shape (None, 4)"``, used in error messages."""
        return self.spec.describe()

    def check(self, values: Any, n_rows: int | None = None) -> npt.NDArray[Any]:
        """Check ``values`` against this field and return them as an array of its dtype.

        Args:
            values: an array, a torch tensor, or (nested) lists as decoded from JSON; the
                first dimension is the batch.
            n_rows: the number of rows the other fields have, if known.

        Returns:
            An array of :attr:`dtype` (strings as ``object``) with the field's shape.

        Raises:
            SchemaError: wrong kind of value, a value the dtype cannot hold, wrong shape, a
                different number of rows, no rows, or a non-finite value the model refuses.
                The message names the field and never quotes the values.
        """
        arr = _as_array(values)
        if arr is None:
            arr = _regular_array(values, self.name)
            if arr.dtype.kind in "iuf" and self.dtype.kind != "b" and holds_bool(values):
                # numpy turns [True, 0.5] into floats; a boolean is not a number here
                raise SchemaError(
                    f"field {self.name!r}: expected {self.describe()}, got bool values"
                )
        shape = self.spec.shape
        if arr.ndim != len(shape):
            raise SchemaError(
                f"field {self.name!r}: expected {self.describe()}, got a {arr.ndim}-D array"
            )
        for i, (want, got) in enumerate(zip(shape, arr.shape, strict=True)):
            if want is not None and want != got:
                raise SchemaError(
                    f"field {self.name!r}: expected {self.describe()}, "
                    f"got size {got} in dimension {i}"
                )
        if n_rows is not None and arr.shape[0] != n_rows:
            raise SchemaError(
                f"field {self.name!r}: expected {n_rows} rows like the other fields, "
                f"got {arr.shape[0]}"
            )
        _require_rows(int(arr.shape[0]))
        arr = self._convert(arr)
        if (self.reject_nan or self.reject_inf) and arr.dtype.kind == "f":
            self._check_finite(arr)
        return arr

    def _refuse(self, arr: npt.NDArray[Any]) -> SchemaError:
        return SchemaError(
            f"field {self.name!r}: expected {self.describe()}, got {_value_category(arr)} values"
        )

    def _convert(self, arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
        want = self.dtype
        kind = arr.dtype.kind
        if want.kind == "O":  # strings
            if kind in "US" or (kind == "O" and _value_category(arr) == "str"):
                return arr.astype(object, copy=False)
            raise self._refuse(arr)
        if kind == "O" and want.kind == "f":
            return self._numbers_or_nulls(arr)
        if want.kind == "b":
            if kind != "b":
                raise self._refuse(arr)
            return arr
        if kind not in "iuf" or (want.kind in "iu" and kind == "f"):
            raise self._refuse(arr)
        if arr.dtype == want:
            return arr
        if want.kind in "iu" and arr.size and not np.can_cast(arr.dtype, want):
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

    def _numbers_or_nulls(self, arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Python numbers, and ``None`` as NaN (a missing value) when the model takes NaN."""
        nulls = False
        for v in arr.flat:
            if v is None:
                nulls = True
            elif type(v) not in (int, float):  # bool is not a number here
                raise self._refuse(arr)
        if nulls and self.reject_nan:
            raise SchemaError(
                f"field {self.name!r}: contains null; the model does not accept missing values"
            )
        try:
            return arr.astype(self.dtype)
        except OverflowError:
            raise SchemaError(
                f"field {self.name!r}: values outside the {self.dtype.name} range"
            ) from None

    def _check_finite(self, arr: npt.NDArray[Any]) -> None:
        if np.isfinite(arr).all():
            return
        if self.reject_nan and self.reject_inf:
            bad, what = ~np.isfinite(arr), "NaN or infinity; the model accepts only finite values"
        elif self.reject_inf:
            bad, what = np.isinf(arr), "infinity; the model accepts only finite values"
        else:
            bad, what = np.isnan(arr), "NaN; the model does not accept missing values"
        if bad.any():
            raise SchemaError(f"field {self.name!r}: contains {what}")


def input_fields(
    schema: Sequence[FieldSpec], *, reject_nan: bool = False, reject_inf: bool = False
) -> tuple[InputField, ...]:
    """Resolve every field of ``schema`` (see :class:`InputField`)."""
    return tuple(
        InputField.from_spec(f, reject_nan=reject_nan, reject_inf=reject_inf) for f in schema
    )


def _as_array(batch: Any) -> npt.NDArray[Any] | None:
    """Return ``batch`` as an array if it is array-like (numpy, torch tensor, list of rows)."""
    if isinstance(batch, np.ndarray):
        return batch
    if hasattr(batch, "detach") and hasattr(batch, "numpy"):  # a torch tensor
        return np.asarray(batch.detach().cpu().numpy())
    return None


def _regular_array(values: Any, field: str) -> npt.NDArray[Any]:
    """``np.asarray(values)``, with ragged or unconvertible input as a :class:`SchemaError`."""
    try:
        return np.asarray(values)
    except (ValueError, TypeError, OverflowError):
        raise SchemaError(
            f"field {field!r}: values do not form a regular array (rows of unequal length?)"
        ) from None


def _require_rows(n_rows: int) -> None:
    if n_rows == 0:
        raise SchemaError("the batch is empty: at least one row is expected")


def _records_to_columns(
    records: Sequence[Mapping[str, Any]], names: Sequence[str]
) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {n: [] for n in names}
    for i, rec in enumerate(records):
        if not isinstance(rec, Mapping):
            raise SchemaError(
                f"record {i} is a {type(rec).__name__}, expected a mapping of field to value"
            )
        for n in names:
            try:
                columns[n].append(rec[n])
            except KeyError:
                raise SchemaError(f"record {i} is missing field {n!r}") from None
    return columns


def _is_records(batch: Any) -> bool:
    return (
        isinstance(batch, Sequence)
        and not isinstance(batch, str | bytes)
        and (len(batch) > 0 and isinstance(batch[0], Mapping))
    )


def infer_input(example: Any) -> tuple[str, tuple[FieldSpec, ...]]:
    """Infer the input layout and schema of a model from an example batch.

    Args:
        example: a 2-D array, a dict of columns, a list of records, or (plain Python models
            only) any other object, for which no schema is recorded.

    Returns:
        ``(layout, schema)``: one of the :class:`InputLayout` values and the field specs.

    Raises:
        SchemaError: the example is empty or a column cannot be typed.
    """
    arr = _as_array(example)
    if arr is not None:
        if arr.ndim != 2:
            raise SchemaError(
                f"an array input example must be 2-D (rows, features), got {arr.ndim}-D"
            )
        return InputLayout.NDARRAY, (
            FieldSpec(TENSOR_FIELD, _dtype_name(arr), (None, int(arr.shape[1]))),
        )
    if isinstance(example, Mapping):
        if not example:
            raise SchemaError("the input example has no columns")
        fields = []
        for name, col in example.items():
            carr = np.asarray(col)
            if carr.ndim != 1:
                raise SchemaError(f"field {str(name)!r}: a column must be 1-D, got {carr.ndim}-D")
            fields.append(FieldSpec(str(name), _dtype_name(carr), (None,)))
        return InputLayout.COLUMNS, tuple(fields)
    if _is_records(example):
        names = [str(k) for k in example[0]]
        cols = _records_to_columns(example, names)
        return InputLayout.RECORDS, tuple(
            FieldSpec(n, _dtype_name(np.asarray(cols[n])), (None,)) for n in names
        )
    if isinstance(example, list | tuple) and example and isinstance(example[0], list | tuple):
        return infer_input(np.asarray(example))
    return InputLayout.OBJECT, ()


def _columns_from_batch(batch: Any, fields: tuple[InputField, ...]) -> dict[str, npt.NDArray[Any]]:
    schema = [f.spec for f in fields]
    names = [f.name for f in schema]
    arr = _as_array(batch)
    if (
        arr is None
        and isinstance(batch, list | tuple)
        and batch
        and isinstance(batch[0], list | tuple)
    ):
        arr = _regular_array(batch, "batch")
    if arr is not None:  # positional columns
        if arr.ndim != 2 or arr.shape[1] != len(schema):
            raise SchemaError(
                f"an array batch must be 2-D with {len(schema)} columns ({', '.join(names)}), "
                f"got shape {tuple(arr.shape)}"
            )
        raw: Mapping[str, Any] = {n: arr[:, i] for i, n in enumerate(names)}
    elif isinstance(batch, Mapping):
        raw = batch
    elif _is_records(batch):
        raw = _records_to_columns(batch, names)
    elif isinstance(batch, list | tuple) and len(batch) == 0:
        raise SchemaError("the batch is empty")
    else:
        raise SchemaError(
            f"a batch must be a 2-D array, a dict of columns or a list of records, got {type(batch).__name__}"
        )
    out: dict[str, npt.NDArray[Any]] = {}
    n_rows: int | None = None
    for field in fields:
        if field.name not in raw:
            raise SchemaError(f"missing field {field.name!r} (expected {field.describe()})")
        col = field.check(raw[field.name], n_rows)
        n_rows = int(col.shape[0])
        out[field.name] = col
    return out


def _tensor_from_batch(batch: Any, field: InputField) -> npt.NDArray[Any]:
    arr = _as_array(batch)
    if arr is None:
        if isinstance(batch, Mapping):
            if field.name not in batch:
                raise SchemaError(f"missing field {field.name!r} (expected {field.describe()})")
            return field.check(batch[field.name])
        if not (isinstance(batch, list | tuple) and batch and not isinstance(batch[0], Mapping)):
            raise SchemaError(
                f"field {field.name!r}: expected {field.describe()}, got {type(batch).__name__}"
            )
    return field.check(batch)


def _stack(
    columns: Mapping[str, npt.NDArray[Any]], fields: tuple[InputField, ...]
) -> npt.NDArray[Any]:
    if any(f.dtype.kind == "O" for f in fields):
        return np.column_stack([columns[f.name].astype(object) for f in fields])
    return np.column_stack([columns[f.name].astype(np.float64, copy=False) for f in fields])


def _resolved(schema: Sequence[FieldSpec] | Sequence[InputField]) -> tuple[InputField, ...]:
    return tuple(f if isinstance(f, InputField) else InputField.from_spec(f) for f in schema)


def check_columns(
    columns: Mapping[str, Any], schema: Sequence[FieldSpec] | Sequence[InputField]
) -> dict[str, npt.NDArray[Any]]:
    """Check a dict of columns (one entry per field) and return the checked arrays.

    This is what :func:`prepare_batch` does to a dict of columns; the model server calls it on
    the columns it decoded from the wire, then :func:`assemble_batch`.

    Raises:
        SchemaError: a field is missing, unknown, or its values do not pass
            :meth:`InputField.check`.
    """
    fields = _resolved(schema)
    known = {f.name for f in fields}
    unknown = sorted(str(k) for k in columns if k not in known)
    if unknown:
        raise SchemaError(f"unknown field {unknown[0][:64]!r} (the model expects {sorted(known)})")
    return _columns_from_batch(columns, fields)


def assemble_batch(
    columns: Mapping[str, npt.NDArray[Any]],
    schema: Sequence[FieldSpec] | Sequence[InputField],
    layout: str,
    *,
    as_matrix: bool,
) -> Any:
    """The prepared form of already checked columns (see the module docstring).

    Args:
        columns: one checked array per field (from :func:`check_columns` or
            :meth:`InputField.check`, possibly several batches concatenated).
        schema: the model's input schema.
        layout: the layout of the logged example (an :class:`InputLayout` value).
        as_matrix: return a 2-D array (scikit-learn, PyTorch).

    Returns:
        The prepared batch.
    """
    fields = _resolved(schema)
    if len(fields) == 1 and layout == InputLayout.NDARRAY:
        return columns[fields[0].name]
    if as_matrix or layout == InputLayout.NDARRAY:
        return _stack(columns, fields)
    if layout == InputLayout.COLUMNS:
        return dict(columns)
    names = [f.name for f in fields]
    n = columns[names[0]].shape[0]
    lists = {k: columns[k].tolist() for k in names}
    return [{k: lists[k][i] for k in names} for i in range(n)]


def batch_columns(
    batch: Any, schema: Sequence[FieldSpec] | Sequence[InputField], layout: str
) -> dict[str, npt.NDArray[Any]] | None:
    """Check ``batch`` and return one array per input field (what the model server decodes).

    Returns:
        The checked columns, or None for a model without an input schema.

    Raises:
        SchemaError: a field is missing, has the wrong dtype or the wrong shape.
    """
    if layout == InputLayout.OBJECT or not schema:
        return None
    fields = _resolved(schema)
    if len(fields) == 1 and layout == InputLayout.NDARRAY:
        return {fields[0].name: _tensor_from_batch(batch, fields[0])}
    return _columns_from_batch(batch, fields)


def prepare_batch(
    batch: Any,
    schema: Sequence[FieldSpec] | Sequence[InputField],
    layout: str,
    *,
    as_matrix: bool,
) -> Any:
    """Check ``batch`` against ``schema`` once and return its prepared form.

    Args:
        batch: a 2-D array, a dict of columns or a list of records.
        schema: the model's input schema (:class:`InputField` s carry the model's non-finite
            policy; plain :class:`FieldSpec` s check types and shapes only).
        layout: the layout of the logged example (an :class:`InputLayout` value).
        as_matrix: return a 2-D array (scikit-learn, PyTorch); otherwise return the batch in
            the example's layout (plain Python models).

    Returns:
        The prepared batch (see the module docstring).

    Raises:
        SchemaError: a field is missing, has the wrong dtype or the wrong shape.
    """
    if layout == InputLayout.OBJECT or not schema:
        return batch
    fields = _resolved(schema)
    if len(fields) == 1 and layout == InputLayout.NDARRAY:
        return _tensor_from_batch(batch, fields[0])
    return assemble_batch(_columns_from_batch(batch, fields), fields, layout, as_matrix=as_matrix)
