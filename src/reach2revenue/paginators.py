"""Paginators: how each API says "there is more", as small classes (after dlt's rest_api).

A paginator reads one response and says where the next page is: a new URL (``next`` links
that carry every parameter), or parameters to send again with the same path (cursors and
page tokens). Extractors loop ``while (step := paginator.next_page(...)) is not None`` and
name their API's paginator in their source package; the loop, retries and landing stay
shared. None of them knows a source.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class NextPage:
    """Where the next page is: ``url`` (absolute or relative) and the params to send.

    ``params`` None means the URL carries them all (a ``next`` link): send none again.
    """

    url: str
    params: Mapping[str, Any] | None


class Paginator(Protocol):
    """Reads a page and returns the next one, or None on the last page."""

    def next_page(
        self, url: str, params: Mapping[str, Any] | None, body: Any
    ) -> NextPage | None: ...


def _dig(body: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body


@dataclass(frozen=True)
class NextLinkPaginator:
    """A full URL of the next page in the body (Graph ``paging.next``, Salesforce
    ``nextRecordsUrl``): follow it, send nothing else. ``items`` names the list whose
    emptiness also ends paging (a next link after an empty page would loop)."""

    link: tuple[str, ...]
    items: tuple[str, ...] | None = None

    def next_page(self, url: str, params: Mapping[str, Any] | None, body: Any) -> NextPage | None:
        link = _dig(body, self.link)
        if not link or (self.items is not None and not _dig(body, self.items)):
            return None
        return NextPage(str(link), None)


@dataclass(frozen=True)
class CursorParamPaginator:
    """An opaque cursor in the body sent back as a parameter with the same request
    (HubSpot ``paging.next.after`` -> ``after``, Google ``nextPageToken`` -> ``pageToken``)."""

    cursor: tuple[str, ...]
    param: str

    def next_page(self, url: str, params: Mapping[str, Any] | None, body: Any) -> NextPage | None:
        cursor = _dig(body, self.cursor)
        if not cursor:
            return None
        return NextPage(url, {**(params or {}), self.param: str(cursor)})


@dataclass(frozen=True)
class SinglePagePaginator:
    """APIs without paging (the ECB's data API, LinkedIn's adAnalytics): one page."""

    def next_page(self, url: str, params: Mapping[str, Any] | None, body: Any) -> NextPage | None:
        return None
