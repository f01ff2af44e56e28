"""The ingest endpoint: authenticated, capped, idempotent, and quiet about its token."""

from __future__ import annotations

import http.client
import json
import threading

import pytest
from structlog.testing import capture_logs

from producers.enqueue import ingest_queue
from producers.ingest_http import IngestConfig, make_server, token_from_env
from schemas.errors import UsageError

TOKEN = "s3cret-token-for-tests-only"
PAGE = b"Headline\n\nUpdate one\n\n11:20 , Reporter\n\nBody text.\n"


@pytest.fixture
def endpoint(conn, settings):
    server = make_server(conn, settings, IngestConfig(token=TOKEN, max_body_bytes=1000), port=0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def request(port: int, method: str, path: str, body: bytes | None = None, token: str | None = TOKEN,
            headers: dict[str, str] | None = None) -> tuple[int, dict, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    sent = dict(headers or {})
    if token is not None:
        sent.setdefault("Authorization", f"Bearer {token}")
    try:
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}"), dict(response.getheaders())
    finally:
        conn.close()


def test_post_enqueues_and_returns_the_document_id(endpoint: int, conn, settings) -> None:
    status, payload, _ = request(endpoint, "POST", "/documents?blog_id=storm&tz=Europe/London&format=text", PAGE)
    assert status == 202 and payload["status"] == "accepted" and len(payload["document_id"]) == 32
    [job] = ingest_queue(conn, settings).get_jobs()
    assert job.args[0]["options"]["tz"] == "Europe/London" and job.args[0]["blog_id"] == "storm"


def test_the_same_document_twice_is_accepted_once(endpoint: int, conn, settings) -> None:
    path = "/documents?blog_id=storm&fetched_at=2024-10-12T11:30:00Z"
    first = request(endpoint, "POST", path, PAGE)
    again = request(endpoint, "POST", path, PAGE)
    assert (first[0], again[0]) == (202, 200)
    assert again[1]["status"] == "already-accepted" and again[1]["document_id"] == first[1]["document_id"]
    assert ingest_queue(conn, settings).count == 1


@pytest.mark.parametrize("auth", [None, "Bearer wrong-token-wrong-token", f"Basic {TOKEN}", "Bearer", ""])
def test_missing_or_wrong_token_is_401(endpoint: int, conn, settings, auth: str | None) -> None:
    headers = {} if auth is None else {"Authorization": auth}
    status, payload, sent = request(endpoint, "POST", "/documents?blog_id=storm", PAGE, token=None, headers=headers)
    assert status == 401 and "token" in payload["error"] and sent["WWW-Authenticate"].startswith("Bearer")
    assert ingest_queue(conn, settings).count == 0


def test_oversized_body_is_413(endpoint: int, conn, settings) -> None:
    status, payload, _ = request(endpoint, "POST", "/documents?blog_id=storm", b"x" * 5000)
    assert status == 413 and "at most 1000 bytes" in payload["error"]
    assert ingest_queue(conn, settings).count == 0


@pytest.mark.parametrize(
    "query,expected",
    [
        ("", "blog_id"),
        ("blog_id={evil}", "blog_id"),
        ("blog_id=storm&tz=Mars/Olympus", "tz"),
        ("blog_id=storm&format=pdf", "format"),
        ("blog_id=storm&date=12/10/2024", "date"),
        ("blog_id=storm&fetched_at=yesterday", "fetched_at"),
        ("blog_id=storm&fetched_at=2024-10-12T11:30:00", "zone offset"),
    ],
)
def test_bad_parameters_are_400_with_a_reason(endpoint: int, query: str, expected: str) -> None:
    status, payload, _ = request(endpoint, "POST", f"/documents?{query}", PAGE)
    assert status == 400 and expected in payload["error"]


def test_empty_body_is_400(endpoint: int) -> None:
    status, payload, _ = request(endpoint, "POST", "/documents?blog_id=storm", b"")
    assert status == 400 and "empty" in payload["error"]


def test_health_and_unknown_paths(endpoint: int) -> None:
    assert request(endpoint, "GET", "/healthz", token=None)[0] == 200
    assert request(endpoint, "POST", "/elsewhere", PAGE)[0] == 404


def test_the_token_never_reaches_the_log(endpoint: int) -> None:
    with capture_logs() as logs:
        request(endpoint, "POST", "/documents?blog_id=storm", PAGE)
        request(endpoint, "POST", "/documents?blog_id=storm", PAGE, token="not-the-token-at-all")
    assert logs and any(entry.get("status") == 401 for entry in logs)
    assert TOKEN not in repr(logs) and "not-the-token-at-all" not in repr(logs)


def test_server_refuses_to_start_without_a_strong_token() -> None:
    with pytest.raises(UsageError, match="LIVEBLOG_INGEST_TOKEN"):
        token_from_env({})
    with pytest.raises(UsageError, match="at least 16"):
        token_from_env({"LIVEBLOG_INGEST_TOKEN": "short"})
    assert token_from_env({"LIVEBLOG_INGEST_TOKEN": TOKEN}) == TOKEN
