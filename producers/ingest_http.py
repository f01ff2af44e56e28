"""A small authenticated HTTP endpoint: POST a document, get its id back.

    POST /documents?blog_id=ID[&tz=ZONE][&format=F][&date=YYYY-MM-DD][&fetched_at=RFC3339][&source=S]
    Authorization: Bearer <LIVEBLOG_INGEST_TOKEN>

202 ``{"status": "accepted", "document_id": …}`` when the document was enqueued,
200 ``{"status": "already-accepted", …}`` when the same document was accepted
before (pass ``fetched_at`` so that a retried POST is recognised as the same
document), 400/401/404/411/413/503 with ``{"error": …}`` otherwise.

The standard library server is enough here: a producer endpoint does one
Redis transaction per request. The token is compared in constant time, checked
before any of the body is read, and never logged; the body is capped before it
is read (a request without Content-Length is refused rather than streamed).
"""

from __future__ import annotations

import hmac
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import redis
import structlog

from producers.enqueue import submit
from schemas.documents import ParseOptions, RawDocument
from schemas.errors import DocumentTooLarge, UsageError
from schemas.settings import Settings

log = structlog.get_logger("liveblog.ingest")

TOKEN_ENV = "LIVEBLOG_INGEST_TOKEN"
MIN_TOKEN_CHARS = 16
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
FORMATS = ("auto", "text", "html", "rss", "json")
# Blog ids end up inside Redis hash tags ({blog_id}): no braces, no spaces, bounded.
BLOG_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class IngestConfig:
    token: str
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES


class BadRequest(Exception):
    """A query parameter the endpoint cannot use; becomes a 400 with this message."""


def token_from_env(env: Mapping[str, str] | None = None) -> str:
    """The shared secret; refusing to start without a strong one beats an open endpoint."""
    token = (os.environ if env is None else env).get(TOKEN_ENV, "")
    if len(token) < MIN_TOKEN_CHARS:
        raise UsageError(
            f"{TOKEN_ENV} must be set to a secret of at least {MIN_TOKEN_CHARS} characters "
            f"(found {len(token)}); for example: export {TOKEN_ENV}=$(openssl rand -hex 24)"
        )
    return token


class IngestServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], conn: redis.Redis, settings: Settings, config: IngestConfig) -> None:
        self.conn, self.settings, self.config = conn, settings, config
        super().__init__(address, _Handler)


def make_server(conn: redis.Redis, settings: Settings, config: IngestConfig, host: str = "127.0.0.1",
                port: int = 8080) -> IngestServer:
    """A bound server; call ``serve_forever()`` (and ``shutdown()`` from another thread)."""
    return IngestServer((host, port), conn, settings, config)


def parse_options(query: str) -> tuple[str, ParseOptions, datetime, str | None]:
    """blog_id, parse options, fetched_at and source from the query string, or BadRequest."""
    params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    blog_id = params.get("blog_id", "")
    if not BLOG_ID.match(blog_id):
        raise BadRequest(f"blog_id: expected 1-128 letters, digits, '.', '_' or '-', found {blog_id!r}")
    fmt = params.get("format", "auto")
    if fmt not in FORMATS:
        raise BadRequest(f"format: expected one of {', '.join(FORMATS)}, found {fmt!r}")
    tz = params.get("tz", "UTC")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadRequest(f"tz: expected an IANA time zone such as Europe/London, found {tz!r}") from exc
    day = _parsed(params.get("date"), date.fromisoformat, "date", "YYYY-MM-DD")
    fetched_at = _parsed(params.get("fetched_at"), datetime.fromisoformat, "fetched_at", "an RFC 3339 time")
    if fetched_at is not None and fetched_at.tzinfo is None:
        raise BadRequest(f"fetched_at: expected a time with a zone offset or Z, found {params['fetched_at']!r}")
    options = ParseOptions(format=fmt, tz=tz, date=day)
    return blog_id, options, fetched_at or datetime.now(timezone.utc), params.get("source") or None


def _parsed(value: str | None, parse, name: str, expected: str):
    if value is None:
        return None
    try:
        return parse(value)
    except ValueError as exc:
        raise BadRequest(f"{name}: expected {expected}, found {value!r}") from exc


class _Handler(BaseHTTPRequestHandler):
    server: IngestServer
    server_version = "liveblog-ingest/0.1"
    sys_version = ""

    def do_GET(self) -> None:
        if urlsplit(self.path).path == "/healthz":
            self._reply(HTTPStatus.OK, {"status": "ok"})
        else:
            self._reply(HTTPStatus.NOT_FOUND, {"error": "not found: POST /documents, GET /healthz"})

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/documents":
            return self._reply(HTTPStatus.NOT_FOUND, {"error": "not found: POST /documents"})
        if not self._authorized():
            return self._reply(HTTPStatus.UNAUTHORIZED, {"error": "missing or wrong bearer token"},
                               headers={"WWW-Authenticate": 'Bearer realm="liveblog-ingest"'})
        length, problem = self._content_length()
        if problem:
            return self._reply(*problem)
        try:
            blog_id, options, fetched_at, source = parse_options(url.query)
        except BadRequest as exc:
            return self._reply(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
        body = self.rfile.read(length)
        if len(body) < length:
            return self._reply(HTTPStatus.BAD_REQUEST, {"error": f"body ended after {len(body)} of {length} bytes"})
        raw = RawDocument.from_bytes(
            body, blog_id=blog_id, source=source or f"http-ingest:{blog_id}", fetched_at=fetched_at,
            content_type=self.headers.get("Content-Type"), options=options,
        )
        self._submit(raw)

    def _submit(self, raw: RawDocument) -> None:
        try:
            accepted = submit(self.server.conn, raw, self.server.settings)
        except DocumentTooLarge as exc:  # within --max-bytes but over the document limit: never accepted
            log.warning("ingest_refused", blog_id=raw.blog_id, reason=exc.reason, expected=exc.expected,
                        found=exc.found)
            return self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": str(exc)})
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.error("ingest_redis_unavailable", error=str(exc))
            return self._reply(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "Redis unavailable; retry later"},
                               headers={"Retry-After": "5"})
        status = HTTPStatus.ACCEPTED if accepted else HTTPStatus.OK
        self._reply(status, {"status": "accepted" if accepted else "already-accepted",
                             "document_id": raw.document_id, "blog_id": raw.blog_id})

    def _authorized(self) -> bool:
        scheme, _, presented = self.headers.get("Authorization", "").partition(" ")
        expected = self.server.config.token.encode("utf-8")
        # compare_digest runs in time independent of where the strings differ.
        return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode("utf-8"), expected)

    def _content_length(self) -> tuple[int, tuple | None]:
        if self.headers.get("Transfer-Encoding"):
            return 0, (HTTPStatus.LENGTH_REQUIRED, {"error": "send the body with a Content-Length, not chunked"})
        declared = self.headers.get("Content-Length")
        if declared is None:
            return 0, (HTTPStatus.LENGTH_REQUIRED, {"error": "Content-Length required"})
        if not declared.isdigit():
            return 0, (HTTPStatus.BAD_REQUEST, {"error": f"Content-Length: expected bytes, found {declared!r}"})
        cap = self.server.config.max_body_bytes
        if int(declared) > cap:
            return 0, (HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                       {"error": f"body too large: expected at most {cap} bytes, found {int(declared)}"})
        if int(declared) == 0:
            return 0, (HTTPStatus.BAD_REQUEST, {"error": "empty body: expected a live-blog document"})
        return int(declared), None

    def _reply(self, status: HTTPStatus, payload: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode("utf-8")
        if status >= 400:
            self.close_connection = True  # any unread body stays unread
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Method, path and status only: headers (and so the token) never reach the log.
        log.info("ingest_request", method=self.command, path=urlsplit(self.path).path, status=int(code),
                 client=self.client_address[0])

    def log_message(self, format: str, *args: object) -> None:
        log.warning("ingest_http_error", detail=format % args, client=self.client_address[0])
