"""Google Ads API: campaign x country x day from ``geographic_view``, per customer and range.

One ``POST /{version}/customers/{customer_id}/googleAds:searchStream`` per customer and
range of report days (GAQL ``segments.date BETWEEN since AND until``, inclusive), landed
as one extraction whose window is ``[since, until + 1 day)``, so the loader replaces
exactly those customer-days (days now without rows included). A stream is one HTTP answer,
a JSON array of batches of at most 10,000 rows; it has no page token, and each request is
one operation of the developer token's quota (Basic access: 15,000 a day) however many
rows it streams. So ranges are as long as memory allows: the answer is held whole while
it is landed (read one batch at a time). The first range of a customer is `CHUNK_DAYS`
(a nightly's 31 days: one request), and each later one is sized from the rows a day the
customer has streamed so far, to about `STREAM_ROW_BUDGET` rows, at most `MAX_CHUNK_DAYS`:
a year's history of a mid-size customer is two operations, a large one's a dozen.

Customers are independent (Google's short-term limits are per customer), so they are
extracted side by side on at most ``max_concurrency`` threads (option, default 4), each
customer's ranges one after another; the threads share one client and its throttle and
quota handling.

``segments.date`` is the customer's own day (``customer.time_zone``) and is never
shifted. Conversions restate over the conversion window (late conversions, attribution),
so each run fetches ``lookback_days`` again before its interval (option ``lookback_days``,
default 30, see ``settings.DEFAULT_LOOKBACK_DAYS``), and starts at the cursor instead when
earlier days were never loaded (a failed or missed run): no gap.

Headers: ``Authorization: Bearer <OAuth access token>``, ``developer-token`` (a secret:
redacted from landed pages, errors and logs, never in a manifest) and, when the OAuth
user reaches the customers through a manager account, ``login-customer-id``.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import requests

from reach2revenue import cursors
from reach2revenue.contracts import Credentials, ErrorPolicy
from reach2revenue.failures import ConfigurationError
from reach2revenue.http_client import (
    DEFAULT_TIMEOUT,
    ApiClient,
    ApiRequestError,
    ApiResponse,
    RateLimiter,
    RetryPolicy,
    run_concurrently,
)
from reach2revenue.landing import (
    Manifest,
    extraction_stamp,
    iso_utc,
    partition_dir,
    redact,
    utc_now,
    write_manifest,
    write_page,
)
from reach2revenue.sources.google_ads.errors import ERRORS, quota_description
from reach2revenue.sources.google_ads.settings import (
    DEFAULT_LOOKBACK_DAYS,
    DEFAULT_MAX_CONCURRENCY,
    GOOGLE_ADS_API_VERSION,
    LOCATION_TYPE,
    REPORT_FIELDS,
    REPORT_RESOURCE,
    normalize_customer_id,
)

log = logging.getLogger(__name__)

SOURCE = "google_ads"
ENTITY = "geographic_view"
#: Report days of a customer's first searchStream: a nightly (30 days of lookback and the
#: run's day) is one request.
CHUNK_DAYS = 31
#: Rows a later range is sized to stream, from the rows a day seen so far: about 70 MB of
#: JSON as Google writes it, held in memory (bytes and text) while it is landed.
STREAM_ROW_BUDGET = 100_000
#: The longest range of one request (a customer may grow into a busier year).
MAX_CHUNK_DAYS = 366


class QuotaExhaustedError(ApiRequestError):
    """Google asked to wait longer than the retry policy allows (a spent daily quota):
    failed at once, because retrying within minutes cannot succeed and only burns more
    of the quota. ``retry_delay`` is Google's wait in seconds."""

    def __init__(self, *args: Any, retry_delay: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_delay = retry_delay


class _WaitTooLong(Exception):
    """Raised inside the retry loop when Google's ``retryDelay`` exceeds the policy."""

    def __init__(self, delay: float, quota: str | None, status: int | None) -> None:
        super().__init__(delay)
        self.delay = delay
        self.quota = quota
        self.status = status


class GoogleAdsClient(ApiClient):
    """`ApiClient` with the Google Ads headers, secrets and quota handling.

    Sends ``developer-token`` (and ``login-customer-id`` when given) on every request and
    treats the developer token as a secret like the OAuth token. A throttle whose
    ``retryDelay`` is within ``retry.max_retry_after`` is waited out as asked; a longer
    one raises `QuotaExhaustedError` at once, naming the quota and the delay.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        developer_token: str,
        login_customer_id: str = "",
        retry: RetryPolicy | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._developer_token = developer_token
        super().__init__(
            SOURCE,
            base_url,
            token,
            retry=retry,
            timeout=timeout,
            session=session,
            sleep=sleep,
            errors=ErrorPolicy(
                is_throttle=ERRORS.is_throttle,
                retry_after=self._retry_after,
                message=ERRORS.message,
            ),
        )
        self.session.headers["developer-token"] = developer_token
        if login_customer_id:
            self.session.headers["login-customer-id"] = normalize_customer_id(login_customer_id)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The OAuth token and the developer token: blanked in everything written."""
        return (*super().secrets, self._developer_token)

    def redact(self, text: str) -> str:
        """Redact ``access_token`` parameters and both tokens from ``text``."""
        return redact(text, self.secrets)

    def _retry_after(self, body: Any) -> float | None:
        delay = ERRORS.retry_after(body) if ERRORS.retry_after is not None else None
        if delay is not None and delay > self.retry.max_retry_after:
            code = (body.get("error") or {}).get("code") if isinstance(body, dict) else None
            status = code if isinstance(code, int) else None
            raise _WaitTooLong(delay, quota_description(body), status)
        return delay

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Any = None,
        json_body: Any = None,
        limiter: RateLimiter | None = None,
        accept: str | None = None,
        pace_key: str = "",
        parse: bool = True,
    ) -> ApiResponse:
        """`ApiClient.request`, failing at once with `QuotaExhaustedError` on a long wait."""
        try:
            return super().request(
                method,
                path_or_url,
                params=params,
                json_body=json_body,
                limiter=limiter,
                accept=accept,
                pace_key=pace_key,
                parse=parse,
            )
        except _WaitTooLong as wait:
            raise QuotaExhaustedError(
                self.platform,
                method,
                self.redact(self.url(path_or_url)),
                wait.status or 429,
                self.redact(
                    f"{wait.quota or 'quota exhausted'}: Google asks to wait {wait.delay:g}s, "
                    f"more than the retry policy's {self.retry.max_retry_after:g}s; not "
                    "retried (a daily operation quota refills over 24 hours: run again "
                    "later, or apply for Standard access)"
                ),
                self.tries,
                retry_delay=wait.delay,
            ) from None


def report_days(
    landing_dir: Path, interval_start: date, interval_end: date, lookback_days: int
) -> list[date]:
    """Report days to fetch (the cursor-aware window of `cursors.report_days`)."""
    return cursors.report_days(
        landing_dir, SOURCE, ENTITY, interval_start, interval_end, lookback_days
    )


def next_range_days(rows: int, days: int) -> int:
    """Days of a customer's next searchStream, after ``rows`` streamed over ``days``:
    `CHUNK_DAYS` first, then about `STREAM_ROW_BUDGET` rows at the rate seen so far
    (at least one day, at most `MAX_CHUNK_DAYS`)."""
    if days <= 0:
        return CHUNK_DAYS
    per_day = rows / days
    if per_day <= 0:
        return MAX_CHUNK_DAYS
    return max(1, min(MAX_CHUNK_DAYS, math.floor(STREAM_ROW_BUDGET / per_day)))


def report_query(since: date, until: date) -> str:
    """The GAQL of the report for days ``since..until`` (inclusive, as BETWEEN reads)."""
    return (
        f"SELECT {', '.join(REPORT_FIELDS)} FROM {REPORT_RESOURCE} "
        f"WHERE segments.date BETWEEN '{since.isoformat()}' AND '{until.isoformat()}' "
        f"AND {REPORT_RESOURCE}.location_type = '{LOCATION_TYPE}'"
    )


def search_stream_path(customer_id: str) -> str:
    """The searchStream method of one customer, below the base URL."""
    return f"{GOOGLE_ADS_API_VERSION}/customers/{customer_id}/googleAds:searchStream"


_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")  # JSON's whitespace


def _skip_space(text: str, at: int) -> int:
    match = _SPACE.match(text, at)
    return match.end() if match else at


def _batches(text: str) -> Iterator[Any]:
    """The elements of a JSON array, decoded one at a time (a searchStream answer's
    batches: only one batch is held as objects at once, not the whole answer).

    Raises:
        ValueError: the text is not a JSON array.
    """
    text = text.removeprefix("\ufeff")
    at = _skip_space(text, 0)
    if not text.startswith("[", at):
        raise ValueError("not a JSON array")
    at = _skip_space(text, at + 1)
    closed = text.startswith("]", at)
    while not closed:
        element, at = _DECODER.raw_decode(text, at)
        yield element
        at = _skip_space(text, at)
        closed = text.startswith("]", at)
        if not closed:
            if not text.startswith(",", at):
                raise ValueError(f"expected ',' or ']' at offset {at}")
            at = _skip_space(text, at + 1)
    if _skip_space(text, at + 1) != len(text):
        raise ValueError(f"extra data after offset {at}")


def stream_results(client: ApiClient, response: ApiResponse) -> int:
    """Rows in a searchStream answer (its text, read batch by batch); raises on a shape
    that is not a stream."""

    def failed(message: str) -> ApiRequestError:
        return ApiRequestError(client.platform, "POST", response.url, response.status, message)

    text = response.text
    if not text.lstrip("\ufeff \t\n\r").startswith("["):
        # Not a stream: an object is the shape of a search page (or of an error).
        try:
            json.loads(text.removeprefix("\ufeff"))
        except ValueError:
            raise failed("response is not JSON") from None
        raise failed("searchStream answered with a JSON object, not an array of batches")
    rows = 0
    try:
        for batch in _batches(text):
            if not isinstance(batch, dict):
                continue
            # A stream that fails after its first batch ends with an error element (HTTP
            # 200): landing the batches before it would pass a cut-off day off as complete.
            if isinstance(batch.get("error"), dict):
                raise failed(
                    client.redact(ERRORS.message(batch, "") if ERRORS.message else str(batch))
                )
            rows += len(batch.get("results") or [])
    except ValueError:
        raise failed("response is not JSON") from None
    return rows


def extract_customer_range(
    client: ApiClient,
    customer_id: str,
    since: date,
    until: date,
    *,
    landing_dir: Path,
    login_customer_id: str = "",
) -> Path:
    """Stream one customer's report for days ``since..until`` (inclusive); land the answer
    and a manifest whose window is ``[since, until + 1 day)``."""
    path, _ = _land_range(
        client,
        customer_id,
        since,
        until,
        landing_dir=landing_dir,
        login_customer_id=login_customer_id,
    )
    return path


def _land_range(
    client: ApiClient,
    customer_id: str,
    since: date,
    until: date,
    *,
    landing_dir: Path,
    login_customer_id: str,
) -> tuple[Path, int]:
    """`extract_customer_range`, also returning the rows it landed."""
    extracted_at = utc_now()
    extraction_id = f"{customer_id}-{extraction_stamp(extracted_at)}"
    directory = partition_dir(landing_dir, SOURCE, ENTITY, until.isoformat(), extraction_id)
    query = report_query(since, until)
    path = search_stream_path(customer_id)
    # Kept as text and read batch by batch (`stream_results`), not parsed whole.
    response = client.post(path, {"query": query}, pace_key=customer_id, parse=False)
    records = stream_results(client, response)
    pages = [write_page(directory, 1, response.text, client.secrets)]
    manifest = Manifest(
        source=SOURCE,
        entity=ENTITY,
        partition_date=until.isoformat(),
        window_start=since.isoformat(),
        window_end=(until + timedelta(days=1)).isoformat(),
        extraction_id=extraction_id,
        extracted_at=iso_utc(extracted_at),
        pages=pages,
        record_count=records,
        # Its own tries: other threads share the client's counter.
        request_count=response.tries,
        params={
            "api_version": GOOGLE_ADS_API_VERSION,
            "endpoint": f"/{path}",
            "customer_id": customer_id,
            "login_customer_id": login_customer_id or None,
            "resource": REPORT_RESOURCE,
            "location_type": LOCATION_TYPE,
            "date_range": {"since": since.isoformat(), "until": until.isoformat()},
            "fields": list(REPORT_FIELDS),
            "query": query,
        },
    )
    return write_manifest(directory, manifest), records


def extract_google_ads(
    creds: Credentials,
    *,
    interval_start: date,
    interval_end: date,
    landing_dir: Path,
    lookback_days: int | None = None,
    chunk_days: int | None = None,
    customer_ids: Sequence[str] | None = None,
    retry: RetryPolicy | None = None,
    rate_per_sec: float | None = None,
    client: ApiClient | None = None,
    max_concurrency: int | None = None,
) -> list[Path]:
    """Land the geographic report for ``[interval_start - lookback, interval_end)``.

    Args:
        creds: Base URL, OAuth access token and options (`GoogleAdsOptions`: customer
            ids, developer token, optional login customer id).
        interval_start: First report day of the run's interval.
        interval_end: First report day after the interval (half-open).
        landing_dir: Root of the landing zone.
        lookback_days: Days before ``interval_start`` fetched again (conversions restate);
            None takes the option ``lookback_days`` (default 30).
        chunk_days: Report days per request (one extraction per customer and range);
            None sizes the ranges from the rows streamed (`plan_ranges`).
        customer_ids: Overrides the options' customer ids.
        retry: Retry policy (tests use tiny delays).
        rate_per_sec: Optional client-side cap on requests per second (all threads).
        client: A ready client (tests); otherwise a `GoogleAdsClient` from ``creds``.
        max_concurrency: Customers extracted at once; None takes the option
            ``max_concurrency`` (default 4).

    Returns:
        One manifest path per (customer, range of days), in customer then day order.

    Raises:
        QuotaExhaustedError: Google asked to wait longer than ``retry`` allows.
        ApiRequestError: authentication (401), permission (403) or query (400) errors.
    """
    options = creds.options
    if customer_ids is not None:
        customers = [normalize_customer_id(c) for c in customer_ids]
    else:
        customers = list(getattr(options, "customer_ids", ()) or ())
    if not customers:
        raise ConfigurationError(
            "no Google Ads customers configured: set extra.customer_ids on the Airflow "
            "connection or R2R_GOOGLE_ADS_CUSTOMER_IDS"
        )
    login_customer_id = str(getattr(options, "login_customer_id", "") or "")
    if lookback_days is None:
        lookback_days = int(getattr(options, "lookback_days", DEFAULT_LOOKBACK_DAYS))
    if max_concurrency is None:
        max_concurrency = int(getattr(options, "max_concurrency", DEFAULT_MAX_CONCURRENCY))
    days = report_days(Path(landing_dir), interval_start, interval_end, lookback_days)
    own_client = client is None
    if client is None:
        developer_token = str(getattr(options, "developer_token", "") or "")
        if not developer_token:
            raise ConfigurationError(
                "no Google Ads developer token: set extra.developer_token on the Airflow "
                "connection or R2R_GOOGLE_ADS_DEVELOPER_TOKEN"
            )
        client = GoogleAdsClient(
            creds.base_url,
            creds.token,
            developer_token=developer_token,
            login_customer_id=login_customer_id,
            retry=retry,
        )
    api = client
    limiter = RateLimiter(rate_per_sec) if rate_per_sec else None

    def customer_ranges(customer_id: str) -> list[Path]:
        manifests: list[Path] = []
        rows, done = 0, 0
        while done < len(days):
            length = chunk_days or next_range_days(rows, done)
            since, until = days[done], days[min(done + length, len(days)) - 1]
            if limiter is not None:
                limiter.acquire()
            path, landed = _land_range(
                api,
                customer_id,
                since,
                until,
                landing_dir=Path(landing_dir),
                login_customer_id=login_customer_id,
            )
            manifests.append(path)
            rows += landed
            done += min(length, len(days) - done)
        return manifests

    try:
        per_customer = run_concurrently(
            [partial(customer_ranges, customer_id) for customer_id in customers], max_concurrency
        )
        manifests = [path for paths in per_customer for path in paths]
    finally:
        if own_client:
            client.close()
    log.info(
        "google_ads: %d customers x %d days (%s..%s): %d requests, %d retries",
        len(customers),
        len(days),
        days[0] if days else "-",
        days[-1] if days else "-",
        client.request_count,
        client.retry_count,
    )
    return manifests
