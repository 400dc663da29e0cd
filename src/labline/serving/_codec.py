"""Request decoding and response encoding for ``/predict`` and the Open Inference Protocol.

The codec owns the wire formats only: it turns a body into one array per input field and
hands each to the model's own checker (``InputField.check``, the rule set
``LoadedModel.predict`` applies), so a value gets the same answer from the library and from
the server. Every problem with a request is a :class:`~labline.InvalidArgumentError` (or its
subclasses :class:`~labline.SchemaError`, :class:`~labline.PayloadTooLargeError`,
:class:`~labline.UnsupportedMediaTypeError`) or a :class:`~labline.NotFoundError`, whose
message names the field or tensor at fault and never quotes the payload; ``_http_errors``
turns it into a status code.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._exceptions import (
    InvalidArgumentError,
    PayloadTooLargeError,
    SchemaError,
    UnsupportedMediaTypeError,
)
from .._imports import import_optional
from ..core._json import holds_bool
from ._model import ServedModel, WireField, v2_to_numpy

__all__ = [
    "InferRequest",
    "decode_json",
    "decode_v2_request",
    "encode_predict",
    "encode_v2_response",
    "inflate",
    "parse_predict",
]

orjson = import_optional("orjson", "serve")
_NUMPY = orjson.OPT_SERIALIZE_NUMPY


def decode_json(body: bytes, content_type: str | None = None) -> Any:
    """Parse a JSON body.

    Raises:
        InvalidArgumentError: the body is not JSON (the message names the position).
        UnsupportedMediaTypeError: the body is not JSON and the declared ``content_type``
            is not a JSON media type either (the message names it). A JSON body
            is accepted whatever its declared type (``curl -d`` says form-urlencoded).
    """
    if not body:
        raise InvalidArgumentError("request body is empty; expected JSON")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        where = f"line {e.lineno}, column {e.colno}"
        media = (content_type or "").split(";", 1)[0].strip().lower()
        if media and media != "application/json" and not media.endswith("+json"):
            raise UnsupportedMediaTypeError(
                f"request body is not JSON ({where}) and its Content-Type is "
                f"{media[:64]!r}; send application/json",
            ) from None
        raise InvalidArgumentError(f"request body is not valid JSON ({where})") from None


def inflate(body: bytes, encoding: str, limit: int) -> bytes:
    """Decompress a gzip/deflate request body, refusing to grow past ``limit`` bytes.

    Raises:
        UnsupportedMediaTypeError: an encoding other than gzip, deflate or identity.
        InvalidArgumentError: the body is not valid data of its encoding.
        PayloadTooLargeError: the decompressed body exceeds ``limit``.
    """
    enc = encoding.strip().lower()
    if enc in ("", "identity"):
        return body
    if enc == "gzip":
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif enc == "deflate":
        d = zlib.decompressobj()
    else:
        raise UnsupportedMediaTypeError(
            f"unsupported Content-Encoding {enc[:20]!r}; use gzip or deflate"
        )
    try:
        out = d.decompress(body, limit + 1)
    except zlib.error:
        raise InvalidArgumentError(f"request body is not valid {enc} data") from None
    if len(out) > limit or d.unconsumed_tail:
        raise PayloadTooLargeError(
            f"request body exceeds the limit of {limit} bytes once decompressed"
        )
    return out


# --------------------------------------------------------------------------------- /predict


def parse_predict(model: ServedModel, doc: Any) -> tuple[dict[str, np.ndarray[Any, Any]], int]:
    """Turn a ``/predict`` document into checked columns.

    Accepted shapes: a list of records (objects), ``{"records": [...]}`` or
    ``{"columns": {"field": [one value per row], ...}}``.

    Returns:
        (one checked array per field, number of rows)

    Raises:
        InvalidArgumentError: the document has none of these shapes, or names unknown fields.
        SchemaError: a field's values do not pass the model's input checks.
    """
    if isinstance(doc, list):
        return _from_records(model, doc)
    if isinstance(doc, dict):
        if "records" in doc:
            records = doc["records"]
            if not isinstance(records, list):
                raise InvalidArgumentError("'records' must be a list of objects, one per row")
            return _from_records(model, records)
        if "columns" in doc:
            cols = doc["columns"]
            if not isinstance(cols, dict):
                raise InvalidArgumentError(
                    "'columns' must be an object mapping field names to lists"
                )
            return _from_columns(model, cols)
    raise InvalidArgumentError(
        'expected a JSON list of records, {"records": [...]} or {"columns": {...}}'
    )


def _check_names(model: ServedModel, names: Any, where: str) -> None:
    missing = [f.name for f in model.fields if f.name not in names]
    if missing:
        raise InvalidArgumentError(f"{where}: missing field {missing[0]!r}")
    extra = sorted(str(k) for k in names if k not in model.field_by_name)
    if extra:
        raise InvalidArgumentError(
            f"{where}: unknown field {extra[0][:64]!r} "
            f"(the model expects {sorted(model.field_by_name)})"
        )


def _from_records(
    model: ServedModel, records: list[Any]
) -> tuple[dict[str, np.ndarray[Any, Any]], int]:
    n = len(records)
    if n == 0:
        raise InvalidArgumentError("no records to predict")
    n_fields = len(model.fields)
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise InvalidArgumentError(f"record {i} is not a JSON object")
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
        columns[f.name] = f.field.check(values, n)
    return columns, n


def _from_columns(
    model: ServedModel, cols: dict[str, Any]
) -> tuple[dict[str, np.ndarray[Any, Any]], int]:
    _check_names(model, cols, "columns")
    n = -1
    for f in model.fields:
        values = cols[f.name]
        if not isinstance(values, list):
            raise InvalidArgumentError(f"column {f.name!r} must be a list with one value per row")
        if n < 0:
            n = len(values)
        elif len(values) != n:
            raise InvalidArgumentError(
                f"column {f.name!r} has {len(values)} rows; other columns have {n}"
            )
    if n == 0:
        raise InvalidArgumentError("no rows to predict")
    return {f.name: f.field.check(cols[f.name], n) for f in model.fields}, n


def encode_predict(result: Any, request_id: str | None = None) -> bytes:
    """The ``/predict`` response body for one request's :class:`BatchResult`.

    A calibrated model's answer also holds ``deferred`` and ``confidence`` (one per row) and
    the ``request_id`` its review items name.
    """
    model: ServedModel = result.model
    predictions = result.predictions
    doc: dict[str, Any] = {
        "model": model.identity_json,
        "predictions": predictions if predictions.dtype.kind in "biuf" else predictions.tolist(),
    }
    if result.proba is not None:
        doc["probabilities"] = result.proba
        doc["classes"] = model.classes_json
    if result.deferred is not None:
        doc["deferred"] = result.deferred
        doc["confidence"] = result.confidence
        doc["request_id"] = request_id
    body: bytes
    try:
        body = orjson.dumps(doc, option=_NUMPY)
    except TypeError:  # orjson.JSONEncodeError: non-contiguous or exotic arrays
        doc["predictions"] = np.asarray(predictions).tolist()
        for key in ("probabilities", "deferred", "confidence"):
            if key in doc:
                doc[key] = np.asarray(doc[key]).tolist()
        body = orjson.dumps(doc)
    return body


# ------------------------------------------------------------------ Open Inference Protocol


@dataclass(frozen=True)
class InferRequest:
    """A decoded V2 ``infer`` request.

    Attributes:
        id: the request's ``id``, echoed in the response (None when absent).
        columns: one checked array per input field.
        n_rows: rows in the batch.
        outputs: (output name, binary) pairs to answer, in order.
    """

    id: str | None
    columns: dict[str, np.ndarray[Any, Any]]
    n_rows: int
    outputs: tuple[tuple[str, bool], ...]

    @property
    def wants_proba(self) -> bool:
        """True when the answer includes class probabilities (so they must be computed)."""
        return any(name == "probabilities" for name, _ in self.outputs)


def _parameters(holder: dict[str, Any], where: str) -> dict[str, Any]:
    """The ``parameters`` object of ``holder`` ({} when absent or null), checked.

    Args:
        holder: the request, an input tensor or a requested output.
        where: names ``holder`` in messages (``"inference request"``, ``"outputs[0]"``).

    Raises:
        InvalidArgumentError: ``parameters`` is not an object, or a value in it is not a
            string, number or boolean.
    """
    params = holder.get("parameters")
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise InvalidArgumentError(f"{where}: 'parameters' must be an object")
    for key, value in params.items():
        if not isinstance(value, str | int | float | bool):
            raise InvalidArgumentError(
                f"{where}: parameter {key[:64]!r} must be a string, number or boolean"
            )
    return params


def _flag(params: dict[str, Any], key: str, default: bool, where: str) -> bool:
    value = params.get(key, default)
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{where}.parameters: {key!r} must be true or false")
    return value


def _requested_outputs(model: ServedModel, doc: dict[str, Any]) -> tuple[tuple[str, bool], ...]:
    where = "inference request"
    default_binary = _flag(_parameters(doc, where), "binary_data_output", False, where)
    available = model.output_names
    requested = doc.get("outputs")
    if requested is None or requested == []:
        # no outputs named, or an empty list (what kserve's client sends): all outputs
        return tuple((name, default_binary) for name in available)
    if not isinstance(requested, list):
        raise InvalidArgumentError("'outputs' must be a list")
    wanted: list[tuple[str, bool]] = []
    for i, out in enumerate(requested):
        if not isinstance(out, dict) or not isinstance(out.get("name"), str):
            raise InvalidArgumentError(f"outputs[{i}] must be an object with a 'name'")
        oparams = _parameters(out, f"outputs[{i}]")
        if "classification" in oparams:
            raise InvalidArgumentError("the classification extension is not supported")
        name = out["name"]
        if name not in available:
            raise InvalidArgumentError(
                f"unknown output {name[:64]!r} (available: {sorted(available)})"
            )
        if any(name == seen for seen, _ in wanted):
            raise InvalidArgumentError(f"output {name!r} is requested twice")
        wanted.append((name, _flag(oparams, "binary_data", default_binary, f"outputs[{i}]")))
    return tuple(wanted)


def decode_v2_request(
    model: ServedModel, body: bytes, header_length: str | None, content_type: str | None = None
) -> InferRequest:
    """Decode and check a V2 ``infer`` request (JSON or the binary-data extension).

    Args:
        model: the model the request is for.
        body: the (decompressed) request body.
        header_length: the ``Inference-Header-Content-Length`` header, if any.
        content_type: the declared Content-Type, named in the error when the body is not JSON.

    Returns:
        The decoded request, its tensors checked by the model's input fields and its outputs
        resolved (so that nothing is computed that is not asked for).

    Raises:
        InvalidArgumentError: the request is malformed (the message names the tensor).
        UnsupportedMediaTypeError: the body is not JSON and is declared as something else.
    """
    if header_length is not None:
        try:
            hlen = int(header_length)
        except ValueError:
            raise InvalidArgumentError(
                "Inference-Header-Content-Length is not an integer"
            ) from None
        if hlen < 0 or hlen > len(body):
            raise InvalidArgumentError("Inference-Header-Content-Length exceeds the request body")
        doc = decode_json(body[:hlen])
        binary = memoryview(body)[hlen:]
    else:
        doc = decode_json(body, content_type)
        binary = memoryview(b"")
    if not isinstance(doc, dict):
        raise InvalidArgumentError("inference request must be a JSON object")
    request_id = doc.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidArgumentError("inference request 'id' must be a string")
    outputs = _requested_outputs(model, doc)
    inputs = doc.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidArgumentError("inference request needs a non-empty 'inputs' list")
    columns: dict[str, np.ndarray[Any, Any]] = {}
    offset = 0
    n_rows = -1
    for i, tensor in enumerate(inputs):
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise InvalidArgumentError(f"inputs[{i}] must be an object with a 'name'")
        name = tensor["name"]
        field = model.field_by_name.get(name)
        if field is None:
            raise InvalidArgumentError(
                f"unknown input tensor {name[:64]!r} "
                f"(the model expects {sorted(model.field_by_name)})"
            )
        if name in columns:
            raise InvalidArgumentError(f"input tensor {name!r} is given twice")
        shape = tensor.get("shape")
        if not isinstance(shape, list) or not all(
            type(d) is int and d >= 0  # bool is not a dimension
            for d in shape
        ):
            raise InvalidArgumentError(
                f"input {name!r}: 'shape' must be a list of non-negative integers"
            )
        datatype = tensor.get("datatype")
        dtype = v2_to_numpy(datatype) if isinstance(datatype, str) else None
        if dtype is None or not isinstance(datatype, str):
            raise InvalidArgumentError(
                f"input {name!r}: unknown datatype; expected {field.v2_datatype}"
            )
        count = math.prod(shape)  # Python ints: no overflow on absurd shapes
        params = _parameters(tensor, f"input {name!r}")
        size = params.get("binary_data_size")
        if size is not None:
            if type(size) is not int or size < 0 or offset + size > len(binary):
                raise InvalidArgumentError(
                    f"input {name!r}: binary_data_size exceeds the binary data"
                )
            chunk = binary[offset : offset + size]
            offset += size
            arr = _from_binary(name, chunk, dtype, count)
        elif "data" in tensor:
            arr = _from_v2_json(name, tensor["data"], datatype, dtype, count)
        else:
            raise InvalidArgumentError(
                f"input {name!r}: needs 'data' or parameters.binary_data_size"
            )
        if len(shape) != 1 + len(field.row_shape):
            raise InvalidArgumentError(
                f"input {name!r}: shape has {len(shape)} dimensions; "
                f"expected {[-1, *field.row_shape]}"
            )
        if n_rows < 0:
            n_rows = shape[0]
        elif shape[0] != n_rows:
            raise InvalidArgumentError(
                f"input {name!r}: {shape[0]} rows; other inputs have {n_rows}"
            )
        if n_rows == 0:
            raise InvalidArgumentError("no rows to predict")
        columns[name] = _check_tensor(field, arr.reshape(shape), datatype, n_rows)
    missing = [f.name for f in model.fields if f.name not in columns]
    if missing:
        raise InvalidArgumentError(f"missing input tensor {missing[0]!r}")
    if offset != len(binary):
        raise InvalidArgumentError("binary data is longer than the sizes the inputs declare")
    return InferRequest(request_id, columns, n_rows, outputs)


def _check_tensor(
    field: WireField, arr: np.ndarray[Any, Any], datatype: str, n_rows: int
) -> np.ndarray[Any, Any]:
    """The model's own check of a tensor decoded as its declared ``datatype``."""
    try:
        return field.field.check(arr, n_rows)
    except SchemaError as e:
        if datatype != field.v2_datatype:
            raise SchemaError(
                f"input {field.name!r}: datatype {datatype} given, "
                f"expected {field.v2_datatype}; {e.message}"
            ) from None
        raise


def _from_binary(
    name: str, chunk: memoryview, dtype: np.dtype[Any], count: int
) -> np.ndarray[Any, Any]:
    if dtype.kind == "O":
        items: list[str] = []
        raw = bytes(chunk)
        pos = 0
        while pos < len(raw):
            if pos + 4 > len(raw):
                raise InvalidArgumentError(f"input {name!r}: truncated BYTES element")
            (ln,) = struct.unpack_from("<I", raw, pos)
            pos += 4
            if pos + ln > len(raw):
                raise InvalidArgumentError(f"input {name!r}: truncated BYTES element")
            try:
                items.append(raw[pos : pos + ln].decode("utf-8"))
            except UnicodeDecodeError:
                raise InvalidArgumentError(
                    f"input {name!r}: BYTES element is not UTF-8 text"
                ) from None
            pos += ln
        if len(items) != count:
            raise InvalidArgumentError(
                f"input {name!r}: {len(items)} elements; shape needs {count}"
            )
        return np.array(items, dtype=object)
    if len(chunk) != count * dtype.itemsize:
        raise InvalidArgumentError(
            f"input {name!r}: binary_data_size {len(chunk)} does not match shape and datatype"
        )
    return np.frombuffer(chunk, dtype=dtype.newbyteorder("<"), count=count)


def _from_v2_json(
    name: str, data: Any, datatype: str, dtype: np.dtype[Any], count: int
) -> np.ndarray[Any, Any]:
    """JSON ``data`` as a flat array of the declared ``datatype``, every value checked.

    JSON numbers carry no type, so this is where a value the declared datatype cannot hold
    (300 as INT8, -1 as UINT8, 0.5 as INT64, 1e300 as FP32) is refused, naming the tensor.
    ``null`` in a floating-point tensor is a missing value, left for the model's NaN policy.
    """
    if not isinstance(data, list):
        data = [data]
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError, OverflowError):
        raise InvalidArgumentError(f"input {name!r}: 'data' is ragged") from None
    if arr.size != count:
        raise InvalidArgumentError(
            f"input {name!r}: 'data' has {arr.size} elements; shape needs {count}"
        )
    arr = arr.reshape(-1)
    kind: str = arr.dtype.kind
    if kind in "iuf" and holds_bool(data):
        kind = "b?"  # numpy turned booleans among numbers into numbers; they are not

    def refuse(what: str) -> InvalidArgumentError:
        return InvalidArgumentError(f"field {name!r}: 'data' holds {what} (datatype {datatype})")

    if dtype.kind == "O":
        if kind != "U":
            raise refuse("values that are not strings")
        return arr.astype(object)
    if dtype.kind == "b":
        if kind != "b":
            raise refuse("values that are not booleans")
        return arr
    if kind == "O":
        # ints beyond 64 bits, nulls, or a mix of types
        if dtype.kind in "iu":
            if all(type(v) is int for v in arr):
                raise refuse(f"values outside the {dtype.name} range")
            raise refuse("values that are not integers")
        if not all(v is None or type(v) in (int, float) for v in arr):
            raise refuse("values that are not numbers")
        with np.errstate(over="ignore"):
            numbers = np.array([np.nan if v is None else v for v in arr], dtype=np.float64)
        _check_float_range(numbers, dtype, refuse)
        return arr  # nulls stay None: the model's own checker decides what a missing value is
    if dtype.kind in "iu":
        if kind not in "iu":
            raise refuse("values that are not integers")
        if arr.size and not np.can_cast(arr.dtype, dtype):
            info = np.iinfo(dtype)
            if int(arr.min()) < info.min or int(arr.max()) > info.max:
                raise refuse(f"values outside the {dtype.name} range")
        return arr.astype(dtype)
    if kind not in "iuf":  # floating-point datatypes: numbers only, no booleans
        raise refuse("values that are not numbers")
    _check_float_range(arr, dtype, refuse)
    return arr.astype(dtype, copy=False)


def _check_float_range(arr: np.ndarray[Any, Any], dtype: np.dtype[Any], refuse: Any) -> None:
    if dtype.itemsize >= 8 or not arr.size:
        return
    finite = np.isfinite(arr.astype(np.float64))
    if finite.any() and np.abs(arr[finite].astype(np.float64)).max() > np.finfo(dtype).max:
        raise refuse(f"values outside the {dtype.name} range")


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


def encode_v2_response(request: InferRequest, result: Any) -> tuple[bytes, int | None]:
    """The V2 ``infer`` response: (body, JSON header length when binary outputs follow).

    Args:
        request: the decoded request (its outputs say what to answer).
        result: the request's share of the batch (a ``BatchResult``).
    """
    model: ServedModel = result.model
    chunks: list[bytes] = []
    outputs = []
    for name, binary in request.outputs:
        if name == "predictions":
            preds = result.predictions
            if model.prediction_dtype.kind == "O" or preds.dtype.kind in "USO":
                arr, datatype = np.asarray(preds, dtype=object), "BYTES"
            else:  # the datatype was decided at load time
                arr = preds.astype(model.prediction_dtype, copy=False)
                datatype = model.prediction_v2_datatype
        elif name == "probabilities":
            arr, datatype = np.asarray(result.proba, dtype=np.float64), "FP64"
        elif name == "deferred":
            arr, datatype = np.asarray(result.deferred, dtype=np.bool_), "BOOL"
        else:  # "confidence"
            arr, datatype = np.asarray(result.confidence, dtype=np.float64), "FP64"
        outputs.append(_tensor(name, arr, datatype, binary, chunks))
    response: dict[str, Any] = {
        "model_name": model.name,
        "model_version": model.version_text,
        "outputs": outputs,
        "parameters": {"digest": model.digest},
    }
    if request.id is not None:
        response["id"] = request.id
    header = orjson.dumps(response, option=_NUMPY)
    if not chunks:
        return header, None
    return header + b"".join(chunks), len(header)
