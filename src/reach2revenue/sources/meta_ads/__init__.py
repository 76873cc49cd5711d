"""Meta Marketing API: ad insights per campaign, country and day (an ad platform)."""

from __future__ import annotations

from pathlib import Path

from reach2revenue.contracts import ExtractRequest, MergeRule, RawTable, Source, SourceKind
from reach2revenue.sources.meta_ads.errors import ERRORS
from reach2revenue.sources.meta_ads.flatten import INSIGHTS_RESPONSE, insight_rows
from reach2revenue.sources.meta_ads.settings import (
    DEFAULT_BASE_URL,
    INSIGHTS_COLUMNS,
    INSIGHTS_KEY,
    MetaAdsOptions,
)


def _extract(request: ExtractRequest) -> list[Path]:
    from reach2revenue.sources.meta_ads.extract import extract_meta_ads

    return extract_meta_ads(
        request.credentials,
        interval_start=request.interval.start_date,
        interval_end=request.interval.end_date,
        landing_dir=request.landing_dir,
        # lookback_days: the connection option (settings.DEFAULT_LOOKBACK_DAYS, 28).
    )


SOURCE = Source(
    name="meta_ads",
    kind=SourceKind.AD_PLATFORM,
    tables=(
        RawTable(
            source="meta_ads",
            entity="insights",
            columns=INSIGHTS_COLUMNS,
            key=INSIGHTS_KEY,
            merge=MergeRule.REPLACE_DAYS,
            flatten=insight_rows,
            scope_columns=("account_id", "date_start"),
            scope_param="account_id",
            response=INSIGHTS_RESPONSE,
        ),
    ),
    extract=_extract,
    default_base_url=DEFAULT_BASE_URL,
    options_type=MetaAdsOptions,
    errors=ERRORS,
)
