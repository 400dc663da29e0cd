"""Verified model packages and the model registry."""

from ._loaded import LoadedModel as LoadedModel
from ._loaded import load_package as load_package
from ._manifest import Manifest as Manifest
from ._package import read_verified as read_verified
from ._package import write_package as write_package
from ._schema import FieldSpec as FieldSpec
