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

__all__ = ["FieldSpec", "InputLayout", "infer_input", "prepare_batch"]

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


def _category(dtype: str) -> str:
    if dtype == "str":
        return "str"
    if dtype == "bool":
        return "bool"
    if dtype.startswith(("int", "uint")):
        return "int"
    return "float"


# which value categories a field of a given category accepts (safe casts only)
_ACCEPTS = {
    "float": {"float", "int", "bool"},
    "int": {"int", "bool"},
    "bool": {"bool"},
    "str": {"str"},
}


def _value_category(arr: npt.NDArray[Any]) -> str:
    kind = arr.dtype.kind
    if kind == "b":
        return "bool"
    if kind in "iu":
        return "int"
    if kind == "f":
        return "float"
    if kind in "US":
        return "str"
    if kind == "O":
        values = arr.ravel().tolist()
        if all(isinstance(v, str) for v in values):
            return "str"
        return "mixed objects"
    return f"dtype kind {kind!r}"


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


def _check_column(spec: FieldSpec, values: Any, n_rows: int | None) -> npt.NDArray[Any]:
    arr = _regular_array(values, spec.name)
    if arr.ndim != 1:
        raise SchemaError(
            f"field {spec.name!r}: expected {spec.describe()}, got a {arr.ndim}-D value"
        )
    if n_rows is not None and arr.shape[0] != n_rows:
        raise SchemaError(
            f"field {spec.name!r}: expected {n_rows} rows like the other fields, got {arr.shape[0]}"
        )
    got = _value_category(arr)
    if got not in _ACCEPTS[_category(spec.dtype)]:
        raise SchemaError(f"field {spec.name!r}: expected {spec.describe()}, got {got} values")
    return arr


def _check_tensor(spec: FieldSpec, arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    if arr.ndim != len(spec.shape):
        raise SchemaError(
            f"field {spec.name!r}: expected {spec.describe()}, got a {arr.ndim}-D array"
        )
    for i, (want, got) in enumerate(zip(spec.shape, arr.shape, strict=True)):
        if want is not None and want != got:
            raise SchemaError(
                f"field {spec.name!r}: expected {spec.describe()}, got size {got} in dimension {i}"
            )
    _require_rows(int(arr.shape[0]))
    cat = _value_category(arr)
    if cat not in _ACCEPTS[_category(spec.dtype)]:
        raise SchemaError(f"field {spec.name!r}: expected {spec.describe()}, got {cat} values")
    if spec.dtype == "str":
        return arr
    return arr.astype(spec.dtype, copy=False)


def _columns_from_batch(batch: Any, schema: tuple[FieldSpec, ...]) -> dict[str, npt.NDArray[Any]]:
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
    for spec in schema:
        if spec.name not in raw:
            raise SchemaError(f"missing field {spec.name!r} (expected {spec.describe()})")
        col = _check_column(spec, raw[spec.name], n_rows)
        n_rows = int(col.shape[0])
        out[spec.name] = col
    _require_rows(n_rows or 0)
    return out


def _tensor_from_batch(batch: Any, spec: FieldSpec) -> npt.NDArray[Any]:
    arr = _as_array(batch)
    if arr is None:
        if isinstance(batch, Mapping):
            if spec.name not in batch:
                raise SchemaError(f"missing field {spec.name!r} (expected {spec.describe()})")
            arr = _regular_array(batch[spec.name], spec.name)
        elif isinstance(batch, list | tuple) and batch and not isinstance(batch[0], Mapping):
            arr = _regular_array(batch, spec.name)
        else:
            raise SchemaError(
                f"field {spec.name!r}: expected {spec.describe()}, got {type(batch).__name__}"
            )
    return _check_tensor(spec, arr)


def _stack(
    columns: Mapping[str, npt.NDArray[Any]], schema: tuple[FieldSpec, ...]
) -> npt.NDArray[Any]:
    if any(f.dtype == "str" for f in schema):
        return np.column_stack([columns[f.name].astype(object) for f in schema])
    return np.column_stack([columns[f.name].astype(np.float64, copy=False) for f in schema])


def prepare_batch(
    batch: Any, schema: tuple[FieldSpec, ...], layout: str, *, as_matrix: bool
) -> Any:
    """Check ``batch`` against ``schema`` once and return its prepared form.

    Args:
        batch: a 2-D array, a dict of columns or a list of records.
        schema: the model's input schema.
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
    if len(schema) == 1 and layout == InputLayout.NDARRAY:
        return _tensor_from_batch(batch, schema[0])
    cols = _columns_from_batch(batch, schema)
    if as_matrix or layout == InputLayout.NDARRAY:
        return _stack(cols, schema)
    if layout == InputLayout.COLUMNS:
        return cols
    n = next(iter(cols.values())).shape[0]
    lists = {k: v.tolist() for k, v in cols.items()}
    return [{k: lists[k][i] for k in lists} for i in range(n)]
