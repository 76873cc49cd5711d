"""The world's marketing truth: contribution, first-touch attribution and funnel counts.

Invariants on a small generated world (sourced + sales = won per region-month, sourced
within influenced, credits summing to revenue, the regions of the region-day truth), and
hand-made facts checked by hand against the rule of docs/attribution.md.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from reach2revenue.reference.countries import UNASSIGNED_REGION
from reach2revenue.sandbox.world import World
from reach2revenue.sandbox.world.marketing_truth import (
    ATTRIBUTION_MODELS,
    SALES_CHANNEL,
    UNMAPPED_CHANNEL,
    ChannelMapping,
    CrmFacts,
    MarketingTruth,
    allocate_cents,
    model_weights,
)
from reach2revenue.sandbox.world.parts import AdFact, CrmDealFact, CrmPersonFact, TouchFact
from reach2revenue.settings import Settings

SEEDS_DIR = Settings.from_env().dbt_project_dir / "seeds"


@pytest.fixture(scope="module")
def world() -> World:
    """Thirty days: long enough for Salesforce deals to close, with both CRMs winning."""
    return World.generate(seed=5, start=date(2026, 9, 20), days=30, scale=0.25)


@pytest.fixture(scope="module")
def truth(world: World) -> MarketingTruth:
    return world.marketing_truth("EUR", "Europe/Berlin")


# --------------------------------------------------------------------------- invariants


def test_sourced_plus_sales_is_won_and_sourced_is_within_influenced(truth: MarketingTruth) -> None:
    rows = truth.contribution()
    assert sum(r["won_deals"] for r in rows) == len(truth.won_deals) > 20
    assert {d.deal.crm for d in truth.won_deals} == {"hubspot", "salesforce"}
    for row in rows:
        for unit in ("deals", "revenue"):
            won = row[f"won_{unit}"]
            sourced = row[f"marketing_sourced_{unit}"]
            assert sourced + row[f"sales_sourced_{unit}"] == won, row
            assert sourced <= row[f"marketing_influenced_{unit}"] <= won, row
        if row["won_revenue"]:
            assert row["marketing_sourced_share"] + row["sales_sourced_share"] == 1
        else:
            assert row["marketing_sourced_share"] is None
    # Both kinds occur: HubSpot's OFFLINE contacts are sales-sourced, its Meta leads not.
    assert 0 < sum(r["marketing_sourced_deals"] for r in rows) < len(truth.won_deals)


def test_every_region_and_month_is_zero_filled(truth: MarketingTruth) -> None:
    rows = truth.contribution()
    regions = {r["region"] for r in rows}
    months = sorted({r["month_start"] for r in rows})
    assert len(rows) == len(regions) * len(months)
    assert set(truth.seeds.regions) <= regions
    assert months == sorted({d.month_start for d in truth.won_deals})


def test_won_revenue_per_region_and_month_equals_the_region_day_truth(
    world: World, truth: MarketingTruth
) -> None:
    """The deal region rule (smallest linked contact, its country text through the aliases;
    a Salesforce contact in its account's country) lands every won deal where the
    region-day truth (true country of the contact, the account's BillingCountryCode) does."""
    by_month: dict[tuple[str, date], list[Decimal | int]] = defaultdict(lambda: [Decimal(0), 0])
    for row in world.ground_truth("EUR", "Europe/Berlin"):
        cell = by_month[(row["region"], row["date"].replace(day=1))]
        cell[0] += row["revenue_won"]
        cell[1] += row["deals_won"]
    for row in truth.contribution():
        expected = by_month.get((row["region"], row["month_start"]), [Decimal(0), 0])
        assert [row["won_revenue"], row["won_deals"]] == expected, row


@pytest.mark.parametrize("model", ATTRIBUTION_MODELS)
def test_credits_sum_to_each_deals_revenue_and_channels_sum_to_won(
    truth: MarketingTruth, model: str
) -> None:
    credits = truth.credits(model)
    per_deal: dict[str, Decimal] = defaultdict(Decimal)
    weights: dict[str, float] = defaultdict(float)
    for credit in credits:
        per_deal[credit["crm_deal_key"]] += credit["credited_revenue"]
        weights[credit["crm_deal_key"]] += credit["credit_weight"]
    for won in truth.won_deals:
        assert per_deal[won.deal.crm_deal_key] == won.revenue
        assert weights[won.deal.crm_deal_key] == pytest.approx(1.0)
    by_channel = truth.attribution_by_channel(model)
    contribution = truth.contribution()
    assert sum(r["credited_revenue"] for r in by_channel) == sum(
        r["won_revenue"] for r in contribution
    )
    assert sum(r["credited_deals"] for r in by_channel) == pytest.approx(len(truth.won_deals))


def test_first_touch_credits_the_first_channel_and_sales_only_without_a_touch(
    world: World, truth: MarketingTruth
) -> None:
    rows = world.first_touch_truth("EUR", "Europe/Berlin")
    sales = sum(r["credited_revenue"] for r in rows if r["channel"] == SALES_CHANNEL)
    untouched = sum(d.revenue or 0 for d in truth.won_deals if not d.touches)
    assert sales == untouched
    channels = {r["channel"] for r in rows}
    # Meta leads reach HubSpot with utm_medium paid_social; Salesforce web leads are direct.
    assert {"paid_social", SALES_CHANNEL} <= channels
    assert UNMAPPED_CHANNEL not in channels
    for won in truth.won_deals:
        if won.touches:
            assert won.touches[0].touched_at == min(t.touched_at for t in won.touches)
            assert all(t.touched_at <= won.deal.closed_at for t in won.touches)  # type: ignore[operator]


def test_funnel_counts_match_the_facts(world: World, truth: MarketingTruth) -> None:
    rows = world.funnel_truth("EUR", "Europe/Berlin")
    totals = Counter[str]()
    for row in rows:
        for name in ("leads", "opportunities", "deals_won", "deals_closed", "new_customers"):
            totals[name] += row[name]
        assert row["deals_won"] <= row["deals_closed"]
        assert row["new_customers"] <= row["deals_won"]
    people = truth.facts.people
    assert totals["leads"] == sum(not p.is_deleted for p in people)
    assert totals["opportunities"] == sum(not d.is_deleted for d in truth.facts.deals)
    assert totals["deals_won"] == len(truth.won_deals)
    day_truth = world.ground_truth("EUR", "Europe/Berlin")
    assert sum(r["spend"] for r in rows) == sum(r["spend"] for r in day_truth)
    assert sum(r["impressions"] for r in rows) == sum(r["impressions"] for r in day_truth)
    assert sum(r["clicks"] for r in rows) == sum(r["clicks"] for r in day_truth)
    assert sum(r["revenue_won"] for r in rows) == sum(r["revenue_won"] for r in day_truth)


def test_the_truth_as_of_an_instant_leaves_later_deals_and_people_out(world: World) -> None:
    until = datetime.combine(world.start + timedelta(days=15), datetime.min.time(), UTC)
    truth = world.marketing_truth("EUR", "Europe/Berlin", until=until)
    assert all(p.created_at < until for p in truth.facts.people)
    assert all(d.deal.closed_at < until for d in truth.won_deals)  # type: ignore[operator]
    assert all(t.touched_at < until for t in truth.facts.touches)
    assert len(truth.won_deals) < len(world.marketing_truth().won_deals)


def test_the_hubspot_touches_follow_the_contacts_source(world: World) -> None:
    facts = world.hubspot_touch_facts()
    mapping = ChannelMapping.load(SEEDS_DIR)
    channels = Counter(mapping.channel_of(t) for t in facts)
    # PAID_SOCIAL with utm_medium paid_social, OFFLINE: sales (no marketing touch).
    assert set(channels) == {"paid_social", SALES_CHANNEL}
    assert len(facts) == len(world.contacts)


# --------------------------------------------------------------------------- by hand

T0 = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)


def _person(crm: str, person_id: str, country: str | None, *, deleted: bool = False):
    return CrmPersonFact(crm, person_id, T0 - timedelta(days=30), country, deleted)


def _deal(deal_id: str, contacts: tuple[str, ...], amount: str, **values: object) -> CrmDealFact:
    defaults: dict[str, object] = {
        "crm": "salesforce",
        "deal_id": deal_id,
        "created_at": T0,
        "closed_at": T0 + timedelta(days=10),
        "is_won": True,
        "is_closed": True,
        "is_deleted": False,
        "amount": Decimal(amount),
        "currency": "EUR",
        "contact_ids": contacts,
        "account_id": None,
    }
    defaults.update(values)
    return CrmDealFact(**defaults)  # type: ignore[arg-type]


def _touch(touch_id: str, contact: str, at: datetime, source: str, **values: object) -> TouchFact:
    defaults: dict[str, object] = {
        "crm": "salesforce",
        "touch_id": touch_id,
        "contact_id": contact,
        "touched_at": at,
        "source_field": "salesforce_campaign_type",
        "source": source,
    }
    defaults.update(values)
    return TouchFact(**defaults)  # type: ignore[arg-type]


def _truth(world: World, facts: CrmFacts, ads: list[AdFact] | None = None) -> MarketingTruth:
    return MarketingTruth(
        facts,
        ads or [],
        seeds=world.seeds,
        fx=world.fx,
        mapping=ChannelMapping.load(SEEDS_DIR),
        reporting_currency="EUR",
        reporting_timezone="Europe/Berlin",
    )


def test_hand_checked_sourcing_influence_and_first_touch(world: World) -> None:
    people = [
        _person("salesforce", "003A", " deutschland "),  # DACH, by alias
        _person("salesforce", "003BB", "FR"),
        _person("salesforce", "003C", "Polska", deleted=True),
        _person("salesforce", "00QL", None),  # a lead without Country: Unassigned
    ]
    deals = [
        # Touched before creation (events, by campaign type): marketing-sourced by events.
        _deal("006S", ("003A",), "1000.00"),
        # Touched only after creation, before close: sales-sourced, marketing-influenced;
        # first touch still credits that touch's channel (email).
        _deal("006I", ("003BB",), "250.50"),
        # Its only touches: one after close, one of a deleted contact: untouched, sales.
        _deal("006N", ("003C", "003BB2"), "99.99", closed_at=T0 + timedelta(hours=1)),
        # Lost: no revenue, no credit, but an opportunity and a closed deal.
        _deal("006L", ("003A",), "500.00", is_won=False),
    ]
    touches = [
        _touch("m1", "003A", T0 - timedelta(days=2), "Trade Show"),
        _touch("m2", "003BB", T0 + timedelta(days=1), "Email"),
        _touch("m3", "003BB", T0 + timedelta(days=11), "Webinar"),  # after 006I's close
        _touch("m4", "003C", T0 - timedelta(days=1), "Webinar"),  # deleted contact
        # A lead source that means sales is no marketing touch.
        _touch("003A:lead_source", "003A", T0 - timedelta(days=5), "Purchased List",
               source_field="salesforce_lead_source"),
    ]  # fmt: skip
    truth = _truth(world, CrmFacts(people, deals, touches))
    won = {d.deal.deal_id: d for d in truth.won_deals}
    assert set(won) == {"006S", "006I", "006N"}
    assert won["006S"].region == "DACH" and won["006S"].is_marketing_sourced
    assert [t.channel for t in won["006S"].touches] == ["events"]
    assert won["006I"].region == "Western Europe"
    assert not won["006I"].is_marketing_sourced and won["006I"].is_influenced
    assert [t.channel for t in won["006I"].touches] == ["email"]
    # 003C (deleted) is still a known person: it gives 006N its region (smallest id).
    assert won["006N"].region == "Eastern Europe" and not won["006N"].touches

    month = date(2026, 10, 1)
    rows = {r["region"]: r for r in truth.contribution() if r["won_deals"]}
    assert rows["DACH"]["marketing_sourced_revenue"] == Decimal("1000.00")
    assert rows["Western Europe"]["sales_sourced_revenue"] == Decimal("250.50")
    assert rows["Western Europe"]["marketing_influenced_revenue"] == Decimal("250.50")
    assert rows["Western Europe"]["marketing_influenced_share"] == Decimal("1.0000")
    assert rows["Eastern Europe"]["marketing_influenced_deals"] == 0
    first = {(r["region"], r["channel"]): r for r in truth.attribution_by_channel("first_touch")}
    assert set(first) == {
        ("DACH", "events"),
        ("Western Europe", "email"),
        ("Eastern Europe", SALES_CHANNEL),
    }
    assert first[("Western Europe", "email")]["credited_revenue"] == Decimal("250.50")
    assert all(r["month_start"] == month for r in first.values())

    funnel = {r["region"]: r for r in truth.funnel() if r["month_start"] == month}
    assert funnel["DACH"]["opportunities"] == 2 and funnel["DACH"]["deals_closed"] == 2
    assert funnel["DACH"]["deals_won"] == 1 and funnel["DACH"]["new_customers"] == 1
    assert funnel["DACH"]["average_sales_cycle_days"] == 10.0
    september = {r["region"]: r for r in truth.funnel() if r["month_start"] == date(2026, 9, 1)}
    # People created 2026-09-05: the deleted one is no lead; the lead without Country is.
    assert september[UNASSIGNED_REGION]["leads"] == 1
    assert september["Eastern Europe"]["leads"] == 0
    assert september["DACH"]["leads"] == 1


def test_hand_checked_channel_mapping(world: World) -> None:
    mapping = ChannelMapping.load(SEEDS_DIR)
    hubspot = {"crm": "hubspot", "source_field": "hubspot_analytics_source"}
    assert mapping.channel_of(_touch("1", "1", T0, "PAID_SOCIAL", utm_medium="paid_social",
                                     **hubspot)) == "paid_social"  # fmt: skip
    assert mapping.channel_of(_touch("1", "1", T0, "OFFLINE", **hubspot)) == SALES_CHANNEL
    # UTM medium wins when it maps; an unknown medium falls back to the source field.
    assert mapping.channel_of(_touch("1", "1", T0, "ORGANIC_SEARCH", utm_medium=" CPC ",
                                     **hubspot)) == "paid_search"  # fmt: skip
    assert mapping.channel_of(_touch("1", "1", T0, "ORGANIC_SEARCH", utm_medium="tiktok",
                                     **hubspot)) == "organic_search"  # fmt: skip
    assert mapping.channel_of(_touch("1", "1", T0, "Carrier pigeon")) == UNMAPPED_CHANNEL
    lead = {"source_field": "salesforce_lead_source"}
    assert mapping.channel_of(_touch("1", "1", T0, "Web", **lead)) == "direct"
    assert mapping.channel_of(_touch("1", "1", T0, "Partner Referral", **lead)) == "partners"
    assert mapping.channel_of(_touch("1", "1", T0, "Direct Mail")) == "direct_mail"
    assert not mapping.is_marketing_channel(UNMAPPED_CHANNEL)
    assert not mapping.is_marketing_channel(SALES_CHANNEL)


def test_hand_checked_touch_order_ties_and_shared_touches(world: World) -> None:
    """Touches at one instant go by crm_touch_key as bytes; a touch reached through two
    linked contacts counts once; the primary contact is the smallest (length, id)."""
    people = [_person("salesforce", "003Z", "Sweden"), _person("salesforce", "003AA", "Japan")]
    touches = [
        _touch("b", "003Z", T0 - timedelta(days=1), "Email"),
        _touch("B", "003AA", T0 - timedelta(days=1), "Webinar"),  # "B" < "b" as bytes
        _touch("c", "003Z", T0 - timedelta(days=3), "Direct Mail"),
    ]
    deals = [_deal("006T", ("003AA", "003Z", "003Z"), "100.00")]
    truth = _truth(world, CrmFacts(people, deals, touches))
    [won] = truth.won_deals
    assert won.region == "Nordics"  # 003Z: shorter than 003AA
    assert [t.crm_touch_key for t in won.touches] == [
        "salesforce:c",
        "salesforce:B",
        "salesforce:b",
    ]
    linear = {c["crm_touch_key"]: c["credited_revenue"] for c in truth.credits("linear")}
    # 10000 cents / 3 = 3333 r 1 each: the remainder cent goes to the earliest touch.
    assert linear == {
        "salesforce:c": Decimal("33.34"),
        "salesforce:B": Decimal("33.33"),
        "salesforce:b": Decimal("33.33"),
    }
    last = truth.credits("last_touch")
    assert [(c["channel"], c["credited_revenue"]) for c in last] == [("email", Decimal("100.00"))]


def test_a_won_deal_without_a_rate_is_counted_unconverted_and_in_no_money(world: World) -> None:
    people = [_person("hubspot", "7", "Germany")]
    deals = [
        _deal("1", ("7",), "100.00", crm="hubspot"),
        _deal("2", ("7",), "100.00", crm="hubspot", currency="XXX"),
    ]
    truth = _truth(world, CrmFacts(people, deals, []))
    [row] = [r for r in truth.contribution() if r["won_deals"]]
    assert row["won_deals"] == 2 and row["unconverted_deals"] == 1
    assert row["won_revenue"] == Decimal("100.00") == row["sales_sourced_revenue"]
    assert row["sales_sourced_deals"] == 2


def test_ad_rows_count_in_their_report_month_and_country(world: World) -> None:
    ads = [
        AdFact("meta_ads", "1", "EUR", date(2026, 9, 30), "DE", Decimal("10.00"), 100, 5, 1),
        AdFact("meta_ads", "1", "EUR", date(2026, 10, 1), "unknown", Decimal("2.50"), 10, 1, 0),
    ]
    truth = _truth(world, CrmFacts([], [], []), ads)
    rows = {(r["region"], r["month_start"]): r for r in truth.funnel()}
    assert rows[("DACH", date(2026, 9, 1))]["spend"] == Decimal("10.00")
    assert rows[("DACH", date(2026, 9, 1))]["clicks"] == 5
    assert rows[(UNASSIGNED_REGION, date(2026, 10, 1))]["impressions"] == 10


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        (100, [1, 1, 1], [34, 33, 33]),
        (2, [1, 1, 1], [1, 1, 0]),
        (1001, [4, 2, 4], [401, 200, 400]),  # position-based, 3 touches: 0.4/0.2/0.4
        (999, [8, 2, 2, 8], [400, 100, 100, 399]),
        (7, [1, 0], [7, 0]),
        (-100, [1, 1, 1], [-33, -33, -34]),
    ],
)
def test_cents_are_split_by_floor_then_largest_remainder(
    total: int, weights: list[int], expected: list[int]
) -> None:
    assert allocate_cents(total, weights) == expected
    assert sum(expected) == total


def test_model_weights() -> None:
    assert model_weights("first_touch", 3) == [1, 0, 0]
    assert model_weights("last_touch", 3) == [0, 0, 1]
    assert model_weights("linear", 2) == [1, 1]
    assert model_weights("position_based", 1) == [1]
    assert model_weights("position_based", 2) == [1, 1]
    assert model_weights("position_based", 5) == [12, 2, 2, 2, 12]
    with pytest.raises(ValueError):
        model_weights("time_decay", 2)


def test_the_channel_seeds_are_read_from_the_dbt_project(tmp_path: Path) -> None:
    (tmp_path / "channels.csv").write_text(
        "channel,channel_name,channel_group,is_marketing,is_paid\n"
        "podcast,Podcast,Owned,true,false\nsales,Sales,Sales,false,false\n"
    )
    (tmp_path / "channel_mappings.csv").write_text(
        "source_field,source_value,channel\nutm_medium,podcast,podcast\n"
    )
    mapping = ChannelMapping.load(tmp_path)
    assert mapping.channel_of(_touch("1", "1", T0, None, utm_medium="PODCAST")) == "podcast"
    (tmp_path / "channel_mappings.csv").write_text("source_field,source_value,channel\nx,y,z\n")
    with pytest.raises(ValueError, match="unknown channels"):
        ChannelMapping.load(tmp_path)
