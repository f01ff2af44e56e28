"""Stamp lines: which lines are stamps, and where each stamp lands on the UTC calendar."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from schemas.errors import InputRejected
from workers import stamps
from workers.stamps import Stamp, parse_stamp_line, resolve

UTC = timezone.utc
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")
# Far after every stamp used here, so it never decides a date unless a test wants it to.
LATE = datetime(2030, 1, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def bare(hhmm: str) -> Stamp:
    hour, minute = hhmm.split(":")
    return Stamp(hour=int(hour), minute=int(minute))


# --- recognising a stamp line ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("12:31 , Thomas Kingsley", Stamp(12, 31, author="Thomas Kingsley")),
        ("Thursday 27 January 2022 21:10 , John Bowden", Stamp(21, 10, date(2022, 1, 27), author="John Bowden")),
        ("09:05", Stamp(9, 5)),
        ("9.05pm", Stamp(21, 5)),
        ("12.20am", Stamp(0, 20)),
        ("12.05pm", Stamp(12, 5)),
        ("11.40am , Jane Doe", Stamp(11, 40, author="Jane Doe")),
        ("Tuesday 5 November 2024 7.02pm , Name", Stamp(19, 2, date(2024, 11, 5), author="Name")),
        ("jueves 14 agosto 2025 22:15 , Nombre", Stamp(22, 15, date(2025, 8, 14), author="Nombre")),
        ("21.10 BST", Stamp(21, 10, utc_offset_min=60)),
        ("10:10 EDT", Stamp(10, 10, utc_offset_min=-240)),
        ("9.05 p.m.", Stamp(21, 5)),
        ("12:31 | Jane Doe", Stamp(12, 31, author="Jane Doe")),
    ],
)
def test_each_stamp_form_is_read_as_wall_clock_time_date_zone_and_author(line: str, expected: Stamp) -> None:
    assert parse_stamp_line(line) == expected


# German, Italian and Portuguese pages print their stamps with "Uhr", "ore"/"alle", "às" and
# their own month and weekday names.
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("14.05 Uhr", Stamp(14, 5)),
        ("14:05 Uhr", Stamp(14, 5)),
        ("14.05 Uhr | Anna Keller", Stamp(14, 5, author="Anna Keller")),
        ("Samstag, 25. Oktober 2025, 14.05 Uhr", Stamp(14, 5, date(2025, 10, 25))),
        ("25. Okt. 2025, 14:05 Uhr", Stamp(14, 5, date(2025, 10, 25))),
        ("3. Dez. 2025 um 9.12 Uhr", Stamp(9, 12, date(2025, 12, 3))),
        ("ore 14.05", Stamp(14, 5)),
        ("12 settembre 2025, 14:05", Stamp(14, 5, date(2025, 9, 12))),
        ("sabato 13 settembre 2025 alle 14:05", Stamp(14, 5, date(2025, 9, 13))),
        ("lunedì 6 gennaio 2025 ore 8.30", Stamp(8, 30, date(2025, 1, 6))),
        ("13 de setembro de 2025 14h05", Stamp(14, 5, date(2025, 9, 13))),
        ("sábado, 13 de setembro de 2025 às 14h05", Stamp(14, 5, date(2025, 9, 13))),
        ("quinta-feira, 2 de janeiro de 2025, 22h10 , Rita Carvalho", Stamp(22, 10, date(2025, 1, 2), author="Rita Carvalho")),
    ],
)
def test_german_italian_and_portuguese_stamps_are_read(line: str, expected: Stamp) -> None:
    assert parse_stamp_line(line) == expected


def test_a_german_inline_stamp_does_not_put_uhr_into_the_title() -> None:
    assert stamps.parse_inline_stamp("14.05 Uhr: Bahnverkehr eingestellt") == (Stamp(14, 5), "Bahnverkehr eingestellt")


@pytest.mark.parametrize(
    "line",
    [
        "Thursday ended with both Russia and the US continuing to posture over the border.",
        "Thursday ended with both",
        "12.5 million people",
        "At 12:30 the bomb went off near the station.",
        "25:10",
        "13.05pm",
        "12:60",
        "0.00am",
        "Friday 31 February 2022 10:00",
        "1.30pm UK time on Friday",
        "12:31 , one two three four five six seven",
        "12:31 , 2024",
        "",
    ],
)
def test_prose_numbers_and_impossible_times_are_not_stamps(line: str) -> None:
    assert parse_stamp_line(line) is None


def test_midnight_and_noon_in_twelve_hour_stamps_map_to_0_and_12() -> None:
    assert (parse_stamp_line("12.00am").hour, parse_stamp_line("12.00pm").hour) == (0, 12)


# --- placing stamps on the calendar ---------------------------------------------------------


def test_time_only_stamps_after_midnight_take_the_next_day() -> None:
    page = [bare("00:30"), bare("00:00"), Stamp(23, 30, date(2022, 1, 27)), Stamp(22, 56, date(2022, 1, 27))]

    times = resolve(page, tz=LONDON, reference_date=None, newest_first=True, fallback_now=LATE)

    assert times == [utc(2022, 1, 28, 0, 30), utc(2022, 1, 28, 0, 0), utc(2022, 1, 27, 23, 30), utc(2022, 1, 27, 22, 56)]


def test_oldest_first_pages_roll_over_midnight_walking_down_the_page() -> None:
    page = [Stamp(22, 40, date(2024, 10, 12)), bare("23:35"), bare("00:10"), bare("02:10")]

    times = resolve(page, tz=UTC, reference_date=None, newest_first=False, fallback_now=LATE)

    assert times == [utc(2024, 10, 12, 22, 40), utc(2024, 10, 12, 23, 35), utc(2024, 10, 13, 0, 10), utc(2024, 10, 13, 2, 10)]


def test_bare_times_older_than_the_first_dated_post_roll_back_to_the_previous_day() -> None:
    # oldest first: two bare evening posts, then the first dated post just after midnight
    page = [bare("22:00"), bare("23:50"), Stamp(0, 15, date(2024, 3, 2)), bare("01:00")]

    times = resolve(page, tz=UTC, reference_date=None, newest_first=False, fallback_now=LATE)

    assert times == [utc(2024, 3, 1, 22, 0), utc(2024, 3, 1, 23, 50), utc(2024, 3, 2, 0, 15), utc(2024, 3, 2, 1, 0)]


def test_a_pinned_post_five_minutes_out_of_order_does_not_create_a_new_day() -> None:
    # newest first; the 10:05 post was pinned above the 10:10 one
    page = [bare("10:20"), bare("10:05"), bare("10:10"), Stamp(9, 30, date(2024, 6, 1))]

    times = resolve(page, tz=UTC, reference_date=None, newest_first=True, fallback_now=LATE)

    assert times == [utc(2024, 6, 1, 10, 20), utc(2024, 6, 1, 10, 5), utc(2024, 6, 1, 10, 10), utc(2024, 6, 1, 9, 30)]


def test_the_reference_date_is_the_date_of_the_oldest_post() -> None:
    page = [bare("09:05"), bare("23:10"), bare("21:00")]

    times = resolve(page, tz=UTC, reference_date=date(2024, 10, 12), newest_first=True, fallback_now=LATE)

    assert times == [utc(2024, 10, 13, 9, 5), utc(2024, 10, 12, 23, 10), utc(2024, 10, 12, 21, 0)]


def test_a_full_date_on_a_stamp_wins_over_the_reference_date() -> None:
    page = [bare("10:00"), Stamp(9, 0, date(2023, 5, 4))]

    times = resolve(page, tz=UTC, reference_date=date(1999, 1, 1), newest_first=True, fallback_now=LATE)

    assert times == [utc(2023, 5, 4, 10, 0), utc(2023, 5, 4, 9, 0)]


def test_without_any_date_the_newest_post_takes_the_local_date_it_was_fetched_on() -> None:
    fetched = utc(2024, 10, 13, 10, 30)  # 11:30 BST

    times = resolve([bare("11:20"), bare("10:40")], tz=LONDON, reference_date=None, newest_first=True,
                    fallback_now=fetched)

    assert times == [utc(2024, 10, 13, 10, 20), utc(2024, 10, 13, 9, 40)]


def test_without_any_date_a_newest_post_later_than_the_fetch_clock_is_from_the_day_before() -> None:
    fetched = utc(2024, 10, 13, 9, 0)  # 10:00 BST: an 11:20 post cannot be from today

    times = resolve([bare("11:20"), bare("10:40")], tz=LONDON, reference_date=None, newest_first=True,
                    fallback_now=fetched)

    assert times == [utc(2024, 10, 12, 10, 20), utc(2024, 10, 12, 9, 40)]


def test_the_fetch_date_is_taken_in_the_blogs_zone_not_in_utc() -> None:
    fetched = utc(2024, 11, 6, 3, 0)  # still 5 November, 22:00, in New York

    [time] = resolve([bare("21:47")], tz=NEW_YORK, reference_date=None, newest_first=True, fallback_now=fetched)

    assert time == utc(2024, 11, 6, 2, 47)


@pytest.mark.parametrize(
    ("tz", "day", "hour", "minute", "expected"),
    [
        ("Europe/London", date(2024, 10, 12), 21, 15, utc(2024, 10, 12, 20, 15)),  # BST, UTC+1
        ("Europe/London", date(2022, 1, 27), 21, 10, utc(2022, 1, 27, 21, 10)),  # GMT, UTC+0
        ("Europe/London", date(2024, 10, 27), 2, 30, utc(2024, 10, 27, 2, 30)),  # just after clocks go back
        ("America/New_York", date(2024, 11, 5), 19, 2, utc(2024, 11, 6, 0, 2)),  # EST, UTC-5
        ("America/New_York", date(2024, 7, 4), 12, 0, utc(2024, 7, 4, 16, 0)),  # EDT, UTC-4
        ("Europe/Madrid", date(2025, 8, 15), 1, 15, utc(2025, 8, 14, 23, 15)),  # CEST, UTC+2
    ],
)
def test_local_times_become_utc_with_the_offset_in_force_on_that_day(
    tz: str, day: date, hour: int, minute: int, expected: datetime
) -> None:
    [time] = resolve([Stamp(hour, minute, day)], tz=ZoneInfo(tz), reference_date=None, newest_first=True,
                     fallback_now=LATE)

    assert time == expected
    assert time.utcoffset().total_seconds() == 0


def test_an_explicit_zone_abbreviation_wins_over_the_blogs_zone() -> None:
    page = [parse_stamp_line("21.10 BST"), parse_stamp_line("10:10 EDT")]

    times = resolve(page, tz=ZoneInfo("Asia/Tokyo"), reference_date=date(2024, 10, 12), newest_first=True,
                    fallback_now=LATE)

    assert times == [utc(2024, 10, 12, 20, 10), utc(2024, 10, 12, 14, 10)]


def test_resolved_times_are_utc_aware() -> None:
    times = resolve([bare("12:00")], tz=LONDON, reference_date=date(2024, 8, 1), newest_first=True, fallback_now=LATE)

    assert times[0].tzinfo is UTC


# --- zones ----------------------------------------------------------------------------------


def test_a_known_iana_zone_is_returned() -> None:
    assert stamps.zone("Europe/London") == LONDON


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "../../etc/passwd", "Europe/London "])
def test_an_unknown_zone_is_rejected_naming_what_was_expected_and_found(name: str) -> None:
    with pytest.raises(InputRejected) as caught:
        stamps.zone(name)

    assert caught.value.reason == "unknown time zone"
    assert "IANA" in caught.value.expected
    assert caught.value.found == repr(name)


@pytest.mark.parametrize("line", ["1 ſeptember 2022 10:00", "1 junı 2022 10:00"])
def test_unicode_lookalike_month_names_are_read_or_refused_never_crash(line: str) -> None:
    stamp = parse_stamp_line(line)

    assert stamp is None or stamp.day is not None


# --- relative stamps ("5 minutes ago", "yesterday 21:05") --------------------------------------

FETCH = datetime(2025, 6, 21, 20, 0, 40, tzinfo=UTC)  # 22:00:40 in Paris


@pytest.mark.parametrize(
    ("line", "minutes_before_fetch"),
    [
        ("5 minutes ago", 5), ("1 hour ago", 60), ("2h ago", 120), ("an hour ago", 60), ("5 mins ago", 5),
        ("just now", 0), ("Just now", 0), ("30 seconds ago", 0), ("1 hour and 20 minutes ago", 80),
        ("1h30 ago", 90), ("2 days ago", 2 * 1440), ("half an hour ago", 30),
        ("il y a 5 minutes", 5), ("il y a 1 h", 60), ("il y a 1 h 30", 90), ("il y a 2 jours", 2 * 1440),
        ("à l'instant", 0), ("À l’instant", 0),
        ("vor 5 Minuten", 5), ("vor 2 Stunden", 120), ("vor einer Stunde", 60), ("vor 2 Std.", 120),
        ("vor 3 Tagen", 3 * 1440),
        ("hace 5 minutos", 5), ("hace una hora", 60), ("hace 2 días", 2 * 1440),
        ("5 minuti fa", 5), ("un'ora fa", 60), ("2 ore fa", 120),
        ("há 5 minutos", 5), ("ha 2 horas", 120), ("5 minutos atrás", 5),
        # after a label, read as the post's stamp (module docstring)
        ("Updated 5 minutes ago", 5), ("Posted 2 hours ago", 120), ("Updated: 5 minutes ago", 5),
        ("Last updated just now", 0), ("Publié il y a 5 minutes", 5), ("Mis à jour il y a 1 h", 60),
        ("Publié : il y a 2 h", 120), ("Mis à jour à l'instant", 0), ("Aktualisiert vor 5 Minuten", 5),
        ("Actualizado hace 5 minutos", 5), ("Aggiornato 5 minuti fa", 5), ("Atualizado há 5 minutos", 5),
    ],
)
def test_a_relative_stamp_is_the_fetch_time_minus_its_delta_to_the_minute(line: str, minutes_before_fetch: int) -> None:
    stamp = parse_stamp_line(line)
    assert stamp is not None and stamp.relative
    expected = datetime(2025, 6, 21, 20, 0, tzinfo=UTC) - timedelta(minutes=minutes_before_fetch)
    if line == "30 seconds ago":
        expected = datetime(2025, 6, 21, 20, 0, tzinfo=UTC)  # 20:00:10, to the minute
    assert resolve([stamp], tz=PARIS, reference_date=None, newest_first=True, fallback_now=FETCH) == [expected]


@pytest.mark.parametrize(
    "line", ["5 minutes 2 hours ago", "vor 400 Tagen", "ago", "il y a", "5 ago", "hace 5 Stunden", "Now",
             "Five minutes ago the minister said it was over", "vor 5 Minuten sagte er",
             "Updated", "Updated vor 5 Minuten", "Updatedvor 5 minutes ago", "Publié il y a", "Posted by 5 minutes ago"],
)
def test_lines_that_only_look_relative_are_not_stamps(line: str) -> None:
    assert parse_stamp_line(line) is None


def test_a_relative_stamp_may_carry_a_byline() -> None:
    stamp = parse_stamp_line("2 hours ago | Jane Doe")
    assert stamp is not None and stamp.author == "Jane Doe" and stamp.ago_s == 7200 and stamp.approx_s == 3600
    labelled = parse_stamp_line("Publié il y a 5 minutes, Jean Martin")
    assert labelled is not None and labelled.author == "Jean Martin" and labelled.ago_s == 300


@pytest.mark.parametrize(
    ("line", "expected_paris"),
    [
        ("yesterday 21:05", datetime(2025, 6, 20, 21, 5)), ("Yesterday at 9.05pm", datetime(2025, 6, 20, 21, 5)),
        ("hier à 21h05", datetime(2025, 6, 20, 21, 5)), ("gestern, 21.05 Uhr", datetime(2025, 6, 20, 21, 5)),
        ("ayer a las 21:05", datetime(2025, 6, 20, 21, 5)), ("ieri alle 21:05", datetime(2025, 6, 20, 21, 5)),
        ("ontem às 21h05", datetime(2025, 6, 20, 21, 5)), ("aujourd'hui à 9h10", datetime(2025, 6, 21, 9, 10)),
        ("heute, 9.10 Uhr", datetime(2025, 6, 21, 9, 10)), ("vorgestern, 8.00 Uhr", datetime(2025, 6, 19, 8, 0)),
    ],
)
def test_yesterday_and_today_are_counted_from_the_fetch_date_in_the_blogs_zone(line: str, expected_paris) -> None:
    stamp = parse_stamp_line(line)
    assert stamp is not None and stamp.days_back is not None and stamp.approx_s == 0
    # 23:30 UTC on the 20th is already the 21st in Paris: "yesterday" is the 20th, not the 19th
    fetched = datetime(2025, 6, 20, 23, 30, tzinfo=UTC) if line != "vorgestern, 8.00 Uhr" else FETCH
    got = resolve([stamp], tz=PARIS, reference_date=None, newest_first=True, fallback_now=fetched)
    assert got == [expected_paris.replace(tzinfo=PARIS).astimezone(UTC)]


def test_bare_times_between_relative_stamps_take_their_dates_from_them_across_midnight() -> None:
    # newest first, fetched at 00:20 in Paris: "15 minutes ago" is 00:05 on the 22nd; the bare
    # 23:50 below it is the 21st, and "hier à 22h10" counts from the fetch date (the 22nd): the 21st
    page = [parse_stamp_line(x) for x in ("15 minutes ago", "23:50", "hier à 22h10", "21:40")]
    fetched = datetime(2025, 6, 21, 22, 20, tzinfo=UTC)
    got = resolve(page, tz=PARIS, reference_date=None, newest_first=True, fallback_now=fetched)
    assert [t.astimezone(PARIS).replace(tzinfo=None) for t in got] == [
        datetime(2025, 6, 22, 0, 5), datetime(2025, 6, 21, 23, 50), datetime(2025, 6, 21, 22, 10),
        datetime(2025, 6, 21, 21, 40)]


def test_the_same_fetch_time_gives_the_same_times() -> None:
    page = [parse_stamp_line(x) for x in ("5 minutes ago", "vor 2 Stunden", "14:05")]
    first = resolve(page, tz=PARIS, reference_date=None, newest_first=True, fallback_now=FETCH)
    assert resolve(page, tz=PARIS, reference_date=None, newest_first=True, fallback_now=FETCH) == first


def _relative_forms() -> list[str]:
    """Every relative stamp the language tables can spell, in a few shapes, with and without a byline."""
    out = []
    for lang in stamps.RELATIVE_LANGUAGES.values():
        amounts = [f"{n} {u}" for n in (1, 5) for u in lang.units] + [f"{w} {u}" for w in lang.one for u in lang.units]
        for amount in amounts:
            out += [f"{b} {amount}" for b in lang.before] + [f"{amount} {a}" for a in lang.after]
            out += [f"{b} {amount} {a}" for b in lang.before for a in lang.after]
        out += list(lang.phrases)
        out += [f"{label}{sep}{form}" for label in lang.labels for sep in (" ", ": ", " : ")
                for form in out[-len(lang.phrases) - 2:]]  # a few forms of the language after each label
    shapes = []
    for form in out:
        shapes += [form, form.upper(), form.capitalize(), "  " + form.replace(" ", "  "), form.replace("'", "’"),
                   f"{form} | Jane Doe", f"{form.capitalize()}, Jean Martin"]
    return shapes


def test_the_relative_cue_rejects_no_line_the_full_reader_accepts(monkeypatch):
    """The one-search pre-check in parse_relative is only a speed-up: over every form the tables spell,
    the reader finds the same stamps with it as without it (and it does find them)."""
    forms = _relative_forms()
    with_cue = [stamps.parse_relative(f) for f in forms]
    monkeypatch.setattr(stamps, "_RELATIVE_CUE", re.compile(""))  # matches every line: no pre-check
    without = [stamps.parse_relative(f) for f in forms]
    assert with_cue == without
    assert sum(s is not None for s in with_cue) > len(forms) // 2
