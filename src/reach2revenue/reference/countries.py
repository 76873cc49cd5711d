"""Every ISO 3166-1 country, its default sales region and the spellings people write for it.

Nothing here is a hand list of countries or spellings; the data comes from maintained
packages and is written to dbt seeds that dbt and Python both read:

- countries (ISO-2, ISO-3, English short name): pycountry (ISO 3166-1);
- the UN M49 subregion behind the default region: country_converter's shipped table;
- spellings: the ISO codes, pycountry's names and CLDR's territory names (via babel) in the
  languages our users write in, each also without accents.

The generated seeds are ``countries.csv`` and ``country_aliases.csv``. Two user-edited
seeds, ``country_region_overrides.csv`` and ``country_alias_overrides.csv``, are never
generated (only created empty) and win over the generated tables, both in dbt and in
``load_countries`` / ``load_aliases``.

Regenerate with ``python -m reach2revenue.reference.countries``. The load path imports only
the standard library, so the world generator and the pipeline stay fast.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from reach2revenue.settings import REPO_ROOT

SEEDS_DIR = REPO_ROOT / "dbt_project" / "seeds"
COUNTRIES_SEED = SEEDS_DIR / "countries.csv"
ALIASES_SEED = SEEDS_DIR / "country_aliases.csv"
REGION_OVERRIDES_SEED = SEEDS_DIR / "country_region_overrides.csv"
ALIAS_OVERRIDES_SEED = SEEDS_DIR / "country_alias_overrides.csv"

COUNTRIES_COLUMNS = ("country_code", "country_name", "alpha3_code", "un_subregion", "region")
ALIASES_COLUMNS = ("country_alias", "country_code", "alias_source")
REGION_OVERRIDES_COLUMNS = ("country_code", "region")
ALIAS_OVERRIDES_COLUMNS = ("country_alias", "country_code")

UNASSIGNED_REGION = "Unassigned"

NORTH_AMERICA = "North America"
LATIN_AMERICA = "Latin America"
UK_AND_IRELAND = "UK & Ireland"
DACH = "DACH"
NORDICS = "Nordics"
WESTERN_EUROPE = "Western Europe"
EASTERN_EUROPE = "Eastern Europe"
MIDDLE_EAST_AND_AFRICA = "Middle East & Africa"
APAC = "APAC"

REGIONS: tuple[str, ...] = (
    NORTH_AMERICA,
    LATIN_AMERICA,
    UK_AND_IRELAND,
    DACH,
    NORDICS,
    WESTERN_EUROPE,
    EASTERN_EUROPE,
    MIDDLE_EAST_AND_AFRICA,
    APAC,
)
"""The default sales regions (an override may name others)."""

# Country-level exceptions to the subregion rule. They are sales policy, not geography:
# DACH and UK & Ireland are sold to as markets of their own; the Baltics and the Balkans
# (UN "Northern" / "Southern Europe") buy like the rest of Central and Eastern Europe; Cyprus
# (UN "Western Asia") is an EU member state sold to from Western Europe. XK (Kosovo) is not
# in ISO 3166-1 today but is kept so the policy is ready if it is added.
REGION_BY_COUNTRY: Mapping[str, str] = {
    **dict.fromkeys(("DE", "AT", "CH", "LI"), DACH),
    **dict.fromkeys(("GB", "IE", "IM", "JE", "GG"), UK_AND_IRELAND),
    **dict.fromkeys(("EE", "LV", "LT"), EASTERN_EUROPE),
    **dict.fromkeys(("SI", "HR", "BA", "RS", "ME", "MK", "AL", "XK"), EASTERN_EUROPE),
    "CY": WESTERN_EUROPE,
}

# Every UN M49 subregion the policy knows. A subregion missing here is an error at
# generation time, so that a change in the UN's scheme is decided on, not guessed.
REGION_BY_UN_SUBREGION: Mapping[str, str] = {
    "Northern America": NORTH_AMERICA,
    "Caribbean": LATIN_AMERICA,
    "Central America": LATIN_AMERICA,
    "South America": LATIN_AMERICA,
    "Northern Europe": NORDICS,
    "Western Europe": WESTERN_EUROPE,
    "Southern Europe": WESTERN_EUROPE,
    "Eastern Europe": EASTERN_EUROPE,
    "Western Asia": MIDDLE_EAST_AND_AFRICA,
    "Northern Africa": MIDDLE_EAST_AND_AFRICA,
    "Western Africa": MIDDLE_EAST_AND_AFRICA,
    "Middle Africa": MIDDLE_EAST_AND_AFRICA,
    "Eastern Africa": MIDDLE_EAST_AND_AFRICA,
    "Southern Africa": MIDDLE_EAST_AND_AFRICA,
    "Eastern Asia": APAC,
    "South-eastern Asia": APAC,
    "Southern Asia": APAC,
    "Central Asia": APAC,
    "Australia and New Zealand": APAC,
    "Melanesia": APAC,
    "Micronesia": APAC,
    "Polynesia": APAC,
    "Antarctica": APAC,
}

CLDR_LANGUAGES: tuple[str, ...] = (
    "en",
    "de",
    "fr",
    "es",
    "it",
    "pt",
    "nl",
    "pl",
    "sv",
    "da",
    "nb",
    "fi",
    "cs",
    "hu",
    "ro",
)
"""Languages whose CLDR country names become aliases, in conflict-resolution order."""

EXACT_ALIAS_SOURCES: tuple[str, ...] = (
    "iso_alpha2",
    "iso_alpha3",
    "pycountry_name",
    "pycountry_common_name",
    "pycountry_official_name",
    *(f"cldr_{language}" for language in CLDR_LANGUAGES),
)
"""Where an alias can come from, highest priority first."""

PLAIN_SUFFIX = "_plain"
"""Suffix of the source of a name's keyboard form (``cldr_de_plain`` for "osterreich")."""

# Placeholders that CRMs and ad platforms write instead of a country; they must stay
# unmatched (Unassigned). "null" also matters because dbt reads it as NULL in a seed.
NOT_ALIASES = frozenset({"unknown", "null", "none", "n/a"})

# The macro's regexp '\s' is RE2's: ASCII space, tab, newline, form feed, carriage return.
_SQL_WHITESPACE_RUN = re.compile(r"[ \t\n\f\r]+")
_TYPOGRAPHIC_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'"})


@dataclass(frozen=True)
class Country:
    """One ISO 3166-1 country and its sales region."""

    code: str
    """ISO 3166-1 alpha-2."""
    alpha3: str
    name: str
    """English short name (ISO 3166-1, as pycountry has it)."""
    un_subregion: str
    """UN M49 subregion, e.g. "Western Europe"."""
    region: str


def normalize_alias(text: str) -> str | None:
    """The lookup key of a free-text country: what the dbt macro normalize_country_alias does.

    The macro runs ``nullif(lower(trim(regexp_replace(text, '\\s+', ' ', 'g'))), '')`` in
    DuckDB, so this mirrors DuckDB rather than Python's own idea of white space: runs of ASCII
    white space become one space, then the ends lose spaces including Unicode space
    separators (NBSP and friends, which DuckDB's trim removes but its '\\s' does not match).
    Lower-casing is Python's; it differs from DuckDB's only for a few letters outside the
    languages used here (Turkish dotted I, Greek final sigma), and the seed tests check that
    every generated alias is unchanged by the SQL macro.
    """
    collapsed = _SQL_WHITESPACE_RUN.sub(" ", text)
    start, end = 0, len(collapsed)
    while start < end and unicodedata.category(collapsed[start]) == "Zs":
        start += 1
    while end > start and unicodedata.category(collapsed[end - 1]) == "Zs":
        end -= 1
    return collapsed[start:end].lower() or None


def default_region(code: str, un_subregion: str) -> str:
    """The default sales region of a country: its country exception, else its UN subregion's.

    Raises:
        ValueError: for a UN subregion the policy does not know (decide, then add it).
    """
    if code in REGION_BY_COUNTRY:
        return REGION_BY_COUNTRY[code]
    try:
        return REGION_BY_UN_SUBREGION[un_subregion]
    except KeyError:
        raise ValueError(
            f"country {code}: UN subregion {un_subregion!r} has no sales region; add it to "
            "REGION_BY_UN_SUBREGION in reach2revenue/reference/countries.py"
        ) from None


def region_of(country_code: str | None, countries: Mapping[str, Country]) -> str:
    """Region of an ISO-2 code, or UNASSIGNED_REGION for a missing or unknown code."""
    country = countries.get(country_code) if country_code is not None else None
    return country.region if country is not None else UNASSIGNED_REGION


# --- generation (imports pycountry, babel and country_converter lazily) -------------------


def _un_subregions_by_alpha3() -> dict[str, str]:
    """ISO-3 -> UN M49 subregion from country_converter's shipped table.

    Read with the csv module rather than ``CountryConverter().data``: country_converter 1.3
    cannot build its converter under pandas 3 (it reads Namibia's "NA" and blank codes as
    NaN), and its ISO2 column holds regexes for two countries ("^GB$|^UK$", "^GR$|^EL$"),
    so the join is on ISO3, which is a plain code for every row.
    """
    table = resources.files("country_converter").joinpath("country_data.tsv")
    with table.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return {
        row["ISO3"]: row["UNregion"]
        for row in rows
        # Former countries (USSR, Netherlands Antilles) keep rows there; they are not ISO
        # 3166-1 countries today.
        if row["ISO3"] and row["UNregion"] and not row["obsolete"]
    }


def all_countries() -> list[Country]:
    """Every ISO 3166-1 country (pycountry), with its default region, sorted by code.

    Raises:
        ValueError: when country_converter has no UN subregion for a country, or the policy
            has no region for its subregion: both need a decision, not a guess.
    """
    import pycountry

    subregions = _un_subregions_by_alpha3()
    countries: list[Country] = []
    for entry in pycountry.countries:
        un_subregion = subregions.get(entry.alpha_3, "")
        if not un_subregion and entry.alpha_2 not in REGION_BY_COUNTRY:
            raise ValueError(
                f"country {entry.alpha_2} ({entry.name}) has no UN M49 subregion in "
                "country_converter; add it to REGION_BY_COUNTRY with its sales region"
            )
        countries.append(
            Country(
                code=entry.alpha_2,
                alpha3=entry.alpha_3,
                name=entry.name,
                un_subregion=un_subregion,
                region=default_region(entry.alpha_2, un_subregion),
            )
        )
    return sorted(countries, key=lambda country: country.code)


def _plain_form(name: str) -> str:
    """A name as typed on a plain keyboard: accents dropped (NFKD), curly apostrophes straight."""
    decomposed = unicodedata.normalize("NFKD", name)
    unaccented = "".join(char for char in decomposed if not unicodedata.combining(char))
    return unaccented.translate(_TYPOGRAPHIC_APOSTROPHES)


def _spellings(countries: Iterable[Country]) -> Iterable[tuple[str, str, str]]:
    """(ISO-2, source, spelling) from every exact source, codes included."""
    import babel
    import pycountry

    # CLDR keys countries by ISO-2; its other keys are M49 areas ("150") and non-country
    # codes ("EU", "ZZ"), which no country code looks up.
    territory_names = {language: babel.Locale(language).territories for language in CLDR_LANGUAGES}
    for country in countries:
        yield country.code, "iso_alpha2", country.code
        yield country.code, "iso_alpha3", country.alpha3
        entry: Any = pycountry.countries.get(alpha_2=country.code)
        for field in ("name", "common_name", "official_name"):
            value = getattr(entry, field, None)
            if value:
                yield country.code, f"pycountry_{field}", value
        for language, names in territory_names.items():
            name = names.get(country.code)
            if name:
                yield country.code, f"cldr_{language}", name


def _alias_table(countries: Iterable[Country]) -> dict[str, tuple[str, str]]:
    """alias -> (ISO-2, source) with conflicts resolved by source priority.

    Priority: every exact spelling in EXACT_ALIAS_SOURCES order (codes, pycountry's English
    names, then CLDR languages as listed), then every keyboard form in the same order, since
    an exact name in any language is better evidence than a guess at a dropped accent. An
    alias that two countries share at its best priority is dropped: neither is right.
    """
    priorities = {source: rank for rank, source in enumerate(EXACT_ALIAS_SOURCES)}
    offset = len(EXACT_ALIAS_SOURCES)
    priorities |= {source + PLAIN_SUFFIX: rank + offset for source, rank in priorities.items()}

    # alias -> country -> best (rank, source) for that pair
    candidates: dict[str, dict[str, tuple[int, str]]] = {}

    def offer(spelling: str, code: str, source: str) -> None:
        alias = normalize_alias(spelling)
        if alias is None or alias in NOT_ALIASES:
            return
        best = candidates.setdefault(alias, {})
        ranked = (priorities[source], source)
        if code not in best or ranked < best[code]:
            best[code] = ranked

    for code, source, spelling in _spellings(countries):
        offer(spelling, code, source)
        if not source.startswith("iso_"):
            offer(_plain_form(spelling), code, source + PLAIN_SUFFIX)

    table: dict[str, tuple[str, str]] = {}
    for alias, by_country in candidates.items():
        top_rank = min(rank for rank, _ in by_country.values())
        winners = [
            (code, source) for code, (rank, source) in by_country.items() if rank == top_rank
        ]
        if len(winners) == 1:
            table[alias] = winners[0]
    return table


def build_aliases(countries: Iterable[Country]) -> dict[str, str]:
    """Normalised alias -> ISO-2 for the given countries, from data only (see _alias_table)."""
    return {alias: code for alias, (code, _) in _alias_table(countries).items()}


def _write_csv(path: Path, header: Iterable[str], rows: Iterable[Iterable[str]]) -> None:
    # Fixed newline, encoding and quoting so that the seed is byte-for-byte reproducible.
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_seeds(seeds_dir: Path | None = None) -> None:
    """Regenerate countries.csv and country_aliases.csv; create empty override seeds if absent.

    The override seeds belong to the users: an existing one is never touched.
    """
    directory = Path(seeds_dir) if seeds_dir is not None else SEEDS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    countries = all_countries()
    _write_csv(
        directory / COUNTRIES_SEED.name,
        COUNTRIES_COLUMNS,
        (
            (country.code, country.name, country.alpha3, country.un_subregion, country.region)
            for country in countries
        ),
    )
    aliases = _alias_table(countries)
    _write_csv(
        directory / ALIASES_SEED.name,
        ALIASES_COLUMNS,
        ((alias, code, source) for alias, (code, source) in sorted(aliases.items())),
    )
    for seed, header in (
        (REGION_OVERRIDES_SEED, REGION_OVERRIDES_COLUMNS),
        (ALIAS_OVERRIDES_SEED, ALIAS_OVERRIDES_COLUMNS),
    ):
        path = directory / seed.name
        if not path.exists():
            _write_csv(path, header, ())


# --- load path (standard library only) ---------------------------------------------------


def _read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _read_overrides(path: Path) -> list[dict[str, str]]:
    """Rows of a user override seed; none if the file does not exist."""
    return _read_rows(path) if path.exists() else []


def load_countries(seeds_dir: Path | None = None) -> dict[str, Country]:
    """ISO-2 -> Country from countries.csv, with country_region_overrides.csv applied.

    Raises:
        ValueError: for an override naming a country that is not in countries.csv, or
            with an empty region (a typo would otherwise be silently ignored).
    """
    directory = Path(seeds_dir) if seeds_dir is not None else SEEDS_DIR
    countries = {
        row["country_code"]: Country(
            code=row["country_code"],
            alpha3=row["alpha3_code"],
            name=row["country_name"],
            un_subregion=row["un_subregion"],
            region=row["region"],
        )
        for row in _read_rows(directory / COUNTRIES_SEED.name)
    }
    # Read as the dbt model int_countries_assigned_to_regions reads it (code trimmed and
    # upper-cased, region as written) so that Python and the warehouse agree; a code that
    # matches no country is an error here rather than a silent no-op.
    overrides = directory / REGION_OVERRIDES_SEED.name
    for row in _read_overrides(overrides):
        code = (row.get("country_code") or "").strip().upper()
        region = row.get("region") or ""
        if code not in countries:
            raise ValueError(f"{overrides}: unknown country code {code!r}")
        if not region.strip():
            raise ValueError(f"{overrides}: empty region for {code}")
        countries[code] = replace(countries[code], region=region)
    return countries


def load_aliases(seeds_dir: Path | None = None) -> dict[str, str]:
    """Normalised alias -> ISO-2 from country_aliases.csv, with country_alias_overrides.csv.

    Override aliases are normalised here, so users may write them as people type them
    ("Holland"); an override replaces a generated alias of the same spelling.

    Raises:
        ValueError: for an override with an empty alias or a code not in countries.csv.
    """
    directory = Path(seeds_dir) if seeds_dir is not None else SEEDS_DIR
    aliases = {
        row["country_alias"]: row["country_code"]
        for row in _read_rows(directory / ALIASES_SEED.name)
    }
    overrides = _read_overrides(directory / ALIAS_OVERRIDES_SEED.name)
    if overrides:
        codes = {row["country_code"] for row in _read_rows(directory / COUNTRIES_SEED.name)}
        path = directory / ALIAS_OVERRIDES_SEED.name
        for row in overrides:
            # As int_country_aliases_merged_with_overrides reads them.
            alias = normalize_alias(row.get("country_alias") or "")
            code = (row.get("country_code") or "").strip().upper()
            if alias is None:
                raise ValueError(f"{path}: empty country_alias for {code!r}")
            if code not in codes:
                raise ValueError(f"{path}: unknown country code {code!r}")
            aliases[alias] = code
    return aliases


def main() -> None:
    """Regenerate the country seeds in the repo's dbt project."""
    write_seeds()
    countries = load_countries()
    aliases = load_aliases()
    print(f"{COUNTRIES_SEED}: {len(countries)} countries")
    print(f"{ALIASES_SEED}: {len(aliases)} aliases")


if __name__ == "__main__":
    main()
