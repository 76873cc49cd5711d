"""Google Ads API: campaign x country x day from ``geographic_view``, per customer and range.

One ``POST /{version}/customers/{customer_id}/googleAds:searchStream`` per customer and
range of at most ``chunk_days`` report days (GAQL ``segments.date BETWEEN since AND
until``, inclusive), landed as one extraction whose window is ``[since, until + 1 day)``,
so the loader replaces exactly those customer-days (days now without rows included). A
stream is one HTTP answer, a JSON array of batches of at most 10,000 rows; it has no page
token, and each request is one operation of the developer token's quota (Basic access:
15,000 a day), so a 90-day history of ten customers costs 30 operations.

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

import logging
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import requests

from reach2revenue import cursors
from reach2revenue.contracts import Credentials, ErrorPolicy
from reach2revenue.cursors import day_ranges
from reach2revenue.failures import ConfigurationError
from reach2revenue.http_client import (
    DEFAULT_TIMEOUT,
    ApiClient,
    ApiRequestError,
    ApiResponse,
    RateLimiter,
    RetryPolicy,
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
    GOOGLE_ADS_API_VERSION,
    LOCATION_TYPE,
    REPORT_FIELDS,
    REPORT_RESOURCE,
    normalize_customer_id,
)

log = logging.getLogger(__name__)

SOURCE = "google_ads"
ENTITY = "geographic_view"
CHUNK_DAYS = 31


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
    ) -> ApiResponse:
        """`ApiClient.request`, failing at once with `QuotaExhaustedError` on a long wait."""
        before = self.request_count
        try:
            return super().request(
                method,
                path_or_url,
                params=params,
                json_body=json_body,
                limiter=limiter,
                accept=accept,
                pace_key=pace_key,
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
                self.request_count - before,
                retry_delay=wait.delay,
            ) from None


def report_days(
    landing_dir: Path, interval_start: date, interval_end: date, lookback_days: int
) -> list[date]:
    """Report days to fetch (the cursor-aware window of `cursors.report_days`)."""
    return cursors.report_days(
        landing_dir, SOURCE, ENTITY, interval_start, interval_end, lookback_days
    )


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


def _stream_results(client: ApiClient, response: ApiResponse) -> int:
    """Rows in a searchStream answer; raises on a shape that is not a stream."""
    batches = response.data
    if not isinstance(batches, list):
        raise ApiRequestError(
            client.platform,
            "POST",
            response.url,
            response.status,
            "searchStream answered with a JSON object, not an array of batches",
        )
    for batch in batches:
        # A stream that fails after its first batch ends with an error element (HTTP 200):
        # landing the batches before it would pass a cut-off day off as complete.
        if isinstance(batch, dict) and isinstance(batch.get("error"), dict):
            raise ApiRequestError(
                client.platform,
                "POST",
                response.url,
                response.status,
                client.redact(ERRORS.message(batch, "") if ERRORS.message else str(batch)),
            )
    return sum(len(b.get("results") or []) for b in batches if isinstance(b, dict))


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
    extracted_at = utc_now()
    extraction_id = f"{customer_id}-{extraction_stamp(extracted_at)}"
    directory = partition_dir(landing_dir, SOURCE, ENTITY, until.isoformat(), extraction_id)
    requests_before = client.request_count
    query = report_query(since, until)
    path = search_stream_path(customer_id)
    response = client.post(path, {"query": query})
    records = _stream_results(client, response)
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
        request_count=client.request_count - requests_before,
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
    return write_manifest(directory, manifest)


def extract_google_ads(
    creds: Credentials,
    *,
    interval_start: date,
    interval_end: date,
    landing_dir: Path,
    lookback_days: int | None = None,
    chunk_days: int = CHUNK_DAYS,
    customer_ids: Sequence[str] | None = None,
    retry: RetryPolicy | None = None,
    rate_per_sec: float | None = None,
    client: ApiClient | None = None,
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
        chunk_days: Report days per request (one extraction per customer and chunk).
        customer_ids: Overrides the options' customer ids.
        retry: Retry policy (tests use tiny delays).
        rate_per_sec: Optional client-side cap on requests per second.
        client: A ready client (tests); otherwise a `GoogleAdsClient` from ``creds``.

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
    limiter = RateLimiter(rate_per_sec) if rate_per_sec else None
    manifests: list[Path] = []
    try:
        for customer_id in customers:
            for since, until in day_ranges(days, chunk_days):
                if limiter is not None:
                    limiter.acquire()
                manifests.append(
                    extract_customer_range(
                        client,
                        customer_id,
                        since,
                        until,
                        landing_dir=Path(landing_dir),
                        login_customer_id=login_customer_id,
                    )
                )
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
