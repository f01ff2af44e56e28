"""The `liveblog` command as a user runs it: parse, run (embedded and real Redis), produce, worker, tail, stats."""

from __future__ import annotations

import json
import os
import re

import pytest

from schemas.events import Event
from tests.conftest import SAMPLES, free_port, run_cli

STORM = str(SAMPLES / "storm-live-2024-10-12.txt")


def ndjson(out: bytes) -> list[dict]:
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]


def test_parse_prints_one_contract_shaped_post_per_line():
    result = run_cli("parse", STORM, "--tz", "Europe/London")
    assert result.returncode == 0, result.stderr.decode()
    posts = ndjson(result.stdout)
    assert len(posts) == 22
    contract = {"blog_id", "post_id", "position", "title", "body", "author", "published_at", "related_links"}
    assert all(contract <= set(p) for p in posts)
    assert posts[0]["published_at"].endswith("Z") and posts[0]["blog_id"] == "storm-live-2024-10-12"


def test_run_without_redis_uses_the_embedded_one_and_prints_cloudevents():
    result = run_cli("run", STORM, "--tz", "Europe/London")
    assert result.returncode == 0, result.stderr.decode()
    err = result.stderr.decode()
    assert "embedded in-process Redis" in err
    assert "documents 1 (accepted 1, resubmitted 0), posts parsed 22, created 22, updated 0, duplicates 0" in err
    events = [Event.model_validate(e) for e in ndjson(result.stdout)]
    assert len(events) == 22 and {e.type for e in events} == {"liveblog.post.created"}


def test_run_of_an_old_page_and_a_later_copy_missing_a_post_retracts_it(tmp_path):
    # the sample's posts are from 2024 and its copy is read now: the blog's index is kept from
    # the page's own newest post, so the later snapshot still retracts the post it lost
    lines = (SAMPLES / "storm-live-2024-10-12.txt").read_text(encoding="utf-8").split("\n")
    stamp = re.compile(r"\b\d{1,2}:\d{2} , ")
    start = lines.index("Gust of 91mph recorded at Shap")
    end = next(i for i in range(start + 3, len(lines)) if stamp.search(lines[i])) - 2  # the next post's title
    copy = tmp_path / "storm-later.txt"
    copy.write_text("\n".join(lines[:start] + lines[end:]), encoding="utf-8")
    mtime = (SAMPLES / "storm-live-2024-10-12.txt").stat().st_mtime
    os.utime(copy, (mtime + 600, mtime + 600))
    result = run_cli("run", STORM, str(copy), "--tz", "Europe/London", "--blog-id", "storm")
    assert result.returncode == 0, result.stderr.decode()
    assert "created 22, updated 0, duplicates 21, stale 0, retracted 1," in result.stderr.decode()
    retracted = [e for e in ndjson(result.stdout) if e["type"] == "liveblog.post.retracted"]
    assert [e["data"]["post"]["title"] for e in retracted] == ["Gust of 91mph recorded at Shap"]


def test_run_is_deterministic_across_invocations():
    first = run_cli("run", STORM, "--tz", "Europe/London")
    second = run_cli("run", STORM, "--tz", "Europe/London")
    assert first.stdout == second.stdout and first.stdout


def test_run_dead_letters_a_bad_file_names_the_reason_and_exits_4(tmp_path):
    bad = tmp_path / "garbage.txt"
    bad.write_bytes(b"\xff\xfe\x00\x01 not a live blog")
    result = run_cli("run", str(bad), STORM, "--tz", "Europe/London")
    assert result.returncode == 4
    err = result.stderr.decode()
    assert "dead-lettered 1" in err and "invalid UTF-8: expected a UTF-8 encoded document, found byte 0xff" in err
    assert len(ndjson(result.stdout)) == 22  # the good file still went through


def test_unknown_time_zone_is_a_usage_error():
    result = run_cli("parse", STORM, "--tz", "Mars/Olympus")
    assert result.returncode == 2
    assert b"expected an IANA time zone" in result.stderr


@pytest.mark.reliability
@pytest.mark.parametrize("command", [("stats",), ("worker", "--burst"), ("produce", STORM), ("tail",),
                                     ("deadletter", "list"), ("deadletter", "requeue", "--all"),
                                     ("deadletter", "delete", "1-0")])
def test_unreachable_redis_exits_3_with_one_clear_line(command):
    result = run_cli(*command, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    assert result.returncode == 3
    err = result.stderr.decode()
    assert err.startswith("liveblog: cannot reach Redis at redis://127.0.0.1:") and "Traceback" not in err


@pytest.mark.redis
def test_produce_worker_tail_and_stats_against_a_real_redis(redis_url):
    produced = run_cli("produce", STORM, "--tz", "Europe/London", redis_url=redis_url)
    assert produced.returncode == 0, produced.stderr.decode()
    again = run_cli("produce", STORM, "--tz", "Europe/London", redis_url=redis_url)
    assert b"accepted 0, already accepted 1" in again.stderr
    worked = run_cli("worker", "--burst", redis_url=redis_url)
    assert worked.returncode == 0, worked.stderr.decode()
    tail = run_cli("tail", redis_url=redis_url)
    assert len(ndjson(tail.stdout)) == 22
    stats = json.loads(run_cli("stats", "--json", redis_url=redis_url).stdout)
    assert stats["reconciled"]["ok"] is True
    assert stats["counters"]["documents_accepted"] == 1 and stats["counters"]["documents_resubmitted"] == 1
    assert stats["counters"]["posts_created"] == 22


@pytest.mark.redis
def test_tail_with_a_group_resumes_where_it_stopped(redis_url):
    run_cli("produce", STORM, "--tz", "Europe/London", redis_url=redis_url)
    run_cli("worker", "--burst", redis_url=redis_url)
    first = ndjson(run_cli("tail", "--group", "desk", "--count", "5", redis_url=redis_url).stdout)
    rest = ndjson(run_cli("tail", "--group", "desk", redis_url=redis_url).stdout)
    assert len(first) == 5 and len(rest) == 17
    assert {e["id"] for e in first}.isdisjoint({e["id"] for e in rest})
    other = ndjson(run_cli("tail", "--group", "alerts", redis_url=redis_url).stdout)
    assert len(other) == 22  # every group reads every event


@pytest.mark.redis
def test_produce_dash_reads_a_document_from_stdin_and_a_worker_processes_it(redis_url):
    data = (SAMPLES / "storm-live-2024-10-12.txt").read_bytes()
    produced = run_cli("produce", "-", "--tz", "Europe/London", redis_url=redis_url, input=data)
    assert produced.returncode == 0, produced.stderr.decode()
    assert b"accepted 1, already accepted 0" in produced.stderr
    (document_id,) = produced.stdout.decode().split()
    named = run_cli("produce", "-", "--tz", "Europe/London", "--blog-id", "storm-desk", redis_url=redis_url,
                    input=data)
    assert named.returncode == 0 and b"accepted 1" in named.stderr
    worked = run_cli("worker", "--burst", redis_url=redis_url)
    assert worked.returncode == 0, worked.stderr.decode()[-2000:]
    events = ndjson(run_cli("tail", redis_url=redis_url).stdout)
    by_blog = {blog: [e for e in events if e["data"]["blog"]["id"] == blog] for blog in ("stdin", "storm-desk")}
    assert len(by_blog["stdin"]) == 22 and len(by_blog["storm-desk"]) == 22  # stdin's default blog id, or --blog-id
    assert {e["type"] for e in events} == {"liveblog.post.created"}
    stats = json.loads(run_cli("stats", "--json", redis_url=redis_url).stdout)
    assert stats["counters"]["documents_accepted"] == 2 and stats["counters"]["documents_processed"] == 2
    assert stats["counters"]["documents_dead_lettered"] == 0 and stats["reconciled"]["ok"] is True
    assert len(document_id) == 32


@pytest.mark.redis
def test_a_json_log_worker_writes_only_json_lines_and_one_job_done_per_job(redis_url, tmp_path):
    bad = tmp_path / "garbage.txt"
    bad.write_bytes(b"\xff\xfe\x00\x01 not a live blog")
    sources = [STORM, str(SAMPLES / "incendios-2025-08-14.txt"), str(bad)]
    produced = run_cli("produce", *sources, "--tz", "Europe/London", redis_url=redis_url)
    assert produced.returncode == 0, produced.stderr.decode()
    document_ids = produced.stdout.decode().split()
    assert len(document_ids) == 3
    worked = run_cli("--log-format", "json", "worker", "--burst", redis_url=redis_url)
    assert worked.returncode == 0, worked.stderr.decode()[-2000:]
    lines = worked.stderr.decode().splitlines()
    assert lines
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON line on stderr: {line!r}")
        assert isinstance(record, dict) and {"event", "level", "timestamp"} <= set(record), line
        assert re.fullmatch(r"[a-z][a-z0-9_]*", record["event"]), line  # stable names, RQ's lines too
        records.append(record)
    done = [r for r in records if r["event"] == "job_done"]
    assert sorted(r["job_id"] for r in done) == sorted(f"doc-{d}" for d in document_ids)  # one per job
    by_blog = {r["blog_id"]: r for r in done}
    assert set(by_blog) == {"storm-live-2024-10-12", "incendios-2025-08-14", "garbage"}
    counts = {"posts", "created", "updated", "duplicate", "stale", "repeat", "retracted"}
    for record in done:
        assert record["document_id"] in document_ids and record["job_id"] == f"doc-{record['document_id']}"
        assert counts <= set(record) and all(isinstance(record[c], int) for c in counts)
    assert by_blog["storm-live-2024-10-12"]["status"] == "committed"
    assert by_blog["storm-live-2024-10-12"]["created"] == by_blog["storm-live-2024-10-12"]["posts"] == 22
    assert by_blog["incendios-2025-08-14"]["created"] > 0
    assert by_blog["garbage"]["status"] == "dead-lettered" and by_blog["garbage"]["reason"] == "invalid UTF-8"
    assert by_blog["garbage"]["posts"] == 0


def test_tail_human_lines_show_the_posts_time_not_the_fetch_time():
    from liveblog.tail_cli import render

    event = {"time": "2024-10-12T18:00:00Z", "type": "liveblog.post.created",  # when the page was fetched
             "data": {"blog": {"id": "storm"},
                      "post": {"published_at": "2024-10-12T09:05:00Z", "revision": 1, "title": "Roads closed"}}}
    assert render(json.dumps(event), pretty=True) == "2024-10-12T09:05:00Z  created   r1  storm  Roads closed"
    del event["data"]["post"]["published_at"]
    assert render(json.dumps(event), pretty=True).startswith("2024-10-12T18:00:00Z  created")


def test_help_describes_the_tool_to_a_user_not_the_code_layout():
    from liveblog import cli

    text = " ".join(cli.build_parser().format_help().split())
    assert "live in their own modules" not in text
    assert "stream of CloudEvents on Redis" in text and "`liveblog run FILE`" in text
    assert "exit codes: 0 ok, 2 usage error, 3 Redis unreachable, 4 input rejected" in text


def test_an_unknown_log_level_is_a_usage_error_and_the_level_is_case_insensitive():
    result = run_cli("--log-level", "TRACE", "parse", STORM)
    assert result.returncode == 2 and b"Traceback" not in result.stderr
    assert b"--log-level: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL (any case), found 'TRACE'" in result.stderr
    lower = run_cli("--log-level", "debug", "parse", STORM)
    assert lower.returncode == 0 and len(ndjson(lower.stdout)) == 22


def test_a_directory_as_source_is_named_a_directory_with_what_to_pass_instead():
    result = run_cli("parse", str(SAMPLES))
    assert result.returncode == 2
    err = result.stderr.decode()
    assert err.startswith(f"liveblog: cannot read {str(SAMPLES)!r}: expected a readable file or '-', found a directory")
    assert f"{SAMPLES}/*.txt" in err and "no such file" not in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(("url", "found"), [
    ("http://127.0.0.1:1", "expected redis://, rediss:// or unix://, found http://"),
    ("127.0.0.1:1", "expected redis://, rediss:// or unix://, found no scheme"),
    ("redis://127.0.0.1:port/0", "Port could not be cast to integer value as 'port'"),
])
def test_a_malformed_redis_url_is_a_usage_error_not_an_unreachable_redis(url, found):
    result = run_cli("stats", redis_url=url)
    assert result.returncode == 2
    assert result.stderr.decode() == f"liveblog: invalid REDIS_URL {url}: {found}\n"


@pytest.mark.redis
@pytest.mark.parametrize("command", ["metrics", "web"])
def test_a_port_in_use_is_one_clear_line_and_a_usage_error(redis_url, command):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(command, "--port", str(port), redis_url=redis_url, timeout=60)
    assert result.returncode == 2  # not 3, which says Redis is unreachable
    assert result.stderr.decode() == (
        f"liveblog: port {port} on 127.0.0.1 is already in use: expected a free port, found another process"
        " listening there (stop it, or pass another --port)\n"
    )


@pytest.mark.redis
def test_stats_ledger_skips_a_torn_last_line_and_refuses_what_is_not_a_ledger(redis_url, tmp_path):
    ledger = tmp_path / "ledger.jsonl"
    produced = run_cli("produce", STORM, "--tz", "Europe/London", "--ledger", str(ledger), redis_url=redis_url)
    assert produced.returncode == 0, produced.stderr.decode()
    with ledger.open("a") as handle:  # a second producer killed while appending its line
        handle.write('{"document_id": "0123456789abcdef", "sour')
    torn = run_cli("stats", "--ledger", str(ledger), redis_url=redis_url)
    assert torn.returncode == 0, torn.stderr.decode()
    assert torn.stderr.decode().startswith(f"liveblog: ledger {ledger}:2: skipped a line cut off mid-write")
    assert len(torn.stderr.decode().splitlines()) == 1
    assert "ledger     1 accepted by the producer, 0 unknown to Redis" in torn.stdout.decode()
    for path, found in ((tmp_path / "typo.jsonl", "no such file"), (tmp_path, "a directory")):
        refused = run_cli("stats", "--ledger", str(path), redis_url=redis_url)
        assert refused.returncode == 2
        assert refused.stderr.decode() == (
            f"liveblog: cannot read ledger {path}: expected a file written by `liveblog produce --ledger`, found {found}\n")


@pytest.mark.redis
def test_tail_of_a_blog_or_topic_with_no_events_says_so_on_stderr_and_exits_0(redis_url):
    blog = run_cli("tail", "--blog", "nonexist", redis_url=redis_url)
    assert blog.returncode == 0 and blog.stdout == b""
    assert blog.stderr.decode() == (
        "liveblog: blog 'nonexist' has no events (liveblog:{nonexist}:events is empty or does not exist;"
        " blog ids are the source's file name without extension, or --blog-id)\n")
    topic = run_cli("tail", "--topic", "nope", "--group", "desk", redis_url=redis_url)
    assert topic.returncode == 0 and topic.stdout == b""
    assert topic.stderr.decode().startswith("liveblog: topic 'nope' has no events (liveblog:topic:nope:events")


def test_worker_processes_get_the_log_level_and_format_they_were_started_with(monkeypatch):
    import signal

    from liveblog import cli

    started: list[list[str]] = []

    class Child:
        def __init__(self, command: list[str]) -> None:
            started.append(command)

            self.pid = 1000 + len(started)

        def poll(self) -> int:
            return 0  # done at once: a burst child whose queue is empty

    monkeypatch.setattr(cli.subprocess, "Popen", Child)
    monkeypatch.setattr(signal, "signal", lambda *_: None)
    monkeypatch.setattr(cli, "_POLL_S", 0)
    args = cli.build_parser().parse_args(["--log-level", "debug", "--log-format", "json", "worker", "--processes", "2",
                                          "--burst"])
    assert cli._supervise(args) == 0
    assert len(started) == 2  # a burst child that ended by itself is not started again
    assert all(c[3:8] == ["--log-format", "json", "--log-level", "DEBUG", "worker"] for c in started)
    assert all(c[8:10] == ["--supervisor-pid", str(os.getpid())] for c in started)


def test_run_on_the_embedded_redis_gives_a_large_document_the_time_fakeredis_needs(tmp_path, monkeypatch):
    # a 1 MB, 2,000-post feed took 122 s on fakeredis (6 s on redis-server): at 20 s per MB its
    # first attempt timed out; the embedded run allows EMBEDDED_TIMEOUT_PER_MB_S instead
    import fakeredis

    from liveblog import cli
    from producers.enqueue import ingest_queue
    from schemas.settings import Settings

    big = tmp_path / "big.txt"
    text = "Title\n\n12:31 , Desk\n\n" + "word " * 400_000  # 2 MB
    big.write_text(text)
    server = fakeredis.FakeServer()
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setattr(cli.connecting, "embedded", lambda: fakeredis.FakeRedis(server=server))
    monkeypatch.setattr(cli, "_work", lambda *a, **k: None)  # enqueue only: the job is what is checked
    args = cli.build_parser().parse_args(["run", str(big)])
    cli.cmd_run(args)
    [job] = ingest_queue(fakeredis.FakeRedis(server=server), Settings.from_env()).get_jobs()
    per_mb = -(-len(text) * cli.EMBEDDED_TIMEOUT_PER_MB_S // 1_000_000)
    assert job.timeout == Settings.from_env().job_timeout_s + per_mb  # 60 + 501 s, not 60 + 41


def test_parse_tells_on_stderr_what_it_skipped_and_why(tmp_path):
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "Feed", "items": [
        {"id": "a", "title": "Good", "content_text": "a real post", "date_published": "2024-05-01T10:00:00Z"},
        {"id": "b", "title": "Bad", "content_text": "no time", "date_published": "31 February"}]}
    path = tmp_path / "feed.json"
    path.write_text(json.dumps(feed))
    result = run_cli("parse", str(path))
    assert result.returncode == 0, result.stderr.decode()
    assert [p["title"] for p in ndjson(result.stdout)] == ["Good"]
    err = result.stderr.decode()
    assert f"liveblog: {path}: " in err and "31 February" in err  # the skipped item, named, with its reason


def test_a_json_mapping_field_of_the_wrong_type_is_a_warning_and_a_bad_mapping_a_usage_error(tmp_path):
    api, mapping, bad = tmp_path / "api.json", tmp_path / "mapping.json", tmp_path / "bad.json"
    api.write_text(json.dumps({"posts": [
        {"id": "a", "headline": 17, "text": "Gusts of 70mph.", "at": "2025-07-12T09:00:00Z"},
        {"id": "b", "headline": "Bridge shut", "text": {"html": "<p>x</p>"}, "at": "2025-07-12T10:00:00Z"}]}))
    mapping.write_text(json.dumps({"items": "posts", "id": "id", "title": "headline", "body": "text", "time": "at"}))
    result = run_cli("parse", str(api), "--json-mapping", str(mapping))
    assert result.returncode == 0 and len(ndjson(result.stdout)) == 2
    assert result.stderr.decode().splitlines() == [
        f"liveblog: {api}: item 0: ignored \"title\" at 'headline': expected a string, found number 17",
        f"liveblog: {api}: item 1: ignored \"body\" at 'text': expected a string or a list of strings, "
        "found an object with keys ['html']",
    ]
    bad.write_text(json.dumps({"items": "posts", "time": ["at"], "title": "headline", "colour": "red"}))
    for command in ("parse", "produce"):  # refused at startup: produce never reaches Redis
        refused = run_cli(command, str(api), "--json-mapping", str(bad))
        err = refused.stderr.decode()
        assert refused.returncode == 2, err
        assert "argument --json-mapping" in err and "invalid json_mapping" in err
        assert "found unknown keys ['colour']; non-string values for ['time']" in err
