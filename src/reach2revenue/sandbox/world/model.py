"""The world's data model: seeds, ad and CRM objects, FX, ground truth and persistence.

All instants are timezone-aware UTC datetimes with millisecond precision, so that the
HubSpot string form (``2024-03-15T12:01:02.345Z``) round-trips exactly. The objects are
plain mutable dataclasses: a test may change one value (a negative spend, a missing
contact) before handing the world to a server.

Money is converted with the world's own ECB reference rates (`World.fx_observations`: the
real published history where it exists, a seeded continuation after it) plus the rates
the ECB does not publish (`World.fx_overrides`), through `reach2revenue.reference.fx`.
"""

from __future__ import annotations

import bisect
import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from reach2revenue.reference.countries import (
    REGIONS,
    UNASSIGNED_REGION,
    Country,
    load_aliases,
    load_countries,
)
from reach2revenue.reference.fx import SDMX_COLUMNS, FxRates, RateObservation, parse_sdmx_csv
from reach2revenue.settings import Settings

if TYPE_CHECKING:
    from reach2revenue.sandbox.world.marketing_truth import CrmFacts, MarketingTruth, TruthRow
    from reach2revenue.sandbox.world.parts import (
        AdFact,
        CrmDealFact,
        CrmPersonFact,
        TouchFact,
        WorldPart,
    )

CENT = Decimal("0.01")
FORMAT_VERSION = 2
PIPELINE = "default"
OPEN_STAGES = (
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
)
STAGE_WON = "closedwon"
STAGE_LOST = "closedlost"
DEAL_TO_CONTACT_TYPE_ID = 3
CONTACT_TO_DEAL_TYPE_ID = 4

#: Every property a contact can carry; a server returns null for these when unset and
#: silently drops requested names outside this set, as HubSpot does.
CONTACT_PROPERTIES = (
    "email",
    "firstname",
    "lastname",
    "country",
    "hs_analytics_source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "lifecyclestage",
    "createdate",
    "lastmodifieddate",
    "hs_object_id",
)
DEAL_PROPERTIES = (
    "dealname",
    "amount",
    "deal_currency_code",
    "dealstage",
    "pipeline",
    "closedate",
    "hs_is_closed",
    "hs_is_closed_won",
    "createdate",
    "hs_lastmodifieddate",
    "hs_object_id",
)
CONTACT_MODIFIED_PROPERTY = "lastmodifieddate"
DEAL_MODIFIED_PROPERTY = "hs_lastmodifieddate"

#: What Meta writes in the country breakdown when it cannot tell the country (documented
#: by Meta); such rows belong to no country and so to the Unassigned region.
UNKNOWN_COUNTRY = "unknown"

#: Files of a saved world besides the JSON Lines of its objects.
ECB_RATES_FILE = "ecb_fx_rates.csv"
FX_OVERRIDES_FILE = "fx_overrides.csv"
FX_OVERRIDES_COLUMNS = ("currency_code", "rate_date", "units_per_eur")

FxOverride = tuple[str, date, Decimal]
"""A rate the ECB does not publish: (currency, rate date, units of it per one euro)."""

# --------------------------------------------------------------------------- helpers


def round_half_up(value: Decimal, places: str | Decimal = CENT) -> Decimal:
    """Round a Decimal half away from zero (what DuckDB's ``round`` does) to ``places``."""
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def format_instant(instant: datetime) -> str:
    """Format an aware instant the way HubSpot does: UTC, milliseconds, ``Z``."""
    utc = instant.astimezone(UTC)
    # isoformat is strftime's text here (4-digit years) at a fraction of its cost.
    return utc.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def parse_instant(value: str | int | float) -> datetime:
    """Parse an ISO-8601 string (``Z`` or offset; naive = UTC) or epoch milliseconds."""
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def epoch_ms(instant: datetime) -> int:
    """Milliseconds since the Unix epoch, the unit of HubSpot search filter values."""
    return int(instant.timestamp() * 1000 + (0.5 if instant.timestamp() >= 0 else -0.5))


def _to_ms(instant: datetime) -> datetime:
    # Drop sub-millisecond digits so instants survive the HubSpot string round trip.
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)


def local_day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Return the UTC instants ``[start, end)`` of one calendar day in time zone ``tz``."""
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def _default_seeds_dir() -> Path:
    return Settings.from_env().dbt_project_dir / "seeds"


@cache
def is_whole_unit_currency(currency: str) -> bool:
    """A currency without minor units in CLDR (JPY, KRW, HUF, ...): amounts are whole."""
    from babel.numbers import get_currency_precision

    return get_currency_precision(currency) == 0


# --------------------------------------------------------------------------- seeds


@dataclass(frozen=True)
class Seeds:
    """The country reference seeds, read at runtime so that they stay the single source of truth.

    Countries and regions come from ``countries.csv`` (every ISO 3166-1 country) and the
    spellings from ``country_aliases.csv``, both with their user override seeds applied, via
    `reach2revenue.reference.countries`.
    """

    countries: dict[str, Country]
    """ISO-2 code -> country (name, UN subregion, sales region), sorted by code."""
    aliases: dict[str, tuple[str, ...]]
    """ISO-2 code -> the normalised spellings people use for it (sorted)."""
    country_of_alias: dict[str, str]
    """Normalised spelling -> ISO-2 code: what the pipeline looks free text up in."""

    @classmethod
    def load(cls, directory: Path | None = None) -> Seeds:
        """Read the country and alias seeds (and their overrides) from ``directory``."""
        directory = Path(directory) if directory is not None else _default_seeds_dir()
        countries = load_countries(directory)
        country_of_alias = load_aliases(directory)
        spellings: dict[str, list[str]] = {}
        for alias, code in country_of_alias.items():
            spellings.setdefault(code, []).append(alias)
        return cls(
            countries=dict(sorted(countries.items())),
            aliases={code: tuple(sorted(values)) for code, values in sorted(spellings.items())},
            country_of_alias=country_of_alias,
        )

    @property
    def regions(self) -> list[str]:
        """The regions of the countries: the default ones in their order, then others sorted.

        This is the mart's region list; `UNASSIGNED_REGION` is not in it.
        """
        present = {country.region for country in self.countries.values()}
        return [r for r in REGIONS if r in present] + sorted(present - set(REGIONS))

    def region_of(self, country_code: str | None) -> str:
        """Region of an ISO-2 code; `UNASSIGNED_REGION` for ``unknown`` or any other text."""
        country = self.countries.get(country_code) if country_code is not None else None
        return country.region if country is not None else UNASSIGNED_REGION

    def country_name(self, country_code: str) -> str:
        """English short name of an ISO-2 code."""
        return self.countries[country_code].name

    def countries_in(self, regions: Iterable[str]) -> list[str]:
        """ISO-2 codes of the given regions, sorted."""
        wanted = set(regions)
        return [code for code, country in self.countries.items() if country.region in wanted]


# --------------------------------------------------------------------------- objects


@dataclass
class AdAccount:
    """A Meta ad account: its currency and the time zone its report days are in."""

    account_id: str
    name: str
    currency: str
    timezone: str
    regions: list[str]
    countries: list[str] = field(default_factory=list)
    """The markets (ISO-2) this account serves, all in its regions; empty: every country of
    its regions. Where several accounts share a region, each market has exactly one."""

    @property
    def tz(self) -> ZoneInfo:
        """The account time zone."""
        return ZoneInfo(self.timezone)


@dataclass
class Campaign:
    """A Meta campaign running in some countries of its account's regions."""

    campaign_id: str
    campaign_name: str
    account_id: str
    countries: list[str]
    start_date: date
    end_date: date


MetaInsight = dict[str, Any]
"""One Meta insights row exactly as the API returns it with every field requested.

Keys: ``account_id, account_currency, campaign_id, campaign_name, date_start, date_stop,
country, impressions, reach, clicks, spend`` (all strings) and, when any action is
non-zero, ``actions``: ``[{"action_type": "link_click"|"lead", "value": "<n>"}]`` (Meta
leaves out zero-valued action types). A test may overwrite any value (``row["spend"] =
"-5.00"``); the Meta stand-in serves the same dict objects, so the change is served.
"""


def insight_day(row: MetaInsight) -> date:
    """The account-local report day of an insights row."""
    return date.fromisoformat(str(row["date_start"]))


def insight_action(row: MetaInsight, action_type: str) -> int:
    """The value of one action type of an insights row (0 when absent)."""
    return sum(
        int(str(a["value"])) for a in row.get("actions") or [] if a["action_type"] == action_type
    )


def insight_leads(row: MetaInsight) -> int:
    """Platform-reported leads of an insights row."""
    return insight_action(row, "lead")


@dataclass
class Version:
    """The full property set of a CRM object from ``valid_from`` until the next version."""

    valid_from: datetime
    properties: dict[str, str | None]


@dataclass(kw_only=True)
class CrmObject:
    """A HubSpot object with its version history (oldest first)."""

    id: str
    versions: list[Version]
    archived_at: datetime | None = None

    @property
    def created_at(self) -> datetime:
        """Instant of the first version."""
        return self.versions[0].valid_from

    def version_at(self, instant: datetime | None) -> Version | None:
        """The version valid at ``instant`` (None: the latest); None if not yet created."""
        if instant is None:
            return self.versions[-1] if self.versions else None
        index = bisect.bisect_right(self.versions, instant, key=lambda v: v.valid_from) - 1
        return self.versions[index] if index >= 0 else None


@dataclass(kw_only=True)
class Contact(CrmObject):
    """A CRM contact; ``country_code`` is the truth behind the free-text ``country``."""

    country_code: str
    source: str
    """``marketing`` (a Meta lead) or ``sales`` (found by sales)."""
    account_id: str | None = None
    campaign_id: str | None = None


@dataclass(kw_only=True)
class Deal(CrmObject):
    """A CRM deal associated with exactly one contact (association type 3)."""

    contact_id: str


GroundTruthRow = dict[str, Any]
"""Expected mart values for one (region, reporting date): the keys of `GROUND_TRUTH_COLUMNS`
with ``date`` a `date`, money as `Decimal` (2 places) and counts as `int`.

``spend`` and ``revenue_won`` sum only the rows that had a rate; ``unconverted_spend_rows``
and ``unconverted_deals`` count the insight rows and won deals without one (their other
measures, ``impressions`` or ``deals_won``, still count)."""


GROUND_TRUTH_COLUMNS = (
    "date",
    "region",
    "reporting_currency",
    "spend",
    "impressions",
    "reach",
    "clicks",
    "leads",
    "deals_won",
    "revenue_won",
    "unconverted_spend_rows",
    "unconverted_deals",
)


def write_ground_truth_csv(rows: Iterable[GroundTruthRow], path: Path | str) -> Path:
    """Write ground-truth rows as CSV (ISO dates, money with two decimals); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(GROUND_TRUTH_COLUMNS)
        for row in rows:
            writer.writerow(
                [
                    row["date"].isoformat(),
                    row["region"],
                    row["reporting_currency"],
                    f"{row['spend']:.2f}",
                    row["impressions"],
                    row["reach"],
                    row["clicks"],
                    row["leads"],
                    row["deals_won"],
                    f"{row['revenue_won']:.2f}",
                    row["unconverted_spend_rows"],
                    row["unconverted_deals"],
                ]
            )
    return path


# --------------------------------------------------------------------------- world


@dataclass
class World:
    """One consistent marketing-to-sales world (see the module docstring)."""

    seed: int
    start: date
    days: int
    scale: float
    ad_accounts: list[AdAccount]
    campaigns: list[Campaign]
    meta_insights: list[MetaInsight]
    contacts: list[Contact]
    deals: list[Deal]
    fx_observations: tuple[RateObservation, ...] = field(default=(), repr=False)
    """What the ECB publishes over the world's span (from 14 days before its first day, so a
    weekend or holiday fallback works on day one, to its last day): the real history up
    to the last day it covers, then a seeded continuation on TARGET business days."""
    fx_overrides: tuple[FxOverride, ...] = field(default=(), repr=False)
    """Rates the ECB does not publish (AED, pegged to USD), on the same business days."""
    campaign_density: float = 1.0
    """Flighted ad campaigns per account are multiplied by this, and every campaign's budget
    divided so the account's spend (so its leads and the CRM) stays what ``scale`` makes:
    many small campaigns, as a real advertiser runs (``r2r bench`` sizes ad rows with it)."""
    parts: dict[str, WorldPart] = field(default_factory=dict, repr=False)
    """The other sources' slices of the world, by source name (`parts.WorldPart`)."""
    seeds_dir: Path | None = field(default=None, compare=False, repr=False)

    # ----------------------------------------------------------------- construction

    @classmethod
    def generate(
        cls,
        seed: int = 42,
        start: date = date(2024, 7, 1),
        days: int = 90,
        scale: float = 1.0,
        *,
        campaign_density: float = 1.0,
        seeds_dir: Path | None = None,
    ) -> World:
        """Generate a world deterministically from ``seed``.

        Args:
            seed: random seed; the same arguments give byte-identical ``save`` output.
            start: first report day (account-local).
            days: number of report days.
            scale: size factor: flighted campaigns, ad budgets (below 1.0, as the always-on
                campaigns cannot shrink) and the sales contact rate. 1.0 ~ 4.3k insight
                rows, ~4.7k contacts and ~1.2k deals over 90 days, in some sixty countries.
            campaign_density: ad rows per unit of spend: flighted campaigns per account
                times this, each with its share of the same budget (`World.campaign_density`).
            seeds_dir: directory of the dbt seeds; default from ``Settings.from_env()``.
        """
        if days < 1:
            raise ValueError("days must be >= 1")
        if scale <= 0:
            raise ValueError("scale must be > 0")
        if campaign_density < 1:
            raise ValueError("campaign_density must be >= 1")
        from reach2revenue.sandbox.world._generate import Generator
        from reach2revenue.sandbox.world.registry import PART_TYPES

        seeds = Seeds.load(seeds_dir)
        world = Generator(seed, start, days, scale, seeds, campaign_density).run()
        world.seeds_dir = seeds_dir
        world.__dict__["seeds"] = seeds
        for part_type in PART_TYPES:
            world.parts[part_type.source] = part_type.generate(world, seed)
        return world

    @cached_property
    def seeds(self) -> Seeds:
        """The country seeds (countries, regions, aliases) this world is read against."""
        return Seeds.load(self.seeds_dir)

    @cached_property
    def fx(self) -> FxRates:
        """The world's rates: ECB observations, overrides and the euro legacy rates."""
        return FxRates(ecb=self.fx_observations, overrides=self.fx_overrides)

    def write_fx_overrides(self, path: Path | str) -> Path:
        """Write ``fx_overrides`` in the user override file format; return the path.

        CSV ``currency_code,rate_date,units_per_eur``, UTF-8, ``\\n`` line ends, sorted by
        currency then date.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(FX_OVERRIDES_COLUMNS)
            for currency, day, rate in sorted(self.fx_overrides, key=lambda o: (o[0], o[1])):
                writer.writerow([currency, day.isoformat(), str(rate)])
        return path

    # ----------------------------------------------------------------- time

    @property
    def end_date(self) -> date:
        """Last report day (inclusive)."""
        return self.start + timedelta(days=self.days - 1)

    @property
    def dates(self) -> list[date]:
        """All report days."""
        return [self.start + timedelta(days=i) for i in range(self.days)]

    @property
    def end(self) -> datetime:
        """The instant the world ends: the latest account-local midnight after its last day.

        Nothing in the CRM happens after it; deals still open then stay open.
        """
        return max(local_day_bounds(self.end_date, a.tz)[1] for a in self.ad_accounts)

    # ----------------------------------------------------------------- look-ups

    def account(self, account_id: str) -> AdAccount | None:
        """The ad account with that id, or None."""
        return next((a for a in self.ad_accounts if a.account_id == account_id), None)

    def insights_by_account_day(self) -> dict[str, dict[str, list[MetaInsight]]]:
        """Insight rows by account id and ``date_start``, each day by campaign id and country.

        The lists hold the world's own row dicts, so edits to a row show through.
        """
        grouped: dict[str, dict[str, list[MetaInsight]]] = {
            a.account_id: {} for a in self.ad_accounts
        }
        for row in self.meta_insights:
            by_day = grouped.setdefault(str(row["account_id"]), {})
            by_day.setdefault(str(row["date_start"]), []).append(row)
        for days in grouped.values():
            for rows in days.values():
                rows.sort(key=lambda r: (str(r.get("campaign_id", "")), str(r.get("country", ""))))
        return grouped

    def insights_for(self, account_id: str, day: date) -> list[MetaInsight]:
        """Insight rows of one account on one account-local day."""
        return self.insights_by_account_day().get(account_id, {}).get(day.isoformat(), [])

    @property
    def hubspot_contacts(self) -> list[Contact]:
        """The contacts (same list as ``contacts``)."""
        return self.contacts

    @property
    def hubspot_deals(self) -> list[Deal]:
        """The deals (same list as ``deals``)."""
        return self.deals

    def countries_used(self) -> set[str]:
        """ISO-2 codes of every country the world's ads and contacts are in (not ``unknown``)."""
        codes = {str(row["country"]) for row in self.meta_insights}
        codes.update(contact.country_code for contact in self.contacts)
        for part in self.parts.values():
            codes.update(part.countries())
        return {code for code in codes if code in self.seeds.countries}

    def currencies_used(self) -> set[str]:
        """Every currency of an ad account or of any deal version."""
        currencies = {account.currency for account in self.ad_accounts}
        currencies.update(
            str(version.properties["deal_currency_code"])
            for deal in self.deals
            for version in deal.versions
            if version.properties.get("deal_currency_code")
        )
        for part in self.parts.values():
            currencies.update(part.currencies())
        return currencies

    def contacts_by_id(self) -> dict[str, Contact]:
        """Contacts keyed by id."""
        return {c.id: c for c in self.contacts}

    def deals_by_id(self) -> dict[str, Deal]:
        """Deals keyed by id."""
        return {d.id: d for d in self.deals}

    def contacts_as_of(self, instant: datetime | None) -> Iterator[tuple[Contact, Version]]:
        """Contacts that exist and are not archived at ``instant``, with their state then."""
        yield from _as_of(self.contacts, instant)

    def deals_as_of(self, instant: datetime | None) -> Iterator[tuple[Deal, Version]]:
        """Deals that exist and are not archived at ``instant``, with their state then."""
        yield from _as_of(self.deals, instant)

    # ----------------------------------------------------------------- mutations

    def archive_deal(self, deal_id: str, at: datetime) -> Deal:
        """Archive (delete) a HubSpot deal at ``at``, as deleting it in HubSpot does.

        From ``at`` on it leaves search and the live list and appears in the list with
        ``archived=true`` (``archivedAt``), and `ground_truth` no longer counts it. Call
        the stand-ins' ``reindex`` afterwards.
        """
        return _archive(self.deals_by_id(), deal_id, at)

    def archive_contact(self, contact_id: str, at: datetime) -> Contact:
        """Archive (delete) a HubSpot contact at ``at`` (see `archive_deal`)."""
        return _archive(self.contacts_by_id(), contact_id, at)

    def restate_insight(self, row: MetaInsight, **values: str) -> dict[str, Any]:
        """Change values of one Meta insights row, as Meta restating a past day does.

        ``values`` are API fields as text (``spend="12.34"``). The stand-in serves the
        world's own row objects, so the next read of that day sees the new values (a
        reindex is needed only when rows are added or removed); `ground_truth` counts
        them. Returns the old values.
        """
        unknown = set(values) - set(row)
        if unknown:
            raise KeyError(f"not fields of the insights row: {sorted(unknown)}")
        old = {name: row[name] for name in values}
        row.update({name: str(value) for name, value in values.items()})
        return old

    # ----------------------------------------------------------------- ground truth

    def ground_truth(
        self,
        reporting_currency: str = "EUR",
        reporting_timezone: str = "Europe/Berlin",
        until: datetime | None = None,
    ) -> list[GroundTruthRow]:
        """Expected region x day mart, computed from the world objects.

        Ad metrics count on their account-local day, in the region of the row's country
        (``unknown`` and any other non-code: Unassigned); a won deal counts on its
        ``closedate`` in ``reporting_timezone``, in the region of its contact's true country.
        Money is converted per source row with ``world.fx.convert`` on that day (last rate
        on or before it, at most a week old; exact, rounded once half away from zero to the
        cent), then summed. A row without a rate adds nothing to the money and is counted in
        ``unconverted_spend_rows`` / ``unconverted_deals``.

        Args:
            reporting_currency: target currency (EUR or any currency ``world.fx`` knows).
            reporting_timezone: time zone that turns close instants into dates.
            until: if given, only insight days that ended before it (account-local date
                earlier than ``until``'s) and deals closed won before it, by their state
                at ``until``. Deals archived by then, or whose contact is missing, are left
                out.

        Returns:
            One row per (region, date) for every region of the seeds and every date from
            the world start to the last date with data, zero-filled, sorted by date then
            region order. Unassigned follows the mart's rule: when anything landed there,
            it is a region like the others (every date, zero-filled), and after them.
        """
        seeds = self.seeds
        fx = self.fx
        report_tz = ZoneInfo(reporting_timezone)
        accounts = {a.account_id: a for a in self.ad_accounts}
        cells: dict[tuple[date, str], GroundTruthRow] = {}

        def cell(day: date, region: str) -> GroundTruthRow:
            key = (day, region)
            if key not in cells:
                cells[key] = {
                    "date": day,
                    "region": region,
                    "reporting_currency": reporting_currency,
                    "spend": Decimal("0.00"),
                    "impressions": 0,
                    "reach": 0,
                    "clicks": 0,
                    "leads": 0,
                    "deals_won": 0,
                    "revenue_won": Decimal("0.00"),
                    "unconverted_spend_rows": 0,
                    "unconverted_deals": 0,
                }
            return cells[key]

        cutoff_days: dict[str, date] = {}
        if until is not None:
            cutoff_days = {a.account_id: until.astimezone(a.tz).date() for a in self.ad_accounts}
        for row in self.meta_insights:
            account = accounts[str(row["account_id"])]
            day = insight_day(row)
            if until is not None and day >= cutoff_days[account.account_id]:
                continue
            target = cell(day, seeds.region_of(str(row["country"])))
            # The row's own currency: what the API says, even if a test changed it.
            spend = fx.convert(
                Decimal(str(row["spend"])), str(row["account_currency"]), reporting_currency, day
            )
            if spend is None:
                target["unconverted_spend_rows"] += 1
            else:
                target["spend"] += spend.amount
            target["impressions"] += int(str(row["impressions"]))
            target["reach"] += int(str(row["reach"]))
            target["clicks"] += int(str(row["clicks"]))
            target["leads"] += insight_leads(row)

        contacts = self.contacts_by_id()
        for deal in self.deals:
            if deal.archived_at is not None and (until is None or deal.archived_at <= until):
                continue
            version = deal.version_at(until)
            if version is None or version.properties.get("dealstage") != STAGE_WON:
                continue
            closed = parse_instant(str(version.properties["closedate"]))
            contact = contacts.get(deal.contact_id)
            if (until is not None and closed >= until) or contact is None:
                continue
            day = closed.astimezone(report_tz).date()
            target = cell(day, seeds.region_of(contact.country_code))
            target["deals_won"] += 1
            revenue = fx.convert(
                Decimal(str(version.properties["amount"])),
                str(version.properties["deal_currency_code"]),
                reporting_currency,
                day,
            )
            if revenue is None:
                target["unconverted_deals"] += 1
            else:
                target["revenue_won"] += revenue.amount

        for part in self.parts.values():
            for fact in part.ad_facts(until):
                target = cell(fact.report_date, seeds.region_of(fact.country_code))
                spend = fx.convert(fact.spend, fact.currency, reporting_currency, fact.report_date)
                if spend is None:
                    target["unconverted_spend_rows"] += 1
                else:
                    target["spend"] += spend.amount
                target["impressions"] += fact.impressions
                target["reach"] += fact.reach or 0
                target["clicks"] += fact.clicks
                target["leads"] += fact.leads
            for won in part.won_deal_facts(until):
                day = won.closed_at.astimezone(report_tz).date()
                target = cell(day, seeds.region_of(won.country_code))
                target["deals_won"] += 1
                revenue = fx.convert(won.amount, won.currency, reporting_currency, day)
                if revenue is None:
                    target["unconverted_deals"] += 1
                else:
                    target["revenue_won"] += revenue.amount

        regions = seeds.regions
        if any(region not in regions for _, region in cells):
            regions = [*regions, *sorted({r for _, r in cells} - set(regions))]
        last = max([self.end_date, *(day for day, _ in cells)])
        first = min([self.start, *(day for day, _ in cells)])
        rows: list[GroundTruthRow] = []
        for offset in range((last - first).days + 1):
            day = first + timedelta(days=offset)
            rows.extend(cell(day, region) for region in regions)
        return rows

    # ----------------------------------------------------------------- marketing truth

    def meta_ad_facts(self, until: datetime | None = None) -> list[AdFact]:
        """The Meta insights rows as `parts.AdFact`s (``unknown`` country kept as text, which
        places the row in Unassigned), with ``until`` as in `ground_truth`."""
        from reach2revenue.sandbox.world.parts import AdFact

        accounts = {a.account_id: a for a in self.ad_accounts}
        facts: list[AdFact] = []
        for row in self.meta_insights:
            account = accounts[str(row["account_id"])]
            day = insight_day(row)
            if until is not None and day >= until.astimezone(account.tz).date():
                continue
            facts.append(
                AdFact(
                    platform="meta_ads",
                    account_id=account.account_id,
                    currency=str(row["account_currency"]),
                    report_date=day,
                    country_code=str(row["country"]),
                    spend=Decimal(str(row["spend"])),
                    impressions=int(str(row["impressions"])),
                    clicks=int(str(row["clicks"])),
                    leads=insight_leads(row),
                    reach=int(str(row["reach"])),
                )
            )
        return facts

    def hubspot_person_facts(self, until: datetime | None = None) -> list[CrmPersonFact]:
        """HubSpot contacts created before ``until``, archived ones flagged deleted."""
        from reach2revenue.sandbox.world.parts import CrmPersonFact

        facts = []
        for contact in self.contacts:
            version = contact.version_at(until)
            if version is None:
                continue
            created = version.properties.get("createdate")
            facts.append(
                CrmPersonFact(
                    crm="hubspot",
                    person_id=contact.id,
                    created_at=parse_instant(created) if created else contact.created_at,
                    country_text=version.properties.get("country"),
                    is_deleted=_archived_by(contact, until),
                )
            )
        return facts

    def hubspot_deal_facts(self, until: datetime | None = None) -> list[CrmDealFact]:
        """HubSpot deals created before ``until`` in their state then (one contact each)."""
        from reach2revenue.sandbox.world.parts import CrmDealFact

        facts = []
        for deal in self.deals:
            version = deal.version_at(until)
            if version is None:
                continue
            values = version.properties
            stage = values.get("dealstage")
            amount = str(values.get("amount") or "").strip()
            created = values.get("createdate")
            closed = values.get("closedate")
            facts.append(
                CrmDealFact(
                    crm="hubspot",
                    deal_id=deal.id,
                    created_at=parse_instant(created) if created else deal.created_at,
                    closed_at=parse_instant(closed) if closed else None,
                    is_won=stage == STAGE_WON,
                    is_closed=stage in (STAGE_WON, STAGE_LOST),
                    is_deleted=_archived_by(deal, until),
                    amount=Decimal(amount) if amount else None,
                    currency=str(values.get("deal_currency_code") or "").strip().upper(),
                    contact_ids=(deal.contact_id,),
                )
            )
        return facts

    def hubspot_touch_facts(self, until: datetime | None = None) -> list[TouchFact]:
        """One original-source touch per live contact with an analytics source or a UTM
        campaign, at its creation (stg_hubspot__crm_campaign_touches)."""
        from reach2revenue.sandbox.world.parts import TouchFact

        facts = []
        for contact, version in self.contacts_as_of(until):
            values = version.properties
            source = values.get("hs_analytics_source")
            campaign = values.get("utm_campaign")
            if source is None and campaign is None:
                continue
            created = values.get("createdate")
            facts.append(
                TouchFact(
                    crm="hubspot",
                    touch_id=f"{contact.id}:original_source",
                    contact_id=contact.id,
                    touched_at=parse_instant(created) if created else contact.created_at,
                    source_field="hubspot_analytics_source",
                    source=source,
                    utm_medium=values.get("utm_medium"),
                    campaign_name=campaign,
                )
            )
        return facts

    def crm_facts(self, until: datetime | None = None) -> CrmFacts:
        """People, deals and touches of every CRM (HubSpot here, then each part's)."""
        from reach2revenue.sandbox.world.marketing_truth import CrmFacts

        people = self.hubspot_person_facts(until)
        deals = self.hubspot_deal_facts(until)
        touches = self.hubspot_touch_facts(until)
        for part in self.parts.values():
            people.extend(part.crm_person_facts(until))
            deals.extend(part.crm_deal_facts(until))
            touches.extend(part.touch_facts(until))
        return CrmFacts(people, deals, touches)

    def ad_facts(self, until: datetime | None = None) -> list[AdFact]:
        """Every ad platform's report rows (Meta here, then each part's)."""
        facts = self.meta_ad_facts(until)
        for part in self.parts.values():
            facts.extend(part.ad_facts(until))
        return facts

    def marketing_truth(
        self,
        reporting_currency: str = "EUR",
        reporting_timezone: str = "Europe/Berlin",
        until: datetime | None = None,
    ) -> MarketingTruth:
        """The facts resolved for the marketing marts (`marketing_truth.MarketingTruth`):
        regions, channels (from the dbt channel seeds), each won deal's touches."""
        from reach2revenue.sandbox.world.marketing_truth import ChannelMapping, MarketingTruth

        seeds_dir = Path(self.seeds_dir) if self.seeds_dir is not None else _default_seeds_dir()
        return MarketingTruth(
            self.crm_facts(until),
            self.ad_facts(until),
            seeds=self.seeds,
            fx=self.fx,
            mapping=ChannelMapping.load(seeds_dir),
            reporting_currency=reporting_currency,
            reporting_timezone=reporting_timezone,
        )

    def contribution_truth(
        self,
        reporting_currency: str = "EUR",
        reporting_timezone: str = "Europe/Berlin",
        until: datetime | None = None,
    ) -> list[TruthRow]:
        """Expected marketing_contribution_by_region_month (region x month_start): won,
        marketing-sourced, sales-sourced and marketing-influenced deals and revenue, the
        revenue shares, and unconverted deals."""
        return self.marketing_truth(reporting_currency, reporting_timezone, until).contribution()

    def first_touch_truth(
        self,
        reporting_currency: str = "EUR",
        reporting_timezone: str = "Europe/Berlin",
        until: datetime | None = None,
    ) -> list[TruthRow]:
        """Expected attribution_by_channel_month under first_touch (region x month_start x
        channel): credited revenue and deals; ``sales`` for won deals without a touch."""
        truth = self.marketing_truth(reporting_currency, reporting_timezone, until)
        return truth.attribution_by_channel("first_touch")

    def funnel_truth(
        self,
        reporting_currency: str = "EUR",
        reporting_timezone: str = "Europe/Berlin",
        until: datetime | None = None,
    ) -> list[TruthRow]:
        """Expected funnel_by_region_month counts (region x month_start): spend,
        impressions, clicks, leads, opportunities, deals closed and won, revenue won, new
        customers, average sales cycle (days) and deal size, both unrounded."""
        return self.marketing_truth(reporting_currency, reporting_timezone, until).funnel()

    def write_ground_truth(self, path: Path | str, **kwargs: Any) -> Path:
        """Compute ``ground_truth(**kwargs)`` and write it as CSV to ``path``."""
        return write_ground_truth_csv(self.ground_truth(**kwargs), path)

    # ----------------------------------------------------------------- persistence

    def save(self, directory: Path | str) -> Path:
        """Write the world as ``world.json``, JSON Lines and FX CSVs; deterministic bytes.

        The FX files are ``ecb_fx_rates.csv`` (every observation of ``fx_observations`` as
        SDMX-CSV, the ECB API's own format, so loading needs neither the bundled history
        nor the generator) and ``fx_overrides.csv`` (`write_fx_overrides`).
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        header = {
            "format": FORMAT_VERSION,
            "seed": self.seed,
            "start": self.start.isoformat(),
            "days": self.days,
            "scale": self.scale,
            # Written only when set, so the worlds made without it keep their bytes.
            **({"campaign_density": self.campaign_density} if self.campaign_density != 1 else {}),
            "ad_accounts": [
                {
                    "account_id": a.account_id,
                    "name": a.name,
                    "currency": a.currency,
                    "timezone": a.timezone,
                    "regions": list(a.regions),
                    "countries": list(a.countries),
                }
                for a in self.ad_accounts
            ],
            "campaigns": [
                {
                    "campaign_id": c.campaign_id,
                    "campaign_name": c.campaign_name,
                    "account_id": c.account_id,
                    "countries": list(c.countries),
                    "start_date": c.start_date.isoformat(),
                    "end_date": c.end_date.isoformat(),
                }
                for c in self.campaigns
            ],
        }
        (directory / "world.json").write_text(
            json.dumps(header, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        _write_jsonl(directory / "meta_insights.jsonl", self.meta_insights)
        _write_jsonl(directory / "contacts.jsonl", (_contact_to_json(c) for c in self.contacts))
        _write_jsonl(directory / "deals.jsonl", (_deal_to_json(d) for d in self.deals))
        _write_rate_observations(directory / ECB_RATES_FILE, self.fx_observations)
        self.write_fx_overrides(directory / FX_OVERRIDES_FILE)
        for name, part in sorted(self.parts.items()):
            part_dir = directory / "parts" / name
            part_dir.mkdir(parents=True, exist_ok=True)
            part.save(part_dir)
        return directory

    @classmethod
    def load(cls, directory: Path | str, *, seeds_dir: Path | None = None) -> World:
        """Read a world written by ``save``."""
        from reach2revenue.sandbox.world.registry import PART_TYPES

        directory = Path(directory)
        header = json.loads((directory / "world.json").read_text(encoding="utf-8"))
        if header.get("format") != FORMAT_VERSION:
            raise ValueError(f"unsupported world format {header.get('format')!r}")
        parts = {
            part_type.source: part_type.load(directory / "parts" / part_type.source)
            for part_type in PART_TYPES
            if (directory / "parts" / part_type.source).is_dir()
        }
        return cls(
            seed=int(header["seed"]),
            start=date.fromisoformat(header["start"]),
            days=int(header["days"]),
            scale=float(header["scale"]),
            campaign_density=float(header.get("campaign_density", 1.0)),
            ad_accounts=[AdAccount(**a) for a in header["ad_accounts"]],
            campaigns=[
                Campaign(
                    campaign_id=c["campaign_id"],
                    campaign_name=c["campaign_name"],
                    account_id=c["account_id"],
                    countries=list(c["countries"]),
                    start_date=date.fromisoformat(c["start_date"]),
                    end_date=date.fromisoformat(c["end_date"]),
                )
                for c in header["campaigns"]
            ],
            meta_insights=list(_read_jsonl(directory / "meta_insights.jsonl")),
            contacts=[_contact_from_json(o) for o in _read_jsonl(directory / "contacts.jsonl")],
            deals=[_deal_from_json(o) for o in _read_jsonl(directory / "deals.jsonl")],
            fx_observations=tuple(
                parse_sdmx_csv((directory / ECB_RATES_FILE).read_text(encoding="utf-8"))
            ),
            fx_overrides=read_fx_overrides(directory / FX_OVERRIDES_FILE),
            parts=parts,
            seeds_dir=seeds_dir,
        )


_Crm = TypeVar("_Crm", bound=CrmObject)


def _archive(objects: Mapping[str, _Crm], object_id: str, at: datetime) -> _Crm:
    """Archive ``objects[object_id]`` at ``at`` (aware, after its last version)."""
    obj = objects[object_id]
    if at.tzinfo is None:
        raise ValueError("the archive instant must be timezone-aware")
    at = _to_ms(at.astimezone(UTC))
    if obj.archived_at is not None:
        raise ValueError(f"{object_id} is already archived (at {format_instant(obj.archived_at)})")
    if obj.versions and at <= obj.versions[-1].valid_from:
        # HubSpot archives the current state; an earlier instant would rewrite history.
        raise ValueError(
            f"{object_id}: archive at {format_instant(at)} is not after its last change "
            f"({format_instant(obj.versions[-1].valid_from)})"
        )
    obj.archived_at = at
    return obj


def _archived_by(obj: CrmObject, instant: datetime | None) -> bool:
    return obj.archived_at is not None and (instant is None or obj.archived_at <= instant)


def _as_of(objects: Iterable[CrmObject], instant: datetime | None) -> Iterator[tuple[Any, Version]]:
    for obj in objects:
        if obj.archived_at is not None and (instant is None or obj.archived_at <= instant):
            continue
        version = obj.version_at(instant)
        if version is not None:
            yield obj, version


# --------------------------------------------------------------------------- FX files


def _write_rate_observations(path: Path, observations: Iterable[RateObservation]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(SDMX_COLUMNS)
        for observation in observations:
            writer.writerow([observation.fields[column] for column in SDMX_COLUMNS])


def read_fx_overrides(path: Path | str) -> tuple[FxOverride, ...]:
    """Read a file written by `World.write_fx_overrides` (the user override format)."""
    with Path(path).open(encoding="utf-8", newline="") as handle:
        return tuple(
            (
                row["currency_code"],
                date.fromisoformat(row["rate_date"]),
                Decimal(row["units_per_eur"]),
            )
            for row in csv.DictReader(handle)
        )


# --------------------------------------------------------------------------- JSON Lines


def _write_jsonl(path: Path, objects: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for obj in objects:
            handle.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
            handle.write("\n")


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _versions_to_json(versions: list[Version]) -> list[dict[str, Any]]:
    return [
        {"valid_from": format_instant(v.valid_from), "properties": v.properties} for v in versions
    ]


def _versions_from_json(items: list[dict[str, Any]]) -> list[Version]:
    return [Version(parse_instant(v["valid_from"]), dict(v["properties"])) for v in items]


def _optional_instant(value: datetime | None) -> str | None:
    return format_instant(value) if value is not None else None


def _contact_to_json(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "country_code": contact.country_code,
        "source": contact.source,
        "account_id": contact.account_id,
        "campaign_id": contact.campaign_id,
        "archived_at": _optional_instant(contact.archived_at),
        "versions": _versions_to_json(contact.versions),
    }


def _contact_from_json(obj: dict[str, Any]) -> Contact:
    return Contact(
        id=obj["id"],
        country_code=obj["country_code"],
        source=obj["source"],
        account_id=obj.get("account_id"),
        campaign_id=obj.get("campaign_id"),
        archived_at=parse_instant(obj["archived_at"]) if obj.get("archived_at") else None,
        versions=_versions_from_json(obj["versions"]),
    )


def _deal_to_json(deal: Deal) -> dict[str, Any]:
    return {
        "id": deal.id,
        "contact_id": deal.contact_id,
        "archived_at": _optional_instant(deal.archived_at),
        "versions": _versions_to_json(deal.versions),
    }


def _deal_from_json(obj: dict[str, Any]) -> Deal:
    return Deal(
        id=obj["id"],
        contact_id=obj["contact_id"],
        archived_at=parse_instant(obj["archived_at"]) if obj.get("archived_at") else None,
        versions=_versions_from_json(obj["versions"]),
    )
