"""LinkedIn Ads extraction against the LinkedIn stand-in over real HTTP on loopback.

The stand-in serves a `LinkedInAdsPart` generated from a small world; every test compares
what lands in ``raw`` with the part's own rows (the ground truth the mart must show).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pandas as pd
import pytest

import reach2revenue.sources.linkedin_ads.extract as linkedin_extract
from reach2revenue import cursors, raw
from reach2revenue.contracts import Credentials
from reach2revenue.credentials import CredentialsError, get_credentials, parse_options
from reach2revenue.failures import ConfigurationError
from reach2revenue.http_client import ApiRequestError, ApiRetryError, RetryPolicy
from reach2revenue.landing import Manifest, read_manifest, write_manifest, write_page
from reach2revenue.quality import DataQualityError, validate_batch
from reach2revenue.sandbox.standins.linkedin_ads import LinkedInAdsServer, parse_restli
from reach2revenue.sandbox.world import World
from reach2revenue.sandbox.world.linkedin_ads import LinkedInAdsPart, load_geo_countries
from reach2revenue.settings import REPO_ROOT, Settings
from reach2revenue.sources.linkedin_ads import SOURCE
from reach2revenue.sources.linkedin_ads.errors import error_message, is_throttle
from reach2revenue.sources.linkedin_ads.extract import (
    ElementCapError,
    analytics_query,
    campaign_search_query,
    extract_linkedin_ads,
    linkedin_client,
    report_days,
    running_campaigns,
    slice_days,
)
from reach2revenue.sources.linkedin_ads.flatten import (
    ad_account_rows,
    analytics_rows,
    campaign_rows,
)
from reach2revenue.sources.linkedin_ads.restli import restli_list, restli_record
from reach2revenue.sources.linkedin_ads.settings import (
    ANALYTICS_COLUMNS,
    DEFAULT_API_VERSION,
    LinkedInAdsOptions,
)

TOKEN = "li-test-token-7c3e91"
START = date(2026, 9, 1)
DAYS = 8
# Three hours into the UTC day after the last report day: every day is served.
CLOCK = datetime(2026, 9, 9, 3, 0, tzinfo=UTC)
FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05, max_retry_after=0.05)
TABLES = {(table.source, table.entity): table for table in SOURCE.tables}
FIXTURES = Path(__file__).parent / "fixtures"
ANALYTICS_PATH = "/rest/adAnalytics"


def day(n: int) -> date:
    """World day ``n`` (0 = START)."""
    return START + timedelta(days=n)


@pytest.fixture(scope="module")
def world() -> World:
    """A small world: 8 report days at scale 0.3."""
    return World.generate(seed=11, start=START, days=DAYS, scale=0.3)


@pytest.fixture
def part(world: World) -> LinkedInAdsPart:
    """A fresh LinkedIn part (tests may change it)."""
    return LinkedInAdsPart.generate(world, 11)


@contextmanager
def serve(part: LinkedInAdsPart, **kwargs: Any) -> Iterator[LinkedInAdsServer]:
    """A running stand-in for ``part``, built as `start_standins` builds it."""
    kwargs.setdefault("rate_limits", False)
    server = LinkedInAdsServer.from_world(
        SimpleNamespace(parts={"linkedin_ads": part}), token=TOKEN, clock=CLOCK, **kwargs
    ).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server(part: LinkedInAdsPart) -> Iterator[LinkedInAdsServer]:
    with serve(part) as running:
        yield running


def creds(server: LinkedInAdsServer, token: str = TOKEN, **options: Any) -> Credentials:
    """Credentials for every account of the served part, as the connection gives them."""
    extra = server.connection(token)["extra"] | options
    return Credentials(server.url, token, parse_options(SOURCE, extra))


def extract(
    server: LinkedInAdsServer,
    landing: Path,
    start: date,
    end: date,
    *,
    lookback_days: int = 0,
    token: str = TOKEN,
    retry: RetryPolicy = FAST_RETRY,
    **options: Any,
) -> list[Path]:
    """Run the extractor with test-friendly defaults."""
    return extract_linkedin_ads(
        creds(server, token),
        interval_start=start,
        interval_end=end,
        landing_dir=landing,
        lookback_days=lookback_days,
        retry=retry,
        **options,
    )


def load(con: duckdb.DuckDBPyConnection, landing: Path, paths: Sequence[Path]) -> None:
    """Merge like the pipeline does, then advance the cursors."""
    raw.ensure_raw_schema(con, SOURCE.tables)
    for batch in raw.batches_from_manifests(paths, TABLES):
        raw.merge_batch(con, batch)
        cursors.advance_cursor(landing, batch.source, batch.entity, batch.loaded_through)


def part_rows(
    part: LinkedInAdsPart, days: Sequence[date] | None = None, account: str | None = None
) -> set[tuple[str, ...]]:
    """The part's analytics rows as raw-table tuples (API text)."""
    return {
        (
            r.account_id,
            f"urn:li:sponsoredCampaign:{r.campaign_id}",
            f"urn:li:geo:{r.geo_id}",
            r.day.isoformat(),
            str(r.impressions),
            str(r.clicks),
            r.cost_in_local_currency,
            str(r.external_website_conversions),
            str(r.one_click_leads),
        )
        for r in part.rows
        if (days is None or r.day in days) and (account is None or r.account_id == account)
    }


def raw_rows(con: duckdb.DuckDBPyConnection, account: str | None = None) -> set[tuple[str, ...]]:
    """What ``raw.linkedin_ads_ad_analytics`` holds, in the shape of `part_rows`."""
    where = f"where account_id = '{account}'" if account else ""
    return set(
        con.execute(
            "select account_id, pivot_campaign, pivot_member_country_v2, date_range_start, "
            "impressions, clicks, cost_in_local_currency, external_website_conversions, "
            f"one_click_leads from raw.linkedin_ads_ad_analytics {where}"
        ).fetchall()
    )


def days_until(n: int) -> list[date]:
    return [day(i) for i in range(n)]


def busiest_account(part: LinkedInAdsPart) -> tuple[str, int]:
    """The account with most rows and its largest number of rows on one day."""
    by_day: dict[tuple[str, date], int] = {}
    for row in part.rows:
        by_day[(row.account_id, row.day)] = by_day.get((row.account_id, row.day), 0) + 1
    account = max(
        part.accounts, key=lambda a: sum(1 for r in part.rows if r.account_id == a.account_id)
    )
    return account.account_id, max(n for (a, _), n in by_day.items() if a == account.account_id)


# --------------------------------------------------------------------------- queries


def test_queries_are_written_in_restli_2_form() -> None:
    assert analytics_query("123", date(2024, 3, 1), date(2024, 3, 31)) == (
        "q=statistics&pivots=List(CAMPAIGN,MEMBER_COUNTRY_V2)&timeGranularity=DAILY"
        "&dateRange=(start:(year:2024,month:3,day:1),end:(year:2024,month:3,day:31))"
        "&accounts=List(urn%3Ali%3AsponsoredAccount%3A123)"
        "&fields=dateRange,pivotValues,impressions,clicks,costInLocalCurrency,"
        "externalWebsiteConversions,oneClickLeads"
    )
    assert campaign_search_query("tok=1") == (
        "q=search&search=(status:(values:List(ACTIVE,PAUSED,ARCHIVED,COMPLETED,CANCELED,"
        "DRAFT,PENDING_DELETION,REMOVED)))&pageSize=1000&pageToken=tok%3D1"
    )
    # The encoder and the stand-in's parser are separate code: reserved characters inside
    # values survive the round trip, structure stays structure.
    awkward = ["a,b", "c:d", "(e)", "List(f)", "g h&i=j", "urn:li:geo:103644278"]
    value = restli_record({"values": restli_list(awkward), "key:x": "v"})
    assert parse_restli(str(value)) == {"values": awkward, "key:x": "v"}


# --------------------------------------------------------------------------- extraction


def test_extraction_lands_every_row_campaign_and_account(
    part: LinkedInAdsPart,
    server: LinkedInAdsServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Campaign search pages of two, so the cursor paging is exercised.
    monkeypatch.setattr(linkedin_extract, "CAMPAIGN_PAGE_SIZE", 2)
    paths = extract(server, tmp_path, START, day(DAYS), chunk_days=5)

    manifests = [read_manifest(p) for p in paths]
    accounts = [a.account_id for a in part.accounts]
    assert [m.entity for m in manifests] == ["ad_accounts"] + [
        entity for _ in accounts for entity in ("campaigns", "ad_analytics", "ad_analytics")
    ]
    assert sum(m.request_count for m in manifests) == server.stats()["total"]
    first = next(m for m in manifests if m.entity == "ad_analytics")
    assert (first.window_start, first.window_end, first.partition_date) == (
        "2026-09-01",
        "2026-09-06",
        "2026-09-05",
    )
    assert first.extraction_id.startswith(f"{accounts[0]}-")
    assert first.params["api_version"] == DEFAULT_API_VERSION
    assert first.params["date_range"] == {"start": "2026-09-01", "end": "2026-09-05"}
    assert first.params["pivots"] == ["CAMPAIGN", "MEMBER_COUNTRY_V2"]
    assert paths[1].parent.parent.name == "date=2026-09-08"
    campaign_pages = [len(m.pages) for m in manifests if m.entity == "campaigns"]
    assert max(campaign_pages) > 1  # paged by metadata.nextPageToken

    con = duckdb.connect()
    load(con, tmp_path, paths)
    assert raw_rows(con) == part_rows(part)
    assert con.execute("select count(*) from raw.linkedin_ads_ad_analytics").fetchall()[0][0] == (
        len(part.rows)
    )
    stored = con.execute("select id, name, status from raw.linkedin_ads_campaigns").fetchall()
    assert sorted(stored) == sorted((c.campaign_id, c.name, c.status) for c in part.campaigns)
    currencies = con.execute("select id, currency from raw.linkedin_ads_ad_accounts").fetchall()
    assert dict(currencies) == {a.account_id: a.currency for a in part.accounts}
    # Landed pages are the API's JSON (counts as numbers, cost as text), no token anywhere.
    for landed in tmp_path.rglob("*.json"):
        assert TOKEN not in landed.read_text()
    element = json.loads(first.page_paths()[0].read_text())["elements"][0]
    assert isinstance(element["impressions"], int)
    assert isinstance(element["costInLocalCurrency"], str)


def test_slices_are_planned_below_the_cap() -> None:
    # 500 elements a day fill 80% of 15,000 in 24 days: 31 days take two even slices.
    assert slice_days(day(0), day(30), 500) == [(day(0), day(15)), (day(16), day(30))]
    assert slice_days(day(0), day(30), 0) == [(day(0), day(30))]
    assert slice_days(day(0), day(2), 20_000) == [
        (day(0), day(0)),
        (day(1), day(1)),
        (day(2), day(2)),
    ]
    schedule = [
        {"runSchedule": {"start": 1788220800000}},  # from 2026-09-01
        {"runSchedule": {"start": 1756684800000, "end": 1756771200000}},  # 2025-09-01 only
        {"runSchedule": {"start": 1790812800000}},  # from 2026-10-01
        {},  # no schedule: counted
    ]
    assert running_campaigns(schedule, day(0), day(29)) == 2


def test_capped_slice_is_split_and_asked_again(part: LinkedInAdsPart, tmp_path: Path) -> None:
    account, most_in_a_day = busiest_account(part)
    cap = most_in_a_day + 1  # one day always fits, several days never do
    with serve(part, element_cap=cap) as server:
        # An estimate of one country per campaign under-sizes the slices on purpose.
        paths = extract(
            server,
            tmp_path,
            START,
            day(DAYS),
            account_ids=[account],
            element_cap=cap,
            countries_per_campaign=1,
        )
        total_requests = server.stats()["total"]
    (analytics,) = [read_manifest(p) for p in paths if "ad_analytics" in str(p)]
    requests = analytics.params["requests"]
    capped = [r for r in requests if r["capped"]]
    assert capped and analytics.params["splits"] == len(capped)
    assert all(r["elements"] == cap and r["page"] is None for r in capped)
    assert all(r["elements"] < cap for r in requests if not r["capped"])
    assert len(analytics.pages) == len(requests) - len(capped)
    assert analytics.request_count == len(requests)
    assert sum(read_manifest(p).request_count for p in paths) == total_requests
    # The landed slices cover every day exactly once.
    landed = sorted((r["start"], r["end"]) for r in requests if not r["capped"])
    covered = [d for start, end in landed for d in _days(start, end)]
    assert covered == [day(n).isoformat() for n in range(DAYS)]

    con = duckdb.connect()
    load(con, tmp_path, paths)
    assert raw_rows(con) == part_rows(part, account=account)


def test_later_slices_are_sized_from_the_answers(part: LinkedInAdsPart, tmp_path: Path) -> None:
    account, most_in_a_day = busiest_account(part)
    cap = 8 * most_in_a_day  # any 7 days fit
    with serve(part, element_cap=cap) as server:
        # An estimate of a whole cap a day plans one day a slice; the answers show better.
        paths = extract(
            server,
            tmp_path,
            START,
            day(DAYS),
            account_ids=[account],
            element_cap=cap,
            countries_per_campaign=cap,
        )
    (analytics,) = [read_manifest(p) for p in paths if "ad_analytics" in str(p)]
    requests = analytics.params["requests"]
    assert (requests[0]["start"], requests[0]["end"]) == (START.isoformat(), START.isoformat())
    assert 1 < len(requests) < DAYS and not analytics.params["splits"]
    covered = [d for r in requests for d in _days(r["start"], r["end"])]
    assert covered == [day(n).isoformat() for n in range(DAYS)]
    con = duckdb.connect()
    load(con, tmp_path, paths)
    assert raw_rows(con) == part_rows(part, account=account)


def test_accounts_land_the_same_side_by_side(
    part: LinkedInAdsPart, server: LinkedInAdsServer, tmp_path: Path
) -> None:
    landed = {}
    for workers in (1, 3):
        server.reset_stats()
        paths = extract(server, tmp_path / str(workers), START, day(DAYS), max_concurrency=workers)
        manifests = [read_manifest(p) for p in paths]
        assert [m.entity for m in manifests] == ["ad_accounts"] + [
            entity for _ in part.accounts for entity in ("campaigns", "ad_analytics")
        ]
        assert sum(m.request_count for m in manifests) == server.stats()["total"]
        con = duckdb.connect()
        load(con, tmp_path / str(workers), paths)
        landed[workers] = raw_rows(con)
    assert landed[1] == landed[3] == part_rows(part)
    assert LinkedInAdsOptions(("1",)).max_concurrency == 1
    with pytest.raises(ConfigurationError, match=r"max_concurrency must be 1\.\.16"):
        LinkedInAdsOptions(("1",), max_concurrency=0)


def _days(start: str, end: str) -> list[str]:
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def test_a_single_day_at_the_cap_fails_clearly(part: LinkedInAdsPart, tmp_path: Path) -> None:
    account, most_in_a_day = busiest_account(part)
    with serve(part, element_cap=most_in_a_day) as server, pytest.raises(ElementCapError) as caught:
        extract(
            server, tmp_path, START, day(DAYS), account_ids=[account], element_cap=most_in_a_day
        )
    message = str(caught.value)
    assert f"account {account} has {most_in_a_day} elements on 2026-09-" in message
    assert f"stops silently at {most_in_a_day}" in message
    assert TOKEN not in message
    landed = {read_manifest(p).entity for p in tmp_path.rglob("_manifest.json")}
    assert landed == {"ad_accounts", "campaigns"}  # no analytics of an incomplete day


# --------------------------------------------------------------------------- incremental


def test_second_run_fetches_new_days_and_replaces_restated_ones(
    part: LinkedInAdsPart, server: LinkedInAdsServer, tmp_path: Path
) -> None:
    con = duckdb.connect()
    first = extract(server, tmp_path, START, day(5))
    load(con, tmp_path, first)
    assert raw_rows(con) == part_rows(part, days_until(5))

    # LinkedIn restates day 3 (late cost), drops a row of day 4 (privacy threshold), and the
    # campaign behind that row is deleted in Campaign Manager.
    restated = next(r for r in part.rows if r.day == day(3))
    restated.cost_in_local_currency = str(
        Decimal(restated.cost_in_local_currency) + Decimal("1.23")
    )
    vanished = next(r for r in part.rows if r.day == day(4))
    part.rows.remove(vanished)
    removed = next(c for c in part.campaigns if c.campaign_id == vanished.campaign_id)
    removed.status = "REMOVED"
    server.reindex()
    server.reset_stats()

    # The next nightly run (day 5) re-fetches the 3 days before it, and nothing older.
    second = extract(server, tmp_path, day(5), day(6), lookback_days=3)
    analytics = [read_manifest(p) for p in second if "ad_analytics" in str(p)]
    assert {(m.window_start, m.window_end) for m in analytics} == {("2026-09-03", "2026-09-07")}
    assert {m.params["date_range"]["start"] for m in analytics} == {"2026-09-03"}
    load(con, tmp_path, second)
    assert raw_rows(con) == part_rows(part, days_until(6))
    key = (vanished.account_id, vanished.campaign_id, vanished.geo_id, vanished.day.isoformat())
    assert not con.execute(
        "select 1 from raw.linkedin_ads_ad_analytics where account_id = ? and pivot_campaign = "
        "'urn:li:sponsoredCampaign:' || ? and pivot_member_country_v2 = 'urn:li:geo:' || ? "
        "and date_range_start = ?",
        list(key),
    ).fetchall()
    status = con.execute(
        "select status from raw.linkedin_ads_campaigns where id = ?", [removed.campaign_id]
    ).fetchall()
    assert status == [("REMOVED",)]  # deleted campaigns keep their name for their days
    assert cursors.read_cursor(tmp_path, "linkedin_ads", "ad_analytics").date() == day(6)


def test_missed_runs_leave_no_gap(
    part: LinkedInAdsPart, server: LinkedInAdsServer, tmp_path: Path
) -> None:
    con = duckdb.connect()
    load(con, tmp_path, extract(server, tmp_path, START, day(2)))
    # The runs for days 2-5 failed; the run for day 6 starts at the cursor, not at its
    # one-day lookback.
    paths = extract(server, tmp_path, day(6), day(7), lookback_days=1)
    analytics = {
        (read_manifest(p).window_start, read_manifest(p).window_end)
        for p in paths
        if "ad_analytics" in str(p)
    }
    assert analytics == {("2026-09-03", "2026-09-08")}
    load(con, tmp_path, paths)
    assert raw_rows(con) == part_rows(part, days_until(7))
    # A backfill of old days neither widens the range nor moves the cursor back.
    assert report_days(tmp_path, START, day(1), 0) == [START]
    load(con, tmp_path, extract(server, tmp_path, START, day(1)))
    assert cursors.read_cursor(tmp_path, "linkedin_ads", "ad_analytics").date() == day(7)


# --------------------------------------------------------------------------- truth


def test_raw_keeps_money_days_and_geo_as_sent_and_they_match_the_truth(
    part: LinkedInAdsPart, tmp_path: Path
) -> None:
    # A member country the seed does not know: raw keeps its URN, the truth has no country.
    template = part.rows[0]
    part.rows.append(
        dataclasses.replace(template, geo_id="999999999", cost_in_local_currency="1.50")
    )
    with serve(part) as server:
        paths = extract(server, tmp_path, START, day(DAYS))
    con = duckdb.connect()
    load(con, tmp_path, paths)
    currency = dict(con.execute("select id, currency from raw.linkedin_ads_ad_accounts").fetchall())
    geo = load_geo_countries()
    facts = {
        (f.account_id, f.report_date.isoformat(), f.spend, f.impressions, f.clicks, f.leads): f
        for f in part.ad_facts()
    }
    stored = con.execute(
        "select account_id, date_range_start, date_range_end, pivot_member_country_v2, "
        "cost_in_local_currency, impressions, clicks, one_click_leads "
        "from raw.linkedin_ads_ad_analytics"
    ).fetchall()
    assert len(stored) == len(facts) == len(part.rows)
    for account, start, end, geo_urn, cost, impressions, clicks, leads in stored:
        fact = facts[(account, start, Decimal(cost), int(impressions), int(clicks), int(leads))]
        # The UTC day as LinkedIn buckets it, never shifted; one day per element.
        assert start == end == fact.report_date.isoformat()
        assert currency[account] == fact.currency
        # The seed maps the geo URN to the country the mart must show (None: Unassigned).
        assert geo.get(geo_urn.removeprefix("urn:li:geo:")) == fact.country_code
        assert fact.reach is None
        # Money stays the API's decimal text, whole yen in the JPY account.
        pattern = r"^[0-9]+$" if fact.currency == "JPY" else r"^[0-9]+(?:\.[0-9]{1,2})?$"
        assert re.match(pattern, cost), (fact.currency, cost)
    assert "JPY" in currency.values()
    assert ("urn:li:geo:999999999",) in con.execute(
        "select pivot_member_country_v2 from raw.linkedin_ads_ad_analytics"
    ).fetchall()


# --------------------------------------------------------------------------- errors


def test_throttling_is_retried(part: LinkedInAdsPart, tmp_path: Path) -> None:
    # Injected 429s with LinkedIn's body: retried, counted, nothing lost.
    with serve(part) as server:
        server.inject_fault(ANALYTICS_PATH, 429, count=2)
        paths = extract(server, tmp_path / "faults", START, day(DAYS))
        statuses = server.stats()["statuses"]
    assert statuses["429"] == 2
    manifests = [read_manifest(p) for p in paths]
    assert sum(m.request_count for m in manifests) == sum(statuses.values())
    con = duckdb.connect()
    load(con, tmp_path / "faults", paths)
    assert raw_rows(con) == part_rows(part)

    # The stand-in's own throttle: one call per endpoint in any 0.1 s.
    patient = RetryPolicy(max_attempts=12, base_delay=0.01, max_delay=0.05)
    with serve(part, rate_limits=True, calls_per_window=1, window_seconds=0.1) as server:
        paths = extract(server, tmp_path / "limits", START, day(2), retry=patient)
        statuses = server.stats()["statuses"]
    assert statuses.get("429", 0) > 0
    assert sum(read_manifest(p).request_count for p in paths) == sum(statuses.values())
    body = {"status": 429, "code": "TOO_MANY_REQUESTS", "message": "limit reached"}
    assert is_throttle(429, body) and is_throttle(400, body)
    assert not is_throttle(401, {"status": 401, "code": "EXPIRED_ACCESS_TOKEN"})


def test_expired_or_wrong_token_fails_at_once(server: LinkedInAdsServer, tmp_path: Path) -> None:
    server.inject_fault("/", 401, count=5)
    with pytest.raises(ApiRequestError) as caught:
        extract(server, tmp_path, START, day(1))
    message = str(caught.value)
    assert caught.value.status == 401 and caught.value.attempts == 1
    assert "linkedin_ads" in message and "HTTP 401" in message
    assert "The token used in the request has expired (EXPIRED_ACCESS_TOKEN)" in message
    assert TOKEN not in message
    assert server.stats()["total"] == 1  # not retried

    server.clear_faults()
    server.reset_stats()
    with pytest.raises(ApiRequestError) as caught:
        extract(server, tmp_path, START, day(1), token="wrong-token-xyz")
    assert caught.value.status == 401 and "INVALID_ACCESS_TOKEN" in str(caught.value)
    assert "wrong-token-xyz" not in str(caught.value)
    assert server.stats()["total"] == 1
    assert not list(tmp_path.rglob("_manifest.json"))


def test_sunset_version_fails_at_once(server: LinkedInAdsServer, tmp_path: Path) -> None:
    with pytest.raises(ApiRequestError) as caught:
        extract(server, tmp_path, START, day(1), api_version="202306")
    assert caught.value.status == 426
    assert "Requested version 202306 is not active (NONEXISTENT_VERSION)" in str(caught.value)
    assert server.stats()["total"] == 1


def test_server_errors_are_retried_then_given_up(
    part: LinkedInAdsPart, server: LinkedInAdsServer, tmp_path: Path
) -> None:
    server.inject_fault(ANALYTICS_PATH, 500, count=1)
    server.inject_fault(ANALYTICS_PATH, 503, count=1)
    account = part.accounts[0].account_id
    paths = extract(server, tmp_path, START, day(1), account_ids=[account])
    assert server.stats()["statuses"] == {"500": 1, "503": 1, "200": 3}
    con = duckdb.connect()
    load(con, tmp_path, paths)
    assert raw_rows(con) == part_rows(part, [START], account)

    server.inject_fault(ANALYTICS_PATH, 503, count=10)
    with pytest.raises(ApiRetryError) as caught:
        extract(
            server,
            tmp_path / "again",
            START,
            day(1),
            account_ids=[account],
            retry=RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.001),
        )
    assert caught.value.status == 503 and caught.value.attempts == 3
    assert "Service Unavailable (SERVICE_UNAVAILABLE)" in str(caught.value)


def test_error_bodies_read_as_linkedin_writes_them() -> None:
    bad = {
        "errorDetailType": "com.linkedin.common.error.BadRequest",
        "message": "Invalid param. Please see errorDetails for more information.",
        "errorDetails": {
            "inputErrors": [
                {
                    "description": "Invalid value for param; wrong type or other syntax error",
                    "input": {"inputPath": {"fieldPath": "search"}},
                    "code": "PARAM_INVALID",
                }
            ]
        },
    }
    assert error_message(bad, "") == (
        "Invalid param. Please see errorDetails for more information.: "
        "search: Invalid value for param; wrong type or other syntax error"
    )
    assert error_message(None, "<html>Bad gateway</html>") == "<html>Bad gateway</html>"


# --------------------------------------------------------------------------- recorded shape


def _land(tmp_path: Path, entity: str, fixture: str, params: dict[str, Any]) -> Manifest:
    directory = tmp_path / entity
    page = write_page(directory, 1, (FIXTURES / fixture).read_text(encoding="utf-8"))
    manifest = Manifest(
        source="linkedin_ads",
        entity=entity,
        partition_date="2024-03-02",
        window_start="2024-03-01",
        window_end="2024-03-03",
        extraction_id="508410001-recorded",
        extracted_at="2024-03-03T02:00:00Z",
        pages=[page],
        record_count=0,
        request_count=1,
        params=params,
    )
    write_manifest(directory, manifest)
    return manifest


def _shape(value: Any) -> Any:
    """Keys and value types of a JSON value, recursively (lists by their first item)."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def test_recorded_answers_and_standin_answers_parse_alike(
    part: LinkedInAdsPart, server: LinkedInAdsServer, tmp_path: Path
) -> None:
    analytics = _land(
        tmp_path, "ad_analytics", "ad_analytics_statistics.json", {"account_id": "508410001"}
    )
    rows = analytics_rows(analytics)
    assert [tuple(r[c] for c in ANALYTICS_COLUMNS) for r in rows] == [
        (
            "508410001",
            "2024-03-01",
            "2024-03-01",
            "urn:li:sponsoredCampaign:123456",
            "urn:li:geo:103644278",
            "4000",
            "80",
            "123.45",
            "3",
            "2",
        ),
        (
            "508410001",
            "2024-03-01",
            "2024-03-01",
            "urn:li:sponsoredCampaign:123456",
            "urn:li:geo:101282230",
            "950",
            "12",
            "31.2",
            "0",
            "0",
        ),
        (
            "508410001",
            "2024-03-02",
            "2024-03-02",
            "urn:li:sponsoredCampaign:123457",
            "urn:li:geo:101165590",
            "210",
            "0",
            "0",
            "0",
            None,
        ),
    ]
    assert all(r["_extraction_id"] == "508410001-recorded" for r in rows)
    campaigns = campaign_rows(_land(tmp_path, "campaigns", "ad_campaigns_search.json", {}))
    assert [(r["id"], r["account"], r["status"], r["run_schedule_end"]) for r in campaigns] == [
        ("123456", "urn:li:sponsoredAccount:508410001", "ACTIVE", None),
        ("123457", "urn:li:sponsoredAccount:508410001", "REMOVED", "1711843200000"),
    ]
    (account,) = ad_account_rows(_land(tmp_path, "ad_accounts", "ad_account.json", {}))
    assert (account["id"], account["currency"], account["test"]) == ("508410001", "EUR", "false")

    # The stand-in answers in the recorded shapes, read by the same client and flatteners.
    recorded = {
        name: json.loads((FIXTURES / name).read_text(encoding="utf-8"))
        for name in ("ad_analytics_statistics.json", "ad_campaigns_search.json", "ad_account.json")
    }
    account_id = part.accounts[0].account_id
    with linkedin_client(creds(server), DEFAULT_API_VERSION, retry=FAST_RETRY) as client:
        served_analytics = client.get(
            f"rest/adAnalytics?{analytics_query(account_id, START, START)}"
        ).data
        served_campaigns = client.get(
            f"rest/adAccounts/{account_id}/adCampaigns?{campaign_search_query()}"
        ).data
        served_account = client.get(f"rest/adAccounts/{account_id}").data
    assert _shape(served_analytics) == _shape(recorded["ad_analytics_statistics.json"])
    assert _shape(served_campaigns["elements"][0]) == _shape(
        recorded["ad_campaigns_search.json"]["elements"][0]
    )
    assert _shape(served_account) == _shape(recorded["ad_account.json"])
    assert set(served_analytics) == {"paging", "elements"}


# --------------------------------------------------------------------------- round trip


@pytest.fixture(scope="module")
def settings() -> Settings:
    """Settings pointing at the repository's suites."""
    return dataclasses.replace(Settings.from_env(), expectations_dir=REPO_ROOT / "expectations")


def _snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table.name: sorted(
            con.execute(f"select * exclude (_loaded_at) from {table.qualified_name}").fetchall()
        )
        for table in SOURCE.tables
    }


def test_flatten_validate_merge_round_trip(
    part: LinkedInAdsPart, server: LinkedInAdsServer, tmp_path: Path, settings: Settings
) -> None:
    paths = extract(server, tmp_path, START, day(DAYS), chunk_days=3)
    batches = raw.batches_from_manifests(paths, TABLES)
    assert [b.entity for b in batches] == ["ad_accounts", "campaigns", "ad_analytics"]
    for batch in batches:
        report = validate_batch(
            batch.source, batch.entity, batch.frame, label=batch.label, settings=settings
        )
        assert report.success and report.row_count == len(batch.frame)
    con = duckdb.connect()
    raw.ensure_raw_schema(con, SOURCE.tables)
    for batch in batches:
        raw.merge_batch(con, batch)
    assert raw_rows(con) == part_rows(part)
    first = _snapshot(con)
    assert len(first["linkedin_ads_campaigns"]) == len(part.campaigns)
    assert len(first["linkedin_ads_ad_accounts"]) == len(part.accounts)

    # Merging the same manifests again changes nothing.
    for batch in raw.batches_from_manifests(paths, TABLES):
        raw.merge_batch(con, batch)
    assert _snapshot(con) == first

    # A batch the suite must stop: a pivot value that is no geo URN.
    analytics = batches[-1].frame.copy()
    analytics.loc[0, "pivot_member_country_v2"] = "US"
    with pytest.raises(DataQualityError) as caught:
        validate_batch("linkedin_ads", "ad_analytics", analytics, label="bad", settings=settings)
    assert "pivot_member_country_v2" in str(caught.value)

    # An account-day without activity: the empty answer is a valid batch.
    empty = pd.DataFrame(
        columns=[*ANALYTICS_COLUMNS, "_landed_file", "_extraction_id"], dtype=object
    )
    assert validate_batch(
        "linkedin_ads", "ad_analytics", empty, label="none", settings=settings
    ).success


# --------------------------------------------------------------------------- options


def test_options_from_connection_extra_or_environment() -> None:
    options = parse_options(SOURCE, {"account_ids": "urn:li:sponsoredAccount:508410001, 508410002"})
    assert options == LinkedInAdsOptions(("508410001", "508410002"), DEFAULT_API_VERSION)
    env = {
        "R2R_LINKEDIN_ADS_TOKEN": "t0ken-abc",
        "R2R_LINKEDIN_ADS_ACCOUNT_IDS": "508410001",
        "R2R_LINKEDIN_ADS_API_VERSION": "202611",
    }
    credentials = get_credentials(SOURCE, env)
    assert credentials.base_url == "https://api.linkedin.com"
    assert credentials.options == LinkedInAdsOptions(("508410001",), "202611")
    with pytest.raises(CredentialsError, match="LinkedIn-Version is YYYYMM"):
        parse_options(SOURCE, {"account_ids": ["1"], "api_version": "2024-11"})
    with pytest.raises(CredentialsError, match="account ids are numbers"):
        parse_options(SOURCE, {"account_ids": ["act_1"]})
    with pytest.raises(CredentialsError):
        parse_options(SOURCE, {})


def test_standin_serves_what_the_part_holds(part: LinkedInAdsPart) -> None:
    # A row added to the part before the server starts is served; an unknown account is not.
    template = part.rows[0]
    part.rows.append(dataclasses.replace(template, day=day(DAYS - 1), geo_id="105490917"))
    with serve(part) as server:
        assert server.connection_extra() == {"account_ids": [a.account_id for a in part.accounts]}
        with linkedin_client(creds(server), DEFAULT_API_VERSION, retry=FAST_RETRY) as client:
            query = analytics_query(template.account_id, day(DAYS - 1), day(DAYS - 1))
            elements = client.get(f"rest/adAnalytics?{query}").data["elements"]
            assert ["urn:li:sponsoredCampaign:" + template.campaign_id, "urn:li:geo:105490917"] in [
                e["pivotValues"] for e in elements
            ]
            with pytest.raises(ApiRequestError) as caught:
                client.get("rest/adAccounts/999")
    assert caught.value.status == 404
