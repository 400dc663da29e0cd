"""Models: versions, aliases, the promotion history as a timeline (who, when, why, parity),
lineage to the training run and its data, parity reports, the diff between two versions, and
promotion through the parity gate (its report shown before and after) for roles that may."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ... import InvalidArgumentError, NotFoundError, ParityError
from .._principal import Permission
from ._common import client_for, int_param

if TYPE_CHECKING:
    from ._app import WebUI

MAX_FORM_BYTES = 16_384


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InvalidArgumentError(f"the form is larger than {MAX_FORM_BYTES} bytes")
    return {
        k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), max_num_fields=20).items()
    }


def _version_number(raw: str, field: str) -> int:
    if not raw.isdigit() or len(raw) > 9 or int(raw) < 1:
        raise InvalidArgumentError(f"{field} must be a version number, got {raw[:20]!r}")
    return int(raw)


def routes(ui: WebUI) -> list[BaseRoute]:
    """The models pages' routes."""

    def models_page(request: Request) -> Response:
        client = client_for(request)
        return ui.render(request, "models.html", nav="models", models=client.list_models())

    def model_context(request: Request, name: str) -> dict[str, Any]:
        client = client_for(request)
        model = client.get_model(name)  # a model may exist before its first version
        versions = client.list_model_versions(name)
        aliases = client.list_aliases(name)
        try:
            history = client.alias_history(name)
        except NotFoundError:
            history = []
        lineage: dict[int, tuple[Any, list[Any]]] = {}
        for v in versions:
            if v.run_id:
                try:
                    run = client.get_run(v.run_id)
                    lineage[v.version] = (run, client.list_datasets(run.id))
                except NotFoundError:
                    lineage[v.version] = (None, [])
        return {
            "nav": "models",
            "name": name,
            "model": model,
            "versions": list(reversed(versions)),
            "aliases": aliases,
            "history": list(reversed(history)),
            "lineage": lineage,
            "can_promote": request.state.principal.can(Permission.PROMOTE),
            "parity": None,
            "parity_version": None,
            "promotion": None,
            "refusal": None,
            "form": {},
        }

    def model_page(request: Request) -> Response:
        name = request.path_params["name"]
        return ui.render(request, "model.html", **model_context(request, name))

    async def check_parity(request: Request) -> Response:
        client_for(request, Permission.PROMOTE)
        name = request.path_params["name"]
        version = _version_number(request.path_params["version"], "version")
        from starlette.concurrency import run_in_threadpool

        report = await run_in_threadpool(request.state.client.check_parity, name, version)
        context = await run_in_threadpool(model_context, request, name)
        context.update(parity=report, parity_version=version)
        return ui.render(request, "model.html", **context)

    async def promote(request: Request) -> Response:
        client = client_for(request, Permission.PROMOTE)
        name = request.path_params["name"]
        form = await _form(request)
        version = _version_number(form.get("version", ""), "version")
        alias = form.get("alias", "").strip()
        reason = form.get("reason", "").strip() or None
        if not alias:
            raise InvalidArgumentError("alias must not be empty")
        from starlette.concurrency import run_in_threadpool

        promotion = None
        refusal = None
        try:
            promotion = await run_in_threadpool(
                lambda: client.promote(name, version, alias, reason=reason)
            )
        except ParityError as e:
            refusal = e.message
        context = await run_in_threadpool(model_context, request, name)
        context.update(promotion=promotion, refusal=refusal, form=form)
        return ui.render(request, "model.html", 422 if refusal else 200, **context)

    def diff_page(request: Request) -> Response:
        client = client_for(request)
        name = request.path_params["name"]
        a = int_param(request, "a", 1, 1, 10**9)
        b = int_param(request, "b", 2, 1, 10**9)
        diff = client.diff_model_versions(name, a, b)
        return ui.render(request, "model_diff.html", nav="models", name=name, diff=diff)

    return [
        Route("/models", models_page, name="models"),
        Route("/models/{name}", model_page, name="model"),
        Route("/models/{name}/diff", diff_page, name="model_diff"),
        Route("/models/{name}/promote", promote, methods=["POST"]),
        Route("/models/{name}/versions/{version}/parity", check_parity, methods=["POST"]),
    ]
