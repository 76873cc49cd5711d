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
Accounts and ranges are independent (Meta budgets calls per ad account), so a history
starts many jobs before collecting any (`run_async_reports`: while Meta computes some,
finished ones are paged) and a nightly pages its accounts side by side, on at most
``max_concurrency`` threads (option, default 4) sharing one client: its retries, stated
throttles and pacing hold for every thread.
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
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from reach2revenue import cursors
from reach2revenue.contracts import Credentials
from reach2revenue.cursors import day_ranges
from reach2revenue.failures import ConfigurationError
from reach2revenue.http_client import ApiClient, ApiRequestError, RetryPolicy, run_concurrently
from reach2revenue.landing import (
    ExtractionWriter,
    extraction_stamp,
    safe_path_component,
    utc_now,
)
from reach2revenue.paginators import NextLinkPaginator
from reach2revenue.sources.meta_ads.errors import ERRORS
from reach2revenue.sources.meta_ads.settings import (
    DEFAULT_LOOKBACK_DAYS,
    DEFAULT_MAX_CONCURRENCY,
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
#: Async jobs running at Meta at once, per worker (`MetaAdsOptions.max_concurrency`). A
#: running job costs a status poll now and then and no thread of ours: more of them than
#: workers keeps the workers busy landing finished reports while Meta computes others.
ASYNC_JOBS_PER_WORKER = 4
#: A job's status is polled right after it is started (as Meta's SDK example does), then
#: after this many seconds, each later poll waiting twice as long as the one before, up to
#: ``poll_seconds``: a small report is done within a second and is collected at once, a
#: large one takes minutes and is not polled in a tight loop.
FIRST_POLL_PAUSE = 0.1


@dataclass
class _Report:
    """One account's insights for days ``since..until``: its async job (when one is used)
    and the requests made for it (the manifest's ``request_count``)."""

    account_id: str
    since: date
    until: date
    extracted_at: datetime = field(default_factory=utc_now)
    report_id: str | None = None
    requests: int = 0
    polls: int = 0
    started_at: float = 0.0
    poll_at: float = 0.0


def _start(client: ApiClient, report: _Report, page_limit: int, now: float) -> None:
    """``POST act_{id}/insights``: start the report's async job."""
    report.extracted_at = utc_now()
    url = f"{GRAPH_API_VERSION}/act_{report.account_id}/insights"
    started = client.request(
        "POST",
        url,
        params=_query(report.since, report.until, page_limit),
        pace_key=report.account_id,
    )
    report.requests += started.tries
    data = started.data if isinstance(started.data, dict) else {}
    report.report_id = str(data.get("report_run_id") or "")
    if not report.report_id:
        raise ApiRequestError(SOURCE, "POST", started.url, started.status, "no report_run_id")
    report.started_at = report.poll_at = now


def _poll(
    client: ApiClient, report: _Report, now: float, poll_seconds: float, timeout_seconds: float
) -> bool:
    """``GET {report_run_id}``: True once the job is done; else schedule the next poll.

    Raises:
        ApiRequestError: the job failed or was skipped, or outlived ``timeout_seconds``.
    """
    status = client.get(
        f"{GRAPH_API_VERSION}/{report.report_id}",
        {"fields": "async_status,async_percent_completion"},
        pace_key=report.account_id,
    )
    report.requests += status.tries
    body = status.data if isinstance(status.data, dict) else {}
    state = str(body.get("async_status"))
    if state == ASYNC_DONE:
        return True
    if state in ASYNC_FAILED:
        raise ApiRequestError(
            SOURCE, "GET", status.url, status.status, f"async report {report.report_id}: {state}"
        )
    waited = now - report.started_at
    if waited >= timeout_seconds:
        raise ApiRequestError(
            SOURCE,
            "GET",
            status.url,
            status.status,
            f"async report {report.report_id} not done after {waited:.0f}s ({state}, "
            f"{body.get('async_percent_completion')}%)",
        )
    report.poll_at = now + min(poll_seconds, FIRST_POLL_PAUSE * 2**report.polls)
    report.polls += 1
    return False


def _land(client: ApiClient, report: _Report, *, landing_dir: Path, page_limit: int) -> Path:
    """Fetch every page of a report (of its finished async job, or directly) and land
    them with a manifest whose window is ``[since, until + 1 day)``."""
    if report.report_id is None:
        report.extracted_at = utc_now()
    writer = ExtractionWriter(
        landing_dir,
        SOURCE,
        ENTITY,
        partition_date=report.until.isoformat(),
        window_start=report.since.isoformat(),
        window_end=(report.until + timedelta(days=1)).isoformat(),
        extraction_id=f"{report.account_id}-{extraction_stamp(report.extracted_at)}",
        extracted_at=report.extracted_at,
        secrets=client.secrets,
        # Counted per report: other threads share the client's own counter.
        request_count=lambda: report.requests,
        requests_before=0,
    )
    url = f"{GRAPH_API_VERSION}/act_{report.account_id}/insights"
    params: dict[str, Any] = _query(report.since, report.until, page_limit)
    if report.report_id is not None:
        url, params = f"{GRAPH_API_VERSION}/{report.report_id}/insights", {"limit": page_limit}
    for response in client.pages(url, params, PAGINATOR, pace_key=report.account_id):
        report.requests += response.tries
        data = response.data if isinstance(response.data, dict) else {}
        writer.add(response.text, len(data.get("data") or []))
    return writer.finish(
        {
            "api_version": GRAPH_API_VERSION,
            "account_id": report.account_id,
            **insights_params(report.since, report.until, page_limit),
            **({"report_run_id": report.report_id} if report.report_id else {}),
        }
    )


def run_async_reports(
    client: ApiClient,
    reports: Sequence[_Report],
    land: Callable[[_Report], Path],
    *,
    page_limit: int,
    workers: int,
    poll_seconds: float = 2.0,
    timeout_seconds: float = 1800.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Path]:
    """Run the reports as async jobs, many at once; land each as soon as it is done.

    This thread starts jobs, taking the accounts in turn (at most
    ``ASYNC_JOBS_PER_WORKER * workers`` running at Meta at once), and polls each on its
    own schedule (at once, then after `FIRST_POLL_PAUSE`, doubling up to ``poll_seconds``);
    ``workers`` threads page and land the finished ones, one report per account at a time: Meta
    budgets calls per ad account, and the accounts' budgets are what the threads spread
    over. Waits are counted by what this thread slept (``sleep`` may be a test's no-op),
    so a job's timeout is time spent waiting for it, not time spent on other jobs' pages.

    Returns:
        The manifests, in the order of ``reports``.
    """
    limit = max(1, ASYNC_JOBS_PER_WORKER * workers)
    # Account by account in turn: the first job of every account, then the second...
    taken: dict[str, int] = {}
    turns: list[tuple[int, int]] = []
    for index, report in enumerate(reports):
        turns.append((taken.get(report.account_id, 0), index))
        taken[report.account_id] = turns[-1][0] + 1
    queued = deque(index for _, index in sorted(turns))
    polling: list[int] = []
    ready: list[int] = []  # done at Meta, waiting for their account's turn to be landed
    landing: dict[Future[Path], int] = {}
    manifests: dict[int, Path] = {}
    waited = 0.0
    pool = ThreadPoolExecutor(workers, thread_name_prefix="r2r-meta") if workers > 1 else None

    def land_ready() -> None:
        busy = {reports[i].account_id for i in landing.values()}
        for index in list(ready):
            account = reports[index].account_id
            if pool is None:
                ready.remove(index)
                manifests[index] = land(reports[index])
            elif account not in busy and len(landing) < workers:
                ready.remove(index)
                busy.add(account)
                landing[pool.submit(land, reports[index])] = index

    try:
        while queued or polling or ready or landing:
            for future in [f for f in landing if f.done()]:
                manifests[landing.pop(future)] = future.result()  # raises a landing's error
            land_ready()
            while queued and len(polling) < limit:
                index = queued.popleft()
                _start(client, reports[index], page_limit, waited)
                polling.append(index)
            for index in [i for i in polling if reports[i].poll_at <= waited]:
                if _poll(client, reports[index], waited, poll_seconds, timeout_seconds):
                    polling.remove(index)
                    ready.append(index)
            land_ready()
            if polling:
                pause = min(reports[i].poll_at for i in polling) - waited
                if pause > 0:
                    sleep(pause)
                    waited += pause
            elif landing:
                wait(landing, return_when=FIRST_COMPLETED)
    finally:
        if pool is not None:
            # A failure stops what has not started; what runs finishes (or fails) first.
            pool.shutdown(wait=True, cancel_futures=True)
    return [manifests[i] for i in range(len(reports))]


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
    max_concurrency: int | None = None,
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
        max_concurrency: Threads paging and landing at once (accounts and ranges are
            independent: Meta budgets calls per ad account); None takes the option
            ``max_concurrency`` (default 4).

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
    for account_id in accounts:
        # Before any request (an async job is started before its pages are landed): each
        # account names the landing directories of its extractions.
        safe_path_component(account_id, "meta_ads account id (in extraction ids)")
    if lookback_days is None:
        lookback_days = int(getattr(creds.options, "lookback_days", DEFAULT_LOOKBACK_DAYS))
    if max_concurrency is None:
        max_concurrency = int(getattr(creds.options, "max_concurrency", DEFAULT_MAX_CONCURRENCY))
    days = report_days(Path(landing_dir), interval_start, interval_end, lookback_days)
    own_client = client is None
    api = client or ApiClient(SOURCE, creds.base_url, creds.token, retry=retry, errors=ERRORS)
    use_async = len(days) > chunk_days
    reports = [
        _Report(account_id, since, until)
        for account_id in accounts
        for since, until in day_ranges(days, async_chunk_days if use_async else chunk_days)
    ]

    def land(report: _Report) -> Path:
        return _land(api, report, landing_dir=Path(landing_dir), page_limit=page_limit)

    try:
        if use_async:
            manifests = run_async_reports(
                api, reports, land, page_limit=page_limit, workers=max_concurrency, sleep=sleep
            )
        else:
            manifests = run_concurrently(
                [partial(land, report) for report in reports], max_concurrency
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
