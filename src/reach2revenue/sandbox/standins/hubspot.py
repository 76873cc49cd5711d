"""Stand-in for the HubSpot CRM API: v3 objects (list, read, search) and v4 associations.

Serves the contacts and deals of a `World` as they were at the server clock: an object
shows its latest version with ``valid_from <= clock`` and is absent before it was created.
Shapes follow the real API: every property value a string (or null when unset),
``createdAt``/``updatedAt``/``archived`` at the top level, search with ``filterGroups``,
``sorts``, ``after`` offsets, the 200-per-page and 10,000-per-query caps, and HubSpot's
error bodies (401 ``INVALID_AUTHENTICATION``, 400 ``VALIDATION_ERROR``, 429 ``RATE_LIMIT``).
"""

from __future__ import annotations

import bisect
import math
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from reach2revenue.sandbox.standins._http import (
    Request,
    Response,
    RollingLimiter,
    StandinServer,
    new_correlation_id,
)
from reach2revenue.sandbox.world import (
    CONTACT_MODIFIED_PROPERTY,
    CONTACT_PROPERTIES,
    CONTACT_TO_DEAL_TYPE_ID,
    DEAL_MODIFIED_PROPERTY,
    DEAL_PROPERTIES,
    DEAL_TO_CONTACT_TYPE_ID,
    CrmObject,
    Deal,
    Version,
    World,
    epoch_ms,
    format_instant,
    parse_instant,
)

LIST_MAX_LIMIT = 100
LIST_DEFAULT_LIMIT = 10
SEARCH_MAX_LIMIT = 200
SEARCH_DEFAULT_LIMIT = 10
SEARCH_RESULT_CAP = 10_000
SEARCH_MAX_GROUPS = 5
SEARCH_MAX_FILTERS_PER_GROUP = 6
SEARCH_MAX_FILTERS = 18
ASSOCIATION_MAX_LIMIT = 500
BATCH_MAX_INPUTS = 100

_MODIFIED = {"contacts": CONTACT_MODIFIED_PROPERTY, "deals": DEAL_MODIFIED_PROPERTY}
_KNOWN = {"contacts": frozenset(CONTACT_PROPERTIES), "deals": frozenset(DEAL_PROPERTIES)}
_DEFAULT_PROPERTIES = {
    "contacts": ("firstname", "lastname", "email"),
    "deals": ("dealname", "amount", "dealstage", "pipeline", "closedate"),
}
_DATE_PROPERTIES = frozenset({"createdate", "lastmodifieddate", "hs_lastmodifieddate", "closedate"})
_NUMBER_PROPERTIES = frozenset({"hs_object_id", "amount"})
_ASSOCIATION_TYPES = {
    ("deals", "contacts"): (DEAL_TO_CONTACT_TYPE_ID, "deal_to_contact"),
    ("contacts", "deals"): (CONTACT_TO_DEAL_TYPE_ID, "contact_to_deal"),
}

_OBJECTS = re.compile(r"^/crm/v3/objects/(contacts|deals)(?:/([^/]+))?/?$")
_SEARCH = re.compile(r"^/crm/v3/objects/(contacts|deals)/search/?$")
_ASSOC_V4 = re.compile(
    r"^/crm/v4/objects/(contacts|deals)/([^/]+)/associations/(contacts|deals)/?$"
)
_BATCH_V4 = re.compile(r"^/crm/v4/associations/(contacts|deals)/(contacts|deals)/batch/read/?$")


# --------------------------------------------------------------------------- errors


def hubspot_error(status: int, message: str, category: str, **extra: Any) -> Response:
    """HubSpot's standard error body."""
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": new_correlation_id(),
        "category": category,
    }
    body.update(extra)
    return Response(status, body)


def auth_error() -> Response:
    """401 for a missing or wrong token."""
    return hubspot_error(
        401,
        "Authentication credentials not found. This API supports OAuth 2.0 authentication "
        "and you can find more details at "
        "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        "INVALID_AUTHENTICATION",
    )


def validation_error(message: str, **extra: Any) -> Response:
    """400 ``VALIDATION_ERROR``."""
    return hubspot_error(400, message, "VALIDATION_ERROR", **extra)


def rate_limit_error(policy: str) -> Response:
    """429 with HubSpot's rate-limit body; ``policy`` is SECONDLY or TEN_SECONDLY_ROLLING."""
    window = "secondly" if policy == "SECONDLY" else policy.lower()
    return Response(
        429,
        {
            "status": "error",
            "message": f"You have reached your {window} limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": new_correlation_id(),
            "policyName": policy,
            "requestId": new_correlation_id(),
        },
    )


def server_error(status: int = 500) -> Response:
    """5xx with HubSpot's error body."""
    return hubspot_error(
        status,
        "internal error" if status == 500 else "The service is temporarily unavailable.",
        "INTERNAL_ERROR" if status == 500 else "SERVICE_UNAVAILABLE",
    )


# --------------------------------------------------------------------------- snapshot


@dataclass
class _Entry:
    obj: CrmObject
    version: Version
    id_int: int
    archived: bool
    _dates: dict[str, int | None] = field(default_factory=dict)

    def date_ms(self, name: str, modified_property: str) -> int | None:
        if name not in self._dates:
            if name == modified_property:
                value: int | None = epoch_ms(self.version.valid_from)
            else:
                raw = self.version.properties.get(name)
                try:
                    value = epoch_ms(parse_instant(str(raw))) if raw not in (None, "") else None
                except ValueError:
                    value = None
            self._dates[name] = value
        return self._dates[name]


@dataclass
class _Snapshot:
    """The CRM as of one clock position, indexed for list, search and associations."""

    live: dict[str, list[_Entry]]
    """Non-archived objects per type, sorted by numeric id."""
    archived: dict[str, list[_Entry]]
    by_id: dict[str, dict[str, _Entry]]
    deals_of_contact: dict[str, list[str]]


def _id_int(object_id: str) -> int:
    try:
        return int(object_id)
    except ValueError:
        return 0


# --------------------------------------------------------------------------- server


class HubSpotServer(StandinServer):
    """The HubSpot CRM stand-in serving one `World`.

    Args:
        world: the world to serve; call `reindex` after mutating it while serving.
        token: the private-app token accepted as ``Authorization: Bearer``.
        clock: fixed server clock (aware instant); None = wall clock.
        host, port: where to listen (port 0 = ephemeral).
        rate_limits: enforce the limits below, per token.
        search_per_second: search requests per rolling second (HubSpot: 5).
        per_ten_seconds: requests per rolling 10 s on all endpoints (HubSpot: 100).
    """

    platform = "hubspot"
    source = "hubspot"
    limit_prefix = "hubspot_"

    def __init__(
        self,
        world: World,
        *,
        token: str,
        clock: datetime | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limits: bool = True,
        search_per_second: int = 5,
        per_ten_seconds: int = 100,
    ) -> None:
        super().__init__(token=token, clock=clock, host=host, port=port, rate_limits=rate_limits)
        self.world = world
        self.search_limiter = RollingLimiter(search_per_second, 1.0)
        self.ten_second_limiter = RollingLimiter(per_ten_seconds, 10.0)
        self._snapshot_lock = threading.Lock()
        self.reindex()

    def reindex(self) -> None:
        """Rebuild the indexes from the world (after mutating it)."""
        with self._snapshot_lock:
            self._objects: dict[str, list[CrmObject]] = {
                "contacts": sorted(self.world.contacts, key=lambda o: _id_int(o.id)),
                "deals": sorted(self.world.deals, key=lambda o: _id_int(o.id)),
            }
            events: list[int] = []
            for objects in self._objects.values():
                for obj in objects:
                    events.extend(epoch_ms(v.valid_from) for v in obj.versions)
                    if obj.archived_at is not None:
                        events.append(epoch_ms(obj.archived_at))
            # The state only changes when the clock passes one of these instants, so the
            # number of them at or before the clock identifies a snapshot.
            self._events = sorted(events)
            self._cached: tuple[int, _Snapshot] | None = None

    def snapshot(self) -> _Snapshot:
        """The CRM as of the server clock (cached until the clock crosses a change)."""
        clock = self.now()
        position = bisect.bisect_right(self._events, epoch_ms(clock))
        with self._snapshot_lock:
            if self._cached is not None and self._cached[0] == position:
                return self._cached[1]
            snapshot = self._build(clock)
            self._cached = (position, snapshot)
            return snapshot

    def _build(self, clock: datetime) -> _Snapshot:
        live: dict[str, list[_Entry]] = {}
        archived: dict[str, list[_Entry]] = {}
        by_id: dict[str, dict[str, _Entry]] = {}
        deals_of_contact: dict[str, list[str]] = {}
        for kind, objects in self._objects.items():
            live[kind], archived[kind], by_id[kind] = [], [], {}
            for obj in objects:
                is_archived = obj.archived_at is not None and obj.archived_at <= clock
                version = obj.version_at(obj.archived_at if is_archived else clock)
                if version is None:
                    continue
                entry = _Entry(obj, version, _id_int(obj.id), is_archived)
                (archived if is_archived else live)[kind].append(entry)
                if not is_archived:
                    by_id[kind][obj.id] = entry
                    if isinstance(obj, Deal):
                        deals_of_contact.setdefault(obj.contact_id, []).append(obj.id)
        return _Snapshot(live, archived, by_id, deals_of_contact)

    # ----------------------------------------------------------------- hooks

    def error_response(self, status: int) -> Response:
        """Canned HubSpot errors per status."""
        if status == 429:
            return rate_limit_error("TEN_SECONDLY_ROLLING")
        if status == 401:
            return auth_error()
        if status == 404:
            return hubspot_error(404, "Resource not found", "OBJECT_NOT_FOUND")
        if 400 <= status < 500:
            return validation_error("There was a problem with the request.")
        return server_error(status if status >= 500 else 500)

    def check_auth(self, request: Request) -> Response | None:
        """Accept only ``Authorization: Bearer <token>``."""
        return None if self.bearer_token(request) == self.token else auth_error()

    def check_rate_limit(self, request: Request) -> Response | None:
        """5 searches per second and 100 requests per rolling 10 s, per token."""
        token = self.bearer_token(request) or ""
        for policy, limiter, applies in (
            ("SECONDLY", self.search_limiter, _SEARCH.match(request.path) is not None),
            ("TEN_SECONDLY_ROLLING", self.ten_second_limiter, True),
        ):
            if applies and not limiter.hit(token):
                response = rate_limit_error(policy)
                # Whole seconds, rounded up, so a client that honours it is admitted.
                response.headers["Retry-After"] = str(max(1, math.ceil(limiter.retry_after(token))))
                return response
        return None

    def inject_fault(self, path_prefix: str, status: int, count: int = 1, body: Any = None) -> None:
        """Queue canned errors; a 429 under a search path uses the SECONDLY policy."""
        if body is None and int(status) == 429 and "/search" in path_prefix:
            body = rate_limit_error("SECONDLY").body
        super().inject_fault(path_prefix, status, count, body)

    # ----------------------------------------------------------------- routing

    def route(self, request: Request) -> Response:
        """Dispatch the CRM endpoints."""
        path = request.path
        if (match := _SEARCH.match(path)) and request.method == "POST":
            return self._search(request, match.group(1))
        if (match := _OBJECTS.match(path)) and request.method == "GET":
            kind, object_id = match.groups()
            response = (
                self._read(request, kind, object_id) if object_id else self._list(request, kind)
            )
            return self._with_limit_headers(request, response)
        if (match := _ASSOC_V4.match(path)) and request.method == "GET":
            return self._with_limit_headers(request, self._associations(request, *match.groups()))
        if (match := _BATCH_V4.match(path)) and request.method == "POST":
            return self._with_limit_headers(
                request, self._batch_associations(request, *match.groups())
            )
        return hubspot_error(404, f"Unknown endpoint {request.method} {path}", "OBJECT_NOT_FOUND")

    def _with_limit_headers(self, request: Request, response: Response) -> Response:
        # Search responses carry no rate-limit headers on HubSpot; the others do.
        limiter = self.ten_second_limiter
        response.headers.update(
            {
                "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                "X-HubSpot-RateLimit-Max": str(limiter.limit),
                "X-HubSpot-RateLimit-Remaining": str(
                    limiter.remaining(self.bearer_token(request) or "")
                ),
            }
        )
        return response

    # ----------------------------------------------------------------- serialisation

    def _serialise(
        self, kind: str, entry: _Entry, properties: list[str], associations: list[str] | None = None
    ) -> dict[str, Any]:
        values = entry.version.properties
        known = _KNOWN[kind]
        names = dict.fromkeys([*properties, "hs_object_id", "createdate", _MODIFIED[kind]])
        props: dict[str, str | None] = {}
        for name in names:
            if name in known or name in values:
                value = values.get(name)
                props[name] = None if value is None else str(value)
        if "hs_object_id" in props and props["hs_object_id"] is None:
            props["hs_object_id"] = entry.obj.id
        out: dict[str, Any] = {
            "id": entry.obj.id,
            "properties": props,
            "createdAt": format_instant(entry.obj.created_at),
            "updatedAt": format_instant(entry.version.valid_from),
            "archived": entry.archived,
        }
        if entry.archived and entry.obj.archived_at is not None:
            out["archivedAt"] = format_instant(entry.obj.archived_at)
        for target in associations or []:
            linked = self._linked(kind, entry.obj.id, target)
            if linked:
                type_name = _ASSOCIATION_TYPES[(kind, target)][1]
                out.setdefault("associations", {})[target] = {
                    "results": [{"id": i, "type": type_name} for i in linked]
                }
        return out

    def _linked(self, kind: str, object_id: str, target: str) -> list[str]:
        snapshot = self.snapshot()
        if (kind, target) == ("deals", "contacts"):
            entry = snapshot.by_id["deals"].get(object_id)
            return (
                [entry.obj.contact_id] if entry is not None and isinstance(entry.obj, Deal) else []
            )
        if (kind, target) == ("contacts", "deals"):
            return list(snapshot.deals_of_contact.get(object_id, []))
        return []

    # ----------------------------------------------------------------- v3 objects

    def _list(self, request: Request, kind: str) -> Response:
        try:
            limit = int(request.param("limit") or LIST_DEFAULT_LIMIT)
            after = int(request.param("after") or 0)
        except ValueError:
            return validation_error("limit and after must be integers")
        if not 1 <= limit <= LIST_MAX_LIMIT:
            return validation_error(f"limit must be between 1 and {LIST_MAX_LIMIT}, got {limit}")
        properties = _list_param(request, "properties") or list(_DEFAULT_PROPERTIES[kind])
        associations = [
            a for a in _list_param(request, "associations") if (kind, a) in _ASSOCIATION_TYPES
        ]
        snapshot = self.snapshot()
        archived = (request.param("archived") or "false").lower() == "true"
        entries = snapshot.archived[kind] if archived else snapshot.live[kind]
        start = bisect.bisect_left(entries, after, key=lambda e: e.id_int)
        page = entries[start : start + limit]
        body: dict[str, Any] = {
            "results": [self._serialise(kind, e, properties, associations) for e in page]
        }
        if start + limit < len(entries):
            next_after = str(page[-1].id_int + 1)
            query = [(k, v) for k, v in request.query_pairs if k != "after"] + [
                ("after", next_after)
            ]
            body["paging"] = {
                "next": {
                    "after": next_after,
                    "link": f"{self.base_url(request)}{request.path}?{urlencode(query)}",
                }
            }
        return Response(200, body)

    def _read(self, request: Request, kind: str, object_id: str) -> Response:
        properties = _list_param(request, "properties") or list(_DEFAULT_PROPERTIES[kind])
        associations = [
            a for a in _list_param(request, "associations") if (kind, a) in _ASSOCIATION_TYPES
        ]
        entry = self.snapshot().by_id[kind].get(object_id)
        if entry is None:
            return hubspot_error(
                404,
                "Object not found.  objectId are usually numeric.",
                "OBJECT_NOT_FOUND",
                context={"id": [object_id]},
            )
        return Response(200, self._serialise(kind, entry, properties, associations))

    # ----------------------------------------------------------------- search

    def _search(self, request: Request, kind: str) -> Response:
        try:
            body = request.json() or {}
        except ValueError:
            return validation_error("Invalid input JSON on line 1")
        if not isinstance(body, dict):
            return validation_error("Request body must be a JSON object")
        try:
            limit = int(body.get("limit", SEARCH_DEFAULT_LIMIT))
            after = int(body.get("after") or 0)
        except (TypeError, ValueError):
            return validation_error("limit and after must be integers")
        if not 1 <= limit <= SEARCH_MAX_LIMIT:
            return validation_error(
                f"limit must be between 1 and {SEARCH_MAX_LIMIT}, got {limit}",
                errors=[
                    {"message": f"Value {limit} for limit is invalid", "code": "INVALID_LIMIT"}
                ],
            )
        if after >= SEARCH_RESULT_CAP or after < 0:
            return validation_error(
                f"Search results are limited to {SEARCH_RESULT_CAP} per query; "
                f"after={after} is beyond that.",
                errors=[{"message": "after is beyond the result cap", "code": "INVALID_PAGING"}],
            )
        groups = body.get("filterGroups") or []
        problem = _check_groups(groups)
        if problem is not None:
            return validation_error(problem)
        properties = [str(p) for p in body.get("properties") or []] or list(
            _DEFAULT_PROPERTIES[kind]
        )

        modified = _MODIFIED[kind]
        try:
            predicates = [[_predicate(f, modified) for f in g.get("filters", [])] for g in groups]
        except _FilterError as exc:
            return validation_error(str(exc))
        entries = self.snapshot().live[kind]
        if predicates:
            matches = [e for e in entries if any(all(p(e) for p in group) for group in predicates)]
        else:
            matches = list(entries)
        try:
            sorts = [_sort_spec(sort) for sort in body.get("sorts") or []]
        except _FilterError as exc:
            return validation_error(str(exc))
        # Stable sorts applied last-key-first give a multi-key sort; ties stay in id order.
        for name, descending in reversed(sorts):
            matches.sort(key=_sort_key(name, modified), reverse=descending)
        page = matches[after : after + limit]
        response: dict[str, Any] = {
            "total": len(matches),
            "results": [self._serialise(kind, e, properties) for e in page],
        }
        if after + limit < len(matches):
            response["paging"] = {"next": {"after": str(after + limit)}}
        return Response(200, response)

    # ----------------------------------------------------------------- v4 associations

    def _association_items(self, kind: str, object_id: str, target: str) -> list[dict[str, Any]]:
        type_id = _ASSOCIATION_TYPES[(kind, target)][0]
        return [
            {
                "toObjectId": _id_int(linked) if linked.isdigit() else linked,
                "associationTypes": [
                    {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}
                ],
            }
            for linked in self._linked(kind, object_id, target)
        ]

    def _associations(self, request: Request, kind: str, object_id: str, target: str) -> Response:
        if (kind, target) not in _ASSOCIATION_TYPES:
            return validation_error(f"Unsupported association {kind} -> {target}")
        try:
            limit = int(request.param("limit") or ASSOCIATION_MAX_LIMIT)
            after = int(request.param("after") or 0)
        except ValueError:
            return validation_error("limit and after must be integers")
        if not 1 <= limit <= ASSOCIATION_MAX_LIMIT:
            return validation_error(f"limit must be between 1 and {ASSOCIATION_MAX_LIMIT}")
        items = self._association_items(kind, object_id, target)
        body: dict[str, Any] = {"results": items[after : after + limit]}
        if after + limit < len(items):
            query = [(k, v) for k, v in request.query_pairs if k != "after"]
            query.append(("after", str(after + limit)))
            body["paging"] = {
                "next": {
                    "after": str(after + limit),
                    "link": f"{self.base_url(request)}{request.path}?{urlencode(query)}",
                }
            }
        return Response(200, body)

    def _batch_associations(self, request: Request, kind: str, target: str) -> Response:
        if (kind, target) not in _ASSOCIATION_TYPES:
            return validation_error(f"Unsupported association {kind} -> {target}")
        started = format_instant(self.now())
        try:
            body = request.json() or {}
            inputs = [str(item["id"]) for item in body.get("inputs", [])]
        except (ValueError, TypeError, KeyError, AttributeError):
            return validation_error('Invalid input: expected {"inputs": [{"id": "..."}]}')
        if len(inputs) > BATCH_MAX_INPUTS:
            return validation_error(
                f"Too many inputs: {len(inputs)}; at most {BATCH_MAX_INPUTS} are allowed."
            )
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        singular = {"contacts": "contact", "deals": "deal"}
        for object_id in dict.fromkeys(inputs):
            items = self._association_items(kind, object_id, target)
            if items:
                results.append({"from": {"id": object_id}, "to": items})
            else:
                errors.append(
                    {
                        "status": "error",
                        "category": "OBJECT_NOT_FOUND",
                        "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                        "context": {"fromObjectId": [object_id]},
                        "message": f"No {singular[target]} is associated with "
                        f"{singular[kind]} {object_id}.",
                        "errors": [],
                    }
                )
        out: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if errors:
            out["numErrors"] = len(errors)
            out["errors"] = errors
        out["startedAt"] = started
        out["completedAt"] = format_instant(self.now())
        # HubSpot answers a partly failed batch with 207 Multi-Status.
        return Response(207 if errors else 200, out)


# --------------------------------------------------------------------------- search helpers


class _FilterError(ValueError):
    """A filter HubSpot would reject with VALIDATION_ERROR."""


def _list_param(request: Request, name: str) -> list[str]:
    values: list[str] = []
    for raw in request.query.get(name, []):
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    return list(dict.fromkeys(values))


def _check_groups(groups: Any) -> str | None:
    if not isinstance(groups, list):
        return "filterGroups must be a list"
    if len(groups) > SEARCH_MAX_GROUPS:
        return f"Too many filter groups: {len(groups)} (max {SEARCH_MAX_GROUPS})"
    total = 0
    for group in groups:
        filters = group.get("filters", []) if isinstance(group, dict) else None
        if not isinstance(filters, list):
            return "each filter group needs a list of filters"
        if len(filters) > SEARCH_MAX_FILTERS_PER_GROUP:
            return (
                f"Too many filters in a group: {len(filters)} (max {SEARCH_MAX_FILTERS_PER_GROUP})"
            )
        total += len(filters)
    if total > SEARCH_MAX_FILTERS:
        return f"Too many filters: {total} (max {SEARCH_MAX_FILTERS})"
    return None


def _typed(name: str, raw: Any) -> Any:
    """Convert a filter or property value to the comparable type of property ``name``."""
    if raw is None or raw == "":
        return None
    if name in _DATE_PROPERTIES:
        try:
            return epoch_ms(parse_instant(str(raw)))
        except ValueError as exc:
            raise _FilterError(f"{raw!r} is not a valid date for {name}") from exc
    if name in _NUMBER_PROPERTIES:
        try:
            return Decimal(str(raw))
        except InvalidOperation as exc:
            raise _FilterError(f"{raw!r} is not a valid number for {name}") from exc
    return str(raw).casefold()


def _entry_value(entry: _Entry, name: str, modified: str) -> Any:
    if name in _DATE_PROPERTIES:
        return entry.date_ms(name, modified)
    if name == "hs_object_id":
        return Decimal(entry.id_int)
    try:
        return _typed(name, entry.version.properties.get(name))
    except _FilterError:
        return None


def _predicate(spec: Any, modified: str) -> Any:
    if not isinstance(spec, dict) or "propertyName" not in spec:
        raise _FilterError("each filter needs propertyName and operator")
    name = str(spec["propertyName"])
    operator = str(spec.get("operator", "EQ")).upper()

    def value_of(entry: _Entry) -> Any:
        return _entry_value(entry, name, modified)

    if operator == "HAS_PROPERTY":
        return lambda e: value_of(e) is not None
    if operator == "NOT_HAS_PROPERTY":
        return lambda e: value_of(e) is None
    if operator in ("IN", "NOT_IN"):
        wanted = {_typed(name, v) for v in spec.get("values") or []}
        if operator == "IN":
            return lambda e: value_of(e) in wanted
        return lambda e: value_of(e) not in wanted
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        token = str(spec.get("value", "")).strip("*").casefold()

        def contains(e: _Entry) -> bool:
            value = e.version.properties.get(name)
            return value is not None and token in str(value).casefold()

        return contains if operator == "CONTAINS_TOKEN" else (lambda e: not contains(e))
    if "value" not in spec:
        raise _FilterError(f"operator {operator} needs a value")
    target = _typed(name, spec["value"])
    if operator == "BETWEEN":
        if "highValue" not in spec:
            raise _FilterError("BETWEEN needs value and highValue")
        high = _typed(name, spec["highValue"])
        return lambda e: (v := value_of(e)) is not None and target <= v <= high
    comparisons = {
        "EQ": lambda v: v == target,
        "NEQ": lambda v: v != target,
        "LT": lambda v: v is not None and v < target,
        "LTE": lambda v: v is not None and v <= target,
        "GT": lambda v: v is not None and v > target,
        "GTE": lambda v: v is not None and v >= target,
    }
    if operator not in comparisons:
        raise _FilterError(f"Unsupported operator {operator}")
    compare = comparisons[operator]
    if operator in ("LT", "LTE", "GT", "GTE") and target is None:
        raise _FilterError(f"operator {operator} needs a non-empty value")
    return lambda e: compare(value_of(e))


def _sort_spec(sort: Any) -> tuple[str, bool]:
    if isinstance(sort, str):
        return sort.lstrip("-"), sort.startswith("-")
    if isinstance(sort, dict) and "propertyName" in sort:
        return str(sort["propertyName"]), str(
            sort.get("direction", "ASCENDING")
        ).upper() == "DESCENDING"
    raise _FilterError("sorts need propertyName and direction")


def _sort_key(name: str, modified: str) -> Any:
    def key(entry: _Entry) -> tuple[int, Any]:
        value = _entry_value(entry, name, modified)
        # Objects without the property sort after those with it.
        return (1, 0) if value is None else (0, value)

    return key
