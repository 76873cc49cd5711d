"""The HTTP client every extractor shares: session, deadlines, retries, rate budgets.

Failures are classified here, once (``reach2revenue.failures``):

- **non-retryable** (`ApiRequestError`, a `NonRetryableError`): 401/403 auth, 400
  validation, 404, an unusable base URL (`ApiConfigurationError`), a body that is not what
  its ``Content-Type`` says (`UndecodableBodyError`, "not JSON"). Retrying cannot fix
  them; they fail at once and the task is not retried.
- **transient** (`ApiRetryError`): 5xx, 408, dropped connections and timeouts that
  outlived ``RetryPolicy.max_attempts``, and `DeadlineExceededError` (the platform was too
  slow, or asked for a longer wait than the extraction's deadline leaves). Airflow's
  retries may fix them.

Rate limits are a budget, not an error. Every response is read for the platform's usage
signals through its :class:`~reach2revenue.contracts.ErrorPolicy` ``usage`` reader (Meta's
``x-business-use-case-usage``, HubSpot's ``X-HubSpot-RateLimit-*``...): as usage nears
100 % the client slows down (``RetryPolicy.pace_from``), and a throttle whose wait the
platform states (``Retry-After``, the usage reader, a ``retryDelay`` in the body) is waited
out, however often, as long as the wait fits in the extraction's deadline; it does not use
up ``max_attempts``. A throttle that states no wait is backed off like a 5xx.

Deadlines: each client has a total deadline for its extraction (``deadline_seconds``;
default ``R2R_EXTRACTION_DEADLINE_SECONDS`` or 2.5 h, below the DAG's 3 h
``execution_timeout``), and each attempt has one for connect, headers and the whole body
(``request_deadline``), enforced by streaming reads against a monotonic clock and a
watchdog that shuts the socket down when it passes: a server trickling one byte a second
cannot hold a task.

Bodies are decoded by the charset their ``Content-Type`` declares (UTF-8 when it declares
none, as JSON is); an undecodable body is an error naming the offset, never U+FFFD, so
the landing zone holds exactly the text the platform sent.

No URL or message leaves this module unredacted: tokens travel in the ``Authorization``
header, and any ``access_token`` query parameter is replaced by ``REDACTED`` in
exceptions and logs. This module names no source: each hands its own policy in.
"""

from __future__ import annotations

import codecs
import heapq
import itertools
import json
import logging
import math
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from reach2revenue.contracts import ErrorPolicy, UsageHint
from reach2revenue.failures import ConfigurationError, NonRetryableError
from reach2revenue.landing import redact, utc_now
from reach2revenue.paginators import Paginator

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = (10.0, 120.0)  # (connect, idle read) seconds; insights pages can be slow
#: Connect, headers and the whole body of one attempt.
DEFAULT_REQUEST_DEADLINE = 600.0
#: One extraction's total (2.5 h), below the DAG's 3 h execution_timeout so the task
#: fails with our message (and lands nothing half) before Airflow kills it.
DEFAULT_EXTRACTION_DEADLINE = 2.5 * 3600
EXTRACTION_DEADLINE_ENV = "R2R_EXTRACTION_DEADLINE_SECONDS"
_CHUNK = 64 * 1024
#: The most requests one client may have in flight at once (`run_concurrently` workers):
#: its connection pool keeps this many connections, and sources validate their
#: ``max_concurrency`` option against it.
MAX_CONCURRENCY = 16
_T = TypeVar("_T")


def extraction_deadline_seconds() -> float:
    """The configured total deadline of one extraction (``R2R_EXTRACTION_DEADLINE_SECONDS``).

    Raises:
        ConfigurationError: when the variable is set but not a positive number.
    """
    value = os.environ.get(EXTRACTION_DEADLINE_ENV, "").strip()
    if not value:
        return DEFAULT_EXTRACTION_DEADLINE
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or math.isinf(seconds):
        raise ConfigurationError(
            f"{EXTRACTION_DEADLINE_ENV}={value!r}: want a positive number of seconds"
        )
    return seconds


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


class ApiConfigurationError(ApiRequestError, ConfigurationError):
    """The request cannot be made as configured (a base URL without scheme or host)."""


class UndecodableBodyError(ApiRequestError):
    """The body is not in the charset its ``Content-Type`` declares (or UTF-8)."""


class ApiRetryError(ApiError):
    """Transient failures (throttling, 5xx, connection) persisted through every attempt."""


class DeadlineExceededError(ApiRetryError):
    """The extraction's or the attempt's deadline passed, or a wait would pass it.

    Transient: the platform was slow or throttling; a later try may get through.
    """


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry transient failures, and when to pace.

    The delay before attempt ``n + 1`` is ``base_delay * 2 ** (n - 1)`` capped at
    ``max_delay``, scaled by a random factor in ``[1 - jitter, 1]`` so that parallel
    workers do not retry in lock-step. A wait the platform states (``Retry-After``, a
    usage header, a body's ``retryDelay``) replaces the computed delay, capped at
    ``max_retry_after`` (a longer throttle is then simply seen again and waited again).

    ``max_attempts`` bounds failures without a stated wait (5xx, connection errors,
    throttles that say nothing); throttles with a stated wait are waited out within the
    client's deadline instead (at most ``max_throttle_waits`` per request, a guard against
    a server that answers nothing but waits). ``pace_from``: from this fraction of the
    platform's budget used, requests are spaced over the time the platform says the usage
    needs to reset (linearly more as usage nears 100 %); None turns pacing off.
    """

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0
    jitter: float = 0.5
    max_retry_after: float = 300.0
    pace_from: float | None = 0.8
    max_throttle_waits: int = 1000

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_retry_after))
        delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return delay * (1.0 - self.jitter * random.random())

    def pace(self, hint: UsageHint | None) -> float:
        """Seconds to wait before the next request, given the last response's usage."""
        if hint is None or self.pace_from is None:
            return 0.0
        if hint.wait_seconds is not None and 0 < hint.wait_seconds < math.inf:
            return min(hint.wait_seconds, self.max_retry_after)
        if hint.used is None or hint.reset_seconds is None or hint.used < self.pace_from:
            return 0.0
        share = min(1.0, (hint.used - self.pace_from) / max(1e-9, 1.0 - self.pace_from))
        return min(self.max_retry_after, hint.reset_seconds * share)


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
    ``tries``: requests sent for it, retries included. Extractions that share a client
    across threads sum it to count their own requests (the client's ``request_count``
    counts every thread's).
    """

    url: str
    status: int
    text: str
    data: Any
    tries: int = 1


# ------------------------------------------------------------------ deadline watchdog
# requests gives no total deadline: its read timeout is per socket read, so a server that
# sends a byte every few seconds holds a request forever. Each attempt therefore runs
# under a watchdog that knows the connection the attempt uses (registered by the
# connection class below, through a thread-local) and shuts its socket down when the
# attempt's deadline passes; a blocked read then returns at once.

_ACTIVE = threading.local()


class _Deadlines:
    """One daemon thread firing the watchdogs of every attempt in the process, earliest
    deadline first. A timer thread per attempt cost more than a small request: starting
    a thread waits until the new thread has been scheduled (milliseconds on a busy host).
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._due: list[tuple[float, int, _Watchdog]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, at: float, watchdog: _Watchdog) -> None:
        with self._changed:
            heapq.heappush(self._due, (at, next(self._order), watchdog))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="r2r-attempt-deadlines", daemon=True
                )
                self._thread.start()
            self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                # Finished attempts leave their entry behind; drop them as they surface.
                while self._due and self._due[0][2].done:
                    heapq.heappop(self._due)
                if not self._due:
                    self._changed.wait()
                    continue
                wait = self._due[0][0] - time.monotonic()
                if wait > 0:
                    self._changed.wait(wait)
                    continue
                _, _, watchdog = heapq.heappop(self._due)
            watchdog.fire()


_DEADLINES = _Deadlines()


def _deadlines_after_fork() -> None:
    # The forked child has no deadline thread, and its lock may have been held by the
    # parent's at the fork: start afresh.
    global _DEADLINES
    _DEADLINES = _Deadlines()


os.register_at_fork(after_in_child=_deadlines_after_fork)


class _Watchdog:
    def __init__(self, seconds: float) -> None:
        self.fired = False
        self.done = False
        self._seconds = max(0.0, seconds)
        self._connections: list[HTTPConnection] = []
        self._lock = threading.Lock()

    def __enter__(self) -> _Watchdog:
        _ACTIVE.watchdog = self
        _DEADLINES.add(time.monotonic() + self._seconds, self)
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.done = True
        _ACTIVE.watchdog = None

    def attach(self, connection: HTTPConnection) -> None:
        with self._lock:
            self._connections.append(connection)
            fired = self.fired
        if fired:
            self._shutdown(connection)

    def fire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.fired = True
            connections = list(self._connections)
        for connection in connections:
            self._shutdown(connection)

    @staticmethod
    def _shutdown(connection: HTTPConnection) -> None:
        sock = getattr(connection, "sock", None)
        if sock is not None:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _watch(connection: HTTPConnection) -> None:
    watchdog = getattr(_ACTIVE, "watchdog", None)
    if watchdog is not None:
        watchdog.attach(connection)


class _WatchedHTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        _watch(self)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        _watch(self)
        super().request(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedAdapter(HTTPAdapter):
    """requests' adapter with connections the attempt's watchdog can shut down."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }


def _read_environment_once(session: requests.Session, url: str) -> None:
    """Take the proxy and CA-bundle settings from the environment now, for good.

    With ``trust_env`` requests reads them (and ``~/.netrc``) again for every request,
    scanning the whole environment: about a millisecond a request, a third of what
    landing a small page costs. A client talks to one origin, so one reading is the same
    answer. Without ``trust_env`` no ``~/.netrc`` entry can replace the client's own
    ``Authorization`` header either.
    """
    session.proxies.update(requests.utils.get_environ_proxies(url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False


# ------------------------------------------------------------------ bodies


def _retry_after_seconds(response: Any) -> float | None:
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


def declared_charset(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a ``Content-Type`` header (lower case), or None."""
    if not content_type:
        return None
    message = Message()
    message["content-type"] = content_type
    charset = message.get_param("charset")
    if isinstance(charset, tuple):  # RFC 2231 form
        charset = charset[2]
    if not charset:
        return None
    return str(charset).strip().strip('"').lower() or None


def _parse_json(text: str) -> Any:
    try:
        # A byte-order mark is not JSON, but it is not a reason to fail either.
        return json.loads(text.removeprefix("\ufeff"))
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


@dataclass(frozen=True)
class _Received:
    """One attempt's response, body read in full within the attempt's deadline."""

    status: int
    url: str
    headers: Mapping[str, str]
    content: bytes
    response: requests.Response


@dataclass
class _Pace:
    """When the next request against one budget may go, and the spacing of requests the
    budget's latest usage asks for (`RetryPolicy.pace`)."""

    until: float = 0.0
    spacing: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class Exchange:
    """One successful request as sent, for the bench's replay (kept in memory only: the
    headers carry the credentials, so an exchange is never written or logged)."""

    method: str
    url: str
    params: Mapping[str, Any] | None
    json_body: Any
    headers: Mapping[str, str]
    body_bytes: int


# Module-wide, not a context variable: an extractor's worker threads record too.
_EXCHANGES: list[list[Exchange]] = []
_EXCHANGES_LOCK = threading.Lock()


@contextmanager
def record_exchanges() -> Iterator[list[Exchange]]:
    """Collect every successful request made while the context is open, in any thread
    (the bench's extraction bound replays them with a client that only reads bytes)."""
    exchanges: list[Exchange] = []
    with _EXCHANGES_LOCK:
        _EXCHANGES.append(exchanges)
    try:
        yield exchanges
    finally:
        with _EXCHANGES_LOCK:
            _EXCHANGES.remove(exchanges)


class _AttemptTimedOut(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ApiClient:
    """A ``requests.Session`` bound to one platform, base URL and token.

    Args:
        platform: Name used in errors and logs (``meta_ads``, ``hubspot``, ``ecb_fx``).
        base_url: Scheme and host (and optional prefix) of the API or its stand-in.
        token: Bearer token; sent only to ``base_url``'s host. Empty for a public API (the
            ECB): then no ``Authorization`` header is sent at all.
        retry: Retry and pacing policy.
        timeout: ``(connect, idle read)`` seconds per attempt (each capped by the deadlines).
        session: Optional session (tests, connection pooling).
        sleep: Injected for tests; defaults to ``time.sleep``.
        errors: The platform's error policy (its throttles, waits, messages, usage).
        request_deadline: Seconds for one attempt: connect, headers and the whole body.
        deadline_seconds: Total seconds for everything this client does (its extraction),
            waits included; default `extraction_deadline_seconds`. Counted from creation.
        clock: Monotonic clock (tests).
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
        request_deadline: float = DEFAULT_REQUEST_DEADLINE,
        deadline_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.platform = platform
        self.errors = errors or ErrorPolicy()
        self.base_url = base_url.rstrip("/") + "/"
        self._token = token
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.request_deadline = float(request_deadline)
        self.deadline_seconds = (
            extraction_deadline_seconds() if deadline_seconds is None else float(deadline_seconds)
        )
        self._clock = clock
        self._deadline_at = clock() + self.deadline_seconds
        if session is None:
            session = requests.Session()
            _read_environment_once(session, self.base_url)
        self.session = session
        # One pooled connection per concurrent worker (`run_concurrently`), so that
        # concurrent requests reuse connections instead of opening and dropping them.
        adapter = _WatchedAdapter(pool_maxsize=MAX_CONCURRENCY)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update(
            {"Accept": "application/json", "User-Agent": "reach2revenue-extract/0.1"}
        )
        self._sleep = sleep
        self._origin = urlsplit(self.base_url)[:2]
        # Threads of one extraction share the client (`run_concurrently`): the counters
        # and the pacing state are updated under this lock.
        self._counts_lock = threading.Lock()
        self._paces: dict[str, _Pace] = {}
        self._this_thread = threading.local()
        self.request_count = 0
        self.retry_count = 0
        #: Throttles waited out (stated waits) and the seconds spent in them and in pacing.
        self.throttle_count = 0
        self.throttle_wait_seconds = 0.0
        self.pace_wait_seconds = 0.0
        self.last_usage: UsageHint | None = None

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

    @property
    def tries(self) -> int:
        """Requests sent so far for the calling thread's current (or last) logical request,
        for an error raised from inside `request` (other threads share ``request_count``)."""
        return int(getattr(self._this_thread, "tries", 0))

    @property
    def seconds_left(self) -> float:
        """Seconds left before this client's (extraction's) deadline."""
        return self._deadline_at - self._clock()

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
        pace_key: str = "",
    ) -> ApiResponse:
        """GET with retries; ``path_or_url`` may be a ``paging.next`` URL.

        ``accept`` asks for a non-JSON media type (``text/csv``), ``pace_key`` names the
        budget the request counts against: see `request`.
        """
        return self.request(
            "GET", path_or_url, params=params, limiter=limiter, accept=accept, pace_key=pace_key
        )

    def pages(
        self,
        path_or_url: str,
        params: Mapping[str, Any] | None,
        paginator: Paginator,
        *,
        limiter: RateLimiter | None = None,
        pace_key: str = "",
    ) -> Iterator[ApiResponse]:
        """GET every page of a listing, as the API's ``paginator`` says where the next is."""
        url: str | None = path_or_url
        while url is not None:
            response = self.get(url, params, limiter=limiter, pace_key=pace_key)
            yield response
            step = paginator.next_page(url, params, response.data)
            url, params = (step.url, step.params) if step is not None else (None, None)

    def post(
        self,
        path: str,
        json_body: Any,
        *,
        limiter: RateLimiter | None = None,
        pace_key: str = "",
        parse: bool = True,
    ) -> ApiResponse:
        """POST a JSON body with retries (``pace_key``, ``parse``: see `request`)."""
        return self.request(
            "POST", path, json_body=json_body, limiter=limiter, pace_key=pace_key, parse=parse
        )

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        limiter: RateLimiter | None = None,
        accept: str | None = None,
        pace_key: str = "",
        parse: bool = True,
    ) -> ApiResponse:
        """Send one logical request: retry transient failures per ``self.retry``, wait out
        stated throttles within the deadline, pace by the platform's usage.

        With ``accept`` (a media type other than JSON, e.g. ``text/csv``) that type is
        requested and a successful body is returned as text with ``data`` None, instead of
        being required to be JSON. ``parse=False`` returns a JSON body as text too (``data``
        None), for a caller that reads it piece by piece (a searchStream's batches one at a
        time, not the whole answer as objects at once).

        ``pace_key`` names the budget the request counts against when a platform keeps
        one per account (Meta's Business-Use-Case limits are per ad account): the usage
        an answer reports paces only later requests with the same key, so a nearly spent
        account does not slow down the others running beside it. One key by default.
        """
        url = self.url(path_or_url)
        split = urlsplit(url)
        if split.scheme not in ("http", "https") or not split.netloc:
            raise ApiConfigurationError(
                self.platform,
                method,
                self.redact(url),
                None,
                f"base URL {self.redact(self.base_url)!r} is not an http(s) URL with a host",
            )
        if split[:2] != self._origin:
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
        attempt = 0  # failed attempts without a stated wait
        tries = 0  # every request sent for this logical request
        waits = 0  # stated throttles waited out
        shown_url = self.redact(url)
        while True:
            self._await_pace(pace_key)
            if limiter is not None:
                limiter.acquire()
            tries += 1
            self._this_thread.tries = tries
            with self._counts_lock:
                self.request_count += 1
            try:
                received = self._send(method, url, params, json_body, headers)
            except requests.exceptions.InvalidURL as exc:
                raise ApiConfigurationError(
                    self.platform, method, shown_url, None, self.redact(str(exc)), tries
                ) from None
            except _AttemptTimedOut as timed_out:
                attempt += 1
                if attempt >= self.retry.max_attempts:
                    raise DeadlineExceededError(
                        self.platform, method, shown_url, None, timed_out.reason, tries
                    ) from None
                self._wait(attempt, None, method, shown_url, timed_out.reason, tries)
                continue
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ) as exc:
                reason = self.redact(f"{type(exc).__name__}: {exc}")
                attempt += 1
                if attempt >= self.retry.max_attempts:
                    raise ApiRetryError(
                        self.platform, method, shown_url, None, reason, tries
                    ) from None
                self._wait(attempt, None, method, shown_url, reason, tries)
                continue

            shown_url = self.redact(received.url or url)
            status = received.status
            if 200 <= status < 300:
                if _EXCHANGES:
                    # The headers as sent: the session's (a developer token, an API
                    # version) under this request's, or a replay would be refused.
                    sent = {**self.session.headers, **headers}
                    exchange = Exchange(method, url, params, json_body, sent, len(received.content))
                    with _EXCHANGES_LOCK:
                        for recorded in _EXCHANGES:
                            recorded.append(exchange)
                text = self._decode(received, method, shown_url, tries)
                hint = self._usage(status, received.headers, None)
                self._plan_pace(hint, pace_key)
                if accept is not None or not parse:
                    return ApiResponse(shown_url, status, text, None, tries)
                body = _parse_json(text)
                if body is None:
                    raise ApiRequestError(
                        self.platform, method, shown_url, status, "response is not JSON", tries
                    )
                return ApiResponse(shown_url, status, text, body, tries)

            # Error bodies only feed messages and classification: decode leniently.
            charset = declared_charset(received.headers.get("Content-Type")) or "utf-8"
            try:
                error_text = received.content.decode(charset, errors="replace")
            except LookupError:
                error_text = received.content.decode("utf-8", errors="replace")
            body = _parse_json(error_text)
            describe = self.errors.message or error_message
            message = self.redact(describe(body, error_text))
            hint = self._usage(status, received.headers, body)
            throttled = status == 429 or (
                self.errors.is_throttle is not None and self.errors.is_throttle(status, body)
            )
            if not throttled and status not in (408,) and status < 500:
                raise ApiRequestError(self.platform, method, shown_url, status, message, tries)

            stated = _retry_after_seconds(received)
            if stated is None and hint is not None and hint.wait_seconds is not None:
                stated = hint.wait_seconds
            if stated is None and self.errors.retry_after is not None:
                stated = self.errors.retry_after(body)
            reason = f"HTTP {status}: {message}"
            if hint is not None and hint.note:
                reason += f" [{self.redact(hint.note)}]"
            if throttled and stated is not None and waits < self.retry.max_throttle_waits:
                # A stated throttle is the budget at work, not a failure: wait it out.
                waits += 1
                self._wait_throttle(stated, method, shown_url, status, reason, tries)
                continue
            attempt += 1
            if attempt >= self.retry.max_attempts:
                raise ApiRetryError(self.platform, method, shown_url, status, message, tries)
            self._wait(
                attempt,
                stated,
                method,
                shown_url,
                reason,
                tries,
                status,
                hold=pace_key if throttled else None,
            )

    # ----------------------------------------------------------------- one attempt

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json_body: Any,
        headers: Mapping[str, str],
    ) -> _Received:
        """One attempt, connect to last body byte within the attempt's deadline."""
        left = self.seconds_left
        if left <= 0:
            raise _AttemptTimedOut("the extraction deadline has passed")
        budget = min(self.request_deadline, left)
        started = self._clock()
        ends = started + budget
        connect, read = self.timeout
        chunks: list[bytes] = []
        received = 0
        with _Watchdog(budget) as watchdog:
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json_body,
                    headers=dict(headers),
                    timeout=(min(connect, budget), min(read, budget)),
                    stream=True,
                )
                try:
                    for chunk in response.iter_content(_CHUNK):
                        chunks.append(chunk)
                        received += len(chunk)
                        if self._clock() > ends:
                            break
                finally:
                    response.close()
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ):
                if not watchdog.fired and self._clock() <= ends:
                    raise
            if watchdog.fired or self._clock() > ends:
                which = (
                    "the time left before the extraction deadline"
                    if budget < self.request_deadline
                    else "the request deadline"
                )
                raise _AttemptTimedOut(
                    f"no complete response within {which} ({budget:.1f}s for connect, "
                    f"headers and the whole body; {received} body bytes received)"
                )
        return _Received(
            response.status_code, response.url, response.headers, b"".join(chunks), response
        )

    def _decode(self, received: _Received, method: str, url: str, tries: int) -> str:
        """The body as the platform sent it, by its declared charset (default UTF-8)."""
        declared = declared_charset(received.headers.get("Content-Type"))
        charset = declared or "utf-8"
        try:
            codecs.lookup(charset)
        except LookupError:
            raise UndecodableBodyError(
                self.platform,
                method,
                url,
                received.status,
                f"unknown charset {charset!r} declared in Content-Type "
                f"{received.headers.get('Content-Type')!r}",
                tries,
            ) from None
        try:
            return received.content.decode(charset)
        except UnicodeDecodeError as exc:
            bad = received.content[exc.start : exc.start + 8]
            raise UndecodableBodyError(
                self.platform,
                method,
                url,
                received.status,
                f"body is not valid {charset} ({'declared' if declared else 'JSON default'}) "
                f"at byte offset {exc.start} of {len(received.content)}: {bad!r}; "
                "not landed (a lossy decode would change the data)",
                tries,
            ) from None

    # ----------------------------------------------------------------- budgets and waits

    def _usage(self, status: int, headers: Mapping[str, str], body: Any) -> UsageHint | None:
        if self.errors.usage is None:
            return None
        try:
            hint = self.errors.usage(status, headers, body)
        except Exception:  # a usage reader must never fail a good response
            log.exception("%s: could not read rate usage", self.platform)
            return None
        if hint is not None:
            self.last_usage = hint
        return hint

    def _pace(self, key: str) -> _Pace:
        with self._counts_lock:
            return self._paces.setdefault(key, _Pace())

    def _plan_pace(self, hint: UsageHint | None, key: str = "") -> None:
        delay = self.retry.pace(hint)
        pace = self._pace(key)
        with self._counts_lock:
            # The latest usage sets the spacing of requests; a longer wait already
            # planned (another thread's answer) stands.
            pace.spacing = delay
            if delay > 0:
                pace.until = max(pace.until, self._clock() + delay)

    def _await_pace(self, key: str = "") -> None:
        pace = self._pace(key)
        # Held while sleeping: the other threads of the extraction queue behind a pace
        # instead of all sending into a budget that is nearly spent.
        with pace.lock:
            delay = pace.until - self._clock()
            if delay <= 0:
                return
            delay = min(delay, max(0.0, self.seconds_left))
            usage = self.last_usage
            log.info(
                "%s: pacing %.2fs before the next request (%s used%s)",
                self.platform,
                delay,
                f"{usage.used:.0%}" if usage and usage.used is not None else "budget",
                f": {usage.note}" if usage and usage.note else "",
            )
            self._sleep(delay)
            with self._counts_lock:
                self.pace_wait_seconds += delay
                # Threads queued behind this pace go one spacing apart, not all at once
                # into a budget that is nearly spent.
                pace.until = self._clock() + pace.spacing if pace.spacing > 0 else 0.0

    def _ensure_fits(
        self, delay: float, method: str, url: str, status: int | None, reason: str, tries: int
    ) -> None:
        left = self.seconds_left
        if delay < left:
            return
        asked = "an unknown time (not within hours)" if math.isinf(delay) else f"{delay:.0f}s"
        raise DeadlineExceededError(
            self.platform,
            method,
            url,
            status,
            f"{reason}; waiting {asked} does not fit in the extraction deadline "
            f"({self.deadline_seconds:.0f}s, {max(0.0, left):.0f}s left): not waited for, "
            "a later try continues where the landed data ends",
            tries,
        )

    def _wait_throttle(
        self, stated: float, method: str, url: str, status: int, reason: str, tries: int
    ) -> None:
        self._ensure_fits(stated, method, url, status, reason, tries)
        delay = self.retry.backoff(1, stated)
        self._ensure_fits(delay, method, url, status, reason, tries)
        with self._counts_lock:
            self.throttle_count += 1
            self.retry_count += 1
            self.throttle_wait_seconds += delay
        log.warning(
            "%s: %s %s throttled (%s); waiting %.2fs as the platform asks (throttle %d)",
            self.platform,
            method,
            url,
            reason,
            delay,
            self.throttle_count,
        )
        self._sleep(delay)

    def _wait(
        self,
        attempt: int,
        retry_after: float | None,
        method: str,
        url: str,
        reason: str,
        tries: int,
        status: int | None = None,
        hold: str | None = None,
    ) -> None:
        """Back off before the next attempt; ``hold`` (a pace key) holds back the other
        threads' requests against that budget as long: a throttle is the budget's state,
        not this request's, and threads retrying on their own would each keep hitting it.
        """
        delay = self.retry.backoff(attempt, retry_after)
        self._ensure_fits(delay, method, url, status, reason, tries)
        with self._counts_lock:
            self.retry_count += 1
            if hold is not None:
                pace = self._paces.setdefault(hold, _Pace())
                pace.until = max(pace.until, self._clock() + delay)
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


def run_concurrently(tasks: Sequence[Callable[[], _T]], workers: int) -> list[_T]:
    """Run ``tasks`` on at most ``workers`` threads; return their results in task order.

    For an extraction's independent requests (ad accounts, ranges of days) that the
    platform lets run side by side: while one waits for the platform, another parses and
    lands. The tasks share one `ApiClient`, so a stated throttle or a pace is honoured by
    the task that met it and the pace by the others too. ``workers`` of 1 (or one task)
    runs them in the calling thread, one after another. The first task runs alone before
    the others start: a wrong token or setting then fails one request, not one per worker.

    Raises:
        Exception: the first task's failure; tasks not yet started are not started, and
            the running ones are waited for (each lands whole or not at all: a directory
            without a manifest is never loaded).
    """
    if workers <= 1 or len(tasks) <= 2:
        return [task() for task in tasks]
    first = tasks[0]()
    with ThreadPoolExecutor(
        max_workers=min(workers, len(tasks) - 1, MAX_CONCURRENCY), thread_name_prefix="r2r-extract"
    ) as pool:
        futures = [pool.submit(task) for task in tasks[1:]]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        errors = [f.exception() for f in futures if f in done and f.exception() is not None]
        if errors:
            for future in futures:
                future.cancel()
            raise errors[0]
        return [first, *(future.result() for future in futures)]
