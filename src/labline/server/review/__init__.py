"""The review page: one item at a time with the model's guess, driven from the keyboard.

A mountable ASGI app (:class:`ReviewApp`) that reads the caller from the request contract of
``labline server`` (``request.state.principal`` / ``request.state.client``); ``labline server``
mounts it at ``/review``. ``labline review serve`` serves it alone on 127.0.0.1, wrapped in
:class:`LocalReviewer`, which makes every request the local user's.
"""

from ._app import ReviewApp, ReviewPage
from ._local import LocalReviewer, serve_locally

__all__ = ["LocalReviewer", "ReviewApp", "ReviewPage", "serve_locally"]
