"""Named sets of accepted values that expectation suites refer to instead of listing them.

A suite says ``"meta": {"reach2revenue": {"value_set_from": "iso_4217"}}`` on an
``expect_column_values_to_be_in_set`` expectation, and the quality module fills the
expectation's ``value_set`` from here when it loads the suite: the accepted values come
from maintained reference data, never from a list typed into the suite.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

#: What Meta's ``country`` breakdown writes when it cannot tell (documented value).
META_UNKNOWN_COUNTRY = "unknown"


def _iso_4217() -> frozenset[str]:
    from reach2revenue.reference.currencies import iso_4217_codes

    return iso_4217_codes()


def _iso_3166_alpha2() -> frozenset[str]:
    import pycountry

    return frozenset(country.alpha_2 for country in pycountry.countries)


def _meta_country_breakdown() -> frozenset[str]:
    return _iso_3166_alpha2() | {META_UNKNOWN_COUNTRY}


VALUE_SETS: dict[str, tuple[str, Callable[[], frozenset[str]]]] = {
    "iso_4217": ("ISO 4217 currency codes, current and former", _iso_4217),
    "iso_3166_alpha2": ("ISO 3166-1 alpha-2 country codes", _iso_3166_alpha2),
    "meta_country_breakdown": (
        "ISO 3166-1 alpha-2 codes and Meta's documented 'unknown'",
        _meta_country_breakdown,
    ),
}


@cache
def value_set(name: str) -> frozenset[str]:
    """The values of a named set; KeyError names the known sets."""
    if name not in VALUE_SETS:
        raise KeyError(f"unknown value set {name!r}; known: {', '.join(sorted(VALUE_SETS))}")
    return VALUE_SETS[name][1]()


def describe(name: str) -> str:
    """Human description of a named set, with its size."""
    return f"{VALUE_SETS[name][0]} ({len(value_set(name))} values)"
