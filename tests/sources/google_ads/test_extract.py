"""Google Ads extraction against the Google Ads stand-in over real HTTP on loopback."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pandas as pd
import pytest
import requests

from reach2revenue import cursors as state
from reach2revenue import quality, raw
from reach2revenue.contracts import Credentials
from reach2revenue.credentials import CredentialsError, get_credentials
from reach2revenue.flattening import raw_text
from reach2revenue.http_client import (
    ApiClient,
    ApiRequestError,
    ApiResponse,
    ApiRetryError,
    RetryPolicy,
)
from reach2revenue.landing import read_manifest
from reach2revenue.quality import DataQualityError, validate_batch
from reach2revenue.sandbox.standins._http import Request, Response, StandinServer
from reach2revenue.sandbox.standins.google_ads import GoogleAdsServer, parse_gaql
from reach2revenue.sandbox.world import World
from reach2revenue.sandbox.world.google_ads import (
    AREA_OF_INTEREST,
    LOCATION_OF_PRESENCE,
    GoogleAdsCustomer,
    GoogleAdsPart,
    country_of_criterion,
    leads_of,
    spend_of,
)
from reach2revenue.sources.google_ads import SOURCE
from reach2revenue.sources.google_ads import extract as google_extract
from reach2revenue.sources.google_ads.errors import (
    is_throttle,
    message,
    parse_duration,
    retry_delay_seconds,
)
from reach2revenue.sources.google_ads.extract import (
    GOOGLE_ADS_API_VERSION,
    QuotaExhaustedError,
    extract_google_ads,
    next_range_days,
    report_days,
    report_query,
    stream_results,
)
from reach2revenue.sources.google_ads.geo_targets import (
    GEO_TARGETS_SEED,
    country_criterion_id,
    load_country_codes,
    render_seed,
)
from reach2revenue.sources.google_ads.settings import GEOGRAPHIC_VIEW_COLUMNS, GoogleAdsOptions

TOKEN = "ya29.google-oauth-test-token-7c1e"
DEVELOPER_TOKEN = "devtok-SECRET-4b9d2"
START = date(2026, 9, 1)
DAYS = 8
TABLES = {(t.source, t.entity): t for t in SOURCE.tables}
FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05, max_retry_after=0.05)
FIXTURES = Path(__file__).parent / "fixtures"
RAW_SHAPE = (
    "customer_id",
    "campaign_id",
    "segments_date",
    "geographic_view_country_criterion_id",
    "metrics_cost_micros",
    "metrics_conversions",
)


@pytest.fixture(scope="module")
def world() -> World:
    """A small core world: 8 report days."""
    return World.generate(seed=11, start=START, days=DAYS, scale=0.3)


@pytest.fixture(scope="module")
def part(world: World) -> GoogleAdsPart:
    """The Google Ads part of that world (never mutated; tests that change rows load a copy)."""
    return GoogleAdsPart.generate(world, 11)


def after_end(part: GoogleAdsPart) -> datetime:
    """A server clock at which every customer's last day is over."""
    return datetime.combine(part.end_date + timedelta(days=2), time(12), tzinfo=UTC)


@pytest.fixture
def server(part: GoogleAdsPart) -> Iterator[GoogleAdsServer]:
    """A fresh stand-in (own faults, stats and quota), without throttling."""
    running = GoogleAdsServer(
        part,
        token=TOKEN,
        developer_tokens={DEVELOPER_TOKEN: "BASIC"},
        clock=after_end(part),
        rate_limits=False,
    ).start()
    try:
        yield running
    finally:
        running.stop()


def customer_ids(part: GoogleAdsPart, count: int | None = None) -> list[str]:
    return [c.customer_id for c in part.customers][:count]


def creds(
    server: StandinServer,
    part: GoogleAdsPart,
    *,
    token: str = TOKEN,
    developer_token: str = DEVELOPER_TOKEN,
    login: bool = True,
) -> Credentials:
    """Credentials pointing at the stand-in, through the part's manager account."""
    options = GoogleAdsOptions(
        tuple(customer_ids(part)),
        developer_token=developer_token,
        login_customer_id=part.manager_customer_id if login else "",
    )
    return Credentials(server.url, token, options)


def extract(
    server: StandinServer,
    part: GoogleAdsPart,
    landing: Path,
    start: date,
    end: date,
    *,
    customers: Sequence[str] | None = None,
    lookback_days: int = 0,
    chunk_days: int = 31,
    retry: RetryPolicy = FAST_RETRY,
    **kwargs: Any,
) -> list[Path]:
    """Run the extractor with test-friendly defaults (the first customer by default)."""
    return extract_google_ads(
        creds(server, part, **kwargs),
        interval_start=start,
        interval_end=end,
        landing_dir=landing,
        lookback_days=lookback_days,
        chunk_days=chunk_days,
        customer_ids=list(customers) if customers is not None else customer_ids(part, 1),
        retry=retry,
    )


def load(con: duckdb.DuckDBPyConnection, landing: Path, paths: Sequence[Path]) -> None:
    """Merge like the pipeline does, then advance the cursor."""
    raw.ensure_raw_schema(con, TABLES.values())
    for batch in raw.batches_from_manifests(paths, TABLES):
        raw.merge_batch(con, batch)
        state.advance_cursor(landing, batch.source, batch.entity, batch.loaded_through)


def part_rows(
    part: GoogleAdsPart, customers: Sequence[str], days: Sequence[date]
) -> set[tuple[str, ...]]:
    """The part's presence rows as raw-table tuples (`RAW_SHAPE`)."""
    wanted = set(days)
    return {
        (
            r.customer_id,
            r.campaign_id,
            r.date.isoformat(),
            r.country_criterion_id,
            str(r.cost_micros),
            json.dumps(r.conversions),
        )
        for r in part.rows
        if r.customer_id in customers
        and r.date in wanted
        and r.location_type == LOCATION_OF_PRESENCE
    }


def raw_rows(con: duckdb.DuckDBPyConnection) -> set[tuple[str, ...]]:
    """What the warehouse holds, in the same shape as `part_rows`."""
    return set(
        con.execute(f"select {', '.join(RAW_SHAPE)} from raw.google_ads_geographic_view").fetchall()
    )


def days_from(first: date, count: int) -> list[date]:
    return [first + timedelta(days=n) for n in range(count)]


def copy_part(part: GoogleAdsPart, directory: Path) -> GoogleAdsPart:
    """An independent copy of the part (to mutate), through save and load."""
    directory.mkdir(parents=True, exist_ok=True)
    part.save(directory)
    return GoogleAdsPart.load(directory)


# --------------------------------------------------------------------------- paging


def test_streams_and_ranges_reassemble_exactly_the_parts_rows(
    part: GoogleAdsPart, tmp_path: Path
) -> None:
    # Small batches: each stream answer holds several batches, as a large one does.
    server = GoogleAdsServer(
        part,
        token=TOKEN,
        developer_tokens={DEVELOPER_TOKEN: "BASIC"},
        clock=after_end(part),
        rate_limits=False,
        batch_size=5,
    ).start()
    try:
        customers = customer_ids(part, 2)
        end = START + timedelta(days=DAYS)
        paths = extract(server, part, tmp_path, START, end, customers=customers, chunk_days=3)
        total_requests = server.stats()["total"]
    finally:
        server.stop()

    manifests = [read_manifest(p) for p in paths]
    assert len(manifests) == 2 * 3  # one per customer and range of 3 days (3 + 3 + 2)
    assert sum(m.request_count for m in manifests) == total_requests == 6
    first = manifests[0]
    assert (first.source, first.entity, first.partition_date) == (
        "google_ads",
        "geographic_view",
        (START + timedelta(days=2)).isoformat(),
    )
    assert (first.window_start, first.window_end) == (
        START.isoformat(),
        (START + timedelta(days=3)).isoformat(),
    )
    assert first.extraction_id.startswith(f"{customers[0]}-")
    assert first.params["customer_id"] == customers[0]
    assert first.params["api_version"] == GOOGLE_ADS_API_VERSION
    assert first.params["login_customer_id"] == part.manager_customer_id
    assert first.params["date_range"] == {
        "since": START.isoformat(),
        "until": (START + timedelta(days=2)).isoformat(),
    }
    assert "LOCATION_OF_PRESENCE" in first.params["query"]
    assert paths[0].parent.parent.name == f"date={first.partition_date}"

    # The landed page is the stream as sent: several batches, int64 values as strings.
    page = json.loads(first.page_paths()[0].read_text())
    assert isinstance(page, list) and len(page) > 1
    assert all(len(batch["results"]) <= 5 for batch in page)
    assert len({batch["requestId"] for batch in page}) == 1
    result = page[0]["results"][0]
    assert isinstance(result["metrics"]["costMicros"], str)
    assert isinstance(result["geographicView"]["countryCriterionId"], str)
    assert isinstance(result["metrics"]["conversions"], float | int)
    assert result["customer"]["resourceName"] == f"customers/{customers[0]}"

    con = duckdb.connect()
    load(con, tmp_path, paths)
    expected = part_rows(part, customers, days_from(START, DAYS))
    assert raw_rows(con) == expected
    assert sum(m.record_count for m in manifests) == len(expected)
    # Neither the OAuth token nor the developer token is written anywhere.
    for path in tmp_path.rglob("*.json"):
        text = path.read_text()
        assert TOKEN not in text and DEVELOPER_TOKEN not in text


def test_ranges_are_sized_from_the_rows_streamed_and_customers_run_side_by_side(
    part: GoogleAdsPart, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    customers = customer_ids(part, 3)
    per_day = len(part_rows(part, customers[:1], days_from(START, DAYS))) / DAYS
    # A first range of 2 days, then ranges of about 3 days of the first customer's rows.
    monkeypatch.setattr(google_extract, "CHUNK_DAYS", 2)
    monkeypatch.setattr(google_extract, "STREAM_ROW_BUDGET", round(3 * per_day))
    server = GoogleAdsServer(
        part,
        token=TOKEN,
        developer_tokens={DEVELOPER_TOKEN: "BASIC"},
        clock=after_end(part),
        rate_limits=False,
    ).start()
    landed = {}
    try:
        for workers in (1, 3):
            server.reset_stats()
            paths = extract_google_ads(
                creds(server, part),
                interval_start=START,
                interval_end=START + timedelta(days=DAYS),
                landing_dir=tmp_path / str(workers),
                lookback_days=0,
                customer_ids=customers,
                retry=FAST_RETRY,
                max_concurrency=workers,
            )
            manifests = [read_manifest(p) for p in paths]
            assert sum(m.request_count for m in manifests) == server.stats()["total"]
            # Customer then day order; each customer's ranges cover every day once, the
            # first 2 days long and the later ones sized from the rows seen.
            assert [m.params["customer_id"] for m in manifests] == sorted(
                (m.params["customer_id"] for m in manifests), key=customers.index
            )
            for customer in customers:
                ranges = [
                    (m.window_start, m.window_end)
                    for m in manifests
                    if m.params["customer_id"] == customer
                ]
                assert ranges[0] == (START.isoformat(), (START + timedelta(days=2)).isoformat())
                assert [start for start, _ in ranges[1:]] == [end for _, end in ranges[:-1]]
                assert ranges[-1][1] == (START + timedelta(days=DAYS)).isoformat()
                assert 2 < len(ranges) < DAYS
            con = duckdb.connect()
            load(con, tmp_path / str(workers), paths)
            landed[workers] = raw_rows(con)
    finally:
        server.stop()
    assert landed[1] == landed[3] == part_rows(part, customers, days_from(START, DAYS))


def test_range_sizing_and_stream_reading() -> None:
    assert next_range_days(0, 0) == google_extract.CHUNK_DAYS
    assert next_range_days(0, 31) == google_extract.MAX_CHUNK_DAYS  # nothing streamed yet
    assert next_range_days(31_000, 31) == google_extract.STREAM_ROW_BUDGET // 1000
    assert next_range_days(10**9, 1) == 1

    api = ApiClient("google_ads", "http://127.0.0.1:9", "t")

    def rows(text: str) -> int:
        return stream_results(api, ApiResponse("u", 200, text, None))

    assert rows('[{"results": [{}, {}]}, {"fieldMask": "x"}, {"results": [{}]}]') == 3
    assert rows(" [ ] ") == 0
    with pytest.raises(ApiRequestError, match="a JSON object, not an array of batches"):
        rows('{"results": []}')
    for broken in ('[{"results": []}', '[{"results": []}] x', "{", ""):
        with pytest.raises(ApiRequestError, match="response is not JSON"):
            rows(broken)
    failed = '[{"results": [{}]}, {"error": {"code": 500, "message": "stream broke"}}]'
    with pytest.raises(ApiRequestError, match="stream broke"):
        rows(failed)


def test_the_standin_answers_date_conditions_as_a_full_scan_would(part: GoogleAdsPart) -> None:
    """The stand-in looks only at the days a query can match (its rows are in day order):
    every date operator gives what testing each row of the customer gives."""
    from reach2revenue.sandbox.standins.google_ads import FIELDS, _predicate, render

    server = GoogleAdsServer(part, token=TOKEN, clock=after_end(part))
    customer = part.customers[0]
    campaigns = part.campaigns_by_id()
    days = sorted({row.date for row in part.rows})
    middle, later = days[len(days) // 2], days[len(days) // 2 + 2]
    fields = ", ".join(FIELDS)
    wheres = [
        f"segments.date BETWEEN '{middle}' AND '{later}'",
        f"segments.date = '{middle}'",
        f"segments.date >= '{middle}'",
        f"segments.date > '{middle}'",
        f"segments.date <= '{middle}'",
        f"segments.date < '{middle}'",
        f"segments.date IN ('{later}', '{days[0]}')",
        f"segments.date != '{middle}'",
        f"segments.date NOT IN ('{middle}') AND segments.date >= '{middle}'",
        f"segments.date >= '{later}' AND segments.date <= '{middle}'",
    ]
    for where in wheres:
        query = parse_gaql(f"SELECT {fields} FROM geographic_view WHERE {where}")
        tests = [_predicate(condition) for condition in query.conditions]
        scanned = sorted(
            (
                (customer, campaigns[row.campaign_id], row)
                for row in part.rows
                if row.customer_id == customer.customer_id
            ),
            key=lambda c: (c[2].date, int(c[1].campaign_id), int(c[2].country_criterion_id)),
        )
        expected = [render(query, c) for c in scanned if all(test(c) for test in tests)]
        got = server._results(customer, query)
        key = json.dumps  # results are plain JSON: compare them as text, in any order
        assert sorted(map(key, got)) == sorted(map(key, expected)), where
        assert bool(got) == (where != wheres[-1]), where  # only the last range is empty


def test_search_pages_with_next_page_token_and_rejects_page_size(part: GoogleAdsPart) -> None:
    server = GoogleAdsServer(
        part,
        token=TOKEN,
        developer_tokens={DEVELOPER_TOKEN: "BASIC"},
        clock=after_end(part),
        rate_limits=False,
        page_size=4,
        batch_size=4,
    ).start()
    customer = customer_ids(part, 1)[0]
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "developer-token": DEVELOPER_TOKEN,
        "login-customer-id": part.manager_customer_id,
    }
    base = f"{server.url}/{GOOGLE_ADS_API_VERSION}/customers/{customer}/googleAds"
    query = report_query(START, START + timedelta(days=2))
    try:
        with requests.Session() as http:
            stream = http.post(f"{base}:searchStream", json={"query": query}, headers=headers)
            streamed = [r for batch in stream.json() for r in batch.get("results", [])]
            paged: list[dict[str, Any]] = []
            body: dict[str, Any] = {"query": query, "returnTotalResultsCount": True}
            pages = 0
            while True:
                page = http.post(f"{base}:search", json=body, headers=headers).json()
                pages += 1
                paged.extend(page.get("results", []))
                assert page["totalResultsCount"] == str(len(streamed))
                if "nextPageToken" not in page:
                    break
                # The identical request again, with the token (as Google requires).
                body = body | {"pageToken": page["nextPageToken"]}
            refused = http.post(
                f"{base}:search", json={"query": query, "pageSize": 100}, headers=headers
            )
    finally:
        server.stop()
    assert pages == -(-len(streamed) // 4) > 1
    assert paged == streamed
    assert refused.status_code == 400
    failure = refused.json()["error"]["details"][0]["errors"][0]
    assert failure["errorCode"] == {"requestError": "PAGE_SIZE_NOT_SUPPORTED"}


# --------------------------------------------------------------------------- incremental


def test_next_run_fetches_new_days_with_lookback_restatements_and_deletes(
    part: GoogleAdsPart, tmp_path: Path
) -> None:
    own = copy_part(part, tmp_path / "part")
    customer = customer_ids(own, 1)[0]
    server = GoogleAdsServer(
        own,
        token=TOKEN,
        developer_tokens={DEVELOPER_TOKEN: "BASIC"},
        clock=after_end(own),
        rate_limits=False,
    ).start()
    landing = tmp_path / "landing"
    try:
        con = duckdb.connect()
        first = extract(server, own, landing, START, START + timedelta(days=5))
        load(con, landing, first)
        assert [read_manifest(p).window_end for p in first] == [
            (START + timedelta(days=5)).isoformat()
        ]

        # Google restates day 4 (late conversions, corrected cost) and day 5 loses a row
        # (its clicks were found invalid): the day now has one row fewer.
        day4, day5 = START + timedelta(days=3), START + timedelta(days=4)
        restated = next(r for r in own.rows if r.customer_id == customer and r.date == day4)
        restated.conversions += 2.5
        restated.cost_micros += 1_230_000
        vanished = next(
            r
            for r in own.rows
            if r.customer_id == customer
            and r.date == day5
            and r.location_type == LOCATION_OF_PRESENCE
        )
        own.rows.remove(vanished)
        server.reindex()
        server.reset_stats()

        # The next daily run (day 6) fetches the 3 days before it again: one request.
        second = extract(
            server,
            own,
            landing,
            START + timedelta(days=5),
            START + timedelta(days=6),
            lookback_days=3,
        )
        assert server.stats()["total"] == 1
        assert [(read_manifest(p).window_start, read_manifest(p).window_end) for p in second] == [
            ((START + timedelta(days=2)).isoformat(), (START + timedelta(days=6)).isoformat())
        ]
        load(con, landing, second)
    finally:
        server.stop()
    assert raw_rows(con) == part_rows(own, [customer], days_from(START, 6))
    stored = con.execute(
        "select metrics_conversions, metrics_cost_micros from raw.google_ads_geographic_view "
        "where campaign_id = ? and segments_date = ? "
        "and geographic_view_country_criterion_id = ?",
        [restated.campaign_id, day4.isoformat(), restated.country_criterion_id],
    ).fetchall()
    assert stored == [(json.dumps(restated.conversions), str(restated.cost_micros))]
    assert state.read_cursor(landing, "google_ads", "geographic_view").date() == START + timedelta(
        days=6
    )


def test_missed_runs_leave_no_gap_and_backfills_keep_the_cursor(
    part: GoogleAdsPart, server: GoogleAdsServer, tmp_path: Path
) -> None:
    con = duckdb.connect()
    load(con, tmp_path, extract(server, part, tmp_path, START, START + timedelta(days=2)))
    # Runs for days 3-6 failed; the run for day 7 must also fetch days 3-6.
    paths = extract(
        server,
        part,
        tmp_path,
        START + timedelta(days=6),
        START + timedelta(days=7),
        lookback_days=1,
    )
    assert [(read_manifest(p).window_start, read_manifest(p).window_end) for p in paths] == [
        ((START + timedelta(days=2)).isoformat(), (START + timedelta(days=7)).isoformat())
    ]
    load(con, tmp_path, paths)
    customer = customer_ids(part, 1)
    assert raw_rows(con) == part_rows(part, customer, days_from(START, 7))

    # A backfill of old days neither widens the range nor moves the cursor back.
    assert report_days(tmp_path, START, START + timedelta(days=1), 0) == [START]
    load(con, tmp_path, extract(server, part, tmp_path, START, START + timedelta(days=1)))
    assert state.read_cursor(tmp_path, "google_ads", "geographic_view").date() == START + timedelta(
        days=7
    )
    assert raw_rows(con) == part_rows(part, customer, days_from(START, 7))


# --------------------------------------------------------------------------- conversions


def _customer_in(part: GoogleAdsPart, time_zone: str) -> GoogleAdsCustomer:
    return next(c for c in part.customers if c.time_zone == time_zone)


def test_money_time_zone_and_country_in_the_flattened_rows(
    part: GoogleAdsPart, server: GoogleAdsServer, tmp_path: Path
) -> None:
    los_angeles = _customer_in(part, "America/Los_Angeles")
    tokyo = _customer_in(part, "Asia/Tokyo")
    # 00:30 UTC on day 4: Tokyo's day 4 has begun (09:30), Los Angeles is still on day 3.
    day4 = START + timedelta(days=3)
    server.set_clock(datetime.combine(day4, time(0, 30), tzinfo=UTC))
    paths = extract(
        server,
        part,
        tmp_path,
        START,
        day4 + timedelta(days=1),
        customers=[los_angeles.customer_id, tokyo.customer_id],
    )
    rows = [row for p in paths for row in SOURCE.table("geographic_view").flatten(read_manifest(p))]
    days = {
        c.customer_id: {r["segments_date"] for r in rows if r["customer_id"] == c.customer_id}
        for c in (los_angeles, tokyo)
    }
    assert max(days[tokyo.customer_id]) == day4.isoformat()
    assert max(days[los_angeles.customer_id]) == (day4 - timedelta(days=1)).isoformat()

    served = {los_angeles.customer_id: day4 - timedelta(days=1), tokyo.customer_id: day4}
    countries = load_country_codes()
    for row in rows:
        assert set(row) == {*GEOGRAPHIC_VIEW_COLUMNS, "_landed_file", "_extraction_id"}
        assert all(value is None or isinstance(value, str) for value in row.values())
        customer = los_angeles if row["customer_id"] == los_angeles.customer_id else tokyo
        assert row["customer_currency_code"] == customer.currency_code
        assert row["customer_time_zone"] == customer.time_zone
        if customer.currency_code == "JPY":
            assert int(row["metrics_cost_micros"]) % 1_000_000 == 0  # whole yen
    # Money (micros / 1e6 in the account currency), the account-local day, the country
    # (criterion id -> ISO-2 through the seed) and leads are exactly the part's facts.
    flattened = Counter(
        (
            row["customer_id"],
            row["segments_date"],
            countries[row["geographic_view_country_criterion_id"]],
            row["customer_currency_code"],
            Decimal(row["metrics_cost_micros"]) / 1_000_000,
            leads_of(float(row["metrics_conversions"])),
        )
        for row in rows
    )
    facts = Counter(
        (f.account_id, f.report_date.isoformat(), f.country_code, f.currency, f.spend, f.leads)
        for f in part.ad_facts()
        if f.account_id in served and START <= f.report_date <= served[f.account_id]
    )
    assert flattened == facts


def test_recorded_response_and_standin_parse_with_the_same_client(
    part: GoogleAdsPart, server: GoogleAdsServer, tmp_path: Path
) -> None:
    recorded_text = (FIXTURES / "search_stream_geographic_view.json").read_text()

    class RecordedServer(StandinServer):
        """Answers every searchStream with the recorded body, as Google sends it."""

        platform = "recorded"

        def check_auth(self, request: Request) -> Response | None:
            if request.header("developer-token") != DEVELOPER_TOKEN:
                return Response(400, {"error": {"code": 400, "message": "no developer token"}})
            return None

        def error_response(self, status: int) -> Response:
            return Response(status, {"error": {"code": status, "message": "canned"}})

        def route(self, request: Request) -> Response:
            return Response(200, recorded_text, {"Content-Type": "application/json; charset=UTF-8"})

    recorded = RecordedServer(token=TOKEN).start()
    try:
        (recorded_path,) = extract_google_ads(
            Credentials(recorded.url, TOKEN, GoogleAdsOptions(("1234567890",), DEVELOPER_TOKEN)),
            interval_start=date(2024, 3, 1),
            interval_end=date(2024, 3, 3),
            landing_dir=tmp_path / "recorded",
            lookback_days=0,
            retry=FAST_RETRY,
        )
    finally:
        recorded.stop()
    (standin_path,) = extract(server, part, tmp_path / "standin", START, START + timedelta(days=2))

    table = SOURCE.table("geographic_view")
    recorded_rows = table.flatten(read_manifest(recorded_path))
    standin_rows = table.flatten(read_manifest(standin_path))
    assert read_manifest(recorded_path).record_count == len(recorded_rows) == 3
    assert recorded_rows[1] | {"_landed_file": None, "_extraction_id": None} == {
        "customer_id": "1234567890",
        "customer_currency_code": "EUR",
        "customer_time_zone": "Europe/Berlin",
        "campaign_id": "20123456789",
        "campaign_name": "DE_Search_Brand",
        "segments_date": "2024-03-01",
        "geographic_view_country_criterion_id": "2040",
        "geographic_view_location_type": "LOCATION_OF_PRESENCE",
        "metrics_cost_micros": "5660000",
        "metrics_impressions": "1500",
        "metrics_clicks": "21",
        "metrics_conversions": "1.5",
        "_landed_file": None,
        "_extraction_id": None,
    }
    # The stand-in speaks the same shape: every column filled, as text, by the same code.
    for rows in (recorded_rows, standin_rows):
        assert rows and all(set(r) == set(recorded_rows[0]) for r in rows)
        assert all(isinstance(r[c], str) for r in rows for c in GEOGRAPHIC_VIEW_COLUMNS)
    assert {r["geographic_view_location_type"] for r in standin_rows} == {"LOCATION_OF_PRESENCE"}


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_errors_are_retried(
    part: GoogleAdsPart, server: GoogleAdsServer, tmp_path: Path, status: int
) -> None:
    customer = customer_ids(part, 1)[0]
    server.inject_fault(f"/{GOOGLE_ADS_API_VERSION}/customers/{customer}/", status, 2)
    (path,) = extract(server, part, tmp_path, START, START + timedelta(days=1))
    assert server.stats()["statuses"] == {str(status): 2, "200": 1}
    assert read_manifest(path).request_count == 3
    con = duckdb.connect()
    load(con, tmp_path, [path])
    assert raw_rows(con) == part_rows(part, [customer], [START])


def test_short_term_rate_limit_waits_the_delay_google_asks_for(
    part: GoogleAdsPart, tmp_path: Path
) -> None:
    # One request per customer in any 40 ms: each range right after the previous one is
    # refused with RESOURCE_TEMPORARILY_EXHAUSTED and a retryDelay under 40 ms.
    server = GoogleAdsServer(
        part,
        token=TOKEN,
        developer_tokens={DEVELOPER_TOKEN: "BASIC"},
        clock=after_end(part),
        requests_per_window=1,
        window_seconds=0.04,
    ).start()
    try:
        paths = extract(server, part, tmp_path, START, START + timedelta(days=DAYS), chunk_days=2)
        statuses = server.stats()["statuses"]
        log = server.stats()["log"]
    finally:
        server.stop()
    assert len(paths) == 4
    assert statuses["200"] == 4 and statuses.get("429", 0) >= 1
    assert sum(read_manifest(p).request_count for p in paths) == 4 + statuses["429"]
    assert all(entry["status"] in (200, 429) for entry in log)


def test_daily_quota_fails_at_once_naming_the_quota_and_the_delay(
    part: GoogleAdsPart, tmp_path: Path
) -> None:
    server = GoogleAdsServer(
        part,
        token=TOKEN,
        developer_tokens={DEVELOPER_TOKEN: "BASIC"},
        clock=after_end(part),
        operations_per_day=3,
    ).start()
    try:
        with pytest.raises(QuotaExhaustedError) as caught:
            extract(
                server,
                part,
                tmp_path,
                START,
                START + timedelta(days=DAYS),
                customers=customer_ids(part, 2),
                chunk_days=2,
            )
        # Three operations, then the fourth is refused and not retried.
        assert server.stats()["statuses"] == {"200": 3, "429": 1}
        error = caught.value
        text = str(error)
        assert error.status == 429 and error.attempts == 1
        assert error.retry_delay == pytest.approx(86_400, abs=1)
        assert "RESOURCE_EXHAUSTED" in text and "Number of operations for basic access" in text
        assert "86400s" in text and "not retried" in text
        assert DEVELOPER_TOKEN not in text and TOKEN not in text
        assert len(list(tmp_path.rglob("_manifest.json"))) == 3  # none for the refused range

        # A day later the operations have left the rolling window: the run goes through.
        server.set_clock(after_end(part) + timedelta(hours=24, seconds=1))
        paths = extract(server, part, tmp_path / "later", START, START + timedelta(days=2))
        assert len(paths) == 1
    finally:
        server.stop()


def test_auth_errors_fail_at_once_with_google_words_and_no_secrets(
    part: GoogleAdsPart, tmp_path: Path
) -> None:
    server = GoogleAdsServer(
        part,
        token=TOKEN,
        developer_tokens={DEVELOPER_TOKEN: "BASIC", "test-only-devtok-77": "TEST"},
        clock=after_end(part),
        rate_limits=False,
    ).start()
    cases = [
        ({"token": "ya29.expired-token-0000"}, 401, "OAUTH_TOKEN_INVALID"),
        ({"developer_token": "test-only-devtok-77"}, 403, "DEVELOPER_TOKEN_NOT_APPROVED"),
        ({"developer_token": "unknown-devtok-1234"}, 401, "DEVELOPER_TOKEN_INVALID"),
        ({"login": False}, 403, "USER_PERMISSION_DENIED"),
    ]
    try:
        for kwargs, status, code in cases:
            server.reset_stats()
            with pytest.raises(ApiRequestError) as caught:
                extract(server, part, tmp_path, START, START + timedelta(days=1), **kwargs)
            text = str(caught.value)
            assert caught.value.status == status, text
            assert code in text and "google_ads" in text
            assert f"/{GOOGLE_ADS_API_VERSION}/customers/" in text
            sent = [v for v in kwargs.values() if isinstance(v, str)]
            assert not [s for s in (TOKEN, DEVELOPER_TOKEN, *sent) if s in text]
            assert server.stats()["total"] == 1  # not retried
    finally:
        server.stop()
    assert not list(tmp_path.rglob("_manifest.json"))


def test_a_query_the_api_rejects_fails_at_once(
    part: GoogleAdsPart, server: GoogleAdsServer
) -> None:
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "developer-token": DEVELOPER_TOKEN,
        "login-customer-id": part.manager_customer_id,
    }
    customer = customer_ids(part, 1)[0]
    url = f"{server.url}/{GOOGLE_ADS_API_VERSION}/customers/{customer}/googleAds:searchStream"
    answer = requests.post(
        url, json={"query": "SELECT metrics.reach FROM geographic_view"}, headers=headers
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["details"][0]["errors"][0]["errorCode"] == {
        "queryError": "UNRECOGNIZED_FIELD"
    }
    # Without the location filter Google also sends AREA_OF_INTEREST rows (the same
    # clicks counted again): the extractor's query never asks for them.
    interest = next(r for r in part.rows if r.location_type == AREA_OF_INTEREST)
    url = f"{server.url}/{GOOGLE_ADS_API_VERSION}/customers/{interest.customer_id}"
    filtered = report_query(interest.date, interest.date)
    unfiltered = filtered.split(" AND geographic_view.location_type")[0]
    for query, kinds in (
        (unfiltered, {LOCATION_OF_PRESENCE, AREA_OF_INTEREST}),
        (filtered, {LOCATION_OF_PRESENCE}),
    ):
        batches = requests.post(
            f"{url}/googleAds:searchStream", json={"query": query}, headers=headers
        ).json()
        found = {r["geographicView"]["locationType"] for b in batches for r in b["results"]}
        assert found == kinds
    manager = f"{server.url}/{GOOGLE_ADS_API_VERSION}/customers/{part.manager_customer_id}"
    refused = requests.post(
        f"{manager}/googleAds:searchStream",
        json={"query": report_query(START, START)},
        headers=headers,
    )
    assert refused.status_code == 400
    assert "REQUESTED_METRICS_FOR_MANAGER" in refused.text


def test_error_bodies_are_read_as_google_writes_them() -> None:
    body = {
        "error": {
            "code": 429,
            "message": "Resource has been exhausted (e.g. check quota).",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.ads.googleads.v19.errors.GoogleAdsFailure",
                    "errors": [
                        {
                            "errorCode": {"quotaError": "RESOURCE_EXHAUSTED"},
                            "message": "Too many requests. Retry in 40591 seconds.",
                            "details": {
                                "quotaErrorDetails": {
                                    "rateScope": "DEVELOPER",
                                    "rateName": "Number of operations for basic access",
                                    "retryDelay": "40591s",
                                }
                            },
                        }
                    ],
                    "requestId": "xN_KaZRHh0Y6aTwu2n1DAg",
                }
            ],
        }
    }
    assert is_throttle(429, body)
    assert retry_delay_seconds(body) == 40591.0
    text = message(body, "")
    assert "quotaError=RESOURCE_EXHAUSTED" in text and "retry in 40591s" in text
    assert "requestId xN_KaZRHh0Y6aTwu2n1DAg" in text
    assert parse_duration("0.250s") == 0.25 and parse_duration("soon") is None
    denied = {
        "error": {
            "code": 403,
            "status": "PERMISSION_DENIED",
            "message": "The caller does not have permission",
            "details": [
                {
                    "@type": "type.googleapis.com/google.ads.googleads.v22.errors.GoogleAdsFailure",
                    "errors": [{"errorCode": {"authorizationError": "USER_PERMISSION_DENIED"}}],
                }
            ],
        }
    }
    assert not is_throttle(403, denied) and retry_delay_seconds(denied) is None
    assert is_throttle(503, {"error": {"code": 503, "status": "UNAVAILABLE"}})


def test_persistent_failure_gives_up_after_max_attempts(
    part: GoogleAdsPart, server: GoogleAdsServer, tmp_path: Path
) -> None:
    server.inject_fault("/", 503, count=10)
    retry = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.001)
    with pytest.raises(ApiRetryError) as caught:
        extract(server, part, tmp_path, START, START + timedelta(days=1), retry=retry)
    assert caught.value.status == 503 and caught.value.attempts == 3
    assert "TRANSIENT_ERROR" in str(caught.value)
    assert not list(tmp_path.rglob("_manifest.json"))


# --------------------------------------------------------------------------- load


def test_flatten_validate_merge_round_trip_is_exact_and_idempotent(
    part: GoogleAdsPart, server: GoogleAdsServer, tmp_path: Path
) -> None:
    end = START + timedelta(days=DAYS)
    customers = customer_ids(part)
    paths = extract(server, part, tmp_path, START, end, customers=customers, chunk_days=4)
    con = duckdb.connect()
    raw.ensure_raw_schema(con, TABLES.values())
    (batch,) = raw.batches_from_manifests(paths, TABLES)
    report = validate_batch(batch.source, batch.entity, batch.frame, label=batch.label)
    assert report.success and report.row_count == len(batch.frame)
    first = raw.merge_batch(con, batch)
    expected = part_rows(part, customers, days_from(START, DAYS))
    assert raw_rows(con) == expected and first.inserted == len(expected)
    stored = con.execute("select * exclude (_loaded_at) from raw.google_ads_geographic_view")
    before = sorted(stored.fetchall())

    # The same manifests again: every customer-day is replaced by itself.
    (again,) = raw.batches_from_manifests(paths, TABLES)
    second = raw.merge_batch(con, again)
    assert second.deleted == second.inserted == len(expected)
    after = con.execute("select * exclude (_loaded_at) from raw.google_ads_geographic_view")
    assert sorted(after.fetchall()) == before

    # What the mart will count: presence rows only, and exactly the part's facts.
    facts = list(part.ad_facts())
    assert len(facts) == len(expected)
    assert sum((f.spend for f in facts), Decimal(0)) == sum(
        (spend_of(int(r[4])) for r in expected), Decimal(0)
    )

    # Interest rows (a query without the location filter) double-count: the suite refuses.
    interest = batch.frame.iloc[[0]].copy()
    interest["geographic_view_location_type"] = AREA_OF_INTEREST
    doubled = pd.concat([batch.frame, interest], ignore_index=True)
    with pytest.raises(DataQualityError) as caught:
        validate_batch("google_ads", "geographic_view", doubled, label="unfiltered")
    failed = {f.expectation_type for f in caught.value.report.failures}
    assert "expect_compound_columns_to_be_unique" in failed
    assert "expect_column_values_to_match_regex" in failed


def test_suite_matches_the_raw_table() -> None:
    problems = quality.check_suites_cover_raw_schema(SOURCE.tables)
    assert [p for p in problems if "google_ads" in p] == []


# --------------------------------------------------------------------------- world part


def test_part_save_load_round_trip_and_determinism(
    world: World, part: GoogleAdsPart, tmp_path: Path
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    part.save(first)
    GoogleAdsPart.generate(world, 11).save(second)
    for name in ("google_ads.json", "google_ads_geographic_view.jsonl"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    loaded = GoogleAdsPart.load(first)
    assert loaded == part
    assert list(loaded.ad_facts()) == list(part.ad_facts())
    other = tmp_path / "c"
    other.mkdir()
    GoogleAdsPart.generate(world, 12).save(other)
    assert (other / "google_ads_geographic_view.jsonl").read_bytes() != (
        first / "google_ads_geographic_view.jsonl"
    ).read_bytes()


def test_default_part_is_sized_like_the_others_and_convertible() -> None:
    world = World.generate(seed=42, start=date(2024, 7, 1), days=90, scale=1.0)
    part = GoogleAdsPart.generate(world, 42)
    facts = list(part.ad_facts())
    # Meta's part is ~4.3k insight rows at scale 1 over 90 days.
    assert 3_000 < len(facts) < 7_000
    assert len({f.account_id for f in facts}) == len(part.customers) >= 8
    for fact in facts:
        assert world.fx.rate_on(fact.currency, fact.report_date) is not None
        assert fact.country_code is not None
        assert world.seeds.region_of(fact.country_code) in next(
            c.regions for c in part.customers if c.customer_id == fact.account_id
        )
    whole = {c.customer_id for c in part.customers if c.currency_code == "JPY"}
    assert whole and all(
        r.cost_micros % 1_000_000 == 0 for r in part.rows if r.customer_id in whole
    )
    assert part.currencies() <= world.fx.currencies
    assert part.countries() <= set(world.seeds.countries)
    assert part.won_deal_facts() == ()
    # ad_facts(until): only days whose customer-local date is before until's.
    until = datetime.combine(date(2024, 7, 10), time(3), tzinfo=UTC)
    for fact in part.ad_facts(until):
        tz = next(c.tz for c in part.customers if c.customer_id == fact.account_id)
        assert fact.report_date < until.astimezone(tz).date()


def test_standin_is_built_from_a_worlds_part_and_names_its_connection(
    part: GoogleAdsPart,
) -> None:
    server = GoogleAdsServer.from_world(SimpleNamespace(parts={"google_ads": part}), token=TOKEN)
    try:
        extra = server.connection_extra()
        assert extra["customer_ids"] == customer_ids(part)
        assert extra["login_customer_id"] == part.manager_customer_id
        connection = server.connection(TOKEN)
        assert connection["host"] == server.url and connection["password"] == TOKEN
        options = GoogleAdsOptions(
            tuple(extra["customer_ids"]), extra["developer_token"], extra["login_customer_id"]
        )
        assert options.developer_token not in repr(options)
    finally:
        server.stop()
    assert parse_gaql(report_query(START, START)).fields[0] == "customer.id"


# --------------------------------------------------------------------------- reference


def test_geo_target_seed_is_the_generators_output_with_googles_ids() -> None:
    assert GEO_TARGETS_SEED.read_text(encoding="utf-8") == render_seed()
    header = GEO_TARGETS_SEED.read_text(encoding="utf-8").splitlines()[0]
    assert header == "Criteria ID,Name,Canonical Name,Parent ID,Country Code,Target Type,Status"
    codes = load_country_codes()
    # Ids as Google's geotargets table has them.
    known = {"2276": "DE", "2840": "US", "2826": "GB", "2250": "FR", "2392": "JP", "2004": "AF"}
    assert {key: codes[key] for key in known} == known
    assert len(codes) == len(set(codes.values())) == 249
    assert country_of_criterion("2276") == "DE" and country_of_criterion("2999") is None
    assert [country_criterion_id(code) for code in ("DE", "us", "GB")] == ["2276", "2840", "2826"]


def test_options_normalise_ids_and_keep_the_developer_token_secret() -> None:
    environ = {
        "R2R_GOOGLE_ADS_TOKEN": TOKEN,
        "R2R_GOOGLE_ADS_CUSTOMER_IDS": "123-456-7890, 2222222222",
        "R2R_GOOGLE_ADS_DEVELOPER_TOKEN": DEVELOPER_TOKEN,
        "R2R_GOOGLE_ADS_LOGIN_CUSTOMER_ID": "999-000-1111",
    }
    credentials = get_credentials(SOURCE, environ)
    options = credentials.options
    assert options.customer_ids == ("1234567890", "2222222222")
    assert options.login_customer_id == "9990001111"
    assert options.developer_token == DEVELOPER_TOKEN
    assert DEVELOPER_TOKEN not in repr(credentials) and TOKEN not in repr(credentials)
    assert dataclasses.replace(options, login_customer_id="").login_customer_id == ""
    with pytest.raises(CredentialsError, match="developer token"):
        get_credentials(SOURCE, {k: v for k, v in environ.items() if "DEVELOPER" not in k})
    with pytest.raises(CredentialsError):
        get_credentials(SOURCE, environ | {"R2R_GOOGLE_ADS_CUSTOMER_IDS": "acme"})
    assert raw_text(1.5) == "1.5"
