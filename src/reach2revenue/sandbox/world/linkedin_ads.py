"""LinkedIn Ads' slice of the world: sponsored accounts, campaigns and daily analytics.

What the LinkedIn stand-in serves and what the mart must show for it:

- sponsored ad accounts, each billing in one currency (a JPY account among them, whose
  amounts are whole yen) and serving the countries of its regions;
- campaigns (always-on ones that partition an account's countries, flighted ones on top;
  ended flights are ``COMPLETED``, some ``REMOVED``, which LinkedIn keeps reporting);
- one analytics row per campaign, member country and UTC day: impressions, clicks,
  ``costInLocalCurrency`` (text, in the account currency), one-click leads and website
  conversions. A campaign also reaches a few members outside its target countries
  (member country is the member's profile country, not the targeting).

Countries come only from the seed ``linkedin_geo_countries.csv`` (geo id -> ISO-2), so the
demo never produces a geo id the pipeline cannot place; a test that sets an unknown
``geo_id`` on a row makes it an Unassigned fact, as the mart must count it. Currencies
are only ones ``world.fx`` converts on every day of the world (else USD, else EUR).

The part draws from its own ``random.Random(f"{seed}-linkedin_ads")`` stream, so it never
reshuffles the core world. Objects are plain mutable dataclasses: a test may change a
value (a restated cost, a removed campaign) before handing the part to a server; the
server serves what the part holds and `ad_facts` reads the same objects.
"""

from __future__ import annotations

import csv
import json
import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reach2revenue.reference.countries import (
    APAC,
    DACH,
    EASTERN_EUROPE,
    LATIN_AMERICA,
    MIDDLE_EAST_AND_AFRICA,
    NORDICS,
    NORTH_AMERICA,
    UK_AND_IRELAND,
    WESTERN_EUROPE,
)
from reach2revenue.sandbox.world.model import (
    CENT,
    format_instant,
    is_whole_unit_currency,
    parse_instant,
    round_half_up,
)
from reach2revenue.sandbox.world.parts import (
    AdFact,
    CrmDealFact,
    CrmPersonFact,
    TouchFact,
    WonDealFact,
)
from reach2revenue.sandbox.world.sampling import flighted_campaigns, poisson
from reach2revenue.settings import Settings

if TYPE_CHECKING:
    from reach2revenue.sandbox.world.model import World

SOURCE = "linkedin_ads"
GEO_SEED_FILE = "linkedin_geo_countries.csv"
ACCOUNTS_FILE = "accounts.jsonl"
CAMPAIGNS_FILE = "campaigns.jsonl"
ANALYTICS_FILE = "ad_analytics.jsonl"
#: The company page every demo account advertises for (``reference`` of an account).
ORGANIZATION_URN = "urn:li:organization:76543210"

# --------------------------------------------------------------------------- objects


@dataclass
class SponsoredAccount:
    """A LinkedIn sponsored ad account: its billing currency and the countries it serves."""

    account_id: str
    name: str
    currency: str
    countries: list[str]
    status: str = "ACTIVE"
    type: str = "BUSINESS"
    reference: str = ORGANIZATION_URN


@dataclass
class LinkedInCampaign:
    """A campaign; ``end_date`` None runs on (no ``runSchedule.end``)."""

    campaign_id: str
    name: str
    account_id: str
    campaign_group_id: str
    countries: list[str]
    start_date: date
    end_date: date | None
    status: str
    objective_type: str
    cost_type: str
    campaign_type: str
    daily_budget: str
    created_at: datetime
    last_modified_at: datetime


@dataclass
class AnalyticsRow:
    """One adAnalytics element: a campaign's member country on one UTC day."""

    account_id: str
    campaign_id: str
    day: date
    geo_id: str
    impressions: int
    clicks: int
    cost_in_local_currency: str
    one_click_leads: int
    external_website_conversions: int


def load_geo_countries(seeds_dir: Path | None = None) -> dict[str, str]:
    """LinkedIn geo id -> ISO-2 from the dbt seed (the same table the staging model joins)."""
    directory = Path(seeds_dir) if seeds_dir is not None else _default_seeds_dir()
    with (directory / GEO_SEED_FILE).open(encoding="utf-8", newline="") as handle:
        return {row["geo_id"]: row["country_code"] for row in csv.DictReader(handle)}


def _default_seeds_dir() -> Path:
    return Settings.from_env().dbt_project_dir / "seeds"


# --------------------------------------------------------------------------- demo content


@dataclass(frozen=True)
class _AccountSpec:
    account_id: str
    name: str
    market: str
    """Short market name used in campaign names."""
    currency: str
    regions: tuple[str, ...]
    claims: tuple[str, ...] = ()
    """ISO-2 codes the account takes before region matching (its own market)."""
    extra_campaigns: int = 1
    """Flighted campaigns on top of the always-on ones, at scale 1.0."""


# Japan first: it claims JP before the APAC account takes the rest of its region.
_ACCOUNT_SPECS = (
    _AccountSpec("508410006", "Reach2Revenue LinkedIn Japan", "JP", "JPY", (), ("JP",), 0),
    _AccountSpec(
        "508410001",
        "Reach2Revenue LinkedIn EMEA",
        "EMEA",
        "EUR",
        (DACH, WESTERN_EUROPE, NORDICS, EASTERN_EUROPE),
        extra_campaigns=2,
    ),
    _AccountSpec(
        "508410002", "Reach2Revenue LinkedIn UK&I", "UKI", "GBP", (UK_AND_IRELAND,), (), 0
    ),
    _AccountSpec(
        "508410003",
        "Reach2Revenue LinkedIn Americas",
        "AMER",
        "USD",
        (NORTH_AMERICA, LATIN_AMERICA),
    ),
    _AccountSpec(
        "508410004", "Reach2Revenue LinkedIn MEA", "MEA", "USD", (MIDDLE_EAST_AND_AFRICA,)
    ),
    _AccountSpec("508410005", "Reach2Revenue LinkedIn APAC", "APAC", "AUD", (APAC,)),
)
#: (objectiveType, name part, cost type, one-click leads per click, conversions per click)
_OBJECTIVES = (
    ("LEAD_GENERATION", "LeadGen", "CPC", 0.09, 0.005),
    ("WEBSITE_VISIT", "Traffic", "CPC", 0.004, 0.02),
    ("WEBSITE_CONVERSION", "Conversions", "CPC", 0.006, 0.05),
    ("BRAND_AWARENESS", "Awareness", "CPM", 0.002, 0.004),
)
_FORMATS = ("SponsoredContent", "Video", "Carousel", "DocumentAd", "ConversationAd")
#: Chance that a campaign-day also reaches members of a country it does not target.
_SPILLOVER_CHANCE = 0.05
#: Chance that an ended flight was deleted afterwards (status REMOVED, still reported); the
#: first ended flight always is.
_REMOVED_CHANCE = 0.35
_FALLBACK_CURRENCIES = ("USD", "EUR")


# --------------------------------------------------------------------------- the part


@dataclass
class LinkedInAdsPart:
    """LinkedIn Ads' part of a `World` (see the module docstring and `parts.WorldPart`)."""

    source = SOURCE

    accounts: list[SponsoredAccount]
    campaigns: list[LinkedInCampaign]
    rows: list[AnalyticsRow]
    seeds_dir: Path | None = field(default=None, compare=False, repr=False)

    # ----------------------------------------------------------------- generation

    @classmethod
    def generate(cls, world: World, seed: int) -> LinkedInAdsPart:
        """Accounts, campaigns and daily rows over the world's days, from ``seed``.

        Scale 1.0 over 90 days gives about 4 thousand rows in six accounts, like the
        Meta part; below 1.0 budgets shrink, above it flighted campaigns multiply.
        """
        return _Generator(world, seed).run()

    # ----------------------------------------------------------------- look-ups

    @cached_property
    def geo_countries(self) -> dict[str, str]:
        """Geo id -> ISO-2 of the seed this part is read against."""
        return load_geo_countries(self.seeds_dir)

    def account(self, account_id: str) -> SponsoredAccount | None:
        """The account with that id, or None."""
        return next((a for a in self.accounts if a.account_id == account_id), None)

    def rows_by_account_day(self) -> dict[str, dict[date, list[AnalyticsRow]]]:
        """Rows by account id and day, each day sorted by campaign id and geo id.

        The lists hold the part's own row objects, so an edited value shows through.
        """
        grouped: dict[str, dict[date, list[AnalyticsRow]]] = {
            a.account_id: {} for a in self.accounts
        }
        for row in self.rows:
            grouped.setdefault(row.account_id, {}).setdefault(row.day, []).append(row)
        for days in grouped.values():
            for rows in days.values():
                rows.sort(key=lambda r: (int(r.campaign_id), int(r.geo_id)))
        return grouped

    # ----------------------------------------------------------------- truth

    def ad_facts(self, until: datetime | None = None) -> Iterator[AdFact]:
        """One fact per row; with ``until``, only UTC days that ended before it.

        Reach is None: approximateMemberReach cannot be asked for with the member-country
        pivot. A row whose geo id the seed does not know belongs to no country.
        """
        cutoff = until.astimezone(UTC).date() if until is not None else None
        currencies = {a.account_id: a.currency for a in self.accounts}
        for row in self.rows:
            if cutoff is not None and row.day >= cutoff:
                continue
            yield AdFact(
                platform=SOURCE,
                account_id=row.account_id,
                currency=currencies[row.account_id],
                report_date=row.day,
                country_code=self.geo_countries.get(row.geo_id),
                spend=Decimal(row.cost_in_local_currency),
                impressions=row.impressions,
                clicks=row.clicks,
                leads=row.one_click_leads,
                reach=None,
            )

    def won_deal_facts(self, until: datetime | None = None) -> Iterable[WonDealFact]:
        """None: an ad platform has no deals."""
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
        """The accounts' currencies."""
        return {account.currency for account in self.accounts}

    def countries(self) -> set[str]:
        """ISO-2 codes of the member countries the rows report."""
        return {self.geo_countries[r.geo_id] for r in self.rows if r.geo_id in self.geo_countries}

    # ----------------------------------------------------------------- persistence

    def save(self, directory: Path) -> None:
        """Write ``accounts.jsonl``, ``campaigns.jsonl`` and ``ad_analytics.jsonl``."""
        directory = Path(directory)
        _write_jsonl(directory / ACCOUNTS_FILE, (asdict(a) for a in self.accounts))
        _write_jsonl(directory / CAMPAIGNS_FILE, (_campaign_to_json(c) for c in self.campaigns))
        _write_jsonl(directory / ANALYTICS_FILE, (_row_to_json(r) for r in self.rows))

    @classmethod
    def load(cls, directory: Path) -> LinkedInAdsPart:
        """Read a part written by `save`."""
        directory = Path(directory)
        return cls(
            accounts=[SponsoredAccount(**o) for o in _read_jsonl(directory / ACCOUNTS_FILE)],
            campaigns=[_campaign_from_json(o) for o in _read_jsonl(directory / CAMPAIGNS_FILE)],
            rows=[_row_from_json(o) for o in _read_jsonl(directory / ANALYTICS_FILE)],
        )


# --------------------------------------------------------------------------- generator


class _Generator:
    def __init__(self, world: World, seed: int) -> None:
        self.world = world
        self.rng = random.Random(f"{seed}-{SOURCE}")
        self.dates = world.dates
        self.scale = world.scale
        self.campaign_density = world.campaign_density
        self.geo_of = {code: geo for geo, code in load_geo_countries(world.seeds_dir).items()}
        self.usable = sorted(code for code in self.geo_of if code in world.seeds.countries)
        # Member-country weights and ad prices (EUR per thousand impressions).
        self.weight = {c: self.rng.lognormvariate(0, 0.5) for c in self.usable}
        self.cpm_eur = {c: self.rng.uniform(18.0, 65.0) for c in self.usable}

    def run(self) -> LinkedInAdsPart:
        accounts = self._accounts()
        campaigns = self._campaigns(accounts)
        rows = self._rows(accounts, campaigns)
        return LinkedInAdsPart(accounts, campaigns, rows, seeds_dir=self.world.seeds_dir)

    def _convertible(self, currency: str) -> bool:
        return all(self.world.fx.rate_on(currency, day) is not None for day in self.dates)

    def _units_per_eur(self, currency: str) -> Decimal:
        rate = self.world.fx.rate_on(currency, self.dates[0])
        return rate.units_per_eur if rate is not None else Decimal(1)

    def _accounts(self) -> list[SponsoredAccount]:
        seeds = self.world.seeds
        taken: set[str] = set()
        accounts = []
        for spec in _ACCOUNT_SPECS:
            countries = [
                code
                for code in self.usable
                if code not in taken
                and (code in spec.claims or seeds.region_of(code) in spec.regions)
            ]
            if not countries:
                continue
            taken.update(countries)
            currency = next(
                c for c in (spec.currency, *_FALLBACK_CURRENCIES) if self._convertible(c)
            )
            accounts.append(SponsoredAccount(spec.account_id, spec.name, currency, countries))
        return sorted(accounts, key=lambda a: a.account_id)

    def _campaigns(self, accounts: list[SponsoredAccount]) -> list[LinkedInCampaign]:
        rng = self.rng
        specs = {s.account_id: s for s in _ACCOUNT_SPECS}
        first, last = self.dates[0], self.dates[-1]
        campaigns: list[LinkedInCampaign] = []
        names: set[str] = set()
        serial = 0
        for group_index, account in enumerate(accounts, start=1):
            spec = specs[account.account_id]
            countries = account.countries
            # Always-on campaigns partition the countries (groups of two to four), so every
            # country of every account has delivery every day; never fewer than two.
            shuffled = countries[:]
            rng.shuffle(shuffled)
            groups: list[list[str]] = []
            while len(shuffled) > 4:
                size = rng.randint(2, min(4, len(shuffled) - 2))
                groups.append(sorted(shuffled[:size]))
                shuffled = shuffled[size:]
            groups.append(sorted(shuffled))
            if len(groups) == 1:
                groups.append(sorted(rng.sample(countries, min(2, len(countries)))))
            flights: list[tuple[list[str], date, date | None]] = [(g, first, None) for g in groups]
            extra, budget_divisor = flighted_campaigns(
                spec.extra_campaigns, self.scale, self.campaign_density, always_on=len(flights)
            )
            for _ in range(extra):
                size = rng.randint(min(2, len(countries)), min(4, len(countries)))
                length = rng.randint(14, max(14, min(45, len(self.dates))))
                offset = rng.randint(0, max(0, len(self.dates) - length))
                start = self.dates[offset]
                end = self.dates[min(len(self.dates) - 1, offset + length - 1)]
                flights.append((sorted(rng.sample(countries, size)), start, end))
            group_id = str(610_000_000 + group_index)
            for chosen, start, end in flights:
                serial += 1
                objective, part, cost_type, _, _ = rng.choice(_OBJECTIVES)
                fmt = rng.choice(_FORMATS)
                market = "-".join(chosen) if len(chosen) <= 2 else spec.market
                base = f"LI_{market}_{part}_{fmt}_Q{(start.month - 1) // 3 + 1}"
                name, n = base, 2
                while name in names:
                    name, n = f"{base}_v{n}", n + 1
                names.add(name)
                created = datetime.combine(start, time(9), tzinfo=UTC) - timedelta(
                    days=rng.randint(1, 10), minutes=rng.randint(0, 480)
                )
                status, modified = "ACTIVE", created + timedelta(hours=rng.randint(1, 48))
                if end is not None and end < last:
                    ended = datetime.combine(end + timedelta(days=1), time(0), tzinfo=UTC)
                    # The first ended flight is always deleted, so every world has one.
                    removed = not any(c.status == "REMOVED" for c in campaigns)
                    removed = rng.random() < _REMOVED_CHANCE or removed
                    status = "REMOVED" if removed else "COMPLETED"
                    modified = ended + timedelta(hours=rng.randint(1, 72))
                budget = Decimal(str(rng.uniform(60, 240) * min(1.0, self.scale) / budget_divisor))
                campaigns.append(
                    LinkedInCampaign(
                        campaign_id=str(700_000_000 + serial * 1000 + rng.randrange(1000)),
                        name=name,
                        account_id=account.account_id,
                        campaign_group_id=group_id,
                        countries=chosen,
                        start_date=start,
                        end_date=end,
                        status=status,
                        objective_type=objective,
                        cost_type=cost_type,
                        campaign_type="SPONSORED_UPDATES",
                        daily_budget=self._money(
                            budget * self._units_per_eur(account.currency), account.currency
                        ),
                        created_at=_to_ms(created),
                        last_modified_at=_to_ms(modified),
                    )
                )
        return campaigns

    @staticmethod
    def _money(amount: Decimal, currency: str) -> str:
        if is_whole_unit_currency(currency):
            return str(max(1, int(round_half_up(amount, Decimal(1)))))
        return f"{max(CENT, round_half_up(amount)):.2f}"

    def _rows(
        self, accounts: list[SponsoredAccount], campaigns: list[LinkedInCampaign]
    ) -> list[AnalyticsRow]:
        rng = self.rng
        by_account = {a.account_id: a for a in accounts}
        objectives = {o[0]: o for o in _OBJECTIVES}
        rows: list[AnalyticsRow] = []
        # Countries outside each campaign's targeting (spillover), listed once per campaign.
        others_of: dict[str, list[str]] = {}
        for index, day in enumerate(self.dates):
            # B2B audiences scroll LinkedIn on weekdays.
            weekday = 0.55 if day.weekday() >= 5 else 1.0
            for campaign in campaigns:
                if day < campaign.start_date or (
                    campaign.end_date is not None and day > campaign.end_date
                ):
                    continue
                account = by_account[campaign.account_id]
                units = float(self._units_per_eur(account.currency))
                _, _, _, leads_per_click, conversions_per_click = objectives[
                    campaign.objective_type
                ]
                budget = float(Decimal(campaign.daily_budget)) * weekday
                budget *= 1 + 0.15 * math.sin(2 * math.pi * index / 30 + int(campaign.campaign_id))
                weights = [self.weight[c] for c in campaign.countries]
                deliveries = [
                    (c, budget * w / sum(weights))
                    for c, w in zip(campaign.countries, weights, strict=True)
                ]
                if rng.random() < _SPILLOVER_CHANCE:
                    if campaign.campaign_id not in others_of:
                        others_of[campaign.campaign_id] = [
                            c for c in self.usable if c not in campaign.countries
                        ]
                    others = others_of[campaign.campaign_id]
                    if others:
                        deliveries.append((rng.choice(others), budget * rng.uniform(0.01, 0.05)))
                for country, share in deliveries:
                    if campaign.end_date is not None and rng.random() < 0.03:
                        continue  # a flight that did not deliver somewhere that day
                    spend = Decimal(
                        self._money(Decimal(str(share * rng.uniform(0.8, 1.2))), account.currency)
                    )
                    cpm = self.cpm_eur[country] * units * rng.uniform(0.85, 1.15)
                    impressions = max(20, int(float(spend) / cpm * 1000))
                    clicks = min(impressions, int(impressions * rng.uniform(0.004, 0.009)))
                    rows.append(
                        AnalyticsRow(
                            account_id=account.account_id,
                            campaign_id=campaign.campaign_id,
                            day=day,
                            geo_id=self.geo_of[country],
                            impressions=impressions,
                            clicks=clicks,
                            cost_in_local_currency=str(spend),
                            one_click_leads=poisson(rng, clicks * leads_per_click),
                            external_website_conversions=poisson(
                                rng, clicks * conversions_per_click
                            ),
                        )
                    )
        return rows


def _to_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


# --------------------------------------------------------------------------- JSON Lines


def _campaign_to_json(campaign: LinkedInCampaign) -> dict[str, Any]:
    data = asdict(campaign)
    data["start_date"] = campaign.start_date.isoformat()
    data["end_date"] = campaign.end_date.isoformat() if campaign.end_date else None
    data["created_at"] = format_instant(campaign.created_at)
    data["last_modified_at"] = format_instant(campaign.last_modified_at)
    return data


def _campaign_from_json(data: dict[str, Any]) -> LinkedInCampaign:
    return LinkedInCampaign(
        **{
            **data,
            "start_date": date.fromisoformat(data["start_date"]),
            "end_date": date.fromisoformat(data["end_date"]) if data.get("end_date") else None,
            "created_at": parse_instant(data["created_at"]),
            "last_modified_at": parse_instant(data["last_modified_at"]),
        }
    )


def _row_to_json(row: AnalyticsRow) -> dict[str, Any]:
    return {**asdict(row), "day": row.day.isoformat()}


def _row_from_json(data: dict[str, Any]) -> AnalyticsRow:
    return AnalyticsRow(**{**data, "day": date.fromisoformat(data["day"])})


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
