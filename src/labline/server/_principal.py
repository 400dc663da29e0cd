"""Who is calling, and what each role may do: the one owner of the role table.

Every route of ``labline server`` (REST API, MLflow API, web UI) declares the one
:class:`Permission` it needs; :data:`ROLE_PERMISSIONS` decides which roles hold it.

Example:
    >>> Principal("alice", Role.RESEARCHER).can(Permission.WRITE_RUNS)
    True
    >>> Principal("bob", Role.VIEWER).can(Permission.PROMOTE)
    False
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .. import Role


class Permission(enum.StrEnum):
    """One right a route needs."""

    READ = "read"  # read anything but tokens
    WRITE_RUNS = "write_runs"  # experiments, runs, metrics, artifacts, datasets, hypotheses
    REGISTER = "register"  # register model versions
    PROMOTE = "promote"  # move aliases (through the parity gate)
    CALIBRATE = "calibrate"  # store a model version's calibration (researchers and engineers)
    ENQUEUE = "enqueue"  # queue answers for review (a model server), set reviews per item
    LABEL = "label"  # claim, label, undo and edit review items; import outside labels
    ADMIN = "admin"  # tokens, gc, schema


ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = MappingProxyType(
    {
        Role.ADMIN: frozenset(Permission),
        Role.RESEARCHER: frozenset(
            {
                Permission.READ,
                Permission.WRITE_RUNS,  # labelled datasets too: training data is theirs
                Permission.REGISTER,
                Permission.CALIBRATE,
                Permission.ENQUEUE,
            }
        ),
        # engineers run the model servers that queue deferred answers, and recalibrate a
        # version before promoting it (the gate replays its deferral decisions)
        Role.ENGINEER: frozenset(
            {Permission.READ, Permission.PROMOTE, Permission.CALIBRATE, Permission.ENQUEUE}
        ),
        Role.REVIEWER: frozenset({Permission.READ, Permission.LABEL}),
        Role.VIEWER: frozenset({Permission.READ}),
    }
)


@dataclass(frozen=True)
class Principal:
    """The caller of one request: the token's name (the actor recorded on writes) and role."""

    name: str
    role: Role

    def can(self, permission: Permission) -> bool:
        """Whether this principal's role holds ``permission``."""
        return permission in ROLE_PERMISSIONS[self.role]
