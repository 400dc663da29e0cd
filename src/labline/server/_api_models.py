"""``/api/v1/models``: registered models (and their editable card: description and tags),
versions, aliases and their history, resolving a reference, registering a run's package,
promotion (through the parity gate, replayed on the server), diffs and verification of the
stored packages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from .. import Client, InvalidArgumentError
from ..core import to_jsonable
from ..models import DEFAULT_TOLERANCE
from ._errors import ERROR_RESPONSES
from ._permissions import check_permission, request_client, requires
from ._principal import Permission
from ._schemas import (
    AliasAtOut,
    AliasEventOut,
    AliasOut,
    ManifestOut,
    ModelDiffOut,
    ModelVersionOut,
    ParityIn,
    ParityOut,
    PromoteIn,
    PromotionOut,
    RegisteredModelIn,
    RegisteredModelOut,
    RegisteredModelUpdateIn,
    RegisterIn,
    ResolvedOut,
    VerificationOut,
    VersionPath,
)

__all__ = ["router"]

router = APIRouter(prefix="/models", tags=["models"], responses=ERROR_RESPONSES)
ClientDep = Annotated[Client, Depends(request_client)]
READ = requires(Permission.READ)
RefQuery = Annotated[str, Query(min_length=1, max_length=600)]


def _version(v: object) -> ModelVersionOut:
    return ModelVersionOut.model_validate(to_jsonable(v))


def _registry_ref(ref: str) -> str:
    """Model references from a request name the registry only, never a folder on the server.

    Raises:
        InvalidArgumentError: a path-like reference.
    """
    _, slash, rest = ref.partition("/")
    if ref.startswith(("/", ".", "~")) or "\\" in ref or (slash and not rest.isdigit()):
        raise InvalidArgumentError(
            "ref must be name, name/VERSION or name@alias (the server resolves registry "
            "references only)"
        )
    return ref


@router.get("", dependencies=[READ], summary="List registered models")
def list_models(client: ClientDep) -> list[RegisteredModelOut]:
    """Every registered model with its latest version and aliases."""
    return [RegisteredModelOut.model_validate(to_jsonable(m)) for m in client.list_models()]


@router.get("/resolve", dependencies=[READ], summary="Resolve a model reference")
def resolve(client: ClientDep, ref: RefQuery) -> ResolvedOut:
    """``name@alias``, ``name/3`` or ``name`` → name, version and digest now."""
    r = client.resolve_model(_registry_ref(ref))
    return ResolvedOut(name=r.name, version=r.version, digest=r.digest)


@router.post(
    "/register",
    dependencies=[requires(Permission.REGISTER)],
    status_code=201,
    summary="Register a run's model package",
)
def register(client: ClientDep, body: RegisterIn) -> ModelVersionOut:
    """Register the package a run logged (``RUN/PATH``) as a version of ``name`` (the same
    package again returns its existing version)."""
    return _version(client.register_model(body.source, name=body.name, version=body.version))


@router.post("/verify", dependencies=[READ], summary="Verify stored packages")
def verify(
    client: ClientDep, ref: Annotated[str | None, Query(max_length=600)] = None
) -> VerificationOut:
    """Re-hash the stored blobs of one version (``name/3``, ``name@alias``), of every version
    of a model (``name``) or of every model, and report every bad file."""
    report = client.verify_models(None if ref is None else _registry_ref(ref))
    data: dict[str, Any] = to_jsonable(report)
    data["ok"] = report.ok
    return VerificationOut.model_validate(data)


@router.get("/{name}/versions", dependencies=[READ], summary="Versions of a model")
def list_versions(client: ClientDep, name: str) -> list[ModelVersionOut]:
    """Every version, oldest first."""
    return [_version(v) for v in client.list_model_versions(name)]


@router.get("/{name}/versions/{version:int}", dependencies=[READ], summary="One version")
def get_version(client: ClientDep, name: str, version: VersionPath) -> ModelVersionOut:
    """One version with its metadata."""
    return _version(client.get_model_version(name, version))


@router.get(
    "/{name}/versions/{version:int}/manifest", dependencies=[READ], summary="A version's manifest"
)
def manifest(client: ClientDep, name: str, version: VersionPath) -> ManifestOut:
    """The verified manifest of a version's package (files and their SHA-256)."""
    data = client.get_manifest(client.get_model_version(name, version).digest).to_json()
    return ManifestOut.model_validate(to_jsonable(data))


@router.post(
    "/{name}/versions/{version:int}/parity",
    dependencies=[requires(Permission.PROMOTE)],
    summary="Check parity (no promotion)",
)
def check_parity(client: ClientDep, name: str, version: VersionPath, body: ParityIn) -> ParityOut:
    """Replay the version's recorded evaluation inputs in a fresh process on the server and
    report whether it reproduces the recorded outputs (what promotion would check; moves no
    alias)."""
    report = client.check_parity(
        name, version, tolerance=DEFAULT_TOLERANCE if body.tolerance is None else body.tolerance
    )
    return ParityOut.model_validate({**to_jsonable(report.to_json()), "summary": report.summary()})


@router.post(
    "/{name}/versions/{version:int}/promote",
    dependencies=[requires(Permission.PROMOTE)],
    summary="Promote a version (parity gate)",
)
def promote(
    request: Request, client: ClientDep, name: str, version: VersionPath, body: PromoteIn
) -> PromotionOut:
    """Point ``name@alias`` at the version once a fresh process on the server reproduces its
    recorded outputs (422 when it does not). Skipping the gate needs the admin role and a
    reason."""
    if body.skip_parity:
        check_permission(request, Permission.ADMIN)
    promotion = client.promote(
        name,
        version,
        body.alias,
        reason=body.reason,
        skip_parity=body.skip_parity,
        tolerance=DEFAULT_TOLERANCE if body.tolerance is None else body.tolerance,
    )
    return PromotionOut(
        event=AliasEventOut.model_validate(to_jsonable(promotion.event)),
        parity=None if promotion.parity is None else to_jsonable(promotion.parity.to_json()),
    )


@router.get("/{name}/aliases", dependencies=[READ], summary="Aliases of a model")
def list_aliases(client: ClientDep, name: str) -> list[AliasOut]:
    """Where each alias points now."""
    client.list_model_versions(name)  # an unknown model is a 404, not an empty list
    return [AliasOut.model_validate(to_jsonable(a)) for a in client.list_aliases(name)]


@router.get("/{name}/aliases/{alias}", dependencies=[READ], summary="One alias")
def get_alias(client: ClientDep, name: str, alias: str) -> AliasOut:
    """Where ``name@alias`` points now."""
    return AliasOut.model_validate(to_jsonable(client.get_alias(name, alias)))


@router.get("/{name}/aliases/{alias}/at", dependencies=[READ], summary="An alias in the past")
def alias_at(
    client: ClientDep, name: str, alias: str, at: Annotated[datetime, Query()]
) -> AliasAtOut:
    """The version ``name@alias`` pointed at the time ``at`` (ISO 8601; ``null`` when the
    alias did not exist yet): which model answered a request at that moment."""
    when = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    client.list_model_versions(name)  # an unknown model is a 404
    return AliasAtOut(
        name=name, alias=alias, at=when, version=client.alias_version_at(name, alias, when)
    )


@router.get("/{name}/history", dependencies=[READ], summary="Alias history")
def alias_history(
    client: ClientDep, name: str, alias: Annotated[str | None, Query(max_length=250)] = None
) -> list[AliasEventOut]:
    """Every move of one alias (or of all), oldest first, with who made it and the parity
    outcome."""
    return [AliasEventOut.model_validate(to_jsonable(e)) for e in client.alias_history(name, alias)]


@router.get("/{name}/diff", dependencies=[READ], summary="Diff two versions")
def diff(
    client: ClientDep,
    name: str,
    a: Annotated[int, Query(ge=1, le=2**31 - 1)],
    b: Annotated[int, Query(ge=1, le=2**31 - 1)],
) -> ModelDiffOut:
    """What changed between versions ``a`` and ``b``: params, metrics, data, files, code."""
    return ModelDiffOut.model_validate(to_jsonable(client.diff_model_versions(name, a, b)))


def _model(m: object) -> RegisteredModelOut:
    return RegisteredModelOut.model_validate(to_jsonable(m))


REGISTER = requires(Permission.REGISTER)


@router.post("", dependencies=[REGISTER], status_code=201, summary="Create a registered model")
def create_model(client: ClientDep, body: RegisteredModelIn) -> RegisteredModelOut:
    """A registered model before its first version, with a description and tags (409 when
    the name is taken)."""
    return _model(client.create_model(body.name, description=body.description, tags=body.tags))


@router.get("/{name}", dependencies=[READ], summary="One registered model")
def get_model(client: ClientDep, name: str) -> RegisteredModelOut:
    """A registered model: latest version, aliases, description and tags."""
    return _model(client.get_model(name))


@router.patch("/{name}", dependencies=[REGISTER], summary="Edit a registered model's card")
def update_model(client: ClientDep, name: str, body: RegisteredModelUpdateIn) -> RegisteredModelOut:
    """Replace the description (when given), set tags and delete tags; versions stay as they
    are."""
    return _model(
        client.update_model(
            name, description=body.description, tags=body.tags, delete_tags=body.delete_tags
        )
    )


@router.delete(
    "/{name}", dependencies=[REGISTER], status_code=204, summary="Delete a model without versions"
)
def delete_model(client: ClientDep, name: str) -> Response:
    """Delete a registered model that has no versions (409: it has some, kept forever)."""
    client.delete_model(name)
    return Response(status_code=204)
