"""A year-long Meta backfill against the stand-in's rolling call budget.

Graph limits calls per ad account in a rolling window (the Business-Use-Case budget):
once spent, every call answers code 80000 with ``estimated_time_to_regain_access`` in
the ``x-business-use-case-usage`` header for as long as the block lasts, far longer than
a backoff's few retries. The shared client reads that usage on every response, slows down
as it nears 100 % and waits out the stated block within its deadline, so the backfill
completes with every row, and so does a second run started at once (an Airflow retry).
The stand-in's budget here is 12 calls per second per account (Graph's is hourly): small
enough that the backfill must wait several times.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from reach2revenue.contracts import Credentials
from reach2revenue.http_client import ApiClient, DeadlineExceededError, RetryPolicy
from reach2revenue.landing import read_manifest
from reach2revenue.sandbox.standins.meta_ads import MetaAdsServer
from reach2revenue.sandbox.world import World
from reach2revenue.sources.meta_ads.errors import ERRORS, usage
from reach2revenue.sources.meta_ads.extract import SOURCE, extract_meta_ads
from reach2revenue.sources.meta_ads.settings import MetaAdsOptions

TOKEN = "meta-budget-token-7d1e"
START = date(2025, 1, 1)
DAYS = 365
ACCOUNTS = ("1001", "1002", "1003")
CALLS_PER_WINDOW = 12
WINDOW_SECONDS = 1.0
KEY = ("account_id", "campaign_id", "date_start", "country", "spend", "impressions")


@pytest.fixture(scope="module")
def world() -> World:
    return World.generate(seed=5, start=START, days=DAYS, scale=0.1)


@pytest.fixture
def meta(world: World) -> Iterator[MetaAdsServer]:
    server = MetaAdsServer(
        world,
        token=TOKEN,
        clock=world.end + timedelta(hours=2),
        calls_per_window=CALLS_PER_WINDOW,
        window_seconds=WINDOW_SECONDS,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def backfill(server: MetaAdsServer, landing: Path, **client_args: object) -> ApiClient:
    """Land the whole year for the accounts through a client of our own (for its counts)."""
    client = ApiClient(SOURCE, server.url, TOKEN, errors=ERRORS, **client_args)  # type: ignore[arg-type]
    with client:
        extract_meta_ads(
            Credentials(server.url, TOKEN, MetaAdsOptions(ACCOUNTS)),
            interval_start=START,
            interval_end=START + timedelta(days=DAYS),
            landing_dir=landing,
            lookback_days=0,
            page_limit=100,
            account_ids=ACCOUNTS,
            client=client,
        )
    return client


def landed_rows(landing: Path) -> set[tuple[str, ...]]:
    rows = set()
    for manifest_path in landing.rglob("_manifest.json"):
        manifest = read_manifest(manifest_path)
        account = manifest.params["account_id"]
        for page in manifest.page_paths():
            for row in json.loads(page.read_text(encoding="utf-8"))["data"]:
                rows.add(tuple(str({**row, "account_id": account}[k]) for k in KEY))
    return rows


def world_rows(world: World) -> set[tuple[str, ...]]:
    return {
        tuple(str(r[k]) for k in KEY) for r in world.meta_insights if r["account_id"] in ACCOUNTS
    }


@pytest.mark.slow  # about 30 s: three year-long backfills, two of them throttled
def test_year_backfill_completes_through_the_call_budget_twice(
    world: World, meta: MetaAdsServer, tmp_path: Path
) -> None:
    expected = world_rows(world)
    assert len(expected) > 1000
    figures = []
    # Head-on (pacing off): the budget runs out again and again, each block is waited out
    # as stated, and a second run started at once (the account still blocked) completes.
    # Then the default client, which paces as usage nears 100 %.
    for run, retry in (
        ("first", RetryPolicy(pace_from=None)),
        ("second", RetryPolicy(pace_from=None)),
        ("paced", RetryPolicy()),
    ):
        started = time.monotonic()
        blocks_before = meta.budget.throttles
        client = backfill(meta, tmp_path / run, retry=retry)
        seconds = time.monotonic() - started
        blocks = meta.budget.throttles - blocks_before
        assert landed_rows(tmp_path / run) == expected, run
        figures.append(
            f"{run} run: {client.request_count} calls, {blocks} budget blocks, "
            f"{client.throttle_count} throttled waits ({client.throttle_wait_seconds:.1f}s), "
            f"paced {client.pace_wait_seconds:.1f}s, {seconds:.1f}s"
        )
        if run != "paced":
            assert blocks >= 3 and client.throttle_count >= 3, figures[-1]
            assert client.retry_count == client.throttle_count  # nothing else went wrong
        else:
            assert client.pace_wait_seconds > 0 and blocks <= 1, figures[-1]
    print("\n" + "\n".join(figures))  # the report's figures (pytest -s)


def test_a_block_longer_than_the_deadline_fails_transiently_and_says_so(
    meta: MetaAdsServer, tmp_path: Path
) -> None:
    # Spend account 1001's budget, then ask with a client whose deadline is shorter than
    # the block: it must not sleep past its deadline, and the error is transient.
    for _ in range(CALLS_PER_WINDOW + 1):
        meta.budget.admit("1001")
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError) as caught:
        backfill(meta, tmp_path, deadline_seconds=0.5)
    assert time.monotonic() - started < 0.5
    message = str(caught.value)
    assert "(code 80000)" in message and "estimated_time_to_regain_access" in message
    assert "does not fit in the extraction deadline" in message
    assert TOKEN not in message


def test_usage_headers_read_as_meta_sends_them() -> None:
    headers = {
        "x-business-use-case-usage": json.dumps(
            {
                "1001": [
                    {
                        "type": "ads_insights",
                        "call_count": 28,
                        "total_cputime": 96,
                        "total_time": 40,
                        "estimated_time_to_regain_access": 7,
                    }
                ]
            }
        ),
        "x-app-usage": json.dumps({"call_count": 12, "total_cputime": 3, "total_time": 5}),
        "x-ad-account-usage": json.dumps({"acc_id_util_pct": 9.5, "reset_time_duration": 120}),
    }
    hint = usage(400, headers, None)
    assert hint is not None
    assert hint.used == pytest.approx(0.96)
    assert hint.wait_seconds == 7 * 60  # minutes, as Meta states them
    assert hint.reset_seconds == 120
    assert usage(200, {}, None) is None
    assert usage(200, {"x-app-usage": "not json"}, None) is None
