"""LinkedIn Marketing API (versioned ``/rest``) constants, the raw columns and the options.

Three raw tables, each a column -> JSON path map, so a new raw column is one entry here:

- ``ad_accounts``: ``GET /rest/adAccounts/{id}``; ``currency`` is the ISO 4217 code that
  ``costInLocalCurrency`` is reported in.
- ``campaigns``: ``GET /rest/adAccounts/{id}/adCampaigns?q=search``; the campaign names
  (the analytics only carry ``urn:li:sponsoredCampaign:<id>``) and a status that stays
  ``REMOVED`` for deleted campaigns.
- ``ad_analytics``: ``GET /rest/adAnalytics?q=statistics`` pivoted by campaign and member
  country, one element per campaign, member country and day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reach2revenue.failures import ConfigurationError

DEFAULT_BASE_URL = "https://api.linkedin.com"
#: ``LinkedIn-Version`` (YYYYMM). LinkedIn sunsets a version about a year after release and
#: then answers 426 NONEXISTENT_VERSION: move it forward (option ``api_version``).
DEFAULT_API_VERSION = "202610"
#: Rest.li 2.0 is what makes ``List(...)`` and ``(key:value)`` query values parse.
RESTLI_PROTOCOL_VERSION = "2.0.0"

ACCOUNT_URN_PREFIX = "urn:li:sponsoredAccount:"
CAMPAIGN_URN_PREFIX = "urn:li:sponsoredCampaign:"
GEO_URN_PREFIX = "urn:li:geo:"

#: adAnalytics has no paging and silently returns at most this many elements.
ELEMENT_CAP = 15_000
#: Pivots of the statistics finder, in request order (the finder allows up to three).
PIVOTS = ("CAMPAIGN", "MEMBER_COUNTRY_V2")
TIME_GRANULARITY = "DAILY"

# raw.linkedin_ads_ad_accounts: column -> path in the adAccounts object.
AD_ACCOUNT_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "name": ("name",),
    "currency": ("currency",),
    "status": ("status",),
    "type": ("type",),
    "reference": ("reference",),
    "test": ("test",),
}
AD_ACCOUNT_COLUMNS = tuple(AD_ACCOUNT_FIELDS)
AD_ACCOUNT_KEY = ("id",)

# raw.linkedin_ads_campaigns: column -> path in an adCampaigns element. Instants are epoch
# milliseconds (numbers), kept as their text.
CAMPAIGN_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "name": ("name",),
    "account": ("account",),
    "campaign_group": ("campaignGroup",),
    "status": ("status",),
    "type": ("type",),
    "objective_type": ("objectiveType",),
    "cost_type": ("costType",),
    "run_schedule_start": ("runSchedule", "start"),
    "run_schedule_end": ("runSchedule", "end"),
    "change_audit_stamps_created_time": ("changeAuditStamps", "created", "time"),
    "change_audit_stamps_last_modified_time": ("changeAuditStamps", "lastModified", "time"),
}
CAMPAIGN_COLUMNS = tuple(CAMPAIGN_FIELDS)
CAMPAIGN_KEY = ("id",)
#: Every campaign status, asked for explicitly: removed campaigns keep their performance
#: data, so their names are needed as long as their days are reported.
CAMPAIGN_STATUSES = (
    "ACTIVE",
    "PAUSED",
    "ARCHIVED",
    "COMPLETED",
    "CANCELED",
    "DRAFT",
    "PENDING_DELETION",
    "REMOVED",
)
CAMPAIGN_PAGE_SIZE = 1000  # the search finder's largest pageSize

# raw.linkedin_ads_ad_analytics: the metrics, raw column -> API field (requested as is).
ANALYTICS_METRICS: dict[str, str] = {
    "impressions": "impressions",
    "clicks": "clicks",
    "cost_in_local_currency": "costInLocalCurrency",
    "external_website_conversions": "externalWebsiteConversions",
    "one_click_leads": "oneClickLeads",
}
#: ``fields`` of the request: the dimensions of an element, then the metrics.
ANALYTICS_FIELDS = ("dateRange", "pivotValues", *ANALYTICS_METRICS.values())
ANALYTICS_COLUMNS = (
    "account_id",  # the sponsored account the request's accounts facet named
    "date_range_start",  # dateRange.start {year, month, day} written as YYYY-MM-DD
    "date_range_end",
    "pivot_campaign",  # the pivotValues URN of pivot CAMPAIGN
    "pivot_member_country_v2",  # the pivotValues URN of pivot MEMBER_COUNTRY_V2
    *ANALYTICS_METRICS,
)
ANALYTICS_KEY = ("account_id", "pivot_campaign", "pivot_member_country_v2", "date_range_start")

_VERSION = re.compile(r"^[0-9]{4}(?:0[1-9]|1[0-2])(?:\.[0-9]{2})?$")


#: Report days before each run's interval fetched again (option ``lookback_days``).
#: LinkedIn restates recent days (member-demographic metrics arrive 12-24 h late, leads
#: and conversions are attributed back), and connector vendors re-pull 30 days
#: (api-shapes.md §3). 30 days plus the run's day are one analytics extraction per account
#: and night (``extract.CHUNK_DAYS``, a year), sliced further only below the 15,000-element
#: cap.
DEFAULT_LOOKBACK_DAYS = 30
#: The longest lookback accepted: a nightly re-read of more than a year is a mistake.
MAX_LOOKBACK_DAYS = 366
#: Accounts extracted at once (option ``max_concurrency``), each its campaigns and then
#: its analytics. One by default: LinkedIn's limits are per application and day, not per
#: account, and its 429 states no wait, so threads would only compete for one budget; and
#: with slices sized to the data a year of an account is a few requests. More helps where
#: the platform is slow to answer and the budget is wide. The most accepted is the
#: client's connection pool (``http_client.MAX_CONCURRENCY``).
DEFAULT_MAX_CONCURRENCY = 1
MAX_CONCURRENCY = 16


@dataclass(frozen=True)
class LinkedInAdsOptions:
    """Connection extra ``{"account_ids": [...], "api_version": "202610"}``, or
    ``R2R_LINKEDIN_ADS_ACCOUNT_IDS=508410001,508410002`` and ``R2R_LINKEDIN_ADS_API_VERSION``.

    ``account_ids`` are sponsored ad account ids; their URN form
    (``urn:li:sponsoredAccount:508410001``), as Campaign Manager shows it, is accepted too.
    ``lookback_days`` (``R2R_LINKEDIN_ADS_LOOKBACK_DAYS``): report days before the
    interval fetched again each run (default `DEFAULT_LOOKBACK_DAYS`); restated days
    replace the stored ones. ``max_concurrency`` (``R2R_LINKEDIN_ADS_MAX_CONCURRENCY``):
    accounts extracted at once (default `DEFAULT_MAX_CONCURRENCY`; 1 takes them in turn).
    """

    account_ids: tuple[str, ...]
    api_version: str = DEFAULT_API_VERSION
    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY

    def __post_init__(self) -> None:
        ids = tuple(
            i.strip().removeprefix(ACCOUNT_URN_PREFIX) for i in self.account_ids if i.strip()
        )
        if not ids:
            raise ConfigurationError("no LinkedIn ad accounts: account_ids is empty")
        bad = [i for i in ids if not i.isdigit()]
        if bad:
            raise ConfigurationError(f"LinkedIn sponsored account ids are numbers, not {bad}")
        object.__setattr__(self, "account_ids", ids)
        version = self.api_version.strip()
        if not _VERSION.match(version):
            raise ConfigurationError(
                f"LinkedIn-Version is YYYYMM (e.g. 202610), not {self.api_version!r}"
            )
        object.__setattr__(self, "api_version", version)
        if not 0 <= self.lookback_days <= MAX_LOOKBACK_DAYS:
            raise ConfigurationError(
                f"lookback_days must be 0..{MAX_LOOKBACK_DAYS} days, got {self.lookback_days}"
            )
        if not 1 <= self.max_concurrency <= MAX_CONCURRENCY:
            raise ConfigurationError(
                f"max_concurrency must be 1..{MAX_CONCURRENCY}, got {self.max_concurrency}"
            )
