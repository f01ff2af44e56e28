"""A fetcher that is safe to point at URLs typed by someone else.

Safe by default, because a poller is an SSRF primitive: a URL (or a redirect)
pointing at ``127.0.0.1:6379`` would let a web page talk to our own Redis.

- http and https only; at most ``max_redirects`` hops, each one checked again;
- every address a host resolves to must be public (no private, loopback,
  link-local, multicast, reserved or unspecified address) unless
  ``allow_private`` is set, and the connection goes to the address that was
  checked, so a second DNS answer cannot swap it (DNS rebinding);
- connect, read and whole-request timeouts;
- a cap on the bytes read off the wire and, separately, on the bytes after
  ``Content-Encoding`` is undone, so a small gzip bomb cannot fill memory;
- a User-Agent that says who we are, and no proxies from the environment.

It speaks HTTP with ``http.client`` directly rather than urllib or httpx so that
the connection address, each redirect and the decompression are ours to check.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from schemas.errors import LiveblogError

USER_AGENT = "liveblog-stream/0.1 (+https://example.invalid/liveblog-stream)"
REDIRECTS = frozenset({301, 302, 303, 307, 308})
CHUNK_BYTES = 64 * 1024

Resolver = Callable[[str, int], list[str]]


class FetchError(LiveblogError):
    """Root of the fetcher's errors; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        self.url = url
        self.status = status
        super().__init__(message)


class FetchRejected(FetchError):
    """Raised when a URL, a redirect or a response breaks the safety policy
    (scheme, private address, size cap): retrying will not help."""


class FetchFailed(FetchError):
    """Raised when a fetch did not succeed for a reason that may heal: a timeout,
    a refused connection, an unresolvable host, or an HTTP error status (a 404
    may be a page not published yet, a 5xx a server having a bad minute)."""


@dataclass(frozen=True)
class FetchLimits:
    """Defaults sized for live-blog pages (a busy one is a few MB of HTML)."""

    connect_timeout_s: float = 5.0
    read_timeout_s: float = 15.0
    total_timeout_s: float = 30.0
    max_redirects: int = 5
    max_wire_bytes: int = 8 * 1024 * 1024
    max_body_bytes: int = 16 * 1024 * 1024


@dataclass(frozen=True)
class FetchResult:
    status: int  # 200-class, or 304 when the conditional request matched
    body: bytes
    url: str  # the final URL, after redirects
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def fetch(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    allow_private: bool = False,
    limits: FetchLimits = FetchLimits(),
    resolver: Resolver | None = None,
) -> FetchResult:
    """GET ``url`` conditionally, following redirects only as far as the policy allows."""
    resolver = resolver or resolve
    deadline = time.monotonic() + limits.total_timeout_s
    headers = _request_headers(etag, last_modified)
    current = url
    for _hop in range(limits.max_redirects + 1):
        target = _check_url(current)
        address = _pick_address(target.host, target.port, resolver, allow_private, current)
        response, conn = _send(target, address, headers, limits, deadline)
        try:
            if response.status in REDIRECTS and response.getheader("Location"):
                current = urljoin(current, response.getheader("Location", ""))
                continue
            return _result(response, current, limits, deadline)
        finally:
            conn.close()
    raise FetchRejected(f"too many redirects from {url!r}: expected at most {limits.max_redirects}", url=url)


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to; failure to resolve is a fetch failure."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchFailed(f"cannot resolve host {host!r}: {exc}", url=host) from exc
    return list(dict.fromkeys(info[4][0] for info in infos))


def address_blocked(address: str) -> str | None:
    """Why ``address`` may not be fetched by default, or None when it is public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for reason, flag in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
    ):
        if flag:
            return reason
    return None if ip.is_global else "not globally routable"


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    path: str
    host_header: str


def _check_url(url: str) -> _Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise FetchRejected(f"malformed URL {url!r}: {exc}", url=url) from exc
    if parts.scheme not in ("http", "https"):
        raise FetchRejected(f"unsupported scheme in {url!r}: expected http or https, found {parts.scheme!r}", url=url)
    if not parts.hostname:
        raise FetchRejected(f"no host in {url!r}: expected http(s)://host/path", url=url)
    if parts.username or parts.password:
        raise FetchRejected(f"credentials in URL {url!r} are not sent: remove user:password@", url=url)
    default_port = 443 if parts.scheme == "https" else 80
    port = port or default_port
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return _Target(parts.scheme, parts.hostname, port, path, host_header)


def _pick_address(host: str, port: int, resolver: Resolver, allow_private: bool, url: str) -> str:
    """Check every resolved address (one bad answer is enough to refuse) and pin the first."""
    addresses = resolver(host, port)
    if not addresses:
        raise FetchFailed(f"host {host!r} resolved to no address", url=url)
    if not allow_private:
        for address in addresses:
            reason = address_blocked(address)
            if reason:
                raise FetchRejected(
                    f"refusing {url!r}: {host!r} resolves to {reason} address {address}; "
                    "pass allow_private (--allow-private) to fetch internal hosts on purpose",
                    url=url,
                )
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked address while sending the URL's host name."""

    def __init__(self, target: _Target, address: str, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked address, verifying the certificate against the host name."""

    def __init__(self, target: _Target, address: str, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _send(
    target: _Target, address: str, headers: dict[str, str], limits: FetchLimits, deadline: float
) -> tuple[http.client.HTTPResponse, http.client.HTTPConnection]:
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    url = f"{target.scheme}://{target.host_header}{target.path}"
    conn = kind(target, address, timeout=min(limits.connect_timeout_s, _left(deadline, url)))
    try:
        conn.connect()
        conn.sock.settimeout(min(limits.read_timeout_s, _left(deadline, url)))
        conn.request("GET", target.path, headers={"Host": target.host_header, **headers})
        return conn.getresponse(), conn
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        raise FetchFailed(f"GET {url} failed: {type(exc).__name__}: {exc}", url=url) from exc


def _request_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {
        "User-Agent": USER_AGENT,
        "Accept": "text/html, application/xhtml+xml, application/rss+xml, application/atom+xml, "
        "application/json, text/plain;q=0.9, */*;q=0.5",
        "Accept-Encoding": "gzip, deflate",
        "Connection": "close",
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _result(response: http.client.HTTPResponse, url: str, limits: FetchLimits, deadline: float) -> FetchResult:
    status = response.status
    if status != 304 and not 200 <= status < 300:
        raise FetchFailed(f"GET {url} answered HTTP {status} {response.reason}", url=url, status=status)
    body = b"" if status == 304 else _read_body(response, url, limits, deadline)
    return FetchResult(
        status=status,
        body=body,
        url=url,
        etag=response.getheader("ETag"),
        last_modified=response.getheader("Last-Modified"),
        content_type=response.getheader("Content-Type"),
    )


def _read_body(response: http.client.HTTPResponse, url: str, limits: FetchLimits, deadline: float) -> bytes:
    declared = response.getheader("Content-Length")
    if declared and declared.isdigit() and int(declared) > limits.max_wire_bytes:
        raise FetchRejected(
            f"response from {url} too large: expected at most {limits.max_wire_bytes:,} bytes, "
            f"found Content-Length {int(declared):,}",
            url=url,
            status=response.status,
        )
    decoder = _Decoder(response.getheader("Content-Encoding"), url, limits.max_body_bytes)
    wire = 0
    while True:
        _left(deadline, url)
        try:
            chunk = response.read1(CHUNK_BYTES)
        except (OSError, http.client.HTTPException) as exc:
            raise FetchFailed(f"reading {url} failed: {type(exc).__name__}: {exc}", url=url) from exc
        if not chunk:
            return decoder.finish()
        wire += len(chunk)
        if wire > limits.max_wire_bytes:
            raise FetchRejected(
                f"response from {url} too large: expected at most {limits.max_wire_bytes:,} bytes on the wire",
                url=url,
                status=response.status,
            )
        decoder.feed(chunk)


class _Decoder:
    """Undoes gzip/deflate incrementally, never producing more than ``cap`` bytes."""

    def __init__(self, encoding: str | None, url: str, cap: int) -> None:
        encoding = (encoding or "identity").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._z = zlib.decompressobj(zlib.MAX_WBITS)
        elif encoding == "identity":
            self._z = None
        else:
            raise FetchRejected(f"unsupported Content-Encoding {encoding!r} from {url}: expected gzip or deflate", url=url)
        self._url, self._cap = url, cap
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, data: bytes) -> None:
        if self._z is None:
            self._keep(data)
            return
        try:
            while data:
                self._keep(self._z.decompress(data, self._cap - self._size + 1))
                data = self._z.unconsumed_tail
        except zlib.error as exc:
            raise FetchFailed(f"corrupt compressed body from {self._url}: {exc}", url=self._url) from exc

    def finish(self) -> bytes:
        if self._z is not None:
            self._keep(self._z.flush())
        return b"".join(self._parts)

    def _keep(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._cap:
            raise FetchRejected(
                f"response from {self._url} too large once decompressed: expected at most {self._cap:,} bytes",
                url=self._url,
            )
        self._parts.append(data)


def _left(deadline: float, url: str) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchFailed(f"GET {url} took longer than the whole-request timeout", url=url)
    return left
