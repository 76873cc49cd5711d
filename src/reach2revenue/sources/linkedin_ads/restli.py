"""Rest.li protocol 2.0 query strings, built by hand as LinkedIn parses them.

With ``X-Restli-Protocol-Version: 2.0.0`` a query value is a structure: ``List(a,b)`` is a
list, ``(key:value,key:value)`` a record, anything else a string. The characters that
build the structure, ``( ) , :``, stay literal; inside a string value every reserved
character is percent-encoded, so ``urn:li:sponsoredAccount:123`` travels as
``urn%3Ali%3AsponsoredAccount%3A123``. An HTTP library's own parameter encoding would
encode the structure too (``List%28...``) and double-encode the URN, which LinkedIn answers
with 400: hence the query is written here and sent as part of the URL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from urllib.parse import quote


class RestliValue(str):
    """Query text already in Rest.li 2.0 form (a list or record): not encoded again."""

    __slots__ = ()


def encode(value: str | int | RestliValue) -> str:
    """A string value with every reserved character percent-encoded (structure kept)."""
    if isinstance(value, RestliValue):
        return str(value)
    return quote(str(value), safe="")


def restli_list(items: Iterable[str | int | RestliValue]) -> RestliValue:
    """``List(a,b,...)`` of the encoded items."""
    return RestliValue(f"List({','.join(encode(item) for item in items)})")


def restli_record(fields: Mapping[str, str | int | RestliValue]) -> RestliValue:
    """``(key:value,...)`` of the encoded fields, in the mapping's order."""
    return RestliValue(
        "(" + ",".join(f"{encode(key)}:{encode(value)}" for key, value in fields.items()) + ")"
    )


def restli_date(day: date) -> RestliValue:
    """A ``com.linkedin.common.Date`` record: ``(year:2024,month:3,day:1)``."""
    return restli_record({"year": day.year, "month": day.month, "day": day.day})


def query_string(params: Mapping[str, str | int | RestliValue]) -> str:
    """``key=value&...`` with plain values encoded and Rest.li structures kept as built."""
    return "&".join(f"{encode(key)}={encode(value)}" for key, value in params.items())
