"""Backfill: every archive file once, in sorted order, with progress and counts."""

from __future__ import annotations

import argparse
import io
import json
import re
from pathlib import Path

import pytest

from producers.backfill import TextProgress, backfill
from producers.enqueue import ingest_queue
from schemas.documents import ParseOptions
from schemas.errors import UsageError

PAGE = "Headline\n\nUpdate {n}\n\n11:{n:02d} , Reporter\n\nBody {n}.\n"


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    for n, name in enumerate(["2024/10/b.txt", "2024/09/a.txt", "c.txt", "2023/z.txt", ".DS_Store"]):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(PAGE.format(n=n))
    return tmp_path


def test_every_file_is_submitted_in_sorted_order(conn, settings, archive: Path) -> None:
    stream = io.StringIO()
    result = backfill(conn, archive, settings, options=ParseOptions(), progress=TextProgress(4, stream))
    assert (result.files, result.accepted, result.already, result.failed) == (4, 4, 0, 0)
    sources = [job.description.split(" ", 1)[1] for job in ingest_queue(conn, settings).get_jobs()]
    assert sources == [str(archive / n) for n in ["2023/z.txt", "2024/09/a.txt", "2024/10/b.txt", "c.txt"]]
    assert "4/4 files" in stream.getvalue()


def test_running_it_again_enqueues_nothing(conn, settings, archive: Path) -> None:
    backfill(conn, archive, settings, options=ParseOptions(), progress=TextProgress(4, io.StringIO()))
    again = backfill(conn, archive, settings, options=ParseOptions(), progress=TextProgress(4, io.StringIO()))
    assert (again.accepted, again.already) == (0, 4)
    assert ingest_queue(conn, settings).count == 4


def test_an_empty_archive_is_a_usage_error(conn, settings, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="nothing to backfill"):
        backfill(conn, tmp_path, settings, options=ParseOptions())


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_redraws_in_place_on_a_terminal() -> None:
    stream = FakeTty()
    bar = TextProgress(3, stream)
    for _ in range(3):
        bar.update()
    bar.close()
    text = stream.getvalue()
    assert text.startswith("\rbackfill [") and text.endswith("3/3 files 100%\n")


def test_progress_bar_prints_lines_when_not_a_terminal() -> None:
    stream = io.StringIO()
    bar = TextProgress(100, stream)
    for _ in range(100):
        bar.update()
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 11 and lines[0].endswith("1/100 files   1%") and lines[-1].endswith("100/100 files 100%")


def test_cli_backfill_reports_counts(redis_url: str, archive: Path, monkeypatch, capsys) -> None:
    from liveblog import producer_cli

    monkeypatch.setenv("REDIS_URL", redis_url)
    parser = argparse.ArgumentParser()
    producer_cli.add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["backfill", str(archive), "--tz", "Europe/Madrid", "--glob", "2024/*/*.txt"])
    assert producer_cli.COMMANDS[args.command](args) == 0
    err = capsys.readouterr().err
    assert "2/2 files" in err and "accepted 2, already accepted 0" in err


# `liveblog produce --backfill DIR...`: the same code path as `liveblog backfill DIR`, as a flag of produce.

def test_produce_backfill_flag_dispatches_to_the_backfill_code_and_plain_produce_is_unchanged(archive: Path) -> None:
    from liveblog import cli, producer_cli

    parser = cli.build_parser()
    args = parser.parse_args(["produce", "--backfill", str(archive), "--glob", "2024/*/*.txt", "--tz", "Europe/Madrid"])
    assert args.command == producer_cli.PRODUCE_BACKFILL and args.backfill is True
    assert cli.COMMANDS[args.command] is producer_cli.cmd_produce_backfill
    assert (args.sources, args.glob, args.tz) == ([str(archive)], "2024/*/*.txt", "Europe/Madrid")
    plain = parser.parse_args(["produce", "samples/storm-live-2024-10-12.txt"])
    assert plain.command == "produce" and plain.backfill is False
    assert cli.COMMANDS["produce"] is cli.cmd_produce
    assert parser.parse_args(["backfill", str(archive)]).command == "backfill"  # the sub-command stays


def test_produce_backfill_uses_producers_backfill_with_its_progress_bar(redis_url, archive: Path, monkeypatch,
                                                                       capsys) -> None:
    from liveblog import cli, producer_cli

    calls = []
    real = producer_cli.backfill

    def spy(conn, directory, settings, **kwargs):
        calls.append((directory, kwargs))
        return real(conn, directory, settings, **kwargs)

    monkeypatch.setattr(producer_cli, "backfill", spy)
    monkeypatch.setenv("REDIS_URL", redis_url)
    args = cli.build_parser().parse_args(["produce", "--backfill", str(archive), "--tz", "Europe/Madrid",
                                          "--glob", "2024/*/*.txt"])
    assert cli.COMMANDS[args.command](args) == 0  # what cli.main runs, without reconfiguring logging
    [(directory, kwargs)] = calls
    assert directory == archive and kwargs["pattern"] == "2024/*/*.txt" and kwargs["options"].tz == "Europe/Madrid"
    assert kwargs.get("progress") is None  # the default: producers.backfill.make_progress, on stderr
    out, err = capsys.readouterr()
    assert "2/2 files 100%" in err  # the bar (a line per 10% when stderr is not a terminal)
    assert "liveblog: backfill 2 files: accepted 2, already accepted 0, unreadable 0" in err
    ids = [line for line in out.splitlines() if re.fullmatch(r"[0-9a-f]{32}", line)]  # (unconfigured logs go to stdout here)
    assert len(ids) == 2  # like produce: the accepted ids


@pytest.mark.redis
def test_produce_backfill_from_the_command_line_matches_the_backfill_subcommand(redis_url, conn, settings,
                                                                                archive: Path, tmp_path_factory) -> None:
    from tests.conftest import run_cli

    elsewhere = tmp_path_factory.mktemp("elsewhere")  # not inside the archive (the fixture is tmp_path)
    ledger = elsewhere / "ledger.jsonl"
    other = elsewhere / "other"
    (other / "x").mkdir(parents=True)
    (other / "x" / "d.txt").write_text(PAGE.format(n=9))
    flagged = run_cli("produce", "--backfill", str(archive), str(other), "--ledger", str(ledger),
                      redis_url=redis_url)
    assert flagged.returncode == 0, flagged.stderr.decode()
    err = flagged.stderr.decode()
    assert "4/4 files 100%" in err and "1/1 files 100%" in err  # one bar per directory
    assert err.rstrip().endswith("liveblog: backfill 5 files: accepted 5, already accepted 0, unreadable 0")
    ids = flagged.stdout.decode().split()
    assert len(ids) == 5 and [e["document_id"] for e in map(json.loads, ledger.read_text().splitlines())] == ids
    sources = [job.description.split(" ", 1)[1] for job in ingest_queue(conn, settings).get_jobs()]
    assert sources == [str(archive / n) for n in ["2023/z.txt", "2024/09/a.txt", "2024/10/b.txt", "c.txt"]] + [
        str(other / "x" / "d.txt")]  # sorted, as the backfill sub-command orders them
    again = run_cli("backfill", str(archive), redis_url=redis_url)  # the same documents, the same ids
    assert again.returncode == 0 and b"accepted 0, already accepted 4, unreadable 0" in again.stderr


def test_produce_backfill_refuses_files_stdin_and_a_glob_without_the_flag(archive: Path) -> None:
    from tests.conftest import run_cli

    url = "redis://127.0.0.1:1/0"  # never reached: the arguments are refused first
    for args in (["--backfill", str(archive / "c.txt")], ["--backfill", "-"], ["--glob", "*.txt", str(archive / "c.txt")]):
        result = run_cli("produce", *args, redis_url=url)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith(b"liveblog: --"), result.stderr
