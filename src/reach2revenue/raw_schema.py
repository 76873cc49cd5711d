"""The raw schema contract (docs/architecture.md), importable without pandas or DuckDB.

Extractors ask the APIs for these properties, the loader creates these tables and the
quality suites check these columns: one list, so they cannot drift apart.
"""

from __future__ import annotations

META_INSIGHTS_COLUMNS = (
    "account_id",
    "account_currency",
    "campaign_id",
    "campaign_name",
    "date_start",
    "date_stop",
    "country",
    "impressions",
    "reach",
    "clicks",
    "spend",
    "actions",
)
HUBSPOT_CONTACT_COLUMNS = (
    "id",
    "email",
    "firstname",
    "lastname",
    "country",
    "hs_analytics_source",
    "utm_source",
    "utm_campaign",
    "createdate",
    "lastmodifieddate",
    "created_at",
    "updated_at",
    "archived",
)
HUBSPOT_DEAL_COLUMNS = (
    "id",
    "dealname",
    "amount",
    "deal_currency_code",
    "dealstage",
    "pipeline",
    "closedate",
    "createdate",
    "hs_lastmodifieddate",
    "created_at",
    "updated_at",
    "archived",
)
HUBSPOT_DEAL_CONTACT_COLUMNS = ("deal_id", "contact_id", "association_type_id")
# The ECB's SDMX-CSV columns we keep (reference.fx.SDMX_COLUMNS), lower-cased.
ECB_FX_RATE_COLUMNS = (
    "key",
    "freq",
    "currency",
    "currency_denom",
    "exr_type",
    "exr_suffix",
    "time_period",
    "obs_value",
    "obs_status",
)
# The user-maintained override file (docs/reference-data.md), as written.
ECB_FX_RATE_OVERRIDE_COLUMNS = ("currency_code", "rate_date", "units_per_eur")

# Table name -> API columns. Iterating yields the table names.
RAW_TABLES: dict[str, tuple[str, ...]] = {
    "raw.meta_ads_insights": META_INSIGHTS_COLUMNS,
    "raw.hubspot_contacts": HUBSPOT_CONTACT_COLUMNS,
    "raw.hubspot_deals": HUBSPOT_DEAL_COLUMNS,
    "raw.hubspot_deal_contacts": HUBSPOT_DEAL_CONTACT_COLUMNS,
    "raw.ecb_fx_rates": ECB_FX_RATE_COLUMNS,
    "raw.ecb_fx_rate_overrides": ECB_FX_RATE_OVERRIDE_COLUMNS,
}

# Where each raw row came from; every raw table carries these after the API columns.
LINEAGE_COLUMNS = ("_landed_file", "_extraction_id")

# The key of each raw table: what the loader dedupes on and the suites check.
RAW_TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "raw.meta_ads_insights": ("account_id", "campaign_id", "date_start", "country"),
    "raw.hubspot_contacts": ("id",),
    "raw.hubspot_deals": ("id",),
    "raw.hubspot_deal_contacts": ("deal_id", "contact_id"),
    "raw.ecb_fx_rates": ("currency", "time_period"),
    "raw.ecb_fx_rate_overrides": ("currency_code", "rate_date"),
}

# The last-modified property of each HubSpot object: the incremental cursor's column.
HUBSPOT_MODIFIED_PROPERTY = {"contacts": "lastmodifieddate", "deals": "hs_lastmodifieddate"}

# Top-level object fields of a HubSpot record; every other raw column is a property.
HUBSPOT_OBJECT_FIELDS = ("id", "created_at", "updated_at", "archived")


def hubspot_properties(columns: tuple[str, ...]) -> tuple[str, ...]:
    """The HubSpot properties to request for a raw table's columns."""
    return tuple(column for column in columns if column not in HUBSPOT_OBJECT_FIELDS)
