"""Small live pages for the dedup tests, built with the corpus renderer."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from schemas.documents import ParseOptions, RawDocument
from workers.dedup.corpus import Post, render_page

DAY = datetime(2025, 3, 2, tzinfo=timezone.utc)

FLOOD = (
    "The River Tessel burst its banks at Keldby shortly before dawn, sending water into the lower streets "
    "around the old wool market. Residents on Mill Row were woken by police knocking on doors just after five "
    "o'clock. The Environment Office said the river had risen 1.8 metres in six hours after a night of "
    "persistent rain over the Ardmoor hills. Joan Pelling, who has run the bakery on Mill Row for thirty years, "
    "said she had never seen the water come up so fast in March."
)
OTHER_FLOOD = (
    "A family of five, including a baby, was lifted from the upstairs window of a farmhouse at Sallow End after "
    "the Corran brook cut off their lane. The rescue used an inflatable sled pulled across a flooded paddock by "
    "crews from Brannick. The father said the family had moved the sheep to higher ground at midnight but had "
    "not expected the house to be surrounded by water."
)
FILLER = [
    "Council gritters are out on the high roads above the valley tonight, the highways team said.",
    "The library in Keldby will stay closed until the heating engineers have checked the boiler room.",
    "Bus timetables for the valley routes have been printed again with the new diversion times.",
]


def post(pid: str, hour: float, title: str, body: str, *, blog: str = "valley") -> Post:
    return Post(id=pid, blog=blog, time=DAY + timedelta(hours=hour), title=title, body=body, author="Desk", story=pid)


def filler(hour: float, n: int, *, blog: str = "valley") -> Post:
    return post(f"filler{n}", hour, f"Valley notice number {n}", FILLER[n % len(FILLER)], blog=blog)


def page(posts: list[Post], *, minutes_after: float, blog: str = "valley") -> RawDocument:
    """A snapshot fetched ``minutes_after`` the newest post."""
    fetched = max(p.time for p in posts) + timedelta(minutes=minutes_after)
    return RawDocument.from_bytes(
        render_page(f"{blog} live", posts).encode("utf-8"), blog_id=blog, source=f"{blog}.txt",
        fetched_at=fetched, options=ParseOptions(format="text", tz="UTC"),
    )


def repost_intro(body: str, intro: str) -> str:
    """The original with its first sentence replaced by a new intro."""
    return intro + " " + body.split(". ", 1)[1]
