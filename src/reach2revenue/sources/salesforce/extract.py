"""Salesforce REST API: every object changed in a window, deletions included.

Facts relied on (REST API developer guide, OAuth 2.0 client-credentials flow; see
``../shared/reference/api-shapes.md`` §5):

- Authentication: ``POST {My Domain}/services/oauth2/token`` with the form fields
  ``grant_type=client_credentials``, ``client_id``, ``client_secret`` answers
  ``{"access_token", "instance_url", "id", "token_type": "Bearer", "issued_at", "signature"}``
  (``issued_at``: epoch milliseconds as text, the org's clock). Data requests go to
  ``instance_url`` with ``Authorization: Bearer``. The flow gives no refresh token: when a
  request answers 401 ``INVALID_SESSION_ID`` (session timed out or revoked) a new token is
  fetched once and the request repeated. Token errors are OAuth's
  ``{"error", "error_description"}`` with HTTP 400; the generic login hosts refuse the flow.
- Query: ``GET /services/data/vNN.0/queryAll?q=<SOQL>`` (soft-deleted rows included, with
  ``IsDeleted`` true) answers ``{"totalSize", "done", "nextRecordsUrl"?, "records"}``; while
  ``done`` is false, ``GET nextRecordsUrl`` (``/services/data/vNN.0/query/<locator>-<n>``,
  also for queryAll) gives the next batch. A batch holds at most 2,000 records, possibly
  fewer; ``Sforce-Query-Options: batchSize=200..2000`` asks for a size. A cursor expires
  after inactivity or when a user opens more than ten: 400 ``INVALID_QUERY_LOCATOR``.
- SOQL datetime literals are unquoted, ``2024-03-01T00:00:00Z``; ``SystemModstamp`` is
  indexed and bumped by user and system changes and by deletion.

Incremental: one query per object,
``SELECT <fields> FROM <Object> WHERE SystemModstamp >= <start> AND SystemModstamp < <end>
ORDER BY SystemModstamp, Id``, over ``[start, end)``. ``start`` is the run's interval start,
or the object's cursor when that is earlier (a failed or missed run leaves no gap), less
``lookback`` (a transaction that commits after a run read past its SystemModstamp); an
object without a cursor (first load) is read from 1970: the whole org, so the accounts and
contacts behind today's deals are there. ``end`` is the interval end, but never after the
org's clock at authentication, so a cursor never claims what could not be seen yet; every
object of a run shares it. An expired cursor restarts the query from the last
SystemModstamp received (those records come twice; the loader keeps one per id).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from reach2revenue.contracts import Credentials
from reach2revenue.cursors import read_cursor
from reach2revenue.failures import ConfigurationError
from reach2revenue.http_client import (
    DEFAULT_TIMEOUT,
    ApiClient,
    ApiRequestError,
    ApiResponse,
    ApiRetryError,
    RetryPolicy,
)
from reach2revenue.landing import ExtractionWriter, extraction_stamp, iso_utc, redact, utc_now
from reach2revenue.sources.salesforce.errors import ERRORS
from reach2revenue.sources.salesforce.errors import message as error_message
from reach2revenue.sources.salesforce.settings import (
    API_VERSION,
    ENTITIES,
    LOGIN_HOSTS,
    MODIFIED_FIELD,
    SOBJECT_OF_ENTITY,
    SalesforceOptions,
    SObject,
)

log = logging.getLogger(__name__)

SOURCE = "salesforce"
TOKEN_PATH = "services/oauth2/token"
MAX_BATCH_SIZE = 2000
MIN_BATCH_SIZE = 200
FIRST_LOAD_START = datetime(1970, 1, 1, tzinfo=UTC)  # no cursor yet: read the whole org
DEFAULT_LOOKBACK = timedelta(minutes=5)


# --------------------------------------------------------------------------- SOQL


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _whole_second(moment: datetime) -> datetime:
    # SOQL datetime literals have no fraction: windows are cut on whole seconds.
    return _utc(moment).replace(microsecond=0)


def soql_datetime(moment: datetime) -> str:
    """A SOQL datetime literal (unquoted, UTC, whole seconds): ``2024-03-01T00:00:00Z``."""
    return _whole_second(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_soql(sobject: SObject, start: datetime, end: datetime) -> str:
    """The incremental query of one object over ``[start, end)`` of SystemModstamp."""
    return (
        f"SELECT {', '.join(sobject.fields)} FROM {sobject.name} "
        f"WHERE {MODIFIED_FIELD} >= {soql_datetime(start)} "
        f"AND {MODIFIED_FIELD} < {soql_datetime(end)} "
        f"ORDER BY {MODIFIED_FIELD}, Id"
    )


def parse_salesforce_datetime(value: Any) -> datetime | None:
    """An API datetime (``2024-03-15T12:01:02.000+0000``) as aware UTC; None if unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = f"{text[:-2]}:{text[-2:]}"  # +0000 -> +00:00 (fromisoformat wants the colon)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return _utc(parsed)


# --------------------------------------------------------------------------- session


@dataclass(frozen=True)
class AccessToken:
    """One token answer; ``issued_at`` is the org's clock when it was issued."""

    access_token: str = field(repr=False)
    instance_url: str
    issued_at: datetime | None


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def client_secret_of(creds: Credentials) -> str:
    """The connected app's secret: the connection password (``creds.token``) first, else
    the option ``client_secret`` (connection extra or ``R2R_SALESFORCE_CLIENT_SECRET``)."""
    return (creds.token or getattr(creds.options, "client_secret", "") or "").strip()


class SalesforceApi:
    """An authenticated session with one org: token fetch, re-authentication, queries.

    Wraps the shared `ApiClient` (retries, backoff, the source's `ErrorPolicy`), building a
    new one for each access token on the same ``requests.Session``; counts every HTTP
    request, the token requests included.

    Args:
        login_url: The org's My Domain URL (``https://<MyDomain>.my.salesforce.com``).
        client_id: The connected app's consumer key.
        client_secret: Its consumer secret (never logged or landed).
        api_version: REST API version (``60.0``).
        retry: Retry policy for transient failures (tests use tiny delays).
        batch_size: Records per query batch to ask for (200-2000).
        session: A ``requests.Session`` to use (tests add hooks); closed by `close`.
        timeout: ``(connect, read)`` seconds per attempt.
        sleep: Injected for tests.
    """

    def __init__(
        self,
        login_url: str,
        client_id: str,
        client_secret: str,
        *,
        api_version: str = API_VERSION,
        retry: RetryPolicy | None = None,
        batch_size: int = MAX_BATCH_SIZE,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        host = urlsplit(login_url).hostname or ""
        if host in LOGIN_HOSTS:
            raise ConfigurationError(
                f"{host} does not support the client-credentials flow: set the host of "
                "connection salesforce_default (or R2R_SALESFORCE_BASE_URL) to the org's "
                "My Domain URL, https://<MyDomain>.my.salesforce.com"
            )
        if not client_id:
            raise ConfigurationError("no Salesforce client_id (the connected app's consumer key)")
        if not client_secret:
            raise ConfigurationError(
                "no Salesforce client secret: put it in the password of connection "
                "salesforce_default, or set R2R_SALESFORCE_TOKEN or "
                "R2R_SALESFORCE_CLIENT_SECRET"
            )
        if not MIN_BATCH_SIZE <= batch_size <= MAX_BATCH_SIZE:
            raise ConfigurationError(f"batch_size must be {MIN_BATCH_SIZE}..{MAX_BATCH_SIZE}")
        self.login_url = login_url.rstrip("/") + "/"
        self.client_id = client_id
        self._client_secret = client_secret
        self.api_version = api_version
        self.retry = retry or RetryPolicy()
        self.batch_size = batch_size
        self.timeout = timeout
        self._sleep = sleep
        self.http = session or requests.Session()
        # The documented way to ask for a batch size; Salesforce may still send fewer.
        self.http.headers["Sforce-Query-Options"] = f"batchSize={batch_size}"
        self.token: AccessToken | None = None
        self._client: ApiClient | None = None
        self._tokens: list[str] = []
        self._retired_requests = 0
        self._retired_retries = 0
        self.token_requests = 0
        self.token_retries = 0
        self.reauthentications = 0

    def __repr__(self) -> str:
        return f"SalesforceApi(login_url={self.login_url!r}, client_id={self.client_id!r})"

    # ----------------------------------------------------------------- bookkeeping

    @property
    def data_path(self) -> str:
        """``services/data/vNN.0``: the REST API root below the instance URL."""
        return f"services/data/v{self.api_version}"

    @property
    def secrets(self) -> tuple[str, ...]:
        """Everything to blank in landed pages and messages: the secret and every token."""
        return (self._client_secret, *self._tokens)

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far, token requests and retries included."""
        current = self._client.request_count if self._client is not None else 0
        return self.token_requests + self._retired_requests + current

    @property
    def retry_count(self) -> int:
        current = self._client.retry_count if self._client is not None else 0
        return self.token_retries + self._retired_retries + current

    def close(self) -> None:
        self.http.close()

    # ----------------------------------------------------------------- OAuth

    def authenticate(self) -> AccessToken:
        """Fetch a new access token (client-credentials flow); retries transient failures.

        Raises:
            ApiRequestError: the org refused the credentials (OAuth error, HTTP 400).
            ApiRetryError: the token endpoint kept failing transiently.
        """
        url = urljoin(self.login_url, TOKEN_PATH)
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
        }
        attempt = 0
        while True:
            attempt += 1
            self.token_requests += 1
            try:
                response = self.http.post(
                    url, data=form, headers={"Accept": "application/json"}, timeout=self.timeout
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                reason = self.redact(f"{type(exc).__name__}: {exc}")
                if attempt >= self.retry.max_attempts:
                    raise ApiRetryError(SOURCE, "POST", url, None, reason, attempt) from None
                self._pause(attempt, url, reason)
                continue
            body = _json_or_none(response)
            status = response.status_code
            if status == 200 and isinstance(body, dict) and body.get("access_token"):
                return self._use(body)
            if status == 200:
                raise ApiRequestError(
                    SOURCE, "POST", url, status, "token answer without access_token", attempt
                )
            reason = self.redact(error_message(body, response.text))
            if status != 429 and status < 500:
                raise ApiRequestError(SOURCE, "POST", url, status, reason, attempt)
            if attempt >= self.retry.max_attempts:
                raise ApiRetryError(SOURCE, "POST", url, status, reason, attempt)
            self._pause(attempt, url, f"HTTP {status}: {reason}")

    def _pause(self, attempt: int, url: str, reason: str) -> None:
        delay = self.retry.backoff(attempt)
        self.token_retries += 1
        log.warning(
            "salesforce: POST %s attempt %d failed (%s); retrying in %.2fs",
            url,
            attempt,
            reason,
            delay,
        )
        self._sleep(delay)

    def _use(self, body: dict[str, Any]) -> AccessToken:
        instance_url = str(body.get("instance_url") or self.login_url).rstrip("/")
        if urlsplit(instance_url).scheme not in ("http", "https"):
            raise ApiRequestError(
                SOURCE, "POST", self.login_url, 200, f"unusable instance_url {instance_url!r}"
            )
        issued_at: datetime | None = None
        try:
            issued_at = datetime.fromtimestamp(int(str(body["issued_at"])) / 1000, tz=UTC)
        except (KeyError, TypeError, ValueError):
            issued_at = None
        token = AccessToken(str(body["access_token"]), instance_url, issued_at)
        self._tokens.append(token.access_token)
        if self._client is not None:
            self._retired_requests += self._client.request_count
            self._retired_retries += self._client.retry_count
        self._client = ApiClient(
            SOURCE,
            instance_url,
            token.access_token,
            retry=self.retry,
            timeout=self.timeout,
            session=self.http,
            sleep=self._sleep,
            errors=ERRORS,
        )
        self.token = token
        return token

    def server_time(self) -> datetime | None:
        """The org's clock when the current token was issued (authenticates if needed)."""
        token = self.token or self.authenticate()
        return token.issued_at

    # ----------------------------------------------------------------- requests

    def get(self, path_or_url: str, params: dict[str, Any] | None = None) -> ApiResponse:
        """GET below the instance URL; on 401 fetch a new token once and repeat."""
        if self._client is None:
            self.authenticate()
        assert self._client is not None
        try:
            return self._client.get(path_or_url, params)
        except ApiRequestError as error:
            if error.status != 401:
                raise
            log.warning("salesforce: %s; fetching a new access token", error.api_message)
            self.reauthentications += 1
            self.authenticate()
            return self._client.get(path_or_url, params)


# --------------------------------------------------------------------------- landing


def _writer(
    landing_dir: Path,
    entity: str,
    start: datetime,
    end: datetime,
    extracted_at: datetime,
    api: SalesforceApi,
    requests_before: int,
) -> ExtractionWriter:
    """The landing of one object's extraction over ``[start, end)``.

    ``requests_before`` is the request count before this object's first call (so a token
    request made for it counts too).
    """
    # The last day the window covers: a nightly run lands under its own day, a first load
    # (window from 1970) under the day it loaded through.
    last_moment = end - timedelta(microseconds=1) if end > start else start
    return ExtractionWriter(
        landing_dir,
        SOURCE,
        entity,
        partition_date=last_moment.date().isoformat(),
        window_start=iso_utc(start),
        window_end=iso_utc(end),
        extraction_id=extraction_stamp(extracted_at),
        extracted_at=extracted_at,
        secrets=api.secrets,
        request_count=lambda: api.request_count,
        requests_before=requests_before,
    )


def window_start(
    landing_dir: Path,
    entity: str,
    interval_start: datetime,
    *,
    lookback: timedelta,
    initial_start: datetime | None,
) -> tuple[datetime, bool]:
    """Where an object's window starts, and whether this is its first load.

    The interval start, or the cursor when that is earlier, less ``lookback``; at
    ``initial_start`` when the object has no cursor yet (None: the interval start then).
    """
    cursor = read_cursor(landing_dir, SOURCE, entity)
    if cursor is None and initial_start is not None:
        return _whole_second(initial_start), True
    start = _utc(interval_start)
    if cursor is not None and cursor < start:
        start = cursor
    return _whole_second(start - lookback), False


def _extract_object(
    api: SalesforceApi,
    sobject: SObject,
    *,
    landing_dir: Path,
    start: datetime,
    end: datetime,
    extracted_at: datetime,
    requests_before: int,
    params: dict[str, Any],
) -> Path:
    """Land every batch of one object's query over ``[start, end)``; write the manifest."""
    landing = _writer(landing_dir, sobject.entity, start, end, extracted_at, api, requests_before)
    query_path = f"{api.data_path}/queryAll"
    queries = [build_soql(sobject, start, end)]
    url, query = query_path, {"q": queries[0]}
    lower = start
    last_seen: datetime | None = None
    total_size: int | None = None
    ids: dict[str, None] = {}
    while True:
        try:
            response = api.get(url, query)
        except ApiRequestError as error:
            expired = query is None and "INVALID_QUERY_LOCATOR" in error.api_message
            if not expired or last_seen is None or last_seen <= lower:
                raise
            # The cursor is gone: ask again from the last SystemModstamp received.
            lower = last_seen
            queries.append(build_soql(sobject, lower, end))
            url, query = query_path, {"q": queries[-1]}
            log.warning("salesforce: %s cursor expired; restarting at %s", sobject.name, lower)
            continue
        data = response.data if isinstance(response.data, dict) else {}
        records = [r for r in data.get("records") or [] if isinstance(r, dict)]
        landing.add(response.text, len(records))
        if total_size is None and isinstance(data.get("totalSize"), int):
            total_size = data["totalSize"]
        for record in records:
            if record.get("Id") is not None:
                ids[str(record["Id"])] = None
            stamp = parse_salesforce_datetime(record.get(MODIFIED_FIELD))
            if stamp is not None and (last_seen is None or stamp > last_seen):
                last_seen = stamp
        if data.get("done", True) is not False:
            break
        next_url = data.get("nextRecordsUrl")
        if not next_url:
            raise ApiRequestError(
                SOURCE, "GET", response.url, response.status, "done is false but no nextRecordsUrl"
            )
        url, query = str(next_url), None
    return landing.finish(
        {
            "object": sobject.name,
            "endpoint": f"/{query_path}",
            "api_version": api.api_version,
            "soql": queries[0],
            "restarted_queries": queries[1:],
            "fields": list(sobject.fields),
            "modified_field": MODIFIED_FIELD,
            "batch_size": api.batch_size,
            "total_size": total_size,
            "unique_ids": len(ids),
            **params,
        }
    )


def extract_salesforce(
    creds: Credentials,
    *,
    interval_start: datetime,
    interval_end: datetime,
    landing_dir: Path,
    entities: Sequence[str] = ENTITIES,
    retry: RetryPolicy | None = None,
    batch_size: int = MAX_BATCH_SIZE,
    lookback: timedelta = DEFAULT_LOOKBACK,
    initial_start: datetime | None = FIRST_LOAD_START,
    session: requests.Session | None = None,
) -> list[Path]:
    """Land every record of ``entities`` changed in the window; return the manifests.

    Args:
        creds: The org's My Domain URL, the client secret (password) and
            `SalesforceOptions` (client id, API version, secret fallback).
        interval_start: Start of the run's interval (aware; naive means UTC).
        interval_end: End of the interval, excluded.
        landing_dir: Root of the landing zone.
        entities: Raw tables to fetch (default: every object, in load order).
        retry: Retry policy (tests use tiny delays).
        batch_size: Records per batch to ask for (200-2000).
        lookback: How far before the interval start or cursor each window starts.
        initial_start: Window start of an object without a cursor (first load); the
            default reads the whole org once. None starts at the interval start.
        session: A ``requests.Session`` to send through (tests).

    Returns:
        One manifest per object, in load order.
    """
    unknown = set(entities) - set(ENTITIES)
    if unknown:
        raise ConfigurationError(
            f"unknown Salesforce entities {sorted(unknown)}; known: {ENTITIES}"
        )
    options = creds.options
    if not isinstance(options, SalesforceOptions):
        raise ConfigurationError(
            "no Salesforce options: set extra.client_id on connection salesforce_default "
            "or R2R_SALESFORCE_CLIENT_ID"
        )
    landing_dir = Path(landing_dir)
    api = SalesforceApi(
        creds.base_url,
        options.client_id,
        client_secret_of(creds),
        api_version=options.api_version,
        retry=retry,
        batch_size=batch_size,
        session=session,
    )
    extracted_at = utc_now()
    manifests: list[Path] = []
    try:
        requests_before = api.request_count
        server_now = api.server_time()
        end = _utc(interval_end)
        if server_now is not None and server_now < end:
            end = server_now
        end = _whole_second(end)
        for entity in _in_load_order(entities):
            sobject = SOBJECT_OF_ENTITY[entity]
            start, first_load = window_start(
                landing_dir, entity, interval_start, lookback=lookback, initial_start=initial_start
            )
            path = _extract_object(
                api,
                sobject,
                landing_dir=landing_dir,
                start=min(start, end),
                end=end,
                extracted_at=extracted_at,
                requests_before=requests_before,
                params={
                    "first_load": first_load,
                    "lookback_seconds": 0 if first_load else int(lookback.total_seconds()),
                },
            )
            manifests.append(path)
            requests_before = api.request_count
            log.info("salesforce: %s %s..%s", sobject.name, iso_utc(start), iso_utc(end))
    finally:
        api.close()
    log.info(
        "salesforce: %d objects, %d requests, %d retries, %d re-authentications",
        len(manifests),
        api.request_count,
        api.retry_count,
        api.reauthentications,
    )
    return manifests


def _in_load_order(entities: Iterable[str]) -> list[str]:
    wanted = set(entities)
    return [entity for entity in ENTITIES if entity in wanted]
