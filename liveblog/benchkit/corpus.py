"""Deterministic generated corpus for the benchmark: live blogs as page snapshots.

Every post is ~1 KB in the plain-text layout ``workers/parsers/text.py`` reads
(see ``samples/*.txt``)::

    <title line>

    Saturday 12 October 2024 11:20 , Daniel Okoro

    <paragraph>

    <paragraph>

Stamps carry the full date on every post so a post keeps the same identity
(blog + stamp + title) whichever posts surround it in a snapshot: a re-polled
page therefore re-reads exactly the same posts. Text mixes people, places,
organisations, quotes and quantities so every enricher has work to do.

Everything comes from ``random.Random(seed)``: the same arguments give the same
bytes on every machine.

    from liveblog.benchkit.corpus import Blog
    blog = Blog("storm-1", seed=7, posts=200)
    page = blog.page(newest=49, size=50)     # text of posts 0..49, newest first
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

PEOPLE = [
    "Keir Starmer", "Rishi Sunak", "Ursula von der Leyen", "Emmanuel Macron", "Olaf Scholz", "Joe Biden",
    "Kamala Harris", "Volodymyr Zelensky", "Graham Tulley", "Kirsty Dalgleish", "Daniel Okoro", "Amira Haddad",
    "Pedro Sánchez", "Giorgia Meloni", "Antonio Guterres", "Sadiq Khan", "Andy Burnham", "Nicola Sturgeon",
]
PLACES = [
    "London", "Manchester", "Carlisle", "Keswick", "Cockermouth", "Edinburgh", "Glasgow", "Cardiff", "Belfast",
    "Paris", "Berlin", "Madrid", "Rome", "Kyiv", "Brussels", "New York", "Washington", "Lisbon", "Valencia",
]
ORGS = [
    "the Met Office", "the Environment Agency", "Network Rail", "the BBC", "the European Commission",
    "the United Nations", "the Red Cross", "NHS England", "the Home Office", "the Fire and Rescue Service",
]
AUTHORS = ["Daniel Okoro", "Amira Haddad", "Tom Fielding", "Lucía Martín", "Sarah Jennings", "Ben Achterberg"]
TOPICS = [
    ("flood", ["flood warning", "river levels", "rest centre", "sandbags", "evacuation"]),
    ("election", ["polling station", "exit poll", "turnout", "recount", "swing"]),
    ("wildfire", ["wildfire", "firefighters", "water-bombing aircraft", "evacuation order", "hectares"]),
    ("transport", ["rail line", "motorway", "cancelled flights", "replacement buses", "delays"]),
    ("economy", ["interest rates", "inflation", "the budget", "energy prices", "the markets"]),
]
VERBS = ["said", "told reporters", "warned", "confirmed", "added", "insisted", "announced", "suggested",
         "admitted", "claimed", "stressed", "noted", "wrote on social media", "told the BBC", "explained"]
TITLE_TEMPLATES = [
    "{person} visits {place} as {topic} worsens",
    "{org} issues new update on {topic}",
    "Breaking: {n} people affected in {place}",
    "What we know so far about the {topic} in {place}",
    "{person}: '{short_quote}'",
    "{place} braces for more {topic}",
    "{org} says {n} homes without power",
    "{adj} night for {noun_pl} in {place}",
    "{person} under pressure over {noun}",
    "Row over {noun} deepens in {place}",
]
# Sentences are built from independent parts (opener, subject, verb, clause), each clause
# with word slots of its own: two posts share a few function-word 3-grams, like real posts
# of one live blog do, not whole sentences. (The seed blog's posts have a mean pairwise
# MinHash similarity of 0.002; bench/README.md has the measurement.)
OPENERS = [
    "", "", "", "Earlier today, ", "In the last hour, ", "Shortly after {hour}pm, ", "Overnight, ",
    "By mid-afternoon, ", "On {weekday}, ", "Late last night, ", "Speaking in {place}, ", "Meanwhile, ",
    "In a statement, ", "As the {noun} continued, ", "Before dawn, ", "Within minutes, ",
]
SUBJECTS = [
    "{person}", "a spokesperson for {org}", "officials in {place}", "the mayor of {place}", "{org}",
    "a senior source at {org}", "local councillors in {place}", "{person}, who arrived on {weekday},",
    "a local {job} in {place}", "the head of {org}", "several {jobs}", "{person}'s office",
]
CLAUSES = [
    "that {n} {people} had been moved from {buildings} near {place}",
    "the {noun} would cost at least £{m} million and take {k} {unit}s to {repair}",
    "{n} {people} were still waiting for {aid} at {k} {buildings}",
    "the {adj} {noun} had forced the closure of {k} {road}s around {place}",
    "\u201c{quote}\u201d",
    "{pct}% of {place} was now under a {level} warning, up from {pct2}% on {weekday}",
    "gusts of {mph}mph and temperatures near {temp}C were {recorded} overnight",
    "{jobs} had reached the {building} {k} minutes after the first {call}",
    "the {aid} promised on {weekday} had still not arrived in {place}",
    "talks with {org} about the {noun} would resume on {weekday}",
    "around {n} {people} had signed a petition calling for {demand}",
    "the {road} between {place} and {place2} would stay shut until {weekday}",
    "it was too early to say whether the {noun} was linked to the {noun2}",
    "an extra {n} {jobs} would be sent to {place} by {weekday}",
    "{k} {people} had been taken to hospital with {injury}",
    "the {noun} was the worst {place} had seen in {k2} years",
    "a {level} alert covering {k} {region}s would remain in place",
    "insurers expected claims of more than £{m} million after the {noun}",
    "{org} had been warned about the {noun2} as early as {month}",
    "{k} {buildings} had lost power and {n} more were at risk",
]
NOUNS = ["flooding", "outage", "evacuation", "strike", "blaze", "landslide", "shutdown", "inquiry", "recount",
         "storm surge", "power cut", "water shortage", "rail closure", "heatwave", "protest", "cyber attack"]
PEOPLE_NOUNS = ["residents", "passengers", "patients", "families", "pupils", "commuters", "visitors", "workers",
                "pensioners", "households", "fans", "volunteers"]
BUILDINGS = ["school", "care home", "hospital", "leisure centre", "church hall", "hotel", "depot", "stadium",
             "library", "station", "warehouse", "community centre"]
JOBS = ["firefighter", "paramedic", "engineer", "volunteer", "soldier", "nurse", "police officer",
        "coastguard", "surveyor", "electrician", "doctor", "teacher"]
AID = ["food parcels", "bottled water", "blankets", "generators", "sandbags", "medical supplies",
       "temporary shelter", "fuel", "baby formula", "emergency cash"]
ROADS = ["motorway", "bridge", "bypass", "high street", "ring road", "rail line", "tunnel", "ferry route"]
ADJS = ["unprecedented", "chaotic", "tense", "grim", "difficult", "sleepless", "historic", "frantic",
        "anxious", "long", "bitter", "uncertain"]
LEVELS = ["red", "amber", "yellow", "severe", "flood", "heat", "wind", "snow"]
UNITS = ["week", "month", "day", "year"]
REPAIRS = ["repair", "rebuild", "clear", "make safe", "reopen", "restore"]
RECORDED = ["recorded", "measured", "reported", "logged", "observed"]
CALLS = ["emergency call", "alarm", "report", "999 call", "warning", "sighting"]
DEMANDS = ["a public inquiry", "more funding", "new flood defences", "the minister's resignation",
           "compensation", "an independent review", "better warnings", "a new bridge"]
INJURIES = ["minor injuries", "breathing problems", "hypothermia", "burns", "broken bones", "smoke inhalation"]
REGIONS = ["county", "district", "borough", "valley", "parish", "coastal area"]
QUOTE_OPENINGS = [
    "This is not the time to relax,", "We are doing everything we can,", "Please listen to the advice,",
    "The next few hours will be critical,", "Our crews are exhausted,", "We will rebuild together,",
    "Nobody should have to go through this,", "I have never seen anything like it,", "People need answers,",
    "We were given ten minutes' notice,", "The water came up so fast,", "There is no money left,",
    "We owe it to the families,", "My shop has been here for decades,", "Help is on its way,",
    "I am angry and I am tired,",
]
QUOTE_MIDDLES = [
    "and I want to thank every volunteer", "but the road ahead is long", "and the council has to act now",
    "but we cannot do it alone", "and I will not apologise for that", "but the warnings came too late",
    "and everyone here knows it", "but nobody in charge is listening", "and we need the government to step up",
    "but the insurance will not cover it", "and the children are frightened", "but I am proud of this town",
]
QUOTE_ENDINGS = [
    "before the weekend", "in the days to come", "this time", "for the people of {place}", "once and for all",
    "by the end of {month}", "whatever it costs", "as soon as the water drops",
]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]

POST_TARGET_CHARS = 1000
REPOST_SHARE = 0.03  # posts that re-tell an earlier post of their blog (new intro, same body)


@dataclass(frozen=True)
class Post:
    index: int  # 0 = oldest post of the blog
    title: str
    stamp: datetime
    author: str
    body: str

    def text(self) -> str:
        """The post as it appears on the page: title, blank, stamp line, blank, paragraphs."""
        s = self.stamp
        line = f"{WEEKDAYS[s.weekday()]} {s.day} {MONTHS[s.month - 1]} {s.year} {s.hour:02d}:{s.minute:02d} , {self.author}"
        return f"{self.title}\n\n{line}\n\n{self.body}\n"


class Blog:
    """One live blog: ``posts`` posts, one every 1–4 minutes, generated on demand, cached."""

    def __init__(self, blog_id: str, *, seed: int, posts: int, start: datetime | None = None) -> None:
        self.blog_id = blog_id
        self.seed = seed
        self.total = posts
        rng = random.Random(f"{seed}:{blog_id}:head")
        self.topic, self.topic_words = rng.choice(TOPICS)
        self.place = rng.choice(PLACES)
        self.headline = f"{self.place} {self.topic} live: latest updates as {rng.choice(ORGS)} responds"
        self.standfirst = (
            f"Follow our live coverage of the {self.topic} in {self.place}. "
            f"{rng.choice(PEOPLE)} is expected to speak later today."
        )
        self.start = start or datetime(2024, 10, 12, 6, 0, tzinfo=timezone.utc) + timedelta(minutes=rng.randrange(600))
        self._posts: list[Post] = []

    def post(self, index: int) -> Post:
        while len(self._posts) <= index:
            self._posts.append(self._make(len(self._posts)))
        return self._posts[index]

    def _make(self, index: int) -> Post:
        rng = random.Random(f"{self.seed}:{self.blog_id}:{index}")
        previous = self._posts[index - 1].stamp if index else self.start
        stamp = previous + timedelta(minutes=rng.randint(1, 4))
        fill = self._fill(rng)
        title = rng.choice(TITLE_TEMPLATES).format(**fill).replace("'", "\u2019")
        title = f"{title} ({index + 1})"  # unique within the blog, like real post titles mostly are
        paragraphs: list[str] = []
        size = 0
        while size < POST_TARGET_CHARS - 120:
            para = " ".join(self._sentence(rng) for _ in range(rng.randint(2, 3)))
            paragraphs.append(para)
            size += len(para) + 2
        if index >= 10 and rng.random() < REPOST_SHARE:
            # the same story told again later: a new intro paragraph over an earlier post's body
            earlier = self._posts[index - rng.randint(3, 10)]
            paragraphs = [paragraphs[0], earlier.body]
        return Post(index=index, title=title, stamp=stamp, author=rng.choice(AUTHORS), body="\n\n".join(paragraphs))

    def _sentence(self, rng: random.Random) -> str:
        fill = self._fill(rng)
        clause = rng.choice(CLAUSES)
        if clause.startswith("\u201c"):  # a quote: "...," Person said.
            return f"\u201c{fill['quote'].format(**fill)},\u201d {fill['person']} {fill['verb']}."
        text = f"{rng.choice(OPENERS)}{rng.choice(SUBJECTS)} {fill['verb']} {clause}.".format(**fill)
        return _cap(text)

    def _fill(self, rng: random.Random) -> dict:
        return {
            "person": rng.choice(PEOPLE), "place": rng.choice([self.place, *PLACES[:6]]), "org": rng.choice(ORGS),
            "topic": self.topic, "topic_word": rng.choice(self.topic_words), "verb": rng.choice(VERBS),
            "quote": f"{rng.choice(QUOTE_OPENINGS)} {rng.choice(QUOTE_MIDDLES)} {rng.choice(QUOTE_ENDINGS)}",
            "short_quote": rng.choice(QUOTE_OPENINGS).rstrip(","),
            "n": f"{rng.randint(2, 40) * 1000:,}" if rng.random() < 0.5 else str(rng.randint(3, 400)),
            "k": rng.randint(2, 9), "m": rng.randint(2, 90), "hour": rng.randint(1, 11),
            "minute": rng.randint(0, 59), "weekday": rng.choice(WEEKDAYS), "pct": rng.randint(20, 70),
            "pct2": rng.randint(5, 19), "temp": rng.randint(-3, 38), "mph": rng.randint(40, 99),
            "noun": rng.choice(NOUNS), "noun2": rng.choice(NOUNS), "noun_pl": rng.choice(PEOPLE_NOUNS),
            "people": rng.choice(PEOPLE_NOUNS), "building": (b := rng.choice(BUILDINGS)), "buildings": _plural(b),
            "job": (j := rng.choice(JOBS)), "jobs": _plural(j),
            "aid": rng.choice(AID), "road": rng.choice(ROADS), "adj": rng.choice(ADJS), "level": rng.choice(LEVELS),
            "unit": rng.choice(UNITS), "repair": rng.choice(REPAIRS), "recorded": rng.choice(RECORDED),
            "call": rng.choice(CALLS), "demand": rng.choice(DEMANDS), "injury": rng.choice(INJURIES),
            "region": rng.choice(REGIONS), "place2": rng.choice(PLACES), "k2": rng.randint(10, 90),
            "month": rng.choice(MONTHS),
        }

    def page(self, newest: int, size: int) -> str:
        """The page as polled when post ``newest`` was the latest: the last ``size`` posts, newest first."""
        oldest = max(0, newest - size + 1)
        head = f"{self.headline}\n\n{self.standfirst}\n\n"
        return head + "\n".join(self.post(i).text() for i in range(newest, oldest - 1, -1))


def _plural(noun: str) -> str:
    head, _, last = noun.rpartition(" ")
    last = last[:-1] + "ies" if last.endswith("y") and last[-2:-1] not in "aeiou" else last + "s"
    return f"{head} {last}".strip()


def _cap(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def new_pages(blogs: int, pages_per_blog: int, page_posts: int, *, seed: int = 1, prefix: str = "new") -> list[tuple[str, str]]:
    """All-new posts: each blog's pages hold disjoint posts. Returns (blog_id, text) pairs."""
    out = []
    for b in range(blogs):
        blog = Blog(f"{prefix}-{b:03d}", seed=seed, posts=pages_per_blog * page_posts)
        for p in range(pages_per_blog):
            out.append((blog.blog_id, _only(blog, p * page_posts, page_posts)))
    return out


def _only(blog: Blog, first: int, count: int) -> str:
    head = f"{blog.headline}\n\n{blog.standfirst}\n\n"
    return head + "\n".join(blog.post(i).text() for i in range(first + count - 1, first - 1, -1))


def repoll_pages(blogs: int, polls: int, page_posts: int, new_per_poll: int, *, seed: int = 2,
                 prefix: str = "repoll") -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """A re-polled page: (priming polls, timed polls).

    Priming: each blog's first full page (all new). Timed: ``polls`` further polls per blog,
    each adding ``new_per_poll`` posts at the top, so a poll is
    ``1 - new_per_poll / page_posts`` duplicates.
    """
    prime, timed = [], []
    for b in range(blogs):
        blog = Blog(f"{prefix}-{b:03d}", seed=seed, posts=page_posts + polls * new_per_poll)
        prime.append((blog.blog_id, blog.page(page_posts - 1, page_posts)))
        for j in range(1, polls + 1):
            timed.append((blog.blog_id, blog.page(page_posts - 1 + j * new_per_poll, page_posts)))
    return prime, timed


def round_robin(pages: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The pages in the order a poller produces them: one of each blog in turn (blog A's
    next poll comes after every other blog's), each blog's own pages still in order."""
    by_blog: dict[str, list[tuple[str, str]]] = {}
    for page in pages:
        by_blog.setdefault(page[0], []).append(page)
    queues = list(by_blog.values())
    return [q[i] for i in range(max(map(len, queues), default=0)) for q in queues if i < len(q)]


def single_posts(pages: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Split pages back into one (blog_id, text) per post, for the naive one-job-per-post baseline."""
    out = []
    for blog_id, text in pages:
        parts = text.split("\n\n", 2)[2]  # drop headline and standfirst
        chunks = _split_posts(parts)
        out.extend((blog_id, chunk) for chunk in chunks)
    return out


def _split_posts(text: str) -> list[str]:
    # Posts are joined with a blank line + "\n"; each post ends with "\n" and starts with a title line
    # followed by a blank line and a stamp line. Re-split on that pattern.
    lines = text.split("\n")
    starts = [i for i in range(len(lines) - 2)
              if lines[i] and not lines[i + 1] and any(lines[i + 2].startswith(d) for d in WEEKDAYS)]
    out = []
    for k, s in enumerate(starts):
        e = starts[k + 1] if k + 1 < len(starts) else len(lines)
        out.append("\n".join(lines[s:e]).strip() + "\n")
    return out


if __name__ == "__main__":  # print a sample page
    print(Blog("sample", seed=1, posts=3).page(2, 3))
