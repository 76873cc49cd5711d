"""Google Ads API: campaign performance per country and day (an ad platform)."""

from __future__ import annotations

from pathlib import Path

from reach2revenue.contracts import ExtractRequest, MergeRule, RawTable, Source, SourceKind
from reach2revenue.sources.google_ads.errors import ERRORS
from reach2revenue.sources.google_ads.flatten import GEOGRAPHIC_VIEW_RESPONSE, geographic_view_rows
from reach2revenue.sources.google_ads.settings import (
    DEFAULT_BASE_URL,
    GEOGRAPHIC_VIEW_COLUMNS,
    GEOGRAPHIC_VIEW_KEY,
    GEOGRAPHIC_VIEW_SCOPE,
    GoogleAdsOptions,
)


def _extract(request: ExtractRequest) -> list[Path]:
    from reach2revenue.sources.google_ads.extract import extract_google_ads

    return extract_google_ads(
        request.credentials,
        interval_start=request.interval.start_date,
        interval_end=request.interval.end_date,
        landing_dir=request.landing_dir,
        # lookback_days: the connection option (settings.DEFAULT_LOOKBACK_DAYS, 30).
    )


SOURCE = Source(
    name="google_ads",
    kind=SourceKind.AD_PLATFORM,
    tables=(
        RawTable(
            source="google_ads",
            entity="geographic_view",
            columns=GEOGRAPHIC_VIEW_COLUMNS,
            key=GEOGRAPHIC_VIEW_KEY,
            merge=MergeRule.REPLACE_DAYS,
            flatten=geographic_view_rows,
            scope_columns=GEOGRAPHIC_VIEW_SCOPE,
            # The manifest param holding the customer id: a customer-day that now has no
            # rows is still replaced (emptied).
            scope_param="customer_id",
            response=GEOGRAPHIC_VIEW_RESPONSE,
        ),
    ),
    extract=_extract,
    default_base_url=DEFAULT_BASE_URL,
    options_type=GoogleAdsOptions,
    errors=ERRORS,
)
