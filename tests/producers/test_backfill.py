"""Backfill: every archive file once, in sorted order, with progress and counts."""

from __future__ import annotations

import argparse
import io
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
