"""The web app under a real uvicorn server on a free loopback port, in a thread, for one test."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from liveblog.web.app import create_app
from schemas.settings import Settings
from tests.conftest import free_port


@contextmanager
def serve(settings: Settings, *, heartbeat_s: float = 0.5) -> Iterator[str]:
    """Yields the base URL; a short heartbeat lets the server notice gone clients quickly."""
    port = free_port()
    config = uvicorn.Config(create_app(settings, heartbeat_s=heartbeat_s), host="127.0.0.1", port=port,
                            log_level="warning", timeout_graceful_shutdown=2, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError(f"the web app did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def read_sse(base_url: str, path: str, *, count: int, headers: dict[str, str] | None = None,
             timeout_s: float = 5.0) -> list[dict]:
    """The first ``count`` SSE messages that carry data, as ``{"id", "event", "data"}`` dicts."""
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout_s)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        assert response.status == 200, (response.status, response.read())
        assert response.getheader("content-type", "").startswith("text/event-stream")
        messages: list[dict] = []
        current: dict = {}
        deadline = time.monotonic() + timeout_s
        while len(messages) < count:
            assert time.monotonic() < deadline, f"only {len(messages)} of {count} SSE messages in {timeout_s}s"
            line = response.readline().decode("utf-8").rstrip("\r\n")
            if line == "":
                if "data" in current:
                    messages.append(current)
                current = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                current[name] = current[name] + "\n" + value if name == "data" and "data" in current else value
        return messages
    finally:
        conn.close()


def event_json(event_id: str, *, blog: str = "web-test", post_id: str = "p1", title: str = "Title",
               body: str = "Body text.", revision: int = 1, topics: list[str] | None = None,
               urgency: float = 0.0, entities: list[dict] | None = None, story_id: str | None = None,
               changes: list[str] | None = None) -> str:
    """A valid event, built through the schema so the page sees exactly what workers publish."""
    from schemas.events import Event

    kind = "created" if revision == 1 else "updated"
    return Event.model_validate({
        "id": event_id, "source": f"liveblog:{blog}", "type": f"liveblog.post.{kind}", "subject": post_id,
        "time": "2024-10-13T10:00:00Z",
        "data": {
            "blog": {"id": blog, "title": None, "url": None},
            "post": {"id": post_id, "title": title, "body": body, "author": "A. Reporter",
                     "published_at": "2024-10-13T10:00:00Z", "revision": revision, "position": 0},
            "story_id": story_id, "changes": changes or [], "content_hash": "h" * 32,
            "entities": entities or [], "topics": topics or [], "urgency": urgency, "language": "en",
        },
    }).to_json()


def publish(conn, event: str, *, blog: str = "web-test") -> str:
    """XADD one event to the global and the blog's stream, as the commit script does."""
    entry_id = conn.xadd("liveblog:events", {"event": event}).decode()
    conn.xadd(f"liveblog:{{{blog}}}:events", {"event": event})
    return entry_id


def data_of(message: dict) -> dict:
    return json.loads(message["data"])
