"""A model saved in MLflow's format (``MLmodel`` and the flavour's files) becomes a labline
package: the scikit-learn flavour's estimator, with the saved input example as the parity
record's inputs.

The estimator is deserialized in a fresh interpreter (:func:`convert_in_subprocess`), never in
the process that asks: a pickle runs code, and a server must survive a bad one. Only the
package written by that interpreter comes back, and it is verified before it is registered.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

from .._exceptions import InvalidArgumentError
from .._imports import import_optional
from ._manifest import Manifest
from ._package import write_package

__all__ = ["MLMODEL_FILE", "convert_in_subprocess", "read_mlflow_model", "write_mlflow_package"]

MLMODEL_FILE = "MLmodel"
_LABLINE_PARENT = str(Path(__file__).resolve().parents[2])
_BOOT = (
    "import sys, runpy; sys.path.insert(0, sys.argv.pop(1)); "
    "runpy.run_module('labline.models._mlflow_format', run_name='__main__', alter_sys=True)"
)


def _mlmodel(folder: Path) -> dict[str, Any]:
    yaml = import_optional("yaml", "server")
    path = folder / MLMODEL_FILE
    if not path.is_file():
        raise InvalidArgumentError("the model folder has no MLmodel file (not an MLflow model)")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        raise InvalidArgumentError("the MLmodel file is not valid YAML") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("flavors"), dict):
        raise InvalidArgumentError("the MLmodel file lists no flavors")
    return doc


def _inner_file(folder: Path, rel: object, what: str) -> Path:
    if not isinstance(rel, str) or not rel or rel.startswith("/") or ".." in rel.split("/"):
        raise InvalidArgumentError(f"MLmodel: {what} must be a relative path inside the model")
    path = folder / rel
    if not path.is_file():
        raise InvalidArgumentError(f"MLmodel names {what} {rel!r}, which the model lacks")
    return path


def _load_estimator(folder: Path, flavor: dict[str, Any]) -> Any:
    path = _inner_file(folder, flavor.get("pickled_model"), "pickled_model")
    fmt = flavor.get("serialization_format", "cloudpickle")
    if fmt == "skops":
        sio = import_optional("skops.io", "sklearn")
        allowed = set(flavor.get("skops_trusted_types") or ())
        untrusted = set(sio.get_untrusted_types(file=str(path)))
        refused = sorted(untrusted - allowed)
        if refused:
            raise InvalidArgumentError(
                "model.skops holds types neither skops nor the MLmodel's skops_trusted_types "
                f"trust: {', '.join(refused)[:500]}"
            )
        return sio.load(str(path), trusted=sorted(untrusted))
    if fmt in ("pickle", "cloudpickle"):
        if fmt == "cloudpickle":
            import_optional("cloudpickle", "sklearn")  # its reconstructors must be importable
        with path.open("rb") as f:
            return pickle.load(f)
    raise InvalidArgumentError(f"unknown sklearn serialization_format {fmt!r}")


def _input_example(folder: Path, doc: dict[str, Any]) -> Any:
    info = doc.get("saved_input_example_info")
    if not isinstance(info, dict):
        raise InvalidArgumentError(
            "the model was logged without input_example: labline needs one to record the "
            "parity inputs (log_model(..., input_example=X))"
        )
    path = _inner_file(folder, info.get("artifact_path"), "the input example")
    try:
        example = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgumentError("the input example is not valid JSON") from None
    kind = info.get("type")
    if kind == "dataframe":
        orient = info.get("pandas_orient", "split")
        if orient == "split" and isinstance(example, dict):
            columns, rows = example.get("columns"), example.get("data")
            if isinstance(columns, list) and isinstance(rows, list):
                return {str(c): [row[i] for row in rows] for i, c in enumerate(columns)}
        if orient == "records" and isinstance(example, list):
            return example
        raise InvalidArgumentError(f"unsupported input example layout (pandas_orient {orient!r})")
    if kind == "ndarray":
        if isinstance(example, dict) and "inputs" in example:
            example = example["inputs"]
        np = import_optional("numpy", "sklearn")
        return np.asarray(example)
    raise InvalidArgumentError(f"unsupported input example type {kind!r}")


def read_mlflow_model(folder: str | os.PathLike[str]) -> tuple[Any, Any]:
    """The estimator of an MLflow model folder's scikit-learn flavour and its input example.

    Deserializes the estimator: call only in a process that may run the model's code.

    Raises:
        InvalidArgumentError: no MLmodel, no sklearn flavour, no input example, or a file the
            MLmodel names is missing or unreadable.
    """
    root = Path(folder)
    doc = _mlmodel(root)
    flavor = doc["flavors"].get("sklearn")
    if not isinstance(flavor, dict):
        flavors = ", ".join(sorted(str(f) for f in doc["flavors"]))
        raise InvalidArgumentError(
            f"labline registers MLflow models of the sklearn flavor; this one has: {flavors}"
        )
    return _load_estimator(root, flavor), _input_example(root, doc)


def write_mlflow_package(
    source: str | os.PathLike[str], dest: str | os.PathLike[str], *, name: str, run_id: str | None
) -> Manifest:
    """Write the labline package of the MLflow model in ``source`` into ``dest`` (in this
    process: see :func:`convert_in_subprocess`)."""
    model, example = read_mlflow_model(source)
    return write_package(model, dest, name=name, input_example=example, run_id=run_id)


def convert_in_subprocess(
    source: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    name: str,
    run_id: str | None,
    timeout: float = 600.0,
) -> None:
    """Run :func:`write_mlflow_package` in a fresh, isolated interpreter.

    Raises:
        InvalidArgumentError: the model cannot be converted (the message says why).
    """
    cmd = [
        sys.executable,
        "-I",
        "-c",
        _BOOT,
        _LABLINE_PARENT,
        os.fspath(source),
        os.fspath(dest),
        name,
        run_id or "",
    ]
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        raise InvalidArgumentError(
            f"converting the MLflow model timed out after {timeout:g}s"
        ) from None
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    result = json.loads(lines[-1]) if lines else {"error": "the converter printed no result"}
    if proc.returncode != 0 or "error" in result:
        raise InvalidArgumentError(
            f"cannot make a labline package of this MLflow model: {result.get('error')}"
        )


def _main(argv: list[str]) -> int:
    source, dest, name, run_id = argv[:4]
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            manifest = write_mlflow_package(source, dest, name=name, run_id=run_id or None)
    except InvalidArgumentError as e:
        print(json.dumps({"error": e.message}))
        return 0
    except Exception as e:  # the model's own code failed: say which error, not its payload
        print(json.dumps({"error": f"{type(e).__name__} while loading or running the model"}))
        return 0
    print(json.dumps({"digest": manifest.digest}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
