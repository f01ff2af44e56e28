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
