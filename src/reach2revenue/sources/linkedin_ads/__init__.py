"""LinkedIn Marketing API: ad analytics per campaign, member country and day (an ad platform).

Raw tables, in load order: ``ad_accounts`` (the currency spend is in) and ``campaigns``
(names, status) are upserted by id; ``ad_analytics`` replaces the account-days each
extraction covers. The conformed ``stg_linkedin_ads__ad_reports`` joins them and maps the
member-country geo URN to ISO-2 through the seed ``linkedin_geo_countries``.
"""

from __future__ import annotations

from pathlib import Path

from reach2revenue.contracts import ExtractRequest, MergeRule, RawTable, Source, SourceKind
from reach2revenue.sources.linkedin_ads.errors import ERRORS
from reach2revenue.sources.linkedin_ads.flatten import (
    AD_ACCOUNT_RESPONSE,
    ANALYTICS_RESPONSE,
    CAMPAIGN_RESPONSE,
    ad_account_rows,
    analytics_rows,
    campaign_rows,
)
from reach2revenue.sources.linkedin_ads.settings import (
    AD_ACCOUNT_COLUMNS,
    AD_ACCOUNT_KEY,
    ANALYTICS_COLUMNS,
    ANALYTICS_KEY,
    CAMPAIGN_COLUMNS,
    CAMPAIGN_KEY,
    DEFAULT_BASE_URL,
    LinkedInAdsOptions,
)


def _extract(request: ExtractRequest) -> list[Path]:
    from reach2revenue.sources.linkedin_ads.extract import extract_linkedin_ads

    return extract_linkedin_ads(
        request.credentials,
        interval_start=request.interval.start_date,
        interval_end=request.interval.end_date,
        landing_dir=request.landing_dir,
        # lookback_days: the connection option (settings.DEFAULT_LOOKBACK_DAYS, 30).
    )


SOURCE = Source(
    name="linkedin_ads",
    kind=SourceKind.AD_PLATFORM,
    tables=(
        RawTable(
            source="linkedin_ads",
            entity="ad_accounts",
            columns=AD_ACCOUNT_COLUMNS,
            key=AD_ACCOUNT_KEY,
            merge=MergeRule.UPSERT,
            flatten=ad_account_rows,
            response=AD_ACCOUNT_RESPONSE,
        ),
        RawTable(
            source="linkedin_ads",
            entity="campaigns",
            columns=CAMPAIGN_COLUMNS,
            key=CAMPAIGN_KEY,
            merge=MergeRule.UPSERT,
            flatten=campaign_rows,
            response=CAMPAIGN_RESPONSE,
        ),
        RawTable(
            source="linkedin_ads",
            entity="ad_analytics",
            columns=ANALYTICS_COLUMNS,
            key=ANALYTICS_KEY,
            merge=MergeRule.REPLACE_DAYS,
            flatten=analytics_rows,
            scope_columns=("account_id", "date_range_start"),
            scope_param="account_id",
            response=ANALYTICS_RESPONSE,
        ),
    ),
    extract=_extract,
    default_base_url=DEFAULT_BASE_URL,
    options_type=LinkedInAdsOptions,
    errors=ERRORS,
)
