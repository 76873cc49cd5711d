"""The types every part agrees on: a source, its raw tables, merge rules, the interval.

Types only, below everything else: it imports nothing of the pipeline, no pandas, no
DuckDB, no HTTP library, so the DAG file, the registry and every shared module can import
it cheaply. A source is one package under ``reach2revenue/sources/<name>/`` that builds one
:class:`Source` value; ``reach2revenue/sources/__init__.py`` registers it in one line.
Shared modules (``http_client``, ``raw``, ``quality``, ``landing``, ``credentials``,
``cursors``) are handed a source or a table and never name one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reach2revenue.failures import IntervalError

if TYPE_CHECKING:
    from reach2revenue.landing import Manifest
    from reach2revenue.settings import Settings


@dataclass(frozen=True)
class Interval:
    """A half-open UTC interval `[start, end)` of data to process."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise IntervalError("interval bounds must be timezone-aware")
        if self.end <= self.start:
            raise IntervalError(
                f"empty interval: {self.start.isoformat()} .. {self.end.isoformat()}"
            )

    @property
    def start_date(self) -> date:
        return self.start.astimezone(UTC).date()

    @property
    def end_date(self) -> date:
        """First day not included (an end at 00:30 still includes that day's data)."""
        end = self.end.astimezone(UTC)
        return end.date() if end.time() == time(0) else end.date() + timedelta(days=1)

    @classmethod
    def from_dates(cls, start: date | str, end: date | str) -> Interval:
        start_day = date.fromisoformat(start) if isinstance(start, str) else start
        end_day = date.fromisoformat(end) if isinstance(end, str) else end
        return cls(
            datetime.combine(start_day, time(0), tzinfo=UTC),
            datetime.combine(end_day, time(0), tzinfo=UTC),
        )

    def __str__(self) -> str:
        return f"{self.start.isoformat()} .. {self.end.isoformat()}"


#: Where each raw row came from; every raw table carries these after the API columns.
LINEAGE_COLUMNS = ("_landed_file", "_extraction_id")


class MergeRule(Enum):
    """How a validated batch replaces what a raw table holds (idempotent, all of them).

    - ``REPLACE_DAYS``: every row of the ``scope_columns`` days (e.g. account and report
      day) that the batch's extractions cover is replaced, days without rows included;
      each day comes from the newest extraction covering it (report APIs that restate).
    - ``UPSERT_NEWEST``: upsert by key; a stored row is never replaced by one with an older
      ``modified_column`` (CRM objects read incrementally).
    - ``REPLACE_CHILDREN``: all rows of each parent (``scope_columns``) the batch asked
      for are replaced, parents now without children included (association lists).
    - ``UPSERT``: upsert by key; the newest extraction of a key wins (reference data).
    - ``REPLACE_ALL``: the newest extraction is the whole table (a user's file).
    """

    REPLACE_DAYS = "replace_days"
    UPSERT_NEWEST = "upsert_newest"
    REPLACE_CHILDREN = "replace_children"
    UPSERT = "upsert"
    REPLACE_ALL = "replace_all"


Flattener = Callable[["Manifest"], list[dict[str, Any]]]
"""Landed pages of one extraction -> raw rows (API columns as text, plus lineage)."""

#: The JSON types a response field may have (``integer`` is a number without a fraction;
#: ``number`` accepts integers too).
JSON_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array"})


@dataclass(frozen=True)
class ResponseField:
    """One field of a record as the API sends it.

    Attributes:
        path: where it is in the record, dots into objects and ``[]`` into each item of a
            list (``properties.amount``, ``metrics.impressions``, ``to[].toObjectId``); for
            a CSV response, the column name.
        types: the JSON types it may have (a subset of :data:`JSON_TYPES`).
        required: the platform always sends it (a missing one is drift, not a null).
        nullable: JSON ``null`` is a valid value.
        measure: a number the marts add up (spend, impressions, amount).
    """

    path: str
    types: tuple[str, ...] = ("string",)
    required: bool = True
    nullable: bool = False
    measure: bool = False


@dataclass(frozen=True)
class ResponseSchema:
    """What one raw table's landed pages hold, checked before they are flattened.

    Attributes:
        records: the key of each page (or stream batch) holding the list of records
            (``data``, ``results``, ``records``, ``elements``); ``""`` when the page is
            the record itself; for CSV, unused.
        fields: the record's fields; anything else the API sends is reported as new.
        ignored: fields the API sends that are known and deliberately not loaded (paths as
            in ``fields``; an object path covers everything below it).
        page_keys: the other top-level keys a page (batch) may carry (paging, totals).
        stream: a page is a JSON array of batches (Google Ads ``searchStream``).
        empty_batch_omits_records: an empty answer leaves ``records`` out (proto3 JSON
            drops empty lists); only a sole batch of a stream may then lack it.
        csv: pages are CSV; ``fields`` are columns; ``csv_alternatives`` lists other
            header layouts of the same table, told apart by their first column.
    """

    records: str
    fields: tuple[ResponseField, ...]
    ignored: tuple[str, ...] = ()
    page_keys: tuple[str, ...] = ()
    stream: bool = False
    empty_batch_omits_records: bool = False
    csv: bool = False
    csv_alternatives: tuple[tuple[ResponseField, ...], ...] = ()

    def field(self, path: str) -> ResponseField:
        """The declared field at ``path``."""
        for declared in self.fields:
            if declared.path == path:
                return declared
        raise KeyError(path)


@dataclass(frozen=True)
class RawTable:
    """One raw table of a source: ``raw.<source>_<entity>``, all columns text.

    Attributes:
        source, entity: where it lands (``landing/<source>/<entity>/``).
        columns: API columns in order; the loader adds lineage columns after them.
        key: what makes a row unique (the suite checks it; merges match on it).
        merge: the merge rule.
        flatten: turns one extraction's landed pages into rows.
        scope_columns: REPLACE_DAYS: the columns of a replaced day, the day column last
            (``("account_id", "date_start")``); REPLACE_CHILDREN: the parent key.
        modified_column: UPSERT_NEWEST: the last-modified column.
        scope_param: REPLACE_CHILDREN: the manifest ``params`` key listing the parents
            asked for (so a parent whose children all went away is emptied); REPLACE_DAYS:
            the manifest ``params`` key holding the fixed scope values (``account_id``).
        response: what the API sends per page and record (``reach2revenue.drift`` checks
            every landed page against it before flattening); None: not checked.
    """

    source: str
    entity: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    merge: MergeRule
    flatten: Flattener = field(compare=False, repr=False)
    scope_columns: tuple[str, ...] = ()
    modified_column: str | None = None
    scope_param: str | None = None
    response: ResponseSchema | None = field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        """Table name in schema ``raw`` (and the suite's ``<source>_<entity>``)."""
        return f"{self.source}_{self.entity}"

    @property
    def qualified_name(self) -> str:
        return f"raw.{self.name}"


class SourceKind(Enum):
    """What a source feeds: the dbt unions and the marts read sources by kind."""

    AD_PLATFORM = "ad_platform"
    CRM = "crm"
    REFERENCE = "reference"


@dataclass(frozen=True)
class UsageHint:
    """What a response says about the platform's rate budget (read on every response).

    Attributes:
        used: fraction of the tightest budget already used (0..1; Meta's usage percent,
            HubSpot's ``1 - remaining / max``); None when the response does not say.
        reset_seconds: seconds until that usage is back to zero (Meta's
            ``reset_time_duration``, HubSpot's interval); the client paces over it.
        wait_seconds: the platform blocks calls this long (Meta's
            ``estimated_time_to_regain_access``); ``math.inf`` when not within hours (a
            daily quota). None when it does not say.
        note: the platform's own words, for logs and errors.
    """

    used: float | None = None
    reset_seconds: float | None = None
    wait_seconds: float | None = None
    note: str = ""


@dataclass(frozen=True)
class ErrorPolicy:
    """How a platform says "try later" and what its errors say.

    ``429`` and ``5xx`` are always transient. ``is_throttle(status, body)`` adds the
    platform's own throttles (Meta's HTTP 400 code 17); ``retry_after(body)`` reads a
    wait the body asks for (Google's ``retryDelay``); ``message(body, text)`` extracts the
    platform's own message for errors and logs; ``usage(status, headers, body)`` reads the
    platform's rate-budget signals (headers such as Meta's ``x-business-use-case-usage``)
    into a :class:`UsageHint`, so the shared client paces and waits without naming a source.
    """

    is_throttle: Callable[[int, Any], bool] | None = None
    retry_after: Callable[[Any], float | None] | None = None
    message: Callable[[Any, str], str] | None = None
    usage: Callable[[int, Mapping[str, str], Any], UsageHint | None] | None = None


@dataclass(frozen=True)
class Credentials:
    """Where a source's API is and how to authenticate: resolved from the Airflow
    connection ``<source>_default`` or ``R2R_<SOURCE>_*`` (see ``reach2revenue.credentials``).

    ``token`` is excluded from ``repr`` so that logging the object cannot leak it;
    ``options`` is the source's typed options dataclass.
    """

    base_url: str
    token: str = field(repr=False)
    options: Any = None
    origin: str = "env"


@dataclass(frozen=True)
class ExtractRequest:
    """Everything one extraction needs; a source's ``extract`` takes only this."""

    interval: Interval
    credentials: Credentials
    settings: Settings

    @property
    def landing_dir(self) -> Path:
        return self.settings.landing_dir


@dataclass(frozen=True)
class Source:
    """One source: its tables, how to extract it, its options and its errors.

    Attributes:
        name: package and landing name (``meta_ads``); connection ``<name>_default``.
        kind: what it feeds (ad platform, CRM, reference data).
        tables: raw tables in load order (parents before children).
        extract: lands the interval's data; returns manifest paths. Called with an
            :class:`ExtractRequest`; imports its HTTP code lazily.
        default_base_url: the real service.
        options_type: a frozen dataclass of typed options parsed from the connection's
            ``extra`` or ``R2R_<NAME>_<FIELD>``; None when the source has none.
        needs_token: False for public APIs (the ECB).
        errors: the platform's error policy, handed to the shared HTTP client.
    """

    name: str
    kind: SourceKind
    tables: tuple[RawTable, ...]
    extract: Callable[[ExtractRequest], list[Path]] = field(compare=False, repr=False)
    default_base_url: str
    options_type: type | None = None
    needs_token: bool = True
    errors: ErrorPolicy = field(default_factory=ErrorPolicy)

    @property
    def conn_id(self) -> str:
        return f"{self.name}_default"

    def table(self, entity: str) -> RawTable:
        for table in self.tables:
            if table.entity == entity:
                return table
        raise KeyError(f"{self.name} has no raw table {entity!r}")


def tables_by_key(sources: Mapping[str, Source]) -> dict[tuple[str, str], RawTable]:
    """``(source, entity) -> table`` over sources, in registry then load order."""
    return {(t.source, t.entity): t for s in sources.values() for t in s.tables}


# ----------------------------------------------------------------------- dbt contracts
# What each source's staging folder conforms to, so that one union model per kind (looping
# over dbt vars ``ad_platforms`` and ``crms``) covers every source. Column name -> data
# type; each conformed model enforces it (``config: contract: {enforced: true}``) and the
# registry test checks the YAML against these.

#: ``stg_<platform>__ad_reports``: one row per account, campaign, report day and country.
AD_REPORT_CONTRACT: dict[str, str] = {
    "ad_report_id": "varchar",  # unique within the platform
    "ad_platform": "varchar",  # the source name, e.g. meta_ads
    "account_id": "varchar",
    "campaign_id": "varchar",
    "campaign_name": "varchar",
    "country_code": "varchar",  # ISO-2 upper case; anything else lands in Unassigned
    "currency_code": "varchar",  # ISO 4217, the account currency spend is in
    "report_date": "date",  # the platform's report day (account-local), never shifted
    "impressions": "bigint",
    "reach": "bigint",  # null where the platform does not report reach
    "clicks": "bigint",
    "spend": "decimal(18,6)",  # in currency_code
    "leads": "bigint",  # platform-reported leads (0 when none)
}

#: ``stg_<crm>__crm_contacts``: one row per person the CRM knows (contacts, leads).
CRM_CONTACT_CONTRACT: dict[str, str] = {
    "crm": "varchar",
    "contact_id": "varchar",  # unique within the CRM
    "email_hash": "varchar",  # keyed or plain hash of the normalised email; no clear text
    "country_raw": "varchar",  # as typed (free text)
    "analytics_source": "varchar",  # the CRM's own "original source" when it has one
    "utm_source": "varchar",
    "utm_campaign": "varchar",
    "is_deleted": "boolean",
    "created_at": "timestamp with time zone",
}

#: ``stg_<crm>__crm_deals``: one row per deal or opportunity.
CRM_DEAL_CONTRACT: dict[str, str] = {
    "crm": "varchar",
    "deal_id": "varchar",
    "currency_code": "varchar",
    "deal_stage": "varchar",
    "amount": "decimal(18,2)",  # in currency_code; null when the CRM has none
    "is_won": "boolean",
    "is_closed": "boolean",
    "is_deleted": "boolean",
    "closed_at": "timestamp with time zone",  # a date-only close: noon UTC of that date
    "created_at": "timestamp with time zone",
    "account_id": "varchar",  # the CRM account (company); null when the CRM has none
}

#: ``stg_<crm>__crm_deal_contacts``: one row per deal and contact linked to it.
CRM_DEAL_CONTACT_CONTRACT: dict[str, str] = {
    "crm": "varchar",
    "deal_id": "varchar",
    "contact_id": "varchar",
}

#: ``stg_<crm>__crm_campaign_touches``: one row per marketing touch of a contact.
CRM_CAMPAIGN_TOUCH_CONTRACT: dict[str, str] = {
    "crm": "varchar",
    "touch_id": "varchar",  # unique within the CRM
    "contact_id": "varchar",
    "campaign_name": "varchar",  # the CRM campaign or UTM campaign
    "touch_source": "varchar",  # analytics source, lead source or campaign type
    "touched_at": "timestamp with time zone",
    # which field touch_source is (a source_field of seeds/channel_mappings.csv:
    # hubspot_analytics_source, salesforce_lead_source, salesforce_campaign_type)
    "touch_source_field": "varchar",
    "utm_medium": "varchar",  # the touch's UTM medium; null when it has none
}

#: The conformed staging models a source of each kind provides, by model-name suffix.
STAGING_CONTRACTS: dict[SourceKind, dict[str, dict[str, str]]] = {
    SourceKind.AD_PLATFORM: {"ad_reports": AD_REPORT_CONTRACT},
    SourceKind.CRM: {
        "crm_contacts": CRM_CONTACT_CONTRACT,
        "crm_deals": CRM_DEAL_CONTRACT,
        "crm_deal_contacts": CRM_DEAL_CONTACT_CONTRACT,
        "crm_campaign_touches": CRM_CAMPAIGN_TOUCH_CONTRACT,
    },
    SourceKind.REFERENCE: {},
}
