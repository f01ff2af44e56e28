"""The Starlette app behind ``liveblog web``: one static page and one SSE endpoint.

The page is static (package data, no CDN: it works offline) and renders every event in
the browser with ``textContent``, so no text from a source page is ever parsed as HTML;
the Content-Security-Policy forbids inline and foreign scripts as a second line.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from importlib import resources

import redis
import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from liveblog.web import sse
from schemas.keys import Keys
from schemas.settings import Settings

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
DEFAULT_BACKLOG = 200
MAX_BACKLOG = 5000


def create_app(settings: Settings, *, heartbeat_s: float = 15.0) -> Starlette:
    """``heartbeat_s`` bounds how long a blocked XREAD waits before a keep-alive comment."""
    keys = Keys(settings.key_prefix)
    page = resources.files("liveblog.web").joinpath("static/index.html").read_text("utf-8")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        app.state.redis = aioredis.Redis.from_url(settings.redis_url, socket_connect_timeout=5)
        try:
            yield
        finally:
            await app.state.redis.aclose()

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(page, headers=_security_headers())

    async def events(request: Request) -> StreamingResponse | PlainTextResponse:
        blog = request.query_params.get("blog") or None
        if blog is not None and not sse.BLOG_ID.match(blog):
            return PlainTextResponse(f"blog: expected letters, digits, '.', '_', ':' or '-', found {blog!r}", 400)
        last_id = request.headers.get("last-event-id") or request.query_params.get("last_id") or None
        if last_id is not None and not sse.ENTRY_ID.match(last_id):
            return PlainTextResponse(f"Last-Event-ID: expected a stream id such as 1718000000000-0, found {last_id!r}",
                                     400)
        try:
            backlog = min(max(int(request.query_params.get("backlog", DEFAULT_BACKLOG)), 0), MAX_BACKLOG)
        except ValueError:
            return PlainTextResponse("backlog: expected a whole number", 400)
        stream = keys.blog_events(blog) if blog else keys.events
        body = sse.follow(request.app.state.redis, stream, prefix=settings.key_prefix, last_id=last_id,
                          backlog=backlog, block_ms=int(heartbeat_s * 1000), blog=blog)
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy buffering of the stream
        return StreamingResponse(_while_connected(request, body), media_type="text/event-stream", headers=headers)

    async def healthz(request: Request) -> JSONResponse:
        try:
            await request.app.state.redis.ping()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, 503)
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/", index),
            Route("/events", events),
            Route("/healthz", healthz),
            Mount("/static", StaticFiles(packages=[("liveblog.web", "static")]), name="static"),
        ],
        lifespan=lifespan,
    )


async def _while_connected(request: Request, body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Stop reading Redis for a browser that has gone (the server may not tell us by itself)."""
    try:
        async for chunk in body:
            if await request.is_disconnected():
                return
            yield chunk
    finally:
        await body.aclose()


def _security_headers() -> dict[str, str]:
    return {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
