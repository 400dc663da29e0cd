"""``/api/v1`` calibrations (calibrated abstention): one by id, and those of a model version
(the one serving uses is its newest). ``labline calibrate`` computes a calibration where its
data is and stores it here (the ``calibrate`` right: researchers and engineers), recorded as
the token's name."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from .. import CalibrationDraft, Client, NotFoundError
from ..core import to_jsonable
from ._errors import ERROR_RESPONSES
from ._permissions import request_client, requires
from ._principal import Permission
from ._schemas import CalibrationOut, IdPath, VersionPath
from ._schemas_review import CalibrationIn

__all__ = ["router"]

router = APIRouter(tags=["calibrations"], responses=ERROR_RESPONSES)
ClientDep = Annotated[Client, Depends(request_client)]
READ, CALIBRATE = requires(Permission.READ), requires(Permission.CALIBRATE)


def _out(calibration: object) -> CalibrationOut:
    return CalibrationOut.model_validate(to_jsonable(calibration))


@router.get("/calibrations/{calibration_id:int}", dependencies=[READ], summary="Get a calibration")
def get_calibration(client: ClientDep, calibration_id: IdPath) -> CalibrationOut:
    """One stored calibration: threshold, coverage with its interval, risk bound, the
    risk-coverage curve and the data it was computed on."""
    return _out(client.get_calibration(calibration_id))


@router.get(
    "/models/{name}/versions/{version:int}/calibrations",
    dependencies=[READ],
    summary="Calibrations of a version",
)
def list_calibrations(client: ClientDep, name: str, version: VersionPath) -> list[CalibrationOut]:
    """Every calibration of ``name/version``, oldest first."""
    client.get_model_version(name, version)  # an unknown version is a 404
    return [_out(c) for c in client.list_calibrations(f"{name}/{version}")]


@router.get(
    "/models/{name}/versions/{version:int}/calibration",
    dependencies=[READ],
    summary="The calibration serving uses",
)
def current_calibration(client: ClientDep, name: str, version: VersionPath) -> CalibrationOut:
    """The calibration a model server applies to ``name/version`` (its newest); 404 when the
    version has none."""
    current = client.current_calibration(name, version)
    if current is None:
        raise NotFoundError(f"model {name}/{version} has no calibration (labline calibrate)")
    return _out(current)


@router.post(
    "/models/{name}/versions/{version:int}/calibrations",
    dependencies=[CALIBRATE],
    status_code=201,
    summary="Store a calibration",
)
def add_calibration(
    client: ClientDep, name: str, version: VersionPath, body: CalibrationIn
) -> CalibrationOut:
    """Store a calibration of ``name/version`` computed by ``labline calibrate`` (it becomes
    the version's current one; 404 for an unknown version, 400 naming the field for a value
    that is not acceptable or a digest that is not the version's)."""
    fields = body.model_dump()
    draft = CalibrationDraft(
        model_name=name,
        model_version=version,
        created_by=client.actor,
        **{
            **fields,
            **{k: tuple(fields[k]) for k in ("curve_coverage", "curve_risk", "curve_threshold")},
            "parity_deferred": tuple(fields["parity_deferred"]),
        },
    )
    return _out(client.add_calibration_record(draft))
