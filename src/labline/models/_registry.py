"""The model registry service: register packages, resolve references, promote, diff.

Packages live in the blob store, content-addressed: the manifest under the package digest and
every file under its own SHA-256. To load one, the registry copies those blobs into a local
folder (``<home>/packages/<digest>``) and the verified loader checks every byte against the
digest the registry recorded, so a blob altered in the store, or a cached copy altered on
disk, is refused.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._exceptions import (
    DigestMismatchError,
    IntegrityError,
    InvalidArgumentError,
    NotFoundError,
)
from ..core._grammar import (
    Digest,
    check_alias_name,
    check_artifact_path,
    check_model_name,
    parse_model_ref,
)
from ..core._types import (
    AliasEvent,
    AliasRecord,
    ArtifactRecord,
    BadBlob,
    BlobVerification,
    LoggedModel,
    ModelDiff,
    ModelVersion,
    RegisteredModel,
    ResolvedRef,
)
from ._loaded import LoadedModel, load_package
from ._manifest import MANIFEST_FILE, Manifest
from ._package import read_verified, write_package
from ._parity import (
    DEFAULT_TOLERANCE,
    ParityReport,
    check_parity,
    replay_in_subprocess,
    require_parity,
)
from ._source import relpath_ok

if TYPE_CHECKING:
    from .._client import Client


@dataclass(frozen=True)
class Promotion:
    """The result of :meth:`Registry.promote`: the history event and the parity report."""

    event: AliasEvent
    parity: ParityReport | None


DEFAULT_MODEL_PATH = "model"
"""Where :meth:`Registry.log_model` puts a package among a run's artifacts by default."""


def _unnamed_package_name(folder: str) -> str:
    """The name in the manifest of a package logged without one: its folder's last part
    when that is a valid model name (registering later re-stamps the chosen name)."""
    last = folder.rsplit("/", 1)[-1]
    try:
        return check_model_name(last)
    except InvalidArgumentError:
        return DEFAULT_MODEL_PATH


def _hex(digest: str) -> str:
    return Digest.parse(digest).hex


def _diff_maps(a: dict[str, Any], b: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


class Registry:
    """Named models with immutable numbered versions and aliases with an append-only history.

    Args:
        client: the store (metadata and blobs) the registry lives in.

    Example:
        >>> registry = Registry(labline.Client())                        # doctest: +SKIP
        >>> registry.promote("digits", 3, "production", reason="better F1")  # doctest: +SKIP
    """

    def __init__(self, client: Client) -> None:
        self.client = client
        self.store = client.store
        self.blobs = client.blobs
        self.cache_dir = Path(client.settings.home) / "packages"

    # -- registering ---------------------------------------------------------------------------
    def log_model(
        self,
        run_id: str,
        model: Any,
        name: str | None = None,
        input_example: Any = None,
        eval_inputs: Any = None,
        *,
        eval_labels: Any = None,
        path: str | None = None,
        classes: Any = None,
        adapter: str | None = None,
        init_kwargs: Mapping[str, Any] | None = None,
        output: str | None = None,
        requirements: Mapping[str, str] | None = None,
        version: int | None = None,
        check: bool = True,
    ) -> ModelVersion | LoggedModel:
        """Package ``model`` into run ``run_id`` and, when ``name`` is given, register it.

        The package holds the weights, the model's own source files, the manifest (schema
        inferred from ``input_example``, class labels, Python version, pinned requirements, the
        run id, the run's data set fingerprints) and the parity record (the model's outputs on
        ``eval_inputs``). Its files become artifacts of the run under ``path`` (content goes
        to the blob store under its SHA-256), so a package logged without a name can be
        registered later with :meth:`register_logged` once a comparison has picked it.

        Args:
            run_id: the training run.
            model: scikit-learn estimator/pipeline, CPU torch module, or object with ``predict``.
            name: the registered model's name; ``None`` logs the package without registering.
            input_example: a small batch (2-D array, dict of columns or list of records).
            eval_inputs: the batch replayed by the parity gate (default: ``input_example``);
                also the data the package's reference profile (for drift monitoring) is
                built from.
            eval_labels: true labels of ``eval_inputs``, when known (the profile records the
                measured accuracy the alert rules compare with).
            path: the folder of the run's artifacts the package goes to (default ``model``,
                or ``model-2``, ``model-3``... when the run already logged another package).
            classes: class labels of a torch classifier (others: read from ``classes_``).
            adapter: force ``"sklearn"``, ``"torch"`` or ``"python"``.
            init_kwargs: constructor arguments of a torch module.
            output: torch classifiers: ``"logits"`` (default) or ``"proba"``.
            requirements: extra or overriding pinned ``{distribution: version}``.
            version: insist on a version number (refused if taken by other content).
            check: load the package back in this process and replay the parity record at
                once; a package that does not reproduce the model's outputs (source edited
                since training, state that did not survive serialization) is still
                logged, with a ``UserWarning``, since the parity gate will refuse to
                promote it.

        Returns:
            The registered version when ``name`` is given (an existing one if this exact
            package was registered before), else the :class:`LoggedModel`.

        Raises:
            InvalidArgumentError: the model or example cannot be packaged, or a bad name/path.
            ImmutableError: ``version`` is taken by other content, or the run already has
                other files at ``path``.
        """
        if input_example is None:
            raise InvalidArgumentError("input_example is required: a small batch of inputs")
        folder = None if path is None else check_artifact_path(path, "model path")
        if name is not None:
            check_model_name(name)
        package_name = name or _unnamed_package_name(folder or DEFAULT_MODEL_PATH)
        datasets = tuple(
            {"name": d.name, "fingerprint": d.fingerprint} for d in self.store.list_datasets(run_id)
        )
        with tempfile.TemporaryDirectory(prefix="labline-package-") as tmp:
            write_package(
                model,
                tmp,
                name=package_name,
                input_example=input_example,
                eval_inputs=eval_inputs,
                eval_labels=eval_labels,
                run_id=run_id,
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
                        f"model {package_name!r}: the package does not reproduce the model's "
                        f"outputs ({report.summary()}); the parity gate will refuse to promote it",
                        UserWarning,
                        stacklevel=4,
                    )
            logged = self._log_into_run(run_id, tmp, folder)
            if name is None:
                return logged
            return self.register_package(tmp, version=version)

    def _log_into_run(self, run_id: str, package: str, folder: str | None) -> LoggedModel:
        pkg = read_verified(package)
        if folder is None:
            folder = self._free_model_folder(run_id, pkg.digest)
        records = [
            ArtifactRecord(
                run_id=run_id,
                path=f"{folder}/{entry.path}",
                digest=self.blobs.put_file(Path(package) / entry.path),
                size=entry.size,
            )
            for entry in pkg.manifest.files
        ]
        manifest_bytes = pkg.contents[MANIFEST_FILE]
        records.append(
            ArtifactRecord(
                run_id=run_id,
                path=f"{folder}/{MANIFEST_FILE}",
                digest=self.blobs.put_bytes(manifest_bytes),
                size=len(manifest_bytes),
            )
        )
        self.store.add_artifacts(records)
        return LoggedModel(run_id=run_id, path=folder, digest=pkg.digest)

    def _free_model_folder(self, run_id: str, digest: str) -> str:
        """``model``, or ``model-2``, ``model-3``...: the first folder of the run holding no
        package or this very package (logging the same package twice is a no-op)."""
        manifests = {
            a.path: a.digest
            for a in self.store.list_artifacts(run_id)
            if a.path.endswith("/" + MANIFEST_FILE)
        }
        n = 1
        while True:
            folder = DEFAULT_MODEL_PATH if n == 1 else f"{DEFAULT_MODEL_PATH}-{n}"
            held = manifests.get(f"{folder}/{MANIFEST_FILE}")
            if held is None or held == _hex(digest):
                return folder
            n += 1

    def register_logged(
        self, run_id: str, path: str, name: str, *, version: int | None = None
    ) -> ModelVersion:
        """Register the package a run logged at ``path`` as a version of ``name``.

        Every file is copied out of the blob store and checked against its digest first. The
        version links to ``run_id`` (its ``run_id``, shown by ``labline models show``). A
        package logged under another name (or none) gets a manifest naming ``name``: the same
        files, a new package digest.

        Returns:
            The new version, or the existing one if this package was registered before.

        Raises:
            NotFoundError: the run has no model package at ``path``.
            DigestMismatchError: a stored file does not match its digest.
            InvalidArgumentError: a bad model name or path.
            ImmutableError: ``version`` is taken by other content.
        """
        check_model_name(name)
        folder = check_artifact_path(path, "model path")
        artifacts = {
            a.path: a for a in self.store.list_artifacts(run_id) if a.path.startswith(folder + "/")
        }
        manifest_record = artifacts.get(f"{folder}/{MANIFEST_FILE}")
        if manifest_record is None:
            raise NotFoundError(
                f"run {run_id} has no model package at {folder!r} (log one with run.log_model)"
            )
        manifest = Manifest.from_bytes(
            self.blobs.get_verified_bytes(
                manifest_record.digest, label=f"{folder}/{MANIFEST_FILE} of run {run_id}"
            )
        )
        with tempfile.TemporaryDirectory(prefix="labline-register-") as tmp:
            for entry in manifest.files:
                self.blobs.download_verified(
                    entry.sha256,
                    Path(tmp) / check_artifact_path(entry.path, "package file path"),
                    label=f"{folder}/{entry.path} of run {run_id}",
                )
            if manifest.name != name or manifest.run_id is None:
                manifest = dataclasses.replace(
                    manifest, name=name, run_id=manifest.run_id or run_id
                )
            (Path(tmp) / MANIFEST_FILE).write_bytes(manifest.canonical_bytes())
            return self.register_package(tmp, version=version)

    def register_package(
        self,
        folder: str | os.PathLike[str],
        *,
        actor: str | None = None,
        version: int | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> ModelVersion:
        """Verify the package in ``folder``, store its files as blobs and register it.

        ``meta`` adds entries to the version's listing summary (where it came from).

        Returns:
            The new version, or the existing one if this digest was already registered.

        Raises:
            DigestMismatchError: the package does not verify.
            ImmutableError: ``version`` is taken by other content.
        """
        pkg = read_verified(folder)
        for entry in pkg.manifest.files:
            stored = self.blobs.put_file(Path(folder) / entry.path)
            if stored != entry.sha256:  # changed between verification and upload
                raise DigestMismatchError(entry.path, entry.sha256, stored)
        self.blobs.put_bytes(pkg.contents[MANIFEST_FILE])
        m = pkg.manifest
        meta = {
            "adapter": m.adapter,
            "classes": list(m.classes) if m.classes is not None else None,
            "input_schema": [f.to_json() for f in m.input_schema],
            "python_version": m.python_version,
            **(meta or {}),
        }
        mv, _ = self.store.register_model_version(
            m.name,
            pkg.digest,
            run_id=m.run_id,
            created_by=actor or self.client.actor,
            meta=meta,
            version=version,
        )
        return mv

    # -- reading -------------------------------------------------------------------------------
    def list_models(self) -> list[RegisteredModel]:
        """Every registered model."""
        return self.store.list_registered_models()

    def list_versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name``. Raises NotFoundError."""
        return self.store.list_model_versions(name)

    def get_version(self, name: str, version: int) -> ModelVersion:
        """One version. Raises NotFoundError."""
        return self.store.get_model_version(name, version)

    def get_alias(self, name: str, alias: str) -> AliasRecord:
        """Where ``name@alias`` points now (version and digest); cheap, for polling.

        Raises:
            NotFoundError: no such alias.
        """
        return self.store.get_alias(name, alias)

    def resolve(self, ref: str) -> ResolvedRef:
        """Resolve ``"name@alias"``, ``"name/3"`` or ``"name"`` (latest version).

        Raises:
            NotFoundError: unknown model, version or alias.
            InvalidArgumentError: a malformed reference.
        """
        parsed = parse_model_ref(ref)
        name, alias, version = parsed.name, parsed.alias, parsed.version
        if alias is not None:
            rec = self.store.get_alias(name, alias)
            return ResolvedRef(name, rec.version, rec.digest)
        if version is None:
            versions = self.store.list_model_versions(name)
            if not versions:
                raise NotFoundError(f"model {name!r} has no versions")
            mv = versions[-1]
        else:
            mv = self.store.get_model_version(name, version)
        return ResolvedRef(name, mv.version, mv.digest)

    def manifest(self, digest: str) -> Manifest:
        """The verified manifest of a stored package.

        Raises:
            DigestMismatchError: the stored manifest does not hash to ``digest``.
        """
        return Manifest.from_bytes(self.blobs.get_verified_bytes(_hex(digest), label=MANIFEST_FILE))

    def package_dir(self, digest: str) -> Path:
        """The local copy of a stored package, built from the blob store if absent.

        The copy is built in a temporary folder, every file hashed as it is written, and
        renamed into place only once all of them matched: a corrupt blob never leaves a copy
        behind. An existing copy is returned as it is; :meth:`load` verifies it, and
        :meth:`verified_package_dir` checks it first.

        Raises:
            DigestMismatchError: a blob of the package differs from its digest; names the
                package file and the blob's location.
            NotFoundError: a blob is missing from the store.
        """
        target = self.cache_dir / _hex(digest)
        if (target / MANIFEST_FILE).is_file():
            return target
        if target.exists():  # an incomplete copy (written by hand or by an older labline)
            self._discard(target)
        manifest_bytes = self.blobs.get_verified_bytes(_hex(digest), label=MANIFEST_FILE)
        manifest = Manifest.from_bytes(manifest_bytes)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.cache_dir, prefix=".tmp-"))
        try:
            for entry in manifest.files:
                if not relpath_ok(entry.path) or entry.path == MANIFEST_FILE:
                    raise IntegrityError(
                        f"model package manifest lists an unsafe path {entry.path!r}"
                    )
                dest = tmp / entry.path
                dest.parent.mkdir(parents=True, exist_ok=True)
                self.blobs.copy_verified(entry.sha256, dest, label=entry.path)
            (tmp / MANIFEST_FILE).write_bytes(manifest_bytes)
            try:
                os.rename(tmp, target)
            except OSError:  # another process built it first
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target

    def _discard(self, folder: Path) -> None:
        """Remove a cached copy: renamed aside first (atomic), so no reader sees it half gone."""
        aside = folder.with_name(f".discard-{folder.name}-{os.getpid()}-{id(folder):x}")
        try:
            os.rename(folder, aside)
        except FileNotFoundError:  # another process discarded it already
            return
        shutil.rmtree(aside, ignore_errors=True)

    def verified_package_dir(self, digest: str) -> Path:
        """:meth:`package_dir`, with an existing copy re-hashed and rebuilt if it differs.

        For consumers that read the folder themselves (the parity replay) rather than through
        :meth:`load`, which verifies what it loads anyway.

        Raises:
            DigestMismatchError: a blob of the package in the store differs from its digest.
        """
        folder = self.package_dir(digest)
        try:
            read_verified(folder, digest)
        except DigestMismatchError:
            self._discard(folder)
            folder = self.package_dir(digest)
        return folder

    def load(self, ref: str) -> LoadedModel:
        """Resolve ``ref``, verify the package against the registry's digest and load it.

        The local copy is verified as it is loaded; a copy that fails (altered or deleted on
        disk after it was built) is discarded and rebuilt from the store's blobs, which are
        verified as they are copied.

        Raises:
            NotFoundError: unknown model, version or alias.
            DigestMismatchError: a blob of the package in the store is missing or altered.
        """
        resolved = self.resolve(ref)
        folder = self.package_dir(resolved.digest)
        try:
            return load_package(folder, expected_digest=resolved.digest, version=resolved.version)
        except DigestMismatchError:
            self._discard(folder)
        folder = self.package_dir(resolved.digest)
        return load_package(folder, expected_digest=resolved.digest, version=resolved.version)

    # -- verification --------------------------------------------------------------------------
    def versions_matching(self, ref: str | None) -> list[ModelVersion]:
        """The versions ``ref`` selects: ``"name/3"`` or ``"name@alias"`` one, ``"name"`` every
        version of it, ``None`` every version of every model.

        Raises:
            NotFoundError: unknown model, version or alias.
            InvalidArgumentError: a malformed reference.
        """
        if ref is None:
            return [v for m in self.list_models() for v in self.list_versions(m.name)]
        parsed = parse_model_ref(ref)
        name, alias, version = parsed.name, parsed.alias, parsed.version
        if alias is not None:
            return [self.get_version(name, self.store.get_alias(name, alias).version)]
        if version is not None:
            return [self.get_version(name, version)]
        return self.list_versions(name)

    def verify_versions(
        self,
        versions: list[ModelVersion],
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> BlobVerification:
        """Re-hash the store's blobs of ``versions`` (manifests and every file), each once.

        The store's blobs are the source every local copy is built from; loads verify the
        local copy they load, so rot in the store shows only here (or when a copy is rebuilt).

        Args:
            versions: the versions to check.
            progress: called with ``(blobs done, blobs in all)`` after each blob.

        Returns:
            How many distinct blobs were checked and every bad one, with the package files
            stored in it.
        """
        used_by: dict[str, list[str]] = {}
        order: list[str] = []

        def use(digest: str, label: str) -> None:
            if digest not in used_by:
                used_by[digest] = []
                order.append(digest)
            used_by[digest].append(label)

        manifests: dict[str, Manifest | None] = {}
        for mv in versions:
            digest = _hex(mv.digest)
            use(digest, f"{mv.name}/{mv.version}:{MANIFEST_FILE}")
            if digest not in manifests:
                try:
                    manifests[digest] = self.manifest(digest)
                except (DigestMismatchError, NotFoundError, IntegrityError):
                    manifests[digest] = None  # reported below; its files cannot be listed
            manifest = manifests[digest]
            for entry in manifest.files if manifest is not None else ():
                use(entry.sha256, f"{mv.name}/{mv.version}:{entry.path}")
        bad: list[BadBlob] = []
        for done, digest in enumerate(order, 1):
            actual = self.blobs.rehash(digest)
            if actual != digest:
                bad.append(
                    BadBlob(digest, actual, self.blobs.location(digest), tuple(used_by[digest]))
                )
            if progress is not None:
                progress(done, len(order))
        return BlobVerification(len(order), tuple(bad))

    # -- promotion -----------------------------------------------------------------------------
    def check_parity(
        self, name: str, version: int, *, tolerance: float = DEFAULT_TOLERANCE
    ) -> ParityReport:
        """Replay a version's parity record in a fresh interpreter and return the report."""
        mv = self.store.get_model_version(name, version)
        return replay_in_subprocess(
            self.verified_package_dir(mv.digest),
            mv.digest,
            tolerance=tolerance,
            deferral=self._deferral_record(name, mv.version),
        )

    def _deferral_record(self, name: str, version: int) -> dict[str, Any] | None:
        """The current calibration's decisions on the parity inputs, for the replay."""
        cal = self.store.current_calibration(name, version)
        if cal is None or not cal.parity_deferred:
            return None
        return {
            "score": cal.score,
            "threshold": cal.threshold,
            "deferred": list(cal.parity_deferred),
        }

    def promote(
        self,
        name: str,
        version: int,
        alias: str,
        *,
        actor: str | None = None,
        reason: str | None = None,
        skip_parity: bool = False,
        tolerance: float = DEFAULT_TOLERANCE,
    ) -> Promotion:
        """Point ``name@alias`` at ``version`` once the package passes the parity gate.

        Args:
            name: the model.
            version: the version to promote.
            alias: e.g. ``"production"``.
            actor: who (default: the client's actor).
            reason: why; required with ``skip_parity``.
            skip_parity: move the alias without the replay (recorded in the history).
            tolerance: largest accepted probability difference in the replay.

        Returns:
            The history event and the parity report.

        Raises:
            ParityError: the replay did not reproduce the recorded outputs (message = report).
            InvalidArgumentError: ``skip_parity`` without a reason, or a malformed alias.
            NotFoundError: unknown version.
        """
        check_alias_name(alias)
        server = self.store.server_side
        if server is not None:  # a labline server: the gate replays there, where the package is
            if skip_parity and (not reason or not reason.strip()):
                raise InvalidArgumentError("skipping the parity gate requires a reason (--reason)")
            if not 0 <= tolerance < 1:
                raise InvalidArgumentError("tolerance must be in [0, 1)")
            event, parity_json = server.promote(
                name,
                version,
                alias,
                reason=None if reason is None else reason.strip(),
                skip_parity=skip_parity,
                tolerance=tolerance,
            )
            gate = None if parity_json is None else ParityReport.from_json(parity_json)
            return Promotion(event, gate)
        mv = self.store.get_model_version(name, version)
        report: ParityReport | None = None
        if skip_parity:
            if not reason or not reason.strip():
                raise InvalidArgumentError("skipping the parity gate requires a reason (--reason)")
            parity = "skipped"
        else:
            if not 0 <= tolerance < 1:
                raise InvalidArgumentError("tolerance must be in [0, 1)")
            report = replay_in_subprocess(
                self.verified_package_dir(mv.digest),
                mv.digest,
                tolerance=tolerance,
                deferral=self._deferral_record(name, mv.version),
            )
            require_parity(report)
            parity = f"passed ({report.n} examples, max diff {report.max_abs_diff:.3g}"
            if report.deferral_checked:
                parity += f", {report.deferral_checked} deferral decisions"
            parity += ")"
        event = self.store.set_alias(
            name,
            alias,
            mv.version,
            actor=actor or self.client.actor,
            reason=(reason or "").strip(),
            parity=parity,
        )
        return Promotion(event, report)

    def history(self, name: str, alias: str | None = None) -> list[AliasEvent]:
        """The append-only history of one alias (or all aliases) of ``name``, oldest first.

        Raises:
            NotFoundError: unknown model, or an alias that was never set.
        """
        self.store.list_model_versions(name)  # raises NotFoundError for an unknown model
        events = self.store.alias_history(name, alias)
        if alias is not None and not events:
            raise NotFoundError(f"no alias {name}@{alias} (it was never set)")
        return events

    def live_at(self, name: str, alias: str, when: datetime) -> int | None:
        """Which version ``name@alias`` pointed at, at time ``when`` (``None``: not yet set).

        Raises:
            InvalidArgumentError: ``when`` has no timezone.
            NotFoundError: unknown model, or an alias that was never set.
        """
        if when.tzinfo is None:
            raise InvalidArgumentError(
                "the time must carry a timezone (e.g. 2026-03-03T12:00:00+00:00)"
            )
        live: int | None = None
        for ev in self.history(name, alias):
            if ev.at > when:
                break
            live = ev.to_version
        return live

    # -- diff ----------------------------------------------------------------------------------
    def diff(self, name: str, a: int, b: int) -> ModelDiff:
        """Compare two versions: training params, metrics, data fingerprints, files and code.

        Raises:
            NotFoundError: unknown version.
        """
        va, vb = self.store.get_model_version(name, a), self.store.get_model_version(name, b)
        ma, mb = self.manifest(va.digest), self.manifest(vb.digest)

        def run_info(run_id: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
            if run_id is None:
                return {}, {}
            try:
                run = self.client.get_run(run_id)
            except NotFoundError:
                return {}, {}
            return dict(run.params), {k: m.last_value for k, m in run.metrics.items()}

        pa, xa = run_info(ma.run_id)
        pb, xb = run_info(mb.run_id)
        return ModelDiff(
            name=name,
            a=a,
            b=b,
            params=_diff_maps(pa, pb),
            metrics=_diff_maps(xa, xb),
            datasets=_diff_maps(
                {d["name"]: d["fingerprint"] for d in ma.datasets},
                {d["name"]: d["fingerprint"] for d in mb.datasets},
            ),
            requirements=_diff_maps(dict(ma.requirements), dict(mb.requirements)),
            files=_diff_maps(
                {f.path: f.sha256 for f in ma.files}, {f.path: f.sha256 for f in mb.files}
            ),
            code=self._code_diff(ma, mb, a, b),
        )

    def _code_text(self, manifest: Manifest, path: str) -> list[str]:
        if path not in manifest.code:
            return []
        expected = manifest.file(path).sha256
        # show only the code that was registered
        data = self.blobs.get_verified_bytes(expected, label=path)
        return data.decode("utf-8", errors="replace").splitlines(keepends=True)

    def _code_diff(self, ma: Manifest, mb: Manifest, a: int, b: int) -> str:
        out: list[str] = []
        for path in sorted(set(ma.code) | set(mb.code)):
            fa = ma.file(path).sha256 if path in ma.code else None
            fb = mb.file(path).sha256 if path in mb.code else None
            if fa == fb:
                continue
            out.extend(
                difflib.unified_diff(
                    self._code_text(ma, path),
                    self._code_text(mb, path),
                    fromfile=f"v{a}/{path}" if fa else "/dev/null",
                    tofile=f"v{b}/{path}" if fb else "/dev/null",
                )
            )
        return "".join(line if line.endswith("\n") else line + "\n" for line in out)
