"""Model serving: ``POST /predict``, the Open Inference Protocol V2, micro-batching, metrics.

Entry points: :func:`create_app` (an ASGI app for uvicorn) and ``labline serve``.
"""

from ._app import ModelServer as ModelServer
from ._app import create_app as create_app
from ._settings import ServeSettings as ServeSettings
from ._source import ModelSource as ModelSource
from ._source import RegistryModelSource as RegistryModelSource
from ._source import StaticModelSource as StaticModelSource

__all__ = [
    "ModelServer",
    "ModelSource",
    "RegistryModelSource",
    "ServeSettings",
    "StaticModelSource",
    "create_app",
]
