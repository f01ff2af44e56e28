"""Smoke test of the benchmark harness: a tiny --quick run, JSON shape only (no speed thresholds)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, cli_env

REQUIRED = (
    "naive_posts_per_s", "new_posts_per_s", "repoll_posts_per_s", "ratio_new", "ratio_repoll",
    "scaling_2_vs_1", "latency_p50_ms", "latency_p99_ms", "worker_peak_rss_mb",
)


@pytest.mark.redis
@pytest.mark.slow
def test_bench_quick_json_has_the_required_keys(redis_url: str) -> None:
    # The harness flushes the database it is given: here, the suite's private redis-server.
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--json", "--quick", "--posts", "40"],
        cwd=ROOT, env=cli_env(redis_url), capture_output=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    result = json.loads(proc.stdout)
    for key in REQUIRED:
        assert isinstance(result[key], (int, float)) and result[key] > 0, (key, result[key])
    assert result["runs"]["repoll"]["counters"]["posts_duplicate"] > 0
    for run in ("repoll", "new_1"):  # where the time went, from the workers' own job_done lines
        prof = result["runs"][run]["ms_per_post"]
        assert prof["job"] > 0 and {"parse", "commit"} <= set(prof), (run, prof)
    for run in ("naive", "repoll", "new_1"):  # CPU time of the workers and of redis-server in the window
        cpu = result["runs"][run]["cpu_ms_per_post"]
        assert cpu["workers"] > 0 and cpu["redis"] > 0 and cpu["total"] == pytest.approx(
            cpu["workers"] + cpu["redis"], abs=0.002), (run, cpu)
    for scenario in ("new", "repoll"):
        budget = result["cpu_budget"][scenario]
        assert budget["budget_ms_per_post"] > 0 and budget["spent_ms_per_post"] > 0, budget
    # runs repeated to cancel the machine's drift: 1, 2, 2, 1 processes, and the baseline twice
    for run in ("new_1", "new_2", "naive"):
        assert len(result["runs"][run]["repeats_posts_per_s"]) == 2, run
    floor = result["cpu_budget"]["new"]["floor_ms_per_post"]
    assert floor["total"] == pytest.approx(floor["parse"] + floor["enrich"] + floor["redis"], abs=0.002)
    from liveblog.benchmark import render

    text = render(result)  # the table `liveblog bench` prints, from the same JSON
    assert "1, 2, 2, 1" in text and "floor: parse" in text and "2 vs 1 =" in text
    parts = result["latency"]["parts_ms"]  # each document's latency, split where it is spent
    assert parts["job_to_event"]["p50"] > 0 and parts["submit"]["p50"] > 0, parts
    assert parts["total"]["p50"] <= result["latency"]["max_ms"], parts
    assert "job to its last event" in text


@pytest.mark.redis
def test_bench_refuses_to_flush_a_redis_url_that_holds_data(redis_url: str, conn) -> None:
    conn.set("somebody:else", "keep me")
    proc = subprocess.run(
        [sys.executable, "-m", "liveblog.cli", "bench", "--json", "--quick", "--posts", "40"],
        cwd=ROOT, env=cli_env(redis_url), capture_output=True, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr.decode()[-3000:]
    err = proc.stderr.decode()
    assert "holds 1 keys" in err and "--flush" in err and "Traceback" not in err
    assert proc.stdout == b""
    assert conn.get("somebody:else") == b"keep me"


def test_job_profile_sums_the_stages_of_the_job_done_lines_per_post() -> None:
    from liveblog.benchmark import job_profile

    lines = [
        json.dumps({"event": "job_done", "duration_ms": 30.0, "stage_ms": {"parse": 4.0, "enrich": 16.0}}),
        "12:00:01 default: Job OK (doc-1)",  # RQ's own line: not JSON, skipped
        json.dumps({"event": "job_started", "duration_ms": 99.0}),  # not a job_done line
        json.dumps({"event": "job_done", "duration_ms": 10.0, "stage_ms": {"parse": 2.0, "enrich": 4.0}}),
    ]
    # 2 workers for 0.05 s = 100 ms of worker time; 40 ms of it in jobs, for 10 posts
    prof = job_profile(lines, posts=10, processes=2, processing_s=0.05)
    assert prof == {"enrich": 2.0, "parse": 0.6, "job": 4.0, "outside_jobs": 6.0}
    assert list(prof)[:2] == ["enrich", "parse"]  # the costliest stage first
    assert job_profile(lines, posts=0, processes=1, processing_s=1.0) == {}


def test_sampled_cpu_between_two_instants_takes_the_last_sample_at_or_before_each() -> None:
    from liveblog.benchmark import _between

    samples = [(10.0, 1.0), (10.05, 1.02), (10.10, 1.09), (10.15, 1.20)]
    assert _between(samples, 10.05, 10.12) == pytest.approx(0.07)  # 1.09 - 1.02
    assert _between(samples, 9.0, 11.0) == pytest.approx(0.20)  # before the first sample: the first
    assert _between(samples, 10.12, 10.06) == 0.0  # never negative
    assert _between([], 0.0, 1.0) == 0.0


def test_tree_cpu_counts_a_process_and_the_children_it_has_waited_for() -> None:
    import os

    from liveblog.benchmark import _tree_cpu_s

    before = _tree_cpu_s(os.getpid())
    # a child that burns CPU, then is waited for: its time moves into our cutime/cstime
    subprocess.run([sys.executable, "-c", "sum(i * i for i in range(3_000_000))"], check=True)
    after = _tree_cpu_s(os.getpid())
    assert after - before >= 0.05, (before, after)
    assert _tree_cpu_s(2**22 + 12345) == 0.0  # no such process


def test_cpu_budget_is_what_a_target_ratio_leaves_per_post_with_every_core_busy() -> None:
    from liveblog.benchmark import Burst, cpu_budget

    def burst(posts: int, processing_s: float, workers_s: float, redis_s: float) -> Burst:
        return Burst(name="x", processes=2, posts=posts, documents=1, enqueue_s=0, startup_s=0,
                     processing_s=processing_s, wall_s=processing_s, redis_commands=0, peak_rss_mb=0,
                     cpu_workers_s=workers_s, cpu_redis_s=redis_s)

    naive = burst(100, 1.0, 1.8, 0.1)  # 100 posts/s
    new = burst(1000, 1.0, 1.6, 0.2)  # 1.8 ms of CPU per post
    out = cpu_budget(naive, {"new": new}, cores=2)
    # 30x the naive rate on 2 cores: 3,000 posts/s, so at most 2 / 3,000 s = 0.667 ms per post
    assert out["new"]["budget_ms_per_post"] == pytest.approx(0.667)
    assert out["new"]["spent_ms_per_post"] == pytest.approx(1.8)
    assert out["new"]["over_budget"] == pytest.approx(2.7)
    assert out["naive_ms_per_post"] == pytest.approx(19.0)
    assert "floor_ms_per_post" not in out["new"]  # no one-process profile given

    one = burst(1000, 2.0, 1.8, 0.2)
    one.profile = {"assign": 0.5, "enrich": 0.4, "parse": 0.15, "job": 1.7}
    floor = cpu_budget(naive, {"new": new}, cores=2, one_process=one)["new"]
    # parse and enrichment of the one-process run, Redis of the measured run (0.2 ms per post)
    assert floor["floor_ms_per_post"] == {"parse": 0.15, "enrich": 0.4, "redis": 0.2, "total": 0.75}
    assert floor["floor_over_budget"] == pytest.approx(1.12)  # 0.75 / 0.667


def test_scaling_runs_are_interleaved_so_a_drift_weighs_on_both_counts() -> None:
    from liveblog.benchmark import scaling_order

    assert scaling_order((1, 2)) == [1, 2, 2, 1]
    assert scaling_order((1, 2, 4)) == [1, 2, 4, 2, 1]  # N once: only the 2-vs-1 ratio is a target
    assert scaling_order((1,)) == [1]


def test_a_repeated_run_writes_a_log_of_its_own_so_its_profile_is_its_own(tmp_path) -> None:
    from liveblog.benchmark import Harness, Plan

    h = Harness("redis://127.0.0.1:1/0", Plan(), tmp_path)  # no connection is made here
    assert [h._tag("new-1"), h._tag("new-2"), h._tag("new-2"), h._tag("new-1")] == \
        ["new-1", "new-2", "new-2-2", "new-1-2"]


def test_a_documents_latency_splits_into_submit_wait_and_job(tmp_path) -> None:
    from liveblog.benchmark import _jobs_by_blog, latency_parts

    log = tmp_path / "latency.log"
    log.write_text("\n".join([
        "not json", json.dumps({"event": "rq_worker_log", "message": "Job OK"}),
        json.dumps({"event": "job_done", "blog_id": "a", "duration_ms": 30.0,
                    "timestamp": "2026-01-01T00:00:01.050000Z"}),  # ran 1020 -> 1050 ms past the second
        json.dumps({"event": "job_done", "blog_id": "b", "duration_ms": 40.0,
                    "timestamp": "2026-01-01T00:00:01.200000Z"}),
    ]))
    jobs = _jobs_by_blog(log)
    t0 = 1767225601000.0  # 2026-01-01T00:00:01Z in epoch ms
    assert jobs["a"] == pytest.approx((t0 + 20, t0 + 50))
    parts = latency_parts(
        enqueue_ms={"a": t0, "b": t0 + 100, "gone": t0},  # "gone": no event, left out
        submitted_ms={"a": t0 + 2, "b": t0 + 104, "gone": t0 + 1},
        xadd_ms={"a": int(t0 + 45), "b": int(t0 + 190)},
        jobs=jobs,
    )
    # a: submit 2, waits 18 for its job, which publishes 25 ms in (45 in all); b: 4, 56, 30 (90).
    # Of two documents, the median is the upper one, as the bench's percentiles take it.
    assert parts == {name: {"p50": v, "p90": v, "p99": v} for name, v in
                     (("submit", 4.0), ("to_job", 56.0), ("job_to_event", 30.0), ("total", 90.0))}
    one = latency_parts({"a": t0}, {"a": t0 + 2}, {"a": int(t0 + 45)}, jobs)
    assert [one[k]["p50"] for k in ("submit", "to_job", "job_to_event", "total")] == [2.0, 18.0, 25.0, 45.0]


def test_repeated_runs_combine_into_every_post_over_every_window() -> None:
    from liveblog.benchmark import Burst

    def burst(posts: int, processing_s: float, parse_ms: float, rss: float) -> Burst:
        return Burst(name="new", processes=2, posts=posts, documents=posts // 20, enqueue_s=0.1, startup_s=1.0,
                     processing_s=processing_s, wall_s=processing_s + 1, redis_commands=posts * 100,
                     peak_rss_mb=rss, counters={"posts_seen": posts}, profile={"parse": parse_ms},
                     cpu_workers_s=processing_s, cpu_redis_s=processing_s / 10)

    # a machine slowing down mid-run: 1,000 posts in 1 s, then in 3 s
    both = Burst.combined([burst(1000, 1.0, 0.1, 250.0), burst(1000, 3.0, 0.3, 260.0)])
    assert both.posts_per_s == pytest.approx(500.0)  # 2,000 posts over 4 s, not the mean of 1,000 and 333
    assert both.repeats == [1000.0, 333.3]
    assert both.counters == {"posts_seen": 2000} and both.documents == 100
    assert both.profile == {"parse": 0.2} and both.peak_rss_mb == 260.0 and both.startup_s == 1.0
    assert both.cpu_per_post(2)["workers"] == pytest.approx(2.0)  # 4 s of worker CPU for 2,000 posts
    assert both.as_dict()["repeats_posts_per_s"] == [1000.0, 333.3]
    one = burst(10, 1.0, 0.1, 1.0)
    assert Burst.combined([one]) is one and "repeats_posts_per_s" not in one.as_dict()


@pytest.mark.redis
def test_cost_profile_reports_the_costs_per_post_and_an_events_digest_that_replays(redis_url: str) -> None:
    # bench/cost_profile.py runs the pipeline in its own process; it flushes the database given
    # (--flush: the second run finds the first one's keys)
    runs = []
    for _ in range(2):
        proc = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "cost_profile.py"), "repoll", "--posts", "800", "--json", "--flush"],
            cwd=ROOT, env=cli_env(redis_url), capture_output=True, timeout=300,
        )
        assert proc.returncode == 0, proc.stderr.decode()[-3000:]
        runs.append(json.loads(proc.stdout))
    first = runs[0]
    assert first["posts"] == 800 and first["documents"] == 20
    assert first["worker_cpu_ms_per_post"] > 0 and first["redis_cpu_ms_per_post"] > 0
    assert {"parse", "precheck", "commit"} <= set(first["stage_ms_per_post"])
    assert first["redis_commands_per_post"]["evalsha"] > 0 and "info" not in first["redis_commands_per_post"]
    assert 0 < first["redis_script_overhead_share"] < 1
    assert runs[1]["events_digest"] == first["events_digest"]  # the same inputs publish the same events


@pytest.mark.redis
def test_cost_profile_through_rq_publishes_what_the_pipeline_alone_publishes(redis_url: str) -> None:
    # --via rq queues the documents and runs liveblog's worker over them in the script's process:
    # the same events (digest read back from the stream), with RQ's dequeue among the commands
    runs = {}
    for via in ("pipeline", "rq"):
        proc = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "cost_profile.py"), "repoll", "--posts", "800", "--json", "--flush",
             "--via", via],
            cwd=ROOT, env=cli_env(redis_url), capture_output=True, timeout=300,
        )
        assert proc.returncode == 0, proc.stderr.decode()[-3000:]
        runs[via] = json.loads(proc.stdout)
    alone, rq = runs["pipeline"], runs["rq"]
    assert (rq["via"], rq["posts"], rq["documents"]) == ("rq", 800, 20)
    assert rq["events_digest"] == alone["events_digest"] != hashlib.sha256().hexdigest()[:16]
    assert rq["worker_cpu_ms_per_document"] > 0 and "stage_ms_per_post" not in rq
    assert "lmove" in rq["redis_commands_per_post"] and "lmove" not in alone["redis_commands_per_post"]


@pytest.mark.redis
def test_cost_profile_splits_a_poll_that_brings_nothing_new_from_one_that_does(redis_url: str) -> None:
    import redis as redis_lib

    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import cost_profile
    finally:
        sys.path.remove(str(ROOT / "bench"))
    conn = redis_lib.Redis.from_url(redis_url)
    nothing_new = cost_profile.profile("repoll", 800, redis_url, new_per_poll=0)
    assert nothing_new["new_per_poll"] == 0 and nothing_new["posts"] == 800
    assert nothing_new["events_digest"] == cost_profile.hashlib.sha256().hexdigest()[:16]  # no event at all
    two_new = cost_profile.profile("repoll", 800, redis_url, new_per_poll=2)
    assert two_new["events_digest"] != nothing_new["events_digest"]
    assert "assign" in two_new["stage_ms_per_post"]
    conn.flushdb()


def test_cost_profile_latency_mode_profiles_the_latency_documents_after_a_fifth_primes() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import cost_profile
    finally:
        sys.path.remove(str(ROOT / "bench"))
    prime, docs = cost_profile.documents("latency", 100)
    assert (len(prime), len(docs)) == (4, 16)  # 20 documents of 5 posts, each a blog of its own
    blogs = [d.blog_id for d in prime + docs]
    assert len(set(blogs)) == 20 and all(b.startswith("lat") for b in blogs)
    assert all(a.fetched_at < b.fetched_at for a, b in zip(prime + docs, (prime + docs)[1:]))


def test_bench_refuses_a_number_of_new_posts_per_poll_a_page_cannot_hold() -> None:
    from liveblog import benchmark

    with pytest.raises(ValueError, match="expected 0 to 40, found 41"):
        benchmark.run(new_per_poll=41)


@pytest.mark.parametrize(("value", "found"), [("41", "expected 0 to 40, found 41"),
                                              ("two", "expected a whole number from 0 to 40, found 'two'")])
def test_the_bench_command_names_the_range_of_new_posts_per_poll(value: str, found: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "liveblog.cli", "bench", "--new-per-poll", value],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and found in proc.stderr
