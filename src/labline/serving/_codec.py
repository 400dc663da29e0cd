"""Request decoding and response encoding for ``/predict`` and the Open Inference Protocol.

Every problem with a request becomes a :class:`RequestError` (an HTTP 4xx) whose message names
the field or tensor at fault and never quotes the payload.
"""

from __future__ import annotations

import math
import struct
import zlib
from typing import Any

import numpy as np

from .._exceptions import SchemaError
from .._imports import import_optional
from ._model import ServedModel, numpy_to_v2, v2_to_numpy

__all__ = [
    "RequestError",
    "decode_json",
    "decode_v2_request",
    "encode_predict",
    "encode_v2_response",
    "inflate",
    "parse_predict",
]

orjson = import_optional("orjson", "serve")
_NUMPY = orjson.OPT_SERIALIZE_NUMPY


class RequestError(Exception):
    """A client error; ``status`` is the HTTP status, ``message`` is safe to return and log."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def decode_json(body: bytes, content_type: str | None = None) -> Any:
    """Parse a JSON body.

    Raises:
        RequestError: 400 naming the position when the body is not JSON, or 415 naming the
            declared ``content_type`` when that is not a JSON media type either. A JSON body
            is accepted whatever its declared type (``curl -d`` says form-urlencoded).
    """
    if not body:
        raise RequestError(400, "request body is empty; expected JSON")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        where = f"line {e.lineno}, column {e.colno}"
        media = (content_type or "").split(";", 1)[0].strip().lower()
        if media and media != "application/json" and not media.endswith("+json"):
            raise RequestError(
                415,
                f"request body is not JSON ({where}) and its Content-Type is "
                f"{media[:64]!r}; send application/json",
            ) from None
        raise RequestError(400, f"request body is not valid JSON ({where})") from None


def inflate(body: bytes, encoding: str, limit: int) -> bytes:
    """Decompress a gzip/deflate request body, refusing to grow past ``limit`` bytes."""
    enc = encoding.strip().lower()
    if enc in ("", "identity"):
        return body
    if enc == "gzip":
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif enc == "deflate":
        d = zlib.decompressobj()
    else:
        raise RequestError(415, f"unsupported Content-Encoding {enc[:20]!r}; use gzip or deflate")
    try:
        out = d.decompress(body, limit + 1)
    except zlib.error:
        raise RequestError(400, f"request body is not valid {enc} data") from None
    if len(out) > limit or d.unconsumed_tail:
        raise RequestError(
            413, f"request body exceeds the limit of {limit} bytes once decompressed"
        )
    return out


# --------------------------------------------------------------------------------- /predict


def parse_predict(model: ServedModel, doc: Any) -> tuple[dict[str, np.ndarray[Any, Any]], int]:
    """Turn a ``/predict`` document into validated columns.

    Accepted shapes: a list of records (objects), ``{"records": [...]}`` or
    ``{"columns": {"field": [one value per row], ...}}``.
    """
    if isinstance(doc, list):
        return _from_records(model, doc)
    if isinstance(doc, dict):
        if "records" in doc:
            records = doc["records"]
            if not isinstance(records, list):
                raise RequestError(400, "'records' must be a list of objects, one per row")
            return _from_records(model, records)
        if "columns" in doc:
            cols = doc["columns"]
            if not isinstance(cols, dict):
                raise RequestError(400, "'columns' must be an object mapping field names to lists")
            return _from_columns(model, cols)
    raise RequestError(
        400,
        'expected a JSON list of records, {"records": [...]} or {"columns": {...}}',
    )


def _check_names(model: ServedModel, names: Any, where: str) -> None:
    missing = [f.name for f in model.fields if f.name not in names]
    if missing:
        raise RequestError(400, f"{where}: missing field {missing[0]!r}")
    extra = sorted(str(k) for k in names if k not in model.field_by_name)
    if extra:
        raise RequestError(
            400,
            f"{where}: unknown field {extra[0][:64]!r} (the model expects {sorted(model.field_by_name)})",
        )


def _from_records(
    model: ServedModel, records: list[Any]
) -> tuple[dict[str, np.ndarray[Any, Any]], int]:
    n = len(records)
    if n == 0:
        raise RequestError(400, "no records to predict")
    n_fields = len(model.fields)
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise RequestError(400, f"record {i} is not a JSON object")
        if len(rec) != n_fields:
            _check_names(model, rec, f"record {i}")
    columns: dict[str, np.ndarray[Any, Any]] = {}
    for f in model.fields:
        try:
            values = [rec[f.name] for rec in records]
        except KeyError:
            i = next(i for i, rec in enumerate(records) if f.name not in rec)
            _check_names(model, records[i], f"record {i}")
            raise  # pragma: no cover - _check_names raised
        columns[f.name] = _column(f, values, n)
    return columns, n


def _from_columns(
    model: ServedModel, cols: dict[str, Any]
) -> tuple[dict[str, np.ndarray[Any, Any]], int]:
    _check_names(model, cols, "columns")
    n = -1
    for f in model.fields:
        values = cols[f.name]
        if not isinstance(values, list):
            raise RequestError(400, f"column {f.name!r} must be a list with one value per row")
        if n < 0:
            n = len(values)
        elif len(values) != n:
            raise RequestError(
                400, f"column {f.name!r} has {len(values)} rows; other columns have {n}"
            )
    if n == 0:
        raise RequestError(400, "no rows to predict")
    return {f.name: _column(f, cols[f.name], n) for f in model.fields}, n


def _column(f: Any, values: Any, n: int) -> np.ndarray[Any, Any]:
    try:
        return f.column_from_json(values, n)  # type: ignore[no-any-return]
    except SchemaError as e:
        raise RequestError(400, e.message) from None


def encode_predict(result: Any) -> bytes:
    """The ``/predict`` response body for one request's :class:`BatchResult`."""
    model: ServedModel = result.model
    predictions = result.predictions
    doc: dict[str, Any] = {
        "model": model.identity_json,
        "predictions": predictions if predictions.dtype.kind in "biuf" else predictions.tolist(),
    }
    if result.proba is not None:
        doc["probabilities"] = result.proba
        doc["classes"] = model.classes_json
    body: bytes
    try:
        body = orjson.dumps(doc, option=_NUMPY)
    except TypeError:  # orjson.JSONEncodeError: non-contiguous or exotic arrays
        doc["predictions"] = np.asarray(predictions).tolist()
        if result.proba is not None:
            doc["probabilities"] = np.asarray(result.proba).tolist()
        body = orjson.dumps(doc)
    return body


# ------------------------------------------------------------------ Open Inference Protocol


def decode_v2_request(
    model: ServedModel, body: bytes, header_length: str | None, content_type: str | None = None
) -> tuple[dict[str, Any], dict[str, np.ndarray[Any, Any]], int]:
    """Decode a V2 ``infer`` request (JSON or the binary-data extension).

    ``content_type`` is the declared Content-Type, named in the error when the body is not JSON.

    Returns:
        (the JSON header document, validated columns, number of rows)
    """
    if header_length is not None:
        try:
            hlen = int(header_length)
        except ValueError:
            raise RequestError(400, "Inference-Header-Content-Length is not an integer") from None
        if hlen < 0 or hlen > len(body):
            raise RequestError(400, "Inference-Header-Content-Length exceeds the request body")
        doc = decode_json(body[:hlen])
        binary = memoryview(body)[hlen:]
    else:
        doc = decode_json(body, content_type)
        binary = memoryview(b"")
    if not isinstance(doc, dict):
        raise RequestError(400, "inference request must be a JSON object")
    if not isinstance(doc.get("id", ""), str):
        raise RequestError(400, "inference request 'id' must be a string")
    inputs = doc.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise RequestError(400, "inference request needs a non-empty 'inputs' list")
    columns: dict[str, np.ndarray[Any, Any]] = {}
    offset = 0
    n_rows = -1
    for i, tensor in enumerate(inputs):
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise RequestError(400, f"inputs[{i}] must be an object with a 'name'")
        name = tensor["name"]
        field = model.field_by_name.get(name)
        if field is None:
            raise RequestError(
                400,
                f"unknown input tensor {name[:64]!r} (the model expects {sorted(model.field_by_name)})",
            )
        if name in columns:
            raise RequestError(400, f"input tensor {name!r} is given twice")
        shape = tensor.get("shape")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise RequestError(
                400, f"input {name!r}: 'shape' must be a list of non-negative integers"
            )
        datatype = tensor.get("datatype")
        dtype = v2_to_numpy(datatype) if isinstance(datatype, str) else None
        if dtype is None:
            raise RequestError(
                400, f"input {name!r}: unknown datatype; expected {field.v2_datatype}"
            )
        if dtype != field.dtype and not (
            np.can_cast(dtype, field.dtype, "same_kind")
            or (dtype.kind == "O" and field.dtype.kind == "O")
        ):
            raise RequestError(
                400, f"input {name!r}: datatype {datatype} given; expected {field.v2_datatype}"
            )
        count = math.prod(shape)  # Python ints: no overflow on absurd shapes
        params = tensor.get("parameters") or {}
        if not isinstance(params, dict):
            raise RequestError(400, f"input {name!r}: 'parameters' must be an object")
        size = params.get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or size < 0 or offset + size > len(binary):
                raise RequestError(400, f"input {name!r}: binary_data_size exceeds the binary data")
            chunk = binary[offset : offset + size]
            offset += size
            arr = _from_binary(name, chunk, dtype, count)
            source = "binary"
        elif "data" in tensor:
            arr = _from_v2_json(name, tensor["data"], dtype, count)
            source = "JSON"
        else:
            raise RequestError(400, f"input {name!r}: needs 'data' or parameters.binary_data_size")
        if len(shape) != 1 + len(field.row_shape):
            raise RequestError(
                400,
                f"input {name!r}: shape has {len(shape)} dimensions; expected {[-1, *field.row_shape]}",
            )
        arr = arr.reshape(shape)
        if n_rows < 0:
            n_rows = shape[0]
        elif shape[0] != n_rows:
            raise RequestError(400, f"input {name!r}: {shape[0]} rows; other inputs have {n_rows}")
        try:
            columns[name] = field.check_array(arr, n_rows, source=source)
        except SchemaError as e:
            if source == "binary" or arr.dtype != field.dtype:
                raise RequestError(
                    400, f"input {name!r}: datatype {datatype} or shape does not match; {e.message}"
                ) from None
            raise RequestError(400, e.message) from None
    missing = [f.name for f in model.fields if f.name not in columns]
    if missing:
        raise RequestError(400, f"missing input tensor {missing[0]!r}")
    if offset != len(binary):
        raise RequestError(400, "binary data is longer than the sizes the inputs declare")
    if n_rows == 0:
        raise RequestError(400, "no rows to predict")
    return doc, columns, n_rows


def _from_binary(
    name: str, chunk: memoryview, dtype: np.dtype[Any], count: int
) -> np.ndarray[Any, Any]:
    if dtype.kind == "O":
        items: list[str] = []
        raw = bytes(chunk)
        pos = 0
        while pos < len(raw):
            if pos + 4 > len(raw):
                raise RequestError(400, f"input {name!r}: truncated BYTES element")
            (ln,) = struct.unpack_from("<I", raw, pos)
            pos += 4
            if pos + ln > len(raw):
                raise RequestError(400, f"input {name!r}: truncated BYTES element")
            try:
                items.append(raw[pos : pos + ln].decode("utf-8"))
            except UnicodeDecodeError:
                raise RequestError(
                    400, f"input {name!r}: BYTES element is not UTF-8 text"
                ) from None
            pos += ln
        if len(items) != count:
            raise RequestError(400, f"input {name!r}: {len(items)} elements; shape needs {count}")
        return np.array(items, dtype=object)
    if len(chunk) != count * dtype.itemsize:
        raise RequestError(
            400, f"input {name!r}: binary_data_size {len(chunk)} does not match shape and datatype"
        )
    return np.frombuffer(chunk, dtype=dtype.newbyteorder("<"), count=count)


def _from_v2_json(name: str, data: Any, dtype: np.dtype[Any], count: int) -> np.ndarray[Any, Any]:
    if not isinstance(data, list):
        data = [data]
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError):
        raise RequestError(400, f"input {name!r}: 'data' is ragged") from None
    if arr.size != count:
        raise RequestError(
            400, f"input {name!r}: 'data' has {arr.size} elements; shape needs {count}"
        )
    return arr.reshape(-1)


def _tensor(
    name: str, arr: np.ndarray[Any, Any], datatype: str, binary: bool, chunks: list[bytes]
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(arr.shape)}
    if binary:
        if datatype == "BYTES":
            raw = b"".join(
                struct.pack("<I", len(b)) + b
                for b in (str(x).encode("utf-8") for x in arr.reshape(-1))
            )
        else:
            raw = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
        chunks.append(raw)
        out["parameters"] = {"binary_data_size": len(raw)}
    else:
        out["data"] = arr.reshape(-1).tolist() if datatype == "BYTES" else arr.reshape(-1)
    return out


_OUTPUT_NAMES = ("predictions", "probabilities")


def _flag(params: dict[str, Any], key: str, default: bool, where: str) -> bool:
    value = params.get(key, default)
    if not isinstance(value, bool):
        raise RequestError(400, f"{where}: {key!r} must be true or false")
    return value


def encode_v2_response(doc: dict[str, Any], result: Any) -> tuple[bytes, int | None]:
    """The V2 ``infer`` response: (body, JSON header length when binary outputs follow)."""
    model: ServedModel = result.model
    params = doc.get("parameters") or {}
    if not isinstance(params, dict):
        raise RequestError(400, "inference request 'parameters' must be an object")
    default_binary = _flag(params, "binary_data_output", False, "parameters")
    available: dict[str, tuple[np.ndarray[Any, Any], str]] = {}
    preds = result.predictions
    if model.prediction_dtype.kind == "O" or preds.dtype.kind in "USO":
        available["predictions"] = (np.asarray(preds, dtype=object), "BYTES")
    else:
        p = preds.astype(model.prediction_dtype, copy=False)
        available["predictions"] = (p, numpy_to_v2(p.dtype))
    if result.proba is not None:
        available["probabilities"] = (np.asarray(result.proba, dtype=np.float64), "FP64")
    requested = doc.get("outputs")
    wanted: list[tuple[str, bool]] = []
    if requested is None:
        wanted = [(name, default_binary) for name in _OUTPUT_NAMES if name in available]
    else:
        if not isinstance(requested, list):
            raise RequestError(400, "'outputs' must be a list")
        for i, out in enumerate(requested):
            if not isinstance(out, dict) or not isinstance(out.get("name"), str):
                raise RequestError(400, f"outputs[{i}] must be an object with a 'name'")
            oparams = out.get("parameters") or {}
            if not isinstance(oparams, dict):
                raise RequestError(400, f"outputs[{i}]: 'parameters' must be an object")
            if oparams.get("classification"):
                raise RequestError(400, "the classification extension is not supported")
            if out["name"] not in available:
                raise RequestError(
                    400, f"unknown output {out['name'][:64]!r} (available: {sorted(available)})"
                )
            if any(out["name"] == name for name, _ in wanted):
                raise RequestError(400, f"output {out['name']!r} is requested twice")
            binary = _flag(oparams, "binary_data", default_binary, f"outputs[{i}].parameters")
            wanted.append((out["name"], binary))
    chunks: list[bytes] = []
    outputs = [_tensor(name, *available[name], binary, chunks) for name, binary in wanted]
    response: dict[str, Any] = {
        "model_name": model.name,
        "model_version": model.version_text,
        "outputs": outputs,
        "parameters": {"digest": model.digest},
    }
    if "id" in doc:
        response["id"] = doc["id"]
    header = orjson.dumps(response, option=_NUMPY)
    if not chunks:
        return header, None
    return header + b"".join(chunks), len(header)
