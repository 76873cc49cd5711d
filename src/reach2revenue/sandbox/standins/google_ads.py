"""Stand-in for the Google Ads API (REST): ``googleAds:searchStream`` and ``googleAds:search``.

Serves a `GoogleAdsPart` as the real API would: ``POST /{version}/customers/{id}/
googleAds:searchStream`` with a GAQL ``{"query": ...}`` body answers a JSON array of batches
(``results``, ``fieldMask``, ``requestId``; at most ``batch_size`` rows each), results as
nested lowerCamelCase objects with int64 values as strings and doubles as numbers, and a
``resourceName`` on each resource; ``googleAds:search`` answers one page of at most
``page_size`` rows with ``nextPageToken`` (and rejects ``pageSize``, as v17+ does). GAQL is
parsed for real: the selected fields (anything outside the supported set is
``UNRECOGNIZED_FIELD``), ``FROM geographic_view``, ``WHERE`` conditions joined by ``AND``
(``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``IN``, ``NOT IN``, ``BETWEEN``), ``ORDER BY``
and ``LIMIT``. Days are customer-local; only days up to the server clock's local date
exist.

Errors are google.rpc.Status bodies with a ``GoogleAdsFailure`` detail: 401
``UNAUTHENTICATED`` (OAuth token; unknown developer token), 400 for a missing
``developer-token`` header or a bad query, 403 ``PERMISSION_DENIED`` for a developer token
not approved beyond test accounts or a customer reached without its manager as
``login-customer-id``, and 429 ``RESOURCE_EXHAUSTED``: the daily operation budget of a
Basic-access developer token (rolling 24 hours on the server clock, ``retryDelay`` until
the oldest operation leaves the window) and a short-term request rate
(``RESOURCE_TEMPORARILY_EXHAUSTED`` with a ``retryDelay`` of the remaining window).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import functools
import operator
import re
import secrets
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from reach2revenue.sandbox.standins._http import Request, Response, RollingLimiter, StandinServer
from reach2revenue.sandbox.world.google_ads import (
    GeoReportRow,
    GoogleAdsCampaign,
    GoogleAdsCustomer,
    GoogleAdsPart,
)

API_VERSIONS = ("v20", "v21", "v22")
DEFAULT_DEVELOPER_TOKEN = "standin-developer-token"
MAX_BATCH_SIZE = 10_000  # rows per searchStream batch and per search page (fixed by Google)
BASIC_ACCESS_OPERATIONS_PER_DAY = 15_000
ACCESS_LEVELS = ("TEST", "BASIC", "STANDARD")

_PATH = re.compile(r"^/(v\d+)/customers/([^/]+)/googleAds:(searchStream|search)/?$")

# --------------------------------------------------------------------------- GAQL fields

_Context = tuple[GoogleAdsCustomer, GoogleAdsCampaign, GeoReportRow]
_INT64, _DOUBLE, _STRING, _ENUM = "int64", "double", "string", "enum"


def _geo_view_name(ctx: _Context) -> str:
    customer, _, row = ctx
    return (
        f"customers/{customer.customer_id}/geographicViews/"
        f"{row.country_criterion_id}~{row.location_type}"
    )


#: Every field this stand-in serves for ``FROM geographic_view``: (type, value of a row).
FIELDS: dict[str, tuple[str, Callable[[_Context], Any]]] = {
    "customer.resource_name": (_STRING, lambda c: f"customers/{c[0].customer_id}"),
    "customer.id": (_INT64, lambda c: int(c[0].customer_id)),
    "customer.descriptive_name": (_STRING, lambda c: c[0].descriptive_name),
    "customer.currency_code": (_STRING, lambda c: c[0].currency_code),
    "customer.time_zone": (_STRING, lambda c: c[0].time_zone),
    "campaign.resource_name": (
        _STRING,
        lambda c: f"customers/{c[0].customer_id}/campaigns/{c[1].campaign_id}",
    ),
    "campaign.id": (_INT64, lambda c: int(c[1].campaign_id)),
    "campaign.name": (_STRING, lambda c: c[1].campaign_name),
    "campaign.status": (_ENUM, lambda c: c[1].status),
    "segments.date": (_STRING, lambda c: c[2].date.isoformat()),
    "geographic_view.resource_name": (_STRING, _geo_view_name),
    "geographic_view.country_criterion_id": (_INT64, lambda c: int(c[2].country_criterion_id)),
    "geographic_view.location_type": (_ENUM, lambda c: c[2].location_type),
    "metrics.cost_micros": (_INT64, lambda c: c[2].cost_micros),
    "metrics.impressions": (_INT64, lambda c: c[2].impressions),
    "metrics.clicks": (_INT64, lambda c: c[2].clicks),
    "metrics.conversions": (_DOUBLE, lambda c: c[2].conversions),
}
RESOURCE = "geographic_view"
_DEFAULT_ORDER = (
    "segments.date",
    "campaign.id",
    "geographic_view.country_criterion_id",
    "geographic_view.location_type",
)


def _lower_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _json_value(kind: str, value: Any) -> Any:
    # Proto3 JSON: int64 as a decimal string, double as a number, enums by name.
    return str(value) if kind == _INT64 else value


# --------------------------------------------------------------------------- GAQL parser


class GaqlError(ValueError):
    """A query the API rejects: ``code`` is the QueryError (or RequestError) value."""

    def __init__(self, code: str, message: str, kind: str = "queryError") -> None:
        super().__init__(message)
        self.code = code
        self.kind = kind


@dataclass(frozen=True)
class Condition:
    """One ``WHERE`` condition: ``field op values``."""

    field: str
    operator: str  # =, !=, <, <=, >, >=, IN, NOT IN, BETWEEN
    values: tuple[str, ...]


@dataclass(frozen=True)
class Query:
    """A parsed GAQL query."""

    fields: tuple[str, ...]
    resource: str
    conditions: tuple[Condition, ...]
    order_by: tuple[tuple[str, bool], ...]  # (field, descending)
    limit: int | None


_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<resource>[a-z_]+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+ORDER\s+BY\s+(?P<order>.+?))?"
    r"(?:\s+LIMIT\s+(?P<limit>\S+))?(?:\s+PARAMETERS\s+(?P<parameters>.+?))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_LITERAL = r"(?:'[^']*'|\"[^\"]*\"|-?[0-9]+(?:\.[0-9]+)?|[A-Z_]+)"
_CONDITION = re.compile(
    rf"\s*(?P<field>[a-z_]+\.[a-z_]+)\s+(?:"
    rf"(?P<between>BETWEEN)\s+(?P<low>{_LITERAL})\s+AND\s+(?P<high>{_LITERAL})"
    rf"|(?P<in>NOT\s+IN|IN)\s*\((?P<list>[^)]*)\)"
    rf"|(?P<op>!=|>=|<=|=|>|<)\s*(?P<value>{_LITERAL}))\s*",
    re.IGNORECASE,
)
_AND = re.compile(r"AND\s+", re.IGNORECASE)


def _unquote(literal: str) -> str:
    literal = literal.strip()
    if len(literal) >= 2 and literal[0] == literal[-1] and literal[0] in "'\"":
        return literal[1:-1]
    return literal


def _check_field(name: str, clause: str) -> str:
    if name not in FIELDS:
        raise GaqlError(
            "UNRECOGNIZED_FIELD",
            f"Unrecognized field in the query: '{name}' (in the {clause} clause; this "
            f"stand-in serves {RESOURCE} fields {', '.join(sorted(FIELDS))}).",
        )
    return name


def parse_gaql(text: str) -> Query:
    """Parse a GAQL query (the subset documented in the module docstring).

    Raises:
        GaqlError: with the QueryError value the API would answer.
    """
    match = _QUERY.match(text or "")
    if match is None:
        raise GaqlError("EXPECTED_SELECT", "Error in query: expected SELECT ... FROM ....")
    resource = match.group("resource")
    if resource != RESOURCE:
        raise GaqlError(
            "PROHIBITED_RESOURCE_TYPE_IN_FROM_CLAUSE",
            f"Error in FROM clause: this stand-in serves only {RESOURCE}, not '{resource}'.",
        )
    fields = tuple(
        _check_field(part.strip(), "SELECT") for part in match.group("fields").split(",")
    )
    if len(set(fields)) != len(fields):
        raise GaqlError("DUPLICATE_FIELDS_IN_SELECT_CLAUSE", "Duplicate field in SELECT clause.")
    conditions: list[Condition] = []
    where = match.group("where") or ""
    position = 0
    while where and position < len(where):
        found = _CONDITION.match(where, position)
        if found is None:
            raise GaqlError("UNEXPECTED_INPUT", f"Error in WHERE clause near: {where[position:]!r}")
        name = _check_field(found.group("field"), "WHERE")
        if found.group("between"):
            values = (_unquote(found.group("low")), _unquote(found.group("high")))
            conditions.append(Condition(name, "BETWEEN", values))
        elif found.group("in"):
            items = tuple(_unquote(v) for v in found.group("list").split(",") if v.strip())
            if not items:
                raise GaqlError("PROHIBITED_EMPTY_LIST_IN_CONDITION", "Empty list in condition.")
            conditions.append(Condition(name, " ".join(found.group("in").upper().split()), items))
        else:
            conditions.append(Condition(name, found.group("op"), (_unquote(found.group("value")),)))
        position = found.end()
        if position < len(where):
            joined = _AND.match(where, position)
            if joined is None:
                raise GaqlError("EXPECTED_AND", f"Expected AND near: {where[position:]!r}")
            position = joined.end()
    order: list[tuple[str, bool]] = []
    for part in (match.group("order") or "").split(","):
        words = part.split()
        if not words:
            continue
        descending = len(words) > 1 and words[1].upper() == "DESC"
        order.append((_check_field(words[0], "ORDER BY"), descending))
    limit_text = match.group("limit")
    limit = None
    if limit_text is not None:
        if not limit_text.isdigit() or int(limit_text) < 1:
            raise GaqlError("BAD_LIMIT_VALUE", f"Invalid LIMIT value: {limit_text}.")
        limit = int(limit_text)
    return Query(fields, resource, tuple(conditions), tuple(order), limit)


def _typed(kind: str, literal: str) -> Any:
    if kind == _INT64:
        return int(literal)
    if kind == _DOUBLE:
        return float(literal)
    return literal


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _predicate(condition: Condition) -> Callable[[_Context], bool]:
    """The condition as a test of one row, its literals typed once per query (not per
    row: a request over a year of a large customer looks at every row of it)."""
    kind, getter = FIELDS[condition.field]
    wanted = [_typed(kind, v) for v in condition.values]
    op = condition.operator
    if op == "IN":
        return lambda ctx: getter(ctx) in wanted
    if op == "NOT IN":
        return lambda ctx: getter(ctx) not in wanted
    if op == "BETWEEN":
        low, high = wanted
        return lambda ctx: bool(low <= getter(ctx) <= high)
    compare, value = _COMPARISONS[op], wanted[0]
    return lambda ctx: bool(compare(getter(ctx), value))


def _date_range(conditions: Sequence[Condition]) -> tuple[date | None, date | None]:
    """The widest inclusive ``segments.date`` range the conditions allow (None: open), to
    look only at those days' rows; every condition is still applied to each row."""
    low: date | None = None
    high: date | None = None
    for condition in conditions:
        if condition.field != "segments.date" or condition.operator in ("!=", "NOT IN"):
            continue
        days = [date.fromisoformat(v) for v in condition.values]
        op = condition.operator
        first, last = (
            (min(days), max(days))
            if op in ("IN", "BETWEEN", "=")
            else (days[0], None)
            if op in (">", ">=")
            else (None, days[0])
        )
        if first is not None:
            low = first if low is None else max(low, first)
        if last is not None:
            high = last if high is None else min(high, last)
    return low, high


def _validate_literals(query: Query) -> None:
    for condition in query.conditions:
        kind = FIELDS[condition.field][0]
        for value in condition.values:
            try:
                _typed(kind, value)
            except ValueError:
                raise GaqlError(
                    "BAD_NUMBER", f"Invalid number for {condition.field}: {value!r}."
                ) from None
            if condition.field == "segments.date":
                try:
                    date.fromisoformat(value)
                except ValueError:
                    raise GaqlError(
                        "INVALID_DATE_FORMAT",
                        f"Invalid date for segments.date: {value!r} (expected YYYY-MM-DD).",
                    ) from None


_Plan = tuple[tuple[str, str, str, Callable[[_Context], Any]], ...]


@functools.lru_cache(maxsize=256)
def _render_plan(query: Query) -> _Plan:
    """``(object key, attribute key, type, getter)`` of every value a result holds, in
    the order :func:`render` writes them: worked out once per query, not per row."""
    plan: list[tuple[str, str, str, Callable[[_Context], Any]]] = []
    resources = {field.split(".")[0] for field in query.fields} | {RESOURCE}
    for resource in sorted(resources - {"segments", "metrics"}):
        plan.append(
            (
                _lower_camel(resource),
                "resourceName",
                _STRING,
                FIELDS[f"{resource}.resource_name"][1],
            )
        )
    for field in query.fields:
        resource, attribute = field.split(".")
        kind, getter = FIELDS[field]
        plan.append((_lower_camel(resource), _lower_camel(attribute), kind, getter))
    return tuple(plan)


def render(query: Query, ctx: _Context) -> dict[str, Any]:
    """One result as the REST API writes it: a nested object per resource, lowerCamelCase
    keys, ``resourceName`` on every resource that has fields in it (and on the FROM one)."""
    out: dict[str, Any] = {}
    for node_key, key, kind, getter in _render_plan(query):
        node = out.get(node_key)
        if node is None:
            node = out[node_key] = {}
        node[key] = _json_value(kind, getter(ctx))
    return out


def field_mask(query: Query) -> str:
    """The ``fieldMask`` of an answer: the selected fields in lowerCamelCase paths."""
    return ",".join(".".join(_lower_camel(p) for p in field.split(".")) for field in query.fields)


# --------------------------------------------------------------------------- errors


def request_id() -> str:
    """A request id like Google's (22 URL-safe characters)."""
    return secrets.token_urlsafe(16)[:22]


def google_error(
    status: int,
    rpc_status: str,
    message: str,
    errors: list[dict[str, Any]] | None = None,
    *,
    version: str = API_VERSIONS[-1],
) -> Response:
    """A google.rpc.Status body, with a GoogleAdsFailure detail when ``errors`` are given."""
    error: dict[str, Any] = {"code": status, "message": message, "status": rpc_status}
    if errors:
        error["details"] = [
            {
                "@type": f"type.googleapis.com/google.ads.googleads.{version}.errors."
                "GoogleAdsFailure",
                "errors": errors,
                "requestId": request_id(),
            }
        ]
    return Response(status, {"error": error})


def _failure(kind: str, code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"errorCode": {kind: code}, "message": message, **extra}


def unauthenticated() -> Response:
    """401 for a missing, expired or wrong OAuth access token."""
    return google_error(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, "
        "login cookie or other valid authentication credential. See "
        "https://developers.google.com/identity/sign-in/web/devconsole-project.",
        [_failure("authenticationError", "OAUTH_TOKEN_INVALID", "Oauth token is invalid.")],
    )


def developer_token_missing() -> Response:
    """400: no ``developer-token`` header."""
    return google_error(
        400,
        "INVALID_ARGUMENT",
        "Request contains an invalid argument.",
        [
            _failure(
                "requestError",
                "DEVELOPER_TOKEN_PARAMETER_MISSING",
                "developer-token parameter is missing.",
            )
        ],
    )


def developer_token_invalid() -> Response:
    """401: a developer token Google does not know."""
    return google_error(
        401,
        "UNAUTHENTICATED",
        "Request is missing required authentication credential.",
        [
            _failure(
                "authenticationError", "DEVELOPER_TOKEN_INVALID", "The developer token is invalid."
            )
        ],
    )


def developer_token_not_approved() -> Response:
    """403: a test-access developer token used on a production account."""
    return google_error(
        403,
        "PERMISSION_DENIED",
        "The caller does not have permission",
        [
            _failure(
                "authorizationError",
                "DEVELOPER_TOKEN_NOT_APPROVED",
                "The developer token is only approved for use with test accounts. To access "
                "non-test accounts, apply for Basic or Standard access.",
            )
        ],
    )


def user_permission_denied() -> Response:
    """403: the OAuth user cannot reach the customer (e.g. no manager login header)."""
    return google_error(
        403,
        "PERMISSION_DENIED",
        "The caller does not have permission",
        [
            _failure(
                "authorizationError",
                "USER_PERMISSION_DENIED",
                "User doesn't have permission to access customer. Note: If you're accessing "
                "a client customer, the manager's customer id must be set in the "
                "'login-customer-id' header. See "
                "https://developers.google.com/google-ads/api/docs/concepts/call-structure#cid",
            )
        ],
    )


def invalid_customer_id(value: str) -> Response:
    """400: a customer id that is not digits (``123-456-7890`` must lose its dashes)."""
    return google_error(
        400,
        "INVALID_ARGUMENT",
        "Request contains an invalid argument.",
        [
            _failure(
                "requestError",
                "INVALID_CUSTOMER_ID",
                f"Invalid customer ID '{value}'.",
            )
        ],
    )


def invalid_login_customer_id() -> Response:
    """400: a ``login-customer-id`` header that is not a customer id."""
    return google_error(
        400,
        "INVALID_ARGUMENT",
        "Request contains an invalid argument.",
        [
            _failure(
                "headerError",
                "INVALID_LOGIN_CUSTOMER_ID",
                "The login customer ID could not be validated.",
            )
        ],
    )


def customer_not_found() -> Response:
    """401: no customer with that id."""
    return google_error(
        401,
        "UNAUTHENTICATED",
        "Request is missing required authentication credential.",
        [
            _failure(
                "authenticationError",
                "CUSTOMER_NOT_FOUND",
                "No customer found for the provided customer id.",
            )
        ],
    )


def _duration(seconds: float) -> str:
    # protobuf Duration in JSON: whole seconds as "40591s", fractions as "0.250s".
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{seconds:.3f}s"


def quota_error(
    quota: str, message: str, *, retry_delay: float | None, rate_scope: str, rate_name: str
) -> Response:
    """429 ``RESOURCE_EXHAUSTED`` naming the quota and, when known, the wait."""
    details: dict[str, Any] = {"rateScope": rate_scope, "rateName": rate_name}
    if retry_delay is not None:
        details["retryDelay"] = _duration(retry_delay)
    return google_error(
        429,
        "RESOURCE_EXHAUSTED",
        "Resource has been exhausted (e.g. check quota).",
        [_failure("quotaError", quota, message, details={"quotaErrorDetails": details})],
    )


def daily_quota_exhausted(retry_delay: float) -> Response:
    """The Basic-access daily operation quota of a developer token is spent."""
    seconds = max(1, int(retry_delay + 0.999))
    return quota_error(
        "RESOURCE_EXHAUSTED",
        f"Too many requests. Retry in {seconds} seconds.",
        retry_delay=float(seconds),
        rate_scope="DEVELOPER",
        rate_name="Number of operations for basic access",
    )


def rate_exceeded(retry_delay: float | None) -> Response:
    """The short-term request rate of a customer is exceeded."""
    wait = f" Retry in {_duration(retry_delay)}." if retry_delay is not None else ""
    return quota_error(
        "RESOURCE_TEMPORARILY_EXHAUSTED",
        f"Too many requests.{wait}",
        retry_delay=retry_delay,
        rate_scope="CUSTOMER",
        rate_name="Number of requests per customer per second",
    )


def query_error(error: GaqlError) -> Response:
    """400 for a query (or request) the API rejects."""
    return google_error(
        400,
        "INVALID_ARGUMENT",
        "Request contains an invalid argument.",
        [_failure(error.kind, error.code, str(error))],
    )


def internal_error(status: int = 500) -> Response:
    """5xx: ``INTERNAL`` (500) or ``UNAVAILABLE`` (503, transient)."""
    if status == 503:
        return google_error(
            503,
            "UNAVAILABLE",
            "The service is currently unavailable.",
            [
                _failure(
                    "internalError", "TRANSIENT_ERROR", "The service is temporarily unavailable."
                )
            ],
        )
    return google_error(
        status,
        "INTERNAL",
        "Internal error encountered.",
        [
            _failure(
                "internalError",
                "INTERNAL_ERROR",
                "An internal error has occurred. Please retry your request.",
            )
        ],
    )


# --------------------------------------------------------------------------- quota


class DailyOperationBudget:
    """At most ``limit`` operations per key in any rolling 24 hours of the server clock."""

    WINDOW = timedelta(hours=24)

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._ops: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: datetime) -> float | None:
        """Record one operation; None if admitted, else seconds until one is free."""
        with self._lock:
            ops = self._ops.setdefault(key, deque())
            while ops and ops[0] <= now - self.WINDOW:
                ops.popleft()
            if len(ops) >= self.limit:
                return max(0.0, (ops[0] + self.WINDOW - now).total_seconds())
            ops.append(now)
            return None

    def used(self, key: str, now: datetime) -> int:
        """Operations of ``key`` in the current window."""
        with self._lock:
            return sum(1 for at in self._ops.get(key, ()) if at > now - self.WINDOW)

    def reset(self) -> None:
        """Forget all operations."""
        with self._lock:
            self._ops.clear()


# --------------------------------------------------------------------------- server


class GoogleAdsServer(StandinServer):
    """The Google Ads API stand-in serving one `GoogleAdsPart`.

    Args:
        part: the part to serve; call `reindex` after changing its rows while serving.
        token: the one OAuth access token accepted (``Authorization: Bearer``).
        developer_tokens: developer token -> access level (``TEST``, ``BASIC``,
            ``STANDARD``); default one ``BASIC`` token, `DEFAULT_DEVELOPER_TOKEN`.
        require_login_customer_id: the OAuth user reaches the client customers only
            through the part's manager account, as ``login-customer-id``.
        clock: fixed server clock (aware instant); None = wall clock.
        host, port: where to listen (port 0 = ephemeral).
        rate_limits: enforce the daily budget and the short-term rate.
        operations_per_day: the Basic-access budget per developer token (Standard access
            has none).
        requests_per_window, window_seconds: the short-term rate per customer.
        batch_size: rows per searchStream batch; page_size: rows per search page (both
            10,000 at Google; smaller in tests to see several).
    """

    platform = "google_ads"
    source = "google_ads"
    limit_prefix = "google_ads_"

    def __init__(
        self,
        part: GoogleAdsPart,
        *,
        token: str,
        developer_tokens: Mapping[str, str] | None = None,
        require_login_customer_id: bool = True,
        clock: datetime | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limits: bool = True,
        operations_per_day: int = BASIC_ACCESS_OPERATIONS_PER_DAY,
        requests_per_window: int = 20,
        window_seconds: float = 1.0,
        batch_size: int = MAX_BATCH_SIZE,
        page_size: int = MAX_BATCH_SIZE,
    ) -> None:
        super().__init__(token=token, clock=clock, host=host, port=port, rate_limits=rate_limits)
        self.part = part
        self.developer_tokens = dict(developer_tokens or {DEFAULT_DEVELOPER_TOKEN: "BASIC"})
        unknown = set(self.developer_tokens.values()) - set(ACCESS_LEVELS)
        if unknown:
            raise ValueError(f"unknown access levels {sorted(unknown)}; known: {ACCESS_LEVELS}")
        self.require_login_customer_id = require_login_customer_id
        self.budget = DailyOperationBudget(operations_per_day)
        self.limiter = RollingLimiter(requests_per_window, window_seconds)
        self.batch_size = max(1, min(batch_size, MAX_BATCH_SIZE))
        self.page_size = max(1, min(page_size, MAX_BATCH_SIZE))
        self.reindex()

    @classmethod
    def from_world(cls, world: Any, **kwargs: Any) -> GoogleAdsServer:
        """The stand-in serving ``world.parts["google_ads"]``."""
        return cls(world.parts["google_ads"], **kwargs)

    @property
    def developer_token(self) -> str:
        """The first approved (Basic or Standard) developer token: what a client is given."""
        return next(
            (t for t, level in self.developer_tokens.items() if level != "TEST"),
            next(iter(self.developer_tokens)),
        )

    def connection_extra(self) -> dict[str, Any]:
        """Customer ids, the developer token and the manager as ``login_customer_id``."""
        extra: dict[str, Any] = {
            "customer_ids": [c.customer_id for c in self.part.customers],
            "developer_token": self.developer_token,
        }
        if self.require_login_customer_id:
            extra["login_customer_id"] = self.part.manager_customer_id
        return extra

    def reindex(self) -> None:
        """Rebuild the customer index from the part (after adding or removing rows)."""
        self._customers = {c.customer_id: c for c in self.part.customers}
        self._campaigns = self.part.campaigns_by_id()
        by_day = self.part.rows_by_customer_day()
        self._rows: dict[str, list[GeoReportRow]] = {
            customer: [row for day in sorted(days) for row in days[day]]
            for customer, days in by_day.items()
        }
        self._row_days: dict[str, list[date]] = {
            customer: [row.date for row in rows] for customer, rows in self._rows.items()
        }

    def reset_stats(self) -> None:
        """Forget counted requests and the quota used."""
        super().reset_stats()
        self.budget.reset()
        self.limiter.reset()

    # ----------------------------------------------------------------- hooks

    def error_response(self, status: int) -> Response:
        """Canned errors: 429 short-term throttle (no wait given), 401/403 auth, 400 query,
        404 not found, 5xx internal."""
        if status == 429:
            return rate_exceeded(None)
        if status == 401:
            return unauthenticated()
        if status == 403:
            return developer_token_not_approved()
        if status == 400:
            return query_error(GaqlError("UNEXPECTED_INPUT", "Error in query."))
        if status == 404:
            return google_error(404, "NOT_FOUND", "Method not found.")
        return internal_error(status if status >= 500 else 500)

    def check_auth(self, request: Request) -> Response | None:
        """OAuth token first (401), then the developer token (400 missing, 401 unknown,
        403 test access only)."""
        if self.bearer_token(request) != self.token:
            return unauthenticated()
        developer_token = request.header("developer-token")
        if not developer_token:
            return developer_token_missing()
        level = self.developer_tokens.get(developer_token)
        if level is None:
            return developer_token_invalid()
        if level == "TEST":
            return developer_token_not_approved()
        return None

    def check_rate_limit(self, request: Request) -> Response | None:
        """Short-term rate per customer, then the daily budget of a Basic-access token."""
        match = _PATH.match(request.path)
        if match is None:
            return None
        developer_token = request.header("developer-token") or ""
        if not self.limiter.hit(f"{developer_token}:{match.group(2)}"):
            return rate_exceeded(
                self.limiter.retry_after(f"{developer_token}:{match.group(2)}") or None
            )
        if self.developer_tokens.get(developer_token) == "BASIC":
            wait = self.budget.take(developer_token, self.now())
            if wait is not None:
                return daily_quota_exhausted(wait)
        return None

    def operations_used(self, developer_token: str | None = None) -> int:
        """Operations of a developer token in the current 24 hours."""
        return self.budget.used(developer_token or self.developer_token, self.now())

    # ----------------------------------------------------------------- routing

    def route(self, request: Request) -> Response:
        """Dispatch ``/{version}/customers/{id}/googleAds:searchStream|search``."""
        match = _PATH.match(request.path)
        if match is None or match.group(1) not in API_VERSIONS:
            return google_error(404, "NOT_FOUND", f"Method not found: {request.path}")
        _version, customer_id, method = match.groups()
        if request.method != "POST":
            return google_error(404, "NOT_FOUND", f"Method not found: {request.method}")
        if not customer_id.isdigit():
            return invalid_customer_id(customer_id)
        login = request.header("login-customer-id")
        if login is not None and not login.isdigit():
            return invalid_login_customer_id()
        manager = self.part.manager_customer_id
        if customer_id != manager and customer_id not in self._customers:
            return customer_not_found()
        if self.require_login_customer_id and login != manager:
            return user_permission_denied()
        try:
            body = request.json() or {}
        except ValueError:
            return google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        if not isinstance(body, dict) or not str(body.get("query") or "").strip():
            return query_error(
                GaqlError(
                    "REQUIRED_FIELD_MISSING", "Required field is missing: query.", "requestError"
                )
            )
        try:
            query = parse_gaql(str(body["query"]))
            _validate_literals(query)
        except GaqlError as error:
            return query_error(error)
        if customer_id == manager:
            if any(f.startswith("metrics.") for f in query.fields):
                return query_error(
                    GaqlError(
                        "REQUESTED_METRICS_FOR_MANAGER",
                        "Metrics cannot be requested for a manager account. To retrieve "
                        "metrics, issue separate requests against each client account under "
                        "the manager account.",
                    )
                )
            results: list[dict[str, Any]] = []
        else:
            results = self._results(self._customers[customer_id], query)
        if method == "searchStream":
            return self._stream(query, results)
        return self._search(query, results, body)

    def _results(self, customer: GoogleAdsCustomer, query: Query) -> list[dict[str, Any]]:
        today = self.now().astimezone(customer.tz).date()
        # Rows are in day order: only the days the query can match are looked at.
        rows = self._rows.get(customer.customer_id, [])
        days = self._row_days.get(customer.customer_id, [])
        low, high = _date_range(query.conditions)
        first = bisect.bisect_left(days, low) if low is not None else 0
        last = bisect.bisect_right(days, today if high is None else min(high, today))
        predicates = [_predicate(condition) for condition in query.conditions]
        campaigns = self._campaigns
        contexts = [(customer, campaigns[row.campaign_id], row) for row in rows[first:last]]
        selected = [c for c in contexts if all(test(c) for test in predicates)]
        order = query.order_by or tuple((f, False) for f in _DEFAULT_ORDER)
        for name, descending in reversed(order):
            selected.sort(key=lambda c, n=name: FIELDS[n][1](c), reverse=descending)
        if query.limit is not None:
            selected = selected[: query.limit]
        return [render(query, ctx) for ctx in selected]

    def _stream(self, query: Query, results: list[dict[str, Any]]) -> Response:
        stream_id = request_id()
        mask = field_mask(query)
        batches: list[dict[str, Any]] = [
            {"results": results[n : n + self.batch_size], "fieldMask": mask, "requestId": stream_id}
            for n in range(0, len(results), self.batch_size)
        ]
        # An empty stream is one batch without results (proto3 JSON drops empty lists).
        return Response(200, batches or [{"fieldMask": mask, "requestId": stream_id}])

    def _search(
        self, query: Query, results: list[dict[str, Any]], body: dict[str, Any]
    ) -> Response:
        if body.get("pageSize") is not None:
            return query_error(
                GaqlError(
                    "PAGE_SIZE_NOT_SUPPORTED",
                    "Setting the page size is not supported. Search responses will have fixed "
                    "page size of 10000 rows.",
                    "requestError",
                )
            )
        offset = 0
        if body.get("pageToken"):
            try:
                offset = _decode_page_token(str(body["pageToken"]), query)
            except ValueError:
                return query_error(
                    GaqlError("INVALID_PAGE_TOKEN", "Page token is invalid.", "requestError")
                )
        page: dict[str, Any] = {"fieldMask": field_mask(query)}
        rows = results[offset : offset + self.page_size]
        if rows:
            page["results"] = rows
        if offset + self.page_size < len(results):
            page["nextPageToken"] = _encode_page_token(offset + self.page_size, query)
        if body.get("returnTotalResultsCount"):
            page["totalResultsCount"] = str(len(results))
        return Response(200, page)


def _query_key(query: Query) -> str:
    return format(hash(query) & 0xFFFFFFFF, "08x")


def _encode_page_token(offset: int, query: Query) -> str:
    raw = f"r2r:{_query_key(query)}:{offset}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_page_token(token: str, query: Query) -> int:
    """The offset of a token made by `_encode_page_token` for the same query."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(token) from exc
    prefix, key, offset = [*raw.split(":"), "", "", ""][:3]
    if prefix != "r2r" or key != _query_key(query) or not offset.isdigit():
        raise ValueError(token)
    return int(offset)
