"""Smoke test of the benchmark harness: a tiny --quick run, JSON shape only (no speed thresholds)."""

from __future__ import annotations

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
