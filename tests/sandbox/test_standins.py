"""The Meta and HubSpot stand-ins: shapes, paging, filters, clock, faults and limits."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from reach2revenue.sandbox.standins import StandinServers, start_standins
from reach2revenue.sandbox.world import World, epoch_ms, format_instant

TOKEN = "test-token"
START = date(2024, 7, 1)
INSIGHT_FIELDS = (
    "account_id,account_currency,campaign_id,campaign_name,impressions,reach,clicks,spend,actions"
)


@pytest.fixture(scope="module")
def world() -> World:
    """A small world served by most tests (never mutated)."""
    return World.generate(seed=3, start=START, days=21, scale=0.5)


@pytest.fixture(scope="module")
def servers(world: World) -> Iterator[StandinServers]:
    """Both stand-ins, clock after the world's end, without throttling."""
    with start_standins(
        world, token=TOKEN, clock=world.end + timedelta(days=1), rate_limits=False
    ) as running:
        yield running


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A session, as extractors use."""
    with requests.Session() as session:
        yield session


@pytest.fixture(autouse=True)
def _clean(servers: StandinServers, world: World) -> Iterator[None]:
    yield
    servers.set_clock(world.end + timedelta(days=1))
    servers.meta.clear_faults()
    servers.hubspot.clear_faults()


def _bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _insight_params(since: date, until: date, **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "level": "campaign",
        "fields": INSIGHT_FIELDS,
        "time_range": json.dumps({"since": since.isoformat(), "until": until.isoformat()}),
        "time_increment": 1,
        "breakdowns": "country",
    }
    params.update(extra)
    return params


def _expected_meta_rows(world: World, account_id: str, since: date, until: date) -> list[dict]:
    # World rows are stored exactly as the API returns them with every field requested.
    days = world.insights_by_account_day()[account_id]
    return [
        row
        for day in sorted(days)
        if since.isoformat() <= day <= until.isoformat()
        for row in days[day]
    ]


def _fetch_all_meta(http: requests.Session, url: str, params: dict[str, Any]) -> list[dict]:
    rows: list[dict] = []
    response = http.get(url, params=params, headers=_bearer())
    pages = 0
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        rows.extend(body["data"])
        pages += 1
        next_url = body.get("paging", {}).get("next")
        if not next_url:
            return rows
        response = http.get(next_url, headers=_bearer())


# --------------------------------------------------------------------------- Meta


def test_meta_paging_reassembles_the_world(
    servers: StandinServers, world: World, http: requests.Session
) -> None:
    url = f"{servers.meta_url}/v21.0/act_1001/insights"
    until = START + timedelta(days=4)
    servers.meta.reset_stats()
    rows = _fetch_all_meta(http, url, _insight_params(START, until, limit=7))
    expected = _expected_meta_rows(world, "1001", START, until)
    assert rows == expected
    pages = servers.meta.stats()["requests"]["/v21.0/act_1001/insights"]
    assert pages == -(-len(expected) // 7) and pages >= 3


def test_meta_page_shape_and_strings(servers: StandinServers, http: requests.Session) -> None:
    response = http.get(
        f"{servers.meta_url}/v21.0/act_1003/insights",
        params=_insight_params(START, START, limit=2),
        headers=_bearer(),
    )
    body = response.json()
    assert set(body) == {"data", "paging"}
    assert set(body["paging"]) == {"cursors", "next"}
    assert set(body["paging"]["cursors"]) == {"before", "after"}
    assert "after=" in body["paging"]["next"]
    for row in body["data"]:
        for key, value in row.items():
            if key == "actions":
                assert all(isinstance(a["value"], str) for a in value)
            else:
                assert isinstance(value, str), key
        assert row["account_currency"] == "USD"
        assert Decimal(row["spend"]) > 0


def test_meta_honours_fields_and_last_page_has_no_next(
    servers: StandinServers, world: World, http: requests.Session
) -> None:
    params = _insight_params(START, START, fields="spend", limit=500)
    body = http.get(
        f"{servers.meta_url}/v21.0/act_1002/insights", params=params, headers=_bearer()
    ).json()
    assert len(body["data"]) == len(world.insights_for("1002", START))
    assert all(set(r) == {"spend", "date_start", "date_stop", "country"} for r in body["data"])
    assert "next" not in body["paging"]


def test_meta_access_token_param_and_token_errors(
    servers: StandinServers, http: requests.Session
) -> None:
    url = f"{servers.meta_url}/v21.0/act_1001/insights"
    params = _insight_params(START, START, limit=2)
    ok = http.get(url, params={**params, "access_token": TOKEN})
    assert ok.status_code == 200
    assert "access_token=" in ok.json()["paging"]["next"]
    for headers, extra in (({}, {}), (_bearer("wrong"), {}), ({}, {"access_token": "wrong"})):
        bad = http.get(url, params={**params, **extra}, headers=headers)
        assert bad.status_code == 400
        error = bad.json()["error"]
        assert (error["code"], error["type"]) == (190, "OAuthException")
        assert error["fbtrace_id"]


def test_meta_account_and_unknown_account(servers: StandinServers, http: requests.Session) -> None:
    account = http.get(
        f"{servers.meta_url}/v21.0/act_1004",
        params={"fields": "currency,timezone_name"},
        headers=_bearer(),
    )
    assert account.json() == {
        "currency": "AUD",
        "timezone_name": "Australia/Sydney",
        "id": "act_1004",
    }
    missing = http.get(
        f"{servers.meta_url}/v21.0/act_4242/insights",
        params=_insight_params(START, START),
        headers=_bearer(),
    )
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == 100


def test_meta_serves_only_days_up_to_the_clock(
    servers: StandinServers, http: requests.Session
) -> None:
    # 23:30 UTC on 3 July is already 4 July in Sydney but still 3 July in New York.
    servers.set_clock(datetime(2024, 7, 3, 23, 30, tzinfo=UTC))
    last = {}
    for account_id in ("1003", "1004"):
        rows = _fetch_all_meta(
            http,
            f"{servers.meta_url}/v21.0/act_{account_id}/insights",
            _insight_params(START, START + timedelta(days=10), limit=500),
        )
        last[account_id] = max(r["date_start"] for r in rows)
    assert last == {"1003": "2024-07-03", "1004": "2024-07-04"}


def test_meta_fault_injection_then_recovery(
    servers: StandinServers, http: requests.Session
) -> None:
    url = f"{servers.meta_url}/v21.0/act_1001/insights"
    params = _insight_params(START, START)
    queued = http.post(
        f"{servers.meta_url}/__standin/faults",
        json={"path_prefix": "/v21.0/act_1001/insights", "status": 400, "count": 2},
        headers=servers.meta.control_headers(),
    )
    assert queued.status_code == 200
    for _ in range(2):
        throttled = http.get(url, params=params, headers=_bearer())
        assert throttled.status_code == 400
        error = throttled.json()["error"]
        assert error["message"] == "(#17) User request limit reached"
        assert (error["code"], error["error_subcode"], error["is_transient"]) == (17, 2446079, True)
        assert error["type"] == "OAuthException"
    assert http.get(url, params=params, headers=_bearer()).status_code == 200

    servers.meta.inject_fault("/v21.0/", 500)
    broken = http.get(url, params=params, headers=_bearer())
    assert broken.status_code == 500
    error = broken.json()["error"]
    assert error["message"] == "An unknown error occurred"
    assert (error["code"], error["type"], error["is_transient"]) == (1, "OAuthException", True)
    assert http.get(url, params=params, headers=_bearer()).status_code == 200


def test_meta_rate_limit(world: World, http: requests.Session) -> None:
    with start_standins(world, token=TOKEN, meta_calls_per_window=2) as running:
        url = f"{running.meta_url}/v21.0/act_1001"
        statuses = [http.get(url, headers=_bearer()).status_code for _ in range(3)]
        assert statuses == [200, 200, 400]
        error = http.get(url, headers=_bearer()).json()["error"]
        assert (error["code"], error["error_subcode"]) == (17, 2446079)


def test_mutated_world_is_served_as_is(world: World, http: requests.Session) -> None:
    mutated = copy.deepcopy(world)
    dropped = mutated.deals[0].contact_id
    mutated.contacts = [c for c in mutated.contacts if c.id != dropped]
    first = mutated.meta_insights[0]
    with start_standins(mutated, token=TOKEN, rate_limits=False) as running:
        # Edits to a row after start are served without a reindex.
        first["spend"] = "-5.00"
        rows = _fetch_all_meta(
            http,
            f"{running.meta_url}/v21.0/act_{first['account_id']}/insights",
            _insight_params(
                date.fromisoformat(first["date_start"]),
                date.fromisoformat(first["date_start"]),
                limit=500,
            ),
        )
        match = [
            r
            for r in rows
            if (r["campaign_id"], r["country"]) == (first["campaign_id"], first["country"])
        ]
        assert match == [first]
        assert match[0]["spend"] == "-5.00"
        deal_id = mutated.deals[0].id
        assoc = http.get(
            f"{running.hubspot_url}/crm/v4/objects/deals/{deal_id}/associations/contacts",
            headers=_bearer(),
        ).json()
        assert assoc["results"][0]["toObjectId"] == int(dropped)
        missing = http.get(
            f"{running.hubspot_url}/crm/v3/objects/contacts/{dropped}", headers=_bearer()
        )
        assert missing.status_code == 404


# --------------------------------------------------------------------------- HubSpot


def _search(
    http: requests.Session, servers: StandinServers, kind: str, body: dict[str, Any]
) -> requests.Response:
    return http.post(
        f"{servers.hubspot_url}/crm/v3/objects/{kind}/search", json=body, headers=_bearer()
    )


def _search_all(
    http: requests.Session, servers: StandinServers, kind: str, body: dict[str, Any]
) -> tuple[list[dict], int]:
    results: list[dict] = []
    after: str | None = None
    while True:
        page_body = dict(body, after=after) if after else body
        response = _search(http, servers, kind, page_body)
        assert response.status_code == 200, response.text
        page = response.json()
        results.extend(page["results"])
        after = page.get("paging", {}).get("next", {}).get("after")
        if after is None:
            return results, page["total"]


def _window_filter(prop: str, low: datetime, high: datetime) -> list[dict[str, Any]]:
    return [
        {
            "filters": [
                {"propertyName": prop, "operator": "GTE", "value": str(epoch_ms(low))},
                {"propertyName": prop, "operator": "LT", "value": str(epoch_ms(high))},
            ]
        }
    ]


def test_hubspot_search_window_sort_and_paging(
    servers: StandinServers, world: World, http: requests.Session
) -> None:
    low = datetime(2024, 7, 5, tzinfo=UTC)
    high = datetime(2024, 7, 9, tzinfo=UTC)
    body = {
        "filterGroups": _window_filter("lastmodifieddate", low, high),
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["email", "country", "utm_campaign", "hs_analytics_source"],
        "limit": 50,
    }
    results, total = _search_all(http, servers, "contacts", body)
    expected = {
        c.id: v
        for c, v in world.contacts_as_of(servers.hubspot.now())
        if low <= v.valid_from < high
    }
    assert total == len(results) == len(expected) > 50
    assert [r["id"] for r in results] == sorted(
        expected, key=lambda i: (expected[i].valid_from, int(i))
    )
    for result in results:
        version = expected[result["id"]]
        assert result["properties"]["lastmodifieddate"] == format_instant(version.valid_from)
        assert result["updatedAt"] == result["properties"]["lastmodifieddate"]
        assert result["properties"]["country"] == version.properties["country"]
        assert set(result) == {"id", "properties", "createdAt", "updatedAt", "archived"}
        assert result["archived"] is False
        assert set(result["properties"]) == {
            "email",
            "country",
            "utm_campaign",
            "hs_analytics_source",
            "hs_object_id",
            "createdate",
            "lastmodifieddate",
        }

    descending = _search(
        http,
        servers,
        "contacts",
        dict(body, sorts=[{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}]),
    ).json()
    assert [r["id"] for r in descending["results"]] == [r["id"] for r in results[::-1][:50]]


def test_hubspot_search_operators(
    servers: StandinServers, world: World, http: requests.Session
) -> None:
    low = datetime(2024, 7, 10, tzinfo=UTC)
    high = datetime(2024, 7, 12, tzinfo=UTC)
    between = {
        "filterGroups": [
            {
                "filters": [
                    {
                        "propertyName": "hs_lastmodifieddate",
                        "operator": "BETWEEN",
                        "value": str(epoch_ms(low)),
                        "highValue": str(epoch_ms(high)),
                    }
                ]
            }
        ],
        "limit": 200,
    }
    results, total = _search_all(http, servers, "deals", between)
    expected = {d.id for d, v in world.deals_as_of(None) if low <= v.valid_from <= high}
    assert {r["id"] for r in results} == expected and total == len(expected)

    def count(operator: str, instant: datetime) -> int:
        filters = [
            {
                "propertyName": "hs_lastmodifieddate",
                "operator": operator,
                "value": str(epoch_ms(instant)),
            }
        ]
        response = _search(
            http, servers, "deals", {"filterGroups": [{"filters": filters}], "limit": 1}
        )
        return response.json()["total"]

    versions = [v for _, v in world.deals_as_of(None)]
    pivot = sorted(v.valid_from for v in versions)[len(versions) // 2]
    assert count("LT", pivot) == sum(v.valid_from < pivot for v in versions)
    assert count("LTE", pivot) == sum(v.valid_from <= pivot for v in versions)
    assert count("GT", pivot) == sum(v.valid_from > pivot for v in versions)
    assert count("EQ", pivot) == sum(v.valid_from == pivot for v in versions) >= 1

    won = _search(
        http,
        servers,
        "deals",
        {
            "filterGroups": [
                {"filters": [{"propertyName": "dealstage", "operator": "EQ", "value": "closedwon"}]}
            ]
        },
    ).json()
    assert won["total"] == sum(v.properties["dealstage"] == "closedwon" for v in versions)
    everything = _search(http, servers, "deals", {"limit": 200}).json()
    assert everything["total"] == len(versions)


def test_hubspot_search_limits(servers: StandinServers, http: requests.Session) -> None:
    too_big = _search(http, servers, "deals", {"limit": 201})
    assert too_big.status_code == 400
    assert too_big.json()["category"] == "VALIDATION_ERROR"
    beyond = _search(http, servers, "contacts", {"limit": 100, "after": "10000"})
    assert beyond.status_code == 400
    body = beyond.json()
    assert (body["status"], body["category"]) == ("error", "VALIDATION_ERROR")
    assert body["correlationId"]
    assert _search(http, servers, "contacts", {"limit": 100, "after": "9900"}).status_code == 200


def test_hubspot_as_of_clock_hides_future(
    servers: StandinServers, world: World, http: requests.Session
) -> None:
    deal = next(d for d in world.deals if len(d.versions) >= 3)
    middle = deal.versions[1].valid_from + timedelta(milliseconds=1)
    servers.set_clock(middle)
    url = f"{servers.hubspot_url}/crm/v3/objects/deals/{deal.id}"
    state = http.get(url, params={"properties": "dealstage,amount"}, headers=_bearer()).json()
    assert state["properties"]["dealstage"] == deal.versions[1].properties["dealstage"]
    assert state["updatedAt"] == format_instant(deal.versions[1].valid_from)

    results, total = _search_all(http, servers, "deals", {"limit": 200})
    assert total == sum(1 for d in world.deals if d.created_at <= middle)
    assert all(r["createdAt"] <= format_instant(middle) for r in results)
    later = next(d for d in world.deals if d.created_at > middle)
    hidden = http.get(f"{servers.hubspot_url}/crm/v3/objects/deals/{later.id}", headers=_bearer())
    assert hidden.status_code == 404

    servers.set_clock(world.end + timedelta(days=1))
    final = http.get(url, params={"properties": "dealstage"}, headers=_bearer()).json()
    assert final["properties"]["dealstage"] == deal.versions[-1].properties["dealstage"]

    moved = http.post(
        f"{servers.hubspot_url}/__standin/clock",
        json={"now": format_instant(middle)},
        headers=servers.hubspot.control_headers(),
    )
    assert moved.json()["now"] == format_instant(middle)
    again = http.get(url, params={"properties": "dealstage"}, headers=_bearer()).json()
    assert again["properties"]["dealstage"] == deal.versions[1].properties["dealstage"]


def test_hubspot_list_paging(servers: StandinServers, world: World, http: requests.Session) -> None:
    url = f"{servers.hubspot_url}/crm/v3/objects/deals"
    params: dict[str, Any] = {"limit": 100, "properties": "amount,deal_currency_code"}
    seen: list[str] = []
    while True:
        page = http.get(url, params=params, headers=_bearer()).json()
        seen.extend(r["id"] for r in page["results"])
        after = page.get("paging", {}).get("next", {}).get("after")
        if after is None:
            break
        params["after"] = after
    assert seen == sorted((d.id for d in world.deals), key=int)
    assert http.get(url, params={"limit": 101}, headers=_bearer()).status_code == 400
    archived = http.get(url, params={"archived": "true"}, headers=_bearer()).json()
    assert archived["results"] == []


def test_hubspot_associations_single_and_batch(
    servers: StandinServers, world: World, http: requests.Session
) -> None:
    deals = world.deals[:3]
    for deal in deals:
        single = http.get(
            f"{servers.hubspot_url}/crm/v4/objects/deals/{deal.id}/associations/contacts",
            headers=_bearer(),
        ).json()
        assert single == {
            "results": [
                {
                    "toObjectId": int(deal.contact_id),
                    "associationTypes": [
                        {"category": "HUBSPOT_DEFINED", "typeId": 3, "label": None}
                    ],
                }
            ]
        }
    batch = http.post(
        f"{servers.hubspot_url}/crm/v4/associations/deals/contacts/batch/read",
        json={"inputs": [{"id": d.id} for d in deals]},
        headers=_bearer(),
    )
    assert batch.status_code == 200
    body = batch.json()
    assert body["status"] == "COMPLETE" and body["startedAt"] and body["completedAt"]
    assert {r["from"]["id"]: r["to"][0]["toObjectId"] for r in body["results"]} == {
        d.id: int(d.contact_id) for d in deals
    }
    assert body["results"][0]["to"][0]["associationTypes"][0]["typeId"] == 3
    too_many = http.post(
        f"{servers.hubspot_url}/crm/v4/associations/deals/contacts/batch/read",
        json={"inputs": [{"id": str(i)} for i in range(101)]},
        headers=_bearer(),
    )
    assert too_many.status_code == 400


def test_hubspot_auth_error(servers: StandinServers, http: requests.Session) -> None:
    for headers in ({}, _bearer("nope")):
        response = http.post(
            f"{servers.hubspot_url}/crm/v3/objects/deals/search", json={}, headers=headers
        )
        assert response.status_code == 401
        body = response.json()
        assert body["status"] == "error"
        assert body["category"] == "INVALID_AUTHENTICATION"
        assert body["message"].startswith("Authentication credentials not found")
        assert body["correlationId"]


def test_hubspot_fault_injection_then_recovery(
    servers: StandinServers, http: requests.Session
) -> None:
    path = "/crm/v3/objects/deals/search"
    http.post(
        f"{servers.hubspot_url}/__standin/faults",
        json={"path_prefix": path, "status": 429, "count": 1},
        headers=servers.hubspot.control_headers(),
    )
    limited = _search(http, servers, "deals", {"limit": 1})
    assert limited.status_code == 429
    body = limited.json()
    assert (body["status"], body["errorType"], body["policyName"]) == (
        "error",
        "RATE_LIMIT",
        "SECONDLY",
    )
    assert body["message"] == "You have reached your secondly limit."
    assert _search(http, servers, "deals", {"limit": 1}).status_code == 200

    servers.hubspot.inject_fault(path, 500, count=1)
    broken = _search(http, servers, "deals", {"limit": 1})
    assert broken.status_code == 500
    assert broken.json()["status"] == "error" and broken.json()["correlationId"]
    assert _search(http, servers, "deals", {"limit": 1}).status_code == 200


def test_hubspot_rate_limits(world: World, http: requests.Session) -> None:
    with start_standins(world, token=TOKEN, hubspot_per_ten_seconds=8) as running:
        url = f"{running.hubspot_url}/crm/v3/objects/contacts/search"
        statuses = [http.post(url, json={"limit": 1}, headers=_bearer()) for _ in range(6)]
        assert [r.status_code for r in statuses] == [200] * 5 + [429]
        body = statuses[-1].json()
        assert (body["errorType"], body["policyName"]) == ("RATE_LIMIT", "SECONDLY")
        assert body["message"] == "You have reached your secondly limit."
        assert statuses[-1].headers["Retry-After"] == "1"
        listing = f"{running.hubspot_url}/crm/v3/objects/contacts"
        codes = [http.get(listing, headers=_bearer()).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = http.get(listing, headers=_bearer())
        body = limited.json()
        assert (body["errorType"], body["policyName"]) == ("RATE_LIMIT", "TEN_SECONDLY_ROLLING")
        assert 1 <= int(limited.headers["Retry-After"]) <= 10


def test_stats_count_requests(servers: StandinServers, http: requests.Session) -> None:
    servers.reset_stats()
    for _ in range(3):
        _search(http, servers, "contacts", {"limit": 1})
    http.get(f"{servers.hubspot_url}/crm/v3/objects/deals", headers=_bearer())
    stats = http.get(
        f"{servers.hubspot_url}/__standin/stats", headers=servers.hubspot.control_headers()
    ).json()
    assert stats["requests"] == {
        "/crm/v3/objects/contacts/search": 3,
        "/crm/v3/objects/deals": 1,
    }
    assert stats["total"] == 4
    assert servers.hubspot.request_count("/crm/v3/objects/contacts") == 3


def test_process_entry_point(world: World, tmp_path: Path) -> None:
    directory = world.save(tmp_path / "world")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reach2revenue.sandbox.standins",
            "--world",
            str(directory),
            "--token",
            TOKEN,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        urls = json.loads(process.stdout.readline())
        account = requests.get(
            f"{urls['meta_ads_url']}/v21.0/act_1001",
            params={"fields": "currency"},
            headers=_bearer(),
            timeout=5,
        )
        assert account.json() == {"currency": "EUR", "id": "act_1001"}
        deals = requests.get(
            f"{urls['hubspot_url']}/crm/v3/objects/deals", headers=_bearer(), timeout=5
        )
        assert deals.status_code == 200
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
