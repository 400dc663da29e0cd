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
    PROMOTE = "promote"  # move aliases (through the parity gate), calibrate
    LABEL = "label"  # claim and label review items
    ADMIN = "admin"  # tokens, gc, schema


ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = MappingProxyType(
    {
        Role.ADMIN: frozenset(Permission),
        Role.RESEARCHER: frozenset({Permission.READ, Permission.WRITE_RUNS, Permission.REGISTER}),
        Role.ENGINEER: frozenset({Permission.READ, Permission.PROMOTE}),
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
