"""Content fingerprints of data sets: the same data gives the same fingerprint on any machine.

Supported: numpy arrays (and anything ``numpy.asarray`` takes), pandas DataFrames and Series,
pyarrow Tables, files and folders. The fingerprint covers values, dtypes, shapes and column names,
so a cast or a re-ordering is a different data set.

Tabular data also get ``meta["rows_digest"]``, a digest of the rows as a multiset: the same rows
in another order give the same rows digest. Pairing predictions by example id uses it, so that a
test set shuffled differently by two runs still counts as the same data.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._exceptions import InvalidArgumentError
from ._hashing import iter_files, sha256_file


@dataclass(frozen=True)
class Fingerprint:
    """``digest`` is ``sha256:<hex>``; ``kind`` says how it was computed."""

    digest: str
    kind: str
    n_rows: int | None
    meta: dict[str, Any]


def _update_array(h: Any, arr: np.ndarray[Any, Any]) -> None:
    if arr.dtype.kind == "O" or arr.dtype.kind in "US":
        # Objects and strings: hash each element's text with its length, so ["ab","c"] != ["a","bc"].
        for x in arr.ravel().tolist():
            b = str(x).encode()
            h.update(len(b).to_bytes(8, "little"))
            h.update(b)
        h.update(f"|{arr.dtype.kind}|{arr.shape}".encode())
        return
    a = np.ascontiguousarray(arr)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    h.update(f"{a.dtype.str}|{a.shape}|".encode())
    h.update(a.tobytes() if not a.flags.c_contiguous else a.data.cast("B"))


def _sorted_digest(row_hashes: np.ndarray[Any, Any], header: str) -> str:
    h = hashlib.sha256(f"rows|{header}|".encode())
    h.update(np.ascontiguousarray(np.sort(row_hashes)).tobytes())
    return "sha256:" + h.hexdigest()


def _array_rows_digest(arr: np.ndarray[Any, Any]) -> str | None:
    """Order-free digest of an array's rows (first axis); ``None`` for 0-d arrays."""
    if arr.ndim == 0:
        return None
    header = f"{arr.dtype.str}|{arr.shape[1:]}"
    if arr.dtype.kind in "OUS":
        row_hashes = np.array(
            [hashlib.sha256(repr(np.asarray(row).tolist()).encode()).digest() for row in arr],
            dtype="S32",
        )
        return _sorted_digest(row_hashes, header)
    a = np.ascontiguousarray(arr).reshape(arr.shape[0], -1)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    # each row's bytes as one opaque value: sorting them orders the rows, whatever their order was
    rows = a.view(np.dtype((np.void, a.dtype.itemsize * max(1, a.shape[1])))).ravel()
    return _sorted_digest(rows if a.shape[1] else np.zeros(a.shape[0], "V1"), header)


def _pandas_rows_digest(data: Any) -> str:
    """Order-free digest of a DataFrame's or Series' rows (values only, not the index)."""
    import pandas as pd  # type: ignore[import-untyped]

    row_hashes = pd.util.hash_pandas_object(data, index=False).to_numpy()
    columns = list(map(str, data.columns)) if hasattr(data, "columns") else [str(data.name)]
    dtypes = [str(t) for t in (data.dtypes if hasattr(data, "columns") else [data.dtype])]
    return _sorted_digest(row_hashes, f"{columns}|{dtypes}")


def rows_digest(data: Any) -> str | None:
    """Digest of tabular data's rows regardless of their order, or ``None`` if not tabular.

    Two data sets with the same rows (values, dtypes, columns) in any order get the same rows
    digest. Files and folders have none.
    """
    if isinstance(data, (str, os.PathLike)):
        return None
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        return _pandas_rows_digest(data)
    if module == "pyarrow" and hasattr(data, "to_pandas"):
        try:
            return _pandas_rows_digest(data.to_pandas())
        except ImportError:
            return None
    try:
        return _array_rows_digest(np.asarray(data))
    except Exception:
        return None


def fingerprint_columns(columns: dict[str, Any]) -> str:
    """``sha256:<hex>`` of named 1-D columns (names, dtypes and values), in the given order."""
    h = hashlib.sha256(b"columns|")
    for name, col in columns.items():
        h.update(f"{name}\0".encode())
        _update_array(h, np.asarray(col))
    return "sha256:" + h.hexdigest()


def fingerprint(data: Any) -> Fingerprint:
    """Return the content fingerprint of ``data``.

    Args:
        data: a numpy array or array-like, a pandas DataFrame/Series, a pyarrow Table, or a path
            (``str``/``os.PathLike``) to a file or folder.

    Returns:
        A :class:`Fingerprint`.

    Raises:
        InvalidArgumentError: the path does not exist or the object is not supported.
    """
    h = hashlib.sha256()
    module = type(data).__module__.split(".")[0]
    if isinstance(data, (str, os.PathLike)):
        p = Path(data)
        if p.is_file():
            return Fingerprint(
                "sha256:" + sha256_file(p),
                "file",
                None,
                {"path": p.name, "bytes": p.stat().st_size},
            )
        if p.is_dir():
            files = iter_files(p)
            for rel in files:
                h.update(f"{rel.as_posix()}\0{sha256_file(p / rel)}\n".encode())
            return Fingerprint(
                "sha256:" + h.hexdigest(), "folder", None, {"path": p.name, "files": len(files)}
            )
        raise InvalidArgumentError(f"dataset path {str(data)!r} does not exist")
    if module == "pandas" and hasattr(data, "columns"):
        h.update(b"pandas.DataFrame|")
        for col in data.columns:
            h.update(f"{col}\0{data[col].dtype}\0".encode())
            _update_array(h, data[col].to_numpy())
        _update_array(h, data.index.to_numpy())
        return Fingerprint(
            "sha256:" + h.hexdigest(),
            "dataframe",
            len(data),
            {"columns": [str(c) for c in data.columns], "rows_digest": _pandas_rows_digest(data)},
        )
    if module == "pandas":
        h.update(f"pandas.Series|{data.name}|{data.dtype}|".encode())
        _update_array(h, data.to_numpy())
        _update_array(h, data.index.to_numpy())
        return Fingerprint(
            "sha256:" + h.hexdigest(),
            "series",
            len(data),
            {"rows_digest": _pandas_rows_digest(data)},
        )
    if module == "pyarrow" and hasattr(data, "schema"):
        h.update(b"pyarrow.Table|")
        for name, col in zip(data.column_names, data.columns, strict=True):
            h.update(f"{name}\0{col.type}\0".encode())
            _update_array(h, col.to_numpy(zero_copy_only=False))
        table_meta: dict[str, Any] = {"columns": list(data.column_names)}
        digest = rows_digest(data)
        if digest is not None:
            table_meta["rows_digest"] = digest
        return Fingerprint("sha256:" + h.hexdigest(), "table", data.num_rows, table_meta)
    try:
        arr = np.asarray(data)
    except Exception as e:
        raise InvalidArgumentError(
            f"cannot fingerprint an object of type {type(data).__name__}"
        ) from e
    if arr.dtype.kind == "O" and arr.ndim == 0:
        raise InvalidArgumentError(f"cannot fingerprint an object of type {type(data).__name__}")
    _update_array(h, arr)
    array_meta: dict[str, Any] = {"shape": list(arr.shape), "dtype": str(arr.dtype)}
    digest = _array_rows_digest(arr)
    if digest is not None:
        array_meta["rows_digest"] = digest
    return Fingerprint(
        "sha256:" + h.hexdigest(), "array", int(arr.shape[0]) if arr.ndim else None, array_meta
    )
