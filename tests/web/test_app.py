"""The live page's server: SSE ids are stream ids, Last-Event-ID resumes, source text stays text."""

from __future__ import annotations

import http.client
from pathlib import Path

import pytest

from liveblog.web import sse
from tests.web.server import data_of, event_json, publish, read_sse, serve

pytestmark = pytest.mark.redis
STATIC = Path(__file__).resolve().parents[2] / "liveblog" / "web" / "static"


def get(base_url: str, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("GET", path, headers=headers or {})
    return conn.getresponse()


def test_each_message_id_is_the_stream_entry_id_and_the_backlog_comes_first(conn, settings):
    ids = [publish(conn, event_json(f"e{i}", post_id=f"p{i}")) for i in range(3)]
    with serve(settings) as url:
        messages = read_sse(url, "/events", count=3)
    assert [m["id"] for m in messages] == ids
    assert [m["event"] for m in messages] == ["post"] * 3
    assert [data_of(m)["data"]["post"]["id"] for m in messages] == ["p0", "p1", "p2"]


def test_last_event_id_resumes_right_after_it_including_events_added_while_away(conn, settings):
    ids = [publish(conn, event_json(f"e{i}", post_id=f"p{i}")) for i in range(3)]
    with serve(settings) as url:
        first = read_sse(url, "/events", count=2)
        assert first[-1]["id"] == ids[1]
        ids.append(publish(conn, event_json("e3", post_id="p3")))  # while the browser was away
        resumed = read_sse(url, "/events", count=2, headers={"Last-Event-ID": first[-1]["id"]})
    assert [m["id"] for m in resumed] == ids[2:]
    assert [data_of(m)["id"] for m in resumed] == ["e2", "e3"]


def test_new_events_arrive_on_an_open_stream(conn, settings):
    publish(conn, event_json("old"))
    with serve(settings) as url:
        import threading

        timer = threading.Timer(0.3, lambda: publish(conn, event_json("new", post_id="p9")))
        timer.start()
        messages = read_sse(url, "/events", count=2, timeout_s=5)
        timer.join()
    assert [data_of(m)["id"] for m in messages] == ["old", "new"]


def test_blog_parameter_reads_only_that_blogs_stream(conn, settings):
    publish(conn, event_json("a1", blog="alpha"), blog="alpha")
    publish(conn, event_json("b1", blog="beta"), blog="beta")
    publish(conn, event_json("a2", blog="alpha", post_id="p2"), blog="alpha")
    with serve(settings) as url:
        messages = read_sse(url, "/events?blog=alpha", count=2)
    assert [data_of(m)["id"] for m in messages] == ["a1", "a2"]


def test_script_in_a_title_travels_as_json_text_and_the_page_never_parses_it_as_html(conn, settings):
    hostile = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'
    publish(conn, event_json("x1", title=hostile, body=hostile))
    with serve(settings) as url:
        [message] = read_sse(url, "/events", count=1)
        page = get(url, "/")
        html = page.read().decode()
        csp = page.getheader("content-security-policy")
    assert data_of(message)["data"]["post"]["title"] == hostile  # the data is exact
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp  # inline scripts cannot run
    assert "<script>" not in html.replace('<script src="/static/app.js" defer></script>', "")
    script = (STATIC / "app.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, f"app.js uses {sink}: source text must go through textContent"


def test_bad_parameters_are_refused_with_the_reason(settings):
    with serve(settings) as url:
        bad_id = get(url, "/events", headers={"Last-Event-ID": "zero"})
        bad_blog = get(url, "/events?blog=%7Bx%7D:events")
        assert bad_id.status == 400 and b"found 'zero'" in bad_id.read()
        assert bad_blog.status == 400 and b"found '{x}:events'" in bad_blog.read()


def test_static_files_and_health_are_served(settings):
    with serve(settings) as url:
        assert get(url, "/static/app.js").status == 200
        assert get(url, "/static/app.css").status == 200
        health = get(url, "/healthz")
        assert health.status == 200 and b'"ok":true' in health.read()


def test_alert_stream_entries_become_alert_messages_without_moving_the_resume_id(conn, settings):
    entry = publish(conn, event_json("e1"))
    conn.xadd("liveblog:alerts:editors", {"event_id": "e1"})
    with serve(settings) as url:
        messages = read_sse(url, "/events", count=2)
    assert messages[0] == {"id": entry, "event": "post", "data": messages[0]["data"]}
    assert messages[1]["event"] == "alert" and "id" not in messages[1]
    assert data_of(messages[1]) == {"stream": "liveblog:alerts:editors", "event_id": "e1"}


def test_blog_parameter_sends_only_alerts_about_that_blogs_events(conn, settings):
    a1, b1 = event_json("a1", blog="alpha"), event_json("b1", blog="beta")
    publish(conn, a1, blog="alpha")
    publish(conn, b1, blog="beta")
    alerts = "liveblog:alerts:editors"
    # as the commit script writes them: the event JSON in 'event', with its id in 'event_id'
    conn.xadd(alerts, {"id": "x1", "event_id": "b1", "subscription": "s", "event": b1})
    conn.xadd(alerts, {"id": "x2", "event_id": "a1", "subscription": "s", "event": a1})
    conn.xadd(alerts, {"event_id": "b1"})  # no event JSON, and not a post of this connection
    conn.xadd(alerts, {"event_id": "a1"})  # no event JSON, but a post this connection sent
    with serve(settings) as url:
        import threading

        def later() -> None:
            b2 = event_json("b2", blog="beta", post_id="p2")
            publish(conn, b2, blog="beta")
            conn.xadd(alerts, {"id": "x3", "event_id": "b2", "event": b2})
            a2 = event_json("a2", blog="alpha", post_id="p2")
            publish(conn, a2, blog="alpha")
            conn.xadd(alerts, {"id": "x4", "event_id": "a2", "event": a2})

        timer = threading.Timer(0.3, later)
        timer.start()
        messages = read_sse(url, "/events?blog=alpha", count=5, timeout_s=5)
        timer.join()
        unfiltered = read_sse(url, "/events", count=10)
    got = [(m["event"], data_of(m).get("event_id", data_of(m).get("id"))) for m in messages]
    assert got == [("post", "a1"), ("alert", "a1"), ("alert", "a1"), ("post", "a2"), ("alert", "a2")]
    assert sorted(data_of(m)["event_id"] for m in unfiltered if m["event"] == "alert") == ["a1", "a1", "a2",
                                                                                            "b1", "b1", "b2"]


def test_sse_message_splits_line_breaks_into_data_lines():
    assert sse.message("a\nb", event="post", id="1-0") == b"id: 1-0\nevent: post\ndata: a\ndata: b\n\n"
