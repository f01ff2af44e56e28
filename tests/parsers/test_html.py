"""HTML live pages: JSON-LD, visible post blocks, and what happens when they disagree."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from structlog.testing import capture_logs

from schemas.documents import ParseOptions, RawDocument
from schemas.errors import InputRejected
from tests.parsers.fixtures import check_against_expected, load_sample
from workers.parsers import html, parse

FETCHED = datetime(2025, 6, 21, 20, 0, tzinfo=timezone.utc)


def html_doc(markup: str, **options) -> RawDocument:
    return RawDocument.from_bytes(markup.encode(), blog_id="t", source="https://example.test/live",
                                  fetched_at=FETCHED, options=ParseOptions(format="html", **options))


@pytest.mark.parametrize("name", ["dockyard-fire-live", "river-festival-blocks", "council-vote-jsonld", "amtar-rtl",
                                  "crue-loire-direct", "sturmtief-liveblog-wp"])
def test_html_fixture_matches_ground_truth(name):
    check_against_expected(name)


def test_misleading_jsonld_loses_to_visible_blocks_and_is_logged():
    raw, _ = load_sample("dockyard-fire-live")
    with capture_logs() as logs:
        doc = parse(raw)
    [entry] = [e for e in logs if e["event"] == "jsonld_disagrees"]
    assert entry["used"] == "visible_blocks"
    assert (entry["titles_differ"], entry["times_differ"], entry["bodies_truncated"]) == (4, 3, 4)
    assert entry["document_id"] == raw.document_id
    assert {p.title for p in doc.posts}.isdisjoint({doc.blog.title})


def test_misleading_jsonld_does_not_lend_its_author_to_visible_posts():
    raw, _ = load_sample("dockyard-fire-live")
    assert "Southern Coast Herald" not in {p.author for p in parse(raw).posts}


def test_agreeing_jsonld_fills_author_and_edit_time_without_warning():
    raw, _ = load_sample("council-vote-jsonld")
    with capture_logs() as logs:
        doc = parse(raw)
    assert not [e for e in logs if e["event"] == "jsonld_disagrees"]
    assert doc.posts[0].author == "Renée Halvorsen"
    assert doc.posts[0].updated_at == datetime(2025, 11, 19, 3, 2, tzinfo=timezone.utc)


def test_scripts_styles_handlers_and_captions_never_reach_text():
    raw, _ = load_sample("dockyard-fire-live")
    dumped = parse(raw).model_dump_json()
    for leak in ("SCRIPT-LEAK", "STYLE-LEAK", "INLINE-SCRIPT-LEAK", "HANDLER-LEAK", "IMG-LEAK", "steal()",
                 "Smoke rises over", "Jo Park"):
        assert leak not in dumped


def test_right_to_left_text_and_bidi_marks_are_kept():
    raw, _ = load_sample("amtar-rtl")
    body = parse(raw).posts[0].body
    assert "الطريق رقم \u200fA7\u200f سيبقى" in body


def test_jsonld_alone_is_used_when_the_page_shows_no_post_blocks():
    markup = """<html><head><script type="application/ld+json">
    {"@type": ["LiveBlogPosting"], "headline": "Quay works live", "liveBlogUpdate": {
      "headline": "Crane arrives", "datePublished": "2025-05-02T08:15:00",
      "articleBody": "<p>The crane arrived by barge.</p><p>Read more <a href='/crane'>here</a></p>",
      "url": "https://example.test/live#u1", "author": {"name": "Ada Moss"}}}
    </script></head><body><p>Loading…</p></body></html>"""
    doc = parse(html_doc(markup, tz="Europe/Dublin"))
    [post] = doc.posts
    assert (post.title, post.source_id, post.author) == ("Crane arrives", "u1", "Ada Moss")
    assert post.published_at == datetime(2025, 5, 2, 7, 15, tzinfo=timezone.utc)  # IST is UTC+1
    assert post.body == "The crane arrived by barge."
    assert [(r.text, r.url) for r in post.related_links] == [("Read more here", "https://example.test/crane")]
    assert doc.blog.title == "Quay works live" and doc.warnings == []


def test_page_header_with_h1_and_time_is_not_a_post():
    markup = """<html><body><header><h1>Vote live</h1><time datetime="2025-01-01T09:00Z">9am</time></header>
    <article><h2>Polls open</h2><time datetime="2025-01-01T10:00Z">10am</time><p>Queues formed early.</p></article>
    </body></html>"""
    [post] = parse(html_doc(markup)).posts
    assert (post.title, post.body) == ("Polls open", "Queues formed early.")


def test_javascript_links_are_not_related_links():
    markup = """<html><body><div><h2>Update</h2><time datetime="2025-01-01T10:00Z">10:00</time>
    <p><a href="javascript:alert(1)">Read more here</a></p><p>Real text.</p></div></body></html>"""
    [post] = parse(html_doc(markup)).posts
    assert [(r.text, r.url) for r in post.related_links] == [("Read more here", None)]
    assert post.body == "Real text."
    assert "javascript" not in post.model_dump_json()


def test_prose_ending_in_here_is_body_when_it_carries_no_link():
    markup = """<html><body><div><h2>Flood gauge</h2><time datetime="2025-01-01T10:00Z">10:00</time>
    <p>The river is expected to peak here.</p></div></body></html>"""
    [post] = parse(html_doc(markup)).posts
    assert (post.body, post.related_links) == ("The river is expected to peak here.", [])


def test_page_without_posts_is_rejected_with_what_was_expected():
    with pytest.raises(InputRejected) as caught:
        parse(html_doc("<html><body><h1>Nothing here</h1><p>Just prose.</p></body></html>"))
    assert caught.value.reason == "no posts"
    assert "LiveBlogPosting" in caught.value.expected


def test_invalid_jsonld_block_is_a_warning_not_a_failure():
    markup = """<html><head><script type="application/ld+json">{"@type": "LiveBlogPosting",</script></head>
    <body><article><h2>Kick-off</h2><time datetime="2025-02-01T15:00:00Z">3pm</time><p>We are under way.</p></article></body></html>"""
    doc = html.parse(html_doc(markup), markup)
    assert [p.title for p in doc.posts] == ["Kick-off"]
    assert doc.warnings == ["ignored a JSON-LD block that is not valid JSON"]


def _blocks(*metas: str) -> str:
    posts = "".join(f'<article class="post"><h2>Update {i}</h2><p class="meta">{meta}</p>'
                    f"<p>Body of update {i} with enough words to be a post.</p></article>"
                    for i, meta in enumerate(metas))
    return f"<html><body><h1>Live</h1>{posts}</body></html>"


def test_a_bare_time_takes_its_date_from_dated_neighbours_not_from_the_fetch():
    # newest first; the page is read a year and a half after it was written (an archive, a replay)
    markup = _blocks("<time>21:05</time>", '<time datetime="2025-06-21T19:40">19:40</time>',
                     '<time datetime="2025-06-21T18:40:00+02:00">18:40</time>')
    raw = RawDocument.from_bytes(markup.encode(), blog_id="t", source="https://example.test/live",
                                 fetched_at=FETCHED.replace(year=2026, month=12),
                                 options=ParseOptions(format="html", tz="Europe/Berlin"))
    assert [p.published_at for p in parse(raw).posts] == [
        datetime(2025, 6, 21, 19, 5, tzinfo=timezone.utc), datetime(2025, 6, 21, 17, 40, tzinfo=timezone.utc),
        datetime(2025, 6, 21, 16, 40, tzinfo=timezone.utc)]


def test_a_bare_time_after_a_dated_late_evening_post_rolls_over_midnight():
    markup = _blocks("<time>00:10</time>", '<time datetime="2025-06-21T23:50:00+02:00">23:50</time>',
                     '<time datetime="2025-06-21T23:20:00+02:00">23:20</time>')
    raw = html_doc(markup, tz="Europe/Berlin")
    assert parse(raw).posts[0].published_at == datetime(2025, 6, 21, 22, 10, tzinfo=timezone.utc)


def test_the_times_of_a_page_share_one_heading_search_per_ancestor():
    # 4,000 <time>s under 200 nested divs: each ancestor's subtree was searched again for every
    # <time> (20.5 s); now once per ancestor, so the search count is the ancestors climbed
    from selectolax.lexbor import LexborHTMLParser

    markup = "<html><body>" + "<div>" * 200 + '<time datetime="2024-01-01T00:00:00Z"></time>' * 4000 + "</body></html>"
    tree = LexborHTMLParser(markup)
    levels: dict[int, list[int]] = {}
    for time in tree.body.css("time"):
        assert html._block_around(time, levels) is None  # no headings: no block
    assert len(levels) == html.MAX_CLIMB


@pytest.mark.parametrize("markup", [
    "<html><body>" + "<div>" * 100_000 + "<article><h2>T</h2><time>10:00</time><p>b</p></article>" + "</div>" * 100_000,
    "<html><body>" + "<section>" * 3_000 + "x",  # never closed
])
def test_block_elements_nested_past_the_limit_are_refused_before_parsing(markup):
    # lexbor is quadratic in nesting depth: 100,000 divs took 36 s before this check
    with pytest.raises(InputRejected) as caught:
        parse(html_doc(markup))
    assert caught.value.reason == "HTML nested too deeply"
    assert caught.value.expected == "block elements nested at most 2,000 deep"


def test_deep_but_closed_siblings_and_inline_nesting_are_not_refused():
    siblings = "<div><p>x</p></div>" * 5_000  # many blocks, none deep
    inline = "<b>" * 5_000 + "x"  # inline tags do not count
    markup = ('<html><body><article><h2>Update</h2><time datetime="2025-06-21T10:00:00Z">10:00</time>'
              f"<p>A body with enough words to be a post.</p>{siblings}{inline}</article></body></html>")
    assert len(parse(html_doc(markup)).posts) == 1


def test_a_doctype_with_an_internal_subset_is_ignored():
    markup = ('<!DOCTYPE html [\n <!ELEMENT post ANY>\n <!ATTLIST post id ID #IMPLIED>\n]>\n'
              '<html><head><title>Storm live</title></head><body>'
              '<article id="p1"><h2>First</h2><time datetime="2025-07-12T09:00:00Z">09:00</time><p>Body one</p></article>'
              '<article id="p2"><h2>Second</h2><time datetime="2025-07-12T10:00:00Z">10:00</time><p>Body two</p></article>'
              '</body></html>')
    for raw in (html_doc(markup), html_doc(markup).model_copy(update={"options": ParseOptions()})):  # and detected
        doc = parse(raw)
        assert doc.format == "html" and doc.blog.title == "Storm live" and not doc.warnings
        assert [(p.title, p.body) for p in doc.posts] == [("First", "Body one"), ("Second", "Body two")]


def test_an_update_label_around_the_edit_time_is_not_body_text():
    # "Mis à jour à <time class=updated>": the time was left out of the body, its label was not
    markup = """<html><body><h1>Direct</h1>
    <article id="p2"><h2>La Loire atteint 5,12 mètres</h2><time datetime="2025-10-25T23:48:00+02:00">23h48</time>
      <p class="maj">Mis à jour à <time class="updated" datetime="2025-10-26T00:31:00+02:00">00h31</time></p>
      <p>Le niveau relevé au pont Wilson est de 5,12 mètres, selon Vigicrues.</p></article>
    <article id="p1"><h2>Aktualisiert</h2><time datetime="2025-10-25T22:00:00+02:00">22.00 Uhr</time>
      <div>Aktualisiert am <time class="updated" datetime="2025-10-25T22:30:00+02:00">22.30 Uhr</time></div>
      <p>Der Pegel steigt weiter.</p></article>
    </body></html>"""
    posts = parse(html_doc(markup, tz="Europe/Paris")).posts
    assert [p.body for p in posts] == ["Le niveau relevé au pont Wilson est de 5,12 mètres, selon Vigicrues.",
                                       "Der Pegel steigt weiter."]
    assert posts[0].updated_at == datetime(2025, 10, 25, 22, 31, tzinfo=timezone.utc)


@pytest.mark.parametrize(("byline", "author"), [
    ("Par Julien Morvan", "Julien Morvan"), ("Von Anna Keller", "Anna Keller"), ("di Giulia Ferraro", "Giulia Ferraro"),
    ("Por Rita Carvalho", "Rita Carvalho"), ("Von der Leyen", "Von der Leyen"),
])
def test_a_localised_by_is_not_part_of_the_author(byline, author):
    markup = f"""<html><body><h1>Live</h1>
    <article id="p1"><h2>Titre</h2><time datetime="2025-10-25T22:00:00+02:00">22h00</time>
      <p class="author">{byline}</p><p>Texte du billet.</p></article></body></html>"""
    assert parse(html_doc(markup)).posts[0].author == author


def test_a_pinned_post_in_its_own_wrapper_is_still_a_post():
    # key events pinned above the feed sit in a wrapper of their own; the wrapper (one heading,
    # one time) was taken for the block, its shape lost the vote to the feed's <article>s and the
    # pinned post vanished
    markup = """<html><body><header><h1>Direct</h1><time datetime="2025-10-25T18:00:00+02:00">18h00</time></header>
    <div class="pinned"><article class="post" id="post-1"><span>L'essentiel</span><h2>Vigilance rouge maintenue</h2>
      <time datetime="2025-10-25T18:05:00+02:00">18h05</time><p>La vigilance rouge est maintenue jusqu'à dimanche.</p></article></div>
    <div class="feed">
    <article class="post" id="post-3"><h2>Pont rouvert</h2><time datetime="2025-10-26T00:12:00+02:00">00h12</time><p>Le pont est rouvert.</p></article>
    <article class="post" id="post-2"><h2>Évacuation</h2><time datetime="2025-10-25T22:57:00+02:00">22h57</time><p>300 habitants évacués.</p></article>
    </div></body></html>"""
    posts = parse(html_doc(markup, tz="Europe/Paris")).posts
    assert [p.source_id for p in posts] == ["post-1", "post-3", "post-2"]
    assert posts[0].body == "La vigilance rouge est maintenue jusqu'à dimanche."


def test_jsonld_listing_only_the_latest_updates_still_lends_authors_and_edit_times():
    # publishers put only the newest few updates in JSON-LD; the older visible posts it leaves
    # out made it "disagree", so the authors and edit times of the posts it does describe were lost
    ld = ('{"@type":"LiveBlogPosting","headline":"Direct","liveBlogUpdate":['
          '{"headline":"Pont rouvert","url":"https://example.test/live#post-3","datePublished":"2025-10-26T00:12:00+02:00",'
          '"dateModified":"2025-10-26T00:20:00+02:00","articleBody":"Le pont est rouvert.","author":{"name":"Camille Besnard"}}]}')
    markup = f"""<html><head><script type="application/ld+json">{ld}</script></head><body><h1>Direct</h1>
    <article id="post-3"><h2>Pont rouvert</h2><time datetime="2025-10-26T00:12:00+02:00">00h12</time><p>Le pont est rouvert.</p></article>
    <article id="post-2"><h2>Évacuation</h2><time datetime="2025-10-25T22:57:00+02:00">22h57</time><p>300 habitants évacués.</p></article>
    </body></html>"""
    doc = parse(html_doc(markup))
    assert doc.warnings == []
    assert [(p.author, p.updated_at) for p in doc.posts] == [
        ("Camille Besnard", datetime(2025, 10, 25, 22, 20, tzinfo=timezone.utc)), (None, None)]


def test_jsonld_updates_missing_from_the_page_still_disagree_but_a_matching_pair_is_completed():
    ld = ('{"@type":"LiveBlogPosting","headline":"Direct","liveBlogUpdate":['
          '{"headline":"Autre","url":"https://example.test/live#post-9","datePublished":"2025-10-26T00:12:00+02:00",'
          '"articleBody":"Autre chose.","author":{"name":"Camille Besnard"}},'
          '{"headline":"Pont rouvert","url":"https://example.test/live#post-3","datePublished":"2025-10-26T00:12:00+02:00",'
          '"articleBody":"Le pont est rouvert.","author":{"name":"Camille Besnard"}}]}')
    markup = f"""<html><head><script type="application/ld+json">{ld}</script></head><body><h1>Direct</h1>
    <article id="post-3"><h2>Pont rouvert</h2><time datetime="2025-10-26T00:12:00+02:00">00h12</time><p>Le pont est rouvert.</p></article>
    </body></html>"""
    doc = parse(html_doc(markup))
    assert any("(1 post unmatched)" in w for w in doc.warnings), doc.warnings
    assert doc.posts[0].author == "Camille Besnard"


WP_LIVEBLOG = """<html><body><article class="post"><h1 class="entry-title">Liveblog: Sturmtief über Norddeutschland</h1>
<div class="entry-meta">Veröffentlicht am <time class="entry-date published" datetime="2025-12-21T08:00:00+01:00">21. Dezember</time></div>
<div class="entry-content"><p>Wir berichten live.</p><div class="liveblog-feed">
 <div class="liveblog-entry" id="liveblog-entry-3"><header class="liveblog-meta"><span class="liveblog-author-name">Jonas Weber</span>
  <a href="#liveblog-entry-3"><time>00.20 Uhr</time></a></header>
  <div class="liveblog-entry-text"><p>Die Feuerwehr Hamburg meldet mehr als 150 Einsätze.</p></div></div>
 <div class="liveblog-entry" id="liveblog-entry-2"><header class="liveblog-meta"><span class="liveblog-author-name">Anna Keller</span>
  <a href="#liveblog-entry-2"><time>23.45 Uhr</time></a></header>
  <div class="liveblog-entry-text"><h3>Fischmarkt überflutet</h3><p>Der Fischmarkt steht unter Wasser.</p></div></div>
 <div class="liveblog-entry" id="liveblog-entry-1"><header class="liveblog-meta"><span class="liveblog-author-name">Anna Keller</span>
  <a href="#liveblog-entry-1"><time>22.10 Uhr</time></a></header>
  <div class="liveblog-entry-text"><p>Der Wetterdienst warnt vor Orkanböen.</p></div></div>
</div></div></article></body></html>"""


def test_liveblog_entries_without_headlines_are_posts_of_their_own():
    # WordPress-style entries have no heading: the one ancestor holding a heading (the article
    # with the entry's <h3>) was taken for a single block, and the whole feed became one post
    posts = parse(html_doc(WP_LIVEBLOG, tz="Europe/Berlin", date="2025-12-21")).posts
    assert [(p.source_id, p.title, p.author, p.body) for p in posts] == [
        ("liveblog-entry-3", "", "Jonas Weber", "Die Feuerwehr Hamburg meldet mehr als 150 Einsätze."),
        ("liveblog-entry-2", "Fischmarkt überflutet", "Anna Keller", "Der Fischmarkt steht unter Wasser."),
        ("liveblog-entry-1", "", "Anna Keller", "Der Wetterdienst warnt vor Orkanböen."),
    ]
    assert [p.published_at for p in posts] == [
        datetime(2025, 12, 21, 23, 20, tzinfo=timezone.utc), datetime(2025, 12, 21, 22, 45, tzinfo=timezone.utc),
        datetime(2025, 12, 21, 21, 10, tzinfo=timezone.utc)]


def test_one_stale_jsonld_update_does_not_take_the_authors_of_the_others_away():
    # JSON-LD cached behind an edit of one post: that post "disagreed", and so every other post lost
    # the author JSON-LD had lent it - a re-poll published an update naming "author" for posts nobody touched
    ld = ('{"@type":"LiveBlogPosting","headline":"Direct","liveBlogUpdate":['
          '{"headline":"Pont rouvert","url":"https://example.test/live#post-3","datePublished":"2025-10-26T00:12:00+02:00",'
          '"articleBody":"Le pont est rouvert.","author":{"name":"Camille Besnard"}},'
          '{"headline":"La Loire à 5,12 m","url":"https://example.test/live#post-2","datePublished":"2025-10-25T23:48:00+02:00",'
          '"articleBody":"Le niveau est de 5,12 mètres.","author":{"name":"Julien Morvan"}}]}')
    markup = f"""<html><head><script type="application/ld+json">{ld}</script></head><body><h1>Direct</h1>
    <article id="post-3"><h2>Pont rouvert</h2><time datetime="2025-10-26T00:12:00+02:00">00h12</time><p>Le pont est rouvert.</p></article>
    <article id="post-2"><h2>La Loire à 5,12 m</h2><time datetime="2025-10-25T23:48:00+02:00">23h48</time><p>Le niveau est de 5,14 mètres.</p></article>
    </body></html>"""
    doc = parse(html_doc(markup))
    assert any("(1 body differs)" in w for w in doc.warnings), doc.warnings
    assert [p.author for p in doc.posts] == ["Camille Besnard", "Julien Morvan"]


def test_an_edited_post_keeps_the_author_its_cached_jsonld_names():
    # the page shows the edit, JSON-LD still the first version (same id, title and time): the
    # author it lent before the edit was withdrawn, and the edit's event named "author" as changed
    ld = ('{"@type":"LiveBlogPosting","headline":"Direct","liveBlogUpdate":['
          '{"headline":"La Loire à 5,12 m","url":"https://example.test/live#post-2","datePublished":"2025-10-25T23:48:00+02:00",'
          '"articleBody":"Le niveau est de 5,12 mètres.","author":{"name":"Julien Morvan"}}]}')
    markup = f"""<html><head><script type="application/ld+json">{ld}</script></head><body><h1>Direct</h1>
    <article id="post-2"><h2>La Loire à 5,12 m</h2><time datetime="2025-10-25T23:48:00+02:00">23h48</time><p>Le niveau est de 5,14 mètres.</p></article>
    </body></html>"""
    doc = parse(html_doc(markup))
    assert any("(1 body differs)" in w for w in doc.warnings), doc.warnings
    assert doc.posts[0].author == "Julien Morvan"


def test_a_block_whose_time_says_minutes_ago_is_dated_from_the_fetch_not_skipped():
    # fetched 20:00 UTC = 22:00 in Paris; the bare 21:20 between two relative stamps is that evening
    markup = _blocks("<time>5 minutes ago</time>", "<time>21:20</time>", "<time>il y a 2 h</time>",
                     "<time>hier à 23h40</time>")
    doc = parse(html_doc(markup, tz="Europe/Paris"))
    assert doc.warnings == []
    assert [(p.title, p.published_at, p.published_approx_s) for p in doc.posts] == [
        ("Update 0", datetime(2025, 6, 21, 19, 55, tzinfo=timezone.utc), 60),
        ("Update 1", datetime(2025, 6, 21, 19, 20, tzinfo=timezone.utc), 0),
        ("Update 2", datetime(2025, 6, 21, 18, 0, tzinfo=timezone.utc), 3600),
        ("Update 3", datetime(2025, 6, 20, 21, 40, tzinfo=timezone.utc), 0)]


# --- an archived page dates its time-only stamps from its own date, not the fetch date -----------

ARCHIVE_FETCH = datetime(2026, 12, 7, 9, 30, tzinfo=timezone.utc)


def _archived(head: str, *times: str, header: str = "") -> str:
    posts = "".join(f'<article class="post" id="p{i}"><h2>Update {i}</h2><time>{t}</time>'
                    f"<p>Body of update {i} with enough words to be a post.</p></article>" for i, t in enumerate(times))
    return f"<html><head>{head}</head><body><header><h1>Sturm live</h1>{header}</header>{posts}</body></html>"


def _ld(**dates: str) -> str:
    import json
    return f'<script type="application/ld+json">{json.dumps({"@type": "LiveBlogPosting", **dates})}</script>'


def _archived_doc(markup: str, **options) -> RawDocument:
    return RawDocument.from_bytes(markup.encode(), blog_id="t", source="https://example.test/live",
                                  fetched_at=ARCHIVE_FETCH, options=ParseOptions(format="html", tz="Europe/Berlin", **options))


@pytest.mark.parametrize(("head", "header"), [
    (_ld(datePublished="2025-12-13T08:00:00+01:00", dateModified="2025-12-13T22:10:00+01:00"), ""),
    (_ld(coverageStartTime="2025-12-13T08:00:00+01:00", coverageEndTime="2025-12-13T22:30:00+01:00"), ""),
    ('<meta property="article:published_time" content="2025-12-13T08:00:00+01:00">'
     '<meta property="article:modified_time" content="2025-12-13T22:10:00+01:00">', ""),
    ("", 'Aktualisiert <time datetime="2025-12-13T22:10:00+01:00">13.12.2025, 22.10 Uhr</time>'),
], ids=["json-ld modified", "json-ld coverage", "article metas", "header time"])
def test_an_archived_page_dates_its_bare_times_from_its_own_date_not_the_fetch(head, header):
    doc = parse(_archived_doc(_archived(head, "22.05 Uhr", "19.30 Uhr", "14.00 Uhr", header=header)))
    assert [p.published_at for p in doc.posts] == [
        datetime(2025, 12, 13, 21, 5, tzinfo=timezone.utc), datetime(2025, 12, 13, 18, 30, tzinfo=timezone.utc),
        datetime(2025, 12, 13, 13, 0, tzinfo=timezone.utc)]


def test_a_stale_date_modified_does_not_push_the_newest_post_back_a_day():
    # dateModified says 23:50 but the newest post went up at 00:05 the next day
    head = _ld(datePublished="2025-12-13T08:00:00+01:00", dateModified="2025-12-13T23:50:00+01:00")
    doc = parse(_archived_doc(_archived(head, "00.05 Uhr", "23.40 Uhr", "22.00 Uhr")))
    assert [p.published_at for p in doc.posts] == [
        datetime(2025, 12, 13, 23, 5, tzinfo=timezone.utc), datetime(2025, 12, 13, 22, 40, tzinfo=timezone.utc),
        datetime(2025, 12, 13, 21, 0, tzinfo=timezone.utc)]


def test_the_users_date_still_wins_over_the_pages_own_date():
    head = _ld(dateModified="2025-12-13T22:10:00+01:00")
    doc = parse(_archived_doc(_archived(head, "22.05 Uhr", "14.00 Uhr"), date=date(2025, 12, 20)))
    assert doc.posts[1].published_at == datetime(2025, 12, 20, 13, 0, tzinfo=timezone.utc)


def test_a_page_changed_within_a_day_of_the_fetch_is_still_dated_from_the_fetch():
    # a live page whose dateModified lags: the newest post (10.20 Uhr, after it) is today, not yesterday
    head = _ld(dateModified="2026-12-06T23:30:00+01:00")
    doc = parse(_archived_doc(_archived(head, "10.20 Uhr", "08.00 Uhr")))
    assert [p.published_at for p in doc.posts] == [
        datetime(2026, 12, 7, 9, 20, tzinfo=timezone.utc), datetime(2026, 12, 7, 7, 0, tzinfo=timezone.utc)]
