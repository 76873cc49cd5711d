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

# Table name -> API columns. Iterating yields the table names.
RAW_TABLES: dict[str, tuple[str, ...]] = {
    "raw.meta_ads_insights": META_INSIGHTS_COLUMNS,
    "raw.hubspot_contacts": HUBSPOT_CONTACT_COLUMNS,
    "raw.hubspot_deals": HUBSPOT_DEAL_COLUMNS,
    "raw.hubspot_deal_contacts": HUBSPOT_DEAL_CONTACT_COLUMNS,
}

# Top-level object fields of a HubSpot record; every other raw column is a property.
HUBSPOT_OBJECT_FIELDS = ("id", "created_at", "updated_at", "archived")


def hubspot_properties(columns: tuple[str, ...]) -> tuple[str, ...]:
    """The HubSpot properties to request for a raw table's columns."""
    return tuple(column for column in columns if column not in HUBSPOT_OBJECT_FIELDS)
