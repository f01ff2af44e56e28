"""`liveblog web` itself, as a process on a free port against the private redis-server: it serves
its health check, the page, its script and the event stream, and stops cleanly: exit 0 on SIGTERM,
130 on SIGINT."""

from __future__ import annotations

import http.client
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, cli_env, free_port, run_cli
from tests.web.server import data_of, event_json, publish, read_sse

pytestmark = pytest.mark.redis
START_BUDGET_S = 30.0  # interpreter start and imports on a loaded 2-core machine


def get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


@pytest.fixture
def web(redis_url):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "liveblog.cli", "--log-level", "INFO", "web", "--port", str(port)], cwd=ROOT,
                            env=cli_env(redis_url), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + START_BUDGET_S
    while True:
        assert proc.poll() is None, f"liveblog web exited {proc.returncode}: {proc.stderr.read().decode()[-2000:]}"
        assert time.monotonic() < deadline, f"liveblog web did not answer on port {port} in {START_BUDGET_S:g}s"
        try:
            if get(port, "/healthz")[0] == 200:
                break
        except OSError:  # not listening yet
            time.sleep(0.1)
    try:
        yield port, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_liveblog_web_serves_health_the_page_and_the_stream_then_stops_on_sigterm(conn, web):
    port, proc = web
    status, headers, body = get(port, "/healthz")
    assert status == 200 and headers["content-type"].startswith("application/json") and b'"ok":true' in body

    status, headers, body = get(port, "/")
    page = body.decode("utf-8")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert "<title>liveblog-stream: live feed</title>" in page
    for control in ('id="filter-blog"', 'id="filter-entity"', 'id="filter-topic"', 'id="filter-urgency"', 'id="feed"'):
        assert control in page
    assert "script-src 'self'" in headers["content-security-policy"]

    status, headers, script = get(port, "/static/app.js")
    assert status == 200 and "javascript" in headers["content-type"] and b"EventSource" in script

    entry_id = publish(conn, event_json("cli-1", post_id="p1", title="From the real process"))
    [message] = read_sse(f"http://127.0.0.1:{port}", "/events", count=1)
    assert message["id"] == entry_id and data_of(message)["data"]["post"]["title"] == "From the real process"

    assert_stops_cleanly(port, proc, signal.SIGTERM, exit_code=0)


def assert_stops_cleanly(port: int, proc: subprocess.Popen, signum: int, *, exit_code: int) -> None:
    """The signal stops the server gracefully and the process exits with ``exit_code``: uvicorn
    (>= 0.29) raises the signal again after its clean stop, which must not kill the process."""
    stopped = time.monotonic()
    proc.send_signal(signum)
    assert proc.wait(15) == exit_code
    assert time.monotonic() - stopped < 15
    log = proc.stderr.read().decode()
    assert "Application shutdown complete." in log and "Finished server process" in log  # graceful, not killed
    assert "Traceback" not in log
    with pytest.raises(OSError):
        get(port, "/healthz")  # the port is closed


def test_liveblog_web_exits_130_on_sigint_like_tail(web):
    port, proc = web
    assert get(port, "/healthz")[0] == 200
    assert_stops_cleanly(port, proc, signal.SIGINT, exit_code=130)


def test_liveblog_web_without_redis_exits_3_and_a_bad_port_exits_2(redis_url):
    unreachable = run_cli("web", "--port", str(free_port()), redis_url=f"redis://127.0.0.1:{free_port()}/0",
                          timeout=60)
    assert unreachable.returncode == 3
    assert unreachable.stderr.decode().startswith("liveblog: cannot reach Redis") and b"Traceback" not in unreachable.stderr
    bad = run_cli("web", "--port", "70000", redis_url=redis_url, timeout=60)
    assert bad.returncode == 2 and b"--port: expected 1-65535" in bad.stderr
