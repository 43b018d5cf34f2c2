"""The monitor's web application (Starlette): pages, JSON API, event streams, actions.

Pages are small HTML shells (Jinja2, autoescaped) whose modules in ``static/`` fetch the
JSON API and build the DOM with text nodes only, so no name, command or output can ever
be read as HTML. Every blocking read or action on the link runs in a worker thread.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from swf_domain.errors import SomaWorkflowError, UnknownObjectError

from .auth import TokenGuard
from .details import job_detail
from .graph_view import graph
from .hub import Hub
from .model import SORT_KEYS
from .source import JobQuery
from .timeline import series

STATIC = Path(__file__).parent / "static"
TEMPLATES = Path(__file__).parent / "templates"


def server_version() -> str:
    """swf's version and a digest of the pages' files: a page compares it with the one it
    was served with, and reloads when the monitor it talks to was upgraded (or restarted
    from other files) since."""
    digest = hashlib.sha256()
    for path in sorted([*STATIC.iterdir(), *TEMPLATES.iterdir()]):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    try:
        release = metadata.version("swf")
    except metadata.PackageNotFoundError:
        release = "unknown"
    return f"{release}+{digest.hexdigest()[:12]}"


class _Assets(StaticFiles):
    """The pages' files, revalidated on every load (cheap: ETag), so that a page reloaded
    after an upgrade never runs an older cached script."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


def create_app(hub: Hub, token: str) -> Any:
    """The ASGI application, guarded by ``token``."""
    pages = Environment(
        loader=PackageLoader("swf_entry.monitor", "templates"),
        autoescape=select_autoescape(default=True),
    )
    version = server_version()
    api = MonitorApi(hub, version)

    def page(template: str, **values: Any) -> Callable[[Request], Any]:
        async def render(request: Request) -> HTMLResponse:
            params = {key: int(value) for key, value in request.path_params.items()}
            template_values = {"token": token, "version": version, **values, **params}
            text = pages.get_template(template).render(**template_values)
            return HTMLResponse(text, headers=_page_headers())

        return render

    routes = [
        Route("/", page("workflows.html")),
        Route("/workflows/{workflow_id:int}", page("workflow.html")),
        Route("/workflows/{workflow_id:int}/jobs/{job_id:int}", page("job.html")),
        *api.routes(),
        Mount("/static", _Assets(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    app.state.hub = hub
    return TokenGuard(app, token)


def _page_headers() -> dict[str, str]:
    """No inline script, nothing from elsewhere: a stray injected tag could not run."""
    return {
        "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
        "style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return JSONResponse({"error": error.detail}, status_code=error.status_code)


def _int(request: Request, name: str, default: int) -> int:
    try:
        return int(request.query_params.get(name, default))
    except ValueError:
        raise HTTPException(400, f"{name} must be an integer") from None


def _job_query(request: Request) -> JobQuery:
    """The job table's query string, checked."""
    params = request.query_params
    sort = params.get("sort", "index")
    if sort not in SORT_KEYS:
        raise HTTPException(400, f"sort must be one of {', '.join(SORT_KEYS)}")
    group = params.get("group")
    return JobQuery(
        offset=max(0, _int(request, "offset", 0)),
        limit=max(1, min(1000, _int(request, "limit", 50))),
        statuses=frozenset(s for s in params.get("status", "").split(",") if s),
        text=params.get("q", "").strip(),
        group=int(group) if group and group.isdigit() else None,
        sort=sort,
        descending=params.get("desc") in ("1", "true"),
    )


class MonitorApi:
    """The JSON endpoints, each a thin call into the hub and its models."""

    def __init__(self, hub: Hub, version: str) -> None:
        self.hub = hub
        self.version = version

    def routes(self) -> list[Route]:
        wf = "/api/workflows/{workflow_id:int}"
        return [
            Route("/api/version", self.server_version),
            Route("/api/workflows", self.workflows),
            Route(wf, self.workflow),
            Route(wf + "/tree", self.tree),
            Route(wf + "/jobs", self.jobs),
            Route(wf + "/graph", self.graph),
            Route(wf + "/timeline", self.timeline),
            Route(wf + "/jobs/{job_id:int}", self.job),
            Route(wf + "/jobs/{job_id:int}/output", self.output),
            Route("/api/events", self.list_events),
            Route(wf + "/events", self.workflow_events),
            Route(wf + "/stop", self.stop, methods=["POST"]),
            Route(wf + "/restart", self.restart, methods=["POST"]),
            Route(wf + "/delete", self.delete, methods=["POST"]),
            Route(wf + "/expiration", self.expiration, methods=["POST"]),
            Route(wf + "/jobs/stop", self.stop_jobs, methods=["POST"]),
            Route(wf + "/jobs/restart", self.restart_jobs, methods=["POST"]),
        ]

    async def _call(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run a blocking read or action; swf's errors become 404 / 409 with the message."""
        try:
            return await run_in_threadpool(function, *args)
        except UnknownObjectError as error:
            raise HTTPException(404, str(error)) from None
        except SomaWorkflowError as error:
            raise HTTPException(409, str(error)) from None

    # -- reads ------------------------------------------------------------------------
    async def server_version(self, request: Request) -> JSONResponse:
        return JSONResponse({"version": self.version})

    async def workflows(self, request: Request) -> JSONResponse:
        items = await self._call(self.hub.list_items)
        return JSONResponse({"workflows": [item.as_json() for item in items], "now": time.time()})

    async def workflow(self, request: Request) -> JSONResponse:
        """The summary; from the link's aggregate read while the model loads."""
        workflow_id = request.path_params["workflow_id"]
        model = await self._call(self.hub.loaded, workflow_id)
        if model is None:
            return JSONResponse(await self._call(self.hub.source.summary, workflow_id))
        summary = model.summary()
        summary["groups"] = len(model.groups) - 1
        return JSONResponse(summary)

    async def tree(self, request: Request) -> JSONResponse:
        model = await self._call(self.hub.current, request.path_params["workflow_id"])
        return JSONResponse(await run_in_threadpool(model.tree))

    async def jobs(self, request: Request) -> JSONResponse:
        """A page of the job table: from the model, or read by the store while the model
        loads (a group's jobs need the model: that waits for it)."""
        workflow_id = request.path_params["workflow_id"]
        query = _job_query(request)
        model = await self._call(self.hub.loaded, workflow_id)
        if model is None and query.group is None:
            page = await self._call(self.hub.source.job_page, workflow_id, query)
            self.hub.prefetch(workflow_id)  # the first view is served: read the rest now
            return JSONResponse(page)
        if model is None:
            model = await self._call(self.hub.current, workflow_id)
        return JSONResponse(await run_in_threadpool(model.query, query))

    async def graph(self, request: Request) -> JSONResponse:
        workflow_id = request.path_params["workflow_id"]
        shape = await self._call(self.hub.layout, workflow_id)
        model = await self._call(self.hub.current, workflow_id)
        return JSONResponse(await run_in_threadpool(graph, model, shape))

    async def timeline(self, request: Request) -> JSONResponse:
        model = await self._call(self.hub.current, request.path_params["workflow_id"])

        def sampled() -> dict[str, Any]:
            with model.lock:
                facts = list(model.facts)
            return series(facts, model.slots, time.time())

        return JSONResponse(await run_in_threadpool(sampled))

    async def job(self, request: Request) -> JSONResponse:
        workflow_id, job_id = request.path_params["workflow_id"], request.path_params["job_id"]
        model = await self._call(self.hub.current, workflow_id)
        if job_id not in model.index_of:
            raise HTTPException(404, f"workflow {workflow_id} has no job {job_id}")
        params = await self._call(self.hub.source.output_params, job_id)
        detail = job_detail(model, job_id, params)
        if detail is not None:
            detail["command_run"] = await self._call(self.hub.source.command_run, job_id)
        return JSONResponse(detail)

    async def output(self, request: Request) -> JSONResponse:
        workflow_id, job_id = request.path_params["workflow_id"], request.path_params["job_id"]
        stream = request.query_params.get("stream", "stdout")
        if stream not in ("stdout", "stderr"):
            raise HTTPException(400, "stream must be stdout or stderr")
        # Checked without the loaded workflow: the output shows while it loads.
        if await self._call(self.hub.source.workflow_of_job, job_id) != workflow_id:
            raise HTTPException(404, f"workflow {workflow_id} has no job {job_id}")
        offset = max(0, _int(request, "offset", 0))
        return JSONResponse(await self._call(self.hub.source.job_output, job_id, stream, offset))

    # -- event streams ----------------------------------------------------------------
    async def list_events(self, request: Request) -> StreamingResponse:
        return _event_stream(self.hub.events("workflows"))

    async def workflow_events(self, request: Request) -> StreamingResponse:
        workflow_id = request.path_params["workflow_id"]
        first = await self._call(self.hub.first_event, workflow_id)  # 404 before streaming
        return _event_stream(self.hub.events(f"workflow:{workflow_id}", first))

    # -- actions ----------------------------------------------------------------------
    async def _act(self, request: Request, action: Callable[..., bool], *args: Any) -> JSONResponse:
        workflow_id = request.path_params["workflow_id"]
        done = await self._call(action, workflow_id, *args)
        return JSONResponse({"ok": bool(done)})

    async def stop(self, request: Request) -> JSONResponse:
        return await self._act(request, self.hub.source.stop_workflow)

    async def restart(self, request: Request) -> JSONResponse:
        return await self._act(request, self.hub.source.restart_workflow)

    async def delete(self, request: Request) -> JSONResponse:
        response = await self._act(request, self.hub.source.delete_workflow)
        self.hub.drop(request.path_params["workflow_id"])
        return response

    async def expiration(self, request: Request) -> JSONResponse:
        body = await _body(request)
        value = body.get("expiration")
        if value is not None and not isinstance(value, int | float):
            raise HTTPException(400, "expiration must be epoch seconds or null")
        return await self._act(request, self.hub.source.change_expiration, value)

    async def stop_jobs(self, request: Request) -> JSONResponse:
        return await self._jobs_action(request, self.hub.source.stop_jobs)

    async def restart_jobs(self, request: Request) -> JSONResponse:
        return await self._jobs_action(request, self.hub.source.restart_jobs)

    async def _jobs_action(self, request: Request, action: Callable[..., bool]) -> JSONResponse:
        """Jobs given by id and by group (a group stands for every job under it)."""
        body = await _body(request)
        jobs, groups = body.get("jobs", []), body.get("groups", [])
        if not all(isinstance(item, int) for item in [*jobs, *groups]):
            raise HTTPException(400, "jobs and groups must be lists of integers")
        model = await self._call(self.hub.current, request.path_params["workflow_id"])
        job_ids = model.job_ids(jobs, groups)
        if not job_ids:
            raise HTTPException(400, "no job selected")
        done = await self._call(action, request.path_params["workflow_id"], job_ids)
        return JSONResponse({"ok": bool(done), "jobs": len(job_ids)})


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise HTTPException(400, "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return body


def _event_stream(events: AsyncIterator[dict[str, Any]]) -> StreamingResponse:
    """Server-sent events: one ``data:`` line of JSON per event, a comment as heartbeat."""

    async def lines() -> AsyncIterator[str]:
        yield "retry: 1000\n\n"
        async for event in events:
            if event["type"] == "heartbeat":
                yield ": heartbeat\n\n"
            else:
                yield f"data: {json.dumps(event, separators=(',', ':'))}\n\n"

    return StreamingResponse(
        lines(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
