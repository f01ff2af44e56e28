"""Format detection reads the content, never the file name."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from schemas.documents import RawDocument
from workers.parsers import PARSERS, detect_format, parse

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("formats/dockyard-fire-live.html", "html"),
        ("formats/river-festival-blocks.html", "html"),
        ("formats/amtar-rtl.html", "html"),
        ("formats/transit-strike-v1.xml", "rss"),
        ("formats/eclipse-watch-atom.xml", "rss"),
        ("formats/mojibake-feed.xml", "rss"),
        ("formats/marathon-jsonfeed.json", "json"),
        ("formats/newsroom-api.json", "json"),
        ("storm-live-2024-10-12.txt", "text"),
        ("election-night-2024-11-05.txt", "text"),
        ("incendios-2025-08-14.txt", "text"),
    ],
)
def test_samples_are_detected_by_content(name, fmt):
    assert detect_format((SAMPLES / name).read_text(encoding="utf-8")) == fmt


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        ('\ufeff<?xml version="1.0"?>\n<?xml-stylesheet href="s.xsl"?>\n<!-- export --><rss version="2.0">', "rss"),
        ('<feed xmlns="http://www.w3.org/2005/Atom">', "rss"),
        ("<rdf:RDF xmlns:rdf='x'>", "rss"),
        ("<!DOCTYPE html>\n<html>", "html"),
        ('<?xml version="1.0"?><!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN"><html>', "html"),
        ("<article><h2>Update</h2>", "html"),
        ("  \n{\"version\": \"https://jsonfeed.org/version/1.1\"}", "json"),
        ("[1, 2, 3]", "json"),
        ("Storm live\n\n12:31 , Jane\nText", "text"),
        ("<3 for the rescuers\n12:31\nText", "text"),
        ("< not a tag", "text"),
    ],
)
def test_detection_rules(head, fmt):
    assert detect_format(head) == fmt


def test_every_detected_format_has_a_parser():
    assert set(PARSERS) == {"text", "html", "rss", "json"}


def test_file_name_does_not_decide_the_format():
    body = (SAMPLES / "formats" / "transit-strike-v1.xml").read_bytes()
    raw = RawDocument.from_bytes(body, blog_id="t", source="misleading-name.html",
                                 fetched_at=datetime(2025, 10, 14, tzinfo=timezone.utc))
    assert parse(raw).format == "rss"


RSS = ('<rss version="2.0"><channel><title>t</title><item><guid>a</guid><title>Bridge</title>'
       "<pubDate>Sat, 12 Jul 2025 09:00:00 GMT</pubDate></item></channel></rss>")


LONG_PROLOGUES = [  # the first 4096 characters were all prologue, and the feed or page was rejected as text
    '<?xml version="1.0"?>\n<!-- ' + "c" * 5000 + " -->\n",
    "<?xml-stylesheet " + "x" * 5000 + "?>",
    '<!DOCTYPE rss PUBLIC "-//x//' + "y" * 5000 + '//EN" "http://example.com/rss.dtd">',
]


@pytest.mark.parametrize("prologue", LONG_PROLOGUES)
def test_a_long_prologue_does_not_hide_the_root(prologue):
    assert detect_format(prologue + RSS) == "rss"
    assert detect_format(prologue + "<html><body>") == "html"
    raw = RawDocument.from_bytes((prologue + RSS).encode(), blog_id="t", source="feed",
                                 fetched_at=datetime(2025, 10, 14, tzinfo=timezone.utc))
    assert [p.title for p in parse(raw).posts] == ["Bridge"]


def test_a_long_internal_subset_does_not_hide_the_root():
    subset = '<!ATTLIST rss note CDATA "a > <b> ]">\n' * 300 + "<!-- ]> -->\n"
    assert detect_format(f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n{subset}]>\n{RSS}') == "rss"


@pytest.mark.parametrize("body", [
    "<!-- " + "x" * 2_000_000,                           # a comment never closed
    "<!DOCTYPE rss [" + '<!ENTITY a "x">' * 200_000,      # an internal subset never closed
    "<!DOCTYPE rss [" + "<" * 900_000,
    "<!-- -->" * 300_000 + RSS,                           # the root beyond the first million characters
])
def test_an_endless_prologue_is_text_after_bounded_work(body):
    assert detect_format(body) == "text"
