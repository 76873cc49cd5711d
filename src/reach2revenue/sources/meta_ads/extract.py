"""Meta Marketing API insights: campaign x country x day, landed per account and range.

One request (and its pages) per ad account and range of at most ``chunk_days`` report days,
with ``time_increment=1`` so every row is one day: a 90-day history of ten accounts is 30
requests, not 900, which keeps a backfill inside Meta's rolling call budget. Each
extraction covers its days ``[window_start, window_end)``, so a re-run lands beside the old
one and the loader replaces exactly those account-days (days without rows included).
Ranges longer than one chunk (a history load, a backfill) go through Meta's async report
jobs instead, one per account and up to ``async_chunk_days`` days: ``POST
act_{id}/insights`` with the same parameters answers a ``report_run_id``, ``GET
{report_run_id}`` is polled until ``async_status`` is ``Job Completed`` (``Job Failed`` or
``Job Skipped`` fail the extraction), and ``GET {report_run_id}/insights`` pages the rows
in the same shape. Meta recommends them for large requests; they also spare the call
budget.
Meta restates recent days (late attribution, up to 28 days), so every run re-fetches
``lookback_days`` before its interval (option ``lookback_days``, default 28, see
``settings.DEFAULT_LOOKBACK_DAYS``) and the loader replaces those days; if the cursor shows
that earlier days were never loaded (a failed or missed run), the run starts at the cursor
instead. A nightly run is then 29 days, one direct request per account (plus its pages).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from reach2revenue import cursors
from reach2revenue.contracts import Credentials
from reach2revenue.cursors import day_ranges
from reach2revenue.failures import ConfigurationError
from reach2revenue.http_client import ApiClient, ApiRequestError, RetryPolicy
from reach2revenue.landing import ExtractionWriter, extraction_stamp, utc_now
from reach2revenue.paginators import NextLinkPaginator
from reach2revenue.sources.meta_ads.errors import ERRORS
from reach2revenue.sources.meta_ads.settings import (
    DEFAULT_LOOKBACK_DAYS,
    GRAPH_API_VERSION,
    INSIGHTS_FIELDS,
)

log = logging.getLogger(__name__)

SOURCE = "meta_ads"
ENTITY = "insights"


def report_days(
    landing_dir: Path, interval_start: date, interval_end: date, lookback_days: int
) -> list[date]:
    """Report days to fetch (the cursor-aware window of `cursors.report_days`)."""
    return cursors.report_days(
        landing_dir, SOURCE, ENTITY, interval_start, interval_end, lookback_days
    )


def insights_params(since: date, until: date, page_limit: int) -> dict[str, Any]:
    """The insights query for report days ``since..until`` (inclusive, as Meta reads
    ``time_range``), as recorded in its manifest."""
    return {
        "level": "campaign",
        "time_increment": 1,
        "breakdowns": "country",
        "time_range": {"since": since.isoformat(), "until": until.isoformat()},
        "fields": list(INSIGHTS_FIELDS),
        "limit": page_limit,
    }


def _query(since: date, until: date, page_limit: int) -> dict[str, Any]:
    """The insights parameters as sent on the wire (JSON and comma lists as text)."""
    request = insights_params(since, until, page_limit)
    return {
        **request,
        "time_range": json.dumps(request["time_range"]),
        "fields": ",".join(request["fields"]),
    }


# Graph's `paging.next` carries every parameter and the cursor; an empty page ends it.
PAGINATOR = NextLinkPaginator(link=("paging", "next"), items=("data",))
ASYNC_DONE = "Job Completed"
ASYNC_FAILED = frozenset({"Job Failed", "Job Skipped"})


def start_report(
    client: ApiClient,
    account_id: str,
    since: date,
    until: date,
    page_limit: int,
    *,
    poll_seconds: float = 2.0,
    timeout_seconds: float = 1800.0,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Run one async insights report to completion; return its ``report_run_id``."""
    url = f"{GRAPH_API_VERSION}/act_{account_id}/insights"
    started = client.request("POST", url, params=_query(since, until, page_limit))
    data = started.data if isinstance(started.data, dict) else {}
    report_id = str(data.get("report_run_id") or "")
    if not report_id:
        raise ApiRequestError(SOURCE, "POST", started.url, started.status, "no report_run_id")
    waited, polls = 0.0, 0
    while True:
        status = client.get(
            f"{GRAPH_API_VERSION}/{report_id}", {"fields": "async_status,async_percent_completion"}
        )
        body = status.data if isinstance(status.data, dict) else {}
        state = str(body.get("async_status"))
        if state == ASYNC_DONE:
            return report_id
        if state in ASYNC_FAILED:
            raise ApiRequestError(
                SOURCE, "GET", status.url, status.status, f"async report {report_id}: {state}"
            )
        if waited >= timeout_seconds:
            raise ApiRequestError(
                SOURCE,
                "GET",
                status.url,
                status.status,
                f"async report {report_id} not done after {waited:.0f}s ({state}, "
                f"{body.get('async_percent_completion')}%)",
            )
        # Small reports finish in a second: poll soon, then back off to poll_seconds.
        pause = min(poll_seconds, 0.25 * 2**polls)
        sleep(pause)
        waited += pause
        polls += 1


def _pages(
    client: ApiClient,
    account_id: str,
    since: date,
    until: date,
    page_limit: int,
    report_id: str | None = None,
) -> Iterator[tuple[str, int]]:
    """Yield ``(response text, row count)`` for each page of one account's range (of a
    finished async report when ``report_id`` is given)."""
    params: dict[str, Any] | None = _query(since, until, page_limit)
    url = f"{GRAPH_API_VERSION}/act_{account_id}/insights"
    if report_id is not None:
        url, params = f"{GRAPH_API_VERSION}/{report_id}/insights", {"limit": page_limit}
    for response in client.pages(url, params, PAGINATOR):
        data = response.data if isinstance(response.data, dict) else {}
        yield response.text, len(data.get("data") or [])


def extract_account_range(
    client: ApiClient,
    account_id: str,
    since: date,
    until: date,
    *,
    landing_dir: Path,
    page_limit: int = 500,
    use_async: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Fetch every page of one account's insights for days ``since..until`` (inclusive),
    directly or through an async report; land them and a manifest whose window is
    ``[since, until + 1 day)``."""
    extracted_at = utc_now()
    writer = ExtractionWriter(
        landing_dir,
        SOURCE,
        ENTITY,
        partition_date=until.isoformat(),
        window_start=since.isoformat(),
        window_end=(until + timedelta(days=1)).isoformat(),
        extraction_id=f"{account_id}-{extraction_stamp(extracted_at)}",
        extracted_at=extracted_at,
        secrets=client.secrets,
        request_count=lambda: client.request_count,
    )
    report_id = (
        start_report(client, account_id, since, until, page_limit, sleep=sleep)
        if use_async
        else None
    )
    for text, count in _pages(client, account_id, since, until, page_limit, report_id):
        writer.add(text, count)
    return writer.finish(
        {
            "api_version": GRAPH_API_VERSION,
            "account_id": account_id,
            **insights_params(since, until, page_limit),
            **({"report_run_id": report_id} if report_id else {}),
        }
    )


def extract_meta_ads(
    creds: Credentials,
    *,
    interval_start: date,
    interval_end: date,
    landing_dir: Path,
    lookback_days: int | None = None,
    page_limit: int = 500,
    chunk_days: int = 31,
    async_chunk_days: int = 92,
    sleep: Callable[[float], None] = time.sleep,
    account_ids: Sequence[str] | None = None,
    retry: RetryPolicy | None = None,
    client: ApiClient | None = None,
) -> list[Path]:
    """Land Meta insights for ``[interval_start - lookback, interval_end)``; return manifests.

    Args:
        creds: Base URL, token and options (``MetaAdsOptions``: account ids, lookback).
        interval_start: First report day of the run's interval.
        interval_end: First report day after the interval (half-open).
        landing_dir: Root of the landing zone.
        lookback_days: Days before ``interval_start`` fetched again (Meta restates them);
            None takes the option ``lookback_days`` (default 28).
        page_limit: ``limit`` per page.
        chunk_days: Report days per direct request (one extraction per account and chunk).
            A longer range goes through async report jobs of ``async_chunk_days`` each.
        async_chunk_days: Report days per async report job.
        sleep: Waits between async status polls (tests pass a no-op).
        account_ids: Overrides the options' account ids.
        retry: Retry policy (tests use tiny delays).
        client: A ready client (tests); otherwise one is built from ``creds``.

    Returns:
        One manifest path per (account, range of days), in account then day order.
    """
    if account_ids is not None:
        accounts = [str(a).removeprefix("act_") for a in account_ids]
    else:
        accounts = list(getattr(creds.options, "account_ids", ()) or ())
    if not accounts:
        raise ConfigurationError(
            "no Meta ad accounts configured: set extra.account_ids on the Airflow connection "
            "or R2R_META_ADS_ACCOUNT_IDS"
        )
    if lookback_days is None:
        lookback_days = int(getattr(creds.options, "lookback_days", DEFAULT_LOOKBACK_DAYS))
    days = report_days(Path(landing_dir), interval_start, interval_end, lookback_days)
    own_client = client is None
    api = client or ApiClient(SOURCE, creds.base_url, creds.token, retry=retry, errors=ERRORS)
    manifests: list[Path] = []
    try:
        use_async = len(days) > chunk_days
        for account_id in accounts:
            for since, until in day_ranges(days, async_chunk_days if use_async else chunk_days):
                manifests.append(
                    extract_account_range(
                        api,
                        account_id,
                        since,
                        until,
                        landing_dir=Path(landing_dir),
                        page_limit=page_limit,
                        use_async=use_async,
                        sleep=sleep,
                    )
                )
    finally:
        if own_client:
            api.close()
    log.info(
        "meta_ads: %d accounts x %d days (%s..%s): %d requests, %d retries",
        len(accounts),
        len(days),
        days[0] if days else "-",
        days[-1] if days else "-",
        api.request_count,
        api.retry_count,
    )
    return manifests
