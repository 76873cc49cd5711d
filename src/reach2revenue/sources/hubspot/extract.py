"""HubSpot CRM: contacts and deals modified in a window, plus the deals' contact links.

Incremental through the search API on the "last modified" property (contacts:
``lastmodifieddate``, deals: ``hs_lastmodifieddate``), ascending, over the half-open
window ``[start, end)`` in epoch milliseconds. The window starts at the run's interval
start, or earlier at the cursor when a previous run failed or was missed, so no change is
ever skipped; the first load (no cursor yet) fetches the whole CRM.

A first load (no cursor yet) reads the whole CRM through the list endpoints instead
(``GET /crm/v3/objects/{type}``, 100 per page, live and then ``archived=true``): they run
under the general limit (100-190 requests per 10 s by tier), not search's 5 per second,
so a 100k-object CRM takes minutes instead of hours, and archived objects arrive too.

Deletions: HubSpot deletes by archiving, and search never returns archived objects, so an
incremental run also pages ``GET /crm/v3/objects/{type}?archived=true`` into the same
extraction, after the search pages. The list has no archive-time filter and no documented
order by ``archivedAt`` (api-shapes.md §4), so paging cannot stop early: every run reads
all archived objects, usually few (one request per 100 of them and type). They land as
HubSpot sends them (``archived: true``, ``archivedAt``), merge over the live version
(an archive does not make ``hs_lastmodifieddate`` older, and ties go to the newer
extraction), and staging marks them deleted. Their contact links are not re-read.

Search refuses to page past 10,000 results per query; before that point the query is
restarted from the last modified value seen (records of that millisecond come again and
are deduplicated by id when loaded). Deal-to-contact associations for every fetched deal
come from the v4 batch-read endpoint (at most 100 deals per call) and land as entity
``deal_contacts``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from reach2revenue.contracts import Credentials
from reach2revenue.cursors import read_cursor
from reach2revenue.failures import ConfigurationError
from reach2revenue.http_client import ApiClient, ApiRequestError, RateLimiter, RetryPolicy
from reach2revenue.landing import ExtractionWriter, extraction_stamp, iso_utc, utc_now
from reach2revenue.paginators import CursorParamPaginator
from reach2revenue.sources.hubspot.errors import ERRORS
from reach2revenue.sources.hubspot.settings import MODIFIED_PROPERTY, PROPERTIES

log = logging.getLogger(__name__)

SOURCE = "hubspot"
ENTITIES = ("contacts", "deals", "deal_contacts")


SEARCH_RESULT_CAP = 10_000  # HubSpot answers 400 when paging past this many results
MAX_SEARCH_LIMIT = 200
ASSOCIATION_BATCH_SIZE = 100
ASSOCIATIONS_PATH = "crm/v4/associations/deals/contacts/batch/read"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIRST_LOAD_START = _EPOCH  # no cursor yet: fetch the whole CRM once


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def to_epoch_ms(moment: datetime) -> int:
    """Epoch milliseconds of an instant (naive means UTC)."""
    # Integer arithmetic: float timestamps can be a millisecond off.
    return (_utc(moment) - _EPOCH) // timedelta(milliseconds=1)


def parse_hubspot_instant(value: str | None) -> int | None:
    """Epoch ms of a HubSpot datetime (ISO ``...Z`` or an epoch-ms string); None if unreadable."""
    if not value:
        return None
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    try:
        return to_epoch_ms(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


def window_start(
    landing_dir: Path,
    interval_start: datetime,
    entities: Sequence[str],
    initial_start: datetime | None = None,
) -> datetime:
    """Where the search window starts: the interval start, or earlier.

    Earlier when a cursor of ``entities`` lies before it (a failed or missed run), and at
    ``initial_start`` when an entity has no cursor yet (first load): a CRM is a set of
    objects, not a stream of days, so the first load must also bring objects last
    modified before the interval (the contact behind a deal won today). ``initial_start``
    None keeps the interval start on a first load.
    """
    start = _utc(interval_start)
    for entity in entities:
        cursor = read_cursor(landing_dir, SOURCE, entity)
        if cursor is None and initial_start is not None:
            cursor = _utc(initial_start)
        if cursor is not None and cursor < start:
            start = cursor
    return start


def _first_load(
    landing_dir: Path, entities: Sequence[str], initial_start: datetime | None, via_list: bool
) -> bool:
    """No cursor for any of ``entities`` yet and a whole-CRM list load is wanted."""
    return (
        via_list
        and initial_start is not None
        and all(read_cursor(landing_dir, SOURCE, entity) is None for entity in entities)
    )


def _writer(
    landing_dir: Path,
    entity: str,
    start: datetime,
    end: datetime,
    extracted_at: datetime,
    client: ApiClient,
) -> ExtractionWriter:
    """The landing of one entity's extraction over the window ``[start, end)``."""
    return ExtractionWriter(
        landing_dir,
        SOURCE,
        entity,
        # The last day the window covers: a nightly run lands under its own day, and a
        # first load (window from 1970) under the day it loaded through, not under 1970.
        partition_date=(end - timedelta(microseconds=1)).date().isoformat(),
        window_start=iso_utc(start),
        window_end=iso_utc(end),
        extraction_id=extraction_stamp(extracted_at),
        extracted_at=extracted_at,
        secrets=client.secrets,
        request_count=lambda: client.request_count,
    )


def search_pages(
    client: ApiClient,
    object_type: str,
    *,
    start_ms: int,
    end_ms: int,
    page_limit: int = MAX_SEARCH_LIMIT,
    limiter: RateLimiter | None = None,
    stats: dict[str, int] | None = None,
    result_cap: int | None = None,
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Yield ``(response text, results)`` for every search page of one object type.

    Restarts the query from the last modified value seen before passing the result cap
    (``result_cap``, default `SEARCH_RESULT_CAP`); ``stats["restarts"]`` counts restarts.
    """
    cap = SEARCH_RESULT_CAP if result_cap is None else result_cap
    prop = MODIFIED_PROPERTY[object_type]
    limit = max(1, min(page_limit, MAX_SEARCH_LIMIT))
    path = f"crm/v3/objects/{object_type}/search"
    gte = start_ms
    after: str | None = None
    last_seen = start_ms
    while True:
        body: dict[str, Any] = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": prop, "operator": "GTE", "value": str(gte)},
                        {"propertyName": prop, "operator": "LT", "value": str(end_ms)},
                    ]
                }
            ],
            "sorts": [{"propertyName": prop, "direction": "ASCENDING"}],
            "properties": list(PROPERTIES[object_type]),
            "limit": limit,
        }
        if after is not None:
            body["after"] = after
        response = client.post(path, body, limiter=limiter)
        data = response.data if isinstance(response.data, dict) else {}
        results = list(data.get("results") or [])
        yield response.text, results
        for record in results:
            modified = parse_hubspot_instant((record.get("properties") or {}).get(prop))
            if modified is None:
                modified = parse_hubspot_instant(record.get("updatedAt"))
            if modified is not None and modified > last_seen:
                last_seen = modified
        next_after = ((data.get("paging") or {}).get("next") or {}).get("after")
        if not next_after or not results:
            return
        if str(next_after).isdigit() and int(next_after) + limit > cap:
            if last_seen <= gte:
                # Every result shares one millisecond: moving the filter cannot progress.
                raise ApiRequestError(
                    SOURCE,
                    "POST",
                    client.redact(client.url(path)),
                    None,
                    f"more than {cap} {object_type} share {prop}={gte}; narrow the window",
                )
            gte, after = last_seen, None
            if stats is not None:
                stats["restarts"] = stats.get("restarts", 0) + 1
            continue
        after = str(next_after)


MAX_LIST_LIMIT = 100  # HubSpot's page size cap for the list endpoints
# The list endpoints answer `paging.next.after`, sent back as `after` with the same query.
LIST_PAGINATOR = CursorParamPaginator(cursor=("paging", "next", "after"), param="after")


def list_pages(
    client: ApiClient,
    object_type: str,
    *,
    archived: bool,
    limiter: RateLimiter | None = None,
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Yield ``(response text, results)`` for every page of the list endpoint."""
    params = {
        "limit": MAX_LIST_LIMIT,
        "properties": ",".join(PROPERTIES[object_type]),
        "archived": "true" if archived else "false",
    }
    for response in client.pages(
        f"crm/v3/objects/{object_type}", params, LIST_PAGINATOR, limiter=limiter
    ):
        data = response.data if isinstance(response.data, dict) else {}
        yield response.text, list(data.get("results") or [])


def _list_objects(
    client: ApiClient,
    object_type: str,
    *,
    landing_dir: Path,
    start: datetime,
    end: datetime,
    extracted_at: datetime,
    limiter: RateLimiter | None,
) -> tuple[Path, list[str]]:
    """Land a whole object type (live, then archived) from the list endpoint."""
    landing = _writer(landing_dir, object_type, start, end, extracted_at, client)
    ids: dict[str, None] = {}
    for archived in (False, True):
        for text, results in list_pages(client, object_type, archived=archived, limiter=limiter):
            landing.add(text, len(results))
            for record in results:
                if record.get("id") is not None:
                    ids[str(record["id"])] = None
    manifest = landing.finish(
        {
            "object_type": object_type,
            "endpoint": f"/crm/v3/objects/{object_type}",
            "archived": [False, True],
            "properties": list(PROPERTIES[object_type]),
            "limit": MAX_LIST_LIMIT,
            "unique_ids": len(ids),
        }
    )
    return manifest, list(ids)


def _extract_objects(
    client: ApiClient,
    object_type: str,
    *,
    landing_dir: Path,
    start: datetime,
    end: datetime,
    extracted_at: datetime,
    page_limit: int,
    limiter: RateLimiter | None,
    list_limiter: RateLimiter | None = None,
    read_archived: bool = True,
) -> tuple[Path, list[str]]:
    """Land one object type's search pages, then (``read_archived``) every archived object.

    Returns the manifest and the ids of the live objects found (ordered): the archived
    ones need no association read.
    """
    landing = _writer(landing_dir, object_type, start, end, extracted_at, client)
    ids: dict[str, None] = {}
    archived_ids: dict[str, None] = {}
    stats: dict[str, int] = {}
    start_ms, end_ms = to_epoch_ms(start), to_epoch_ms(end)
    for text, results in search_pages(
        client,
        object_type,
        start_ms=start_ms,
        end_ms=end_ms,
        page_limit=page_limit,
        limiter=limiter,
        stats=stats,
    ):
        landing.add(text, len(results))
        for record in results:
            if record.get("id") is not None:
                ids[str(record["id"])] = None
    search_page_count = len(landing.pages)
    if read_archived:
        # Search never returns archived objects: without this a deletion is never seen.
        for text, results in list_pages(
            client, object_type, archived=True, limiter=list_limiter or limiter
        ):
            landing.add(text, len(results))
            for record in results:
                if record.get("id") is not None:
                    archived_ids[str(record["id"])] = None
    manifest = landing.finish(
        {
            "object_type": object_type,
            "endpoint": f"/crm/v3/objects/{object_type}/search",
            "modified_property": MODIFIED_PROPERTY[object_type],
            "window_start_ms": start_ms,
            "window_end_ms": end_ms,
            "properties": list(PROPERTIES[object_type]),
            "limit": max(1, min(page_limit, MAX_SEARCH_LIMIT)),
            "restarts": stats.get("restarts", 0),
            "search_pages": search_page_count,
            "unique_ids": len(ids),
            # The archived objects follow the search pages (list endpoint, archived=true).
            "archived_endpoint": f"/crm/v3/objects/{object_type}" if read_archived else None,
            "archived_pages": len(landing.pages) - search_page_count,
            "archived_ids": len(archived_ids),
        }
    )
    return manifest, [object_id for object_id in ids if object_id not in archived_ids]


def _extract_deal_contacts(
    client: ApiClient,
    deal_ids: Sequence[str],
    *,
    landing_dir: Path,
    start: datetime,
    end: datetime,
    extracted_at: datetime,
    limiter: RateLimiter | None,
) -> Path:
    """Land the contact associations of ``deal_ids`` (batch read, 100 deals per call).

    The requested ids are kept in the manifest: a deal whose contacts were all removed is
    absent from the response, and the loader must still clear its old links.
    """
    landing = _writer(landing_dir, "deal_contacts", start, end, extracted_at, client)
    pending: list[dict[str, str]] = [{"id": deal_id} for deal_id in deal_ids]
    while pending:
        chunk, pending = pending[:ASSOCIATION_BATCH_SIZE], pending[ASSOCIATION_BATCH_SIZE:]
        response = client.post(ASSOCIATIONS_PATH, {"inputs": chunk}, limiter=limiter)
        data = response.data if isinstance(response.data, dict) else {}
        results = list(data.get("results") or [])
        landing.add(response.text, sum(len(r.get("to") or []) for r in results))
        for result in results:
            # A deal with more contacts than one page holds: ask again from its cursor.
            after = ((result.get("paging") or {}).get("next") or {}).get("after")
            deal_id = (result.get("from") or {}).get("id")
            if after and deal_id is not None:
                pending.append({"id": str(deal_id), "after": str(after)})
    return landing.finish(
        {
            "endpoint": f"/{ASSOCIATIONS_PATH}",
            "from_object_type": "deals",
            "to_object_type": "contacts",
            "batch_size": ASSOCIATION_BATCH_SIZE,
            "deal_ids": list(deal_ids),
        }
    )


def extract_hubspot(
    creds: Credentials,
    *,
    interval_start: datetime,
    interval_end: datetime,
    landing_dir: Path,
    page_limit: int = MAX_SEARCH_LIMIT,
    entities: Sequence[str] = ENTITIES,
    retry: RetryPolicy | None = None,
    search_rate_per_sec: float = 4.5,
    rate_per_sec: float = 9.0,
    initial_start: datetime | None = FIRST_LOAD_START,
    full_load_via_list: bool = True,
    read_archived: bool = True,
    client: ApiClient | None = None,
) -> list[Path]:
    """Land contacts, deals and deal-contact links changed in the window; return manifests.

    Args:
        creds: Base URL and private-app token.
        interval_start: Start of the run's interval (aware; naive means UTC).
        interval_end: End of the interval, excluded.
        landing_dir: Root of the landing zone.
        page_limit: Search page size (HubSpot allows at most 200).
        entities: Subset of ``contacts``, ``deals``, ``deal_contacts`` (associations need
            the deals, so ``deal_contacts`` implies fetching deals).
        retry: Retry policy (tests use tiny delays).
        search_rate_per_sec: Client-side cap for search calls. HubSpot allows 5/s per
            account in a rolling second; 4.5 leaves room for network jitter.
        rate_per_sec: Cap for other calls (HubSpot: 100-200 per 10 s by tier).
        initial_start: Window start for an entity without a cursor (first load); the
            default fetches the whole CRM once. None starts at ``interval_start``.
        full_load_via_list: Read a first load through the list endpoints (fast, with
            archived objects) rather than search.
        read_archived: After each search, also read every archived object (the list
            endpoint with ``archived=true``): deletions reach the warehouse. Off only for
            tests of the search alone.
        client: A ready client (tests); otherwise one is built from ``creds``.

    Returns:
        Manifest paths in load order: contacts, deals, deal_contacts.
    """
    unknown = set(entities) - set(ENTITIES)
    if unknown:
        raise ConfigurationError(f"unknown HubSpot entities {sorted(unknown)}; known: {ENTITIES}")
    landing_dir = Path(landing_dir)
    end = _utc(interval_end)
    own_client = client is None
    api = client or ApiClient(SOURCE, creds.base_url, creds.token, retry=retry, errors=ERRORS)
    search_limiter = RateLimiter(search_rate_per_sec)
    limiter = RateLimiter(rate_per_sec)
    extracted_at = utc_now()
    manifests: list[Path] = []
    try:

        def objects(
            object_type: str, cursor_entities: list[str]
        ) -> tuple[Path, list[str], datetime]:
            """One object type's window: a whole-CRM list load, or a search of the window."""
            start = window_start(landing_dir, interval_start, cursor_entities, initial_start)
            if _first_load(landing_dir, cursor_entities, initial_start, full_load_via_list):
                path, ids = _list_objects(
                    api,
                    object_type,
                    landing_dir=landing_dir,
                    start=start,
                    end=end,
                    extracted_at=extracted_at,
                    limiter=limiter,
                )
            else:
                path, ids = _extract_objects(
                    api,
                    object_type,
                    landing_dir=landing_dir,
                    start=start,
                    end=end,
                    extracted_at=extracted_at,
                    page_limit=page_limit,
                    limiter=search_limiter,
                    list_limiter=limiter,
                    read_archived=read_archived,
                )
            log.info(
                "hubspot: %s %s..%s: %d ids", object_type, iso_utc(start), iso_utc(end), len(ids)
            )
            return path, ids, start

        if "contacts" in entities:
            path, _, _ = objects("contacts", ["contacts"])
            manifests.append(path)
        if "deals" in entities or "deal_contacts" in entities:
            # Links are fetched for the deals found, so the deals window must also cover
            # any gap left in deal_contacts.
            path, deal_ids, start = objects("deals", ["deals", "deal_contacts"])
            if "deals" in entities:
                manifests.append(path)
            if "deal_contacts" in entities:
                manifests.append(
                    _extract_deal_contacts(
                        api,
                        deal_ids,
                        landing_dir=landing_dir,
                        start=start,
                        end=end,
                        extracted_at=extracted_at,
                        limiter=limiter,
                    )
                )
    finally:
        if own_client:
            api.close()
    log.info("hubspot: %d requests, %d retries", api.request_count, api.retry_count)
    return manifests
