"""Polling a live page that grows and changes: each post once, edits as updates, 304s free.

The page is served by a loopback http.server in a thread; the poller is told
explicitly that loopback is allowed (``allow_private=True``). Jobs run in a real
RQ SimpleWorker against the suite's private redis-server. Time is passed in as
``at_ms`` so back-off and schedules are checked without sleeping.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis
import rq
from rq.serializers import JSONSerializer
from structlog.testing import capture_logs

from producers import poll
from producers.enqueue import ingest_queue
from producers.fetch import FetchLimits
from schemas.documents import ParseOptions
from schemas.errors import UsageError
from schemas.events import Enrichment
from schemas.keys import Keys
from schemas.settings import Settings

POST_A = "Red warning extended\n\n11:20 , Daniel Okoro\n\nThe Met Office extended its red warning until 3pm.\n\n"
POST_B = "Drivers rescued on the A595\n\n10:40 , Daniel Okoro\n\nFirefighters rescued 11 people from cars.\n\n"
POST_C = "Rail line stays shut\n\n12:05 , Amy Lee\n\nThe West Coast Main Line will stay closed all day.\n\n"
POST_D = "Power restored to 10,000 homes\n\n13:30 , Amy Lee\n\nEngineers have reconnected 10,000 homes.\n\n"
HEAD = "Storm Brannock live: red warning in Cumbria\n\nFloods and power cuts across the north-west.\n\n"


class LivePage:
    """A loopback page with a strong ETag; ``fail`` makes it answer 500 until cleared."""

    def __init__(self) -> None:
        self.body = ""
        self.fail = False
        self.requests: list[dict[str, str]] = []
        page = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                page.requests.append(dict(self.headers.items()))
                if page.fail:
                    return self._send(500, b"upstream exploded", {})
                etag = '"' + hashlib.sha256(page.body.encode()).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    return self._send(304, b"", {"ETag": etag})
                self._send(200, page.body.encode(), {"ETag": etag, "Content-Type": "text/plain; charset=utf-8"})

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/live/storm-brannock"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class TinyEnricher:
    """Stands in for workers.enrichers while that package is still being built: the
    poller is under test here, not enrichment, and the pipeline takes any Enricher."""

    def context(self, texts: list[str]) -> object:
        return None

    def enrich(self, post: object, context: object) -> Enrichment:
        return Enrichment(language="en")


@pytest.fixture
def page():
    p = LivePage()
    yield p
    p.close()


@pytest.fixture
def work(conn: redis.Redis, settings: Settings):
    """Runs every queued job with a real RQ worker; returns how many jobs there were."""
    from workers import pipeline, runtime

    runtime.configure(settings)
    try:
        from workers.enrichers import DocumentContext, enrich  # noqa: F401
    except ImportError:
        runtime._processors[id(conn)] = pipeline.DocumentProcessor(conn, settings, enricher=TinyEnricher())
    queue = ingest_queue(conn, settings)

    def run() -> int:
        jobs = queue.count
        rq.SimpleWorker([queue], connection=conn, serializer=JSONSerializer).work(burst=True, logging_level="WARNING")
        return jobs

    return run


def config(**overrides: object) -> poll.PollConfig:
    values = dict(
        every_s=30.0, blog_id="storm-brannock", allow_private=True, host_interval_s=0,
        options=ParseOptions(format="text", tz="UTC", date=date(2024, 10, 12)),
        limits=FetchLimits(total_timeout_s=5, read_timeout_s=3),
    )
    return poll.PollConfig(**{**values, **overrides})


def events(conn: redis.Redis, settings: Settings) -> list[dict]:
    return [json.loads(f[b"event"]) for _, f in conn.xrange(Keys(settings.key_prefix).events)]


def stats(conn: redis.Redis, settings: Settings) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in conn.hgetall(Keys(settings.key_prefix).stats).items()}


def test_growing_page_publishes_each_post_once_and_edits_as_updates(conn, settings, page, work) -> None:
    cfg, rng, t0 = config(), random.Random(7), poll.now_ms()
    minute = 60_000

    def step(body: str | None, at: int, fail: bool = False) -> tuple[poll.PollOutcome, int]:
        if body is not None:
            page.body = body
        page.fail = fail
        outcome = poll.poll_once(conn, page.url, settings, cfg, at_ms=at, rng=rng)
        return outcome, work()

    first, jobs = step(HEAD + POST_A + POST_B, t0)
    assert (first.status, jobs) == ("ok", 1)
    assert [e["type"] for e in events(conn, settings)] == ["liveblog.post.created"] * 2

    same, jobs = step(None, t0 + minute)
    assert (same.status, same.http_status, jobs) == ("not-modified", 304, 0)
    assert page.requests[-1]["If-None-Match"]

    grown, jobs = step(HEAD + POST_C + POST_A + POST_B, t0 + 2 * minute)
    assert (grown.status, jobs) == ("ok", 1)

    edited = POST_A.replace("until 3pm.", "until 6pm, and a second band of rain is on its way.")
    changed, jobs = step(HEAD + POST_C + edited + POST_B, t0 + 3 * minute)
    assert (changed.status, jobs) == ("ok", 1)

    broken, jobs = step(None, t0 + 4 * minute, fail=True)
    assert (broken.status, broken.http_status, jobs) == ("failed", 500, 0)
    state = {k.decode(): v.decode() for k, v in conn.hgetall(poll.PollKeys(settings.key_prefix).state(page.url)).items()}
    assert (state["failures"], state["last_status"]) == ("1", "500") and "HTTP 500" in state["last_error"]
    first_delay = broken.next_due_ms - (t0 + 4 * minute)
    assert first_delay >= 2 * 30_000 * 0.75  # backed off beyond the normal 30 s interval

    still_broken, _ = step(None, broken.next_due_ms, fail=True)
    assert still_broken.next_due_ms - broken.next_due_ms > first_delay  # grows while it keeps failing

    recovered, jobs = step(None, still_broken.next_due_ms)
    assert (recovered.status, jobs) == ("not-modified", 0)  # the ETag survived the outage
    assert conn.hget(poll.PollKeys(settings.key_prefix).state(page.url), "failures") == b"0"
    assert recovered.next_due_ms - still_broken.next_due_ms <= 30_000 * 1.1

    more, jobs = step(HEAD + POST_D + POST_C + edited + POST_B, still_broken.next_due_ms + minute)
    assert (more.status, jobs) == ("ok", 1)

    published = events(conn, settings)
    created = [e["data"]["post"]["title"] for e in published if e["type"] == "liveblog.post.created"]
    updated = [e for e in published if e["type"] == "liveblog.post.updated"]
    assert sorted(created) == sorted(
        ["Red warning extended", "Drivers rescued on the A595", "Rail line stays shut", "Power restored to 10,000 homes"]
    )
    assert [(e["data"]["post"]["title"], e["data"]["post"]["revision"]) for e in updated] == [("Red warning extended", 2)]
    counters = stats(conn, settings)
    assert (counters["polls_ok"], counters["polls_not_modified"], counters["polls_failed"]) == (4, 2, 2)
    assert counters["documents_accepted"] == 4


def test_page_without_etag_that_did_not_change_costs_no_job(conn, settings, work, monkeypatch) -> None:
    from producers.fetch import FetchResult

    served = FetchResult(status=200, body=(HEAD + POST_A).encode(), url="https://blog.example/live")
    fetcher = lambda url, **kw: served  # noqa: E731
    first = poll.poll_once(conn, served.url, settings, config(), fetcher=fetcher)
    again = poll.poll_once(conn, served.url, settings, config(), fetcher=fetcher)
    assert (first.status, again.status) == ("ok", "unchanged")
    assert work() == 1


def test_unreachable_page_backs_off_and_shows_in_status(conn, settings) -> None:
    url = "http://127.0.0.1:9/never"  # discard port: nothing listens
    outcome = poll.poll_once(conn, url, settings, config(limits=FetchLimits(connect_timeout_s=1)), at_ms=1_000_000)
    assert outcome.status == "failed" and outcome.next_due_ms > 1_000_000 + 30_000
    [row] = poll.poll_status(conn, settings)
    assert row["url"] == url and row["failures"] == 1 and "failed" in row["last_error"]


def test_private_address_is_refused_unless_allowed(conn, settings, page) -> None:
    page.body = HEAD + POST_A
    outcome = poll.poll_once(conn, page.url, settings, config(allow_private=False))
    assert outcome.status == "failed" and "refusing" in outcome.error
    assert page.requests == []


def test_backoff_doubles_and_is_capped() -> None:
    cfg, rng = config(every_s=30, max_backoff_s=600), random.Random(1)
    delays = [poll.backoff_s(n, cfg, rng) for n in range(1, 8)]
    assert 45 <= delays[0] <= 75 and 90 <= delays[1] <= 150
    assert all(d <= 600 * 1.25 for d in delays) and delays[-1] >= 600 * 0.75


def test_schedule_lives_in_redis_and_a_lease_stops_double_polling(conn, settings) -> None:
    url = "https://blog.example/live"
    poll.register(conn, settings, url, config(every_s=45), at_ms=1_000)
    poll.register(conn, settings, url, config(every_s=45), at_ms=99_000)  # a restart keeps the old due time
    assert poll.take_due(conn, settings, 500) == []
    assert poll.take_due(conn, settings, 2_000) == [url]
    assert poll.take_due(conn, settings, 2_000) == []  # leased to the first taker
    assert poll.take_due(conn, settings, 2_000 + int(poll.CLAIM_LEASE_S * 1000)) == [url]  # a dead taker's lease ends
    assert poll.load_config(conn, settings, url).every_s == 45
    assert poll.take_due(conn, settings, 10**13, urls=["https://other.example/"]) == []


def test_host_politeness_defers_a_second_page_on_the_same_host(conn, settings, page) -> None:
    page.body = HEAD + POST_A
    cfg = config(host_interval_s=5)
    other = page.url.replace("storm-brannock", "other")
    first = poll.poll_once(conn, page.url, settings, cfg, at_ms=10_000)
    second = poll.poll_once(conn, other, settings, cfg, at_ms=11_000)
    assert first.status == "ok"
    assert (second.status, second.next_due_ms) == ("deferred", 15_000)
    assert len(page.requests) == 1
    assert poll.poll_once(conn, other, settings, cfg, at_ms=15_000).status == "ok"


def test_run_poller_polls_due_urls_until_stopped(conn, settings, page) -> None:
    page.body = HEAD + POST_A
    stop, seen = threading.Event(), []

    def on_outcome(outcome: poll.PollOutcome) -> None:
        seen.append(outcome.status)
        stop.set()

    thread = threading.Thread(
        target=poll.run_poller, args=(conn, [page.url], 30.0, stop),
        kwargs=dict(settings=settings, config=config(), idle_s=0.05, on_outcome=on_outcome),
    )
    started = time.monotonic()
    thread.start()
    thread.join(10)
    assert not thread.is_alive() and seen == ["ok"] and time.monotonic() - started < 10
    due = conn.zscore(poll.PollKeys(settings.key_prefix).due, page.url)
    assert due > poll.now_ms() + 20_000  # next poll booked ~30 s ahead, in Redis


@pytest.mark.parametrize("text,seconds", [("30s", 30), ("5m", 300), ("1h", 3600), ("1h30m", 5400), ("250ms", 0.25),
                                          ("45", 45)])
def test_durations_parse(text: str, seconds: float) -> None:
    assert poll.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "30x", "-5s", "0s", "5m30"])
def test_bad_durations_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="duration"):
        poll.parse_duration(text)


def _cli(argv: list[str]):
    import argparse

    from liveblog import producer_cli

    parser = argparse.ArgumentParser()
    producer_cli.add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    with capture_logs():  # structlog is configured by liveblog.cli.main, not here: keep stdout for results
        return producer_cli.COMMANDS[args.command](args)


def test_cli_poll_once_is_a_check_that_schedules_nothing_and_keeps_its_validators(
        redis_url: str, page: LivePage, monkeypatch, capsys) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    page.body = HEAD + POST_A
    argv = ["poll", page.url, "--once", "--allow-private", "--format", "text", "--blog-id", "storm",
            "--host-interval", "100ms"]
    assert _cli(argv) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "ok"
    assert _cli(["poll", "--status"]) == 0
    assert capsys.readouterr().out == ""  # not put on the schedule: `liveblog poll` will not resume it
    assert _cli(argv) == 0  # a cron check a minute later: the ETag was kept
    assert json.loads(capsys.readouterr().out)["status"] == "not-modified"
    state = poll.PollKeys(Settings.from_env().key_prefix).state(page.url)
    assert 0 < redis.Redis.from_url(redis_url).ttl(state) <= Settings.from_env().dedup_window_s


def test_cli_poll_once_of_a_scheduled_url_uses_and_keeps_its_stored_options(
        redis_url: str, page: LivePage, monkeypatch, capsys) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    settings = Settings.from_env()
    conn = redis.Redis.from_url(redis_url)
    scheduled = config(options=ParseOptions(format="text", tz="Europe/London", date=date(2024, 10, 12)))
    poll.register(conn, settings, page.url, scheduled)
    page.body = HEAD + POST_A
    assert _cli(["poll", page.url, "--once", "--every", "10s"]) == 0  # no --tz, no --allow-private
    outcome = json.loads(capsys.readouterr().out)
    assert outcome["status"] == "ok"  # loopback allowed, as the schedule says
    [job] = ingest_queue(conn, settings).get_jobs()
    assert poll.load_config(conn, settings, page.url).to_json() == scheduled.to_json()  # nothing stored changed
    assert _document_options_of(job) == {"format": "text", "tz": "Europe/London", "date": "2024-10-12"}


def _document_options_of(job: rq.job.Job) -> dict:
    options = job.args[0]["options"]
    return {k: options[k] for k in ("format", "tz", "date")}


def test_poller_naming_a_scheduled_url_keeps_the_options_it_does_not_give(conn, settings, page) -> None:
    scheduled = config(options=ParseOptions(format="text", tz="Europe/London"))
    poll.register(conn, settings, page.url, scheduled)
    page.body = HEAD + POST_A
    stop = threading.Event()
    poll.run_poller(conn, [page.url], None, stop, settings=settings, config=poll.PollConfig(), idle_s=0.05,
                    on_outcome=lambda _o: stop.set(), given={"every_s": 60.0})
    stored = poll.load_config(conn, settings, page.url)
    assert stored.options.tz == "Europe/London" and stored.allow_private and stored.every_s == 60.0


def test_cli_poll_once_without_the_allowance_fails_on_loopback(redis_url: str, page: LivePage, monkeypatch,
                                                               capsys) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    assert _cli(["poll", page.url, "--once"]) == 1
    assert "refusing" in json.loads(capsys.readouterr().out)["error"] and page.requests == []


@pytest.mark.parametrize("argv,message", [
    (["poll", "ftp://example.com/x"], "http:// or https://"),
    (["poll", "https://example.com/x", "--every", "1s"], "at least 5s"),
    (["poll", "https://example.com/x", "--every", "often"], "invalid duration"),
])
def test_cli_poll_usage_errors(redis_url: str, monkeypatch, argv: list[str], message: str) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    with pytest.raises(UsageError, match=message):
        _cli(argv)
