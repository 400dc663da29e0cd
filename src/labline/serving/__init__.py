"""Model serving: ``POST /predict``, the Open Inference Protocol V2, micro-batching, metrics.

Entry points: :func:`create_app` (an ASGI app for uvicorn) and ``labline serve MODEL_REF``.
The model is loaded through the verified loader (every file's SHA-256, the input schema), so
the server runs exactly the packaged code. Every answer names the model (name, version,
package digest) in its body and in ``x-labline-model-*`` headers (a name that is not printable
ASCII is percent-encoded UTF-8 there).

HTTP::

    POST /predict        [{"input": [...]}, ...]  or  {"records": [...]}  or  {"columns": {...}}
                         -> {"model": {...}, "predictions": [...], "probabilities": [[...]],
                             "classes": [...]}
    GET  /v2, /v2/health/live, /v2/health/ready
    GET  /v2/models/{name}[/versions/{v}][/ready]
    POST /v2/models/{name}[/versions/{v}]/infer   JSON tensors or the binary-data extension
    GET  /metrics        Prometheus text (with ``--workers N``, summed over all workers)

Malformed input is answered with a 4xx ``{"error": "..."}`` naming the field or tensor, never
quoting the payload; the status codes come from the HTTP error table shared with
``labline server`` (``labline._http_errors``). Input values are checked by the model's own
input fields, the rule set :meth:`labline.LoadedModel.predict` applies. Concurrent requests
are coalesced into one model call (see :mod:`labline.serving._batching` for the policy). A
server on ``name@alias`` polls the registry and switches, after verification, when the alias
moves; with several workers the parent polls and every worker follows within a bounded time
(:mod:`labline.serving._workers`).

Example:
    >>> from labline.serving import ServeSettings, RegistryModelSource, create_app
    >>> client = labline.Client()  # doctest: +SKIP
    >>> app = create_app(ServeSettings(), RegistryModelSource("digits@production", client))  # doctest: +SKIP
"""

from ._app import ModelServerApp as ModelServerApp
from ._app import create_app as create_app
from ._server import ModelServer as ModelServer
from ._settings import ServeSettings as ServeSettings
from ._source import ModelSource as ModelSource
from ._source import RegistryModelSource as RegistryModelSource
from ._source import StaticModelSource as StaticModelSource
from ._workers import ServeOptions as ServeOptions
from ._workers import run_server as run_server

__all__ = [
    "ModelServer",
    "ModelServerApp",
    "ModelSource",
    "RegistryModelSource",
    "ServeOptions",
    "ServeSettings",
    "StaticModelSource",
    "create_app",
    "run_server",
]
