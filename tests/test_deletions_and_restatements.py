"""Deletions and restatements reach the marts: the pipeline in-process against stand-ins.

A small world is loaded (history), then changed at the source the way the platforms
change data after the fact: a won HubSpot deal is archived, a won Salesforce opportunity
is deleted (recycle bin), and Meta restates the spend of a day 20 days back. The next
nightly run must remove the deleted revenue and replace the old spend, so that the
published mart equals the world's ground truth to the cent, before and after.

The stand-ins run on fixed clocks after the world's end (history at ``end + 1 h``, the
nightly the next morning), so every change the world made is visible and the mutations
fall inside the nightly's window, as they would in production.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pytest
import requests

from reach2revenue import pipeline, verify
from reach2revenue.contracts import Interval
from reach2revenue.credentials import environment_from_connection
from reach2revenue.landing import Manifest, read_manifest
from reach2revenue.sandbox.standins import StandinServers, start_standins
from reach2revenue.sandbox.world import STAGE_WON, Deal, World, format_instant, parse_instant
from reach2revenue.sandbox.world.salesforce import SalesforcePart, close_instant, format_datetime
from reach2revenue.settings import Settings
from reach2revenue.sources import SOURCE_NAMES

TOKEN = "deletions-and-restatements-token"
START = date(2026, 5, 4)
DAYS = 24
HISTORY_END = START + timedelta(days=DAYS)  # first day after the world's last day
NIGHTLY = Interval.from_dates(HISTORY_END, HISTORY_END + timedelta(days=1))
RESTATED_DAY = HISTORY_END - timedelta(days=20)
REPORTING_TZ = "Europe/Berlin"


@dataclass
class Stack:
    world: World
    servers: StandinServers
    settings: Settings

    def truth(self) -> list[dict[str, Any]]:
        return self.world.ground_truth(reporting_currency="EUR", reporting_timezone=REPORTING_TZ)

    def mart(self) -> dict[tuple[str, date], dict[str, Decimal]]:
        return verify.mart_region_days(self.settings.published_path)

    def assert_mart_equals_truth(self) -> None:
        comparison = verify.compare(
            self.mart(), self.truth(), first_day=START, last_day=HISTORY_END
        )
        assert comparison.region_days > 0
        assert comparison.matches, json.dumps(comparison.mismatches[:20], indent=1)


def run_pipeline(settings: Settings, interval: Interval, *, build: bool = True) -> list[str]:
    """One night as the DAG runs it: extract every source, load, then build and publish."""
    started = time.perf_counter()
    paths = [path for name in SOURCE_NAMES for path in pipeline.extract(name, interval, settings)]
    seconds = {"extract": time.perf_counter() - started}
    pipeline.load_and_validate(paths, settings)
    seconds["load_and_validate"] = time.perf_counter() - started
    if build:
        pipeline.build(settings)
        seconds["build"] = time.perf_counter() - started
        pipeline.publish(settings)
        seconds["publish"] = time.perf_counter() - started
    print(f"pipeline {interval}: seconds elapsed after each step {seconds}")
    return paths


def raw_values(settings: Settings, sql: str, *params: str) -> list[tuple[Any, ...]]:
    """Rows of a query on the build warehouse (raw lives there, not in the published file)."""
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("deletions")
    settings = Settings.for_home(home)
    world = World.generate(seed=11, start=START, days=DAYS, scale=0.15)
    world.write_fx_overrides(settings.fx_rate_overrides_path)
    with (
        start_standins(world, token=TOKEN, clock=world.end + timedelta(hours=1)) as servers,
        pytest.MonkeyPatch.context() as env,
    ):
        for name, connection in servers.connections(TOKEN).items():
            source = name.removesuffix("_default")
            for key, value in environment_from_connection(source, connection).items():
                env.setenv(key, value)
        yield Stack(world, servers, settings)


@pytest.fixture(scope="module")
def history(stack: Stack) -> list[str]:
    """The history load (extract and load; the nightly builds and publishes)."""
    return run_pipeline(stack.settings, Interval.from_dates(START, HISTORY_END), build=False)


def _eur(world: World, amount: Any, currency: str, day: date) -> Decimal:
    """``amount`` in EUR on ``day``, rounded to the cent as the mart does per source row."""
    converted = world.fx.convert(Decimal(str(amount)), currency, "EUR", day)
    assert converted is not None, f"no rate for {currency} on {day}"
    return converted.amount


def _reporting_day(instant: datetime) -> date:
    return instant.astimezone(ZoneInfo(REPORTING_TZ)).date()


def _won_hubspot_deal(world: World) -> tuple[Deal, date, Decimal]:
    """The won deal counted in the mart with the largest EUR amount: deal, day, EUR."""
    contacts = world.contacts_by_id()
    candidates = []
    for deal in world.deals:
        props = deal.versions[-1].properties
        if deal.archived_at is not None or props.get("dealstage") != STAGE_WON:
            continue
        day = _reporting_day(parse_instant(str(props["closedate"])))
        if deal.contact_id in contacts and START <= day < HISTORY_END:
            eur = _eur(world, props["amount"], str(props["deal_currency_code"]), day)
            candidates.append((eur, deal.id, deal, day))
    assert candidates, "the world has no won HubSpot deal to archive"
    eur, _, deal, day = max(candidates)
    return deal, day, eur


def _won_opportunity(world: World) -> tuple[str, date, Decimal]:
    """A won, not deleted Salesforce opportunity: id, reporting day, EUR amount."""
    part: SalesforcePart = world.parts["salesforce"]
    candidates = []
    for record in part.of("Opportunity"):
        fields = record.versions[-1].fields
        if fields.get("IsWon") is not True or record.versions[-1].is_deleted:
            continue
        day = _reporting_day(close_instant(str(fields["CloseDate"])))
        if START <= day < HISTORY_END:
            eur = _eur(world, fields["Amount"], str(fields["CurrencyIsoCode"]), day)
            candidates.append((eur, record.id, day))
    assert candidates, "the world has no won Salesforce opportunity to delete"
    eur, opportunity_id, day = max(candidates)
    return opportunity_id, day, eur


def _total(mart: dict[tuple[str, date], dict[str, Decimal]], measure: str, day: date) -> Decimal:
    return sum((row[measure] for (_, d), row in mart.items() if d == day), Decimal(0))


def _manifests(paths: list[str], source: str, entity: str | None = None) -> list[Manifest]:
    manifests = [read_manifest(path) for path in paths]
    return [m for m in manifests if m.source == source and (entity is None or m.entity == entity)]


def _truth_by_day(truth: list[dict[str, Any]], measure: str, day: date) -> Decimal:
    return sum((row[measure] for row in truth if row["date"] == day), Decimal(0))


@pytest.mark.slow
def test_nightly_removes_deleted_revenue_and_replaces_restated_spend(
    stack: Stack, history: list[str]
) -> None:
    world, settings = stack.world, stack.settings
    mutated_at = world.end + timedelta(hours=2)  # after the history load, inside the nightly
    deal, deal_day, deal_eur = _won_hubspot_deal(world)
    opportunity_id, opportunity_day, opportunity_eur = _won_opportunity(world)
    row = max(
        (r for r in world.meta_insights if r["date_start"] == RESTATED_DAY.isoformat()),
        key=lambda r: Decimal(str(r["spend"])),
    )
    meta_key = (str(row["account_id"]), str(row["campaign_id"]), RESTATED_DAY.isoformat())
    meta_key += (str(row["country"]),)
    spend_sql = (
        "select spend from raw.meta_ads_insights where account_id = ? and campaign_id = ? "
        "and date_start = ? and country = ?"
    )
    # The history load holds them live and won, and the old spend.
    deal_sql = "select archived, dealstage from raw.hubspot_deals where id = ?"
    opportunity_sql = "select is_deleted, is_won from raw.salesforce_opportunities where id = ?"
    assert raw_values(settings, deal_sql, deal.id) == [("false", STAGE_WON)]
    assert raw_values(settings, opportunity_sql, opportunity_id) == [("false", "true")]
    assert raw_values(settings, spend_sql, *meta_key) == [(str(row["spend"]),)]
    truth_before = stack.truth()

    # HubSpot: a won deal archived (deleted) after it was loaded, and a contact (its deals
    # keep their region: the truth reads deleted contacts' countries too, as the mart does).
    world.archive_deal(deal.id, mutated_at)
    contact = next(
        c
        for c in world.contacts
        if c.archived_at is None and c.versions[-1].properties.get("hs_analytics_source")
    )
    world.archive_contact(contact.id, mutated_at)
    # Salesforce: a won opportunity deleted (recycle bin; queryAll shows IsDeleted).
    world.parts["salesforce"].delete("Opportunity", opportunity_id, mutated_at)
    # Meta: the spend of one row 20 days back restated (late attribution, billing fix).
    old_spend = Decimal(str(row["spend"]))
    new_spend = old_spend * 2 + Decimal("13.37")
    world.restate_insight(row, spend=f"{new_spend:.2f}")
    currency = str(row["account_currency"])
    spend_delta = _eur(world, new_spend, currency, RESTATED_DAY) - _eur(
        world, old_spend, currency, RESTATED_DAY
    )
    stack.servers.reindex()
    stack.servers.set_clock(NIGHTLY.end + timedelta(hours=2))

    paths = run_pipeline(settings, NIGHTLY)

    # The mart equals the changed world's truth, to the cent, on every region-day ...
    stack.assert_mart_equals_truth()
    after = stack.mart()
    # ... so the deleted revenue left exactly its days and the restated spend replaced the
    # old: the mart differs from the truth before the changes by exactly those amounts.
    removed = {
        day: _truth_by_day(truth_before, "revenue_won", day) - _total(after, "revenue_won", day)
        for day in {deal_day, opportunity_day}
    }
    expected = {deal_day: Decimal(0), opportunity_day: Decimal(0)}
    expected[deal_day] += deal_eur
    expected[opportunity_day] += opportunity_eur
    assert removed == expected
    assert deal_eur > 0 and opportunity_eur > 0
    spend_change = _total(after, "spend", RESTATED_DAY) - _truth_by_day(
        truth_before, "spend", RESTATED_DAY
    )
    assert spend_change == spend_delta > 0

    # Raw holds the deletions flagged, not dropped; the restated day holds the new spend.
    assert raw_values(settings, deal_sql, deal.id) == [("true", STAGE_WON)]
    contact_sql = "select archived from raw.hubspot_contacts where id = ?"
    assert raw_values(settings, contact_sql, contact.id) == [("true",)]
    # A deleted contact's marketing touch no longer counts (the contact had one).
    touches_sql = (
        "select count(*) from staging.stg_hubspot__crm_campaign_touches where contact_id = ?"
    )
    assert raw_values(settings, touches_sql, contact.id) == [(0,)]
    assert raw_values(settings, opportunity_sql, opportunity_id) == [("true", "true")]
    assert raw_values(settings, spend_sql, *meta_key) == [(f"{new_spend:.2f}",)]

    # The archived deal came from the list endpoint, with archivedAt as HubSpot sends it.
    (deals_manifest,) = _manifests(paths, "hubspot", "deals")
    assert deals_manifest.params["archived_ids"] == 1
    assert any('"archivedAt"' in page.read_text() for page in deals_manifest.page_paths())

    # The nightly Meta read: 28 days of lookback plus its day, one direct request per
    # account (no async report job) and its pages.
    meta = _manifests(paths, "meta_ads")
    assert len(meta) == len(world.ad_accounts)
    for manifest in meta:
        assert manifest.window_start == (HISTORY_END - timedelta(days=28)).isoformat()
        assert manifest.window_end == NIGHTLY.end_date.isoformat()
        assert "report_run_id" not in manifest.params
        assert manifest.request_count == len(manifest.pages)
    figures = {
        "hubspot_deal_removed_eur": str(deal_eur),
        "salesforce_opportunity_removed_eur": str(opportunity_eur),
        "meta_restated": f"{old_spend} -> {new_spend:.2f} {currency} on {RESTATED_DAY}",
        "meta_restated_eur": str(spend_delta),
        "meta_nightly_requests": sum(m.request_count for m in meta),
        "meta_nightly_rows": sum(m.record_count for m in meta),
        "hubspot_nightly_requests": sum(m.request_count for m in _manifests(paths, "hubspot")),
    }
    print("figures:", json.dumps(figures))


# --------------------------------------------------------------------------- the mutations
# Fast checks that each world mutation is what the stand-ins serve and the truth counts.


@pytest.fixture(scope="module")
def small_world() -> World:
    return World.generate(seed=7, start=date(2026, 6, 1), days=6, scale=0.15)


def _truth_total(world: World, measure: str) -> Decimal:
    return sum((row[measure] for row in world.ground_truth()), Decimal(0))


def test_an_archived_deal_is_listed_archived_leaves_search_and_the_truth(
    small_world: World,
) -> None:
    world = copy.deepcopy(small_world)
    deal = next(d for d in world.deals if d.versions[-1].properties.get("dealstage") == STAGE_WON)
    revenue_before = _truth_total(world, "revenue_won")
    at = world.end + timedelta(hours=1)
    with pytest.raises(ValueError, match="not after its last change"):
        world.archive_deal(deal.id, deal.versions[-1].valid_from)
    world.archive_deal(deal.id, at)
    with pytest.raises(ValueError, match="already archived"):
        world.archive_deal(deal.id, at + timedelta(hours=1))
    assert _truth_total(world, "revenue_won") < revenue_before

    headers = {"Authorization": f"Bearer {TOKEN}"}
    with start_standins(
        world, token=TOKEN, clock=at + timedelta(hours=1), rate_limits=False
    ) as servers:
        url = f"{servers.hubspot_url}/crm/v3/objects/deals"
        archived = requests.get(
            url, params={"archived": "true", "limit": 100}, headers=headers, timeout=10
        ).json()["results"]
        assert [(r["id"], r["archived"], r["archivedAt"]) for r in archived] == [
            (deal.id, True, format_instant(at))
        ]
        by_id = {"propertyName": "hs_object_id", "operator": "EQ", "value": deal.id}
        search = requests.post(
            f"{url}/search",
            json={"filterGroups": [{"filters": [by_id]}]},
            headers=headers,
            timeout=10,
        ).json()
        assert search["total"] == 0  # search never returns archived objects
        # Before the archive instant the deal is live: the archive happens at a given time.
        servers.set_clock(at - timedelta(minutes=1))
        assert (
            requests.get(url, params={"archived": "true"}, headers=headers, timeout=10).json()[
                "results"
            ]
            == []
        )


def test_a_deleted_opportunity_and_its_roles_show_in_query_all_with_the_deletion_stamp(
    small_world: World,
) -> None:
    world = copy.deepcopy(small_world)
    part: SalesforcePart = world.parts["salesforce"]
    roles_of: dict[str, int] = {}
    for role in part.of("OpportunityContactRole"):
        if not role.versions[-1].is_deleted:
            opportunity_id = str(role.versions[-1].fields["OpportunityId"])
            roles_of[opportunity_id] = roles_of.get(opportunity_id, 0) + 1
    opportunity = next(
        r for r in part.of("Opportunity") if not r.versions[-1].is_deleted and roles_of.get(r.id)
    )
    at = world.end + timedelta(hours=1)
    deleted = part.delete("Opportunity", opportunity.id, at)
    assert [r.sobject for r in deleted] == ["Opportunity"] + ["OpportunityContactRole"] * roles_of[
        opportunity.id
    ]
    for record in deleted:
        assert record.versions[-1].is_deleted
        assert record.versions[-1].fields["SystemModstamp"] == format_datetime(at)
    with pytest.raises(ValueError, match="already deleted"):
        part.delete("Opportunity", opportunity.id, at + timedelta(hours=1))
    assert opportunity.id not in {fact.deal_id for fact in part.won_deal_facts()}

    with start_standins(
        world, token=TOKEN, clock=at + timedelta(hours=1), rate_limits=False
    ) as servers:
        rows = {row.record_id: row for row in servers["salesforce"].rows("Opportunity")}
        assert rows[opportunity.id].version.is_deleted  # queryAll shows it, flagged


def test_a_restated_insight_is_served_and_counted(small_world: World) -> None:
    world = copy.deepcopy(small_world)
    row = world.meta_insights[0]
    spend_before = _truth_total(world, "spend")
    with pytest.raises(KeyError):
        world.restate_insight(row, spend_usd="1.00")
    old = world.restate_insight(row, spend=f"{Decimal(str(row['spend'])) + 100:.2f}")
    assert _truth_total(world, "spend") > spend_before
    day = str(row["date_start"])
    with start_standins(
        world, token=TOKEN, clock=world.end + timedelta(hours=1), rate_limits=False
    ) as servers:
        served = requests.get(
            f"{servers.meta_url}/v21.0/act_{row['account_id']}/insights",
            params={
                "level": "campaign",
                "time_increment": "1",
                "breakdowns": "country",
                "fields": "campaign_id,spend",
                "time_range": json.dumps({"since": day, "until": day}),
                "limit": "500",
                "access_token": TOKEN,
            },
            timeout=10,
        ).json()["data"]
    spends = {
        r["spend"]
        for r in served
        if r["campaign_id"] == row["campaign_id"] and r["country"] == row["country"]
    }
    assert spends == {row["spend"]} and row["spend"] != old["spend"]
