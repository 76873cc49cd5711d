"""Stand-in for the Meta Marketing API (Graph ``v21.0``): ad account and insights reads.

Serves a `World` as the real API would: ``GET /v21.0/act_{id}/insights`` with
``level=campaign``, ``time_increment=1``, ``breakdowns=country``, cursor paging, numbers as
strings and ``actions`` as ``[{action_type, value}]``; ``GET /v21.0/act_{id}`` for the
account's currency and time zone. Errors use Graph's ``{"error": {...}}`` bodies with
HTTP 400 as Meta does. Days are account-local, and only days up to the server clock's
account-local date are served.

Rate limits work like Graph's Business-Use-Case budget (`CallBudget`): each ad account may
make ``calls_per_window`` calls in any rolling ``window_seconds``. Every response reports
the usage (``x-business-use-case-usage``, ``x-app-usage``, ``x-ad-account-usage``,
``x-fb-ads-insights-throttle``); once the budget is spent the account is blocked until
its window has emptied, and every call meanwhile answers the throttle error (code 80000
for insights, 17 for other reads, both subcode 2446079) with
``estimated_time_to_regain_access`` in the usage header. Meta states that time in whole
minutes; the stand-in does too, except for windows shorter than a minute (tests), where
it sends the fraction of a minute (0.05 = 3 s) so that honouring it stays exact.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from reach2revenue.sandbox.standins._http import Request, Response, StandinServer
from reach2revenue.sandbox.world import AdAccount, MetaInsight, World

API_VERSION = "v21.0"
DEFAULT_LIMIT = 25
MAX_LIMIT = 500
INSIGHT_FIELDS = frozenset(
    {
        "account_id",
        "account_name",
        "account_currency",
        "campaign_id",
        "campaign_name",
        "impressions",
        "reach",
        "clicks",
        "spend",
        "actions",
        "cpc",
        "cpm",
        "ctr",
        "frequency",
        "date_start",
        "date_stop",
    }
)
DEFAULT_INSIGHT_FIELDS = ("impressions", "spend")
ACCOUNT_FIELDS = frozenset(
    {"id", "account_id", "name", "currency", "timezone_name", "timezone_offset_hours_utc"}
)
SUPPORTED_BREAKDOWNS = frozenset({"country"})

_PATH = re.compile(r"^/(v\d+\.\d+)/act_([^/]+?)(/insights)?/?$")
_REPORT_PATH = re.compile(r"^/(v\d+\.\d+)/(\d+)(/insights)?/?$")
# Polls of an async report that answer "Job Running" before it completes.
REPORT_POLLS_BEFORE_DONE = 1


def _error(
    status: int,
    message: str,
    code: int,
    *,
    error_type: str = "OAuthException",
    subcode: int | None = None,
    transient: bool | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    error: dict[str, Any] = {"message": message, "type": error_type, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient is not None:
        error["is_transient"] = transient
    error.update(extra or {})
    error["fbtrace_id"] = "A" + secrets.token_urlsafe(16)
    return Response(status, {"error": error}, headers or {})


def throttle_error(headers: dict[str, str] | None = None) -> Response:
    """Meta's per-user throttle: HTTP 400, code 17, subcode 2446079, transient."""
    return _error(
        400,
        "(#17) User request limit reached",
        17,
        subcode=2446079,
        transient=True,
        headers=headers,
        extra={
            "error_user_title": "Ad Account Has Too Many API Calls",
            "error_user_msg": "There have been too many calls from this ad-account. "
            "Please wait a bit and try again.",
        },
    )


def insights_throttle_error(headers: dict[str, str] | None = None) -> Response:
    """The ads_insights Business-Use-Case throttle: HTTP 400, code 80000, transient."""
    return _error(
        400,
        "(#80000) There have been too many calls from this ad-account. Wait a bit and try "
        "again. For more info, please refer to "
        "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
        80000,
        subcode=2446079,
        transient=True,
        headers=headers,
    )


class CallBudget:
    """Graph's rolling call budget: ``limit`` calls per ``window`` seconds per key (an ad
    account); when spent, the key is blocked until its window has emptied.

    Blocked calls are refused without being counted, as Meta does. Thread-safe.
    """

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a call budget needs limit >= 1 and window > 0")
        self.limit = int(limit)
        self.window = float(window)
        self._clock = clock
        self._calls: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}
        self._lock = threading.Lock()
        #: How often a key was blocked (a fresh throttle, not each refused call).
        self.throttles = 0
        self.refused = 0

    def _live(self, key: str, now: float) -> deque[float]:
        calls = self._calls.setdefault(key, deque())
        while calls and calls[0] <= now - self.window:
            calls.popleft()
        return calls

    def admit(self, key: str) -> float | None:
        """Count one call for ``key``; None if admitted, else seconds until access returns."""
        now = self._clock()
        with self._lock:
            blocked = self._blocked_until.get(key, 0.0)
            if now < blocked:
                self.refused += 1
                return blocked - now
            calls = self._live(key, now)
            if len(calls) >= self.limit:
                # Spent: blocked until every counted call has left the window.
                self._blocked_until[key] = calls[-1] + self.window
                self.throttles += 1
                self.refused += 1
                return self._blocked_until[key] - now
            calls.append(now)
            return None

    def usage(self, key: str) -> tuple[int, float, float]:
        """``(percent used, seconds until the usage is back to 0, seconds blocked)``."""
        now = self._clock()
        with self._lock:
            calls = self._live(key, now)
            blocked = max(0.0, self._blocked_until.get(key, 0.0) - now)
            percent = 100 if blocked else min(100, math.ceil(100 * len(calls) / self.limit))
            reset = max(blocked, (calls[-1] + self.window - now) if calls else 0.0)
            return percent, reset, blocked

    def reset(self) -> None:
        """Forget all calls and blocks."""
        with self._lock:
            self._calls.clear()
            self._blocked_until.clear()


def regain_minutes(seconds: float) -> float:
    """``estimated_time_to_regain_access`` for a block of ``seconds``: whole minutes as
    Meta sends them, or hundredths of a minute for blocks under a minute (test windows)."""
    if seconds <= 0:
        return 0
    if seconds >= 60:
        return math.ceil(seconds / 60)
    return math.ceil(seconds / 60 * 100) / 100


def token_error(
    message: str = "Invalid OAuth access token - Cannot parse access token",
) -> Response:
    """Graph's invalid-token error: HTTP 400, code 190, with the OAuth challenge header."""
    return _error(
        400,
        message,
        190,
        headers={"WWW-Authenticate": f'OAuth "Facebook Platform" "invalid_token" "{message}"'},
    )


def unknown_error(status: int = 500) -> Response:
    """Graph's transient server-side error (code 1)."""
    return _error(status, "An unknown error occurred", 1, subcode=99, transient=True)


def invalid_parameter(message: str, subcode: int | None = None) -> Response:
    """Graph's ``(#100)`` invalid-parameter error."""
    return _error(400, message, 100, subcode=subcode)


def encode_cursor(index: int) -> str:
    """An opaque Graph-style cursor for a row position."""
    return base64.urlsafe_b64encode(f"r2r:{index}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The row position of a cursor from `encode_cursor`.

    Raises:
        ValueError: when the cursor was not made by this server.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(cursor) from exc
    prefix, _, index = raw.partition(":")
    if prefix != "r2r" or not index.isdigit():
        raise ValueError(cursor)
    return int(index)


def _ratio(numerator: Decimal, denominator: Decimal, factor: int = 1) -> str | None:
    if denominator == 0:
        return None
    return f"{numerator * factor / denominator:.6f}"


class MetaAdsServer(StandinServer):
    """The Meta Marketing API stand-in serving one `World`.

    Args:
        world: the world to serve; call `reindex` after mutating it while serving.
        token: the one access token accepted (Bearer header or ``access_token`` param).
        clock: fixed server clock (aware instant); None = wall clock.
        host, port: where to listen (port 0 = ephemeral).
        rate_limits: enforce the call budget.
        calls_per_window, window_seconds: the budget of each ad account, in calls per
            rolling window (Graph's ads_insights budget is hourly; tests use seconds).
    """

    platform = "meta"
    source = "meta_ads"
    limit_prefix = "meta_"

    def __init__(
        self,
        world: World,
        *,
        token: str,
        clock: datetime | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limits: bool = True,
        calls_per_window: int = 600,
        window_seconds: float = 60.0,
    ) -> None:
        super().__init__(token=token, clock=clock, host=host, port=port, rate_limits=rate_limits)
        self.world = world
        self.budget = CallBudget(calls_per_window, window_seconds)
        # Async report runs by id: their validated query, account and status polls.
        self._reports: dict[str, dict[str, Any]] = {}
        self._report_seq = 0
        self.reindex()

    def connection_extra(self) -> dict[str, Any]:
        """The ad accounts of the world, as the connection's ``account_ids``."""
        return {"account_ids": [account.account_id for account in self.world.ad_accounts]}

    def reindex(self) -> None:
        """Rebuild the account/day index from the world (after adding or removing rows)."""
        self._accounts: dict[str, AdAccount] = {a.account_id: a for a in self.world.ad_accounts}
        # The index holds the world's own row dicts: an edited value is served as edited;
        # added or removed rows need a reindex.
        self._rows: dict[str, dict[str, list[MetaInsight]]] = self.world.insights_by_account_day()

    # ----------------------------------------------------------------- hooks

    def error_response(self, status: int) -> Response:
        """Canned Graph errors: 400/429 throttle, 401/403 bad token, 5xx unknown error."""
        if status in (400, 429):
            return throttle_error()
        if status in (401, 403):
            return token_error()
        if status == 404:
            return invalid_parameter("(#100) Unsupported get request.", subcode=33)
        return unknown_error(status if status >= 500 else 500)

    def _token(self, request: Request) -> str | None:
        return self.bearer_token(request) or request.param("access_token")

    def check_auth(self, request: Request) -> Response | None:
        """Accept the configured token from the Bearer header or ``access_token``."""
        token = self._token(request)
        if token is None:
            return token_error("An access token is required to request this resource.")
        if token != self.token:
            return token_error()
        return None

    def _budget_key(self, request: Request) -> tuple[str, bool]:
        """The ad account a call counts against (``app`` when none), and whether it is an
        insights call (the ads_insights use case)."""
        report = _REPORT_PATH.match(request.path)
        if report is not None:
            job = self._reports.get(report.group(2))
            return (job["account"].account_id if job else "app"), True
        match = _PATH.match(request.path)
        if match is not None:
            return match.group(2), bool(match.group(3))
        return "app", False

    def check_rate_limit(self, request: Request) -> Response | None:
        """Count the call against its account's budget; when spent, Graph's throttle."""
        key, insights = self._budget_key(request)
        if self.budget.admit(key) is None:
            return None
        headers = self._usage_headers(request)
        return insights_throttle_error(headers) if insights else throttle_error(headers)

    def _usage_headers(self, request: Request) -> dict[str, str]:
        # Graph reports the usage of each budget, in percent, on every response.
        key, insights = self._budget_key(request)
        percent, reset, blocked = self.budget.usage(key)
        use_case = {
            "type": "ads_insights" if insights else "ads_management",
            "call_count": percent,
            "total_cputime": max(1, percent // 2) if percent else 0,
            "total_time": max(1, percent // 2) if percent else 0,
            "estimated_time_to_regain_access": regain_minutes(blocked),
        }
        return {
            "x-business-use-case-usage": json.dumps({key: [use_case]}),
            "x-app-usage": json.dumps({"call_count": percent, "total_cputime": 0, "total_time": 0}),
            "x-ad-account-usage": json.dumps(
                {
                    "acc_id_util_pct": percent,
                    "reset_time_duration": math.ceil(reset),
                    "ads_api_access_tier": "standard_access",
                }
            ),
            "x-fb-ads-insights-throttle": json.dumps(
                {"app_id_util_pct": percent, "acc_id_util_pct": percent}
            ),
        }

    # ----------------------------------------------------------------- routing

    def route(self, request: Request) -> Response:
        """Dispatch ``/vNN.0/act_{id}``, ``/vNN.0/act_{id}/insights`` (GET; POST starts an
        async report) and ``/vNN.0/{report_run_id}[/insights]``; every answer reports the
        call budget's usage."""
        response = self._route(request)
        response.headers.update(self._usage_headers(request))
        return response

    def _route(self, request: Request) -> Response:
        report = _REPORT_PATH.match(request.path)
        if report is not None and report.group(1) == API_VERSION:
            return self._report(request, report.group(2), bool(report.group(3)))
        match = _PATH.match(request.path)
        if match is None:
            return _error(
                400, f"Unknown path components: {request.path}", 2500, error_type="OAuthException"
            )
        version, account_id, insights = match.groups()
        if version != API_VERSION:
            return _error(
                400,
                f"(#2635) You are calling a deprecated version of the Ads API. "
                f"Please update to the latest version: {API_VERSION}.",
                2635,
            )
        if request.method not in ("GET", "POST") or (request.method == "POST" and not insights):
            return invalid_parameter(f"(#100) Unsupported {request.method.lower()} request.")
        account = self._accounts.get(account_id)
        if account is None:
            return _error(
                400,
                f"Unsupported get request. Object with ID 'act_{account_id}' does not exist, "
                "cannot be loaded due to missing permissions, or does not support this "
                "operation. Please read the Graph API documentation at "
                "https://developers.facebook.com/docs/graph-api",
                100,
                error_type="GraphMethodException",
                subcode=33,
            )
        if insights and request.method == "POST":
            return self._start_report(request, account)
        if insights:
            return self._insights(request, account)
        return self._account(request, account)

    # ----------------------------------------------------------------- async reports

    def _start_report(self, request: Request, account: AdAccount) -> Response:
        """``POST act_{id}/insights``: validate the query now, answer a report run id."""
        query, problem = self._insights_query(request, account)
        if problem is not None:
            return problem
        with self._lock:
            self._report_seq += 1
            report_id = str(6_000_000_000_000 + self._report_seq)
            self._reports[report_id] = {"account": account, "query": query, "polls": 0}
        return Response(200, {"report_run_id": report_id})

    def _report(self, request: Request, report_id: str, insights: bool) -> Response:
        """``GET {report_run_id}`` (status) and ``GET {report_run_id}/insights`` (rows)."""
        job = self._reports.get(report_id)
        if job is None or request.method != "GET":
            return invalid_parameter(
                f"(#100) Unsupported get request. Object with ID '{report_id}' does not exist",
                subcode=33,
            )
        since, until = job["query"]["since"], job["query"]["until"]
        if not insights:
            with self._lock:
                job["polls"] += 1
                done = job["polls"] > REPORT_POLLS_BEFORE_DONE
            body = {
                "id": report_id,
                "account_id": job["account"].account_id,
                "async_status": "Job Completed" if done else "Job Running",
                "async_percent_completion": 100 if done else 50,
                "date_start": since.isoformat(),
                "date_stop": until.isoformat(),
            }
            return Response(200, body)
        if job["polls"] <= REPORT_POLLS_BEFORE_DONE:
            return invalid_parameter("(#100) The report is not ready: poll async_status first")
        return self._insights_page(request, job["account"], job["query"])

    def _account(self, request: Request, account: AdAccount) -> Response:
        fields = _split(request.param("fields")) or ["id"]
        unknown = [f for f in fields if f not in ACCOUNT_FIELDS]
        if unknown:
            return invalid_parameter(
                f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type (AdAccount)"
            )
        now_local = self.now().astimezone(account.tz)
        offset = now_local.utcoffset() or timedelta(0)
        values: dict[str, Any] = {
            "account_id": account.account_id,
            "name": account.name,
            "currency": account.currency,
            "timezone_name": account.timezone,
            "timezone_offset_hours_utc": offset.total_seconds() / 3600,
        }
        body: dict[str, Any] = {f: values[f] for f in fields if f != "id"}
        body["id"] = f"act_{account.account_id}"
        return Response(200, body)

    # ----------------------------------------------------------------- insights

    def _insights(self, request: Request, account: AdAccount) -> Response:
        query, problem = self._insights_query(request, account)
        if problem is not None:
            return problem
        return self._insights_page(request, account, query)

    def _insights_query(
        self, request: Request, account: AdAccount
    ) -> tuple[dict[str, Any], Response | None]:
        """The validated insights parameters, or Graph's error for the first bad one."""
        level = request.param("level", "campaign")
        if level != "campaign":
            return {}, invalid_parameter(
                f"(#100) level={level} is not served by this stand-in; use level=campaign"
            )
        increment = request.param("time_increment", "all_days")
        if increment != "1":
            return {}, invalid_parameter(
                f"(#100) time_increment={increment} is not served by this stand-in; "
                "use time_increment=1"
            )
        breakdowns = _split(request.param("breakdowns"))
        bad = [b for b in breakdowns if b not in SUPPORTED_BREAKDOWNS]
        if bad:
            return {}, invalid_parameter(
                f"(#100) breakdowns[0] must be one of the following values: "
                f"{', '.join(sorted(SUPPORTED_BREAKDOWNS))}"
            )
        fields = _split(request.param("fields")) or list(DEFAULT_INSIGHT_FIELDS)
        unknown = [f for f in fields if f not in INSIGHT_FIELDS]
        if unknown:
            return {}, invalid_parameter(
                f"(#100) {unknown[0]} is not valid for fields param. please check "
                "https://developers.facebook.com/docs/marketing-api/reference/ads-insights/ "
                "for all valid values"
            )
        today = self.now().astimezone(account.tz).date()
        since, until, problem = _time_range(request.param("time_range"), today)
        if problem is not None:
            return {}, invalid_parameter(problem)
        assert since is not None and until is not None
        query = {
            "since": since,
            "until": min(until, today),
            "fields": fields,
            "breakdowns": breakdowns,
        }
        return query, None

    def _insights_page(
        self, request: Request, account: AdAccount, query: dict[str, Any]
    ) -> Response:
        """One page of the rows of ``query``, with Graph's cursor paging."""
        fields, breakdowns = query["fields"], query["breakdowns"]
        try:
            limit = int(request.param("limit") or DEFAULT_LIMIT)
        except ValueError:
            return invalid_parameter("(#100) Param limit must be an integer")
        limit = min(MAX_LIMIT, limit if limit > 0 else DEFAULT_LIMIT)
        after = request.param("after")
        try:
            offset = decode_cursor(after) + 1 if after else 0
        except ValueError:
            return invalid_parameter("(#100) Invalid cursor")

        rows = self._select(account, query["since"], query["until"], "country" in breakdowns)
        page = rows[offset : offset + limit]
        data = [self._render(account, row, fields, breakdowns) for row in page]
        if not page:
            return Response(200, {"data": []})
        paging: dict[str, Any] = {
            "cursors": {
                "before": encode_cursor(offset),
                "after": encode_cursor(offset + len(page) - 1),
            }
        }
        if offset + len(page) < len(rows):
            query = [(k, v) for k, v in request.query_pairs if k != "after"]
            query.append(("after", paging["cursors"]["after"]))
            paging["next"] = f"{self.base_url(request)}{request.path}?{urlencode(query)}"
        if offset > 0:
            query = [(k, v) for k, v in request.query_pairs if k not in ("after", "before")]
            query.append(("before", paging["cursors"]["before"]))
            paging["previous"] = f"{self.base_url(request)}{request.path}?{urlencode(query)}"
        return Response(200, {"data": data, "paging": paging})

    def _select(
        self, account: AdAccount, since: date, until: date, by_country: bool
    ) -> list[MetaInsight]:
        days = self._rows.get(account.account_id, {})
        rows: list[MetaInsight] = []
        day = since
        while day <= until:
            day_rows = days.get(day.isoformat(), [])
            if by_country:
                rows.extend(day_rows)
            else:
                # Without the breakdown Meta sums the countries; reach is only approximately
                # additive, which is why the pipeline asks for the country breakdown.
                merged: dict[str, list[MetaInsight]] = defaultdict(list)
                for row in day_rows:
                    merged[str(row["campaign_id"])].append(row)
                rows.extend(_merge(merged[key]) for key in sorted(merged))
            day += timedelta(days=1)
        return rows

    def _render(
        self, account: AdAccount, row: MetaInsight, fields: list[str], breakdowns: list[str]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        derived = _derived(row) if any(f in _DERIVED for f in fields) else {}
        for name in fields:
            if name in ("date_start", "date_stop"):
                continue
            if name == "account_name":
                out[name] = account.name
            elif name in _DERIVED:
                if name in derived:
                    out[name] = derived[name]
            elif name == "actions":
                if row.get("actions"):
                    out[name] = [
                        {"action_type": str(a["action_type"]), "value": str(a["value"])}
                        for a in row["actions"]
                    ]
            elif row.get(name) is not None:
                out[name] = str(row[name])
        out["date_start"] = str(row["date_start"])
        out["date_stop"] = str(row.get("date_stop", row["date_start"]))
        if "country" in breakdowns:
            out["country"] = row.get("country")
        return out


_DERIVED = ("cpc", "cpm", "ctr", "frequency")


def _merge(rows: list[MetaInsight]) -> MetaInsight:
    merged: MetaInsight = {k: v for k, v in rows[0].items() if k not in ("country", "actions")}
    for name in ("impressions", "reach", "clicks"):
        merged[name] = str(sum(int(str(r[name])) for r in rows))
    merged["spend"] = f"{sum((Decimal(str(r['spend'])) for r in rows), Decimal(0)):.2f}"
    actions: dict[str, int] = {}
    for row in rows:
        for action in row.get("actions") or []:
            kind = str(action["action_type"])
            actions[kind] = actions.get(kind, 0) + int(str(action["value"]))
    if actions:
        merged["actions"] = [{"action_type": k, "value": str(v)} for k, v in actions.items()]
    return merged


def _derived(row: MetaInsight) -> dict[str, str]:
    try:
        spend = Decimal(str(row["spend"]))
        impressions = Decimal(str(row["impressions"]))
        clicks = Decimal(str(row["clicks"]))
        reach = Decimal(str(row["reach"]))
    except (InvalidOperation, KeyError):
        return {}
    derived = {
        "cpc": _ratio(spend, clicks),
        "cpm": _ratio(spend, impressions, 1000),
        "ctr": _ratio(clicks, impressions, 100),
        "frequency": _ratio(impressions, reach),
    }
    return {k: v for k, v in derived.items() if v is not None}


def _split(value: str | None) -> list[str]:
    if not value:
        return []
    text = value.strip()
    if text.startswith("["):
        # Graph also takes JSON arrays for list parameters.
        try:
            return [str(v).strip() for v in json.loads(text) if str(v).strip()]
        except ValueError:
            return []
    return [part.strip() for part in text.split(",") if part.strip()]


def _time_range(raw: str | None, today: date) -> tuple[date | None, date | None, str | None]:
    if raw is None:
        # Graph's default date_preset is last_30d: the 30 days before today.
        return today - timedelta(days=30), today - timedelta(days=1), None
    try:
        parsed = json.loads(raw)
        since = date.fromisoformat(parsed["since"])
        until = date.fromisoformat(parsed["until"])
    except (ValueError, KeyError, TypeError):
        return None, None, '(#100) Param time_range must be a JSON object {"since","until"}'
    if since > until:
        return None, None, "(#100) Param time_range: since must be on or before until"
    return since, until, None
