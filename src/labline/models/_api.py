"""Module-level entry points: ``log_model``, ``load_model``, ``resolve``, ``registry``."""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._settings import Settings
from ..store._registry_base import ModelVersion
from ._loaded import LoadedModel, load_package
from ._manifest import MANIFEST_FILE
from ._package import read_verified, write_package
from ._parity import check_parity
from ._registry import Registry, ResolvedRef


def registry(settings: Settings | None = None) -> Registry:
    """The registry of the store ``settings`` points at (``Settings.from_env()`` by default)."""
    # The process-wide client: serving polls resolve() for alias moves, and reopening the
    # store (and re-checking its schema) on every poll would dominate a registry lookup.
    from .._tracking import default_client

    return Registry(default_client(settings))


def _is_package_path(ref: str | os.PathLike[str]) -> bool:
    return isinstance(ref, os.PathLike) or (Path(ref) / MANIFEST_FILE).is_file()


def load_model(ref: str | os.PathLike[str], *, settings: Settings | None = None) -> LoadedModel:
    """Load a model package after verifying every file's SHA-256.

    Args:
        ref: ``"name@alias"``, ``"name/3"``, ``"name"`` (latest version) or a package folder.
        settings: the store holding the registry (``Settings.from_env()`` by default); not
            needed for a folder.

    Returns:
        The loaded model.

    Raises:
        DigestMismatchError: a file is missing or altered; nothing was imported or read.
        NotFoundError: unknown model, version or alias.

    Example:
        >>> model = labline.load_model("digits@production")  # doctest: +SKIP
        >>> model.predict(batch)                             # doctest: +SKIP
    """
    if _is_package_path(ref):
        return load_package(ref)
    return registry(settings).load(str(ref))


def resolve(ref: str | os.PathLike[str], *, settings: Settings | None = None) -> ResolvedRef:
    """Return ``(name, version, digest)`` that ``ref`` points at now, without loading it.

    Raises:
        NotFoundError: unknown model, version or alias.
        DigestMismatchError: ``ref`` is a folder whose manifest cannot be read.
    """
    if _is_package_path(ref):
        pkg = read_verified(ref)
        return ResolvedRef(pkg.manifest.name, None, pkg.digest)
    return registry(settings).resolve(str(ref))


resolve_ref = resolve


def log_model(
    run: Any,
    model: Any,
    name: str,
    input_example: Any,
    eval_inputs: Any = None,
    *,
    classes: Any = None,
    adapter: str | None = None,
    init_kwargs: Mapping[str, Any] | None = None,
    output: str | None = None,
    requirements: Mapping[str, str] | None = None,
    version: int | None = None,
    check: bool = True,
) -> ModelVersion:
    """Package ``model`` for the run ``run`` and register it as a new version of ``name``.

    Called by :meth:`labline.ActiveRun.log_model`. The package holds the weights, the model's
    own source files, the manifest (schema inferred from ``input_example``, class labels,
    Python version, pinned requirements, the run id, the run's data set fingerprints) and the
    parity record (the model's outputs on ``eval_inputs``). Every file goes to the run's blob
    store under its SHA-256.

    Args:
        run: the active run.
        model: scikit-learn estimator/pipeline, CPU torch module, or object with ``predict``.
        name: the registered model's name.
        input_example: a small batch (2-D array, dict of columns or list of records).
        eval_inputs: the batch replayed by the parity gate (default: ``input_example``).
        classes: class labels of a torch classifier (others: read from ``classes_``).
        adapter: force ``"sklearn"``, ``"torch"`` or ``"python"``.
        init_kwargs: constructor arguments of a torch module.
        output: torch classifiers: ``"logits"`` (default) or ``"proba"``.
        requirements: extra or overriding pinned ``{distribution: version}``.
        version: insist on a version number (refused if taken by other content).
        check: load the package back in this process and replay the parity record at once;
            a package that does not reproduce the model's outputs (source edited since
            training, state that did not survive serialization) is still registered, with a
            ``UserWarning``, since the parity gate will refuse to promote it.

    Returns:
        The registered version (an existing one if this exact package was registered before).

    Raises:
        InvalidArgumentError: the model or example cannot be packaged.
        ImmutableError: ``version`` is taken by other content.
    """
    client = run.client
    datasets = tuple(
        {"name": d.name, "fingerprint": d.fingerprint} for d in client.list_datasets(run.id)
    )
    with tempfile.TemporaryDirectory(prefix="labline-package-") as tmp:
        write_package(
            model,
            tmp,
            name=name,
            input_example=input_example,
            eval_inputs=eval_inputs,
            run_id=run.id,
            datasets=datasets,
            adapter=adapter,
            classes=classes,
            init_kwargs=init_kwargs,
            output=output,
            requirements=requirements,
        )
        if check:
            report = check_parity(load_package(tmp))
            if not report.passed:
                warnings.warn(
                    f"model {name!r}: the package does not reproduce the model's outputs "
                    f"({report.summary()}); the parity gate will refuse to promote it",
                    UserWarning,
                    stacklevel=3,
                )
        return Registry(client).register_package(tmp, version=version)
