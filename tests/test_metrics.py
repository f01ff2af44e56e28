"""The Prometheus exporter reads Redis: exact under many processes, and equal to `liveblog stats`."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
import redis
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from rq.serializers import JSONSerializer
from structlog.testing import capture_logs

from liveblog import metrics, stats
from producers.enqueue import ingest_queue, submit
from schemas.settings import Settings
from tests.conftest import ROOT, cli_env, free_port
from tests.helpers import STORM, PlainEnricher, doc, growing_snapshots
from workers import runtime
from workers.metrics import BUCKETS_S, record_job_duration
from workers.worker import LiveblogWorker

pytestmark = pytest.mark.redis


def scrape(conn, settings) -> dict[tuple[str, tuple], float]:
    """Every sample of one scrape, keyed by (name, sorted labels)."""
    text = generate_latest(metrics.registry(conn, settings)).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def processed(conn, settings):
    """Two snapshots of the storm blog and one broken document, processed by a worker."""
    runtime.configure(settings, PlainEnricher())
    snapshots = growing_snapshots(STORM.read_text())
    submit(conn, doc(snapshots[-2].encode()), settings)
    submit(conn, doc(snapshots[-1].encode(), minutes=5), settings)
    submit(conn, doc(b"", blog_id="empty"), settings)
    LiveblogWorker([ingest_queue(conn, settings)], connection=conn, serializer=JSONSerializer).work(burst=True)
    yield
    runtime.configure(settings)


def test_counters_equal_what_liveblog_stats_reports(conn, settings, processed):
    report = stats.collect(conn, settings)
    c = report["counters"]
    samples = scrape(conn, settings)
    assert samples[("liveblog_up", ())] == 1
    for outcome in ("accepted", "resubmitted", "processed", "dead_lettered"):
        assert samples[("liveblog_documents_total", (("outcome", outcome),))] == c[f"documents_{outcome}"]
    for outcome in ("created", "updated", "duplicate", "stale", "repeat", "retracted"):
        assert samples[("liveblog_posts_total", (("outcome", outcome),))] == c[f"posts_{outcome}"]
    assert samples[("liveblog_posts_seen_total", ())] == c["posts_seen"] == 21 + 22
    assert samples[("liveblog_posts_total", (("outcome", "created"),))] == 22
    assert samples[("liveblog_posts_total", (("outcome", "duplicate"),))] == 21
    assert samples[("liveblog_events_published_total", ())] == c["events_published"] == 22
    assert samples[("liveblog_dead_letters", ())] == report["streams"]["dead_letter"] == 1
    assert samples[("liveblog_documents_total", (("outcome", "dead_lettered"),))] == 1
    assert samples[("liveblog_stream_length", (("stream", "events"),))] == 22
    for state, count in report["jobs"].items():
        assert samples[("liveblog_queue_jobs", (("state", state),))] == count
    assert samples[("liveblog_workers", ())] == report["workers"]
    assert samples[("liveblog_reconciled", ())] == 1
    assert samples[("liveblog_alerts_total", (("outcome", "sent"),))] == 0


def test_alert_counters_come_from_the_stats_hash(conn, settings):
    conn.hset("liveblog:stats", mapping={"alerts_sent": 7, "alerts_failed": 2})
    samples = scrape(conn, settings)
    assert samples[("liveblog_alerts_total", (("outcome", "sent"),))] == 7
    assert samples[("liveblog_alerts_total", (("outcome", "failed"),))] == 2


def test_job_duration_histogram_is_cumulative_with_count_and_sum(conn, settings):
    for seconds in (0.003, 0.2, 0.2, 7.0, 100.0):
        record_job_duration(conn, seconds)
    samples = scrape(conn, settings)
    bucket = lambda le: samples[("liveblog_job_duration_seconds_bucket", (("le", le),))]  # noqa: E731
    assert bucket("0.005") == 1
    assert bucket("0.1") == 1
    assert bucket("0.25") == 3
    assert bucket("10.0") == 4
    assert bucket("60.0") == 4
    assert bucket("+Inf") == 5
    assert samples[("liveblog_job_duration_seconds_count", ())] == 5
    assert samples[("liveblog_job_duration_seconds_sum", ())] == pytest.approx(107.403)
    assert len([k for k in samples if k[0] == "liveblog_job_duration_seconds_bucket"]) == len(BUCKETS_S) + 1


def _record_many(url: str, n: int) -> None:
    conn = redis.Redis.from_url(url)
    for i in range(n):
        record_job_duration(conn, 0.01 * (i % 7))


def test_durations_from_many_processes_add_up_exactly(conn, settings, redis_url):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_record_many, args=(redis_url, 250)) for _ in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    duration = metrics.job_duration(conn, "liveblog")
    assert duration["count"] == 1000
    assert duration["buckets"][-1] == ("+Inf", 1000)
    assert duration["sum"] == pytest.approx(4 * sum(0.01 * (i % 7) for i in range(250)))


def test_a_lost_redis_loses_the_sample_not_the_job():
    dead = redis.Redis(port=free_port(), socket_connect_timeout=0.5)
    with capture_logs() as logs:
        record_job_duration(dead, 0.1)  # logged, not raised
    assert [(e["event"], e["log_level"], e["seconds"]) for e in logs] == [("job_duration_not_recorded", "warning", 0.1)]


def test_consumer_group_lag_and_pending_per_group(conn, settings, processed):
    conn.xgroup_create("liveblog:events", "feed", id="0")
    conn.xgroup_create("liveblog:events", "idle", id="0")
    conn.xreadgroup("feed", "c1", {"liveblog:events": ">"}, count=5)
    samples = scrape(conn, settings)
    assert samples[("liveblog_stream_group_lag", (("group", "feed"), ("stream", "liveblog:events")))] == 17
    assert samples[("liveblog_stream_group_pending", (("group", "feed"), ("stream", "liveblog:events")))] == 5
    assert samples[("liveblog_stream_group_lag", (("group", "idle"), ("stream", "liveblog:events")))] == 22
    assert "group      feed: lag 17, pending 5, consumers 1" in metrics.render(metrics.snapshot(conn, settings))


def test_unreachable_redis_scrapes_as_down_instead_of_failing():
    settings = Settings(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    conn = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=0.5)
    samples = scrape(conn, settings)
    assert samples == {("liveblog_up", ()): 0}


def test_human_lines_for_liveblog_stats(conn, settings, processed):
    from workers.metrics import job_duration_key

    conn.delete(job_duration_key())  # forget the durations the processed jobs recorded themselves
    for seconds in (0.02, 0.04, 0.3):
        record_job_duration(conn, seconds)
    text = metrics.render(metrics.snapshot(conn, settings))
    assert "duration: 3 jobs, mean 120.0 ms, p50 <= 0.05 s, p95 <= 0.5 s; refused 0" in text
    assert "alerts     sent 0, failed 0" in text


def test_stats_names_each_term_of_the_events_sum(conn, settings, processed):
    text = stats.render(stats.collect(conn, settings))
    assert "events     published 22 = created 22 + updated 0 + retracted 0 (stream length 22)   [ok]" in text


CLI = (
    "import argparse, sys\n"
    "from liveblog import cli, ops_cli\n"
    "parser = cli.build_parser()\n"
    "sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))\n"
    "'metrics' in sub.choices or ops_cli.add_commands(sub)\n"
    "cli.build_parser = lambda: parser\n"
    "cli.COMMANDS.update(ops_cli.COMMANDS)\n"
    "sys.exit(cli.main(sys.argv[1:]))\n"
)


def test_exporter_serves_metrics_over_http_and_stops_on_sigterm(conn, redis_url):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", CLI, "metrics", "--port", str(port)], cwd=ROOT,
                            env=cli_env(redis_url), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        conn.hset("liveblog:stats", "events_published", 3)
        deadline = time.monotonic() + 10
        while True:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read() if proc.poll() else ""
                time.sleep(0.1)
        assert "liveblog_events_published_total 3.0" in body
        assert "liveblog_up 1.0" in body
        assert "python_gc" not in body  # only liveblog's numbers, not the exporter's own process
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(10) == 0
