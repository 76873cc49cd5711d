"""The seeded generator behind ``World.generate``.

Each part (campaigns, delivery, contacts, deals) draws from its own random stream, so a
change in one part does not reshuffle the others.
"""

from __future__ import annotations

import copy
import math
import random
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from reach2revenue.world.model import (
    COUNTRY_CURRENCY,
    OPEN_STAGES,
    PIPELINE,
    STAGE_LOST,
    STAGE_WON,
    WHOLE_UNIT_CURRENCIES,
    AdAccount,
    Campaign,
    Contact,
    Deal,
    MetaInsight,
    Seeds,
    Version,
    World,
    _to_ms,
    format_instant,
    insight_day,
    insight_leads,
    local_day_bounds,
    round_half_up,
)

# Relative market size (share of budget, sales leads) and cost per mille in EUR.
_COUNTRY_WEIGHT = {
    "AT": 1.0,
    "CH": 1.2,
    "DE": 3.0,
    "BE": 0.8,
    "ES": 1.5,
    "FR": 2.2,
    "IT": 1.6,
    "NL": 1.2,
    "GB": 3.0,
    "IE": 0.8,
    "CA": 1.2,
    "US": 3.5,
    "AU": 2.0,
    "JP": 1.2,
    "SG": 0.8,
}
_COUNTRY_CPM_EUR = {
    "AT": 7.0,
    "CH": 9.0,
    "DE": 8.0,
    "BE": 6.5,
    "ES": 5.0,
    "FR": 6.5,
    "IT": 5.5,
    "NL": 7.0,
    "GB": 8.5,
    "IE": 7.5,
    "CA": 8.0,
    "US": 10.0,
    "AU": 9.0,
    "JP": 7.0,
    "SG": 8.0,
}


@dataclass(frozen=True)
class _AccountSpec:
    account_id: str
    name: str
    currency: str
    timezone: str
    regions: tuple[str, ...]
    base_campaigns: int


_ACCOUNT_SPECS = (
    _AccountSpec("1001", "Reach2Revenue EU", "EUR", "Europe/Berlin", ("DACH", "Western Europe"), 9),
    _AccountSpec("1002", "Reach2Revenue UK", "GBP", "Europe/London", ("UK & Ireland",), 4),
    _AccountSpec("1003", "Reach2Revenue NA", "USD", "America/New_York", ("North America",), 5),
    _AccountSpec("1004", "Reach2Revenue APAC", "AUD", "Australia/Sydney", ("APAC",), 4),
)
_REGION_SHORT = {
    "DACH": "DACH",
    "Western Europe": "WEU",
    "UK & Ireland": "UKI",
    "North America": "NA",
    "APAC": "APAC",
}
# Sales-found contacts per region and day at scale 1.0 (never fewer than one a day).
_SALES_RATE = {
    "DACH": 2.0,
    "Western Europe": 2.0,
    "UK & Ireland": 1.5,
    "North America": 2.0,
    "APAC": 1.5,
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

_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "de": (
        ("Anna", "Lukas", "Lena", "Jonas", "Sophie", "Felix", "Marie", "Paul", "Laura"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Huber"),
    ),
    "fr": (
        ("Camille", "Louis", "Léa", "Hugo", "Chloé", "Lucas", "Manon", "Jules", "Inès"),
        ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Petit", "Durand", "Lefèvre"),
    ),
    "nl": (
        ("Daan", "Emma", "Sem", "Julia", "Tess", "Bram", "Sanne", "Thijs", "Fleur"),
        ("de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Peeters"),
    ),
    "es": (
        ("Lucía", "Hugo", "Martina", "Pablo", "Sofía", "Alejandro", "Carmen", "Javier"),
        ("García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez"),
    ),
    "it": (
        ("Giulia", "Francesco", "Sofia", "Alessandro", "Aurora", "Lorenzo", "Chiara"),
        ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci"),
    ),
    "en": (
        ("Oliver", "Amelia", "Jack", "Isla", "Harry", "Olivia", "James", "Emily", "Noah"),
        ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Murphy", "O'Brien"),
    ),
    "ja": (
        ("Haruto", "Yui", "Sota", "Hina", "Ren", "Aoi", "Yuto", "Sakura"),
        ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto"),
    ),
    "sg": (
        ("Wei Ling", "Jun Jie", "Hui Min", "Marcus", "Priya", "Arjun", "Siti", "Nurul"),
        ("Tan", "Lim", "Lee", "Ng", "Wong", "Goh", "Chua", "Kumar"),
    ),
}
_NAME_GROUPS = {
    "AT": ("de",),
    "CH": ("de", "de", "fr", "it"),
    "DE": ("de",),
    "BE": ("fr", "nl"),
    "ES": ("es",),
    "FR": ("fr",),
    "IT": ("it",),
    "NL": ("nl",),
    "GB": ("en",),
    "IE": ("en",),
    "CA": ("en", "en", "fr"),
    "US": ("en",),
    "AU": ("en",),
    "JP": ("ja",),
    "SG": ("sg",),
}
_COMPANY_WORDS = (
    "northwind",
    "bluepeak",
    "fjordline",
    "alpenlogik",
    "brightpath",
    "silverleaf",
    "ironbridge",
    "greenfield",
    "solara",
    "nexora",
    "kestrel",
    "meridian",
    "oakridge",
    "lumina",
    "vantage",
    "cobalt",
)
_COMPANY_SUFFIX = {
    "AT": "GmbH",
    "CH": "AG",
    "DE": "GmbH",
    "BE": "BV",
    "ES": "S.L.",
    "FR": "SAS",
    "IT": "S.r.l.",
    "NL": "B.V.",
    "GB": "Ltd",
    "IE": "Ltd",
    "CA": "Inc.",
    "US": "Inc.",
    "AU": "Pty Ltd",
    "JP": "K.K.",
    "SG": "Pte. Ltd.",
}
_PRODUCTS = ("Starter", "Growth", "Enterprise", "Analytics add-on", "Annual renewal")


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    # Knuth's method: exact and cheap for the small means of daily leads.
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


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


class Generator:
    """Builds one world; each part draws from its own random stream so parts stay stable."""

    def __init__(self, seed: int, start: date, days: int, scale: float, seeds: Seeds) -> None:
        self.seed = seed
        self.start = start
        self.days = days
        self.scale = scale
        self.seeds = seeds
        self.dates = [start + timedelta(days=i) for i in range(days)]

    def _rng(self, part: str) -> random.Random:
        return random.Random(f"reach2revenue:{self.seed}:{part}")

    def run(self) -> World:
        accounts = self._accounts()
        self.world_end = max(local_day_bounds(self.dates[-1], a.tz)[1] for a in accounts)
        campaigns = self._campaigns(accounts)
        insights = self._insights(accounts, campaigns)
        contacts = self._contacts(accounts, campaigns, insights)
        deals = self._deals(contacts)
        return World(
            seed=self.seed,
            start=self.start,
            days=self.days,
            scale=self.scale,
            ad_accounts=accounts,
            campaigns=campaigns,
            meta_insights=insights,
            contacts=contacts,
            deals=deals,
        )

    # ----------------------------------------------------------------- ads

    def _accounts(self) -> list[AdAccount]:
        known = set(self.seeds.regions)
        return [
            AdAccount(s.account_id, s.name, s.currency, s.timezone, list(s.regions))
            for s in _ACCOUNT_SPECS
            if set(s.regions) <= known
        ]

    def _campaigns(self, accounts: list[AdAccount]) -> list[Campaign]:
        rng = self._rng("campaigns")
        specs = {s.account_id: s for s in _ACCOUNT_SPECS}
        campaigns: list[Campaign] = []
        names: set[str] = set()
        serial = 0
        for account in accounts:
            countries = self.seeds.countries_in(account.regions)
            # Always-on campaigns partition the account's countries, so every account and
            # every region has delivery on every day whatever the scale.
            shuffled = countries[:]
            rng.shuffle(shuffled)
            groups: list[list[str]] = []
            while len(shuffled) > 4:
                size = rng.randint(2, min(4, len(shuffled) - 2))
                groups.append(sorted(shuffled[:size]))
                shuffled = shuffled[size:]
            groups.append(sorted(shuffled))
            flights: list[tuple[list[str], date, date]] = [
                (g, self.dates[0], self.dates[-1]) for g in groups
            ]
            wanted = max(len(groups), round(specs[account.account_id].base_campaigns * self.scale))
            for _ in range(wanted - len(groups)):
                size = rng.randint(2, min(4, len(countries)))
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
            eur = self.seeds.approx_eur_rate(account.currency, self.start)
            profiles.append(
                (
                    campaign,
                    account,
                    rng.uniform(120, 420) / eur,
                    next((f for t, f in themes.items() if f"_{t}_" in campaign.campaign_name), 1.0),
                    rng.uniform(0, 2 * math.pi),
                    campaign.start_date == self.dates[0] and campaign.end_date == self.dates[-1],
                )
            )
        for index, day in enumerate(self.dates):
            weekday = 0.75 if day.weekday() >= 5 else 1.0
            for campaign, account, budget, lead_factor, phase, always_on in profiles:
                if not campaign.start_date <= day <= campaign.end_date:
                    continue
                eur = self.seeds.approx_eur_rate(account.currency, self.start)
                weights = [_COUNTRY_WEIGHT.get(c, 1.0) for c in campaign.countries]
                season = 1 + 0.2 * math.sin(2 * math.pi * index / 30 + phase)
                for country, weight in zip(campaign.countries, weights, strict=True):
                    # Flighted campaigns occasionally do not deliver somewhere (zero rows
                    # are absent from Meta reports); always-on ones always deliver.
                    if not always_on and rng.random() < 0.03:
                        continue
                    amount = budget * weight / sum(weights) * weekday * season
                    amount *= rng.uniform(0.75, 1.25)
                    spend = round_half_up(Decimal(str(max(amount, 1.0))))
                    cpm = _COUNTRY_CPM_EUR.get(country, 7.0) / eur * rng.uniform(0.85, 1.15)
                    impressions = max(50, int(float(spend) / cpm * 1000))
                    reach = max(1, min(impressions, int(impressions * rng.uniform(0.55, 0.9))))
                    clicks = min(impressions, int(impressions * rng.uniform(0.006, 0.02)))
                    link_clicks = int(clicks * rng.uniform(0.8, 0.95))
                    leads = _poisson(rng, clicks * 0.0065 * lead_factor)
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
                        "spend": f"{spend:.2f}",
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
            if leads <= 0:
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

        region_tz = {region: a.tz for a in accounts for region in a.regions}
        for region in self.seeds.regions:
            countries = self.seeds.countries_in([region])
            weights = [_COUNTRY_WEIGHT.get(c, 1.0) for c in countries]
            tz = region_tz.get(region, ZoneInfo("UTC"))
            rate = _SALES_RATE.get(region, 1.5) * self.scale
            carried = 0.0
            for day in self.dates:
                carried += rate
                count = max(1, int(carried))
                carried = max(0.0, carried - count)
                office_open = datetime.combine(day, time(8), tzinfo=tz)
                for _ in range(count):
                    local = office_open + timedelta(milliseconds=rng.randrange(10 * 3600 * 1000))
                    country = rng.choices(countries, weights)[0]
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
        aliases = self.seeds.aliases.get(code) or (code.lower(),)
        name = self.seeds.countries[code][0].lower()
        # Most people type the country name; the rest use codes and local names.
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
        group = rng.choice(_NAME_GROUPS.get(item.country, ("en",)))
        firsts, lasts = _NAMES[group]
        first, last = rng.choice(firsts), rng.choice(lasts)
        domain = f"{rng.choice(_COMPANY_WORDS)}-{item.country.lower()}.example"
        local = f"{_ascii(first)}.{_ascii(last)}"
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
        local = eur / self.seeds.approx_eur_rate(currency, self.start)
        if currency in WHOLE_UNIT_CURRENCIES:
            return str(int(round(local, -3)))
        return f"{Decimal(round(local / 10) * 10):.2f}"

    def _deal_plan(
        self, rng: random.Random, contact: Contact, created: datetime, *, progress: bool = True
    ) -> _DealPlan | None:
        created = _to_ms(created)
        if created >= self.world_end:
            return None
        currency = COUNTRY_CURRENCY.get(contact.country_code, "EUR")
        first = contact.versions[0].properties
        suffix = _COMPANY_SUFFIX.get(contact.country_code, "Ltd")
        company = f"{first.get('lastname') or 'Acme'} {suffix}"
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
        if currency in WHOLE_UNIT_CURRENCIES:
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
