"""Helpers every source's flattener uses: landed pages in, raw text values out.

Raw values stay exactly as the API sent them: strings unchanged, anything else (numbers,
booleans, lists, objects) as compact JSON text, so nothing is interpreted before the
quality suites and dbt do it on purpose.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reach2revenue.landing import Manifest


def raw_text(value: Any) -> str | None:
    """An API value as raw VARCHAR: strings unchanged, anything else as JSON text."""
    if value is None or isinstance(value, str):
        return value
    # JSON's own spelling of the commonest non-strings, without the encoder's set-up per
    # value (a tenth of landing a million Salesforce rows went to json.dumps).
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return str(value)
    if type(value) is float and math.isfinite(value):
        return repr(value)  # what json.dumps writes for a finite float
    return json.dumps(value, separators=(",", ":"), sort_keys=False)


def json_pages(manifest: Manifest) -> Iterator[tuple[str, Any]]:
    """``(landed file, parsed JSON)`` of each page of an extraction, in order."""
    for page in manifest.page_paths():
        yield str(page), json.loads(page.read_text(encoding="utf-8"))


def text_pages(manifest: Manifest) -> Iterator[tuple[str, str]]:
    """``(landed file, text)`` of each page of an extraction, in order."""
    for page in manifest.page_paths():
        yield str(page), page.read_text(encoding="utf-8")


def lineage(landed_file: str, manifest: Manifest) -> dict[str, str]:
    """The lineage columns every raw row carries after its API columns."""
    return {"_landed_file": landed_file, "_extraction_id": manifest.extraction_id}
