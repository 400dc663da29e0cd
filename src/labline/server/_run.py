"""Run ``labline server`` with uvicorn (one process, or N workers), and stop it cleanly.

Each worker process opens its own client on the same store (a database connection pool is not
shared across processes); the settings travel to workers in one environment variable.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any

from .. import Client, InvalidArgumentError, Settings
from ._app import ServerApp, create_app
from ._settings import ServerSettings

__all__ = ["CONFIG_ENV", "check_can_start", "run_server", "worker_app"]

CONFIG_ENV = "LABLINE_SERVER_CONFIG"
_log = logging.getLogger("labline.server")


def check_can_start(client: Client, settings: ServerSettings) -> None:
    """Refuse to serve beyond loopback without a token.

    Raises:
        InvalidArgumentError: bound to a non-loopback address and no token works; the message
            says how to create one.
    """
    if settings.requires_tokens and not client.has_active_tokens():
        raise InvalidArgumentError(
            f"refusing to listen on {settings.host}: no access token is configured, so anyone "
            "who can reach this address could read and change the store. Create one first "
            "with `labline server token create --name <you> --role admin` (same --store), or "
            "bind to 127.0.0.1"
        )


def _log_config(log_level: str, access_log: bool) -> dict[str, Any]:
    import uvicorn.config

    config: dict[str, Any] = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    quiet = "WARNING" if log_level == "info" else log_level.upper()
    config["loggers"]["uvicorn"]["level"] = quiet
    config["loggers"]["uvicorn.error"]["level"] = quiet
    config["loggers"]["uvicorn.access"]["level"] = "INFO" if access_log else "WARNING"
    config["loggers"]["labline"] = {"handlers": ["default"], "level": log_level.upper()}
    return config


def worker_app() -> ServerApp:
    """The app of one uvicorn worker process (``--workers N``), from :data:`CONFIG_ENV`."""
    config = json.loads(os.environ[CONFIG_ENV])
    c = config["client"]
    client = Client(
        settings=Settings(home=Path(c["home"]), uri=c["uri"], artifact_uri=c["artifact_uri"])
    )
    return create_app(client, ServerSettings(**config["server"]))


def run_server(client: Client, settings: ServerSettings) -> None:
    """Serve until stopped (SIGINT or SIGTERM end it cleanly: requests in flight finish, up
    to 30 s, then the store's connections are closed).

    Raises:
        InvalidArgumentError: bound beyond loopback without a token.
        MissingDependencyError: the ``server`` extra is not installed.
    """
    import uvicorn

    check_can_start(client, settings)
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": None,
        "log_config": _log_config(settings.log_level, settings.access_log),
        "access_log": settings.access_log,
        "timeout_graceful_shutdown": 30,
        "server_header": False,
    }
    auth = "tokens required" if client.has_active_tokens() else "no tokens: loopback only"
    _log.info(
        "labline server on http://%s:%d (%d worker%s, %s)",
        settings.host,
        settings.port,
        settings.workers,
        "" if settings.workers == 1 else "s",
        auth,
    )
    if settings.workers == 1:
        try:
            uvicorn.run(create_app(client, settings), **common)
        finally:
            client.close()
        return
    s = client.settings
    os.environ[CONFIG_ENV] = json.dumps(
        {
            "client": {"home": str(s.home), "uri": s.uri, "artifact_uri": s.artifact_uri},
            "server": dataclasses.asdict(settings),
        }
    )
    client.close()
    uvicorn.run("labline.server._run:worker_app", factory=True, workers=settings.workers, **common)
