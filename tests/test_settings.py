"""Settings from the environment: a value liveblog cannot work with is a usage error naming the
variable, what was expected and what was found, before anything touches Redis."""

from __future__ import annotations

import pytest

from schemas.errors import UsageError
from schemas.settings import Settings
from tests.conftest import SAMPLES, run_cli


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DEDUP_WINDOW_S", "-5", "expected a number greater than 0, found '-5'"),
        ("DEDUP_WINDOW_S", "0", "expected a number greater than 0, found '0'"),
        ("JOB_TIMEOUT_S", "0", "expected a number greater than 0"),
        ("MAINTENANCE_INTERVAL_S", "-1", "expected a number greater than 0"),
        ("MAINTENANCE_LOCK_S", "0", "expected a number greater than 0"),
        ("STORY_WINDOW_S", "-3600", "expected a number greater than 0"),
        ("STREAM_MAXLEN", "-1", "expected a number greater than 0"),
        ("ALERT_STREAM_MAXLEN", "0", "expected a number greater than 0"),
        ("COMMIT_ATTEMPTS", "0", "expected a number greater than 0"),
        ("WEBHOOK_TIMEOUT_S", "0", "expected a number greater than 0"),
        ("WEBHOOK_BACKOFF_BASE_S", "-0.5", "expected a number greater than 0"),
        ("JOB_RETRIES", "-1", "expected a number greater than or equal to 0"),
        ("RESULT_TTL_S", "-1", "expected a number greater than or equal to 0"),
        ("RETRY_INTERVALS_S", "1,3,-10", "expected a number greater than or equal to 0, found '-10'"),
        ("RETRY_INTERVALS_S", "1,x", "expected a valid integer, unable to parse string as an integer, found 'x'"),
        ("STORY_SIMILARITY_MIN", "1.5", "expected a number less than or equal to 1, found '1.5'"),
        ("DEDUP_WINDOW_S", "week", "expected a valid integer, unable to parse string as an integer, found 'week'"),
    ],
)
def test_a_value_liveblog_cannot_use_is_a_usage_error_naming_the_setting(name, value, expected):
    with pytest.raises(UsageError) as caught:
        Settings.from_env({f"LIVEBLOG_{name}": value})
    assert str(caught.value).startswith(f"invalid setting LIVEBLOG_{name}: {expected}")


def test_zero_retries_intervals_and_grace_are_allowed():
    settings = Settings.from_env({"LIVEBLOG_JOB_RETRIES": "0", "LIVEBLOG_RETRY_INTERVALS_S": "0, 0",
                                  "LIVEBLOG_ABANDONED_GRACE_S": "0", "LIVEBLOG_RESULT_TTL_S": "0"})
    assert (settings.job_retries, settings.retry_intervals_s, settings.abandoned_grace_s) == (0, (0, 0), 0)


def test_a_negative_dedup_window_stops_run_with_one_line_not_a_redis_error():
    result = run_cli("run", str(SAMPLES / "storm-live-2024-10-12.txt"), LIVEBLOG_DEDUP_WINDOW_S="-5")
    assert result.returncode == 2
    assert result.stderr.decode() == (
        "liveblog: invalid setting LIVEBLOG_DEDUP_WINDOW_S: expected a number greater than 0, found '-5'\n"
    )
