"""Meta insights extraction against the Meta stand-in over real HTTP on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from reach2revenue import cursors as state
from reach2revenue import raw
from reach2revenue.contracts import Credentials
from reach2revenue.failures import ConfigurationError
from reach2revenue.http_client import (
    ApiRequestError,
    ApiRetryError,
    RateLimiter,
    RetryPolicy,
)
from reach2revenue.landing import read_manifest, redact
from reach2revenue.sandbox.standins import StandinServers, start_standins
from reach2revenue.sandbox.world import World
from reach2revenue.sources import raw_tables
from reach2revenue.sources.meta_ads.errors import is_throttle
from reach2revenue.sources.meta_ads.extract import GRAPH_API_VERSION, extract_meta_ads, report_days
from reach2revenue.sources.meta_ads.settings import MetaAdsOptions

TOKEN = "meta-test-token-5f2c9a"
START = date(2026, 9, 1)
TABLES = raw_tables()
FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05, max_retry_after=0.05)


@pytest.fixture(scope="module")
def world() -> World:
    """A small world: 4 ad accounts, 8 report days."""
    return World.generate(seed=11, start=START, days=8, scale=0.3)


@pytest.fixture
def servers(world: World) -> Iterator[StandinServers]:
    """Fresh stand-ins (own faults and stats) with the clock after the world's end."""
    with start_standins(
        world, token=TOKEN, clock=world.end + timedelta(hours=2), rate_limits=False
    ) as running:
        yield running


def creds(servers: StandinServers, token: str = TOKEN) -> Credentials:
    """Credentials pointing at the stand-in."""
    return Credentials(servers.meta_url, token, MetaAdsOptions(("1001", "1002")))


def extract(
    servers: StandinServers,
    landing: Path,
    start: date,
    end: date,
    *,
    accounts: Sequence[str] = ("1001",),
    lookback_days: int = 0,
    page_limit: int = 500,
    chunk_days: int = 31,
    async_chunk_days: int = 92,
    retry: RetryPolicy = FAST_RETRY,
) -> list[Path]:
    """Run the extractor with test-friendly defaults."""
    return extract_meta_ads(
        creds(servers),
        interval_start=start,
        interval_end=end,
        landing_dir=landing,
        lookback_days=lookback_days,
        page_limit=page_limit,
        chunk_days=chunk_days,
        async_chunk_days=async_chunk_days,
        sleep=lambda seconds: None,
        account_ids=list(accounts),
        retry=retry,
    )


def load(con: duckdb.DuckDBPyConnection, landing: Path, paths: Sequence[Path]) -> None:
    """Merge like the pipeline does, then advance the cursor."""
    raw.ensure_raw_schema(con, TABLES.values())
    for batch in raw.batches_from_manifests(paths, TABLES):
        raw.merge_batch(con, batch)
        state.advance_cursor(landing, batch.source, batch.entity, batch.loaded_through)


def world_rows(world: World, accounts: Sequence[str], days: Sequence[date]) -> set[tuple[str, ...]]:
    """The world's insights as raw-table tuples."""
    wanted = {day.isoformat() for day in days}
    return {
        tuple(
            str(r[k])
            for k in ("account_id", "campaign_id", "date_start", "country", "spend", "reach")
        )
        for r in world.meta_insights
        if r["account_id"] in accounts and r["date_start"] in wanted
    }


def raw_rows(con: duckdb.DuckDBPyConnection) -> set[tuple[str, ...]]:
    """What the warehouse holds, in the same shape as `world_rows`."""
    return set(
        con.execute(
            "select account_id, campaign_id, date_start, country, spend, reach "
            "from raw.meta_ads_insights"
        ).fetchall()
    )


def test_paging_reassembles_exactly_the_worlds_rows(
    world: World, servers: StandinServers, tmp_path: Path
) -> None:
    accounts = ("1001", "1002")
    end = START + timedelta(days=world.days)
    # 8 days is longer than a direct request's 4: async report jobs of 4 days each
    paths = extract(
        servers,
        tmp_path,
        START,
        end,
        accounts=accounts,
        page_limit=2,
        chunk_days=4,
        async_chunk_days=4,
    )

    manifests = [read_manifest(p) for p in paths]
    chunks = -(-world.days // 4)
    assert len(manifests) == len(accounts) * chunks  # one per account and range of 4 days
    assert all(m.params["report_run_id"] for m in manifests)
    requests_made = servers.meta.stats()["requests"]
    assert requests_made["/v21.0/act_1001/insights"] == chunks  # one POST per job
    report_path = f"/v21.0/{manifests[0].params['report_run_id']}"
    assert requests_made[report_path] == 2  # polled: running, then completed
    assert max(len(m.pages) for m in manifests) > 2  # paged across several pages
    assert sum(m.request_count for m in manifests) == servers.meta.stats()["total"]
    first = manifests[0]
    assert (first.source, first.entity, first.partition_date) == (
        "meta_ads",
        "insights",
        "2026-09-04",
    )
    assert (first.window_start, first.window_end) == ("2026-09-01", "2026-09-05")
    assert first.extraction_id.startswith("1001-")
    assert first.params["api_version"] == GRAPH_API_VERSION
    assert first.params["time_range"] == {"since": "2026-09-01", "until": "2026-09-04"}
    assert first.params["time_increment"] == 1
    assert paths[0].parent.parent.name == "date=2026-09-04"

    con = duckdb.connect()
    load(con, tmp_path, paths)
    days = [START + timedelta(days=n) for n in range(world.days)]
    expected = world_rows(world, accounts, days)
    assert raw_rows(con) == expected
    count = con.execute("select count(*) from raw.meta_ads_insights").fetchall()[0][0]
    assert count == len(expected) == sum(m.record_count for m in manifests)
    # Landed pages are the API's JSON (numbers as strings), with no token anywhere.
    for path in tmp_path.rglob("*.json"):
        assert TOKEN not in path.read_text()
    page = json.loads(first.page_paths()[0].read_text())
    assert isinstance(page["data"][0]["spend"], str)
    assert "paging" in page


PLAIN_429 = {"error": {"message": "Too many requests", "type": "OAuthException", "code": 1}}
CODE_17 = {
    "error": {"message": "(#17) User request limit reached", "code": 17, "error_subcode": 2446079}
}


@pytest.mark.parametrize(
    ("status", "body"),
    [(429, PLAIN_429), (500, None), (503, None), (400, CODE_17), (400, None)],
    ids=["429", "500", "503", "code-17-throttle", "standin-throttle"],
)
def test_transient_errors_are_retried(
    world: World,
    servers: StandinServers,
    tmp_path: Path,
    status: int,
    body: dict[str, object] | None,
) -> None:
    # Bodies without `is_transient`: the HTTP status, or the code alone, must trigger a retry.
    servers.meta.inject_fault(f"/{GRAPH_API_VERSION}/act_1001/insights", status, 2, body)
    (path,) = extract(servers, tmp_path, START, START + timedelta(days=1))

    assert servers.meta.stats()["statuses"] == {str(status): 2, "200": 1}
    assert read_manifest(path).request_count == 3
    con = duckdb.connect()
    load(con, tmp_path, [path])
    assert raw_rows(con) == world_rows(world, ["1001"], [START])


def test_persistent_failure_gives_up_after_max_attempts(
    servers: StandinServers, tmp_path: Path
) -> None:
    servers.meta.inject_fault("/", 500, count=10)
    retry = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.001)
    with pytest.raises(ApiRetryError) as caught:
        extract(servers, tmp_path, START, START + timedelta(days=1), retry=retry)
    assert caught.value.status == 500 and caught.value.attempts == 3
    assert servers.meta.stats()["total"] == 3
    assert not list(tmp_path.rglob("_manifest.json"))  # no manifest for a failed day


def test_unauthorized_fails_at_once_with_a_clear_message(
    servers: StandinServers, tmp_path: Path
) -> None:
    # Graph answers a bad token with HTTP 400 code 190 (below); some proxies say 401.
    body = {
        "error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}
    }
    servers.meta.inject_fault("/", 401, 5, body)
    with pytest.raises(ApiRequestError) as caught:
        extract(servers, tmp_path, START, START + timedelta(days=1))
    message = str(caught.value)
    assert caught.value.status == 401
    assert "meta_ads" in message and "HTTP 401" in message
    assert f"/{GRAPH_API_VERSION}/act_1001/insights" in message
    assert "access token" in message.lower()  # the platform's own words
    assert TOKEN not in message
    assert servers.meta.stats()["total"] == 1  # not retried

    # A wrong token: Meta answers HTTP 400 code 190, which is not a throttle either.
    servers.reset_stats()
    servers.meta.clear_faults()
    with pytest.raises(ApiRequestError) as caught:
        extract_meta_ads(
            creds(servers, token="wrong-token-xyz"),
            interval_start=START,
            interval_end=START + timedelta(days=1),
            landing_dir=tmp_path,
            lookback_days=0,
            retry=FAST_RETRY,
        )
    assert caught.value.status == 400 and "wrong-token-xyz" not in str(caught.value)
    assert "(code 190)" in str(caught.value)
    assert servers.meta.stats()["total"] == 1


def test_lookback_refetches_restated_days(tmp_path: Path) -> None:
    world = World.generate(seed=11, start=START, days=8, scale=0.3)  # mutated below
    with start_standins(
        world, token=TOKEN, clock=world.end + timedelta(hours=2), rate_limits=False
    ) as own:
        con = duckdb.connect()
        first = extract(own, tmp_path, START, START + timedelta(days=5))
        load(con, tmp_path, first)
        assert [read_manifest(p).partition_date for p in first][-1] == "2026-09-05"

        # Meta restates day 4 (late attributed spend) and drops a row of day 5.
        day4, day5 = START + timedelta(days=3), START + timedelta(days=4)
        restated = next(
            r
            for r in world.meta_insights
            if r["account_id"] == "1001" and r["date_start"] == day4.isoformat()
        )
        restated["spend"] = str(Decimal(restated["spend"]) + Decimal("1.23"))
        vanished = next(
            r
            for r in world.meta_insights
            if r["account_id"] == "1001" and r["date_start"] == day5.isoformat()
        )
        world.meta_insights.remove(vanished)
        own.meta.reindex()

        # The next daily run (day 6) re-fetches the 3 days before it.
        second = extract(
            own, tmp_path, START + timedelta(days=5), START + timedelta(days=6), lookback_days=3
        )
        assert [(read_manifest(p).window_start, read_manifest(p).window_end) for p in second] == [
            ("2026-09-03", "2026-09-07")
        ]
        load(con, tmp_path, second)
        days = [START + timedelta(days=n) for n in range(6)]
        assert raw_rows(con) == world_rows(world, ["1001"], days)
        assert state.read_cursor(tmp_path, "meta_ads", "insights").date() == START + timedelta(
            days=6
        )


def test_gap_after_missed_runs_starts_at_the_cursor(
    world: World, servers: StandinServers, tmp_path: Path
) -> None:
    con = duckdb.connect()
    load(con, tmp_path, extract(servers, tmp_path, START, START + timedelta(days=2)))
    # Runs for days 3-6 failed; the run for day 7 must also fetch days 3-6.
    paths = extract(
        servers, tmp_path, START + timedelta(days=6), START + timedelta(days=7), lookback_days=1
    )
    assert [(read_manifest(p).window_start, read_manifest(p).window_end) for p in paths] == [
        ((START + timedelta(days=2)).isoformat(), (START + timedelta(days=7)).isoformat())
    ]
    load(con, tmp_path, paths)
    days = [START + timedelta(days=n) for n in range(7)]
    assert raw_rows(con) == world_rows(world, ["1001"], days)

    # A backfill of old days neither widens the range nor moves the cursor back.
    assert report_days(tmp_path, START, START + timedelta(days=1), 0) == [START]
    load(con, tmp_path, extract(servers, tmp_path, START, START + timedelta(days=1)))
    assert state.read_cursor(tmp_path, "meta_ads", "insights").date() == START + timedelta(days=7)


def test_a_history_lands_the_same_with_and_without_concurrency(
    world: World, servers: StandinServers, tmp_path: Path
) -> None:
    accounts = ("1001", "1002", "1003")
    end = START + timedelta(days=world.days)
    landed = {}
    for workers in (1, 3):
        servers.reset_stats()
        paths = extract_meta_ads(
            creds(servers),
            interval_start=START,
            interval_end=end,
            landing_dir=tmp_path / str(workers),
            lookback_days=0,
            page_limit=3,
            chunk_days=2,
            async_chunk_days=3,  # async jobs: 3 per account
            sleep=lambda seconds: None,
            account_ids=list(accounts),
            retry=FAST_RETRY,
            max_concurrency=workers,
        )
        manifests = [read_manifest(p) for p in paths]
        # Account then day order, whatever order the jobs finished in.
        assert [(m.params["account_id"], m.window_start) for m in manifests] == [
            (account, (START + timedelta(days=first)).isoformat())
            for account in accounts
            for first in (0, 3, 6)
        ]
        # Each manifest counts its own requests, though the threads share one client.
        assert sum(m.request_count for m in manifests) == servers.meta.stats()["total"]
        con = duckdb.connect()
        load(con, tmp_path / str(workers), paths)
        landed[workers] = raw_rows(con)
    days = [START + timedelta(days=n) for n in range(world.days)]
    assert landed[1] == landed[3] == world_rows(world, accounts, days)


def test_max_concurrency_is_an_option_within_bounds() -> None:
    assert MetaAdsOptions(("1001",)).max_concurrency == 4
    assert MetaAdsOptions(("1001",), max_concurrency=1).max_concurrency == 1
    for bad in (0, 17):
        with pytest.raises(ConfigurationError, match=r"max_concurrency must be 1\.\.16"):
            MetaAdsOptions(("1001",), max_concurrency=bad)


def test_redaction_and_throttle_classification() -> None:
    url = "https://graph.facebook.com/v21.0/act_1/insights?limit=5&access_token=EAAB123&after=x"
    assert redact(url) == url.replace("EAAB123", "REDACTED")
    escaped = json.dumps({"next": "https:\\/\\/g\\/x?access_token=EAAB123\\u0026after=QV"})
    assert "EAAB123" not in redact(escaped)
    assert redact("Bearer sekrit-value here", ["sekrit-value"]) == "Bearer REDACTED here"
    assert is_throttle(400, {"error": {"code": 17, "message": "(#17) User request limit"}})
    assert is_throttle(400, {"error": {"code": 80004}})
    assert is_throttle(400, {"error": {"code": 1, "is_transient": True}})
    assert not is_throttle(400, {"error": {"code": 100, "message": "Invalid parameter"}})
    assert not is_throttle(400, {"status": "error", "message": "hubspot body"})


def test_rate_limiter_spaces_requests() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = RateLimiter(5.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(11):
        limiter.acquire()
    assert now[0] == pytest.approx(2.0)  # the first is free, then one every 0.2 s
