"""Meta Marketing API (Graph) constants, the raw columns and the source's options."""

from __future__ import annotations

from dataclasses import dataclass

from reach2revenue.failures import ConfigurationError

GRAPH_API_VERSION = "v21.0"  # the only place the Graph API version is named
DEFAULT_BASE_URL = "https://graph.facebook.com"

# raw.meta_ads_insights: what level=campaign, time_increment=1, breakdowns=country returns.
INSIGHTS_COLUMNS = (
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
INSIGHTS_KEY = ("account_id", "campaign_id", "date_start", "country")
# Meta returns date_start/date_stop for time_increment and country for the breakdown;
# every other raw column is a field to request.
INSIGHTS_FIELDS = tuple(
    column for column in INSIGHTS_COLUMNS if column not in ("date_start", "date_stop", "country")
)


#: Report days before each run's interval fetched again (option ``lookback_days``). Meta
#: restates conversions for up to 28 days (a conversion counts on the day of the click or
#: view that led to it, within the attribution window), so the last 28 days still change;
#: each re-read day replaces the stored one (REPLACE_DAYS). 28 days plus the run's day fit
#: one direct request per account and night (``chunk_days`` 31, ``time_increment=1``).
DEFAULT_LOOKBACK_DAYS = 28
#: The longest lookback accepted: a nightly re-read of more than a year is a mistake.
MAX_LOOKBACK_DAYS = 366
#: Threads paging and landing reports at once (option ``max_concurrency``). Meta budgets
#: calls per ad account (Business-Use-Case limits) and runs async jobs side by side, so
#: accounts and ranges need not wait for each other; every thread still honours the
#: throttles and pacing of the shared client. The most accepted is the client's
#: connection pool (``http_client.MAX_CONCURRENCY``).
DEFAULT_MAX_CONCURRENCY = 4
MAX_CONCURRENCY = 16


@dataclass(frozen=True)
class MetaAdsOptions:
    """Connection extra ``{"account_ids": [...], "lookback_days": 28}``, or
    ``R2R_META_ADS_ACCOUNT_IDS=1,2`` and ``R2R_META_ADS_LOOKBACK_DAYS=28``.

    ``lookback_days``: report days before the interval fetched again each run (default
    `DEFAULT_LOOKBACK_DAYS`); restated numbers replace the stored ones.
    ``max_concurrency`` (``R2R_META_ADS_MAX_CONCURRENCY``): reports paged and landed at
    once (default `DEFAULT_MAX_CONCURRENCY`; 1 runs them one after another).
    """

    account_ids: tuple[str, ...]
    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY

    def __post_init__(self) -> None:
        # People paste ids as Meta shows them ("act_1001"); the API path adds act_ itself.
        ids = tuple(i.removeprefix("act_") for i in self.account_ids if i.removeprefix("act_"))
        if not ids:
            raise ConfigurationError("no Meta ad accounts: account_ids is empty")
        object.__setattr__(self, "account_ids", ids)
        if not 0 <= self.lookback_days <= MAX_LOOKBACK_DAYS:
            raise ConfigurationError(
                f"lookback_days must be 0..{MAX_LOOKBACK_DAYS} days, got {self.lookback_days}"
            )
        if not 1 <= self.max_concurrency <= MAX_CONCURRENCY:
            raise ConfigurationError(
                f"max_concurrency must be 1..{MAX_CONCURRENCY}, got {self.max_concurrency}"
            )
