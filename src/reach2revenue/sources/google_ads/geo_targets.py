"""Google's geo target table for countries, as the dbt seed ``google_ads_geo_targets``.

``geographic_view.country_criterion_id`` is a geo target criterion id. Google publishes
every target in a CSV (developers.google.com/google-ads/api/data/geotargets) with the
columns ``Criteria ID,Name,Canonical Name,Parent ID,Country Code,Target Type,Status``;
the country rows carry the ISO 3166-1 alpha-2 code. For countries the criterion id is
2000 + the ISO 3166-1 numeric code: 2276 Germany (276), 2840 United States (840), 2826
United Kingdom (826), 2250 France (250), 2392 Japan (392), and so on through Google's
whole country list (checked on a public copy of it: 2004 AF, 2531 CW, 2807 MK, 2894 ZM).

So the seed is generated, not downloaded: one ``Country`` row per ISO 3166-1 country
(pycountry), ``Active``, no parent. Names are pycountry's common names where it has one
(Google's own spelling differs for a few: "Czechia", "The Bahamas"); only the id and the
code matter to the pipeline. Google leaves a few ISO countries out of its table (those it
does not serve, e.g. CU, IR, KP, SY); a row for an id Google never sends costs nothing.

Regenerate with ``python -m reach2revenue.sources.google_ads.geo_targets``.
"""

from __future__ import annotations

import csv
import functools
import io
from pathlib import Path

from reach2revenue.settings import REPO_ROOT

GEO_TARGETS_SEED = REPO_ROOT / "dbt_project" / "seeds" / "google_ads_geo_targets.csv"
GEO_TARGET_COLUMNS = (
    "Criteria ID",
    "Name",
    "Canonical Name",
    "Parent ID",
    "Country Code",
    "Target Type",
    "Status",
)
#: A country's criterion id is this plus its ISO 3166-1 numeric code.
COUNTRY_CRITERION_OFFSET = 2000
COUNTRY_TARGET_TYPE = "Country"
ACTIVE = "Active"


@functools.cache  # pycountry's lookup costs 9 µs; the generator calls it per report row
def country_criterion_id(alpha2: str) -> str:
    """Google's criterion id of a country (``"DE"`` -> ``"2276"``).

    Raises:
        KeyError: ``alpha2`` is not an ISO 3166-1 alpha-2 code.
    """
    import pycountry

    country = pycountry.countries.get(alpha_2=alpha2.upper())
    if country is None:
        raise KeyError(f"not an ISO 3166-1 alpha-2 code: {alpha2!r}")
    return str(COUNTRY_CRITERION_OFFSET + int(country.numeric))


def geo_target_rows() -> list[tuple[str, ...]]:
    """One row per ISO 3166-1 country in Google's column layout, by criterion id."""
    import pycountry

    rows = []
    for country in pycountry.countries:
        name = getattr(country, "common_name", None) or country.name
        rows.append(
            (
                str(COUNTRY_CRITERION_OFFSET + int(country.numeric)),
                name,
                name,
                "",
                country.alpha_2,
                COUNTRY_TARGET_TYPE,
                ACTIVE,
            )
        )
    return sorted(rows, key=lambda row: int(row[0]))


def render_seed() -> str:
    """The seed file's text: header and rows, ``\\n`` line ends, minimal quoting."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(GEO_TARGET_COLUMNS)
    writer.writerows(geo_target_rows())
    return buffer.getvalue()


def write_seed(path: Path = GEO_TARGETS_SEED) -> Path:
    """Write the seed to ``path``; return it."""
    path = Path(path)
    path.write_text(render_seed(), encoding="utf-8", newline="")
    return path


def load_country_codes(path: Path = GEO_TARGETS_SEED) -> dict[str, str]:
    """Criterion id -> ISO-2 of every ``Country`` row of a geo target file (Google's own
    download works too); standard library only."""
    with Path(path).open(encoding="utf-8", newline="") as handle:
        return {
            row["Criteria ID"]: row["Country Code"]
            for row in csv.DictReader(handle)
            if row["Target Type"] == COUNTRY_TARGET_TYPE and row["Country Code"]
        }


def main() -> None:
    """Regenerate the seed."""
    print(write_seed())


if __name__ == "__main__":
    main()
