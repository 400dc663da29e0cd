"""The calibrate use case: choose a model version's abstention threshold on held-out data and
store it with the version (see :mod:`labline.core.stats._abstention` for the guarantee).

Calibration data: ``(X, y)`` arrays (``X`` in any form the model's ``predict_proba`` takes),
or a file: ``.npz`` with arrays ``X`` and ``y`` (and optionally ``ids``), or ``.parquet`` /
``.csv`` with a label column (``y`` by default) and optionally an ``id`` column; the other
columns are the model's input fields.

Data the model was trained on is refused: its fingerprint (or the same rows in another
order) matches a data set the training run logged as training data (``train*``, or
``role="train"``), or its ids meet ids the run logged for training data (in the data set's
``ids`` meta or in its predictions).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ._exceptions import InfeasibleTargetError, InvalidArgumentError, NotFoundError
from .core._calibration import Calibration, CalibrationDraft, check_score_name
from .core._fingerprint import fingerprint, rows_digest
from .core.stats._abstention import (
    calibrate_abstention,
    confidence_scores,
    deferral_decisions,
    resolve_score,
)

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["calibrate"]

ScoreFunction = Callable[[npt.NDArray[np.float64]], Any]


@dataclass(frozen=True)
class _HeldOut:
    inputs: Any
    y: npt.NDArray[Any]
    ids: npt.NDArray[Any] | None
    fingerprint: str
    rows_digest: str | None
    source: str


def _load_file(path: Path, label: str) -> _HeldOut:
    if not path.is_file():
        raise NotFoundError(f"calibration data {path.name!r} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError) as e:
            raise InvalidArgumentError(f"{path.name} is not a readable .npz file") from e
        if "X" not in arrays or "y" not in arrays:
            raise InvalidArgumentError(f"{path.name} must hold arrays 'X' and 'y'")
        return _held_out(arrays["X"], arrays["y"], arrays.get("ids"), path.name)
    if suffix in (".parquet", ".csv"):
        import pyarrow as pa
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path) if suffix == ".parquet" else pacsv.read_csv(path)
        except (OSError, pa.ArrowException) as e:
            raise InvalidArgumentError(f"{path.name} is not a readable {suffix} file") from e
        if label not in table.column_names:
            raise InvalidArgumentError(
                f"{path.name} has no label column {label!r} (columns: "
                f"{', '.join(table.column_names[:10])})"
            )
        ids = table.column("id").to_numpy() if "id" in table.column_names else None
        inputs = {
            c: table.column(c).to_numpy(zero_copy_only=False)
            for c in table.column_names
            if c not in (label, "id")
        }
        y = table.column(label).to_numpy(zero_copy_only=False)
        return _held_out(inputs, y, ids, path.name)
    raise InvalidArgumentError(
        f"calibration data must be .npz, .parquet or .csv, got {path.suffix or 'no suffix'!r}"
    )


def _held_out(inputs: Any, y: Any, ids: Any, source: str) -> _HeldOut:
    y_arr = np.asarray(y)
    if y_arr.ndim != 1 or y_arr.shape[0] == 0:
        raise InvalidArgumentError("y must be a non-empty list of labels, one per example")
    n = (
        len(next(iter(inputs.values())))
        if isinstance(inputs, dict) and inputs
        else len(np.asarray(inputs))
        if not isinstance(inputs, dict)
        else 0
    )
    if n != y_arr.shape[0]:
        raise InvalidArgumentError(f"X has {n} rows but y has {y_arr.shape[0]} labels")
    ids_arr = None if ids is None else np.asarray(ids)
    if ids_arr is not None and ids_arr.shape != y_arr.shape:
        raise InvalidArgumentError("ids must give one id per example")
    if isinstance(inputs, dict):
        from .core._fingerprint import fingerprint_columns

        fp, rows = fingerprint_columns(inputs), None
    else:
        fp, rows = fingerprint(np.asarray(inputs)).digest, rows_digest(np.asarray(inputs))
    return _HeldOut(inputs, y_arr, ids_arr, fp, rows, source)


def _load(data: Any, label: str, ids: Any) -> _HeldOut:
    if isinstance(data, (str, os.PathLike)):
        return _load_file(Path(data), label)
    if isinstance(data, tuple) and len(data) == 2:
        return _held_out(data[0], data[1], ids, "arrays")
    raise InvalidArgumentError(
        "data must be (X, y) or the path of a .npz/.parquet/.csv file with X and labels"
    )


def _as_model_inputs(model: Any, inputs: Any) -> Any:
    """A table's columns as the model takes them: by field name, or, for a model with one
    array input whose name is not a column, the columns stacked in file order as its matrix."""
    if not isinstance(inputs, dict):
        return inputs
    fields = [f.name for f in model.input_fields]
    if len(fields) == 1 and fields[0] not in inputs:
        try:
            return np.column_stack([np.asarray(c, dtype=np.float64) for c in inputs.values()])
        except (TypeError, ValueError) as e:
            raise InvalidArgumentError(
                f"the table's columns must be numbers to form {fields[0]!r}"
            ) from e
    return inputs


def _is_training(name: str, meta: Any) -> bool:
    role = meta.get("role") if isinstance(meta, dict) else None
    return role == "train" or (role is None and name.lower().startswith("train"))


def _refuse_training_overlap(client: Client, run_id: str | None, held: _HeldOut) -> None:
    if run_id is None:
        return
    try:
        datasets = client.list_datasets(run_id)
    except NotFoundError:  # the training run was purged: nothing left to compare against
        return
    held_ids = None if held.ids is None else {str(x) for x in held.ids.tolist()}
    for ds in datasets:
        if not _is_training(ds.name, dict(ds.meta)):
            continue
        if ds.fingerprint == held.fingerprint or (
            held.rows_digest is not None and ds.meta.get("rows_digest") == held.rows_digest
        ):
            raise InvalidArgumentError(
                f"the calibration data is the training data set {ds.name!r} the run "
                f"{run_id[:8]} logged; calibrate on held-out data"
            )
        if held_ids is None:
            continue
        train_ids: set[str] = set()
        logged = ds.meta.get("ids")
        if isinstance(logged, list):
            train_ids.update(str(x) for x in logged)
        try:
            table = client.load_predictions(run_id, ds.name)
            train_ids.update(str(x) for x in table.column("id").to_pylist())
        except NotFoundError:
            pass
        shared = held_ids & train_ids
        if shared:
            raise InvalidArgumentError(
                f"{len(shared)} calibration ids are in the training data set {ds.name!r} "
                f"of run {run_id[:8]}; calibrate on held-out data"
            )


def calibrate(
    client: Client,
    model_ref: str,
    data: Any,
    *,
    target_error: float = 0.02,
    confidence: float = 0.95,
    method: str = "ltt",
    score: str | ScoreFunction = "top",
    label: str = "y",
    ids: Any = None,
) -> Calibration:
    """See :meth:`labline.Client.calibrate`."""
    score_name = _score_name(score)
    resolved = client.resolve_model(model_ref)
    if resolved.version is None:
        raise InvalidArgumentError("calibrate a registered version (name/3 or name@alias)")
    version = client.get_model_version(resolved.name, resolved.version)
    model = client.load_model(f"{version.name}/{version.version}")
    if not model.has_proba:
        raise InvalidArgumentError(
            f"{version.name}/{version.version} gives no class probabilities to score"
        )
    held = _load(data, label, ids)
    _refuse_training_overlap(client, version.run_id, held)
    score_fn = resolve_score(score)
    inputs = _as_model_inputs(model, held.inputs)
    proba = model.predict_proba(inputs)
    guess = np.asarray(model.predict(inputs))
    y = held.y
    if guess.dtype.kind != y.dtype.kind and guess.dtype.kind in "iu" and y.dtype.kind in "iu":
        y = y.astype(guess.dtype)
    correct = guess == y
    scores = confidence_scores(proba, score_fn)
    result = calibrate_abstention(
        scores, correct, target=target_error, confidence=confidence, method=method
    )
    if not result.feasible or result.threshold is None:
        raise InfeasibleTargetError(result.summary(), result)
    parity_deferred = _parity_decisions(client, version.digest, score_fn, result.threshold)
    draft = CalibrationDraft(
        model_name=version.name,
        model_version=version.version,
        model_digest=version.digest,
        method=result.method,
        score=score_name,
        target_error=result.target,
        confidence=result.confidence,
        n=result.n,
        threshold=result.threshold,
        coverage=result.coverage,
        coverage_low=result.coverage_low,
        coverage_high=result.coverage_high,
        kept_error=float(result.kept_error or 0.0),
        risk_bound=float(result.risk_bound or 0.0),
        best_target=result.best_target,
        aurc=result.aurc,
        overall_error=result.overall_error,
        curve_coverage=result.curve_coverage,
        curve_risk=result.curve_risk,
        curve_threshold=result.curve_threshold,
        data_fingerprint=held.fingerprint,
        data_source=held.source,
        parity_deferred=parity_deferred,
        created_by=client.actor,
    )
    return client.store.add_calibration(draft)


def _score_name(score: str | ScoreFunction) -> str:
    if isinstance(score, str):
        return check_score_name(score)
    module = getattr(score, "__module__", None)
    qualname = getattr(score, "__qualname__", "")
    if not module or "<" in qualname or module == "__main__":
        raise InvalidArgumentError(
            "a score function must be importable (a module-level function, stored as "
            "'module:function' so serving and the parity gate can use it)"
        )
    return check_score_name(f"{module}:{qualname}")


def _parity_decisions(
    client: Client, digest: str, score: str | ScoreFunction, threshold: float
) -> tuple[bool, ...]:
    from .models._package import load_parity_value, read_verified

    pkg = read_verified(client.package_dir(digest), digest)
    parity = pkg.manifest.parity
    if parity is None or parity.get("proba") is None:
        return ()
    proba = load_parity_value(pkg, parity["proba"])
    return tuple(bool(x) for x in deferral_decisions(proba, score, threshold))
