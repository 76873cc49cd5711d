"""Stand-in for the LinkedIn Marketing API (versioned ``/rest``, Rest.li 2.0).

Serves the world's `LinkedInAdsPart` as the real API would:

- ``GET /rest/adAnalytics`` with the statistics finder (``q=statistics``,
  ``pivots=List(...)``, up to three of ACCOUNT, CAMPAIGN, MEMBER_COUNTRY_V2) or the
  analytics finder (``q=analytics``, one ``pivot``); ``timeGranularity`` DAILY or ALL;
  ``dateRange=(start:(year:..,month:..,day:..),end:(...))``; facets ``accounts`` and
  ``campaigns`` as ``List(<urn>)``; ``fields`` projection. ``{"paging": {...},
  "elements": [...]}`` with integer counts and ``costInLocalCurrency`` as a decimal string.
  No paging, and answers are cut off silently at ``element_cap`` elements (15,000, as
  LinkedIn does; lower it to test a client's slicing). Empty ``elements`` when there is
  no activity. ``approximateMemberReach`` is refused with a demographic pivot.
- ``GET /rest/adAccounts/{id}`` (``currency`` and the rest of the account);
- ``GET /rest/adAccounts/{id}/adCampaigns?q=search&search=(status:(values:List(...)))``,
  cursor-paged by ``pageSize`` (at most 1000) and ``pageToken``, the next token in
  ``metadata.nextPageToken``; without a status criterion REMOVED campaigns are left out
  (unconfirmed, which is why clients ask for every status);
  ``GET /rest/adAccounts/{id}/adCampaigns/{id}``.

Query values are parsed from the raw query string as Rest.li 2.0 does: structure first,
then each string value percent-decoded. An unencoded URN inside a list (``List(urn:li:
...)``) or a list whose parentheses were percent-encoded is malformed and answered with
LinkedIn's 400 ``BadRequest`` body. Requests need ``LinkedIn-Version`` (400
VERSION_MISSING without, 426 NONEXISTENT_VERSION for a malformed or sunset one; versions
before ``min_version`` count as sunset) and, for finders, ``X-Restli-Protocol-Version:
2.0.0``. Days are UTC days, served up to the server clock's UTC date.

Error bodies: ``{"status", "code", "message"}``; 401 EMPTY/INVALID/EXPIRED_ACCESS_TOKEN
fail a client at once, 429 TOO_MANY_REQUESTS (per token and endpoint in a rolling window;
LinkedIn's real limits are daily and unpublished, and its 429 body is unconfirmed) is to be
retried.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from reach2revenue.sandbox.standins._http import (
    Request,
    Response,
    RollingLimiter,
    StandinServer,
    _Handler,
)
from reach2revenue.sandbox.world.linkedin_ads import (
    AnalyticsRow,
    LinkedInAdsPart,
    LinkedInCampaign,
    SponsoredAccount,
)

ELEMENT_CAP = 15_000
MIN_VERSION = "202401"
RESTLI_PROTOCOL_VERSION = "2.0.0"
ACCOUNT_URN = "urn:li:sponsoredAccount:"
CAMPAIGN_URN = "urn:li:sponsoredCampaign:"
CAMPAIGN_GROUP_URN = "urn:li:sponsoredCampaignGroup:"
GEO_URN = "urn:li:geo:"

PIVOTS = frozenset({"ACCOUNT", "CAMPAIGN", "MEMBER_COUNTRY_V2"})
DEMOGRAPHIC_PIVOTS = frozenset({"MEMBER_COUNTRY_V2"})
#: Pivots LinkedIn knows that this stand-in does not serve (400 says so, not "unknown").
OTHER_PIVOTS = frozenset(
    {
        "COMPANY",
        "SHARE",
        "CAMPAIGN_GROUP",
        "CREATIVE",
        "CONVERSION",
        "SERVING_LOCATION",
        "MEMBER_REGION_V2",
        "MEMBER_COUNTY",
        "MEMBER_COMPANY",
        "MEMBER_JOB_TITLE",
        "MEMBER_JOB_FUNCTION",
        "MEMBER_SENIORITY",
        "MEMBER_INDUSTRY",
        "MEMBER_COMPANY_SIZE",
    }
)
METRICS = (
    "impressions",
    "clicks",
    "costInLocalCurrency",
    "externalWebsiteConversions",
    "oneClickLeads",
)
DIMENSION_FIELDS = ("dateRange", "pivotValues")
DEFAULT_FIELDS = ("dateRange", "pivotValues", "impressions", "clicks")
MAX_METRICS = 20
CAMPAIGN_STATUSES = frozenset(
    {
        "ACTIVE",
        "PAUSED",
        "ARCHIVED",
        "COMPLETED",
        "CANCELED",
        "DRAFT",
        "PENDING_DELETION",
        "REMOVED",
    }
)
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
ACCOUNT_FIELDS = (
    "currency",
    "id",
    "name",
    "reference",
    "servingStatuses",
    "status",
    "test",
    "type",
    "version",
)

_ACCOUNT_PATH = re.compile(r"^/rest/adAccounts/([0-9]+)$")
_CAMPAIGNS_PATH = re.compile(r"^/rest/adAccounts/([0-9]+)/adCampaigns(?:/([0-9]+))?$")
_VERSION = re.compile(r"^([0-9]{4})(0[1-9]|1[0-2])(?:\.[0-9]{2})?$")


# --------------------------------------------------------------------------- errors


def _error(status: int, code: str, message: str) -> Response:
    return Response(status, {"status": status, "code": code, "message": message})


def throttle_error() -> Response:
    """429 as the rest of LinkedIn's errors are shaped (the real 429 body is unconfirmed)."""
    return _error(
        429,
        "TOO_MANY_REQUESTS",
        "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
    )


def expired_token_error() -> Response:
    """401 for an expired access token (60-day member tokens expire)."""
    return _error(401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired")


def bad_request(field_path: str, description: str) -> Response:
    """LinkedIn's 400 for a query parameter that does not parse or is not allowed."""
    return Response(
        400,
        {
            "errorDetailType": "com.linkedin.common.error.BadRequest",
            "message": "Invalid param. Please see errorDetails for more information.",
            "errorDetails": {
                "inputErrors": [
                    {
                        "description": description,
                        "input": {"inputPath": {"fieldPath": field_path}},
                        "code": "PARAM_INVALID",
                    }
                ]
            },
            "status": 400,
        },
    )


def not_found(message: str = "No virtual resource found") -> Response:
    """404 for an unknown path or object."""
    return _error(404, "NOT_FOUND", message)


# --------------------------------------------------------------------------- Rest.li 2.0


class RestliSyntaxError(ValueError):
    """A query value that is not Rest.li 2.0."""


def parse_restli(text: str) -> Any:
    """Parse one raw (still percent-encoded) Rest.li 2.0 query value.

    ``List(a,b)`` -> list, ``(k:v,...)`` -> dict, anything else -> the percent-decoded
    string. ``( ) , :`` are structure wherever they appear literally, so a string holding
    one must carry it percent-encoded.

    Raises:
        RestliSyntaxError: the text is not one complete value.
    """
    parser = _RestliParser(text)
    value = parser.value()
    if parser.position != len(text):
        raise RestliSyntaxError(
            f"unexpected {text[parser.position]!r} at position {parser.position}"
        )
    return value


class _RestliParser:
    _STRUCTURE = frozenset("(),:")

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0

    def _peek(self) -> str:
        return self.text[self.position] if self.position < len(self.text) else ""

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            found = repr(self._peek()) if self._peek() else "the end"
            raise RestliSyntaxError(f"expected {char!r} at position {self.position}, {found}")
        self.position += 1

    def value(self) -> Any:
        if self.text.startswith("List(", self.position):
            return self._list()
        if self._peek() == "(":
            return self._record()
        return self._string()

    def _list(self) -> list[Any]:
        self.position += len("List(")
        items: list[Any] = []
        if self._peek() == ")":
            self.position += 1
            return items
        while True:
            items.append(self.value())
            if self._peek() == ",":
                self.position += 1
                continue
            self._expect(")")
            return items

    def _record(self) -> dict[str, Any]:
        self._expect("(")
        fields: dict[str, Any] = {}
        if self._peek() == ")":
            self.position += 1
            return fields
        while True:
            key = self._string()
            if not key:
                raise RestliSyntaxError(f"empty field name at position {self.position}")
            self._expect(":")
            fields[key] = self.value()
            if self._peek() == ",":
                self.position += 1
                continue
            self._expect(")")
            return fields

    def _string(self) -> str:
        start = self.position
        while self.position < len(self.text) and self.text[self.position] not in self._STRUCTURE:
            self.position += 1
        return unquote(self.text[start : self.position])


# The shared handler hands the server decoded query values, in which an encoded URN colon
# and a structural colon look the same. Rest.li must see the query as sent: this handler
# keeps it for the request being served on its thread.
_RAW_QUERY = threading.local()


class _RawQueryHandler(_Handler):
    def _dispatch(self) -> None:
        _RAW_QUERY.text = urlsplit(self.path).query
        try:
            super()._dispatch()
        finally:
            _RAW_QUERY.text = None

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch


def _raw_query(request: Request) -> dict[str, str]:
    """Raw (undecoded) query values by decoded name; the first of repeated names."""
    text = getattr(_RAW_QUERY, "text", None)
    if text is None:
        # Called without HTTP (``handle`` in a test): re-encode what was decoded, keeping
        # the structure characters literal.
        text = "&".join(f"{quote(k)}={quote(v, safe='(),:')}" for k, v in request.query_pairs)
    values: dict[str, str] = {}
    for part in text.split("&"):
        if part:
            name, _, value = part.partition("=")
            values.setdefault(unquote(name), value)
    return values


def _as_date(value: Any) -> date:
    if not isinstance(value, dict) or set(value) != {"year", "month", "day"}:
        raise ValueError("a date is (year:YYYY,month:M,day:D)")
    return date(int(value["year"]), int(value["month"]), int(value["day"]))


def _date_record(day: date) -> dict[str, int]:
    return {"year": day.year, "month": day.month, "day": day.day}


def encode_page_token(offset: int) -> str:
    """An opaque page token for a position in a search."""
    return base64.urlsafe_b64encode(f"r2r:{offset}".encode()).decode().rstrip("=")


def decode_page_token(token: str) -> int:
    """The position a token from `encode_page_token` stands for.

    Raises:
        ValueError: not a token of this server.
    """
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(token) from exc
    prefix, _, offset = text.partition(":")
    if prefix != "r2r" or not offset.isdigit():
        raise ValueError(token)
    return int(offset)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# --------------------------------------------------------------------------- the server


class LinkedInAdsServer(StandinServer):
    """The LinkedIn Marketing API stand-in serving one `LinkedInAdsPart`.

    Args:
        part: what to serve; call `reindex` after adding or removing objects.
        token: the one access token accepted (Bearer).
        clock: fixed server clock (aware instant); None = wall clock.
        host, port: where to listen (port 0 = ephemeral).
        rate_limits: enforce the throttle.
        element_cap: where adAnalytics answers are cut off (LinkedIn: 15,000).
        calls_per_window, window_seconds: the throttle per token and endpoint.
        min_version: the oldest ``LinkedIn-Version`` still served (older: 426).

    `start_standins` hands it limit overrides named ``linkedin_<argument>``, e.g.
    ``linkedin_element_cap=50`` to make a client's slicing visible on a small world.
    """

    platform = "linkedin"
    source = "linkedin_ads"
    limit_prefix = "linkedin_"

    def __init__(
        self,
        part: LinkedInAdsPart,
        *,
        token: str,
        clock: datetime | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limits: bool = True,
        element_cap: int = ELEMENT_CAP,
        calls_per_window: int = 300,
        window_seconds: float = 60.0,
        min_version: str = MIN_VERSION,
    ) -> None:
        super().__init__(token=token, clock=clock, host=host, port=port, rate_limits=rate_limits)
        self._httpd.RequestHandlerClass = _RawQueryHandler
        self.part = part
        self.element_cap = element_cap
        self.min_version = min_version
        self.limiter = RollingLimiter(calls_per_window, window_seconds)
        self.reindex()

    @classmethod
    def from_world(cls, world: Any, **kwargs: Any) -> LinkedInAdsServer:
        """The stand-in for ``world.parts["linkedin_ads"]``."""
        part = getattr(world, "parts", {}).get(cls.source)
        if part is None:
            raise KeyError(
                f"the world has no {cls.source} part: add LinkedInAdsPart to "
                "sandbox/world/registry.py PART_TYPES"
            )
        return cls(part, **kwargs)

    def connection_extra(self) -> dict[str, Any]:
        """The part's sponsored accounts, as the connection's ``account_ids``."""
        return {"account_ids": [account.account_id for account in self.part.accounts]}

    def reindex(self) -> None:
        """Rebuild the indexes from the part (after adding or removing objects)."""
        self._accounts: dict[str, SponsoredAccount] = {a.account_id: a for a in self.part.accounts}
        self._campaigns: dict[str, LinkedInCampaign] = {
            c.campaign_id: c for c in self.part.campaigns
        }
        by_account: dict[str, list[LinkedInCampaign]] = defaultdict(list)
        for campaign in sorted(self.part.campaigns, key=lambda c: int(c.campaign_id)):
            by_account[campaign.account_id].append(campaign)
        self._account_campaigns = dict(by_account)
        # The part's own row objects: an edited value is served as edited.
        self._rows = self.part.rows_by_account_day()

    # ----------------------------------------------------------------- hooks

    def error_response(self, status: int) -> Response:
        """LinkedIn's error for a status (faults and crashes)."""
        if status == 429:
            return throttle_error()
        if status == 401:
            return expired_token_error()
        if status == 403:
            return _error(403, "ACCESS_DENIED", "Not enough permissions to access this resource")
        if status == 404:
            return not_found()
        if status == 426:
            return _error(426, "NONEXISTENT_VERSION", "Requested version is not active")
        if status == 400:
            return bad_request("q", "Invalid value for param; wrong type or other syntax error")
        # Other statuses: the HTTP reason phrase (LinkedIn's 5xx bodies are not documented).
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = f"HTTP {status}"
        return _error(status, phrase.upper().replace(" ", "_"), phrase)

    def check_auth(self, request: Request) -> Response | None:
        """Accept only ``Authorization: Bearer <token>``."""
        token = self.bearer_token(request)
        if token is None:
            return _error(401, "EMPTY_ACCESS_TOKEN", "Empty oauth2 access token")
        if token != self.token:
            return _error(401, "INVALID_ACCESS_TOKEN", "Invalid access token")
        return None

    def check_rate_limit(self, request: Request) -> Response | None:
        """Throttle per token and endpoint (``adAnalytics``, ``adAccounts``)."""
        endpoint = request.path.removeprefix("/rest/").split("/", 1)[0]
        if not self.limiter.hit(f"{self.bearer_token(request)}:{endpoint}"):
            return throttle_error()
        return None

    # ----------------------------------------------------------------- routing

    def route(self, request: Request) -> Response:
        """Check version and protocol headers, then dispatch by path."""
        if request.method != "GET":
            return _error(405, "METHOD_NOT_ALLOWED", f"{request.method} is not served here")
        if not request.path.startswith("/rest/"):
            return not_found()
        problem = self._check_version(request)
        if problem is not None:
            return problem
        query = _raw_query(request)
        if "q" in query and request.header("x-restli-protocol-version") != (
            RESTLI_PROTOCOL_VERSION
        ):
            return bad_request(
                "q",
                "Rest.li 2.0 query syntax needs the header X-Restli-Protocol-Version: 2.0.0",
            )
        if request.path == "/rest/adAnalytics":
            return self._analytics(query)
        match = _ACCOUNT_PATH.match(request.path)
        if match:
            return self._account(match.group(1), query)
        match = _CAMPAIGNS_PATH.match(request.path)
        if match:
            account_id, campaign_id = match.groups()
            if account_id not in self._accounts:
                return not_found(f"Not found: {ACCOUNT_URN}{account_id}")
            if campaign_id is not None:
                return self._campaign(account_id, campaign_id)
            return self._campaign_search(account_id, query)
        return not_found()

    def _check_version(self, request: Request) -> Response | None:
        version = request.header("linkedin-version")
        if not version:
            return _error(
                400,
                "VERSION_MISSING",
                "A version must be present. Please specify a version by adding the "
                "LinkedIn-Version header.",
            )
        if not _VERSION.match(version.strip()) or version.strip()[:6] < self.min_version:
            return _error(426, "NONEXISTENT_VERSION", f"Requested version {version} is not active")
        return None

    # ----------------------------------------------------------------- accounts

    def _account_body(self, account: SponsoredAccount) -> dict[str, Any]:
        return {
            "currency": account.currency,
            "id": int(account.account_id),
            "name": account.name,
            "reference": account.reference,
            "servingStatuses": ["RUNNABLE"] if account.status == "ACTIVE" else [],
            "status": account.status,
            "test": False,
            "type": account.type,
            "version": {"versionTag": "2"},
        }

    def _account(self, account_id: str, query: dict[str, str]) -> Response:
        account = self._accounts.get(account_id)
        if account is None:
            return not_found(f"Not found: {ACCOUNT_URN}{account_id}")
        body = self._account_body(account)
        if "fields" in query:
            wanted = [unquote(f) for f in query["fields"].split(",") if f]
            unknown = [f for f in wanted if f not in ACCOUNT_FIELDS]
            if unknown:
                return bad_request("fields", f"Unknown field(s) {', '.join(unknown)}")
            body = {k: v for k, v in body.items() if k in wanted}
        return Response(200, body)

    # ----------------------------------------------------------------- campaigns

    def _visible_campaigns(self, account_id: str) -> list[LinkedInCampaign]:
        now = self.now()
        return [c for c in self._account_campaigns.get(account_id, []) if c.created_at <= now]

    def _campaign_body(self, campaign: LinkedInCampaign) -> dict[str, Any]:
        account = self._accounts[campaign.account_id]
        schedule: dict[str, int] = {
            "start": _ms(datetime.combine(campaign.start_date, datetime.min.time(), tzinfo=UTC))
        }
        if campaign.end_date is not None:
            end = campaign.end_date + timedelta(days=1)
            schedule["end"] = _ms(datetime.combine(end, datetime.min.time(), tzinfo=UTC))
        return {
            "account": f"{ACCOUNT_URN}{campaign.account_id}",
            "campaignGroup": f"{CAMPAIGN_GROUP_URN}{campaign.campaign_group_id}",
            "changeAuditStamps": {
                "created": {"time": _ms(campaign.created_at)},
                "lastModified": {"time": _ms(campaign.last_modified_at)},
            },
            "costType": campaign.cost_type,
            "dailyBudget": {"amount": campaign.daily_budget, "currencyCode": account.currency},
            "id": int(campaign.campaign_id),
            "locale": {"country": "US", "language": "en"},
            "name": campaign.name,
            "objectiveType": campaign.objective_type,
            "runSchedule": schedule,
            "status": campaign.status,
            "test": False,
            "type": campaign.campaign_type,
            "version": {"versionTag": "1"},
        }

    def _campaign(self, account_id: str, campaign_id: str) -> Response:
        campaign = self._campaigns.get(campaign_id)
        if campaign is None or campaign not in self._visible_campaigns(account_id):
            return not_found(f"Not found: {CAMPAIGN_URN}{campaign_id}")
        return Response(200, self._campaign_body(campaign))

    def _campaign_search(self, account_id: str, query: dict[str, str]) -> Response:
        if unquote(query.get("q", "")) != "search":
            return bad_request("q", "The adCampaigns finder is q=search")
        statuses = CAMPAIGN_STATUSES - {"REMOVED"}
        if "search" in query:
            try:
                criteria = parse_restli(query["search"])
            except RestliSyntaxError as exc:
                return bad_request("search", f"Invalid value for param; {exc}")
            if not isinstance(criteria, dict):
                return bad_request("search", "search is a record, e.g. (status:(values:List(..)))")
            unsupported = set(criteria) - {"status"}
            if unsupported:
                return bad_request("search", f"criteria {sorted(unsupported)} not served here")
            if "status" in criteria:
                values = (
                    criteria["status"].get("values")
                    if isinstance(criteria["status"], dict)
                    else None
                )
                if not isinstance(values, list) or not set(values) <= CAMPAIGN_STATUSES:
                    return bad_request("search.status.values", "a List of campaign statuses")
                statuses = frozenset(values)
        try:
            size = int(unquote(query.get("pageSize", str(DEFAULT_PAGE_SIZE))))
            offset = decode_page_token(unquote(query["pageToken"])) if "pageToken" in query else 0
        except ValueError:
            return bad_request("pageToken", "pageSize is a number and pageToken one of ours")
        if not 1 <= size <= MAX_PAGE_SIZE:
            return bad_request("pageSize", f"pageSize must be between 1 and {MAX_PAGE_SIZE}")
        found = [c for c in self._visible_campaigns(account_id) if c.status in statuses]
        page = found[offset : offset + size]
        body: dict[str, Any] = {"elements": [self._campaign_body(c) for c in page]}
        if offset + size < len(found):
            body["metadata"] = {"nextPageToken": encode_page_token(offset + size)}
        return Response(200, body)

    # ----------------------------------------------------------------- analytics

    def _analytics(self, query: dict[str, str]) -> Response:
        finder = unquote(query.get("q", ""))
        if finder not in ("analytics", "statistics"):
            return bad_request("q", "adAnalytics finders are analytics, statistics")
        try:
            pivots = self._pivots(finder, query)
            granularity = unquote(query.get("timeGranularity", ""))
            if granularity not in ("DAILY", "ALL"):
                raise _Invalid(
                    "timeGranularity",
                    f"{granularity or 'nothing'}: this stand-in serves DAILY and ALL",
                )
            first, last = self._date_range(query)
            accounts, campaigns = self._facets(query)
            fields = self._fields(query, pivots)
        except _Invalid as invalid:
            return bad_request(invalid.field_path, invalid.description)
        served_last = min(last, self.now().astimezone(UTC).date())
        groups: dict[tuple[date | None, tuple[str, ...]], list[AnalyticsRow]] = defaultdict(list)
        for account_id in sorted(accounts, key=int):
            days = self._rows.get(account_id, {})
            day = first
            while day <= served_last:
                for row in days.get(day, []):
                    if campaigns is None or row.campaign_id in campaigns:
                        bucket = day if granularity == "DAILY" else None
                        groups[(bucket, self._pivot_values(row, pivots))].append(row)
                day += timedelta(days=1)
        keys = sorted(groups, key=lambda k: (k[0] or first, [_urn_sort(v) for v in k[1]]))
        # No paging: whatever lies beyond the cap is silently left out, as LinkedIn does.
        elements = [
            self._element(groups[key], key, first, last, fields) for key in keys[: self.element_cap]
        ]
        return Response(
            200, {"paging": {"start": 0, "count": 10, "links": []}, "elements": elements}
        )

    def _pivots(self, finder: str, query: dict[str, str]) -> list[str]:
        if finder == "statistics":
            if "pivot" in query or "pivots" not in query:
                raise _Invalid("pivots", "q=statistics takes pivots=List(...), not pivot")
            pivots = self._parse(query, "pivots")
            if not isinstance(pivots, list) or not 1 <= len(pivots) <= 3:
                raise _Invalid("pivots", "pivots is a List of one to three pivots")
        else:
            if "pivots" in query or "pivot" not in query:
                raise _Invalid("pivot", "q=analytics takes one pivot, not pivots")
            pivots = [unquote(query["pivot"])]
        for pivot in pivots:
            if pivot in OTHER_PIVOTS:
                raise _Invalid("pivots", f"pivot {pivot} is not served by this stand-in")
            if pivot not in PIVOTS:
                raise _Invalid("pivots", f"unknown pivot {pivot!r}")
        if len(set(pivots)) != len(pivots):
            raise _Invalid("pivots", "a pivot appears twice")
        return [str(p) for p in pivots]

    def _parse(self, query: dict[str, str], name: str) -> Any:
        try:
            return parse_restli(query[name])
        except RestliSyntaxError as exc:
            raise _Invalid(name, f"Invalid value for param; {exc}") from None

    def _date_range(self, query: dict[str, str]) -> tuple[date, date]:
        if "dateRange" not in query:
            raise _Invalid("dateRange", "dateRange is required")
        value = self._parse(query, "dateRange")
        if not isinstance(value, dict) or "start" not in value or set(value) - {"start", "end"}:
            raise _Invalid("dateRange", "dateRange is (start:(...),end:(...))")
        try:
            first = _as_date(value["start"])
            last = _as_date(value["end"]) if "end" in value else self.now().date()
        except (ValueError, TypeError) as exc:
            raise _Invalid("dateRange", f"Invalid date: {exc}") from None
        if last < first:
            raise _Invalid("dateRange", "dateRange.end is before dateRange.start")
        return first, last

    def _facets(self, query: dict[str, str]) -> tuple[set[str], set[str] | None]:
        ids: dict[str, set[str]] = {}
        for facet, prefix in (("accounts", ACCOUNT_URN), ("campaigns", CAMPAIGN_URN)):
            if facet not in query:
                continue
            urns = self._parse(query, facet)
            if not isinstance(urns, list) or not urns:
                raise _Invalid(facet, f"{facet} is a List of URNs")
            if not all(isinstance(u, str) and re.fullmatch(rf"{prefix}[0-9]+", u) for u in urns):
                raise _Invalid(facet, f"{facet} holds {prefix}<id> URNs")
            ids[facet] = {u.removeprefix(prefix) for u in urns}
        if not ids:
            raise _Invalid("accounts", "a facet is required: accounts, campaigns, ...")
        campaigns = ids.get("campaigns")
        accounts = ids.get("accounts")
        if accounts is None:
            assert campaigns is not None
            accounts = {self._campaigns[c].account_id for c in campaigns if c in self._campaigns}
        return {a for a in accounts if a in self._accounts}, campaigns

    def _fields(self, query: dict[str, str], pivots: list[str]) -> list[str]:
        if "fields" not in query:
            return list(DEFAULT_FIELDS)
        fields = [unquote(f) for f in query["fields"].split(",") if f]
        if "approximateMemberReach" in fields and DEMOGRAPHIC_PIVOTS & set(pivots):
            raise _Invalid(
                "fields", "approximateMemberReach is not available with demographic pivots"
            )
        unknown = [f for f in fields if f not in (*DIMENSION_FIELDS, *METRICS)]
        if unknown:
            raise _Invalid("fields", f"field(s) {', '.join(unknown)} not served by this stand-in")
        if sum(1 for f in fields if f in METRICS) > MAX_METRICS:
            raise _Invalid("fields", f"at most {MAX_METRICS} metrics per request")
        return fields

    @staticmethod
    def _pivot_values(row: AnalyticsRow, pivots: list[str]) -> tuple[str, ...]:
        values = {
            "ACCOUNT": f"{ACCOUNT_URN}{row.account_id}",
            "CAMPAIGN": f"{CAMPAIGN_URN}{row.campaign_id}",
            "MEMBER_COUNTRY_V2": f"{GEO_URN}{row.geo_id}",
        }
        return tuple(values[p] for p in pivots)

    @staticmethod
    def _element(
        rows: list[AnalyticsRow],
        key: tuple[date | None, tuple[str, ...]],
        first: date,
        last: date,
        fields: list[str],
    ) -> dict[str, Any]:
        day, pivot_values = key
        start, end = (day, day) if day is not None else (first, last)
        # One row keeps its cost text exactly; a sum is written from exact decimals.
        cost = (
            rows[0].cost_in_local_currency
            if len(rows) == 1
            else str(sum((Decimal(r.cost_in_local_currency) for r in rows), Decimal(0)))
        )
        values: dict[str, Any] = {
            "dateRange": {"start": _date_record(start), "end": _date_record(end)},
            "pivotValues": list(pivot_values),
            "impressions": sum(r.impressions for r in rows),
            "clicks": sum(r.clicks for r in rows),
            "costInLocalCurrency": cost,
            "externalWebsiteConversions": sum(r.external_website_conversions for r in rows),
            "oneClickLeads": sum(r.one_click_leads for r in rows),
        }
        return {name: values[name] for name in fields}


class _Invalid(Exception):
    def __init__(self, field_path: str, description: str) -> None:
        super().__init__(description)
        self.field_path = field_path
        self.description = description


def _urn_sort(urn: str) -> tuple[str, int]:
    prefix, _, number = urn.rpartition(":")
    return (prefix, int(number) if number.isdigit() else -1)
