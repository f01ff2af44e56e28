"""Watching a directory: new and changed files are submitted once, state survives restarts."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
import redis
from structlog.testing import capture_logs

from producers import directory
from producers.directory import WatchConfig, list_files, state_key, watch, watch_once
from producers.enqueue import ingest_queue
from schemas.errors import UsageError
from schemas.settings import Settings

PAGE = "Headline\n\nUpdate one\n\n11:20 , Reporter\n\nBody text.\n"
NOW = lambda: time.time() + 10  # noqa: E731  every file counts as settled


def write(path: Path, text: str, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def test_new_files_are_submitted_once(conn: redis.Redis, settings: Settings, tmp_path: Path) -> None:
    write(tmp_path / "a.txt", PAGE)
    write(tmp_path / "sub" / "b.txt", PAGE)
    first = watch_once(conn, tmp_path, settings, WatchConfig(), now=NOW)
    again = watch_once(conn, tmp_path, settings, WatchConfig(), now=NOW)
    assert (first.submitted, again.submitted, again.unchanged) == (2, 0, 2)
    assert ingest_queue(conn, settings).count == 2


def test_changed_and_added_files_are_submitted(conn: redis.Redis, settings: Settings, tmp_path: Path) -> None:
    page = write(tmp_path / "live.txt", PAGE, mtime=1_700_000_000)
    watch_once(conn, tmp_path, settings, WatchConfig(), now=NOW)
    write(page, PAGE + "\nMore\n\n11:40 , Reporter\n\nNews.\n", mtime=1_700_000_060)
    write(tmp_path / "new.txt", PAGE)
    result = watch_once(conn, tmp_path, settings, WatchConfig(), now=NOW)
    assert (result.submitted, result.unchanged) == (2, 0)


def test_hidden_and_temporary_files_are_ignored(tmp_path: Path) -> None:
    write(tmp_path / ".hidden.txt", PAGE)
    write(tmp_path / ".git" / "config", PAGE)
    write(tmp_path / "draft.txt.part", PAGE)
    write(tmp_path / "notes.txt~", PAGE)
    write(tmp_path / "real.txt", PAGE)
    assert [p.name for p in list_files(tmp_path)] == ["real.txt"]


def test_a_glob_limits_what_is_watched(conn, settings, tmp_path: Path) -> None:
    write(tmp_path / "page.html", PAGE)
    write(tmp_path / "deep" / "page.txt", PAGE)
    write(tmp_path / "deep" / "page.expected.json", "{}")
    result = watch_once(conn, tmp_path, settings, WatchConfig(pattern="*.txt"), now=NOW)
    assert (result.submitted, result.unchanged) == (1, 0)


def test_a_file_still_being_written_waits_for_the_next_pass(conn, settings, tmp_path: Path) -> None:
    write(tmp_path / "growing.txt", PAGE)
    young = watch_once(conn, tmp_path, settings, WatchConfig(settle_s=60))
    assert (young.submitted, young.settling) == (0, 1)
    assert watch_once(conn, tmp_path, settings, WatchConfig(settle_s=60), now=lambda: time.time() + 120).submitted == 1


def test_state_in_redis_survives_a_restart_and_its_loss_enqueues_nothing_twice(conn, settings, tmp_path) -> None:
    write(tmp_path / "a.txt", PAGE)
    watch_once(conn, tmp_path, settings, WatchConfig(), now=NOW)
    assert watch_once(conn, tmp_path, settings, WatchConfig(), now=NOW).unchanged == 1  # a new watcher, same state
    conn.delete(state_key(settings, tmp_path))
    lost = watch_once(conn, tmp_path, settings, WatchConfig(), now=NOW)
    assert (lost.submitted, lost.already) == (0, 1)
    assert ingest_queue(conn, settings).count == 1


def test_a_deleted_and_recreated_file_is_new(conn, settings, tmp_path: Path) -> None:
    page = write(tmp_path / "a.txt", PAGE, mtime=1_700_000_000)
    watch_once(conn, tmp_path, settings, WatchConfig(), now=NOW)
    page.unlink()
    watch_once(conn, tmp_path, settings, WatchConfig(), now=NOW)
    assert conn.hlen(state_key(settings, tmp_path)) == 0
    write(page, PAGE + "\nAgain\n\n12:00 , Reporter\n\nText.\n", mtime=1_700_000_100)
    assert watch_once(conn, tmp_path, settings, WatchConfig(), now=NOW).submitted == 1


def test_watch_loop_picks_up_a_file_dropped_in_later(conn, settings, tmp_path: Path) -> None:
    stop, passes = threading.Event(), []

    def on_pass(result: directory.WatchPass) -> None:
        passes.append(result)
        if result.submitted:
            stop.set()

    thread = threading.Thread(target=watch, args=(conn, tmp_path, settings, WatchConfig(settle_s=0), stop),
                              kwargs=dict(interval_s=0.05, on_pass=on_pass))
    thread.start()
    time.sleep(0.1)
    write(tmp_path / "late.txt", PAGE)
    thread.join(10)
    stop.set()
    assert not thread.is_alive() and passes[-1].submitted == 1


def test_watching_a_missing_directory_is_a_usage_error(conn, settings, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="expected a directory"):
        watch_once(conn, tmp_path / "nope", settings, WatchConfig())


def test_cli_watch_once_prints_document_ids(redis_url: str, tmp_path: Path, monkeypatch, capsys) -> None:
    import argparse

    from liveblog import producer_cli

    write(tmp_path / "a.txt", PAGE, mtime=1_700_000_000)
    monkeypatch.setenv("REDIS_URL", redis_url)
    parser = argparse.ArgumentParser()
    producer_cli.add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["watch", str(tmp_path), "--once", "--settle", "0s", "--tz", "Europe/London"])
    with capture_logs() as logs:
        assert producer_cli.COMMANDS[args.command](args) == 0
    out, err = capsys.readouterr()
    assert out.split() == [logs[0]["document_id"]] and "submitted 1" in err
