"""Model adapters: how a model's state is written into a package and brought back.

Each adapter follows scikit-learn's rules: saving and loading are separate from predicting,
and the calling convention (which method answers ``predict_proba``, how labels are derived
from a network's output) is decided once when the model is wrapped, never per request.

==========  =====================================  ==========================================
adapter     state format                           what loading trusts
==========  =====================================  ==========================================
sklearn     skops (no pickle opcodes)              exactly the object types recorded in the
                                                   manifest (skops refuses any other type)
torch       safetensors (tensors only) + the       the module's own source, recorded in the
            constructor's keyword arguments        package; no pickle anywhere
python      skops when it can represent the        as sklearn; with pickle, *anything* the
            object, else pickle                    pickle stream says, which is why it is
                                                   only unpickled after its SHA-256 matched
==========  =====================================  ==========================================
"""

from __future__ import annotations

import importlib
import inspect
import io
import itertools
import json
import math
import pickle
import sys
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

import numpy as np
import numpy.typing as npt

from .._exceptions import IntegrityError, InvalidArgumentError
from .._imports import import_optional
from ._mapped import MappedFile, PackageFile
from ._source import is_library_module

ADAPTERS = ("sklearn", "torch", "python")


class Predictor(Protocol):
    """A wrapped model: prepared batch in, numpy arrays out."""

    classes: tuple[Any, ...] | None
    has_proba: bool

    def predict(self, prepared: Any) -> npt.NDArray[Any]: ...

    def predict_proba(self, prepared: Any) -> npt.NDArray[np.float64]: ...


@dataclass
class SavedState:
    """What an adapter writes: weight files, loading instructions, and whose code to collect."""

    files: dict[str, bytes]
    entry: dict[str, Any]
    class_modules: list[str]
    library_tops: set[str] = field(default_factory=set)


def _as_classes(values: Any) -> tuple[Any, ...] | None:
    if values is None:
        return None
    arr = np.asarray(values)
    if arr.ndim != 1:
        return None
    return tuple(arr.tolist())


def _user_type_modules(type_names: Sequence[str]) -> list[str]:
    mods = []
    for t in type_names:
        mod = t.rsplit(".", 1)[0]
        if not is_library_module(mod.split(".")[0]):
            mods.append(mod)
    return mods


def _resolve_class(path: str) -> type:
    module_name, _, qualname = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if not isinstance(obj, type):
        raise InvalidArgumentError(f"{path!r} is not a class")
    return obj


def _class_path(cls: type) -> str:
    if "<locals>" in cls.__qualname__:
        raise InvalidArgumentError(
            f"class {cls.__qualname__!r} is defined inside a function; define it at module level "
            "so its source can be packaged"
        )
    return f"{cls.__module__}:{cls.__qualname__}"


# ---------------------------------------------------------------- objects with predict()


class MethodPredictor:
    """Calls the model's own ``predict`` / ``predict_proba`` (scikit-learn and plain Python)."""

    def __init__(self, model: Any, classes: tuple[Any, ...] | None) -> None:
        self.model = model
        self.classes = classes
        proba = getattr(model, "predict_proba", None)
        # hasattr() honours scikit-learn's available_if (e.g. SVC(probability=False))
        self.has_proba = callable(proba)
        self._predict = model.predict
        self._proba = proba if self.has_proba else None

    def predict(self, prepared: Any) -> npt.NDArray[Any]:
        return np.asarray(self._predict(prepared))

    def predict_proba(self, prepared: Any) -> npt.NDArray[np.float64]:
        if self._proba is None:
            raise InvalidArgumentError("this model has no predict_proba")
        return np.asarray(self._proba(prepared), dtype=np.float64)


# ---------------------------------------------------------------- skops
#
# ``import skops.io`` builds its default allow-list by calling scikit-learn's
# ``all_estimators()``, which imports every scikit-learn module (and, through its array-API
# shims, torch): 3-5 s of a 7 s import on this machine, paid again by every parity replay and
# every server start. Packages therefore record *every* scikit-learn type their skops file
# holds in ``trusted_types`` (flagged ``trusted_types_complete``), so a process that loads only
# packages can import skops with that scan skipped (:func:`skip_skops_estimator_scan`): its
# default allow-list loses the scikit-learn estimators (stricter, never looser) and each load
# trusts exactly the types its hash-verified manifest lists.

_SKLEARN_ESTIMATOR_NAMES: frozenset[str] | None = None


def skip_skops_estimator_scan() -> bool:
    """Import ``skops.io`` without its scan of every scikit-learn estimator, if not yet imported.

    For processes that only load packages (the parity replay, a model server): it narrows skops'
    process-wide default allow-list, so user code in the same process that relies on skops
    trusting scikit-learn estimators by default would see them refused. Packages written
    before ``trusted_types_complete`` existed still load, after the scan is made on demand.

    Returns:
        Whether skops was imported with the scan skipped (``False``: it was imported already).
    """
    if "skops.io" in sys.modules:
        return False
    sk_utils = import_optional("sklearn.utils", "sklearn")
    real = getattr(sk_utils, "all_estimators")  # noqa: B009
    setattr(sk_utils, "all_estimators", lambda *args, **kwargs: [])  # noqa: B010
    try:
        import_optional("skops.io", "sklearn")
    finally:
        setattr(sk_utils, "all_estimators", real)  # noqa: B010
    return True


def _skops_default_estimators() -> frozenset[str]:
    """The scikit-learn estimator names skops trusts by default in this process."""
    import_optional("skops.io", "sklearn")
    from skops.io import _trusted_types

    return frozenset(getattr(_trusted_types, "SKLEARN_ESTIMATOR_TYPE_NAMES", ()))


def _all_sklearn_estimator_names() -> frozenset[str]:
    """What skops' default allow-list holds without :func:`skip_skops_estimator_scan` (slow)."""
    global _SKLEARN_ESTIMATOR_NAMES
    if _SKLEARN_ESTIMATOR_NAMES is None:
        from sklearn.utils import all_estimators

        names = (f"{c.__module__}.{c.__name__}" for _, c in all_estimators())
        _SKLEARN_ESTIMATOR_NAMES = frozenset(n for n in names if n.startswith("sklearn."))
    return _SKLEARN_ESTIMATOR_NAMES


def _zip_source(data: PackageFile) -> IO[bytes]:
    """A file object over a verified file: its bytes, or the mapped file itself."""
    return io.BytesIO(data) if isinstance(data, bytes) else data.open()


def _skops_type_names(data: PackageFile) -> set[str]:
    """Every ``module.Class`` named in a skops file's schema."""
    with _zip_source(data) as f, zipfile.ZipFile(f) as zf:
        schema = json.loads(zf.read("schema.json"))
    out: set[str] = set()
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            mod, cls = node.get("__module__"), node.get("__class__")
            if isinstance(mod, str) and isinstance(cls, str):
                out.add(f"{mod}.{cls}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return out


def _skops_dump(model: Any) -> tuple[bytes, list[str]]:
    """Return the skops bytes and the types a load must trust beyond skops' narrow default."""
    sio = import_optional("skops.io", "sklearn")
    data: bytes = sio.dumps(model)
    untrusted = set(sio.get_untrusted_types(data=data))
    # the scikit-learn estimators skops trusted by default here, which a process that skipped
    # the estimator scan does not trust without being told
    untrusted |= _skops_type_names(data) & _skops_default_estimators()
    return data, sorted(untrusted)


def _skops_load(data: PackageFile, entry: Mapping[str, Any]) -> Any:
    sio = import_optional("skops.io", "sklearn")
    trusted = list(entry["trusted_types"])
    if not entry.get("trusted_types_complete") and not _skops_default_estimators():
        # an older package listed only what skops did not trust by default: give back exactly
        # that default, at the cost of the scan
        trusted += sorted(_skops_type_names(data) & _all_sklearn_estimator_names())
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        # a large file is read as a file, like skops.io.load(path): no copy of the whole file
        # is made besides what skops itself reads
        with _zip_source(data) as f:
            return sio.load(f, trusted=trusted)
    except UntrustedTypesFoundException as e:
        # type names only (never values): which types the file holds that the manifest omits
        raise IntegrityError(
            f"the skops file {entry['weights']!r} holds object types its manifest does not "
            f"trust: {str(e)[:500]}"
        ) from None


class SklearnAdapter:
    """scikit-learn estimators and pipelines, persisted with skops."""

    name = "sklearn"
    as_matrix = True

    def save(self, model: Any, **kw: Any) -> SavedState:
        data, untrusted = _skops_dump(model)
        return SavedState(
            files={"weights/model.skops": data},
            entry={
                "weights": "weights/model.skops",
                "format": "skops",
                "trusted_types": untrusted,
                "trusted_types_complete": True,
            },
            class_modules=_user_type_modules(untrusted),
            library_tops={"sklearn", "skops", "numpy", "scipy"},
        )

    def wrap(
        self, model: Any, entry: Mapping[str, Any], classes: tuple[Any, ...] | None
    ) -> Predictor:
        return MethodPredictor(model, classes)

    def classes_of(self, model: Any, **kw: Any) -> tuple[Any, ...] | None:
        given = kw.get("classes")
        return _as_classes(given if given is not None else getattr(model, "classes_", None))

    def load(self, entry: Mapping[str, Any], files: Mapping[str, PackageFile]) -> Any:
        return _skops_load(files[entry["weights"]], entry)


class PythonAdapter(SklearnAdapter):
    """Any object with ``predict(batch)``: skops when it round-trips, else pickle."""

    name = "python"
    as_matrix = False

    def save(self, model: Any, **kw: Any) -> SavedState:
        _class_path(type(model))
        try:
            data, untrusted = _skops_dump(model)
            entry = {
                "weights": "weights/model.skops",
                "format": "skops",
                "trusted_types": untrusted,
                "trusted_types_complete": True,
            }
            _skops_load(data, entry)  # the state must come back, or fall back to pickle
        except Exception:  # skops cannot represent every object; pickle can, with less safety
            return self.save_pickle(model)
        return SavedState(
            files={"weights/model.skops": data},
            entry=entry,
            class_modules=[type(model).__module__, *_user_type_modules(untrusted)],
            library_tops={"skops", "numpy"},
        )

    def save_pickle(self, model: Any) -> SavedState:
        """Persist ``model`` with pickle (used when skops cannot reproduce it)."""
        return SavedState(
            files={"weights/model.pkl": pickle.dumps(model, protocol=5)},
            entry={"weights": "weights/model.pkl", "format": "pickle"},
            class_modules=[type(model).__module__],
            library_tops={"numpy"},
        )

    def classes_of(self, model: Any, **kw: Any) -> tuple[Any, ...] | None:
        given = kw.get("classes")
        if given is None:
            given = getattr(model, "classes_", None)
        if given is None:
            given = getattr(model, "classes", None)
        return _as_classes(given)

    def load(self, entry: Mapping[str, Any], files: Mapping[str, PackageFile]) -> Any:
        data = files[entry["weights"]]
        if entry["format"] == "pickle":
            if not isinstance(data, bytes):  # pickles are never mapped: they run code
                raise IntegrityError(f"{entry['weights']!r} must be read as verified bytes")
            # Safe only because `data` is the exact byte string whose SHA-256 the caller has
            # just checked against the manifest (itself pinned by the package digest).
            return pickle.loads(data)
        return _skops_load(data, entry)


# ---------------------------------------------------------------- PyTorch


class TorchPredictor:
    """Runs a CPU ``torch.nn.Module`` on a 2-D float array under ``inference_mode``.

    With class labels the module's output is taken as logits: labels are the arg-max and
    probabilities the softmax (``output="proba"``: the output is taken as probabilities).
    Without class labels the output is the prediction (squeezed to 1-D if it has one column).
    """

    def __init__(
        self, module: Any, entry: Mapping[str, Any], classes: tuple[Any, ...] | None
    ) -> None:
        self._torch = import_optional("torch", "torch")
        self.module = module
        self.classes = classes
        self.has_proba = classes is not None
        self._output = str(entry.get("output", "logits"))
        params = list(module.parameters())
        self._dtype = params[0].dtype if params else self._torch.float32
        self._np_dtype = self._torch.empty(0, dtype=self._dtype).numpy().dtype
        self._labels = None if classes is None else np.asarray(classes)

    def _forward(self, prepared: Any) -> Any:
        torch = self._torch
        x = torch.from_numpy(np.ascontiguousarray(prepared, dtype=self._np_dtype))
        with torch.inference_mode():
            return self.module(x)

    def predict(self, prepared: Any) -> npt.NDArray[Any]:
        out = self._forward(prepared)
        if self._labels is not None:
            return np.asarray(self._labels[out.argmax(dim=1).numpy()])
        arr = out.double().numpy()
        return np.asarray(arr[:, 0] if arr.ndim == 2 and arr.shape[1] == 1 else arr)

    def predict_proba(self, prepared: Any) -> npt.NDArray[np.float64]:
        if not self.has_proba:
            raise InvalidArgumentError("this model has no class labels, so no predict_proba")
        out = self._forward(prepared).double()
        if self._output == "proba":
            return np.asarray(out.numpy(), dtype=np.float64)
        return np.asarray(self._torch.softmax(out, dim=1).numpy(), dtype=np.float64)


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


class TorchAdapter:
    """CPU PyTorch modules: safetensors weights, the module's source and constructor kwargs."""

    name = "torch"
    as_matrix = True

    def _init_kwargs(self, model: Any, given: Mapping[str, Any] | None) -> dict[str, Any]:
        cls = type(model)
        if given is not None:
            kwargs = dict(given)
        else:
            kwargs = {}
            for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
                if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                    continue
                if hasattr(model, p.name):
                    kwargs[p.name] = getattr(model, p.name)
                elif p.default is p.empty:
                    raise InvalidArgumentError(
                        f"cannot recover constructor argument {p.name!r} of {cls.__qualname__}: "
                        f"store it as self.{p.name} in __init__ or pass init_kwargs= to log_model"
                    )
        for k, v in kwargs.items():
            if not _jsonable(v):
                raise InvalidArgumentError(
                    f"constructor argument {k!r} of {cls.__qualname__} is not JSON-serializable; "
                    "pass init_kwargs= with plain values"
                )
        return kwargs

    def save(self, model: Any, **kw: Any) -> SavedState:
        st = import_optional("safetensors.torch", "torch")
        state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
        output = kw.get("output") or "logits"
        if output not in ("logits", "proba"):
            raise InvalidArgumentError("output must be 'logits' or 'proba'")
        return SavedState(
            files={"weights/model.safetensors": st.save(state)},
            entry={
                "weights": "weights/model.safetensors",
                "format": "safetensors",
                "class": _class_path(type(model)),
                "init_kwargs": self._init_kwargs(model, kw.get("init_kwargs")),
                "output": output,
            },
            class_modules=[type(model).__module__],
            library_tops={"torch", "safetensors", "numpy"},
        )

    def classes_of(self, model: Any, **kw: Any) -> tuple[Any, ...] | None:
        given = kw.get("classes")
        return _as_classes(given if given is not None else getattr(model, "classes", None))

    def wrap(
        self, model: Any, entry: Mapping[str, Any], classes: tuple[Any, ...] | None
    ) -> Predictor:
        model.eval()
        return TorchPredictor(model, entry, classes)

    def load(self, entry: Mapping[str, Any], files: Mapping[str, PackageFile]) -> Any:
        torch = import_optional("torch", "torch")
        data = files[entry["weights"]]
        if isinstance(data, bytes):
            state = import_optional("safetensors.torch", "torch").load(data)
        else:
            state = _safetensors_views(torch, data, entry["weights"])
        cls = _resolve_class(str(entry["class"]))
        kwargs = entry["init_kwargs"]
        # Built on the meta device, the module allocates and initialises no weights of its
        # own; assign=True then makes the loaded tensors its parameters, without a copy.
        try:
            with torch.device("meta"):
                module = cls(**kwargs)
            module.load_state_dict(state, strict=True, assign=True)
        except Exception:  # __init__ needs real tensors: build it normally
            module = None
        if module is None or any(
            t.is_meta for t in itertools.chain(module.parameters(), module.buffers())
        ):
            # e.g. a buffer computed in __init__ and not saved (persistent=False)
            module = cls(**kwargs)
            module.load_state_dict(state, strict=True, assign=True)
        return module


def choose_adapter(
    model: Any, name: str | None = None
) -> SklearnAdapter | PythonAdapter | TorchAdapter:
    """Pick the adapter for ``model`` (or the one named).

    Raises:
        InvalidArgumentError: unknown adapter name, or a model with no ``predict`` method.
    """
    if name is not None:
        if name not in ADAPTERS:
            raise InvalidArgumentError(
                f"adapter must be one of {', '.join(ADAPTERS)}, got {name!r}"
            )
        if name == "sklearn":
            return SklearnAdapter()
        return TorchAdapter() if name == "torch" else PythonAdapter()
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(model, torch.nn.Module):
        return TorchAdapter()
    sklearn_base = sys.modules.get("sklearn.base")
    if sklearn_base is not None and isinstance(model, sklearn_base.BaseEstimator):
        top = type(model).__module__.split(".")[0]
        return SklearnAdapter() if top == "sklearn" or hasattr(model, "steps") else PythonAdapter()
    if callable(getattr(model, "predict", None)):
        return PythonAdapter()
    raise InvalidArgumentError(
        f"cannot package a {type(model).__name__}: it is not a scikit-learn estimator or a "
        "torch module and has no predict(batch) method"
    )


def adapter_named(name: str) -> SklearnAdapter | PythonAdapter | TorchAdapter:
    """Return the adapter recorded in a manifest."""
    return choose_adapter(None, name)


def npy_bytes(arr: npt.NDArray[Any]) -> bytes:
    """Serialize an array as ``.npy`` without pickle (object arrays are refused)."""
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def npy_load(data: PackageFile) -> npt.NDArray[Any]:
    """Inverse of :func:`npy_bytes`; never unpickles.

    A mapped file becomes an array over the mapping itself (no copy).

    Raises:
        IntegrityError: a mapped file is not a ``.npy`` array of a plain dtype.
    """
    if isinstance(data, bytes):
        return np.asarray(np.load(io.BytesIO(data), allow_pickle=False))
    with data.buffer() as view:
        head = io.BytesIO(view[: min(data.size, 1 << 16)])
    try:
        version = np.lib.format.read_magic(head)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(head)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(head)
    except (ValueError, OSError) as e:
        raise IntegrityError(f"{data.path.name!r} is not a .npy array: {e}") from None
    if dtype.hasobject:
        raise IntegrityError(f"{data.path.name!r} holds Python objects (pickle), refused")
    count = math.prod(shape)
    if head.tell() + count * dtype.itemsize > data.size:
        raise IntegrityError(f"{data.path.name!r} is shorter than its header says")
    flat = np.frombuffer(data.buffer(), dtype=dtype, count=count, offset=head.tell())
    return flat.reshape(shape, order="F" if fortran else "C")


# safetensors dtype names (https://github.com/huggingface/safetensors, format spec)
_SAFETENSORS_DTYPES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U64": "uint64",
    "U32": "uint32",
    "U16": "uint16",
    "U8": "uint8",
    "BOOL": "bool",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
}


def _safetensors_views(torch: Any, data: MappedFile, label: str) -> dict[str, Any]:
    """The tensors of a safetensors file as views of its verified mapping (no copy).

    Raises:
        IntegrityError: the file does not follow the safetensors format.
    """

    def bad(why: str) -> IntegrityError:
        return IntegrityError(f"{label!r} is not a valid safetensors file: {why}")

    buffer = data.buffer()
    if data.size < 8:
        raise bad("shorter than its header")
    header_len = int.from_bytes(buffer[:8], "little")
    start = 8 + header_len
    if start > data.size:
        raise bad("header longer than the file")
    try:
        header = json.loads(bytes(buffer[8:start]))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise bad("header is not JSON") from None
    if not isinstance(header, dict):
        raise bad("header is not a JSON object")
    state: dict[str, Any] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = getattr(torch, _SAFETENSORS_DTYPES[info["dtype"]])
            shape = [int(d) for d in info["shape"]]
            begin, end = (int(o) for o in info["data_offsets"])
        except (KeyError, TypeError, ValueError, AttributeError):
            raise bad(f"tensor {name!r} has a malformed entry") from None
        count = math.prod(shape)
        itemsize = torch.empty(0, dtype=dtype).element_size()
        if min(shape, default=0) < 0 or not 0 <= begin <= end <= data.size - start:
            raise bad(f"tensor {name!r} lies outside the file")
        if end - begin != count * itemsize:
            raise bad(f"tensor {name!r} does not have the size its shape says")
        if count == 0:
            state[name] = torch.empty(shape, dtype=dtype)
        else:
            flat = torch.frombuffer(buffer, dtype=dtype, count=count, offset=start + begin)
            state[name] = flat.reshape(shape)
    return state
