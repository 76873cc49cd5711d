"""The registry: every source the pipeline reads, one line each.

A source is a package beside this file that builds one ``contracts.Source`` value named
``SOURCE``; registering it is adding it to the tuple below. Only the pipeline and the DAG
read the registry; shared modules are handed a source or a table. Importing this module is
cheap (no HTTP library, pandas or DuckDB): extractors import their heavy parts lazily.
"""

from __future__ import annotations

from reach2revenue.contracts import RawTable, Source, SourceKind, tables_by_key
from reach2revenue.sources import ecb_fx, google_ads, hubspot, linkedin_ads, meta_ads, salesforce

SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        ecb_fx.SOURCE,
        meta_ads.SOURCE,
        hubspot.SOURCE,
        google_ads.SOURCE,
        linkedin_ads.SOURCE,
        salesforce.SOURCE,
    )
}

SOURCE_NAMES: tuple[str, ...] = tuple(SOURCES)


def get_source(name: str) -> Source:
    """The registered source called ``name``; KeyError lists the known ones."""
    try:
        return SOURCES[name]
    except KeyError:
        raise KeyError(f"unknown source {name!r}; known: {', '.join(SOURCE_NAMES)}") from None


def raw_tables() -> dict[tuple[str, str], RawTable]:
    """``(source, entity) -> table`` of every registered source, in load order."""
    return tables_by_key(SOURCES)


def sources_of_kind(kind: SourceKind) -> list[Source]:
    """The registered sources that feed ``kind`` (ad platforms, CRMs, reference data)."""
    return [source for source in SOURCES.values() if source.kind is kind]


def dbt_union_vars() -> dict[str, list[str]]:
    """The dbt vars the union models loop over: the registered sources by kind."""
    return {
        "ad_platforms": [s.name for s in sources_of_kind(SourceKind.AD_PLATFORM)],
        "crms": [s.name for s in sources_of_kind(SourceKind.CRM)],
    }
