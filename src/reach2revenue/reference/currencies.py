"""ISO 4217 currency codes and the euro's irrevocable conversion rates.

Valid codes come from maintained data, never a hand list: pycountry's ISO 4217 table
(current codes) united with CLDR's currency list via babel (which keeps former codes such
as DEM, HRK and BGN that CRMs still hold old deals in). The euro legacy rates are legal
reference data (Council Regulations fixing each member's rate on adoption) shipped as the
dbt seed ``euro_legacy_conversion_rates.csv``, which both dbt and Python read.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

from reach2revenue.settings import REPO_ROOT

SEEDS_DIR = REPO_ROOT / "dbt_project" / "seeds"
EURO_LEGACY_RATES_SEED = SEEDS_DIR / "euro_legacy_conversion_rates.csv"
EURO = "EUR"


@cache
def iso_4217_codes() -> frozenset[str]:
    """Every real ISO 4217 alphabetic code, current or former (upper case)."""
    import pycountry
    from babel.numbers import list_currencies

    current = {currency.alpha_3 for currency in pycountry.currencies}
    former = {code for code in list_currencies() if len(code) == 3 and code.isalpha()}
    legacy = {rate.currency_code for rate in euro_legacy_rates()}
    return frozenset(code.upper() for code in current | former | legacy)


def is_iso_4217(code: str | None) -> bool:
    """True for a real ISO 4217 code written as such (three upper-case letters)."""
    return code is not None and code in iso_4217_codes()


@dataclass(frozen=True)
class LegacyRate:
    """A former euro-area currency: ``units_per_eur`` of it equal one euro from ``adopted_on``."""

    currency_code: str
    country_code: str
    units_per_eur: Decimal
    adopted_on: date


@cache
def euro_legacy_rates(path: Path = EURO_LEGACY_RATES_SEED) -> tuple[LegacyRate, ...]:
    """The irrevocable conversion rates, from the dbt seed."""
    with path.open(encoding="utf-8", newline="") as handle:
        return tuple(
            LegacyRate(
                row["currency_code"],
                row["country_code"],
                Decimal(row["units_per_eur"]),
                date.fromisoformat(row["adopted_on"]),
            )
            for row in csv.DictReader(handle)
        )
