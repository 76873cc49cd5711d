"""HubSpot extraction against the HubSpot stand-in over real HTTP on loopback."""

from __future__ import annotations

import copy
import socket
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests

import reach2revenue.sandbox.standins.hubspot as hubspot_standin
import reach2revenue.sources.hubspot.extract as hubspot_extract
from reach2revenue import cursors as state
from reach2revenue import raw
from reach2revenue.contracts import Credentials
from reach2revenue.http_client import (
    ApiClient,
    ApiRequestError,
    ApiRetryError,
    RetryPolicy,
    _retry_after_seconds,
)
from reach2revenue.landing import iso_utc, read_manifest
from reach2revenue.sandbox.standins import StandinServers, start_standins
from reach2revenue.sandbox.world import CrmObject, World
from reach2revenue.sources import raw_tables
from reach2revenue.sources.hubspot.extract import (
    extract_hubspot,
    parse_hubspot_instant,
    to_epoch_ms,
)

TABLES = raw_tables()
TOKEN = "pat-eu1-test-7d1e0b"
START = date(2026, 9, 1)
FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05, max_retry_after=0.05)
# Search-path tests: the first load goes through search too (list loads are tested apart).
FAST = {
    "retry": FAST_RETRY,
    "search_rate_per_sec": 1000.0,
    "rate_per_sec": 1000.0,
    "full_load_via_list": False,
}


def day(n: int) -> datetime:
    """Midnight UTC of world day ``n`` (0 = START)."""
    return datetime(START.year, START.month, START.day, tzinfo=UTC) + timedelta(days=n)


@pytest.fixture(scope="module")
def world() -> World:
    """A small world: ~100 contacts and ~30 deals with version histories over 8 days."""
    return World.generate(seed=5, start=START, days=8, scale=0.3)


@pytest.fixture
def servers(world: World) -> Iterator[StandinServers]:
    """Fresh stand-ins (own faults, stats and clock) without server-side throttling."""
    with start_standins(
        world, token=TOKEN, clock=world.end + timedelta(hours=1), rate_limits=False
    ) as running:
        yield running


def extract(
    servers: StandinServers,
    landing: Path,
    start: datetime,
    end: datetime,
    *,
    token: str = TOKEN,
    **options: Any,
) -> list[Path]:
    """Run the extractor against the stand-in with tiny backoff and no client throttle."""
    return extract_hubspot(
        Credentials(servers.hubspot_url, token),
        interval_start=start,
        interval_end=end,
        landing_dir=landing,
        **(FAST | options),
    )


def load(con: duckdb.DuckDBPyConnection, landing: Path, paths: Sequence[Path]) -> list[raw.Batch]:
    """Merge like the pipeline does, then advance the cursors."""
    raw.ensure_raw_schema(con, TABLES.values())
    batches = raw.batches_from_manifests(paths, TABLES)
    for batch in batches:
        raw.merge_batch(con, batch)
        state.advance_cursor(landing, batch.source, batch.entity, batch.loaded_through)
    return batches


def live_at(objects: Sequence[CrmObject], clock: datetime) -> dict[str, dict[str, Any]]:
    """Properties of each object as the server shows it at ``clock``."""
    out = {}
    for obj in objects:
        if obj.archived_at is not None and obj.archived_at <= clock:
            continue
        version = obj.version_at(clock)
        if version is not None:
            out[obj.id] = version.properties
    return out


def changed(
    objects: Sequence[CrmObject], clock: datetime, start: datetime, end: datetime
) -> set[str]:
    """Ids a search at ``clock`` for modifications in ``[start, end)`` must return."""
    return {
        obj.id
        for obj in objects
        if (v := obj.version_at(clock)) is not None
        and (obj.archived_at is None or obj.archived_at > clock)
        and start <= v.valid_from < end
    }


def table(con: duckdb.DuckDBPyConnection, name: str, columns: str) -> list[tuple[Any, ...]]:
    """All rows of a raw table."""
    return con.execute(f"select {columns} from {name} order by all").fetchall()


def assert_complete(
    con: duckdb.DuckDBPyConnection, world: World, clock: datetime, through: datetime
) -> None:
    """Every object last modified before ``through`` is in raw, in its current version."""
    for name, objects, modified in (
        ("raw.hubspot_contacts", world.contacts, "lastmodifieddate"),
        ("raw.hubspot_deals", world.deals, "hs_lastmodifieddate"),
    ):
        stored = dict(table(con, name, f"id, {modified}"))
        for object_id, props in live_at(objects, clock).items():
            if parse_hubspot_instant(props[modified]) < to_epoch_ms(through):
                assert stored.get(object_id) == props[modified], (name, object_id)


def test_paging_reassembles_exactly_the_worlds_objects(
    world: World, servers: StandinServers, tmp_path: Path
) -> None:
    clock = world.end + timedelta(hours=1)
    paths = extract(servers, tmp_path, day(-30), clock, page_limit=7)

    manifests = [read_manifest(p) for p in paths]
    assert [m.entity for m in manifests] == ["contacts", "deals", "deal_contacts"]
    assert all(len(m.pages) > 2 for m in manifests[:2])  # several search pages each
    contacts = manifests[0]
    # A first load (no cursor) fetches the whole CRM, not only the interval.
    assert contacts.window_start == "1970-01-01T00:00:00Z"
    # ... and lands under the last day it covers, not under 1970.
    assert contacts.partition_date == clock.date().isoformat()
    assert contacts.window_end == iso_utc(clock)
    assert contacts.params["window_start_ms"] == 0
    assert sum(m.request_count for m in manifests) == servers.hubspot.stats()["total"]

    con = duckdb.connect()
    load(con, tmp_path, paths)
    for name, objects, columns in (
        ("raw.hubspot_contacts", world.contacts, TABLES[("hubspot", "contacts")].columns),
        ("raw.hubspot_deals", world.deals, TABLES[("hubspot", "deals")].columns),
    ):
        expected = live_at(objects, clock)
        props = [c for c in columns if c not in ("id", "created_at", "updated_at", "archived")]
        stored = {row[0]: row[1:] for row in table(con, name, ", ".join(["id", *props]))}
        assert stored.keys() == expected.keys(), name
        for object_id, values in stored.items():
            assert values == tuple(expected[object_id].get(c) for c in props), object_id
    links = {(d.id, d.contact_id, "3") for d in world.deals if d.id in live_at(world.deals, clock)}
    assert (
        set(table(con, "raw.hubspot_deal_contacts", "deal_id, contact_id, association_type_id"))
        == links
    )
    archived = table(con, "raw.hubspot_contacts", "distinct archived")
    assert archived == [("false",)]
    for path in tmp_path.rglob("*.json"):
        assert TOKEN not in path.read_text()


def test_first_load_reads_the_whole_crm_through_the_list_endpoints(
    world: World, tmp_path: Path
) -> None:
    """The list endpoints (100 per page, general limit) instead of search (5/s): live and
    archived objects; the next run searches only its window."""
    world = copy.deepcopy(world)
    clock = world.end + timedelta(hours=1)
    # Archive a contact and a deal before the load: the list must bring them, flagged.
    for objects in (world.contacts, world.deals):
        objects[3].archived_at = objects[3].versions[-1].valid_from + timedelta(minutes=5)
    with start_standins(world, token=TOKEN, clock=clock, rate_limits=False) as servers:
        _first_load_through_lists(world, servers, tmp_path, clock)


def _first_load_through_lists(
    world: World, servers: StandinServers, tmp_path: Path, clock: datetime
) -> None:
    paths = extract(servers, tmp_path, day(-30), clock, full_load_via_list=True)
    manifests = [read_manifest(p) for p in paths]
    assert [m.params["endpoint"] for m in manifests[:2]] == [
        "/crm/v3/objects/contacts",
        "/crm/v3/objects/deals",
    ]
    stats = servers.hubspot.stats()
    assert not any(path.endswith("/search") for path in stats["requests"])
    con = duckdb.connect()
    load(con, tmp_path, paths)
    for name, objects in (
        ("raw.hubspot_contacts", world.contacts),
        ("raw.hubspot_deals", world.deals),
    ):
        live = live_at(objects, clock)
        archived = {o.id for o in objects if o.archived_at is not None and o.archived_at <= clock}
        stored = dict(table(con, name, "id, archived"))
        assert {i for i, a in stored.items() if a == "false"} == live.keys(), name
        assert {i for i, a in stored.items() if a == "true"} == archived, name
        assert len(archived) == 1, name
    # pages of 100: the whole CRM in a few dozen calls, not thousands of searches
    pages = sum(len(m.pages) for m in manifests[:2])
    assert pages <= len(world.contacts) // 100 + len(world.deals) // 100 + 6
    servers.hubspot.reset_stats()
    nightly = extract(servers, tmp_path, day(-1), clock, full_load_via_list=True)
    requests_made = servers.hubspot.stats()["requests"]
    assert "/crm/v3/objects/contacts/search" in requests_made
    # The list is read again only for the archived objects (one page), which search
    # never returns.
    assert requests_made["/crm/v3/objects/contacts"] == 1
    assert read_manifest(nightly[0]).params["archived_ids"] == 1


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/crm/v3/objects/contacts/search", 429),
        ("/crm/v3/objects/deals/search", 500),
        ("/crm/v4/associations/deals/contacts/batch/read", 503),
    ],
)
def test_transient_errors_are_retried(
    world: World, servers: StandinServers, tmp_path: Path, path: str, status: int
) -> None:
    clock = world.end + timedelta(hours=1)
    servers.hubspot.inject_fault(path, status, count=2)
    paths = extract(servers, tmp_path, day(-30), clock)
    stats = servers.hubspot.stats()
    assert stats["statuses"][str(status)] == 2
    assert stats["requests"][path] == 3
    manifests = [read_manifest(p) for p in paths]
    assert manifests[0].params["unique_ids"] == len(live_at(world.contacts, clock))
    assert manifests[1].params["unique_ids"] == len(live_at(world.deals, clock))


def test_unauthorized_and_invalid_requests_fail_at_once(
    servers: StandinServers, tmp_path: Path
) -> None:
    with pytest.raises(ApiRequestError) as caught:
        extract(servers, tmp_path, day(0), day(1), token="pat-wrong-token-99")
    message = str(caught.value)
    assert caught.value.status == 401
    assert "hubspot" in message and "HTTP 401" in message
    assert "/crm/v3/objects/contacts/search" in message
    assert "Authentication credentials not found" in message
    assert "pat-wrong-token-99" not in message and TOKEN not in message
    assert servers.hubspot.stats()["total"] == 1
    assert not list(tmp_path.rglob("_manifest.json"))

    servers.reset_stats()
    servers.hubspot.inject_fault("/crm/v3/objects/deals/search", 400)
    with pytest.raises(ApiRequestError, match=r"HTTP 400.*VALIDATION_ERROR"):
        extract(servers, tmp_path, day(0), day(1))
    assert servers.hubspot.stats()["requests"]["/crm/v3/objects/deals/search"] == 1


def test_incremental_runs_fetch_only_changes_and_close_gaps(
    world: World, servers: StandinServers, tmp_path: Path
) -> None:
    con = duckdb.connect()
    search = ("/crm/v3/objects/contacts/search", "/crm/v3/objects/deals/search")

    # First run for days 2-3: a first load brings everything modified before day 4, also
    # objects last touched before the interval (unless initial_start=None).
    clock = day(4) + timedelta(hours=2)
    servers.set_clock(clock)
    load(con, tmp_path, extract(servers, tmp_path, day(2), day(4)))
    assert state.read_cursor(tmp_path, "hubspot", "contacts") == day(4)
    assert_complete(con, world, clock, day(4))
    narrow = extract(servers, tmp_path / "narrow", day(2), day(4), initial_start=None)
    assert read_manifest(narrow[0]).window_start == "2026-09-03T00:00:00Z"

    # Second run (day 4): only what changed that day.
    clock = day(5) + timedelta(hours=2)
    servers.set_clock(clock)
    servers.reset_stats()
    batches = load(con, tmp_path, extract(servers, tmp_path, day(4), day(5), page_limit=10))
    by_entity = {b.entity: b for b in batches}
    for entity, objects, modified in (
        ("contacts", world.contacts, "lastmodifieddate"),
        ("deals", world.deals, "hs_lastmodifieddate"),
    ):
        frame = by_entity[entity].frame
        assert set(frame["id"]) == changed(objects, clock, day(4), day(5))
        stamps = [parse_hubspot_instant(v) for v in frame[modified]]
        assert all(to_epoch_ms(day(4)) <= s < to_epoch_ms(day(5)) for s in stamps)
        assert by_entity[entity].manifests[0].window_start == "2026-09-05T00:00:00Z"
    stats = servers.hubspot.stats()
    expected_pages = sum(
        b.manifests[0].params["search_pages"] for b in batches if b.entity != "deal_contacts"
    )
    assert sum(stats["requests"].get(p, 0) for p in search) == expected_pages
    assert set(by_entity["deal_contacts"].frame["deal_id"]) <= set(by_entity["deals"].frame["id"])
    assert_complete(con, world, clock, day(5))

    # The run for day 5 failed; the run for day 6 starts at the cursor (day 5): no gap.
    clock = day(7) + timedelta(hours=2)
    servers.set_clock(clock)
    batches = load(con, tmp_path, extract(servers, tmp_path, day(6), day(7)))
    for batch in batches:
        assert batch.manifests[0].window_start == "2026-09-06T00:00:00Z"
    contacts = next(b for b in batches if b.entity == "contacts")
    assert set(contacts.frame["id"]) == changed(world.contacts, clock, day(5), day(7))
    assert_complete(con, world, clock, day(7))
    # Every loaded deal has its links (the world's deals each keep one contact).
    deals = world.deals_by_id()
    loaded = [row[0] for row in table(con, "raw.hubspot_deals", "id")]
    expected_links = {(deal_id, deals[deal_id].contact_id) for deal_id in loaded}
    assert set(table(con, "raw.hubspot_deal_contacts", "deal_id, contact_id")) == expected_links
    assert state.read_cursor(tmp_path, "hubspot", "deals") == day(7)


def test_result_cap_restarts_the_query_from_the_last_modified_value(
    world: World, servers: StandinServers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same logic as at HubSpot's 10,000, with a cap small enough for a small world.
    monkeypatch.setattr(hubspot_standin, "SEARCH_RESULT_CAP", 40)
    monkeypatch.setattr(hubspot_extract, "SEARCH_RESULT_CAP", 40)
    clock = world.end + timedelta(hours=1)
    paths = extract(servers, tmp_path, day(-30), clock, page_limit=10, entities=["contacts"])
    manifest = read_manifest(paths[0])
    expected = live_at(world.contacts, clock)
    assert len(expected) > 100
    assert manifest.params["restarts"] >= len(expected) // 40
    assert manifest.params["unique_ids"] == len(expected)
    assert "400" not in servers.hubspot.stats()["statuses"]
    (batch,) = raw.batches_from_manifests(paths, TABLES)
    assert sorted(batch.frame["id"]) == sorted(expected)  # duplicates from restarts removed


def test_retry_policy_backoff() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0, jitter=0.5, max_retry_after=30.0)
    delays = [policy.backoff(n) for n in range(1, 7)]
    for n, delay in enumerate(delays, 1):
        cap = min(8.0, 2 ** (n - 1))
        assert cap * 0.5 <= delay <= cap
    assert policy.backoff(1, retry_after=12.0) == 12.0  # Retry-After wins
    assert policy.backoff(1, retry_after=3600.0) == 30.0  # within reason


def test_connection_errors_are_retried_then_reported() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = ApiClient(
        "hubspot",
        f"http://127.0.0.1:{port}",
        TOKEN,
        retry=RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.001),
    )
    with pytest.raises(ApiRetryError) as caught:
        client.post("crm/v3/objects/contacts/search", {})
    assert caught.value.status is None and caught.value.attempts == 3
    assert "ConnectionError" in str(caught.value) and TOKEN not in str(caught.value)
    # Paging links to another host would receive the token: refused.
    with pytest.raises(ApiRequestError, match="refusing"):
        client.get("https://elsewhere.example/steal?access_token=abc")


def test_retry_after_header_is_honoured() -> None:
    response = requests.Response()
    response.headers["Retry-After"] = "7"
    assert _retry_after_seconds(response) == 7.0
    response.headers["Retry-After"] = "Wed, 21 Oct 2015 07:28:00 GMT"  # in the past
    assert _retry_after_seconds(response) == 0.0
    response.headers["Retry-After"] = "soon"
    assert _retry_after_seconds(response) is None
