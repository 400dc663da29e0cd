"""One run: params, tags, status, environment, data fingerprints, metric charts (downsampled on
the server, refetched on zoom), artifacts to browse and download, a predictions summary, and
its parent and child runs."""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ... import InvalidArgumentError, NotFoundError, SeriesEnvelope
from ._common import client_for, float_param, int_param

if TYPE_CHECKING:
    from ._app import WebUI

MAX_BUCKETS = 4000
MAX_KEYS_PER_REQUEST = 50


def _finite(values: Any) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values.tolist()]


def envelope_json(env: SeriesEnvelope) -> dict[str, Any]:
    """A :class:`SeriesEnvelope` as the charts read it."""
    return {
        "x": env.x.tolist(),
        "low": _finite(env.low),
        "high": _finite(env.high),
        "n_points": env.n_points,
        "n_buckets": env.n_buckets,
        "exact": env.exact,
    }


def _artifact_tree(paths: list[str], prefix: str) -> tuple[list[str], list[str]]:
    """Folders and files directly under ``prefix`` (``""``: the top)."""
    folders: set[str] = set()
    files = []
    for path in paths:
        if not path.startswith(prefix):
            continue
        rest = path[len(prefix) :]
        head, slash, _ = rest.partition("/")
        if slash:
            folders.add(prefix + head + "/")
        else:
            files.append(path)
    return sorted(folders), sorted(files)


def routes(ui: WebUI) -> list[BaseRoute]:
    """The run page's routes."""

    def run_page(request: Request) -> Response:
        client = client_for(request)
        run = client.get_run(request.path_params["run_id"])
        parent = None
        if run.parent_id:
            try:
                parent = client.get_run(run.parent_id)
            except NotFoundError:
                parent = None
        children = client.child_runs(run.id)
        datasets = client.list_datasets(run.id)
        predictions = client.list_predictions(run.id)
        artifacts = client.list_artifacts(run.id)
        prefix = request.query_params.get("dir", "")
        folders, files = _artifact_tree([a.path for a in artifacts], prefix)
        sizes = {a.path: a.size for a in artifacts}
        chosen = request.query_params.get("predictions") or (
            predictions[0].dataset if predictions else None
        )
        summary = None
        summary_error = None
        if chosen:
            try:
                summary = client.predictions_summary(run.id, chosen, worst=20)
            except NotFoundError as e:
                summary_error = e.message
        env = dict(run.env)
        return ui.render(
            request,
            "run.html",
            nav="runs",
            run=run,
            parent=parent,
            children=children,
            datasets=datasets,
            predictions=predictions,
            chosen=chosen,
            summary=summary,
            summary_error=summary_error,
            peak=max((max(row) for row in summary.confusion if row), default=1) or 1
            if summary
            else 1,
            folders=folders,
            files=files,
            sizes=sizes,
            prefix=prefix,
            env=env,
            metric_keys=sorted(run.metrics),
            user_tags={k: v for k, v in run.tags.items()},
        )

    def metric_data(request: Request) -> Response:
        client = client_for(request)
        env = client.metric_envelope(
            request.path_params["run_id"],
            request.path_params["key"],
            buckets=int_param(request, "buckets", 1000, 1, MAX_BUCKETS),
            step_min=float_param(request, "min"),
            step_max=float_param(request, "max"),
        )
        return JSONResponse(envelope_json(env))

    def metrics_data(request: Request) -> Response:
        """Several of a run's series at once (``?key=a&key=b``): a run page draws all its
        charts from one request instead of one each."""
        client = client_for(request)
        keys = list(dict.fromkeys(request.query_params.getlist("key")))
        if not keys or len(keys) > MAX_KEYS_PER_REQUEST:
            raise InvalidArgumentError(
                f"key: give 1 to {MAX_KEYS_PER_REQUEST} metric keys, got {len(keys)}"
            )
        buckets = int_param(request, "buckets", 1000, 1, MAX_BUCKETS)
        run_id = request.path_params["run_id"]
        return JSONResponse(
            {
                "series": {
                    key: envelope_json(client.metric_envelope(run_id, key, buckets=buckets))
                    for key in keys
                }
            }
        )

    def artifact(request: Request) -> Response:
        client = client_for(request)
        run_id = request.path_params["run_id"]
        path = request.path_params["path"]
        folder = tempfile.mkdtemp(prefix="labline-ui-")
        try:
            local = client.download_artifact(run_id, path, Path(folder) / "file")
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return FileResponse(
            local,
            filename=path.rsplit("/", 1)[-1],
            background=BackgroundTask(shutil.rmtree, folder, True),
        )

    return [
        Route("/runs/{run_id}", run_page, name="run"),
        Route("/runs/{run_id}/artifacts/{path:path}", artifact, name="artifact"),
        Route("/ui-api/runs/{run_id}/metrics", metrics_data, name="metrics_data"),
        Route("/ui-api/runs/{run_id}/metrics/{key:path}", metric_data, name="metric_data"),
    ]
