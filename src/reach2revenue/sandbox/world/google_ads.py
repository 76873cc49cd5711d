"""The Google Ads part of the world: customers, campaigns and the geographic report.

Google Ads customers (client accounts under one manager account) each have a currency
and a time zone; their campaigns deliver in countries of the customer's regions. The
report holds one row per customer, campaign, customer-local day, country criterion and
location type, as ``geographic_view`` answers it. Besides the ``LOCATION_OF_PRESENCE`` rows
(where the user was) a share of campaign-days also has an ``AREA_OF_INTEREST`` row: users
who showed interest in a country, clicks that are counted again there. The mart counts
presence only, so `ad_facts` yields presence rows; the interest rows are what an
extractor that forgot the location-type filter would double-count.

Where the facts come from: countries and regions from the core world's seeds (only
countries the world's business is in), each customer's currency is its home country's
legal tender (CLDR) when ``world.fx`` converts it on every day of the world, else USD;
whole-unit currencies (JPY) spend whole units, others cents. Money is ``cost_micros``
(millionths of the account currency) as the API counts it; conversions are doubles
(data-driven attribution splits them), ``leads`` in the mart are their rounded value.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from reach2revenue.sandbox.world.parts import (
    AdFact,
    CrmDealFact,
    CrmPersonFact,
    TouchFact,
    WonDealFact,
)
from reach2revenue.sandbox.world.sampling import flighted_campaigns, poisson

if TYPE_CHECKING:
    from reach2revenue.sandbox.world.model import World

SOURCE = "google_ads"
LOCATION_OF_PRESENCE = "LOCATION_OF_PRESENCE"
AREA_OF_INTEREST = "AREA_OF_INTEREST"
MICROS_PER_UNIT = 1_000_000
HEADER_FILE = "google_ads.json"
REPORT_FILE = "google_ads_geographic_view.jsonl"
FORMAT_VERSION = 1
#: Currency of a customer whose home currency the world's rates cannot convert.
FALLBACK_CURRENCY = "USD"


@dataclass(frozen=True)
class _CustomerSpec:
    """Demo content: one client account, its home market and the regions it serves."""

    name: str
    home_country: str
    time_zone: str
    regions: tuple[str, ...]
    flighted_campaigns: int
    """Campaigns with a flight (start and end) on top of the two always-on ones, at scale 1."""


_CUSTOMER_SPECS = (
    _CustomerSpec("Reach2Revenue Search DACH", "DE", "Europe/Berlin", ("DACH",), 1),
    _CustomerSpec("Reach2Revenue Search FR", "FR", "Europe/Paris", ("Western Europe",), 0),
    _CustomerSpec("Reach2Revenue Search UK", "GB", "Europe/London", ("UK & Ireland",), 1),
    _CustomerSpec("Reach2Revenue Search US", "US", "America/Los_Angeles", ("North America",), 1),
    _CustomerSpec("Reach2Revenue Search MX", "MX", "America/Mexico_City", ("Latin America",), 0),
    _CustomerSpec("Reach2Revenue Search DK", "DK", "Europe/Copenhagen", ("Nordics",), 0),
    _CustomerSpec("Reach2Revenue Search CZ", "CZ", "Europe/Prague", ("Eastern Europe",), 1),
    _CustomerSpec(
        "Reach2Revenue Search ZA", "ZA", "Africa/Johannesburg", ("Middle East & Africa",), 0
    ),
    _CustomerSpec("Reach2Revenue Search JP", "JP", "Asia/Tokyo", ("APAC",), 0),
    _CustomerSpec("Reach2Revenue Search IN", "IN", "Asia/Kolkata", ("APAC",), 1),
)
_CAMPAIGN_KINDS = ("Search_Brand", "Search_Generic", "PMax", "Display_Remarketing", "Demand_Gen")
#: Share of a campaign-day's presence rows that also get an interest row.
_AREA_OF_INTEREST_SHARE = 0.12
#: Countries a customer advertises in (its home and the heaviest others), at most.
_MAX_ADVERTISED = 4


@dataclass(frozen=True)
class GoogleAdsCustomer:
    """A client account: ``customer.id`` (10 digits), currency and reporting time zone."""

    customer_id: str
    descriptive_name: str
    currency_code: str
    time_zone: str
    regions: tuple[str, ...]
    countries: tuple[str, ...]
    """ISO-2 codes it advertises in (all in its regions)."""

    @property
    def tz(self) -> ZoneInfo:
        """The account time zone: ``segments.date`` is a day in it."""
        return ZoneInfo(self.time_zone)


@dataclass(frozen=True)
class GoogleAdsCampaign:
    """A campaign of one customer, running from ``start_date`` to ``end_date``."""

    campaign_id: str
    campaign_name: str
    customer_id: str
    countries: tuple[str, ...]
    start_date: date
    end_date: date
    status: str = "ENABLED"


@dataclass
class GeoReportRow:
    """One ``geographic_view`` row. Mutable: a test may restate a value (late conversions)
    and `reindex` the stand-in, which then serves the change."""

    customer_id: str
    campaign_id: str
    date: date
    country_criterion_id: str
    location_type: str
    cost_micros: int
    impressions: int
    clicks: int
    conversions: float

    def to_json(self) -> dict[str, Any]:
        """The row as one JSON Lines object (the saved form)."""
        return {
            "customer_id": self.customer_id,
            "campaign_id": self.campaign_id,
            "date": self.date.isoformat(),
            "country_criterion_id": self.country_criterion_id,
            "location_type": self.location_type,
            "cost_micros": self.cost_micros,
            "impressions": self.impressions,
            "clicks": self.clicks,
            "conversions": self.conversions,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GeoReportRow:
        """Read a row written by `to_json`."""
        return cls(
            customer_id=str(data["customer_id"]),
            campaign_id=str(data["campaign_id"]),
            date=date.fromisoformat(data["date"]),
            country_criterion_id=str(data["country_criterion_id"]),
            location_type=str(data["location_type"]),
            cost_micros=int(data["cost_micros"]),
            impressions=int(data["impressions"]),
            clicks=int(data["clicks"]),
            conversions=float(data["conversions"]),
        )


def leads_of(conversions: float) -> int:
    """Leads the mart counts for a row: conversions rounded half away from zero, as
    ``round(cast(... as decimal))`` does in dbt."""
    return int(Decimal(repr(conversions)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def spend_of(cost_micros: int) -> Decimal:
    """``cost_micros`` in units of the account currency, exact."""
    return Decimal(cost_micros).scaleb(-6)


@cache
def _country_of_criterion() -> dict[str, str]:
    from reach2revenue.sources.google_ads.geo_targets import geo_target_rows

    return {row[0]: row[4] for row in geo_target_rows()}


def country_of_criterion(criterion_id: str) -> str | None:
    """ISO-2 of a country criterion id (None for an id that is no country)."""
    return _country_of_criterion().get(str(criterion_id))


@dataclass
class GoogleAdsPart:
    """The Google Ads slice of a world (see the module docstring)."""

    manager_customer_id: str
    customers: list[GoogleAdsCustomer]
    campaigns: list[GoogleAdsCampaign]
    rows: list[GeoReportRow]
    start: date
    days: int
    source: str = field(default=SOURCE, init=False)

    # ----------------------------------------------------------------- generation

    @classmethod
    def generate(cls, world: World, seed: int) -> GoogleAdsPart:
        """Build the part from the core world's calendar, seeds and rates."""
        return _Generator(world, random.Random(f"{seed}-{SOURCE}")).run()

    # ----------------------------------------------------------------- look-ups

    def customer(self, customer_id: str) -> GoogleAdsCustomer | None:
        """The customer with that id, or None."""
        return next((c for c in self.customers if c.customer_id == customer_id), None)

    def campaigns_by_id(self) -> dict[str, GoogleAdsCampaign]:
        """Campaigns keyed by id."""
        return {c.campaign_id: c for c in self.campaigns}

    def rows_by_customer_day(self) -> dict[str, dict[date, list[GeoReportRow]]]:
        """Report rows by customer and day, each day by campaign, criterion, location type.

        The lists hold the part's own row objects, so edits to a row show through.
        """
        grouped: dict[str, dict[date, list[GeoReportRow]]] = {
            c.customer_id: {} for c in self.customers
        }
        for row in self.rows:
            grouped.setdefault(row.customer_id, {}).setdefault(row.date, []).append(row)
        for days in grouped.values():
            for rows in days.values():
                rows.sort(
                    key=lambda r: (r.campaign_id, int(r.country_criterion_id), r.location_type)
                )
        return grouped

    @property
    def end_date(self) -> date:
        """Last report day (inclusive)."""
        return self.start + timedelta(days=self.days - 1)

    # ----------------------------------------------------------------- truth

    def ad_facts(self, until: datetime | None = None) -> Iterator[AdFact]:
        """Presence rows as the mart counts them; with ``until``, only days whose
        customer-local date is before ``until``'s."""
        customers = {c.customer_id: c for c in self.customers}
        for row in self.rows:
            if row.location_type != LOCATION_OF_PRESENCE:
                continue
            customer = customers[row.customer_id]
            if until is not None and row.date >= until.astimezone(customer.tz).date():
                continue
            yield AdFact(
                platform=SOURCE,
                account_id=row.customer_id,
                currency=customer.currency_code,
                report_date=row.date,
                country_code=country_of_criterion(row.country_criterion_id),
                spend=spend_of(row.cost_micros),
                impressions=row.impressions,
                clicks=row.clicks,
                leads=leads_of(row.conversions),
                reach=None,
            )

    def won_deal_facts(self, until: datetime | None = None) -> Iterable[WonDealFact]:
        """An ad platform wins no deals."""
        return ()

    def crm_person_facts(self, until: datetime | None = None) -> Iterable[CrmPersonFact]:
        """None: an ad platform has no CRM people."""
        return ()

    def crm_deal_facts(self, until: datetime | None = None) -> Iterable[CrmDealFact]:
        """None: an ad platform has no deals."""
        return ()

    def touch_facts(self, until: datetime | None = None) -> Iterable[TouchFact]:
        """None: an ad platform's clicks reach the CRM as its contacts' touches."""
        return ()

    def currencies(self) -> set[str]:
        """The customers' currencies."""
        return {c.currency_code for c in self.customers}

    def countries(self) -> set[str]:
        """ISO-2 codes of every country the report has a row for."""
        codes = {country_of_criterion(r.country_criterion_id) for r in self.rows}
        return {code for code in codes if code is not None}

    # ----------------------------------------------------------------- persistence

    def save(self, directory: Path) -> None:
        """Write ``google_ads.json`` (accounts, campaigns) and the report as JSON Lines."""
        directory = Path(directory)
        header = {
            "format": FORMAT_VERSION,
            "start": self.start.isoformat(),
            "days": self.days,
            "manager_customer_id": self.manager_customer_id,
            "customers": [
                {
                    "customer_id": c.customer_id,
                    "descriptive_name": c.descriptive_name,
                    "currency_code": c.currency_code,
                    "time_zone": c.time_zone,
                    "regions": list(c.regions),
                    "countries": list(c.countries),
                }
                for c in self.customers
            ],
            "campaigns": [
                {
                    "campaign_id": c.campaign_id,
                    "campaign_name": c.campaign_name,
                    "customer_id": c.customer_id,
                    "countries": list(c.countries),
                    "start_date": c.start_date.isoformat(),
                    "end_date": c.end_date.isoformat(),
                    "status": c.status,
                }
                for c in self.campaigns
            ],
        }
        (directory / HEADER_FILE).write_text(
            json.dumps(header, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        with (directory / REPORT_FILE).open("w", encoding="utf-8", newline="\n") as handle:
            for row in self.rows:
                handle.write(json.dumps(row.to_json(), separators=(",", ":")) + "\n")

    @classmethod
    def load(cls, directory: Path) -> GoogleAdsPart:
        """Read a part written by `save`."""
        directory = Path(directory)
        header = json.loads((directory / HEADER_FILE).read_text(encoding="utf-8"))
        if header.get("format") != FORMAT_VERSION:
            raise ValueError(f"unsupported google_ads part format {header.get('format')!r}")
        with (directory / REPORT_FILE).open(encoding="utf-8") as handle:
            rows = [GeoReportRow.from_json(json.loads(line)) for line in handle if line.strip()]
        return cls(
            manager_customer_id=str(header["manager_customer_id"]),
            customers=[
                GoogleAdsCustomer(
                    customer_id=c["customer_id"],
                    descriptive_name=c["descriptive_name"],
                    currency_code=c["currency_code"],
                    time_zone=c["time_zone"],
                    regions=tuple(c["regions"]),
                    countries=tuple(c["countries"]),
                )
                for c in header["customers"]
            ],
            campaigns=[
                GoogleAdsCampaign(
                    campaign_id=c["campaign_id"],
                    campaign_name=c["campaign_name"],
                    customer_id=c["customer_id"],
                    countries=tuple(c["countries"]),
                    start_date=date.fromisoformat(c["start_date"]),
                    end_date=date.fromisoformat(c["end_date"]),
                    status=c["status"],
                )
                for c in header["campaigns"]
            ],
            rows=rows,
            start=date.fromisoformat(header["start"]),
            days=int(header["days"]),
        )


# --------------------------------------------------------------------------- generator


@dataclass(frozen=True)
class _Delivery:
    """How a country performs for one customer: budget weight and prices in euro."""

    weight: float
    cpc_eur: float
    ctr: float
    conversion_rate: float


class _Generator:
    """Builds one part from one random stream (its own: the core world's stay untouched)."""

    def __init__(self, world: World, rng: random.Random) -> None:
        self.world = world
        self.rng = rng
        self.dates = list(world.dates)
        self.seeds = world.seeds
        self._budget_divisor: dict[str, float] = {}

    def run(self) -> GoogleAdsPart:
        manager = self._customer_id()
        customers = self._customers()
        campaigns = self._campaigns(customers)
        rows = self._rows(customers, campaigns)
        return GoogleAdsPart(
            manager_customer_id=manager,
            customers=customers,
            campaigns=campaigns,
            rows=rows,
            start=self.world.start,
            days=self.world.days,
        )

    def _customer_id(self) -> str:
        # Google customer ids are 10 digits, shown as 123-456-7890.
        return str(self.rng.randrange(1_000_000_000, 10_000_000_000))

    def _currency(self, country_code: str) -> str:
        """Home legal tender when the world converts it on every one of its days."""
        from babel.numbers import get_territory_currencies

        tenders = get_territory_currencies(
            country_code, start_date=self.dates[0], end_date=self.dates[-1], tender=True
        )
        fx = self.world.fx
        for currency in tenders:
            if all(fx.rate_on(currency, day) is not None for day in self.dates):
                return currency
        return FALLBACK_CURRENCY

    def _customers(self) -> list[GoogleAdsCustomer]:
        used = self.world.countries_used()
        regions = set(self.seeds.regions)
        customers = []
        for spec in _CUSTOMER_SPECS:
            if not set(spec.regions) <= regions:
                continue  # the seeds' regions were overridden away
            in_regions = self.seeds.countries_in(spec.regions)
            markets = [c for c in in_regions if c in used] or in_regions
            # The home market always, unless a region override moved it elsewhere.
            home = {spec.home_country} & set(in_regions)
            others = sorted(set(markets) - home)
            picked = self.rng.sample(others, min(len(others), _MAX_ADVERTISED - len(home)))
            countries = sorted({*picked, *home})
            if not countries:
                continue
            customers.append(
                GoogleAdsCustomer(
                    customer_id=self._customer_id(),
                    descriptive_name=spec.name,
                    currency_code=self._currency(spec.home_country),
                    time_zone=spec.time_zone,
                    regions=spec.regions,
                    countries=tuple(countries),
                )
            )
        return customers

    def _campaigns(self, customers: list[GoogleAdsCustomer]) -> list[GoogleAdsCampaign]:
        specs = {s.name: s for s in _CUSTOMER_SPECS}
        scale = self.world.scale
        density = self.world.campaign_density
        campaigns = []
        serial = 0
        for customer in customers:
            spec = specs[customer.descriptive_name]
            flights: list[tuple[str, date, date]] = [
                ("Search_Brand", self.dates[0], self.dates[-1]),
                ("Search_Generic", self.dates[0], self.dates[-1]),
            ]
            flighted, self._budget_divisor[customer.customer_id] = flighted_campaigns(
                spec.flighted_campaigns, scale, density, always_on=len(flights)
            )
            for _ in range(flighted):
                kind = self.rng.choice(_CAMPAIGN_KINDS[2:])
                length = self.rng.randint(min(14, len(self.dates)), len(self.dates))
                offset = self.rng.randint(0, len(self.dates) - length)
                flights.append((kind, self.dates[offset], self.dates[offset + length - 1]))
            for kind, first, last in flights:
                serial += 1
                size = self.rng.randint(
                    min(2, len(customer.countries)), min(3, len(customer.countries))
                )
                countries = tuple(sorted(self.rng.sample(list(customer.countries), size)))
                market = countries[0] if len(countries) == 1 else spec.home_country
                campaigns.append(
                    GoogleAdsCampaign(
                        # Campaign ids are int64, 11 digits in current accounts.
                        campaign_id=str(
                            20_000_000_000 + serial * 1_000 + self.rng.randrange(1_000)
                        ),
                        campaign_name=f"{market}_{kind}_{first.year}Q{(first.month - 1) // 3 + 1}",
                        customer_id=customer.customer_id,
                        countries=countries,
                        start_date=first,
                        end_date=last,
                    )
                )
        return campaigns

    def _deliveries(self, customers: list[GoogleAdsCustomer]) -> dict[tuple[str, str], _Delivery]:
        deliveries = {}
        for customer in customers:
            for country in customer.countries:
                deliveries[(customer.customer_id, country)] = _Delivery(
                    weight=self.rng.lognormvariate(0, 0.5),
                    cpc_eur=self.rng.uniform(0.35, 2.8),
                    ctr=self.rng.uniform(0.02, 0.09),
                    conversion_rate=self.rng.uniform(0.01, 0.04),
                )
        return deliveries

    def _rows(
        self, customers: list[GoogleAdsCustomer], campaigns: list[GoogleAdsCampaign]
    ) -> list[GeoReportRow]:
        from reach2revenue.sandbox.world.model import is_whole_unit_currency
        from reach2revenue.sources.google_ads.geo_targets import country_criterion_id

        by_id = {c.customer_id: c for c in customers}
        deliveries = self._deliveries(customers)
        scale = min(1.0, self.world.scale)
        profiles = []
        for campaign in campaigns:
            customer = by_id[campaign.customer_id]
            rate = self.world.fx.rate_on(customer.currency_code, self.dates[0])
            units_per_eur = float(rate.units_per_eur) if rate is not None else 1.0
            profiles.append(
                (
                    campaign,
                    customer,
                    units_per_eur,
                    # daily budget in euro
                    self.rng.uniform(60, 260) * scale / self._budget_divisor[customer.customer_id],
                    self.rng.uniform(0, 2 * math.pi),
                    is_whole_unit_currency(customer.currency_code),
                )
            )
        rows: list[GeoReportRow] = []
        for index, day in enumerate(self.dates):
            weekday = 0.7 if day.weekday() >= 5 else 1.0
            for campaign, customer, units_per_eur, budget, phase, whole in profiles:
                if not campaign.start_date <= day <= campaign.end_date:
                    continue
                season = 1 + 0.25 * math.sin(2 * math.pi * index / 28 + phase)
                shares = [deliveries[(customer.customer_id, c)] for c in campaign.countries]
                total = sum(d.weight for d in shares)
                for country, delivery in zip(campaign.countries, shares, strict=True):
                    spend_eur = budget * delivery.weight / total * weekday * season
                    spend_eur *= self.rng.uniform(0.7, 1.3)
                    spend = _money(spend_eur * units_per_eur, whole)
                    clicks = max(
                        1, int(spend_eur / (delivery.cpc_eur * self.rng.uniform(0.8, 1.2)))
                    )
                    impressions = max(
                        clicks, int(clicks / (delivery.ctr * self.rng.uniform(0.8, 1.2)))
                    )
                    conversions = self._conversions(clicks * delivery.conversion_rate)
                    criterion = country_criterion_id(country)
                    rows.append(
                        GeoReportRow(
                            customer_id=customer.customer_id,
                            campaign_id=campaign.campaign_id,
                            date=day,
                            country_criterion_id=criterion,
                            location_type=LOCATION_OF_PRESENCE,
                            cost_micros=int(spend * MICROS_PER_UNIT),
                            impressions=impressions,
                            clicks=clicks,
                            conversions=conversions,
                        )
                    )
                    if self.rng.random() < _AREA_OF_INTEREST_SHARE:
                        # The same clicks, counted again for the country users asked about.
                        share = self.rng.uniform(0.05, 0.3)
                        rows.append(
                            GeoReportRow(
                                customer_id=customer.customer_id,
                                campaign_id=campaign.campaign_id,
                                date=day,
                                country_criterion_id=criterion,
                                location_type=AREA_OF_INTEREST,
                                cost_micros=int(
                                    _money(float(spend) * share, whole) * MICROS_PER_UNIT
                                ),
                                impressions=max(1, int(impressions * share)),
                                clicks=int(clicks * share),
                                conversions=self._conversions(
                                    clicks * share * delivery.conversion_rate
                                ),
                            )
                        )
        return rows

    def _conversions(self, expected: float) -> float:
        """A day's conversions: a whole count, split fractionally by data-driven
        attribution about a third of the time (1.5, 2.37)."""
        count = poisson(self.rng, expected)
        if count and self.rng.random() < 0.35:
            return round(count * self.rng.uniform(0.6, 1.1), 2)
        return float(count)


def _money(amount: float, whole: bool) -> Decimal:
    """A positive amount rounded to what the currency bills: whole units or cents."""
    quantum = Decimal(1) if whole else Decimal("0.01")
    value = Decimal(repr(amount)).quantize(quantum, rounding=ROUND_HALF_UP)
    return max(value, quantum)
