"""The fetcher refuses what an SSRF would need and caps what a hostile server could send.

Every test server here listens on loopback only; tests that fetch from it switch
``allow_private`` on explicitly, or pretend one loopback address is public.
"""

from __future__ import annotations

import gzip
import ipaddress
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from producers import fetch as fetch_mod
from producers.fetch import USER_AGENT, FetchFailed, FetchLimits, FetchRejected, fetch

Route = Callable[[BaseHTTPRequestHandler], None]


class Server:
    """A loopback HTTP server whose routes are plain functions; it records every request."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append((self.path, dict(self.headers.items())))
                route = outer.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                route(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://{host}:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def reply(status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None, length: bool = True) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        if length:
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        if not length:
            handler.close_connection = True

    return route


def redirect(location: str, status: int = 302) -> Route:
    return reply(status, headers={"Location": location})


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def public_server(monkeypatch: pytest.MonkeyPatch):
    """A server on 127.0.0.2 that the policy treats as a public host, so redirects out of it are checked."""
    s = Server("127.0.0.2")
    real = fetch_mod.address_blocked
    monkeypatch.setattr(
        fetch_mod, "address_blocked", lambda a: None if ipaddress.ip_address(a) == ipaddress.ip_address("127.0.0.2") else real(a)
    )
    yield s
    s.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379/",
        "http://localhost/",
        "http://2130706433/",  # 127.0.0.1 as one integer
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0:6379/",
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",  # carrier-grade NAT
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://[fe80::1]/",
        "http://224.0.0.1/",
    ],
)
def test_internal_addresses_are_refused_by_default(url: str) -> None:
    with pytest.raises(FetchRejected, match="refusing"):
        fetch(url)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/", "gopher://127.0.0.1:6379/", "redis://x/"])
def test_only_http_and_https_are_fetched(url: str) -> None:
    with pytest.raises(FetchRejected, match="unsupported scheme"):
        fetch(url)


def test_a_host_with_any_internal_address_is_refused() -> None:
    resolver = lambda host, port: ["93.184.216.34", "127.0.0.1"]  # noqa: E731
    with pytest.raises(FetchRejected, match="loopback address 127.0.0.1"):
        fetch("http://rebind.example/", resolver=resolver)


def test_loopback_server_is_not_contacted_without_the_allowance(server: Server) -> None:
    server.routes["/page"] = reply(200, b"hello")
    with pytest.raises(FetchRejected):
        fetch(f"{server.base}/page")
    assert server.requests == []


def test_allowed_fetch_returns_body_validators_and_sends_our_user_agent(server: Server) -> None:
    server.routes["/page"] = reply(200, b"hello", {"ETag": '"v1"', "Last-Modified": "Sat, 12 Oct 2024 10:00:00 GMT",
                                                   "Content-Type": "text/plain"})
    result = fetch(f"{server.base}/page", allow_private=True)
    assert (result.status, result.body, result.etag) == (200, b"hello", '"v1"')
    assert result.last_modified == "Sat, 12 Oct 2024 10:00:00 GMT"
    assert result.content_type == "text/plain"
    assert server.requests[0][1]["User-Agent"] == USER_AGENT


def test_conditional_request_sends_validators_and_reads_304(server: Server) -> None:
    server.routes["/page"] = reply(304, headers={"ETag": '"v1"'}, length=False)
    result = fetch(f"{server.base}/page", etag='"v1"', last_modified="Sat, 12 Oct 2024 10:00:00 GMT",
                   allow_private=True)
    assert result.not_modified and result.body == b""
    headers = server.requests[0][1]
    assert headers["If-None-Match"] == '"v1"'
    assert headers["If-Modified-Since"] == "Sat, 12 Oct 2024 10:00:00 GMT"


def test_connection_goes_to_the_checked_address_with_the_url_host_name(server: Server) -> None:
    server.routes["/page"] = reply(200, b"pinned")
    result = fetch(f"http://blog.test:{server.port}/page", allow_private=True, resolver=lambda h, p: ["127.0.0.1"])
    assert result.body == b"pinned"
    assert server.requests[0][1]["Host"] == f"blog.test:{server.port}"


def test_redirect_from_a_public_host_to_loopback_is_refused(public_server: Server, server: Server) -> None:
    server.routes["/secret"] = reply(200, b"internal")
    public_server.routes["/go"] = redirect(f"{server.base}/secret")
    with pytest.raises(FetchRejected, match="loopback"):
        fetch(f"{public_server.base}/go")
    assert server.requests == []


def test_redirect_to_cloud_metadata_or_another_scheme_is_refused(public_server: Server) -> None:
    public_server.routes["/meta"] = redirect("http://169.254.169.254/latest/meta-data/")
    public_server.routes["/file"] = redirect("file:///etc/passwd")
    with pytest.raises(FetchRejected, match="link-local"):
        fetch(f"{public_server.base}/meta")
    with pytest.raises(FetchRejected, match="unsupported scheme"):
        fetch(f"{public_server.base}/file")


def test_redirects_are_followed_to_the_final_url(server: Server) -> None:
    server.routes["/old"] = redirect("/new", 301)
    server.routes["/new"] = reply(200, b"moved")
    result = fetch(f"{server.base}/old", allow_private=True)
    assert result.body == b"moved" and result.url == f"{server.base}/new"


def test_redirect_loops_stop_after_five_hops(server: Server) -> None:
    server.routes["/loop"] = redirect("/loop")
    with pytest.raises(FetchRejected, match="too many redirects"):
        fetch(f"{server.base}/loop", allow_private=True)
    assert len(server.requests) == 6


def test_declared_oversized_body_is_refused_before_reading(server: Server) -> None:
    server.routes["/big"] = reply(200, b"x" * 5000)
    with pytest.raises(FetchRejected, match="Content-Length 5,000"):
        fetch(f"{server.base}/big", allow_private=True, limits=FetchLimits(max_wire_bytes=1000))


def test_undeclared_oversized_body_is_cut_off(server: Server) -> None:
    server.routes["/stream"] = reply(200, b"x" * 300_000, length=False)
    with pytest.raises(FetchRejected, match="on the wire"):
        fetch(f"{server.base}/stream", allow_private=True, limits=FetchLimits(max_wire_bytes=100_000))


def test_gzip_body_is_decompressed(server: Server) -> None:
    server.routes["/gz"] = reply(200, gzip.compress(b"live " * 1000), {"Content-Encoding": "gzip"})
    assert fetch(f"{server.base}/gz", allow_private=True).body == b"live " * 1000


@pytest.mark.reliability
def test_gzip_bomb_is_capped_on_the_decompressed_size(server: Server) -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 100_000  # small on the wire, 64 MiB once inflated
    server.routes["/bomb"] = reply(200, bomb, {"Content-Encoding": "gzip"})
    started = time.monotonic()
    with pytest.raises(FetchRejected, match="once decompressed"):
        fetch(f"{server.base}/bomb", allow_private=True, limits=FetchLimits(max_body_bytes=1024 * 1024))
    assert time.monotonic() - started < 5


def test_slow_server_times_out(server: Server) -> None:
    def slow(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(2)
        try:
            reply(200, b"late")(handler)
        except OSError:
            pass  # the client gave up long ago, as it should

    server.routes["/slow"] = slow
    started = time.monotonic()
    with pytest.raises(FetchFailed, match="timed out|timeout"):
        fetch(f"{server.base}/slow", allow_private=True, limits=FetchLimits(read_timeout_s=0.3))
    assert time.monotonic() - started < 1.5


def test_server_error_is_a_failure_with_its_status(server: Server) -> None:
    server.routes["/err"] = reply(500, b"oops")
    with pytest.raises(FetchFailed) as info:
        fetch(f"{server.base}/err", allow_private=True)
    assert info.value.status == 500


def test_refused_connection_is_a_failure(server: Server) -> None:
    port = server.port
    server.close()
    with pytest.raises(FetchFailed, match="failed"):
        fetch(f"http://127.0.0.1:{port}/", allow_private=True, limits=FetchLimits(connect_timeout_s=1))
