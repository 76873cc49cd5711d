"""The LinkedIn stand-in as any HTTP client sees it: Rest.li parsing, finders, errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from reach2revenue.sandbox.standins.linkedin_ads import (
    LinkedInAdsServer,
    RestliSyntaxError,
    parse_restli,
)
from reach2revenue.sandbox.world import World
from reach2revenue.sandbox.world.linkedin_ads import LinkedInAdsPart, LinkedInCampaign

TOKEN = "li-standin-token-41b7"
START = date(2026, 9, 1)
CLOCK = datetime(2026, 9, 6, 1, 0, tzinfo=UTC)  # days 1-5 served, day 6 has begun
HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "LinkedIn-Version": "202610",
    "X-Restli-Protocol-Version": "2.0.0",
}
DAY_1 = "(start:(year:2026,month:9,day:1),end:(year:2026,month:9,day:1))"


@pytest.fixture(scope="module")
def world() -> World:
    return World.generate(seed=3, start=START, days=6, scale=0.3)


@pytest.fixture(scope="module")
def part(world: World) -> LinkedInAdsPart:
    return LinkedInAdsPart.generate(world, 3)


@pytest.fixture(scope="module")
def server(part: LinkedInAdsPart) -> Iterator[LinkedInAdsServer]:
    running = LinkedInAdsServer.from_world(
        SimpleNamespace(parts={"linkedin_ads": part}), token=TOKEN, clock=CLOCK, rate_limits=False
    ).start()
    try:
        yield running
    finally:
        running.stop()


def get(server: LinkedInAdsServer, path_and_query: str, **headers: str) -> requests.Response:
    """A GET with the query sent exactly as written (no client-side encoding)."""
    sent = {k: v for k, v in (HEADERS | headers).items() if v}
    return requests.get(f"{server.url}{path_and_query}", headers=sent, timeout=10)


def account_urn(part: LinkedInAdsPart) -> str:
    return f"urn%3Ali%3AsponsoredAccount%3A{part.accounts[0].account_id}"


def statistics(part: LinkedInAdsPart, **overrides: str) -> str:
    params = {
        "q": "statistics",
        "pivots": "List(CAMPAIGN,MEMBER_COUNTRY_V2)",
        "timeGranularity": "DAILY",
        "dateRange": DAY_1,
        "accounts": f"List({account_urn(part)})",
        "fields": "dateRange,pivotValues,impressions,costInLocalCurrency",
    } | overrides
    return "/rest/adAnalytics?" + "&".join(f"{k}={v}" for k, v in params.items() if v)


def input_error(response: requests.Response) -> dict[str, Any]:
    body = response.json()
    assert body["errorDetailType"] == "com.linkedin.common.error.BadRequest"
    return body["errorDetails"]["inputErrors"][0]


def test_restli_values_parse_structure_first() -> None:
    assert parse_restli("List(CAMPAIGN,MEMBER_COUNTRY_V2)") == ["CAMPAIGN", "MEMBER_COUNTRY_V2"]
    assert parse_restli("(start:(year:2024,month:3,day:1))") == {
        "start": {"year": "2024", "month": "3", "day": "1"}
    }
    assert parse_restli("List(urn%3Ali%3Ageo%3A1,a%2Cb)") == ["urn:li:geo:1", "a,b"]
    assert parse_restli("List()") == [] and parse_restli("()") == {}
    for malformed in ("List(urn:li:geo:1)", "List(a,b", "(a:1,b)", "(a:1))", "(:1)"):
        with pytest.raises(RestliSyntaxError):
            parse_restli(malformed)


def test_statistics_serve_the_part_rows_in_the_api_shape(
    part: LinkedInAdsPart, server: LinkedInAdsServer
) -> None:
    response = get(server, statistics(part))
    assert response.status_code == 200
    body = response.json()
    account = part.accounts[0].account_id
    expected = sorted(
        (f"urn:li:sponsoredCampaign:{r.campaign_id}", f"urn:li:geo:{r.geo_id}", r.impressions)
        for r in part.rows
        if r.account_id == account and r.day == START
    )
    assert sorted((*e["pivotValues"], e["impressions"]) for e in body["elements"]) == expected
    element = body["elements"][0]
    assert set(element) == {"dateRange", "pivotValues", "impressions", "costInLocalCurrency"}
    assert element["dateRange"] == {
        "start": {"year": 2026, "month": 9, "day": 1},
        "end": {"year": 2026, "month": 9, "day": 1},
    }
    assert body["paging"] == {"start": 0, "count": 10, "links": []}


def test_single_pivot_and_all_granularity_sum_the_rows(
    part: LinkedInAdsPart, server: LinkedInAdsServer
) -> None:
    account = part.accounts[0].account_id
    query = statistics(
        part,
        q="analytics",
        pivots="",
        pivot="CAMPAIGN",
        timeGranularity="ALL",
        dateRange="(start:(year:2026,month:9,day:1),end:(year:2026,month:9,day:30))",
    )
    elements = get(server, query).json()["elements"]
    served_days = [r for r in part.rows if r.account_id == account and r.day <= date(2026, 9, 6)]
    for element in elements:
        campaign = element["pivotValues"][0].removeprefix("urn:li:sponsoredCampaign:")
        rows = [r for r in served_days if r.campaign_id == campaign]
        assert element["impressions"] == sum(r.impressions for r in rows)
        assert Decimal(element["costInLocalCurrency"]) == sum(
            Decimal(r.cost_in_local_currency) for r in rows
        )
        # ALL spans the asked range; days after the server clock's day have no data yet.
        assert element["dateRange"]["end"] == {"year": 2026, "month": 9, "day": 30}
    assert {e["pivotValues"][0] for e in elements} == {
        f"urn:li:sponsoredCampaign:{r.campaign_id}" for r in served_days
    }
    assert all(r.day < date(2026, 9, 7) for r in served_days)


def test_malformed_restli_is_a_400_naming_the_parameter(
    part: LinkedInAdsPart, server: LinkedInAdsServer
) -> None:
    account = part.accounts[0].account_id
    unencoded = get(server, statistics(part, accounts=f"List(urn:li:sponsoredAccount:{account})"))
    assert unencoded.status_code == 400
    assert input_error(unencoded)["input"]["inputPath"]["fieldPath"] == "accounts"
    # What an HTTP library's own parameter encoding makes of it: structure encoded too.
    encoded = requests.get(
        f"{server.url}/rest/adAnalytics",
        params={
            "q": "statistics",
            "pivots": "List(CAMPAIGN,MEMBER_COUNTRY_V2)",
            "timeGranularity": "DAILY",
            "dateRange": DAY_1,
            "accounts": f"List(urn%3Ali%3AsponsoredAccount%3A{account})",
        },
        headers=HEADERS,
        timeout=10,
    )
    assert encoded.status_code == 400
    assert input_error(encoded)["input"]["inputPath"]["fieldPath"] == "pivots"
    for overrides, field in (
        ({"pivot": "CAMPAIGN"}, "pivots"),
        ({"pivots": "List(CAMPAIGN,CAMPAIGN)"}, "pivots"),
        ({"pivots": "List(CREATIVE)"}, "pivots"),
        ({"timeGranularity": "MONTHLY"}, "timeGranularity"),
        (
            {"dateRange": "(start:(year:2026,month:9,day:2),end:(year:2026,month:9,day:1))"},
            "dateRange",
        ),
        ({"fields": "pivotValues,approximateMemberReach"}, "fields"),
        ({"accounts": ""}, "accounts"),
    ):
        response = get(server, statistics(part, **overrides))
        assert response.status_code == 400, overrides
        assert input_error(response)["input"]["inputPath"]["fieldPath"] == field, overrides


def test_headers_and_paths_are_checked(part: LinkedInAdsPart, server: LinkedInAdsServer) -> None:
    missing_version = get(server, statistics(part), **{"LinkedIn-Version": ""})
    assert missing_version.status_code == 400
    assert missing_version.json()["code"] == "VERSION_MISSING"
    sunset = get(server, statistics(part), **{"LinkedIn-Version": "202212"})
    assert (sunset.status_code, sunset.json()["code"]) == (426, "NONEXISTENT_VERSION")
    restli_1 = get(server, statistics(part), **{"X-Restli-Protocol-Version": ""})
    assert restli_1.status_code == 400
    no_token = get(server, statistics(part), Authorization="")
    assert (no_token.status_code, no_token.json()["code"]) == (401, "EMPTY_ACCESS_TOKEN")
    unknown = get(server, "/rest/adCreatives")
    assert (unknown.status_code, unknown.json()["message"]) == (404, "No virtual resource found")


def test_campaign_search_pages_and_statuses(world: World) -> None:
    part = LinkedInAdsPart.generate(world, 3)
    account = part.accounts[0].account_id
    mine = [c for c in part.campaigns if c.account_id == account]
    removed = mine[-1]
    removed.status = "REMOVED"  # deleted in Campaign Manager: still fetchable by id
    every = (
        "(status:(values:List(ACTIVE,PAUSED,ARCHIVED,COMPLETED,CANCELED,DRAFT,"
        "PENDING_DELETION,REMOVED)))"
    )
    server = LinkedInAdsServer(part, token=TOKEN, clock=CLOCK, rate_limits=False).start()
    try:
        _check_campaign_search(server, part, account, mine, removed, every)
    finally:
        server.stop()


def _check_campaign_search(
    server: LinkedInAdsServer,
    part: LinkedInAdsPart,
    account: str,
    mine: list[LinkedInCampaign],
    removed: LinkedInCampaign,
    every: str,
) -> None:
    found, token, pages = [], "", 0
    while True:
        page_token = f"&pageToken={token}" if token else ""
        body = get(
            server,
            f"/rest/adAccounts/{account}/adCampaigns?q=search&search={every}&pageSize=1{page_token}",
        ).json()
        pages += 1
        found += body["elements"]
        token = (body.get("metadata") or {}).get("nextPageToken", "")
        if not token:
            break
    assert pages == len(mine) and sorted(e["id"] for e in found) == sorted(
        int(c.campaign_id) for c in mine
    )
    default = get(server, f"/rest/adAccounts/{account}/adCampaigns?q=search").json()["elements"]
    assert "REMOVED" not in {e["status"] for e in default}  # left out unless asked for
    assert len(default) == len(mine) - 1
    one = get(server, f"/rest/adAccounts/{account}/adCampaigns/{removed.campaign_id}").json()
    assert (one["name"], one["status"]) == (removed.name, "REMOVED")
    start_ms = int(datetime.combine(removed.start_date, time(0), tzinfo=UTC).timestamp() * 1000)
    assert one["runSchedule"]["start"] == start_ms
    assert ("end" in one["runSchedule"]) == (removed.end_date is not None)
    too_big = get(server, f"/rest/adAccounts/{account}/adCampaigns?q=search&pageSize=1001")
    assert too_big.status_code == 400
    currency = get(server, f"/rest/adAccounts/{account}?fields=currency").json()
    assert currency == {"currency": part.account(account).currency}
