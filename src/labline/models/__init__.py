"""Verified model packages and the model registry.

* :func:`log_model` (through :meth:`labline.ActiveRun.log_model`) writes a package — weights,
  the model's own source, a manifest with every file's SHA-256, the parity record — and
  registers it as a new immutable version.
* :func:`load_model` verifies every byte before importing code or reading weights.
* :class:`Registry` moves aliases behind the parity gate and keeps their history.

See ``docs/models.md`` for the package format and what loading trusts.
"""

from ..core._types import AliasEvent as AliasEvent
from ..core._types import AliasRecord as AliasRecord
from ..core._types import ModelDiff as ModelDiff
from ..core._types import ModelVersion as ModelVersion
from ..core._types import RegisteredModel as RegisteredModel
from ..core._types import ResolvedRef as ResolvedRef
from ._adapters import skip_skops_estimator_scan as skip_skops_estimator_scan
from ._api import load_model as load_model
from ._api import log_model as log_model
from ._api import registry as registry
from ._api import resolve as resolve
from ._api import resolve_ref as resolve_ref
from ._loaded import LoadedModel as LoadedModel
from ._loaded import RequirementMismatch as RequirementMismatch
from ._loaded import load_package as load_package
from ._manifest import FileEntry as FileEntry
from ._manifest import Manifest as Manifest
from ._package import VerifiedPackage as VerifiedPackage
from ._package import read_verified as read_verified
from ._package import write_package as write_package
from ._parity import DEFAULT_TOLERANCE as DEFAULT_TOLERANCE
from ._parity import ParityDifference as ParityDifference
from ._parity import ParityReport as ParityReport
from ._registry import Promotion as Promotion
from ._registry import Registry as Registry
from ._schema import FieldSpec as FieldSpec
from ._schema import InputField as InputField

__all__ = [
    "DEFAULT_TOLERANCE",
    "AliasEvent",
    "AliasRecord",
    "FieldSpec",
    "FileEntry",
    "InputField",
    "LoadedModel",
    "Manifest",
    "ModelDiff",
    "ModelVersion",
    "ParityDifference",
    "ParityReport",
    "Promotion",
    "RegisteredModel",
    "Registry",
    "RequirementMismatch",
    "ResolvedRef",
    "VerifiedPackage",
    "load_model",
    "load_package",
    "log_model",
    "read_verified",
    "registry",
    "resolve",
    "resolve_ref",
    "skip_skops_estimator_scan",
    "write_package",
]
