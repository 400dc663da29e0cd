"""placeholder"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

if TYPE_CHECKING:
    from ._app import WebUI


def routes(ui: WebUI) -> list[BaseRoute]:
    """Routes."""
    return []
