"""The world's ground truth for the marketing marts: contribution, attribution and funnel.

Computed from the CRM facts every part states (`parts.CrmPersonFact`, `parts.CrmDealFact`,
`parts.TouchFact`) and the ad facts, never from the warehouse, following the fixed rule of
docs/attribution.md:

- a touch's channel: its UTM medium's mapping when it has one that maps, else the mapping
  of its (source field, source); else ``unmapped`` (``seeds/channel_mappings.csv``,
  values compared after ``lower(trim())``); a channel is marketing per ``seeds/channels.csv``;
- a person's region: its country text through the country aliases (the staging rule); a
  deal's region: the one of its linked contact with the smallest (length, id) that is a
  known person, else Unassigned;
- a won deal's touches: the marketing touches of its linked, not deleted contacts up to its
  close, each once, in (touched_at, crm_touch_key) order; marketing-sourced when one is at
  or before the deal's creation; influenced when it has any;
- money: each deal's amount converted on its close date in the reporting time zone
  (`World.fx`), to the cent, then summed; a deal without a rate is counted in
  ``unconverted_deals`` and left out of every money sum;
- attribution: integer weights per model, cents split by floor then largest remainder
  (ties by touch order); a deal without a touch credits channel ``sales``.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from reach2revenue.reference.countries import UNASSIGNED_REGION, normalize_alias
from reach2revenue.sandbox.world.parts import AdFact, CrmDealFact, CrmPersonFact, TouchFact

if TYPE_CHECKING:
    from reach2revenue.reference.fx import FxRates
    from reach2revenue.sandbox.world.model import Seeds

CHANNELS_SEED = "channels.csv"
CHANNEL_MAPPINGS_SEED = "channel_mappings.csv"
SALES_CHANNEL = "sales"
UNMAPPED_CHANNEL = "unmapped"
UTM_MEDIUM_FIELD = "utm_medium"
ATTRIBUTION_MODELS = ("first_touch", "last_touch", "linear", "position_based")
"""The models whose weights are exact integers (time decay uses doubles: not stated here)."""
CENT = Decimal("0.01")
SHARE_PLACES = Decimal("0.0001")

TruthRow = dict[str, Any]
"""One expected mart row: its grain columns and measures (money `Decimal`, counts `int`)."""

CONTRIBUTION_MEASURES = (
    "won_deals",
    "won_revenue",
    "marketing_sourced_deals",
    "marketing_sourced_revenue",
    "sales_sourced_deals",
    "sales_sourced_revenue",
    "marketing_influenced_deals",
    "marketing_influenced_revenue",
    "unconverted_deals",
)
FUNNEL_MEASURES = (
    "spend",
    "impressions",
    "clicks",
    "leads",
    "opportunities",
    "deals_closed",
    "deals_won",
    "revenue_won",
    "new_customers",
    "unconverted_spend_rows",
    "unconverted_deals",
)


def _lower_trim(value: str) -> str:
    # SQL's lower(trim(x)): trim removes spaces at both ends.
    return value.strip(" ").lower()


@dataclass(frozen=True)
class ChannelMapping:
    """The editable channel seeds: which channel a source value is, and which are marketing."""

    is_marketing: dict[str, bool]
    channel_of_source: dict[tuple[str, str], str]

    @classmethod
    def load(cls, seeds_dir: Path) -> ChannelMapping:
        """Read ``channels.csv`` and ``channel_mappings.csv`` from the dbt seeds directory."""
        with (seeds_dir / CHANNELS_SEED).open(encoding="utf-8", newline="") as handle:
            is_marketing = {
                row["channel"]: row["is_marketing"].strip().lower() == "true"
                for row in csv.DictReader(handle)
            }
        with (seeds_dir / CHANNEL_MAPPINGS_SEED).open(encoding="utf-8", newline="") as handle:
            channel_of_source = {
                # Compared as written, as the dbt join does: the seed holds lower(trim()) values.
                (row["source_field"], row["source_value"]): row["channel"]
                for row in csv.DictReader(handle)
            }
        unknown = set(channel_of_source.values()) - set(is_marketing)
        if unknown:
            raise ValueError(f"{CHANNEL_MAPPINGS_SEED} maps to unknown channels: {sorted(unknown)}")
        return cls(is_marketing, channel_of_source)

    def channel_of(self, touch: TouchFact) -> str:
        """The touch's channel: UTM medium first when it maps, then its own source field."""
        if touch.utm_medium is not None:
            mapped = self.channel_of_source.get((UTM_MEDIUM_FIELD, _lower_trim(touch.utm_medium)))
            if mapped is not None:
                return mapped
        if touch.source is not None:
            mapped = self.channel_of_source.get((touch.source_field, _lower_trim(touch.source)))
            if mapped is not None:
                return mapped
        return UNMAPPED_CHANNEL

    def is_marketing_channel(self, channel: str) -> bool:
        return self.is_marketing.get(channel, False)


@dataclass(frozen=True)
class CrmFacts:
    """Every CRM's people, deals and touches, as of one instant."""

    people: list[CrmPersonFact]
    deals: list[CrmDealFact]
    touches: list[TouchFact]


@dataclass(frozen=True)
class DealTouch:
    """A marketing touch counted for a deal, with its channel."""

    crm_touch_key: str
    touched_at: datetime
    channel: str
    campaign_name: str | None


@dataclass
class ResolvedDeal:
    """A live deal placed in a region, with its close date, revenue and marketing touches."""

    deal: CrmDealFact
    region: str
    customer_key: str
    closed_date: date | None
    revenue: Decimal | None
    """In the reporting currency, to the cent; None when not won, or without a rate."""
    touches: list[DealTouch] = field(default_factory=list)

    @property
    def month_start(self) -> date | None:
        return self.closed_date.replace(day=1) if self.closed_date is not None else None

    @property
    def is_marketing_sourced(self) -> bool:
        return any(t.touched_at <= self.deal.created_at for t in self.touches)

    @property
    def is_influenced(self) -> bool:
        return bool(self.touches)

    @property
    def sourcing_channel(self) -> str:
        return self.touches[0].channel if self.is_marketing_sourced else SALES_CHANNEL


class MarketingTruth:
    """The facts resolved once: regions of people and deals, channels and deal touches."""

    def __init__(
        self,
        facts: CrmFacts,
        ad_facts: Iterable[AdFact],
        *,
        seeds: Seeds,
        fx: FxRates,
        mapping: ChannelMapping,
        reporting_currency: str,
        reporting_timezone: str,
    ) -> None:
        self.facts = facts
        self.ad_facts = list(ad_facts)
        self.seeds = seeds
        self.fx = fx
        self.mapping = mapping
        self.reporting_currency = reporting_currency
        self.tz = ZoneInfo(reporting_timezone)
        self.people = {(p.crm, p.person_id): p for p in facts.people}
        self.touches_by_contact = self._marketing_touches_by_contact()
        self.deals = [self._resolve(deal) for deal in facts.deals if not deal.is_deleted]

    # ----------------------------------------------------------------- resolution

    def region_of_text(self, country_text: str | None) -> str:
        """The region the staging rule gives a free-text country (None: Unassigned)."""
        alias = normalize_alias(country_text) if country_text is not None else None
        code = self.seeds.country_of_alias.get(alias) if alias is not None else None
        return self.seeds.region_of(code)

    def person_region(self, person: CrmPersonFact) -> str:
        return self.region_of_text(person.country_text)

    def _marketing_touches_by_contact(self) -> dict[tuple[str, str], list[DealTouch]]:
        by_contact: dict[tuple[str, str], list[DealTouch]] = defaultdict(list)
        for touch in self.facts.touches:
            person = self.people.get((touch.crm, touch.contact_id))
            if person is None or person.is_deleted:
                continue
            channel = self.mapping.channel_of(touch)
            if not self.mapping.is_marketing_channel(channel):
                continue
            by_contact[(touch.crm, touch.contact_id)].append(
                DealTouch(touch.crm_touch_key, touch.touched_at, channel, touch.campaign_name)
            )
        return by_contact

    def _resolve(self, deal: CrmDealFact) -> ResolvedDeal:
        known = sorted(
            (c for c in set(deal.contact_ids) if (deal.crm, c) in self.people),
            key=lambda c: (len(c), c),
        )
        primary = known[0] if known else None
        region = (
            self.person_region(self.people[(deal.crm, primary)])
            if primary is not None
            else UNASSIGNED_REGION
        )
        customer = deal.account_id or primary or deal.deal_id
        closed_date = (
            deal.closed_at.astimezone(self.tz).date() if deal.closed_at is not None else None
        )
        revenue = None
        if deal.is_won and deal.amount is not None and closed_date is not None:
            converted = self.fx.convert(
                deal.amount, deal.currency, self.reporting_currency, closed_date
            )
            revenue = converted.amount if converted is not None else None
        touches: dict[str, DealTouch] = {}
        if deal.closed_at is not None:
            for contact_id in deal.contact_ids:
                for touch in self.touches_by_contact.get((deal.crm, contact_id), ()):
                    if touch.touched_at <= deal.closed_at:
                        touches[touch.crm_touch_key] = touch
        return ResolvedDeal(
            deal=deal,
            region=region,
            customer_key=f"{deal.crm}:{customer}",
            closed_date=closed_date,
            revenue=revenue,
            touches=sorted(touches.values(), key=lambda t: (t.touched_at, t.crm_touch_key)),
        )

    @property
    def won_deals(self) -> list[ResolvedDeal]:
        """Won, not deleted deals (each with a close date)."""
        return [d for d in self.deals if d.deal.is_won and d.closed_date is not None]

    def _regions(self, present: Iterable[str]) -> list[str]:
        regions = self.seeds.regions
        extra = sorted(set(present) - set(regions))
        return [*regions, *extra]

    # ----------------------------------------------------------------- contribution

    def contribution(self) -> list[TruthRow]:
        """Rows of marketing_contribution_by_region_month: region x month, zero-filled from
        the first to the last month with a won deal, every region (Unassigned when used)."""
        cells: dict[tuple[str, date], TruthRow] = {}

        def cell(region: str, month: date) -> TruthRow:
            if (region, month) not in cells:
                cells[(region, month)] = {
                    "region": region,
                    "month_start": month,
                    "reporting_currency_code": self.reporting_currency,
                    **{
                        m: (Decimal("0.00") if m.endswith("_revenue") else 0)
                        for m in CONTRIBUTION_MEASURES
                    },
                }
            return cells[(region, month)]

        for won in self.won_deals:
            assert won.month_start is not None
            target = cell(won.region, won.month_start)
            kinds = ["won"]
            kinds.append("marketing_sourced" if won.is_marketing_sourced else "sales_sourced")
            if won.is_influenced:
                kinds.append("marketing_influenced")
            for kind in kinds:
                target[f"{kind}_deals"] += 1
                if won.revenue is not None:
                    target[f"{kind}_revenue"] += won.revenue
            if won.revenue is None:
                target["unconverted_deals"] += 1
        rows = _zero_filled(cells, self._regions(r for r, _ in cells), cell)
        for row in rows:
            for kind in ("marketing_sourced", "sales_sourced", "marketing_influenced"):
                row[f"{kind}_share"] = _share(row[f"{kind}_revenue"], row["won_revenue"])
        return rows

    def contribution_by_channel(self) -> list[TruthRow]:
        """Rows of marketing_contribution_by_channel_month: region x month x channel (only
        cells with a deal): sourced deals/revenue by sourcing channel (``sales`` for the
        sales-sourced), influenced deals/revenue in every channel that touched the deal."""
        cells: dict[tuple[str, date, str], TruthRow] = {}

        def cell(region: str, month: date, channel: str) -> TruthRow:
            key = (region, month, channel)
            if key not in cells:
                cells[key] = {
                    "region": region,
                    "month_start": month,
                    "channel": channel,
                    "sourced_deals": 0,
                    "sourced_revenue": Decimal("0.00"),
                    "influenced_deals": 0,
                    "influenced_revenue": Decimal("0.00"),
                }
            return cells[key]

        for won in self.won_deals:
            assert won.month_start is not None
            revenue = won.revenue if won.revenue is not None else Decimal("0.00")
            target = cell(won.region, won.month_start, won.sourcing_channel)
            target["sourced_deals"] += 1
            target["sourced_revenue"] += revenue
            for channel in sorted({t.channel for t in won.touches}):
                target = cell(won.region, won.month_start, channel)
                target["influenced_deals"] += 1
                target["influenced_revenue"] += revenue
        return [cells[key] for key in sorted(cells)]

    # ----------------------------------------------------------------- attribution

    def credits(self, model: str) -> list[TruthRow]:
        """Rows of attribution_credits for one integer-weight model (`ATTRIBUTION_MODELS`)."""
        rows: list[TruthRow] = []
        for won in self.won_deals:
            base = {
                "attribution_model": model,
                "crm_deal_key": won.deal.crm_deal_key,
                "region": won.region,
                "closed_date": won.closed_date,
                "month_start": won.month_start,
            }
            if not won.touches:
                rows.append(
                    {
                        **base,
                        "crm_touch_key": None,
                        "channel": SALES_CHANNEL,
                        "credit_weight": 1.0,
                        "credited_revenue": won.revenue,
                    }
                )
                continue
            weights = model_weights(model, len(won.touches))
            cents = (
                allocate_cents(int(won.revenue / CENT), weights)
                if won.revenue is not None
                else [None] * len(weights)
            )
            total = sum(weights)
            for touch, weight, share in zip(won.touches, weights, cents, strict=True):
                if weight == 0:
                    continue
                rows.append(
                    {
                        **base,
                        "crm_touch_key": touch.crm_touch_key,
                        "channel": touch.channel,
                        "credit_weight": weight / total,
                        "credited_revenue": share * CENT if share is not None else None,
                    }
                )
        return rows

    def attribution_by_channel(self, model: str) -> list[TruthRow]:
        """Rows of attribution_by_channel_month for one model: region x month x channel with
        credited revenue (converted deals only) and credited deals (sum of weights)."""
        cells: dict[tuple[str, date, str], TruthRow] = {}
        for credit in self.credits(model):
            key = (credit["region"], credit["month_start"], credit["channel"])
            if key not in cells:
                cells[key] = {
                    "region": key[0],
                    "month_start": key[1],
                    "attribution_model": model,
                    "channel": key[2],
                    "credited_revenue": Decimal("0.00"),
                    "credited_deals": 0.0,
                    "reporting_currency_code": self.reporting_currency,
                }
            cells[key]["credited_deals"] += credit["credit_weight"]
            if credit["credited_revenue"] is not None:
                cells[key]["credited_revenue"] += credit["credited_revenue"]
        return [cells[key] for key in sorted(cells)]

    # ----------------------------------------------------------------- funnel

    def funnel(self) -> list[TruthRow]:
        """Counts of funnel_by_region_month: region x month, zero-filled from the first to
        the last month with anything (ads by report month, people and deals by the month
        of their instant in the reporting time zone)."""
        cells: dict[tuple[str, date], TruthRow] = {}

        def cell(region: str, month: date) -> TruthRow:
            if (region, month) not in cells:
                cells[(region, month)] = {
                    "region": region,
                    "month_start": month,
                    "reporting_currency_code": self.reporting_currency,
                    **{
                        m: (Decimal("0.00") if m in ("spend", "revenue_won") else 0)
                        for m in FUNNEL_MEASURES
                    },
                    "sales_cycle_days_total": 0.0,
                }
            return cells[(region, month)]

        for ad in self.ad_facts:
            target = cell(self.seeds.region_of(ad.country_code), ad.report_date.replace(day=1))
            spend = self.fx.convert(ad.spend, ad.currency, self.reporting_currency, ad.report_date)
            if spend is None:
                target["unconverted_spend_rows"] += 1
            else:
                target["spend"] += spend.amount
            target["impressions"] += ad.impressions
            target["clicks"] += ad.clicks
        for person in self.facts.people:
            if not person.is_deleted:
                month = person.created_at.astimezone(self.tz).date().replace(day=1)
                cell(self.person_region(person), month)["leads"] += 1
        first_won: dict[str, tuple[datetime, str]] = {}
        for resolved in self.deals:
            deal = resolved.deal
            month = deal.created_at.astimezone(self.tz).date().replace(day=1)
            cell(resolved.region, month)["opportunities"] += 1
            if deal.is_closed and resolved.month_start is not None:
                cell(resolved.region, resolved.month_start)["deals_closed"] += 1
        for won in self.won_deals:
            assert won.month_start is not None and won.deal.closed_at is not None
            target = cell(won.region, won.month_start)
            target["deals_won"] += 1
            if won.revenue is None:
                target["unconverted_deals"] += 1
            else:
                target["revenue_won"] += won.revenue
            cycle = (won.deal.closed_at - won.deal.created_at).total_seconds() / 86_400
            target["sales_cycle_days_total"] += cycle
            order = (won.deal.closed_at, won.deal.crm_deal_key)
            if won.customer_key not in first_won or order < first_won[won.customer_key]:
                first_won[won.customer_key] = order
        by_key = {d.deal.crm_deal_key: d for d in self.won_deals}
        for _, deal_key in first_won.values():
            first = by_key[deal_key]
            assert first.month_start is not None
            cell(first.region, first.month_start)["new_customers"] += 1
        rows = _zero_filled(cells, self._regions(r for r, _ in cells), cell)
        for row in rows:
            won = row["deals_won"]
            converted = won - row["unconverted_deals"]
            row["average_sales_cycle_days"] = row["sales_cycle_days_total"] / won if won else None
            row["average_deal_size"] = row["revenue_won"] / converted if converted else None
            del row["sales_cycle_days_total"]
        return rows


# --------------------------------------------------------------------------- arithmetic


def model_weights(model: str, touches: int) -> list[int]:
    """Integer weights of ``touches`` ordered touches under ``model`` (docs/attribution.md)."""
    if touches < 1:
        raise ValueError("a model weighs at least one touch")
    if model == "first_touch":
        return [1] + [0] * (touches - 1)
    if model == "last_touch":
        return [0] * (touches - 1) + [1]
    if model == "linear":
        return [1] * touches
    if model == "position_based":
        if touches <= 2:
            return [1] * touches
        ends = 4 * (touches - 2)
        return [ends] + [2] * (touches - 2) + [ends]
    raise ValueError(f"not an integer-weight attribution model: {model!r}")


def allocate_cents(total_cents: int, weights: Sequence[int]) -> list[int]:
    """Split ``total_cents`` by integer ``weights`` exactly: floor shares, then one cent each
    to the largest remainders, ties to the earlier position. Works for negative totals too
    (floor and remainders as Python's divmod)."""
    denominator = sum(weights)
    if denominator <= 0:
        raise ValueError("weights must sum to a positive number")
    shares: list[int] = []
    remainders: list[int] = []
    for weight in weights:
        share, remainder = divmod(total_cents * weight, denominator)
        shares.append(share)
        remainders.append(remainder)
    left = total_cents - sum(shares)
    for index in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left]:
        shares[index] += 1
    return shares


def _share(part: Decimal, whole: Decimal) -> Decimal | None:
    from reach2revenue.sandbox.world.model import round_half_up

    return round_half_up(part / whole, SHARE_PLACES) if whole else None


def _zero_filled(
    cells: dict[tuple[str, date], TruthRow], regions: list[str], cell: Any
) -> list[TruthRow]:
    if not cells:
        return []
    months = sorted({month for _, month in cells})
    rows: list[TruthRow] = []
    month = months[0]
    while month <= months[-1]:
        rows.extend(cell(region, month) for region in regions)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return rows
