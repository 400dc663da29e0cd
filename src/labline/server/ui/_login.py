"""Login with a token: the form, the HttpOnly SameSite=Strict cookie the server's
authentication layer reads (``labline_token``), and logging out."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

if TYPE_CHECKING:
    from ._app import WebUI

TOKEN_COOKIE = "labline_token"
"""The cookie ``labline server``'s authentication layer accepts besides a bearer header."""

MAX_FORM_BYTES = 16_384
COOKIE_MAX_AGE = 30 * 24 * 3600


def _safe_next(value: str | None) -> str:
    """Only a path on this site may be a redirect target (never ``//host`` or a URL)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/runs"
    return value


def login_page(ui: WebUI, request: Request, status_code: int = 200) -> Response:
    """The login form; it says so when the browser's token was refused."""
    refused = TOKEN_COOKIE in request.cookies
    message = (
        "The token saved in this browser was not accepted (unknown, expired or revoked). "
        "Log in again."
        if refused
        else ""
    )
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.url.path in ("/login", "/logout"):
        target = request.query_params.get("next", "/runs")
    return ui.render(
        request,
        "login.html",
        status_code,
        message=message,
        next=_safe_next(ui.url(request, target) if target.startswith("/") else target),
    )


def routes(ui: WebUI) -> list[BaseRoute]:
    """The login and logout routes."""

    async def login(request: Request) -> Response:
        if request.method == "GET":
            if getattr(request.state, "principal", None) is not None:
                return RedirectResponse(ui.url(request, "/runs"), 303)
            return login_page(ui, request)
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return ui.render(
                request, "login.html", 413, message="The form is too large.", next="/runs"
            )
        form = parse_qs(body.decode("utf-8", "replace"), max_num_fields=4)
        token = (form.get("token") or [""])[0].strip()
        target = _safe_next((form.get("next") or [""])[0])
        if not token:
            return ui.render(request, "login.html", 400, message="Enter a token.", next=target)
        response = RedirectResponse(target, 303)
        response.set_cookie(
            TOKEN_COOKIE,
            token,
            max_age=COOKIE_MAX_AGE,
            path="/",
            httponly=True,
            samesite="strict",
            secure=ui.secure_cookie,
        )
        return response

    async def logout(request: Request) -> Response:
        response = RedirectResponse(ui.url(request, "/login"), 303)
        response.delete_cookie(
            TOKEN_COOKIE, path="/", httponly=True, samesite="strict", secure=ui.secure_cookie
        )
        return response

    return [
        Route("/login", login, methods=["GET", "POST"], name="login"),
        Route("/logout", logout, methods=["POST"], name="logout"),
    ]
