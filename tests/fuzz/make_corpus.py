"""Write the kept fuzz corpus, tests/fuzz/corpus/: small hostile inputs, each a file as a producer would read it.

Every input is written by this project (nothing copied from elsewhere) and kept small: the
point is coverage of the ways a page can be broken, not size (tests/reliability/ does size).
Run ``python -m tests.fuzz.make_corpus`` to rewrite the files; add a case here, never by hand,
so the bytes of every case stay explainable. The names say what each one is.
"""

from __future__ import annotations

import json
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"


def text_blog(title: str, posts: list[tuple[str, str, str]], standfirst: str = "A page written for the fuzz corpus.") -> str:
    """A plain-text live page: headline, standfirst, then (title, stamp line, body) per post, newest first."""
    out = [title, "", standfirst, ""]
    for post_title, stamp, body in posts:
        out += [post_title, "", stamp, "", body, ""]
    return "\n".join(out)


def json_feed(items: list[dict], title: str = "Fuzz feed") -> str:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": title, "items": items})


def rss(items: str, title: str = "Fuzz RSS", prolog: str = "") -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n{prolog}<rss version="2.0"><channel><title>{title}</title>'
            f"<link>https://fuzz.example/live</link><description>fuzz</description>{items}</channel></rss>\n")


def rss_item(title: str, description: str, pub: str = "Sat, 12 Oct 2024 11:20:00 +0000", guid: str = "g1") -> str:
    return (f"<item><title>{title}</title><guid isPermaLink=\"false\">{guid}</guid><pubDate>{pub}</pubDate>"
            f"<description>{description}</description></item>")


def jsonld_page(updates: list[dict], extra_body: str = "") -> str:
    """An HTML page whose posts are schema.org JSON-LD; ``</`` is written ``<\\/`` as publishers must."""
    ld = {"@context": "https://schema.org", "@type": "LiveBlogPosting", "headline": "Fuzz live",
          "liveBlogUpdate": updates}
    script = json.dumps(ld).replace("</", "<\\/")
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Fuzz live</title>"
            f"<script type=\"application/ld+json\">{script}</script></head><body>{extra_body}</body></html>\n")


def update(n: int, headline: str, body: str, when: str = "2024-10-12T11:20:00+01:00") -> dict:
    return {"@type": "BlogPosting", "@id": f"https://fuzz.example/live#u{n}", "headline": headline,
            "datePublished": when, "articleBody": body, "author": {"@type": "Person", "name": "Fuzz Desk"}}


GOOD_BODY = "Crews from Keldby closed the river road after the water rose quickly overnight."
STAMP = "Saturday 12 October 2024 11:20 , Fuzz Desk"
STAMP2 = "Saturday 12 October 2024 10:05 , Fuzz Desk"
SCRIPT = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'


def cases() -> dict[str, bytes]:
    c: dict[str, bytes] = {}
    good = text_blog("Fuzz live: river road", [("Road closed", STAMP, GOOD_BODY)])

    # invalid UTF-8 (a producer reads bytes; the worker must say where the first bad byte is)
    c["utf8-lone-continuation.txt"] = good.encode().replace(b"Keldby", b"Keld\x80by")
    c["utf8-overlong-slash.txt"] = good.encode().replace(b"river", b"ri\xc0\xafver")
    c["utf8-truncated-at-end.txt"] = good.encode() + b"\xe2\x82"
    c["utf8-encoded-surrogate.txt"] = good.encode().replace(b"water", b"wa\xed\xa0\x80ter")
    c["utf8-latin1-page.txt"] = text_blog("Café live", [("Crème brûlée", STAMP, "Déjà vu à Noël.")]).encode("latin-1")
    c["utf8-random-bytes.bin"] = bytes((i * 73 + 41) % 256 for i in range(2048))

    # lone surrogates written as JSON escapes (valid UTF-8 bytes, invalid text once decoded)
    c["json-lone-high-surrogate-title.json"] = json_feed([{"id": "a", "title": "Broken \\ud800 title",
                                                           "content_text": GOOD_BODY,
                                                           "date_published": "2024-10-12T10:20:00Z"}]).replace(
        "\\\\ud800", "\\ud800").encode()
    c["json-lone-low-surrogate-body.json"] = json_feed([{"id": "a", "title": "Body", "content_text": "x \\udfff y",
                                                         "date_published": "2024-10-12T10:20:00Z"}]).replace(
        "\\\\udfff", "\\udfff").encode()
    c["json-reversed-surrogate-pair.json"] = json_feed([{"id": "a", "title": "Pair \\udc00\\ud800",
                                                         "content_text": GOOD_BODY,
                                                         "date_published": "2024-10-12T10:20:00Z"}]).replace(
        "\\\\udc00\\\\ud800", "\\udc00\\ud800").encode()

    c["json-surrogates-in-id-url-and-keys.json"] = json_feed([{"id": "a\\ud800", "title": "Keys",
                                                              "content_html": "<p>x \\udfff y</p>",
                                                              "url": "https://fuzz.example/\\udc00",
                                                              "authors": [{"name": "Desk \\ud800"}],
                                                              "k\\ud800": 1,
                                                              "date_published": "2024-10-12T10:20:00Z"}],
                                                            title="Feed \\udfff").replace("\\\\ud", "\\ud").encode()

    # NUL bytes
    c["nul-in-text-body.txt"] = good.replace("overnight", "over\x00night").encode()
    c["nul-only.txt"] = b"\x00" * 256
    c["json-nul-escape.json"] = json_feed([{"id": "a", "title": "Nul\u0000title", "content_text": "a\u0000b " + GOOD_BODY,
                                            "date_published": "2024-10-12T10:20:00Z"}]).encode()

    # deep-ish JSON (tests/reliability has 100,000 levels; these are the depths parsers meet)
    c["json-deep-array-3000.json"] = b"[" * 3000 + b"]" * 3000
    c["json-deep-object-800.json"] = ('{"a":' * 800 + "1" + "}" * 800).encode()
    c["json-feed-deep-content.json"] = json_feed([{"id": "a", "title": "Deep", "date_published": "2024-10-12T10:20:00Z",
                                                   "content_text": json.loads("[" * 200 + "]" * 200)}]).encode()

    # huge numbers
    c["json-5000-digit-id.json"] = json_feed([{"id": "a", "title": "Digits", "content_text": GOOD_BODY,
                                               "date_published": "2024-10-12T10:20:00Z"}]).replace(
        '"id": "a"', '"id": ' + "9" * 5000).encode()
    c["json-huge-exponent.json"] = json_feed([{"id": "a", "title": "Exponent", "content_text": GOOD_BODY,
                                               "date_published": "2024-10-12T10:20:00Z"}]).replace(
        '"id": "a"', '"id": 1e999999').encode()
    c["text-10000-digit-number.txt"] = text_blog("Fuzz live: numbers", [
        ("A very large number", STAMP, "Officials counted " + "7" * 10000 + " sandbags and 1e999999 litres.")]).encode()
    c["text-huge-stamp-hour.txt"] = text_blog("Fuzz live: stamps", [
        ("Odd hour", "99999999999999999999:31 , Fuzz Desk", GOOD_BODY)]).encode()

    # NaN and infinities
    c["json-nan-values.json"] = json_feed([{"id": "a", "title": "NaN", "content_text": "NAN_HERE",
                                            "date_published": "2024-10-12T10:20:00Z"}]).replace(
        '"NAN_HERE"', "NaN").replace('"title": "NaN"', '"title": Infinity').encode()
    c["json-nan-date.json"] = json_feed([{"id": "a", "title": "NaN date", "content_text": GOOD_BODY,
                                          "date_published": "NAN_HERE"}]).replace('"NAN_HERE"', "-Infinity").encode()
    c["text-nan-words.txt"] = text_blog("Fuzz live: NaN", [("NaN", STAMP, "NaN inf -inf Infinity nan% of NaN homes.")]).encode()

    # dates at the edges of the calendar
    c["json-year-1.json"] = json_feed([{"id": "a", "title": "Year one", "content_text": GOOD_BODY,
                                        "date_published": "0001-01-01T00:00:00Z"}]).encode()
    c["json-year-9999.json"] = json_feed([{"id": "a", "title": "Year 9999", "content_text": GOOD_BODY,
                                           "date_published": "9999-12-31T23:59:59Z"},
                                          {"id": "b", "title": "A real post", "content_text": GOOD_BODY,
                                           "date_published": "2024-10-12T10:20:00Z"}]).encode()
    c["text-year-1.txt"] = text_blog("Fuzz live: year one", [("Year one", "Monday 1 January 0001 00:00 , Fuzz Desk", GOOD_BODY)]).encode()
    c["text-year-9999.txt"] = text_blog("Fuzz live: year 9999", [
        ("Year 9999", "Friday 31 December 9999 23:59 , Fuzz Desk", GOOD_BODY),
        ("Earlier", STAMP2, GOOD_BODY + " Later the road reopened.")]).encode()
    c["rss-year-9999.xml"] = rss(rss_item("Far future", GOOD_BODY, pub="Fri, 31 Dec 9999 23:59:59 +1400")).encode()
    c["atom-year-1.xml"] = ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
                            "<title>Fuzz atom</title><id>urn:fuzz</id><updated>0001-01-01T00:00:00Z</updated>"
                            "<entry><title>Year one</title><id>urn:fuzz:1</id><updated>0001-01-01T00:00:00Z</updated>"
                            f"<content type=\"text\">{GOOD_BODY}</content></entry></feed>\n").encode()

    # markup meant to run (stored as text; any HTML output escapes it)
    c["html-jsonld-script-in-body.html"] = jsonld_page([update(1, "Headline " + SCRIPT, "Body " + SCRIPT + " " + GOOD_BODY)]).encode()
    c["html-jsonld-breakout.html"] = jsonld_page([update(1, "Breakout", GOOD_BODY)]).replace(  # unescaped </script>
        '"Breakout"', '"Breakout </script><script>window.pwned=3</script>"').encode()
    c["html-blocks-onerror.html"] = ("<!DOCTYPE html><html><body><h1>Fuzz live</h1>" + "".join(
        f'<article class="post"><h2>Post {i} <img src=x onerror="alert({i})"></h2>'
        f'<time datetime="2024-10-12T1{i}:00:00Z">1{i}:00</time><p onmouseover="steal()">{GOOD_BODY}</p>'
        f"<script>document.cookie</script></article>" for i in range(3)) + "</body></html>\n").encode()
    c["html-unclosed-and-comments.html"] = ("<html><body><!-- <script>x</script> --><div class=post><h2>Open <b>tags"
                                            "<time datetime='2024-10-12T10:00:00Z'>10:00<p>" + GOOD_BODY).encode()
    c["html-javascript-links.html"] = jsonld_page([update(1, "Links", GOOD_BODY)], extra_body=(
        '<a href="javascript:alert(1)">click</a><iframe src="data:text/html,<script>alert(1)</script>"></iframe>'
        '<svg onload="alert(1)"><style>@import "//evil.example/x.css";</style>')).encode()
    c["text-script-in-title-and-body.txt"] = text_blog("Fuzz live: " + SCRIPT, [
        (SCRIPT + " Road closed", STAMP, GOOD_BODY + " " + SCRIPT)]).encode()
    c["atom-html-content-script.xml"] = ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
                                         "<title>Fuzz atom</title><id>urn:fuzz</id><updated>2024-10-12T10:20:00Z</updated>"
                                         '<entry><title type="html">&lt;script&gt;alert(1)&lt;/script&gt;Title</title>'
                                         "<id>urn:fuzz:1</id><updated>2024-10-12T10:20:00Z</updated>"
                                         f'<content type="html"><![CDATA[<p onclick="x()">{GOOD_BODY}</p>{SCRIPT}]]></content>'
                                         "</entry></feed>\n").encode()

    # RSS with entities: double escaping, undefined and invalid references, expansion, external entities
    c["rss-entities-mixed.xml"] = rss(rss_item(
        "Caf&#233; &amp; bar &#x2014; &lt;b&gt;bold&lt;/b&gt;",
        "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt; " + GOOD_BODY + " &#8220;quoted&#8221; &#xD800;")).encode()
    c["rss-charref-beyond-unicode.xml"] = rss(rss_item("Beyond &#x110000;", GOOD_BODY + " &#99999999999999999999;")).encode()
    c["rss-charref-surrogate-pair.xml"] = rss(rss_item("Emoji &#xD83D;&#xDE00; split", GOOD_BODY)).encode()
    c["rss-charref-surrogate-in-cdata.xml"] = rss(rss_item("Cdata", f"<![CDATA[<p>{GOOD_BODY} &#xD800;</p>]]>")).encode()
    c["rss-undefined-entity.xml"] = rss(rss_item("Broken &nbsp; &copy; entity", GOOD_BODY + " &bogus;")).encode()
    c["rss-entity-expansion.xml"] = rss(rss_item("Laughs &lol4;", GOOD_BODY), prolog=(
        '<!DOCTYPE rss [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">'
        '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
        '<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>\n')).encode()
    c["rss-external-entity.xml"] = rss(rss_item("XXE &xxe;", GOOD_BODY + " &xxe;"), prolog=(
        '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n')).encode()

    # mojibake, encodings and invisible characters
    c["text-mojibake.txt"] = text_blog("CafÃ© live: â€œroad closedâ€\x9d", [
        ("Ã‰vacuation Ã  Keldby", STAMP, "Les pompiers ont dit: â€œrestez chez vousâ€\x9d. " + GOOD_BODY)]).encode()
    c["json-mojibake.json"] = json_feed([{"id": "a", "title": "Ã‰lÃ¨ves Ã©vacuÃ©s", "content_text": "â€™ " + GOOD_BODY,
                                          "date_published": "2024-10-12T10:20:00Z"}]).encode()
    c["text-bidi-and-zero-width.txt"] = text_blog("Fuzz live: \u202egnikaerb\u202c", [
        ("Road\u200b closed\u2066", STAMP, "\ufeff" + GOOD_BODY + " \u200d\u2028\u2029")]).encode()
    c["text-control-characters.txt"] = good.replace("closed", "clo\x07s\x1bed\x0b\x0c").encode()
    c["text-crlf-and-lone-cr.txt"] = good.replace("\n", "\r\n").replace("Crews", "Crews\rfrom").encode()

    # nothing, or nothing but space
    c["empty.txt"] = b""
    c["whitespace-only.txt"] = b" \n\t\r\n   \n\n"
    c["whitespace-unicode-only.txt"] = "\u00a0\u2028\u3000\u2009\n\u200b".encode()
    c["bom-only.txt"] = b"\xef\xbb\xbf"
    c["json-empty-object.json"] = b"{}"
    c["json-top-level-string.json"] = b'"just a string"'
    c["json-feed-wrong-types.json"] = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": 5,
                                                  "items": "not a list"}).encode()
    c["json-trailing-garbage.json"] = json_feed([{"id": "a", "title": "T", "content_text": GOOD_BODY,
                                                  "date_published": "2024-10-12T10:20:00Z"}]).encode() + b"}}]]garbage"
    c["text-stamps-without-bodies.txt"] = ("Fuzz live: stamps only\n\n" + "\n".join(
        f"{10 + i // 60:02d}:{i % 60:02d} , Fuzz Desk\n" for i in range(300))).encode()
    c["text-stamps-only-no-headline.txt"] = "\n".join(f"{10 + i // 60:02d}:{i % 60:02d} , Fuzz Desk\n"
                                                       for i in range(300)).encode()
    return c


def write(target: Path = CORPUS) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    wanted = cases()
    for stale in target.iterdir():  # a case removed here leaves no file behind
        if stale.is_file() and not stale.name.startswith(".") and stale.name not in wanted:
            stale.unlink()
    written = []
    for name, data in sorted(wanted.items()):
        path = target / name
        path.write_bytes(data)
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write():
        print(f"{path.stat().st_size:>8}  {path.relative_to(CORPUS.parents[2])}")
