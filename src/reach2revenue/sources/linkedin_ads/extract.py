"""LinkedIn Marketing API: ad accounts, campaigns and campaign x member country x day analytics.

Every request carries ``Authorization: Bearer``, ``LinkedIn-Version: YYYYMM`` and
``X-Restli-Protocol-Version: 2.0.0``; query strings are written in Rest.li 2.0 form
(`restli`). Per configured sponsored account, a run lands:

1. ``GET /rest/adAccounts/{id}`` (entity ``ad_accounts``, one page per account, all
   accounts in one extraction): ``currency`` is the ISO 4217 code ``costInLocalCurrency``
   is in.
2. ``GET /rest/adAccounts/{id}/adCampaigns?q=search&search=(status:(values:List(...)))``
   (entity ``campaigns``, one extraction per account), cursor-paged with ``pageSize``
   (at most 1000) and ``metadata.nextPageToken`` (absent on the last page). Every status
   is asked for explicitly: a ``REMOVED`` campaign keeps its performance data and so still
   needs its name. The search has no "modified since" filter, so every run takes all
   campaigns (one or two requests an account) and the loader upserts them by id.
3. ``GET /rest/adAnalytics?q=statistics&pivots=List(CAMPAIGN,MEMBER_COUNTRY_V2)
   &timeGranularity=DAILY&dateRange=(start:(...),end:(...))&accounts=List(<urn>)&fields=...``
   (entity ``ad_analytics``, one extraction per account and range of at most
   ``chunk_days`` days (`CHUNK_DAYS`, a year), window ``[first day, last day + 1)``, so the
   loader replaces exactly those account-days, days without rows included).

Accounts may be extracted side by side on ``max_concurrency`` threads (option, default 1:
one after another, see `settings.DEFAULT_MAX_CONCURRENCY`) sharing one client, each
account's requests one after another.

Why the statistics finder: it pivots by up to three dimensions, so one request returns
campaign x member country x day. The analytics finder takes one pivot; the same data
would take one request per campaign (``campaigns=List(<one>)``, ``pivot=MEMBER_COUNTRY_V2``)
and slice, against request quotas LinkedIn does not publish.

adAnalytics has no paging and silently stops at 15,000 elements. Each range is therefore
cut into slices sized to fill at most 80% of the cap: the first from an estimate
(campaigns running in the range x ``countries_per_campaign`` elements a day), the later
ones from the densest answer so far (twice its elements a day), so a quiet account takes
a few wide requests. An answer with as many elements as the cap is taken as cut off: that
slice is split in two and asked again, down to single days; a single day still at the cap
fails with `ElementCapError`. Cut-off answers are not landed; the manifest lists every
request with its element count.

Facts taken as given (``docs`` and vendor notes, see api-shapes.md section 3):

- Day buckets are UTC days (connectors build ``dateRange`` from UTC dates); unconfirmed.
- ``costInLocalCurrency`` is a decimal string in the account currency; counts are integers;
  a metric without activity may be missing (read as 0 downstream).
- ``approximateMemberReach`` is not available with demographic pivots such as
  MEMBER_COUNTRY_V2, so it is not requested and reach stays null.
- Demographic (MEMBER_*) values are approximate and delayed 12-24 h, and vendors report
  that values with fewer than 3 events are left out: country rows of a campaign may sum to
  less than its campaign total.
- LinkedIn restates recent days: every run fetches ``lookback_days`` (option
  ``lookback_days``, default 30, the vendors' advice; ``settings.DEFAULT_LOOKBACK_DAYS``)
  before its interval, and from the cursor when that is earlier (a missed night leaves no
  gap).
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from reach2revenue import cursors
from reach2revenue.contracts import Credentials
from reach2revenue.cursors import day_ranges
from reach2revenue.failures import ConfigurationError
from reach2revenue.http_client import (
    ApiClient,
    ApiRequestError,
    ApiResponse,
    RetryPolicy,
    run_concurrently,
)
from reach2revenue.landing import (
    Manifest,
    extraction_stamp,
    iso_utc,
    partition_dir,
    utc_now,
    write_manifest,
    write_page,
)
from reach2revenue.sources.linkedin_ads.errors import ERRORS
from reach2revenue.sources.linkedin_ads.restli import (
    RestliValue,
    query_string,
    restli_date,
    restli_list,
    restli_record,
)
from reach2revenue.sources.linkedin_ads.settings import (
    ACCOUNT_URN_PREFIX,
    ANALYTICS_FIELDS,
    CAMPAIGN_PAGE_SIZE,
    CAMPAIGN_STATUSES,
    DEFAULT_API_VERSION,
    DEFAULT_LOOKBACK_DAYS,
    DEFAULT_MAX_CONCURRENCY,
    ELEMENT_CAP,
    PIVOTS,
    RESTLI_PROTOCOL_VERSION,
    TIME_GRANULARITY,
)

log = logging.getLogger(__name__)

SOURCE = "linkedin_ads"
ANALYTICS_ENDPOINT = "rest/adAnalytics"
#: Member countries a running campaign is assumed to report a day when a range is cut into
#: slices: members outside the targeted countries show up too. An over-estimate costs
#: requests; an under-estimate costs a cut-off answer and a split.
COUNTRIES_PER_CAMPAIGN = 60
#: Share of the element cap a planned slice is sized to fill.
SLICE_HEADROOM = 0.8
#: A slice after the first is sized for this many times the most elements a day seen so
#: far: later days may be busier (new campaigns); a slice that still comes back at the
#: cap is split and asked again.
DENSITY_HEADROOM = 2.0
#: Report days per analytics extraction (one manifest): each is sliced below the element
#: cap anyway, so a history is one extraction per account and year.
CHUNK_DAYS = 366


class ElementCapError(ApiRequestError):
    """One day of one account reached adAnalytics' element cap: the answer is incomplete,
    and a day cannot be split further."""


# --------------------------------------------------------------------------- planning


def report_days(
    landing_dir: Path, interval_start: date, interval_end: date, lookback_days: int
) -> list[date]:
    """Report days to fetch (the cursor-aware window of `cursors.report_days`)."""
    return cursors.report_days(
        landing_dir, SOURCE, "ad_analytics", interval_start, interval_end, lookback_days
    )


def slice_days(
    first: date, last: date, elements_per_day: int, element_cap: int = ELEMENT_CAP
) -> list[tuple[date, date]]:
    """``first..last`` cut into even slices that stay below the cap by the estimate.

    A slice holds at most ``element_cap * SLICE_HEADROOM / elements_per_day`` days (at
    least one); the days are spread evenly over as few slices as that allows.
    """
    days = (last - first).days + 1
    budget = max(1.0, element_cap * SLICE_HEADROOM)
    longest = max(1, math.floor(budget / max(1, elements_per_day)))
    count = math.ceil(days / longest)
    size, longer = divmod(days, count)
    slices, start = [], first
    for index in range(count):
        length = size + (1 if index < longer else 0)
        slices.append((start, start + timedelta(days=length - 1)))
        start += timedelta(days=length)
    return slices


def _epoch_ms(day: date) -> int:
    return int(datetime.combine(day, time(0), tzinfo=UTC).timestamp() * 1000)


def running_campaigns(campaigns: Sequence[dict[str, Any]], first: date, last: date) -> int:
    """Campaigns whose ``runSchedule`` overlaps the UTC days ``first..last``.

    A campaign without a readable schedule counts: over-estimating costs a request at most.
    """
    low, high = _epoch_ms(first), _epoch_ms(last + timedelta(days=1))
    count = 0
    for campaign in campaigns:
        schedule = campaign.get("runSchedule") or {}
        start, end = schedule.get("start"), schedule.get("end")
        if isinstance(start, int) and start >= high:
            continue
        if isinstance(end, int) and end < low:
            continue
        count += 1
    return count


# --------------------------------------------------------------------------- queries


def analytics_query(account_id: str, first: date, last: date) -> str:
    """The statistics query of one account's days ``first..last`` (inclusive)."""
    return query_string(
        {
            "q": "statistics",
            "pivots": restli_list(PIVOTS),
            "timeGranularity": TIME_GRANULARITY,
            "dateRange": restli_record({"start": restli_date(first), "end": restli_date(last)}),
            "accounts": restli_list([f"{ACCOUNT_URN_PREFIX}{account_id}"]),
            # A projection: field names joined by literal commas.
            "fields": RestliValue(",".join(ANALYTICS_FIELDS)),
        }
    )


def campaign_search_query(page_token: str | None = None) -> str:
    """The campaign search of every status, one page of up to `CAMPAIGN_PAGE_SIZE`."""
    params: dict[str, str | int | RestliValue] = {
        "q": "search",
        "search": restli_record(
            {"status": restli_record({"values": restli_list(CAMPAIGN_STATUSES)})}
        ),
        "pageSize": CAMPAIGN_PAGE_SIZE,
    }
    if page_token is not None:
        params["pageToken"] = page_token
    return query_string(params)


# --------------------------------------------------------------------------- landing


class _Extraction:
    """Pages of one extraction, landed as received, and its manifest.

    The window is the report days the run covers, ``[first, last + 1 day)``, partitioned
    by the last day.
    """

    def __init__(
        self,
        client: ApiClient,
        landing_dir: Path,
        entity: str,
        first: date,
        last: date,
        account_id: str | None = None,
    ) -> None:
        self.client = client
        self.entity = entity
        self.first, self.last = first, last
        self.extracted_at = utc_now()
        stamp = extraction_stamp(self.extracted_at)
        self.extraction_id = f"{account_id}-{stamp}" if account_id else stamp
        self.directory = partition_dir(
            landing_dir, SOURCE, entity, last.isoformat(), self.extraction_id
        )
        self.pages: list[str] = []
        self.records = 0
        # Counted per extraction: the threads of other accounts share the client.
        self.requests = 0

    def count(self, response: ApiResponse) -> ApiResponse:
        """Count a response's requests (retries included) as this extraction's."""
        self.requests += response.tries
        return response

    def add(self, text: str, records: int) -> str:
        name = write_page(self.directory, len(self.pages) + 1, text, self.client.secrets)
        self.pages.append(name)
        self.records += records
        return name

    def finish(self, params: dict[str, Any]) -> Path:
        manifest = Manifest(
            source=SOURCE,
            entity=self.entity,
            partition_date=self.last.isoformat(),
            window_start=self.first.isoformat(),
            window_end=(self.last + timedelta(days=1)).isoformat(),
            extraction_id=self.extraction_id,
            extracted_at=iso_utc(self.extracted_at),
            pages=self.pages,
            record_count=self.records,
            request_count=self.requests,
            params=params,
        )
        return write_manifest(self.directory, manifest)


def _data(response: ApiResponse) -> dict[str, Any]:
    return response.data if isinstance(response.data, dict) else {}


# --------------------------------------------------------------------------- entities


def extract_ad_accounts(
    client: ApiClient,
    account_ids: Sequence[str],
    *,
    landing_dir: Path,
    first: date,
    last: date,
    api_version: str,
) -> tuple[Path, dict[str, dict[str, Any]]]:
    """Land ``GET /rest/adAccounts/{id}`` of every account; return the manifest and the
    accounts by id."""
    extraction = _Extraction(client, landing_dir, "ad_accounts", first, last)
    accounts: dict[str, dict[str, Any]] = {}
    for account_id in account_ids:
        response = extraction.count(client.get(f"rest/adAccounts/{account_id}"))
        extraction.add(response.text, 1)
        accounts[account_id] = _data(response)
    manifest = extraction.finish(
        {
            "api_version": api_version,
            "endpoint": "/rest/adAccounts/{id}",
            "account_ids": list(account_ids),
        }
    )
    return manifest, accounts


def _campaign_pages(
    client: ApiClient, account_id: str, extraction: _Extraction
) -> Iterator[tuple[str, list[Any]]]:
    token: str | None = None
    while True:
        response = extraction.count(
            client.get(f"rest/adAccounts/{account_id}/adCampaigns?{campaign_search_query(token)}")
        )
        data = _data(response)
        elements = list(data.get("elements") or [])
        yield response.text, elements
        token = (data.get("metadata") or {}).get("nextPageToken")
        if not token or not elements:
            return


def extract_campaigns(
    client: ApiClient,
    account_id: str,
    *,
    landing_dir: Path,
    first: date,
    last: date,
    api_version: str,
) -> tuple[Path, list[dict[str, Any]]]:
    """Land every campaign of one account (all statuses); return the manifest and them."""
    extraction = _Extraction(client, landing_dir, "campaigns", first, last, account_id)
    campaigns: list[dict[str, Any]] = []
    for text, elements in _campaign_pages(client, account_id, extraction):
        extraction.add(text, len(elements))
        campaigns.extend(e for e in elements if isinstance(e, dict))
    manifest = extraction.finish(
        {
            "api_version": api_version,
            "endpoint": "/rest/adAccounts/{id}/adCampaigns",
            "account_id": account_id,
            "q": "search",
            "search": {"status": {"values": list(CAMPAIGN_STATUSES)}},
            "page_size": CAMPAIGN_PAGE_SIZE,
        }
    )
    return manifest, campaigns


def extract_analytics_range(
    client: ApiClient,
    account_id: str,
    first: date,
    last: date,
    *,
    landing_dir: Path,
    api_version: str,
    elements_per_day: int,
    element_cap: int = ELEMENT_CAP,
    stats: dict[str, int] | None = None,
) -> Path:
    """Land one account's analytics for days ``first..last`` (inclusive), sliced below the
    element cap; a cut-off slice is split in two and asked again (``stats["splits"]``
    counts the splits).

    The first slice is sized from ``elements_per_day`` (an estimate from the campaigns);
    each later one from the densest answer seen so far (elements a day, times
    `DENSITY_HEADROOM`), so an account with a few countries a day is read in a few long
    slices, not in as many as the estimate would plan.

    Raises:
        ElementCapError: a single day came back at the cap.
    """
    extraction = _Extraction(client, landing_dir, "ad_analytics", first, last, account_id)
    requests_made: list[dict[str, Any]] = []
    pending: deque[tuple[date, date]] = deque()  # halves of a cut-off slice, asked first
    next_day = first  # the first day no slice has been planned for
    densest: float | None = None
    while pending or next_day <= last:
        if pending:
            since, until = pending.popleft()
        else:
            per_day = (
                elements_per_day
                if densest is None
                else max(1, math.ceil(densest * DENSITY_HEADROOM))
            )
            since, until = slice_days(next_day, last, per_day, element_cap)[0]
            next_day = until + timedelta(days=1)
        path = f"{ANALYTICS_ENDPOINT}?{analytics_query(account_id, since, until)}"
        response = extraction.count(client.get(path))
        elements = _data(response).get("elements") or []
        densest = max(densest or 0.0, len(elements) / ((until - since).days + 1))
        asked = {"start": since.isoformat(), "end": until.isoformat(), "elements": len(elements)}
        if len(elements) >= element_cap:
            requests_made.append(asked | {"capped": True, "page": None})
            if since == until:
                raise ElementCapError(
                    SOURCE,
                    "GET",
                    client.redact(client.url(path)),
                    response.status,
                    f"account {account_id} has {len(elements)} elements on {since} alone: "
                    f"adAnalytics stops silently at {element_cap}, so the day is incomplete "
                    "and cannot be split further (fewer pivots or a campaigns facet would be "
                    "needed)",
                )
            middle = since + timedelta(days=(until - since).days // 2)
            pending.appendleft((middle + timedelta(days=1), until))
            pending.appendleft((since, middle))
            if stats is not None:
                stats["splits"] = stats.get("splits", 0) + 1
            log.info(
                "linkedin_ads: account %s %s..%s hit the %d-element cap; split at %s",
                account_id,
                since,
                until,
                element_cap,
                middle,
            )
            continue
        page = extraction.add(response.text, len(elements))
        requests_made.append(asked | {"capped": False, "page": page})
    return extraction.finish(
        {
            "api_version": api_version,
            "endpoint": f"/{ANALYTICS_ENDPOINT}",
            "account_id": account_id,
            "accounts": [f"{ACCOUNT_URN_PREFIX}{account_id}"],
            "q": "statistics",
            "pivots": list(PIVOTS),
            "time_granularity": TIME_GRANULARITY,
            "fields": list(ANALYTICS_FIELDS),
            "date_range": {"start": first.isoformat(), "end": last.isoformat()},
            "element_cap": element_cap,
            "elements_per_day_estimate": elements_per_day,
            "requests": requests_made,
            "splits": sum(1 for r in requests_made if r["capped"]),
        }
    )


# --------------------------------------------------------------------------- the run


def linkedin_client(
    creds: Credentials, api_version: str, *, retry: RetryPolicy | None = None
) -> ApiClient:
    """A client sending LinkedIn's version and Rest.li protocol headers on every request."""
    client = ApiClient(SOURCE, creds.base_url, creds.token, retry=retry, errors=ERRORS)
    _set_headers(client, api_version)
    return client


def _set_headers(client: ApiClient, api_version: str) -> None:
    client.session.headers.update(
        {"LinkedIn-Version": api_version, "X-Restli-Protocol-Version": RESTLI_PROTOCOL_VERSION}
    )


def extract_linkedin_ads(
    creds: Credentials,
    *,
    interval_start: date,
    interval_end: date,
    landing_dir: Path,
    lookback_days: int | None = None,
    chunk_days: int = CHUNK_DAYS,
    element_cap: int = ELEMENT_CAP,
    countries_per_campaign: int = COUNTRIES_PER_CAMPAIGN,
    account_ids: Sequence[str] | None = None,
    api_version: str | None = None,
    retry: RetryPolicy | None = None,
    client: ApiClient | None = None,
    max_concurrency: int | None = None,
) -> list[Path]:
    """Land accounts, campaigns and analytics for ``[interval_start - lookback,
    interval_end)``; return the manifests (accounts, then per account its campaigns and
    its analytics ranges).

    Args:
        creds: Base URL, token and options (`LinkedInAdsOptions`: account ids, version).
        interval_start: First report day (UTC) of the run's interval.
        interval_end: First report day after the interval (half-open).
        landing_dir: Root of the landing zone.
        lookback_days: Days before ``interval_start`` fetched again (LinkedIn restates);
            None takes the option ``lookback_days`` (default 30).
        chunk_days: Report days per analytics extraction.
        element_cap: Where adAnalytics cuts answers off (15,000; a stand-in may differ).
        countries_per_campaign: Elements a running campaign is assumed to report a day.
        account_ids: Overrides the options' account ids.
        api_version: Overrides the options' ``LinkedIn-Version``.
        retry: Retry policy (tests use tiny delays).
        client: A ready client (tests); otherwise one is built from ``creds``.
        max_concurrency: Accounts extracted at once (each account's campaigns and
            analytics one after another); None takes the option ``max_concurrency``
            (default 1).
    """
    if account_ids is not None:
        accounts = [str(a).removeprefix(ACCOUNT_URN_PREFIX) for a in account_ids]
    else:
        accounts = list(getattr(creds.options, "account_ids", ()) or ())
    if not accounts:
        raise ConfigurationError(
            "no LinkedIn ad accounts configured: set extra.account_ids on the Airflow "
            "connection or R2R_LINKEDIN_ADS_ACCOUNT_IDS"
        )
    version = api_version or getattr(creds.options, "api_version", None) or DEFAULT_API_VERSION
    landing_dir = Path(landing_dir)
    if lookback_days is None:
        lookback_days = int(getattr(creds.options, "lookback_days", DEFAULT_LOOKBACK_DAYS))
    if max_concurrency is None:
        max_concurrency = int(getattr(creds.options, "max_concurrency", DEFAULT_MAX_CONCURRENCY))
    days = report_days(landing_dir, interval_start, interval_end, lookback_days)
    if not days:
        return []
    first, last = days[0], days[-1]
    own_client = client is None
    api = client or linkedin_client(creds, version, retry=retry)
    _set_headers(api, version)
    splits: list[int] = []

    def account_extractions(account_id: str) -> list[Path]:
        path, campaigns = extract_campaigns(
            api,
            account_id,
            landing_dir=landing_dir,
            first=first,
            last=last,
            api_version=version,
        )
        paths = [path]
        stats: dict[str, int] = {}
        for since, until in day_ranges(days, chunk_days):
            estimate = running_campaigns(campaigns, since, until) * countries_per_campaign
            paths.append(
                extract_analytics_range(
                    api,
                    account_id,
                    since,
                    until,
                    landing_dir=landing_dir,
                    api_version=version,
                    elements_per_day=estimate,
                    element_cap=element_cap,
                    stats=stats,
                )
            )
        splits.append(stats.get("splits", 0))
        return paths

    try:
        path, _ = extract_ad_accounts(
            api, accounts, landing_dir=landing_dir, first=first, last=last, api_version=version
        )
        per_account = run_concurrently(
            [partial(account_extractions, account_id) for account_id in accounts],
            max_concurrency,
        )
        manifests = [path, *(p for paths in per_account for p in paths)]
    finally:
        if own_client:
            api.close()
    log.info(
        "linkedin_ads: %d accounts x %d days (%s..%s): %d requests, %d retries, %d splits",
        len(accounts),
        len(days),
        first,
        last,
        api.request_count,
        api.retry_count,
        sum(splits),
    )
    return manifests
