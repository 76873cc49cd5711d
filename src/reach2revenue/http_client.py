"""The HTTP client every extractor shares: session, timeouts, retries, rate limiting.

Platforms throttle differently: HubSpot answers 429 (with ``Retry-After``), Meta usually
answers HTTP 400 with an ``error`` object whose code says "rate limited", Google puts the
wait in the body. 429, 5xx, connection failures and whatever the source's
:class:`~reach2revenue.contracts.ErrorPolicy` calls a throttle are retried with
exponential backoff and jitter (or the wait the platform asks for). Everything else (bad
token, validation error, unknown path) fails at once with `ApiRequestError`, because
retrying cannot fix it and would only hide the cause for minutes. This module names no
source: each hands its own policy in.

No URL or message leaves this module unredacted: tokens travel in the ``Authorization``
header, and any ``access_token`` query parameter is replaced by ``REDACTED`` in
exceptions and logs.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from reach2revenue.contracts import ErrorPolicy
from reach2revenue.failures import NonRetryableError
from reach2revenue.landing import redact, utc_now
from reach2revenue.paginators import Paginator

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = (10.0, 120.0)  # (connect, read) seconds; insights pages can be slow


class ApiError(Exception):
    """A platform request that failed for good.

    Attributes:
        platform: the source's name.
        method: HTTP method.
        url: Request URL with secrets redacted.
        status: HTTP status, or None when no response arrived.
        api_message: The platform's own error message (redacted).
        attempts: Number of attempts made.
    """

    def __init__(
        self,
        platform: str,
        method: str,
        url: str,
        status: int | None,
        api_message: str,
        attempts: int = 1,
    ) -> None:
        self.platform = platform
        self.method = method
        self.url = url
        self.status = status
        self.api_message = api_message
        self.attempts = attempts
        status_text = f"HTTP {status}" if status is not None else "no response"
        super().__init__(
            f"{platform}: {method} {url} failed with {status_text}"
            f" after {attempts} attempt(s): {api_message}"
        )


class ApiRequestError(ApiError, NonRetryableError):
    """The platform rejected the request (401, 403, 404, validation 400): not retried."""


class ApiRetryError(ApiError):
    """Transient failures (throttling, 5xx, connection) persisted through every attempt."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry transient failures.

    The delay before attempt ``n + 1`` is ``base_delay * 2 ** (n - 1)`` capped at
    ``max_delay``, scaled by a random factor in ``[1 - jitter, 1]`` so that parallel
    workers do not retry in lock-step. A ``Retry-After`` header replaces the computed
    delay (capped at ``max_retry_after``).
    """

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0
    jitter: float = 0.5
    max_retry_after: float = 300.0

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_retry_after))
        delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return delay * (1.0 - self.jitter * random.random())


class RateLimiter:
    """Token bucket: at most ``rate`` requests per second, bursts up to ``burst``.

    The default burst of 1 spaces requests evenly: platforms count in rolling windows
    (HubSpot: 5 searches in any second), where a burst at a window's edge would be
    rejected. Thread-safe, so one limiter can guard every worker sharing a quota.
    """

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate)
        self.capacity = float(max(1, burst))
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until one is available; return seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            wait = 0.0
            if self._tokens < 1.0:
                wait = (1.0 - self._tokens) / self.rate
                self._sleep(wait)
                self._updated = self._clock()
                self._tokens = 0.0
            else:
                self._tokens -= 1.0
            return wait


@dataclass(frozen=True)
class ApiResponse:
    """A successful response: body text as received, parsed JSON, redacted URL.

    ``data`` is None when a media type other than JSON was accepted (``accept=``).
    """

    url: str
    status: int
    text: str
    data: Any


def _retry_after_seconds(response: requests.Response) -> float | None:
    """Parse ``Retry-After`` (seconds or an HTTP date); None when absent or unreadable."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - utc_now()).total_seconds())
    except (TypeError, ValueError):
        return None


def _body_text(response: requests.Response) -> str:
    """The body as sent: JSON is UTF-8 (RFC 8259), whatever requests would guess."""
    try:
        return response.content.decode("utf-8")
    except UnicodeDecodeError:
        return response.text


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def error_message(body: Any, text: str) -> str:
    """The error's own message in the common JSON shapes (``error.message`` with a code,
    or a top-level ``message`` with a category); else the start of the body."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            code = error.get("code")
            return f"{error['message']} (code {code})" if code is not None else error["message"]
        if body.get("message"):
            category = body.get("category") or body.get("errorType")
            return f"{body['message']} ({category})" if category else str(body["message"])
    return text[:500] if text else "(empty body)"


class ApiClient:
    """A ``requests.Session`` bound to one platform, base URL and token.

    Args:
        platform: Name used in errors and logs (``meta_ads``, ``hubspot``, ``ecb_fx``).
        base_url: Scheme and host (and optional prefix) of the API or its stand-in.
        token: Bearer token; sent only to ``base_url``'s host. Empty for a public API (the
            ECB): then no ``Authorization`` header is sent at all.
        retry: Retry policy for transient failures.
        timeout: ``(connect, read)`` seconds per attempt.
        session: Optional session (tests, connection pooling).
        sleep: Injected for tests; defaults to ``time.sleep``.
        errors: The platform's error policy (its throttles, waits and messages).
    """

    def __init__(
        self,
        platform: str,
        base_url: str,
        token: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        errors: ErrorPolicy | None = None,
    ) -> None:
        self.platform = platform
        self.errors = errors or ErrorPolicy()
        self.base_url = base_url.rstrip("/") + "/"
        self._token = token
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers.update(
            {"Accept": "application/json", "User-Agent": "reach2revenue-extract/0.1"}
        )
        self._sleep = sleep
        self._origin = urlsplit(self.base_url)[:2]
        self.request_count = 0
        self.retry_count = 0

    def __repr__(self) -> str:
        return f"ApiClient(platform={self.platform!r}, base_url={self.base_url!r})"

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values to blank in anything written to disk (for `landing.write_page`)."""
        return (self._token,)

    def redact(self, text: str) -> str:
        """Redact ``access_token`` parameters and this client's token from ``text``."""
        return redact(text, [self._token])

    def url(self, path_or_url: str) -> str:
        """Absolute URL for a path below the base URL (absolute URLs pass through)."""
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return urljoin(self.base_url, path_or_url.lstrip("/"))

    def get(
        self,
        path_or_url: str,
        params: Mapping[str, Any] | None = None,
        *,
        limiter: RateLimiter | None = None,
        accept: str | None = None,
    ) -> ApiResponse:
        """GET with retries; ``path_or_url`` may be a ``paging.next`` URL.

        ``accept`` asks for a non-JSON media type (``text/csv``): see `request`.
        """
        return self.request("GET", path_or_url, params=params, limiter=limiter, accept=accept)

    def pages(
        self,
        path_or_url: str,
        params: Mapping[str, Any] | None,
        paginator: Paginator,
        *,
        limiter: RateLimiter | None = None,
    ) -> Iterator[ApiResponse]:
        """GET every page of a listing, as the API's ``paginator`` says where the next is."""
        url: str | None = path_or_url
        while url is not None:
            response = self.get(url, params, limiter=limiter)
            yield response
            step = paginator.next_page(url, params, response.data)
            url, params = (step.url, step.params) if step is not None else (None, None)

    def post(self, path: str, json_body: Any, *, limiter: RateLimiter | None = None) -> ApiResponse:
        """POST a JSON body with retries."""
        return self.request("POST", path, json_body=json_body, limiter=limiter)

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        limiter: RateLimiter | None = None,
        accept: str | None = None,
    ) -> ApiResponse:
        """Send one logical request, retrying transient failures per ``self.retry``.

        With ``accept`` (a media type other than JSON, e.g. ``text/csv``) that type is
        requested and a successful body is returned as text with ``data`` None, instead of
        being required to be JSON.
        """
        url = self.url(path_or_url)
        if urlsplit(url)[:2] != self._origin:
            # A paging link to another host would receive our bearer token: refuse.
            raise ApiRequestError(
                self.platform,
                method,
                self.redact(url),
                None,
                f"refusing to follow a URL outside {self.base_url}",
            )
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        if accept is not None:
            headers["Accept"] = accept
        attempt = 0
        while True:
            attempt += 1
            if limiter is not None:
                limiter.acquire()
            self.request_count += 1
            shown_url = self.redact(url)
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json_body,
                    headers=headers,
                    timeout=self.timeout,
                )
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                reason = self.redact(f"{type(exc).__name__}: {exc}")
                if attempt >= self.retry.max_attempts:
                    raise ApiRetryError(
                        self.platform, method, shown_url, None, reason, attempt
                    ) from None
                self._wait(attempt, None, method, shown_url, reason)
                continue

            shown_url = self.redact(response.url or url)
            status = response.status_code
            if 200 <= status < 300:
                if accept is not None:
                    return ApiResponse(shown_url, status, _body_text(response), None)
                body = _json_or_none(response)
                if body is None:
                    raise ApiRequestError(
                        self.platform, method, shown_url, status, "response is not JSON"
                    )
                return ApiResponse(shown_url, status, _body_text(response), body)

            body = _json_or_none(response)
            describe = self.errors.message or error_message
            message = self.redact(describe(body, response.text))
            throttled = self.errors.is_throttle is not None and self.errors.is_throttle(
                status, body
            )
            transient = status == 429 or status >= 500 or throttled
            if not transient:
                raise ApiRequestError(self.platform, method, shown_url, status, message, attempt)
            if attempt >= self.retry.max_attempts:
                raise ApiRetryError(self.platform, method, shown_url, status, message, attempt)
            asked = _retry_after_seconds(response)
            if asked is None and self.errors.retry_after is not None:
                asked = self.errors.retry_after(body)
            self._wait(
                attempt,
                asked,
                method,
                shown_url,
                f"HTTP {status}: {message}",
            )

    def _wait(
        self, attempt: int, retry_after: float | None, method: str, url: str, reason: str
    ) -> None:
        delay = self.retry.backoff(attempt, retry_after)
        self.retry_count += 1
        log.warning(
            "%s: %s %s attempt %d/%d failed (%s); retrying in %.2fs",
            self.platform,
            method,
            url,
            attempt,
            self.retry.max_attempts,
            reason,
            delay,
        )
        self._sleep(delay)
