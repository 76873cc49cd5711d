"""Salesforce extraction against the Salesforce stand-in over real HTTP on loopback.

The org is the world's Salesforce part (60 days, scale 0.4: ~200 accounts, ~600 contacts,
~500 leads, ~160 opportunities, some won and a few deleted after the win); the stand-in
serves it as of its clock, in batches of at most 50 records so that every object pages.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pytest
import requests

from reach2revenue import cursors as state
from reach2revenue import raw
from reach2revenue.contracts import Credentials
from reach2revenue.credentials import CredentialsError, get_credentials
from reach2revenue.email_hash import email_hash, resolve_email_hash_key
from reach2revenue.flattening import raw_text
from reach2revenue.http_client import ApiRequestError, ApiRetryError, RetryPolicy
from reach2revenue.landing import Manifest, iso_utc, read_manifest, write_manifest
from reach2revenue.quality import validate_batch
from reach2revenue.reference.countries import normalize_alias
from reach2revenue.sandbox.standins.salesforce import (
    NUMBER_FIELDS,
    ORG_ID,
    SalesforceServer,
    SoqlError,
    java_double,
    parse_soql,
)
from reach2revenue.sandbox.world import World
from reach2revenue.sandbox.world.salesforce import (
    ENTITY_OF_SOBJECT,
    SalesforcePart,
    SalesforceRecord,
    close_instant,
    parse_datetime,
)
from reach2revenue.settings import Settings
from reach2revenue.sources.salesforce import SOURCE
from reach2revenue.sources.salesforce.errors import is_throttle, message
from reach2revenue.sources.salesforce.extract import (
    FIRST_LOAD_START,
    SalesforceApi,
    build_soql,
    client_secret_of,
    extract_salesforce,
    parse_salesforce_datetime,
)
from reach2revenue.sources.salesforce.flatten import opportunity_rows
from reach2revenue.sources.salesforce.settings import (
    OPPORTUNITY,
    SOBJECT_OF_ENTITY,
    SOBJECTS,
    SalesforceOptions,
)
from reach2revenue.transform import dbt_build

FIXTURES = Path(__file__).parent / "fixtures"
CLIENT_ID = "3MVG9test.reach2revenue.salesforce"
SECRET = "sf-client-secret-5d8e1a7c"
START = date(2026, 9, 1)
DAYS = 60
BATCH = 50
TABLES = {(table.source, table.entity): table for table in SOURCE.tables}
FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05, max_retry_after=0.05)
NO_LOOKBACK = timedelta(0)
QUERY_ALL = "/services/data/v60.0/queryAll"
CURSORS = "/services/data/v60.0/query/"
TOKEN = "/services/oauth2/token"
#: Every access token the stand-in issues starts with the org id: none may be landed.
TOKEN_PREFIX = f"{ORG_ID[:15]}!"


@dataclass
class PartsWorld:
    """What `SalesforceServer.from_world` reads of a world: its parts."""

    parts: dict[str, Any]


def day(n: int) -> datetime:
    """Midnight UTC of world day ``n`` (0 = START)."""
    return datetime(START.year, START.month, START.day, tzinfo=UTC) + timedelta(days=n)


@pytest.fixture(scope="module")
def world() -> World:
    return World.generate(seed=7, start=START, days=DAYS, scale=0.4)


@pytest.fixture(scope="module")
def part(world: World) -> SalesforcePart:
    return SalesforcePart.generate(world, seed=7)


def start_server(part: SalesforcePart, clock: datetime, **options: Any) -> SalesforceServer:
    options.setdefault("rate_limits", False)
    options.setdefault("max_batch_size", BATCH)
    return SalesforceServer.from_world(
        PartsWorld({"salesforce": part}), token=SECRET, client_id=CLIENT_ID, clock=clock, **options
    ).start()


@pytest.fixture
def server(part: SalesforcePart, world: World) -> Iterator[SalesforceServer]:
    """A fresh stand-in (own faults, stats, sessions) with the clock after the world's end."""
    running = start_server(part, world.end + timedelta(hours=1))
    try:
        yield running
    finally:
        running.stop()


def creds(server: SalesforceServer, secret: str = SECRET) -> Credentials:
    return Credentials(server.url, secret, SalesforceOptions(CLIENT_ID))


def extract(
    server: SalesforceServer, landing: Path, start: datetime, end: datetime, **options: Any
) -> list[Path]:
    """The extractor against the stand-in with tiny backoff and no lookback."""
    options.setdefault("retry", FAST_RETRY)
    options.setdefault("lookback", NO_LOOKBACK)
    return extract_salesforce(
        creds(server), interval_start=start, interval_end=end, landing_dir=landing, **options
    )


def load(con: duckdb.DuckDBPyConnection, landing: Path, paths: Sequence[Path]) -> list[raw.Batch]:
    """Merge like the pipeline does, then advance the cursors."""
    raw.ensure_raw_schema(con, SOURCE.tables)
    batches = raw.batches_from_manifests(paths, TABLES)
    for batch in batches:
        raw.merge_batch(con, batch)
        state.advance_cursor(landing, batch.source, batch.entity, batch.loaded_through)
    return batches


def api_text(field: str, value: Any) -> str | None:
    """A part value as the raw table holds it once it went through the API as JSON."""
    if field in NUMBER_FIELDS and value is not None:
        return raw_text(json.loads(java_double(Decimal(str(value)))))
    return raw_text(value)


def expected_rows(
    part: SalesforcePart, sobject: str, clock: datetime, start: datetime, end: datetime
) -> dict[str, tuple[str | None, ...]]:
    """What queryAll at ``clock`` returns for a SystemModstamp window, as raw text."""
    fields = SOBJECT_OF_ENTITY[ENTITY_OF_SOBJECT[sobject]].fields
    return {
        record.id: tuple(api_text(f, version.fields.get(f)) for f in fields)
        for record, version in part.states_at(sobject, clock)
        if start <= version.valid_from < end
    }


def stored(con: duckdb.DuckDBPyConnection, entity: str) -> dict[str, tuple[Any, ...]]:
    columns = SOBJECT_OF_ENTITY[entity].columns
    rows = con.execute(f"select {', '.join(columns)} from raw.salesforce_{entity}").fetchall()
    return {row[0]: tuple(row) for row in rows}


def fixture_manifest(directory: Path) -> Manifest:
    """The recorded pages landed as one extraction of Opportunity."""
    directory.mkdir(parents=True, exist_ok=True)
    pages = ["page-00001.json", "page-00002.json"]
    for page, name in zip(pages, ("page1", "page2"), strict=True):
        shutil.copy(FIXTURES / f"query_opportunities_{name}.json", directory / page)
    manifest = Manifest(
        source="salesforce",
        entity="opportunities",
        partition_date="2024-03-31",
        window_start="2024-03-01T00:00:00Z",
        window_end="2024-04-01T00:00:00Z",
        extraction_id="20240401T020000000000Z",
        extracted_at="2024-04-01T02:00:00Z",
        pages=pages,
        record_count=3,
        request_count=2,
        params={"soql": build_soql(OPPORTUNITY, day(0), day(1))},
    )
    write_manifest(directory, manifest)
    return read_manifest(directory)


# --------------------------------------------------------------------------- recorded shape


def test_the_recorded_pages_flatten_to_the_api_values(tmp_path: Path) -> None:
    rows = opportunity_rows(fixture_manifest(tmp_path / "opportunities"))
    assert [row["id"] for row in rows] == [
        "006xx0000012345AAA",
        "006xx0000012346AAA",
        "006xx0000012347AAA",
    ]
    first, yen, deleted = rows
    assert {k: v for k, v in first.items() if not k.startswith("_")} == {
        "id": "006xx0000012345AAA",
        "account_id": "001xx000003DGb2AAG",
        "name": "Acme renewal",
        "amount": "125000.0",  # a JSON number, as JSON text: never interpreted here
        "currency_iso_code": "EUR",
        "stage_name": "Closed Won",
        "is_won": "true",
        "is_closed": "true",
        "close_date": "2024-03-15",  # a plain date
        "lead_source": "Web",
        "campaign_id": None,
        "is_deleted": "false",
        "created_date": "2024-02-01T09:30:00.000+0000",  # UTC as sent
        "system_modstamp": "2024-03-15T12:01:02.000+0000",
    }
    # 1.5E7 is how Salesforce writes 15,000,000; the raw text is the same number.
    assert Decimal(yen["amount"]) == Decimal("15000000") and yen["currency_iso_code"] == "JPY"
    assert deleted["is_deleted"] == "true" and deleted["is_won"] == "true"
    assert deleted["_landed_file"].endswith("page-00002.json")
    assert all(row["_extraction_id"] == "20240401T020000000000Z" for row in rows)
    assert "attributes" not in first


def test_the_standin_answers_in_the_recorded_shape(server: SalesforceServer) -> None:
    recorded = json.loads((FIXTURES / "query_opportunities_page1.json").read_text())
    api = SalesforceApi(server.url, CLIENT_ID, SECRET, retry=FAST_RETRY)
    try:
        soql = build_soql(OPPORTUNITY, FIRST_LOAD_START, day(DAYS))
        answer = api.get(QUERY_ALL.lstrip("/"), {"q": soql})
    finally:
        api.close()
    body = answer.data
    assert list(body) == list(recorded)  # totalSize, done, nextRecordsUrl, records
    assert body["done"] is False and isinstance(body["totalSize"], int)
    assert body["nextRecordsUrl"].startswith("/services/data/v60.0/query/01g")
    assert body["nextRecordsUrl"].endswith(f"-{BATCH}")
    for record in body["records"]:
        assert list(record) == list(recorded["records"][0])  # attributes, then asked order
        assert record["attributes"]["url"].endswith(f"/sobjects/Opportunity/{record['Id']}")
        for name, value in record.items():
            example = recorded["records"][0][name]
            if value is not None and example is not None:
                assert type(value) is type(example), name
        assert parse_salesforce_datetime(record["SystemModstamp"]) is not None
        assert record["SystemModstamp"].endswith("+0000")
    # Amounts from 10^7 on are written as Java writes a double, like the recording's 1.5E7.
    assert '"Amount":1.5E7' in (FIXTURES / "query_opportunities_page1.json").read_text()
    big = [r for r in body["records"] if r["Amount"] and r["Amount"] >= 1e7]
    for record in big:
        assert f'"Amount":{java_double(Decimal(str(record["Amount"])))}' in answer.text
    token = json.loads((FIXTURES / "token_response.json").read_text())
    assert api.token is not None and api.token.instance_url == server.url
    assert set(token) == {
        "access_token",
        "signature",
        "scope",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
    }


# --------------------------------------------------------------------------- full load


def test_first_load_pages_through_every_object_and_matches_the_org(
    part: SalesforcePart, world: World, server: SalesforceServer, tmp_path: Path
) -> None:
    clock = world.end + timedelta(hours=1)
    paths = extract(server, tmp_path, day(DAYS - 1), clock)
    manifests = [read_manifest(p) for p in paths]
    assert [m.entity for m in manifests] == [t.entity for t in SOURCE.tables]
    for manifest in manifests:
        # No cursor yet: the whole org, landed under the day it loaded through.
        assert manifest.window_start == "1970-01-01T00:00:00Z"
        assert manifest.window_end == iso_utc(clock)
        assert manifest.partition_date == clock.date().isoformat()
        assert manifest.params["first_load"] is True
        assert (
            manifest.params["total_size"] == manifest.record_count == manifest.params["unique_ids"]
        )
        assert manifest.params["soql"].startswith("SELECT Id, ")
        assert (
            "WHERE SystemModstamp >= 1970-01-01T00:00:00Z AND SystemModstamp < "
            in (manifest.params["soql"])
        )
        assert len(manifest.pages) == max(1, -(-manifest.record_count // BATCH))
    stats = server.stats()
    assert sum(m.request_count for m in manifests) == stats["total"]
    assert stats["requests"][TOKEN] == 1
    cursor_reads = sum(n for path, n in stats["requests"].items() if path.startswith(CURSORS))
    assert cursor_reads == sum(len(m.pages) - 1 for m in manifests) > 30

    con = duckdb.connect()
    load(con, tmp_path, paths)
    for sobject in SOBJECTS:
        entity = ENTITY_OF_SOBJECT[sobject.name]
        expected = expected_rows(part, sobject.name, clock, FIRST_LOAD_START, clock)
        assert stored(con, entity) == expected, entity
    for path in tmp_path.rglob("*.json"):
        text = path.read_text()
        assert SECRET not in text and TOKEN_PREFIX not in text


def test_incremental_runs_fetch_only_changes_and_close_gaps(
    part: SalesforcePart, server: SalesforceServer, tmp_path: Path
) -> None:
    con = duckdb.connect()
    # First run, for day 20: the whole org as of then.
    clock = day(21) + timedelta(hours=2)
    server.set_clock(clock)
    load(con, tmp_path, extract(server, tmp_path, day(20), day(21)))
    assert state.read_cursor(tmp_path, "salesforce", "leads") == day(21)

    # Day 21: only what changed that day, every object.
    clock = day(22) + timedelta(hours=2)
    server.set_clock(clock)
    server.reset_stats()
    batches = load(con, tmp_path, extract(server, tmp_path, day(21), day(22)))
    changed = 0
    for batch in batches:
        sobject = SOBJECT_OF_ENTITY[batch.entity].name
        expected = expected_rows(part, sobject, clock, day(21), day(22))
        assert set(batch.frame["id"]) == set(expected), batch.entity
        assert batch.manifests[0].window_start == "2026-09-22T00:00:00Z"
        assert batch.manifests[0].params["first_load"] is False
        changed += len(expected)
    assert changed > 10
    assert server.stats()["requests"][TOKEN] == 1

    # The runs for days 22 and 23 failed; the run for day 24 starts at the cursor.
    clock = day(25) + timedelta(hours=2)
    server.set_clock(clock)
    batches = load(con, tmp_path, extract(server, tmp_path, day(24), day(25)))
    for batch in batches:
        assert batch.manifests[0].window_start == "2026-09-23T00:00:00Z"
        sobject = SOBJECT_OF_ENTITY[batch.entity].name
        assert set(batch.frame["id"]) == set(expected_rows(part, sobject, clock, day(22), day(25)))
    # Nothing is missing or stale: every record last changed before day 25 is in raw as
    # it is now.
    for sobject in SOBJECTS:
        entity = ENTITY_OF_SOBJECT[sobject.name]
        rows = stored(con, entity)
        for record_id, values in expected_rows(
            part, sobject.name, clock, FIRST_LOAD_START, day(25)
        ).items():
            assert rows.get(record_id) == values, (entity, record_id)

    # A lookback re-reads the last minutes before the cursor (late-committing saves).
    paths = extract(server, tmp_path, day(24), day(25), lookback=timedelta(minutes=30))
    assert read_manifest(paths[0]).window_start == "2026-09-24T23:30:00Z"


def test_an_interval_ending_after_the_orgs_clock_stops_at_the_clock(
    server: SalesforceServer, tmp_path: Path
) -> None:
    clock = day(10) + timedelta(hours=5, minutes=30, seconds=12, milliseconds=700)
    server.set_clock(clock)
    paths = extract(server, tmp_path, day(10), day(11))
    manifest = read_manifest(paths[0])
    # Never claim what the org could not show yet: the cursor stops at its clock.
    assert manifest.window_end == "2026-09-11T05:30:12Z"


# --------------------------------------------------------------------------- deletes


def _won_then_deleted(part: SalesforcePart) -> SalesforceRecord:
    return next(
        o
        for o in part.of("Opportunity")
        if o.deleted_at is not None and any(v.fields["IsWon"] for v in o.versions)
    )


def test_deletions_arrive_through_query_all_and_stay_deleted(
    part: SalesforcePart, server: SalesforceServer, tmp_path: Path
) -> None:
    deal = _won_then_deleted(part)
    deleted_at = deal.deleted_at
    assert deleted_at is not None
    before = deleted_at - timedelta(seconds=1)
    con = duckdb.connect()
    server.set_clock(before)
    load(con, tmp_path, extract(server, tmp_path, before - timedelta(days=1), before))
    row = stored(con, "opportunities")[deal.id]
    assert (row[6], row[11]) == ("true", "false")  # is_won, is_deleted
    assert deal.id in {f.deal_id for f in part.won_deal_facts(before)}

    after = deleted_at + timedelta(hours=1)
    server.set_clock(after)
    batches = load(con, tmp_path, extract(server, tmp_path, before, after))
    row = stored(con, "opportunities")[deal.id]
    assert row[11] == "true"  # is_deleted: the won deal is gone, and raw says so
    roles = stored(con, "opportunity_contact_roles")
    deal_roles = [r for r in roles.values() if r[1] == deal.id]
    assert deal_roles and all(r[5] == "true" for r in deal_roles)  # deleted with it
    assert deal.id not in {f.deal_id for f in part.won_deal_facts(after)}
    frame = next(b for b in batches if b.entity == "opportunities").frame
    assert set(frame.loc[frame["is_deleted"] == "true", "id"]) >= {deal.id}

    # query (not queryAll) leaves deleted records out.
    api = SalesforceApi(server.url, CLIENT_ID, SECRET, retry=FAST_RETRY)
    try:
        soql = build_soql(OPPORTUNITY, before, after)
        live = api.get("services/data/v60.0/query", {"q": soql}).data["records"]
        every = api.get("services/data/v60.0/queryAll", {"q": soql}).data["records"]
        # The recycle bin is emptied after 15 days: then queryAll does not see it either.
        server.set_clock(deleted_at + timedelta(days=15, seconds=1))
        purged = api.get("services/data/v60.0/queryAll", {"q": soql}).data["records"]
    finally:
        api.close()
    assert deal.id in {r["Id"] for r in every} - {r["Id"] for r in live}
    assert deal.id not in {r["Id"] for r in purged}


# --------------------------------------------------------------------------- errors


def test_an_expired_session_is_renewed_once_and_the_request_repeated(
    part: SalesforcePart, server: SalesforceServer, tmp_path: Path
) -> None:
    session = requests.Session()
    seen = {"batches": 0}

    def expire_after_the_second_batch(
        response: requests.Response, *args: Any, **kwargs: Any
    ) -> None:
        if "/services/data/" in response.url and response.status_code == 200:
            seen["batches"] += 1
            if seen["batches"] == 2:
                server.expire_sessions()  # the token dies between two batches of contacts

    session.hooks["response"].append(expire_after_the_second_batch)
    paths = extract(server, tmp_path, day(0), day(1), session=session)
    stats = server.stats()
    assert stats["requests"][TOKEN] == 2
    assert stats["statuses"]["401"] == 1
    manifests = [read_manifest(p) for p in paths]
    assert sum(m.request_count for m in manifests) == stats["total"]
    clock = server.now()
    for manifest in manifests:
        sobject = SOBJECT_OF_ENTITY[manifest.entity].name
        expected = expected_rows(part, sobject, clock, FIRST_LOAD_START, day(1))
        assert manifest.params["unique_ids"] == len(expected), manifest.entity
    landed = "".join(p.read_text() for p in tmp_path.rglob("page-*.json"))
    assert SECRET not in landed and TOKEN_PREFIX not in landed


def test_a_token_past_its_lifetime_is_replaced(part: SalesforcePart, world: World) -> None:
    server = start_server(part, world.end, session_seconds=0.5)
    api = SalesforceApi(server.url, CLIENT_ID, SECRET, retry=FAST_RETRY)
    try:
        soql = build_soql(OPPORTUNITY, day(0), day(1))
        api.get("services/data/v60.0/queryAll", {"q": soql})
        first = api.token
        time.sleep(0.7)
        api.get("services/data/v60.0/queryAll", {"q": soql})
    finally:
        api.close()
        server.stop()
    assert api.reauthentications == 1 and api.token is not first
    # token, query; then the expired query, a new token, the query again
    assert api.request_count == server.stats()["total"] == 5


def test_a_session_refused_again_after_renewal_fails(
    server: SalesforceServer, tmp_path: Path
) -> None:
    server.inject_fault("/services/data/", 401, count=2)
    with pytest.raises(ApiRequestError) as caught:
        extract(server, tmp_path, day(0), day(1))
    assert caught.value.status == 401
    assert "INVALID_SESSION_ID: Session expired or invalid" in str(caught.value)
    assert server.stats()["requests"][TOKEN] == 2  # renewed once, not in a loop
    assert not list(tmp_path.rglob("_manifest.json"))


def test_wrong_client_credentials_fail_at_once_without_the_secret(
    server: SalesforceServer, tmp_path: Path
) -> None:
    wrong = "sf-wrong-secret-0000"
    with pytest.raises(ApiRequestError) as caught:
        extract_salesforce(
            creds(server, wrong),
            interval_start=day(0),
            interval_end=day(1),
            landing_dir=tmp_path,
            retry=FAST_RETRY,
        )
    assert caught.value.status == 400
    assert "invalid_client: invalid client credentials" in str(caught.value)
    assert wrong not in str(caught.value) and SECRET not in str(caught.value)
    assert server.stats()["total"] == 1

    api = SalesforceApi(server.url, "3MVG9unknown", SECRET, retry=FAST_RETRY)
    with pytest.raises(ApiRequestError, match="invalid_client_id: client identifier invalid"):
        api.authenticate()
    api.close()


def test_the_orgs_request_limit_is_backed_off_then_reported(
    part: SalesforcePart, world: World, server: SalesforceServer, tmp_path: Path
) -> None:
    # Two refusals: backed off and retried within the policy.
    server.inject_fault(QUERY_ALL, 403, count=2)
    paths = extract(server, tmp_path, day(0), day(1))
    assert server.stats()["statuses"]["403"] == 2
    assert len(paths) == len(SOURCE.tables)

    # The budget stays used up: the run fails with Salesforce's own message.
    limited = start_server(part, world.end, rate_limits=True, daily_requests=3)
    try:
        with pytest.raises(ApiRetryError) as caught:
            extract(limited, tmp_path / "limited", day(0), day(1))
    finally:
        limited.stop()
    assert caught.value.status == 403
    assert caught.value.attempts == FAST_RETRY.max_attempts
    assert "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded." in str(caught.value)
    assert is_throttle(403, [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "x"}])
    assert not is_throttle(400, [{"errorCode": "MALFORMED_QUERY", "message": "x"}])


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_retried(server: SalesforceServer, tmp_path: Path, status: int) -> None:
    server.inject_fault(CURSORS, status, count=2)
    paths = extract(server, tmp_path, day(0), day(1))
    assert server.stats()["statuses"][str(status)] == 2
    manifests = [read_manifest(p) for p in paths]
    pages = sum(len(m.pages) for m in manifests)
    assert sum(m.request_count for m in manifests) == pages + 1 + 2  # + token + retries


@pytest.mark.parametrize(
    ("soql", "code", "words"),
    [
        (
            "SELECT Id FROM Opportunity WHERE SystemModstamp > 2024-03-01T00:00:00Z",
            "MALFORMED_QUERY",
            "unexpected token: '>'",
        ),
        (
            "SELECT Id, Amount__c FROM Opportunity WHERE SystemModstamp >= "
            "2024-03-01T00:00:00Z AND SystemModstamp < 2024-03-02T00:00:00Z "
            "ORDER BY SystemModstamp, Id",
            "INVALID_FIELD",
            "No such column 'Amount__c' on entity 'Opportunity'",
        ),
        (
            "SELECT Id FROM Deal WHERE SystemModstamp >= 2024-03-01T00:00:00Z AND "
            "SystemModstamp < 2024-03-02T00:00:00Z ORDER BY SystemModstamp, Id",
            "INVALID_TYPE",
            "sObject type 'Deal' is not supported",
        ),
        (
            "SELECT Id FROM Lead WHERE SystemModstamp >= '2024-03-01T00:00:00Z' AND "
            "SystemModstamp < 2024-03-02T00:00:00Z ORDER BY SystemModstamp, Id",
            "INVALID_FIELD",
            "must be of type dateTime and should not be enclosed in quotes",
        ),
    ],
)
def test_a_rejected_query_fails_at_once_with_salesforces_words(
    server: SalesforceServer, soql: str, code: str, words: str
) -> None:
    api = SalesforceApi(server.url, CLIENT_ID, SECRET, retry=FAST_RETRY)
    try:
        with pytest.raises(ApiRequestError) as caught:
            api.get("services/data/v60.0/queryAll", {"q": soql})
    finally:
        api.close()
    assert caught.value.status == 400
    assert f"{code}: " in str(caught.value) and words in str(caught.value)
    assert api.request_count == 2  # the token and the one query: no retry


def test_an_expired_cursor_restarts_the_query_from_the_last_stamp(
    part: SalesforcePart, server: SalesforceServer, tmp_path: Path
) -> None:
    body = [{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}]
    server.inject_fault(CURSORS, 400, count=1, body=body)
    paths = extract(server, tmp_path, day(0), day(1), entities=["contacts"])
    manifest = read_manifest(paths[0])
    assert len(manifest.params["restarted_queries"]) == 1
    restart = manifest.params["restarted_queries"][0]
    assert "SystemModstamp >= 1970-01-01T00:00:00Z" not in restart
    expected = expected_rows(part, "Contact", server.now(), FIRST_LOAD_START, day(1))
    assert manifest.params["unique_ids"] == len(expected)
    assert manifest.record_count > len(expected)  # the last second came twice
    (batch,) = raw.batches_from_manifests(paths, TABLES)
    assert sorted(batch.frame["id"]) == sorted(expected)  # one row per id


# --------------------------------------------------------------------------- raw and quality


def test_batches_pass_their_suites_and_merge_idempotently(
    part: SalesforcePart, world: World, server: SalesforceServer, tmp_path: Path
) -> None:
    clock = world.end + timedelta(hours=1)
    paths = extract(server, tmp_path, day(DAYS - 1), clock)
    con = duckdb.connect()
    raw.ensure_raw_schema(con, SOURCE.tables)
    batches = raw.batches_from_manifests(paths, TABLES)
    assert [b.entity for b in batches] == [t.entity for t in SOURCE.tables]
    for batch in batches:
        report = validate_batch(batch.source, batch.entity, batch.frame, label=batch.label)
        assert report.success and report.row_count == len(batch.frame)
        raw.merge_batch(con, batch)
    first = {entity: stored(con, entity) for _, entity in TABLES}
    for sobject in SOBJECTS:
        entity = ENTITY_OF_SOBJECT[sobject.name]
        assert first[entity] == expected_rows(part, sobject.name, clock, FIRST_LOAD_START, clock)

    for batch in raw.batches_from_manifests(paths, TABLES):
        stats = raw.merge_batch(con, batch)
        assert stats.inserted == stats.deleted  # each row replaced by itself
    assert {entity: stored(con, entity) for _, entity in TABLES} == first
    counts = con.execute(
        "select count(*), count(distinct id) from raw.salesforce_campaign_members"
    ).fetchall()
    assert counts[0][0] == counts[0][1]


def test_money_time_and_country_reach_raw_as_sent(
    part: SalesforcePart, world: World, server: SalesforceServer, tmp_path: Path
) -> None:
    clock = world.end + timedelta(hours=1)
    con = duckdb.connect()
    load(con, tmp_path, extract(server, tmp_path, day(DAYS - 1), clock))
    opportunities = part.by_id("Opportunity")
    rows = stored(con, "opportunities")
    for deal_id, row in rows.items():
        values = opportunities[deal_id].state_at(clock).fields  # type: ignore[union-attr]
        # Money: the amount in the deal's own currency, exactly, whatever notation.
        assert Decimal(row[3]) == Decimal(values["Amount"]) and row[4] == values["CurrencyIsoCode"]
        # Time: UTC instants as sent; CloseDate a plain date.
        assert parse_datetime(row[13]) == opportunities[deal_id].state_at(clock).valid_from  # type: ignore[union-attr]
        assert row[13].endswith(".000+0000") and len(row[8]) == 10
    pages = (tmp_path / "salesforce" / "opportunities").rglob("page-*.json")
    landed = "".join(page.read_text() for page in pages)
    large = [r for r in rows.values() if Decimal(r[3]) >= 10_000_000]
    assert large, "the org has amounts of 10^7 and more (yen, forint, rupees)"
    for row in large:
        assert f'"Amount":{java_double(Decimal(row[3]))}' in landed  # 1.23E7 on the wire
    # Country: BillingCountry as typed, which the alias seed places at BillingCountryCode.
    aliases = world.seeds.country_of_alias
    accounts = stored(con, "accounts")
    codes = {row[3] for row in accounts.values()}
    assert len({row[2] for row in accounts.values()}) > len(codes)  # many spellings
    for row in accounts.values():
        assert aliases[normalize_alias(row[2]) or ""] == row[3]


# --------------------------------------------------------------------------- dbt staging


def test_staging_models_show_the_worlds_facts(
    part: SalesforcePart, world: World, server: SalesforceServer, tmp_path: Path
) -> None:
    """Raw -> dbt staging: the conformed models state exactly the part's facts."""
    clock = world.end + timedelta(hours=1)
    settings = Settings.for_home(tmp_path)
    paths = extract(server, settings.landing_dir, day(DAYS - 1), clock)
    settings.warehouse_path.parent.mkdir(parents=True)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        load(con, settings.landing_dir, paths)
    summary = dbt_build(settings, select="staging.salesforce")
    assert summary.models_passed == 11 and summary.warnings == 0 and summary.data_tests_passed

    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    # The union's rule: a deal's region is that of its linked contact with the lowest id.
    deals = con.execute(
        """
        with ranked as (
            select
                links.deal_id,
                people.country_raw,
                row_number() over (
                    partition by links.deal_id
                    order by length(links.contact_id), links.contact_id
                ) as contact_rank
            from staging.stg_salesforce__crm_deal_contacts as links
            inner join staging.stg_salesforce__crm_contacts as people
                on links.contact_id = people.contact_id
        )
        select deals.deal_id, deals.currency_code, deals.amount, deals.closed_at,
            ranked.country_raw
        from staging.stg_salesforce__crm_deals as deals
        left join ranked on deals.deal_id = ranked.deal_id and ranked.contact_rank = 1
        where deals.is_won and not deals.is_deleted
        """
    ).fetchall()
    facts = {fact.deal_id: fact for fact in part.won_deal_facts(clock)}
    assert {row[0] for row in deals} == set(facts)
    berlin = ZoneInfo("Europe/Berlin")
    aliases = world.seeds.country_of_alias
    for deal_id, currency, amount, closed_at, country_raw in deals:
        fact = facts[deal_id]
        assert (currency, amount) == (fact.currency, fact.amount)
        assert closed_at.astimezone(berlin).date() == fact.closed_at.astimezone(berlin).date()
        assert aliases[normalize_alias(country_raw) or ""] == fact.country_code, deal_id
    deleted = con.execute(
        "select count(*) from staging.stg_salesforce__crm_deals where is_won and is_deleted"
    ).fetchall()[0][0]
    assert deleted >= 1  # deleted after the win: in staging, flagged, never counted

    # Every deal sourced by a campaign has that campaign's touch by one of its people
    # before the deal was created.
    untouched = con.execute(
        """
        select opportunities.opportunity_id
        from staging.stg_salesforce__opportunities as opportunities
        inner join staging.stg_salesforce__campaigns as campaigns
            on opportunities.campaign_id = campaigns.campaign_id
        where not exists (
            select 1
            from staging.stg_salesforce__crm_campaign_touches as touches
            inner join staging.stg_salesforce__crm_deal_contacts as links
                on touches.contact_id = links.contact_id
            where links.deal_id = opportunities.opportunity_id
                and touches.campaign_name = campaigns.campaign_name
                and touches.touched_at < opportunities.created_at
        ) and not opportunities.is_deleted
        """
    ).fetchall()
    assert untouched == []

    # Personal data stops in staging: no e-mail, no names; emails only as their hash.
    columns = con.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'staging' and table_name like 'stg_salesforce__%'"
    ).fetchall()
    assert len({table for table, _ in columns}) == 11
    assert not {c for _, c in columns} & {"email", "first_name", "last_name", "name"}
    for table in {table for table, _ in columns}:
        values = con.execute(f"select * from staging.{table}").fetchall()
        assert not any("@" in str(v) for row in values for v in row if v is not None), table
    contact = part.of("Contact")[0]
    email = str(contact.versions[-1].fields["Email"])
    (hashed,) = con.execute(
        "select email_hash from staging.stg_salesforce__crm_contacts where contact_id = ?",
        [contact.id],
    ).fetchone() or (None,)
    # keyed (HMAC-SHA256, the home's generated key or R2R_EMAIL_HASH_KEY), not plain sha256
    assert hashed == email_hash(resolve_email_hash_key(settings, create=False).secret, email)
    assert hashed != hashlib.sha256(email.strip().lower().encode()).hexdigest()


# --------------------------------------------------------------------------- helpers


def test_soql_round_trip_and_numbers() -> None:
    soql = build_soql(OPPORTUNITY, datetime(2024, 3, 1, 10, 0, 5, 900_000, tzinfo=UTC), day(0))
    assert soql == (
        "SELECT Id, AccountId, Name, Amount, CurrencyIsoCode, StageName, IsWon, IsClosed, "
        "CloseDate, LeadSource, CampaignId, IsDeleted, CreatedDate, SystemModstamp "
        "FROM Opportunity WHERE SystemModstamp >= 2024-03-01T10:00:05Z "
        "AND SystemModstamp < 2026-09-01T00:00:00Z ORDER BY SystemModstamp, Id"
    )
    query = parse_soql(
        soql.replace("SELECT Id", "select id")
        .replace(" FROM ", "\nfrom ")
        .replace("ORDER", "order")
    )
    assert query.sobject == "Opportunity" and query.fields == OPPORTUNITY.fields
    assert query.start == datetime(2024, 3, 1, 10, 0, 5, tzinfo=UTC)
    with pytest.raises(SoqlError, match="duplicate field"):
        parse_soql(soql.replace("Id, AccountId", "Id, Id"))
    assert [java_double(Decimal(v)) for v in ("125000.00", "15000000", "99213206", "0.5")] == [
        "125000.0",
        "1.5E7",
        "9.9213206E7",
        "0.5",
    ]
    assert parse_salesforce_datetime("2024-03-15T12:01:02.000+0000") == datetime(
        2024, 3, 15, 12, 1, 2, tzinfo=UTC
    )
    assert parse_salesforce_datetime("not a date") is None
    assert message(
        [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}], ""
    ) == ("INVALID_SESSION_ID: Session expired or invalid")
    assert message({"error": "invalid_grant", "error_description": "expired"}, "") == (
        "invalid_grant: expired"
    )


def test_options_credentials_and_connection(server: SalesforceServer) -> None:
    environ = {
        "R2R_SALESFORCE_BASE_URL": "https://acme.my.salesforce.com/",
        "R2R_SALESFORCE_CLIENT_ID": " 3MVG9abc ",
        "R2R_SALESFORCE_CLIENT_SECRET": "from-env-secret-1",
        "R2R_SALESFORCE_API_VERSION": "v61.0",
    }
    resolved = get_credentials(SOURCE, environ)
    assert resolved.base_url == "https://acme.my.salesforce.com"
    assert resolved.options == SalesforceOptions("3MVG9abc", "from-env-secret-1", "61.0")
    assert "from-env-secret-1" not in repr(resolved)
    # The connection password (R2R_SALESFORCE_TOKEN without Airflow) wins over the extra.
    with_password = get_credentials(SOURCE, {**environ, "R2R_SALESFORCE_TOKEN": "pw-secret-2"})
    assert client_secret_of(with_password) == "pw-secret-2"
    assert client_secret_of(resolved) == "from-env-secret-1"
    with pytest.raises(CredentialsError, match="client_id"):
        get_credentials(SOURCE, {"R2R_SALESFORCE_CLIENT_SECRET": "x"})
    with pytest.raises(ValueError, match="My Domain"):
        SalesforceApi("https://login.salesforce.com", "3MVG9abc", "secret")
    with pytest.raises(ValueError, match="client secret"):
        SalesforceApi("https://acme.my.salesforce.com", "3MVG9abc", "")
    assert server.connection(SECRET) == {
        "conn_type": "http",
        "host": server.url,
        "password": SECRET,
        "extra": {"client_id": CLIENT_ID},
    }


# --------------------------------------------------------------------------- the world part


def test_part_round_trips_and_is_deterministic(
    part: SalesforcePart, world: World, tmp_path: Path
) -> None:
    (tmp_path / "a").mkdir()  # the caller creates the directory (WorldPart.save)
    part.save(tmp_path / "a")
    again = SalesforcePart.generate(world, seed=7)
    (tmp_path / "b").mkdir()
    again.save(tmp_path / "b")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert len(names) == 1 + len(SOBJECTS)
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    loaded = SalesforcePart.load(tmp_path / "a")
    assert loaded == part
    assert list(loaded.won_deal_facts()) == list(part.won_deal_facts())
    assert SalesforcePart.generate(world, seed=8) != part


def test_part_states_the_facts_the_mart_must_show(part: SalesforcePart, world: World) -> None:
    from reach2revenue.sandbox.world.model import is_whole_unit_currency

    accounts = part.by_id("Account")
    contacts = part.by_id("Contact")
    roles_of: dict[str, list[SalesforceRecord]] = {}
    for role in part.of("OpportunityContactRole"):
        roles_of.setdefault(role.versions[0].fields["OpportunityId"], []).append(role)
    members = part.of("CampaignMember")
    facts = {fact.deal_id: fact for fact in part.won_deal_facts()}
    assert facts and all(f.crm == "salesforce" for f in facts.values())
    deleted_won = 0
    for opportunity in part.of("Opportunity"):
        latest = opportunity.versions[-1].fields
        account = accounts[latest["AccountId"]]
        # Money: in a currency the world's rates convert on the deal's days.
        for version in opportunity.versions:
            currency = version.fields["CurrencyIsoCode"]
            assert world.fx.rate_on(currency, version.valid_from.date()) is not None
            if is_whole_unit_currency(currency):
                assert Decimal(version.fields["Amount"]) == int(Decimal(version.fields["Amount"]))
        # Region: one primary role, held (like every role) by a contact of the account.
        roles = roles_of[opportunity.id]
        assert sum(1 for r in roles if r.versions[0].fields["IsPrimary"]) == 1
        for role in roles:
            contact = contacts[role.versions[0].fields["ContactId"]]
            assert contact.versions[0].fields["AccountId"] == account.id
            assert contact.created_at <= role.created_at
        # Attribution: the campaign that sourced a deal touched it before it existed.
        if latest["CampaignId"]:
            people = {r.versions[0].fields["ContactId"] for r in roles}
            touches = [
                m
                for m in members
                if m.versions[0].fields["CampaignId"] == latest["CampaignId"]
                and m.versions[-1].fields["ContactId"] in people
                and m.created_at < opportunity.created_at
            ]
            assert touches, opportunity.id
        was_won = any(v.fields["IsWon"] for v in opportunity.versions)
        if was_won and opportunity.deleted_at is not None:
            deleted_won += 1
            assert opportunity.id not in facts
        elif latest["IsWon"]:
            fact = facts[opportunity.id]
            won_at = next(v.valid_from for v in opportunity.versions if v.fields["IsWon"])
            # Counted at 12:00 UTC of CloseDate: on CloseDate in the reporting time zone,
            # and never after the moment the deal was won.
            assert fact.closed_at == close_instant(latest["CloseDate"])
            assert fact.closed_at <= won_at
            for zone in ("Europe/Berlin", "America/Los_Angeles", "Asia/Tokyo"):
                local = fact.closed_at.astimezone(ZoneInfo(zone)).date()
                assert local.isoformat() == latest["CloseDate"]
            assert fact.country_code == account.versions[-1].fields["BillingCountryCode"]
            assert fact.currency == latest["CurrencyIsoCode"]
            assert fact.amount == Decimal(latest["Amount"])
    assert deleted_won >= 1
    # Countries and spellings come from the reference data, and every spelling maps.
    for account in part.of("Account"):
        values = account.versions[-1].fields
        spelled = normalize_alias(values["BillingCountry"]) or ""
        assert world.seeds.country_of_alias[spelled] == values["BillingCountryCode"]
        assert values["BillingCountryCode"] in world.seeds.countries
    assert part.currencies() <= {c for c in part.currencies() if world.fx.rate_on(c, START)}
    assert part.countries() <= set(world.seeds.countries)
    assert list(part.ad_facts()) == []
    # Nothing happens at or after the world's end.
    assert all(
        version.valid_from < world.end
        for records in part.records.values()
        for record in records
        for version in record.versions
    )


def test_default_part_size() -> None:
    full = World.generate(seed=42, start=date(2024, 7, 1), days=90, scale=1.0)
    part = SalesforcePart.generate(full, seed=42)
    sizes = {sobject: len(records) for sobject, records in part.records.items()}
    assert 400 <= sizes["Account"] <= 800
    assert 1_200 <= sizes["Contact"] <= 2_500
    assert 1_200 <= sizes["Lead"] <= 2_500
    assert 400 <= sizes["Opportunity"] <= 1_200
    assert 1_500 <= sizes["CampaignMember"] <= 5_000
    assert len(part.countries()) >= 60 and len(part.currencies()) >= 15
    assert len(list(part.won_deal_facts())) >= 100
