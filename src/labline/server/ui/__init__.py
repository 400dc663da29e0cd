"""The web UI of ``labline server``: server-rendered pages (Jinja2) with small islands of
interactivity (htmx), uPlot and ECharts vendored in ``static/vendor`` with their licenses.
Mounted at ``/`` by the server; reads only ``request.state.principal`` / ``client``."""

from ._app import WebUI
from ._common import Features

__all__ = ["Features", "WebUI"]
