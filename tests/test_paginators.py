"""Paginators say where the next page is, from the page itself."""

from __future__ import annotations

from reach2revenue.paginators import (
    CursorParamPaginator,
    NextLinkPaginator,
    NextPage,
    SinglePagePaginator,
)


def test_next_link_is_followed_with_no_params_and_stops_on_empty_or_missing() -> None:
    paginator = NextLinkPaginator(link=("paging", "next"), items=("data",))
    page = {"data": [1], "paging": {"next": "https://g/x?after=QV"}}
    assert paginator.next_page("v21.0/x", {"limit": 5}, page) == NextPage(
        "https://g/x?after=QV", None
    )
    assert paginator.next_page("u", None, {"data": [], "paging": {"next": "https://g/y"}}) is None
    assert paginator.next_page("u", None, {"data": [1], "paging": {}}) is None
    assert paginator.next_page("u", None, "not json") is None


def test_salesforce_style_next_records_url() -> None:
    paginator = NextLinkPaginator(link=("nextRecordsUrl",))
    page = {"done": False, "nextRecordsUrl": "/services/data/v60.0/query/01g-2000"}
    assert paginator.next_page("q", {"q": "SELECT"}, page) == NextPage(
        "/services/data/v60.0/query/01g-2000", None
    )
    assert paginator.next_page("q", None, {"done": True, "records": []}) is None


def test_cursor_param_is_sent_again_with_the_same_query() -> None:
    paginator = CursorParamPaginator(cursor=("paging", "next", "after"), param="after")
    step = paginator.next_page(
        "crm/v3/objects/deals", {"limit": 100}, {"paging": {"next": {"after": 101}}}
    )
    assert step == NextPage("crm/v3/objects/deals", {"limit": 100, "after": "101"})
    assert paginator.next_page("crm", {"limit": 100}, {"results": []}) is None


def test_single_page() -> None:
    assert SinglePagePaginator().next_page("x", None, {"anything": 1}) is None
