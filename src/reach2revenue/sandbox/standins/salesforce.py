"""Stand-in for the Salesforce REST API: OAuth client credentials, SOQL queries, cursors.

Serves the org of a `SalesforcePart` as of the server clock (every record in its latest
version with ``SystemModstamp <= clock``; deleted records until the recycle bin purges
them 15 days later), as the real API would:

- ``POST /services/oauth2/token`` (form ``grant_type=client_credentials``, ``client_id``,
  ``client_secret``) answers ``{"access_token", "signature", "scope", "instance_url", "id",
  "token_type": "Bearer", "issued_at"}``; OAuth errors are ``{"error",
  "error_description"}`` with HTTP 400. Access tokens live ``session_seconds`` (wall
  clock) and can be revoked with `SalesforceServer.expire_sessions`.
- ``GET /services/data/vNN.0/query?q=`` and ``/queryAll?q=`` (deleted records included)
  for exactly the incremental query shape the extractor sends: ``SELECT <fields> FROM
  <Object> WHERE SystemModstamp >= <dateTime> AND SystemModstamp < <dateTime> ORDER BY
  SystemModstamp, Id``. Anything else is ``MALFORMED_QUERY``; an unknown object
  ``INVALID_TYPE``; an unknown field or a quoted or date-only literal ``INVALID_FIELD``.
- Batches of at most 2,000 records (``Sforce-Query-Options: batchSize=200..2000`` asks for
  fewer; ``max_batch_size`` lowers the server's own maximum for tests), ``done`` and
  ``nextRecordsUrl`` (``/services/data/vNN.0/query/01g...-2000``, also for queryAll).
  Cursors close when read to the end, expire after ``cursor_idle_seconds`` and at most
  ``cursor_limit`` stay open (the oldest is dropped): ``INVALID_QUERY_LOCATOR``.
- Records: ``attributes`` (``type``, ``url``) then the fields in the order asked; numbers
  (``Amount``, ``Probability``) as Java writes a double (``125000.0``, ``1.5E7``),
  datetimes ``2024-03-15T12:01:02.000+0000``, dates ``YYYY-MM-DD``.
- Errors are JSON arrays ``[{"message", "errorCode"}]``: 401 ``INVALID_SESSION_ID``, 403
  ``REQUEST_LIMIT_EXCEEDED`` once the org's rolling 24-hour API budget
  (``daily_requests``) is used, 400 query errors, 404 ``NOT_FOUND``, 500
  ``UNKNOWN_EXCEPTION``. Every data response reports ``Sforce-Limit-Info: api-usage=n/max``.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from reach2revenue.sandbox.standins._http import Request, Response, RollingLimiter, StandinServer
from reach2revenue.sandbox.world.salesforce import (
    RECYCLE_BIN_DAYS,
    SOBJECT_FIELDS,
    RecordVersion,
    SalesforcePart,
    SalesforceRecord,
    parse_datetime,
)

ORG_ID = "00D5g000004XyZ1EAK"
INTEGRATION_USER_ID = "0055g00000AbCdEAAV"
DEFAULT_CLIENT_ID = "3MVG9standin.reach2revenue.client"
DAILY_REQUEST_LIMIT = 15_000  # Developer Edition; Enterprise orgs have 100,000 and more
SESSION_SECONDS = 7200.0  # the default session timeout (2 hours)
MAX_BATCH_SIZE = 2000
MIN_BATCH_SIZE = 200
CURSOR_LIMIT = 10  # open query cursors per user
CURSOR_IDLE_SECONDS = 900.0
MIN_API_VERSION = 31.0
MAX_API_VERSION = 62.0
#: Fields sent as JSON numbers (Java doubles); the part keeps them as decimal text.
NUMBER_FIELDS = frozenset({"Amount", "Probability"})
MODIFIED_FIELD = "SystemModstamp"

_TOKEN_PATH = re.compile(r"^/services/oauth2/token/?$")
_QUERY_PATH = re.compile(r"^/services/data/v(\d{2}\.\d)/(query|queryAll)/?$")
_CURSOR_PATH = re.compile(
    r"^/services/data/v(\d{2}\.\d)/(?:query|queryAll)/(01g[0-9A-Za-z]{15})-(\d+)/?$"
)
_DATA_PREFIX = "/services/data/"
_BATCH_OPTION = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)
_DATETIME_LITERAL = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2})$"
)
_SELECT = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\S+)(?P<rest>.*)$", re.I | re.S
)
_TOKENS = re.compile(r">=|<=|!=|<|>|=|,|[^\s,<>=!]+")
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# The one WHERE / ORDER BY shape answered; None stands for a datetime literal.
_CLAUSE: tuple[str | None, ...] = (
    "WHERE",
    MODIFIED_FIELD,
    ">=",
    None,
    "AND",
    MODIFIED_FIELD,
    "<",
    None,
    "ORDER",
    "BY",
    MODIFIED_FIELD,
    ",",
    "Id",
)


# --------------------------------------------------------------------------- errors


def sf_error(status: int, error_code: str, message: str) -> Response:
    """Salesforce's error body: a JSON array of ``{message, errorCode}``."""
    return Response(status, [{"message": message, "errorCode": error_code}])


def oauth_error(error: str, description: str, status: int = 400) -> Response:
    """The token endpoint's error body."""
    return Response(status, {"error": error, "error_description": description})


def session_error() -> Response:
    return sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid")


def request_limit_error() -> Response:
    return sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")


def unknown_exception(status: int = 500) -> Response:
    error_id = (
        f"{secrets.randbelow(10**9)}-{secrets.randbelow(10**5)} ({-secrets.randbelow(10**9)})"
    )
    return sf_error(
        status,
        "UNKNOWN_EXCEPTION" if status == 500 else "SERVER_UNAVAILABLE",
        "An unexpected error occurred. Please include this ErrorId if you contact support: "
        + error_id,
    )


class SoqlError(ValueError):
    """A query Salesforce would reject: its errorCode and message."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message


# --------------------------------------------------------------------------- values


def java_double(value: Decimal | str | float) -> str:
    """A number as Java's ``Double.toString`` writes it (what the REST API sends).

    Plain notation with at least one decimal for 10^-3 <= |x| < 10^7 (``125000.0``),
    computerised scientific notation otherwise (``1.5E7``, ``9.9213206E7``).
    """
    number = float(value)
    if number == 0:
        return "0.0"
    if 1e-3 <= abs(number) < 1e7:
        text = repr(number)
        return text if "." in text or "e" in text else f"{text}.0"
    exact = Decimal(repr(number)).normalize()
    sign, digits, exponent = exact.as_tuple()
    assert isinstance(exponent, int)
    mantissa = "".join(map(str, digits))
    power = len(digits) - 1 + exponent
    return f"{'-' if sign else ''}{mantissa[0]}.{mantissa[1:] or '0'}E{power}"


class _JavaNumber:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


_NUMBER_MARK = "\u0000"
_MARKED_NUMBER = re.compile(r'"\\u0000([^"\\]*)\\u0000"')


def _encode_number(value: Any) -> Any:
    if isinstance(value, _JavaNumber):
        return f"{_NUMBER_MARK}{value.text}{_NUMBER_MARK}"
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_text(body: Any) -> str:
    """JSON as Salesforce sends it: compact, Java-formatted numbers, UTF-8 text."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=_encode_number)
    return _MARKED_NUMBER.sub(r"\1", text)


def _epoch_ms(instant: datetime) -> int:
    return int(instant.astimezone(UTC).timestamp() * 1000)


# --------------------------------------------------------------------------- SOQL


@dataclass(frozen=True)
class Query:
    """The one query shape answered: fields of an object over ``[start, end)``."""

    sobject: str
    fields: tuple[str, ...]
    start: datetime
    end: datetime


def _column(soql: str, offset: int) -> int:
    """1-based column of ``offset`` on its line, as Salesforce's messages count it."""
    return offset - soql.rfind("\n", 0, offset)


def _unexpected(soql: str, token: str | None, offset: int) -> SoqlError:
    shown = f"'{token}'" if token is not None else "<EOF>"
    return SoqlError(
        "MALFORMED_QUERY",
        f"\n{soql.strip()}\n^\nERROR at Row:1:Column:{_column(soql, offset)}\n"
        f"unexpected token: {shown}",
    )


def parse_soql(soql: str) -> Query:
    """Parse the incremental query; raise `SoqlError` as Salesforce would for others."""
    match = _SELECT.match(soql)
    if match is None:
        first = soql.split()[0] if soql.split() else None
        raise _unexpected(soql, first, 0)
    name = match.group("object")
    sobject = next((s for s in SOBJECT_FIELDS if s.lower() == name.lower()), None)
    if sobject is None:
        raise SoqlError(
            "INVALID_TYPE",
            f"\n{soql.strip()}\n^\nERROR at Row:1:Column:{match.start('object') + 1}\n"
            f"sObject type '{name}' is not supported. If you are attempting to use a custom "
            "object, be sure to append the '__c' after the entity name. Please reference "
            "your WSDL or the describe call for the appropriate names.",
        )
    known = {f.lower(): f for f in SOBJECT_FIELDS[sobject]}
    fields: list[str] = []
    for raw in match.group("fields").split(","):
        field = raw.strip()
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", field):
            raise _unexpected(soql, field or ",", match.start("fields"))
        if field.lower() not in known:
            raise SoqlError(
                "INVALID_FIELD",
                f"\n{soql.strip()}\n^\nERROR at Row:1:Column:{match.start('fields') + 1}\n"
                f"No such column '{field}' on entity '{sobject}'. If you are attempting to "
                "use a custom field, be sure to append the '__c' after the custom field "
                "name. Please reference your WSDL or the describe call for the appropriate "
                "names.",
            )
        canonical = known[field.lower()]
        if canonical in fields:
            raise SoqlError("MALFORMED_QUERY", f"duplicate field selected: {canonical}")
        fields.append(canonical)
    rest, base = match.group("rest"), match.start("rest")
    tokens = [(m.group(0), base + m.start()) for m in _TOKENS.finditer(rest)]
    literals: list[datetime] = []
    for position, expected in enumerate(_CLAUSE):
        if position >= len(tokens):
            raise _unexpected(soql, None, len(soql))
        token, offset = tokens[position]
        if expected is None:
            if token.startswith(("'", '"')) or not _DATETIME_LITERAL.match(token):
                raise SoqlError(
                    "INVALID_FIELD",
                    f"\n{soql.strip()}\n^\nERROR at Row:1:Column:{_column(soql, offset)}\n"
                    f"value of filter criterion for field '{MODIFIED_FIELD}' must be of type "
                    "dateTime and should not be enclosed in quotes",
                )
            literals.append(parse_datetime(token))
        elif token.lower() != expected.lower():
            raise _unexpected(soql, token, offset)
    if len(tokens) > len(_CLAUSE):
        token, offset = tokens[len(_CLAUSE)]
        raise _unexpected(soql, token, offset)
    return Query(sobject, tuple(fields), literals[0], literals[1])


# --------------------------------------------------------------------------- server


@dataclass(frozen=True)
class _Row:
    stamp: int  # SystemModstamp, epoch ms
    record_id: str
    version: RecordVersion


@dataclass
class _Cursor:
    records: list[dict[str, Any]]
    api_version: str
    touched: float


class SalesforceServer(StandinServer):
    """The Salesforce org stand-in serving one `SalesforcePart`.

    Args:
        part: the org to serve; call `reindex` after mutating it while serving.
        token: the connected app's client secret the token endpoint accepts (what the
            Airflow connection's password carries).
        client_id: the connected app's consumer key.
        clock: fixed server clock (aware instant); None = wall clock.
        host, port: where to listen (port 0 = ephemeral).
        rate_limits: enforce the org's API request budget.
        daily_requests: API requests per rolling 24 hours (the org's budget).
        session_seconds: lifetime of an access token (wall clock).
        max_batch_size: most records per batch (Salesforce: 2,000; tests lower it).
        cursor_limit: open query cursors per user (the oldest is dropped beyond it).
        cursor_idle_seconds: a cursor not read for this long expires.
    """

    platform = "salesforce"
    source = "salesforce"
    limit_prefix = "salesforce_"

    def __init__(
        self,
        part: SalesforcePart,
        *,
        token: str,
        client_id: str = DEFAULT_CLIENT_ID,
        clock: datetime | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limits: bool = True,
        daily_requests: int = DAILY_REQUEST_LIMIT,
        session_seconds: float = SESSION_SECONDS,
        max_batch_size: int = MAX_BATCH_SIZE,
        cursor_limit: int = CURSOR_LIMIT,
        cursor_idle_seconds: float = CURSOR_IDLE_SECONDS,
    ) -> None:
        super().__init__(token=token, clock=clock, host=host, port=port, rate_limits=rate_limits)
        self.part = part
        self.client_id = client_id
        self.api_budget = RollingLimiter(daily_requests, 86_400.0)
        self.session_seconds = session_seconds
        self.max_batch_size = max(1, min(max_batch_size, MAX_BATCH_SIZE))
        self.cursor_limit = cursor_limit
        self.cursor_idle_seconds = cursor_idle_seconds
        self._sessions: dict[str, float] = {}
        self._cursors: OrderedDict[str, _Cursor] = OrderedDict()
        self._state_lock = threading.Lock()
        self.reindex()

    @classmethod
    def from_world(cls, world: Any, **kwargs: Any) -> SalesforceServer:
        """The stand-in serving ``world.parts["salesforce"]``."""
        return cls(world.parts[cls.source], **kwargs)

    def connection_extra(self) -> dict[str, Any]:
        """The connection extra the extractor needs (the secret goes in the password)."""
        return {"client_id": self.client_id}

    def reindex(self) -> None:
        """Rebuild the indexes from the part (after mutating it)."""
        with self._state_lock:
            self._records: dict[str, list[SalesforceRecord]] = {
                sobject: list(self.part.of(sobject)) for sobject in SOBJECT_FIELDS
            }
            events: list[int] = []
            for records in self._records.values():
                for record in records:
                    events.extend(_epoch_ms(v.valid_from) for v in record.versions)
                    if record.deleted_at is not None:
                        purge = record.deleted_at + timedelta(days=RECYCLE_BIN_DAYS)
                        events.append(_epoch_ms(purge))
            # The org only changes when the clock passes one of these instants.
            self._events = sorted(events)
            self._snapshot: tuple[int, dict[str, list[_Row]]] | None = None

    def expire_sessions(self) -> None:
        """Revoke every access token (as when sessions time out or an admin revokes them)."""
        with self._state_lock:
            self._sessions.clear()

    # ----------------------------------------------------------------- snapshot

    def rows(self, sobject: str) -> list[_Row]:
        """Records of ``sobject`` as queryAll sees them at the clock, by (stamp, id)."""
        clock = self.now()
        position = bisect.bisect_right(self._events, _epoch_ms(clock))
        with self._state_lock:
            if self._snapshot is None or self._snapshot[0] != position:
                snapshot: dict[str, list[_Row]] = {}
                for name, records in self._records.items():
                    rows = []
                    for record in records:
                        if record.is_purged_at(clock):
                            continue
                        version = record.state_at(clock)
                        if version is not None:
                            rows.append(_Row(_epoch_ms(version.valid_from), record.id, version))
                    rows.sort(key=lambda row: (row.stamp, row.record_id))
                    snapshot[name] = rows
                self._snapshot = (position, snapshot)
            return self._snapshot[1][sobject]

    # ----------------------------------------------------------------- hooks

    def error_response(self, status: int) -> Response:
        """Canned Salesforce errors per status (faults and crashes)."""
        if status == 401:
            return session_error()
        if status == 403:
            return request_limit_error()
        if status == 404:
            return sf_error(404, "NOT_FOUND", "The requested resource does not exist")
        if status == 400:
            return sf_error(400, "MALFORMED_QUERY", "unexpected token: <EOF>")
        if 400 <= status < 500:
            return sf_error(status, "INVALID_OPERATION", "The request was refused.")
        return unknown_exception(status if status >= 500 else 500)

    def check_auth(self, request: Request) -> Response | None:
        """The token endpoint is open; data requests need a live access token."""
        if not request.path.startswith(_DATA_PREFIX):
            return None
        token = self.bearer_token(request)
        with self._state_lock:
            expires = self._sessions.get(token or "")
            if expires is not None and expires <= time.monotonic():
                del self._sessions[token or ""]
                expires = None
        return None if expires is not None else session_error()

    def check_rate_limit(self, request: Request) -> Response | None:
        """The org's API request budget counts every data request."""
        if request.path.startswith(_DATA_PREFIX) and not self.api_budget.hit(ORG_ID):
            return request_limit_error()
        return None

    # ----------------------------------------------------------------- routing

    def route(self, request: Request) -> Response:
        """Dispatch the token endpoint, queries and cursors."""
        path = request.path
        if _TOKEN_PATH.match(path):
            if request.method != "POST":
                return oauth_error("invalid_request", "must use HTTP POST")
            return self._token(request)
        query = _QUERY_PATH.match(path)
        cursor = _CURSOR_PATH.match(path)
        if query is None and cursor is None:
            return sf_error(404, "NOT_FOUND", "The requested resource does not exist")
        if request.method not in ("GET", "HEAD"):
            return sf_error(
                405,
                "METHOD_NOT_ALLOWED",
                f"HTTP Method '{request.method}' not allowed. Allowed are GET,HEAD",
            )
        version = (query or cursor).group(1)  # type: ignore[union-attr]
        if not MIN_API_VERSION <= float(version) <= MAX_API_VERSION:
            return sf_error(404, "NOT_FOUND", "The requested resource does not exist")
        if query is not None:
            response = self._query(request, version, include_deleted=query.group(2) == "queryAll")
        else:
            assert cursor is not None
            response = self._next_batch(request, cursor.group(2), int(cursor.group(3)))
        used = self.api_budget.limit - self.api_budget.remaining(ORG_ID)
        response.headers["Sforce-Limit-Info"] = f"api-usage={used}/{self.api_budget.limit}"
        return response

    def _token(self, request: Request) -> Response:
        form = dict(request.query_pairs)
        try:
            form.update(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return oauth_error("invalid_request", "request body is not form-encoded")
        if form.get("grant_type") != "client_credentials":
            return oauth_error("unsupported_grant_type", "grant type not supported")
        if form.get("client_id") != self.client_id:
            return oauth_error("invalid_client_id", "client identifier invalid")
        if not hmac.compare_digest(form.get("client_secret", "").encode(), self.token.encode()):
            return oauth_error("invalid_client", "invalid client credentials")
        access_token = f"{ORG_ID[:15]}!" + "".join(
            secrets.choice(_BASE62 + "._") for _ in range(96)
        )
        with self._state_lock:
            self._sessions[access_token] = time.monotonic() + self.session_seconds
        instance_url = self.base_url(request)
        identity = f"{instance_url}/id/{ORG_ID}/{INTEGRATION_USER_ID}"
        issued_at = str(_epoch_ms(self.now()))
        # Salesforce signs id + issued_at with the client secret (HMAC-SHA256, base64).
        digest = hmac.new(self.token.encode(), (identity + issued_at).encode(), hashlib.sha256)
        return Response(
            200,
            {
                "access_token": access_token,
                "signature": base64.b64encode(digest.digest()).decode(),
                "scope": "api",
                "instance_url": instance_url,
                "id": identity,
                "token_type": "Bearer",
                "issued_at": issued_at,
            },
        )

    def _batch_size(self, request: Request) -> int:
        option = _BATCH_OPTION.search(request.header("sforce-query-options") or "")
        asked = int(option.group(1)) if option else MAX_BATCH_SIZE
        return min(max(MIN_BATCH_SIZE, min(asked, MAX_BATCH_SIZE)), self.max_batch_size)

    def _query(self, request: Request, version: str, *, include_deleted: bool) -> Response:
        soql = request.param("q")
        if not soql:
            return sf_error(400, "MALFORMED_QUERY", "A query string has to be specified")
        try:
            query = parse_soql(soql)
        except SoqlError as error:
            return sf_error(400, error.error_code, error.message)
        rows = self.rows(query.sobject)
        low = bisect.bisect_left(rows, _epoch_ms(query.start), key=lambda row: row.stamp)
        high = bisect.bisect_left(rows, _epoch_ms(query.end), key=lambda row: row.stamp)
        records = [
            self._serialise(query.sobject, row, query.fields, version)
            for row in rows[low:high]
            if include_deleted or not row.version.is_deleted
        ]
        locator = "01g" + "".join(secrets.choice(_BASE62) for _ in range(15))
        with self._state_lock:
            self._cursors[locator] = _Cursor(records, version, time.monotonic())
            while len(self._cursors) > self.cursor_limit:
                self._cursors.popitem(last=False)
        return self._batch(locator, 0, self._batch_size(request))

    def _next_batch(self, request: Request, locator: str, offset: int) -> Response:
        with self._state_lock:
            cursor = self._cursors.get(locator)
            if cursor is not None and time.monotonic() - cursor.touched > self.cursor_idle_seconds:
                del self._cursors[locator]
                cursor = None
        if cursor is None or offset > len(cursor.records):
            return sf_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._batch(locator, offset, self._batch_size(request))

    def _batch(self, locator: str, offset: int, size: int) -> Response:
        with self._state_lock:
            cursor = self._cursors[locator]
            cursor.touched = time.monotonic()
            records = cursor.records[offset : offset + size]
            done = offset + size >= len(cursor.records)
            if done:
                del self._cursors[locator]  # read to the end: Salesforce closes it
        body: dict[str, Any] = {"totalSize": len(cursor.records), "done": done}
        if not done:
            body["nextRecordsUrl"] = (
                f"/services/data/v{cursor.api_version}/query/{locator}-{offset + size}"
            )
        body["records"] = records
        return Response(200, json_text(body), {"Content-Type": "application/json;charset=UTF-8"})

    @staticmethod
    def _serialise(
        sobject: str, row: _Row, fields: tuple[str, ...], version: str
    ) -> dict[str, Any]:
        values = row.version.fields
        record: dict[str, Any] = {
            "attributes": {
                "type": sobject,
                "url": f"/services/data/v{version}/sobjects/{sobject}/{row.record_id}",
            }
        }
        for name in fields:
            value = values.get(name)
            if name in NUMBER_FIELDS and value is not None:
                value = _JavaNumber(java_double(Decimal(str(value))))
            record[name] = value
        return record
