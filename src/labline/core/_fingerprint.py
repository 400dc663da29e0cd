"""Content fingerprints of data sets: the same data gives the same fingerprint on any machine.

Supported: numpy arrays (and anything ``numpy.asarray`` takes), pandas DataFrames and Series,
pyarrow Tables, files and folders. The fingerprint covers values, dtypes, shapes and column names,
so a cast or a re-ordering is a different data set.
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
            {"columns": [str(c) for c in data.columns]},
        )
    if module == "pandas":
        h.update(f"pandas.Series|{data.name}|{data.dtype}|".encode())
        _update_array(h, data.to_numpy())
        _update_array(h, data.index.to_numpy())
        return Fingerprint("sha256:" + h.hexdigest(), "series", len(data), {})
    if module == "pyarrow" and hasattr(data, "schema"):
        h.update(b"pyarrow.Table|")
        for name, col in zip(data.column_names, data.columns, strict=True):
            h.update(f"{name}\0{col.type}\0".encode())
            _update_array(h, col.to_numpy(zero_copy_only=False))
        return Fingerprint(
            "sha256:" + h.hexdigest(), "table", data.num_rows, {"columns": list(data.column_names)}
        )
    try:
        arr = np.asarray(data)
    except Exception as e:
        raise InvalidArgumentError(
            f"cannot fingerprint an object of type {type(data).__name__}"
        ) from e
    if arr.dtype.kind == "O" and arr.ndim == 0:
        raise InvalidArgumentError(f"cannot fingerprint an object of type {type(data).__name__}")
    _update_array(h, arr)
    return Fingerprint(
        "sha256:" + h.hexdigest(),
        "array",
        int(arr.shape[0]) if arr.ndim else None,
        {"shape": list(arr.shape), "dtype": str(arr.dtype)},
    )
