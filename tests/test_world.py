"""The synthetic world: determinism, coverage, internal consistency and ground truth."""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from reach2revenue.world import (
    OPEN_STAGES,
    STAGE_LOST,
    STAGE_WON,
    AdAccount,
    Campaign,
    Contact,
    Deal,
    MetaInsight,
    Seeds,
    Version,
    World,
    format_instant,
    insight_action,
    insight_day,
    insight_leads,
    local_day_bounds,
    parse_instant,
    round_half_up,
)

START = date(2024, 7, 1)
FILES = ("world.json", "meta_insights.jsonl", "contacts.jsonl", "deals.jsonl")


@pytest.fixture(scope="module")
def world() -> World:
    """A mid-sized world shared by the read-only tests."""
    return World.generate(seed=7, start=START, days=30, scale=0.6)


@pytest.fixture(scope="module")
def tiny() -> World:
    """The smallest world the brief promises daily coverage for."""
    return World.generate(seed=11, start=START, days=7, scale=0.2)


@pytest.fixture(scope="module")
def seeds() -> Seeds:
    """The dbt seeds."""
    return Seeds.load()


@dataclass(frozen=True)
class Row:
    """An insights row with typed values, for arithmetic in assertions."""

    account_id: str
    campaign_id: str
    campaign_name: str
    date: date
    country: str
    impressions: int
    reach: int
    clicks: int
    link_clicks: int
    leads: int
    spend: Decimal


def _typed(row: MetaInsight) -> Row:
    return Row(
        account_id=row["account_id"],
        campaign_id=row["campaign_id"],
        campaign_name=row["campaign_name"],
        date=insight_day(row),
        country=row["country"],
        impressions=int(row["impressions"]),
        reach=int(row["reach"]),
        clicks=int(row["clicks"]),
        link_clicks=insight_action(row, "link_click"),
        leads=insight_leads(row),
        spend=Decimal(row["spend"]),
    )


def _rows(w: World) -> list[Row]:
    return [_typed(r) for r in w.meta_insights]


def _normalise_country(text: str, seeds: Seeds) -> str:
    # The pipeline's rule: lower(trim()) then the alias seed.
    key = text.strip(" ").lower()
    return next(code for code, aliases in seeds.aliases.items() if key in aliases)


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_files_and_other_seed_differs(tmp_path: Path) -> None:
    first = World.generate(seed=5, start=START, days=10, scale=0.3).save(tmp_path / "a")
    second = World.generate(seed=5, start=START, days=10, scale=0.3).save(tmp_path / "b")
    other = World.generate(seed=6, start=START, days=10, scale=0.3).save(tmp_path / "c")
    for name in FILES:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert (first / "meta_insights.jsonl").read_bytes() != (
        other / "meta_insights.jsonl"
    ).read_bytes()
    assert (first / "contacts.jsonl").read_bytes() != (other / "contacts.jsonl").read_bytes()


def test_save_load_round_trip(world: World, tmp_path: Path) -> None:
    world.save(tmp_path / "one")
    loaded = World.load(tmp_path / "one")
    assert loaded == world
    loaded.save(tmp_path / "two")
    for name in FILES:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert loaded.ground_truth() == world.ground_truth()


# --------------------------------------------------------------------------- ads


@pytest.mark.parametrize("name", ["world", "tiny"])
def test_every_account_and_region_has_delivery_every_day(
    name: str, request: pytest.FixtureRequest, seeds: Seeds
) -> None:
    w: World = request.getfixturevalue(name)
    by_account = defaultdict(set)
    by_region = defaultdict(set)
    for row in _rows(w):
        by_account[row.account_id].add(row.date)
        by_region[seeds.region_of(row.country)].add(row.date)
    all_days = set(w.dates)
    assert {a.account_id for a in w.ad_accounts} == set(by_account)
    for account_id, days in by_account.items():
        assert days == all_days, account_id
    assert set(by_region) == set(seeds.regions)
    for region, days in by_region.items():
        assert days == all_days, region


def test_tiny_world_has_contacts_every_day_in_every_region(tiny: World, seeds: Seeds) -> None:
    seen = defaultdict(set)
    for contact in tiny.contacts:
        region = seeds.region_of(contact.country_code)
        account = next(a for a in tiny.ad_accounts if region in a.regions)
        seen[region].add(contact.created_at.astimezone(account.tz).date())
    for region in seeds.regions:
        assert set(tiny.dates) <= seen[region], region


def test_world_uses_several_currencies_time_zones_regions_and_countries(
    world: World, seeds: Seeds
) -> None:
    accounts = {a.account_id: a for a in world.ad_accounts}
    assert len(world.ad_accounts) == 4
    assert len({a.currency for a in world.ad_accounts}) >= 2
    assert len({a.timezone for a in world.ad_accounts}) >= 2
    countries = {r.country for r in _rows(world)}
    assert len(countries) >= 12
    assert len({seeds.region_of(c) for c in countries}) >= 4
    assert {d.versions[0].properties["deal_currency_code"] for d in world.deals} >= {
        "EUR",
        "GBP",
        "USD",
        "AUD",
    }
    for row in _rows(world):
        assert seeds.region_of(row.country) in accounts[row.account_id].regions


def test_campaigns_are_unique_and_target_their_accounts_countries(
    world: World, seeds: Seeds
) -> None:
    names = [c.campaign_name for c in world.campaigns]
    ids = [c.campaign_id for c in world.campaigns]
    assert len(set(names)) == len(names)
    assert len(set(ids)) == len(ids)
    accounts = {a.account_id: a for a in world.ad_accounts}
    for campaign in world.campaigns:
        assert campaign.campaign_id.isdigit() and len(campaign.campaign_id) == 15
        assert 2 <= len(campaign.countries) <= 4
        regions = accounts[campaign.account_id].regions
        assert all(seeds.region_of(c) in regions for c in campaign.countries)
    per_account = Counter(c.account_id for c in world.campaigns)
    assert all(n >= 1 for n in per_account.values())


def test_insight_values_are_consistent(world: World) -> None:
    campaigns = {c.campaign_id: c for c in world.campaigns}
    keys = set()
    for row in _rows(world):
        key = (row.account_id, row.campaign_id, row.date, row.country)
        assert key not in keys
        keys.add(key)
        campaign = campaigns[row.campaign_id]
        assert row.campaign_name == campaign.campaign_name
        assert row.country in campaign.countries
        assert campaign.start_date <= row.date <= campaign.end_date
        assert 0 < row.reach <= row.impressions
        assert 0 <= row.clicks <= row.impressions
        assert 0 <= row.link_clicks <= row.clicks
        assert row.leads >= 0
        assert row.spend > 0
        assert row.spend == row.spend.quantize(Decimal("0.01"))


def test_insight_rows_have_the_meta_api_shape(world: World) -> None:
    accounts = {a.account_id: a for a in world.ad_accounts}
    keys = {
        "account_id",
        "account_currency",
        "campaign_id",
        "campaign_name",
        "date_start",
        "date_stop",
        "country",
        "impressions",
        "reach",
        "clicks",
        "spend",
    }
    for row in world.meta_insights:
        assert set(row) - {"actions"} == keys
        assert all(isinstance(row[k], str) for k in keys)
        assert row["date_start"] == row["date_stop"]
        assert row["account_currency"] == accounts[row["account_id"]].currency
        assert re.fullmatch(r"\d+\.\d{2}", row["spend"])
        for action in row.get("actions", []):
            assert action["action_type"] in ("link_click", "lead")
            assert action["value"].isdigit() and action["value"] != "0"
    assert any("actions" in r and insight_leads(r) for r in world.meta_insights)


# --------------------------------------------------------------------------- contacts


def test_contact_country_spellings_vary_and_normalise_to_the_truth(
    world: World, seeds: Seeds
) -> None:
    spellings = defaultdict(set)
    for contact in world.contacts:
        text = contact.versions[0].properties["country"]
        assert text is not None
        spellings[contact.country_code].add(text)
        assert _normalise_country(text, seeds) == contact.country_code
    assert len(spellings["DE"]) >= 4
    every = {s for values in spellings.values() for s in values}
    assert any(s != s.strip() for s in every), "some spellings carry whitespace"
    assert any(s.isupper() for s in every) and any(s.islower() for s in every)


def test_marketing_contacts_come_from_insight_leads(world: World) -> None:
    campaigns = {c.campaign_id: c for c in world.campaigns}
    accounts = {a.account_id: a for a in world.ad_accounts}
    leads = {(r.campaign_id, r.date, r.country): r.leads for r in _rows(world)}
    made: Counter[tuple[str, date, str]] = Counter()
    for contact in world.contacts:
        props = contact.versions[0].properties
        if contact.source == "sales":
            assert props["hs_analytics_source"] == "OFFLINE"
            assert props["utm_source"] is None and props["utm_campaign"] is None
            continue
        assert contact.campaign_id is not None and contact.account_id is not None
        campaign = campaigns[contact.campaign_id]
        assert props["utm_campaign"] == campaign.campaign_name
        assert props["utm_source"] == "facebook"
        assert props["hs_analytics_source"] == "PAID_SOCIAL"
        local_day = contact.created_at.astimezone(accounts[campaign.account_id].tz).date()
        made[(campaign.campaign_id, local_day, contact.country_code)] += 1
    for key, count in made.items():
        assert count <= leads[key], key
    share = sum(made.values()) / sum(leads.values())
    assert 0.6 <= share <= 0.8


def test_contacts_have_plausible_unique_people_and_ordered_versions(world: World) -> None:
    emails = [c.versions[0].properties["email"] for c in world.contacts]
    assert len(set(emails)) == len(emails)
    ids = [int(c.id) for c in world.contacts]
    assert ids == sorted(ids)
    for contact in world.contacts:
        first = contact.versions[0].properties
        assert first["firstname"] and first["lastname"] and "@" in str(first["email"])
        assert first["createdate"] == format_instant(contact.created_at)
        instants = [v.valid_from for v in contact.versions]
        assert instants == sorted(instants)
        for version in contact.versions:
            assert version.properties["lastmodifieddate"] == format_instant(version.valid_from)
            assert version.properties["createdate"] == first["createdate"]


# --------------------------------------------------------------------------- deals


def test_deals_follow_the_pipeline_and_keep_their_history(world: World) -> None:
    contacts = world.contacts_by_id()
    assert len({d.contact_id for d in world.deals}) == len(world.deals)
    order = [*OPEN_STAGES]
    closed_won = closed_lost = still_open = 0
    for deal in world.deals:
        contact = contacts[deal.contact_id]
        assert deal.created_at > contact.created_at
        instants = [v.valid_from for v in deal.versions]
        assert instants == sorted(instants)
        assert instants[-1] <= world.end
        stages = [v.properties["dealstage"] for v in deal.versions]
        open_stages = [s for s in stages if s in order]
        assert open_stages == sorted(open_stages, key=order.index)
        last = deal.versions[-1].properties
        currency = last["deal_currency_code"]
        if currency == "JPY":
            assert str(last["amount"]).isdigit()
        else:
            assert Decimal(str(last["amount"])) == round_half_up(Decimal(str(last["amount"])))
        for version in deal.versions:
            assert version.properties["hs_lastmodifieddate"] == format_instant(version.valid_from)
            assert version.properties["pipeline"] == "default"
        if last["dealstage"] in (STAGE_WON, STAGE_LOST):
            assert last["closedate"] == format_instant(deal.versions[-1].valid_from)
            closed_won += last["dealstage"] == STAGE_WON
            closed_lost += last["dealstage"] == STAGE_LOST
        else:
            assert last["closedate"] is None
            still_open += 1
    assert closed_won and closed_lost and still_open


def test_deal_currency_is_the_local_currency_of_the_contact(world: World) -> None:
    expected = {"DE": "EUR", "CH": "CHF", "GB": "GBP", "US": "USD", "CA": "CAD", "JP": "JPY"}
    contacts = world.contacts_by_id()
    for deal in world.deals:
        code = contacts[deal.contact_id].country_code
        if code in expected:
            assert deal.versions[0].properties["deal_currency_code"] == expected[code]


@pytest.mark.parametrize("name", ["world", "tiny"])
def test_some_deal_changes_every_day(name: str, request: pytest.FixtureRequest) -> None:
    w: World = request.getfixturevalue(name)
    changed = {v.valid_from.date() for d in w.deals for v in d.versions}
    berlin = {
        v.valid_from.astimezone(ZoneInfo("Europe/Berlin")).date()
        for d in w.deals
        for v in d.versions
    }
    for day in w.dates:
        assert day in changed, day
        assert day in berlin, day


def test_contact_lifecycle_follows_deals(world: World) -> None:
    contacts = world.contacts_by_id()
    for deal in world.deals:
        stages = [v.properties["lifecyclestage"] for v in contacts[deal.contact_id].versions]
        assert stages[:2] == ["lead", "opportunity"]
        contact = contacts[deal.contact_id]
        # The contact changes in the same millisecond as its deal is created and won, so
        # any modified-window pull that finds the deal finds the contact too.
        assert deal.created_at in [v.valid_from for v in contact.versions]
        if deal.versions[-1].properties["dealstage"] == STAGE_WON:
            assert stages[-1] == "customer"
            assert contact.versions[-1].valid_from == deal.versions[-1].valid_from


def test_size_at_full_scale() -> None:
    big = World.generate(seed=42, start=START, days=90, scale=1.0)
    assert 3000 <= len(big.meta_insights) <= 5000
    assert 3000 <= len(big.contacts) <= 6000
    assert 600 <= len(big.deals) <= 1500


# --------------------------------------------------------------------------- ground truth


def test_ground_truth_totals_equal_independent_sums(world: World, seeds: Seeds) -> None:
    rows = world.ground_truth()
    insights = _rows(world)
    accounts = {a.account_id: a for a in world.ad_accounts}
    spend = sum(
        (
            round_half_up(r.spend * seeds.rate(accounts[r.account_id].currency, "EUR", r.date))
            for r in insights
        ),
        Decimal(0),
    )
    assert sum((r["spend"] for r in rows), Decimal(0)) == spend
    for measure in ("impressions", "reach", "clicks", "leads"):
        assert sum(r[measure] for r in rows) == sum(getattr(i, measure) for i in insights)
    won = [d for d in world.deals if d.versions[-1].properties["dealstage"] == STAGE_WON]
    assert sum(r["deals_won"] for r in rows) == len(won)
    assert len(rows) == len({(r["date"], r["region"]) for r in rows})
    assert {r["region"] for r in rows} == set(seeds.regions)

    # Per region and day: the account-local date and the region of the row's country.
    per_cell: dict[tuple[date, str], int] = defaultdict(int)
    for i in insights:
        per_cell[(i.date, seeds.region_of(i.country))] += i.impressions
    for row in rows:
        assert row["impressions"] == per_cell.get((row["date"], row["region"]), 0)

    # Revenue per region and Berlin day, from the deals and their contacts' true countries.
    contacts = world.contacts_by_id()
    revenue: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    for deal in won:
        last = deal.versions[-1].properties
        day = parse_instant(str(last["closedate"])).astimezone(ZoneInfo("Europe/Berlin")).date()
        rate = seeds.rate(str(last["deal_currency_code"]), "EUR", day)
        region = seeds.region_of(contacts[deal.contact_id].country_code)
        revenue[(day, region)] += round_half_up(Decimal(str(last["amount"])) * rate)
    assert revenue
    for row in rows:
        assert row["revenue_won"] == revenue.get((row["date"], row["region"]), Decimal(0))


def _hand_world() -> World:
    account = AdAccount("9001", "Hand", "GBP", "Europe/London", ["UK & Ireland"])
    campaign = Campaign("120210000009001", "UKI_Hand_Q1", "9001", ["GB", "IE"], START, START)
    insight: MetaInsight = {
        "account_id": "9001",
        "account_currency": "GBP",
        "campaign_id": campaign.campaign_id,
        "campaign_name": campaign.campaign_name,
        "date_start": "2024-02-15",
        "date_stop": "2024-02-15",
        "country": "GB",
        "impressions": "1000",
        "reach": "800",
        "clicks": "10",
        "spend": "123.45",
        "actions": [
            {"action_type": "link_click", "value": "9"},
            {"action_type": "lead", "value": "1"},
        ],
    }
    created = datetime(2024, 2, 20, 9, 0, tzinfo=UTC)
    contact = Contact(
        id="1",
        versions=[Version(created, {"country": "Japan", "createdate": format_instant(created)})],
        country_code="JP",
        source="sales",
    )
    # 23:30 UTC on 29 Feb is 00:30 on 1 March in Berlin: the March rate applies.
    closed = datetime(2024, 2, 29, 23, 30, tzinfo=UTC)
    deal = Deal(
        id="2",
        contact_id="1",
        versions=[
            Version(created, {"dealstage": "appointmentscheduled", "amount": "1250000"}),
            Version(
                closed,
                {
                    "dealstage": STAGE_WON,
                    "amount": "1250000",
                    "deal_currency_code": "JPY",
                    "closedate": format_instant(closed),
                },
            ),
        ],
    )
    return World(
        seed=0,
        start=date(2024, 2, 15),
        days=1,
        scale=1.0,
        ad_accounts=[account],
        campaigns=[campaign],
        meta_insights=[insight],
        contacts=[contact],
        deals=[deal],
    )


def test_ground_truth_fx_conversion_by_hand() -> None:
    rows = {(r["date"], r["region"]): r for r in _hand_world().ground_truth("EUR", "Europe/Berlin")}
    # GBP rate of 2024-02-01 (last on or before 15 Feb): 123.45 * 1.18659964 = 146.4857...
    assert rows[(date(2024, 2, 15), "UK & Ireland")]["spend"] == Decimal("146.49")
    # JPY rate of 2024-03-01: 1,250,000 * 0.00622145 = 7776.8125 -> 7776.81, on 1 March.
    march = rows[(date(2024, 3, 1), "APAC")]
    assert (march["deals_won"], march["revenue_won"]) == (1, Decimal("7776.81"))
    assert rows[(date(2024, 2, 29), "APAC")]["deals_won"] == 0
    # In UTC the deal lands on 29 Feb and the February rate applies instead.
    utc = {(r["date"], r["region"]): r for r in _hand_world().ground_truth("EUR", "UTC")}
    assert utc[(date(2024, 2, 29), "APAC")]["revenue_won"] == Decimal("7774.54")


def test_ground_truth_until_and_mutations() -> None:
    hand = _hand_world()
    closed = datetime(2024, 2, 29, 23, 30, tzinfo=UTC)
    before = hand.ground_truth(until=closed)
    assert sum(r["deals_won"] for r in before) == 0
    assert sum(r["impressions"] for r in before) == 1000
    assert (
        sum(r["impressions"] for r in hand.ground_truth(until=datetime(2024, 2, 15, tzinfo=UTC)))
        == 0
    )
    assert sum(r["deals_won"] for r in hand.ground_truth(until=closed + timedelta(seconds=1))) == 1
    hand.meta_insights[0]["spend"] = "-5.00"
    assert sum(r["spend"] for r in hand.ground_truth()) == round_half_up(
        Decimal("-5.00") * Decimal("1.18659964")
    )
    hand.contacts.clear()
    assert sum(r["deals_won"] for r in hand.ground_truth()) == 0


def test_ground_truth_csv(world: World, tmp_path: Path) -> None:
    path = world.write_ground_truth(tmp_path / "truth.csv")
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    truth = world.ground_truth()
    assert len(rows) == len(truth)
    assert rows[0]["date"] == truth[0]["date"].isoformat()
    assert Decimal(rows[0]["spend"]) == truth[0]["spend"]
    assert sum(Decimal(r["revenue_won"]) for r in rows) == sum(r["revenue_won"] for r in truth)


def test_time_helpers() -> None:
    instant = datetime(2024, 3, 15, 12, 1, 2, 345000, tzinfo=UTC)
    assert format_instant(instant) == "2024-03-15T12:01:02.345Z"
    assert parse_instant("2024-03-15T12:01:02.345Z") == instant
    assert parse_instant("1710504062345") == instant
    start, end = local_day_bounds(date(2024, 3, 31), ZoneInfo("Europe/Berlin"))
    assert (start.hour, end - start) == (23, timedelta(hours=23))
