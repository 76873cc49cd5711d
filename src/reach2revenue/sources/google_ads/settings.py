"""Google Ads API constants, the GAQL report, the raw columns and the source's options.

The report is campaign x day x country from ``geographic_view``, restricted to
``LOCATION_OF_PRESENCE`` (where the user physically was, the same notion as Meta's
``country`` breakdown). ``geographic_view`` also has ``AREA_OF_INTEREST`` rows, for users
who showed interest in a location, which can count the same click a second time; they
are filtered out in the query, not in dbt, so they never reach the raw table.
``user_location_view`` (physical location split by ``targeting_location``) would be the
alternative; it needs one more key column and a sum in staging.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reach2revenue.failures import ConfigurationError

GOOGLE_ADS_API_VERSION = "v22"  # the only place the API version is named; Google sunsets
# each version about a year after release, so this is bumped yearly.
DEFAULT_BASE_URL = "https://googleads.googleapis.com"

#: The GAQL resource the report reads and the location type it keeps.
REPORT_RESOURCE = "geographic_view"
LOCATION_TYPE = "LOCATION_OF_PRESENCE"

#: The selected GAQL fields, in raw-column order. Each raw column is the field's path
#: with dots as underscores (``metrics.cost_micros`` -> ``metrics_cost_micros``).
REPORT_FIELDS = (
    "customer.id",
    "customer.currency_code",
    "customer.time_zone",
    "campaign.id",
    "campaign.name",
    "segments.date",
    "geographic_view.country_criterion_id",
    "geographic_view.location_type",
    "metrics.cost_micros",
    "metrics.impressions",
    "metrics.clicks",
    "metrics.conversions",
)


def raw_column(gaql_field: str) -> str:
    """The raw column of a GAQL field: its path in snake_case (``segments.date`` ->
    ``segments_date``)."""
    return gaql_field.replace(".", "_")


def _lower_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def json_path(gaql_field: str) -> tuple[str, ...]:
    """Where the REST (JSON) answer puts a GAQL field: every segment in lowerCamelCase
    (``geographic_view.country_criterion_id`` -> ``geographicView.countryCriterionId``)."""
    return tuple(_lower_camel(part) for part in gaql_field.split("."))


# raw.google_ads_geographic_view: every selected field, as text exactly as sent.
GEOGRAPHIC_VIEW_COLUMNS = tuple(raw_column(f) for f in REPORT_FIELDS)
GEOGRAPHIC_VIEW_KEY = (
    "customer_id",
    "campaign_id",
    "segments_date",
    "geographic_view_country_criterion_id",
)
#: What a REPLACE_DAYS load replaces: one customer's report day (day column last).
GEOGRAPHIC_VIEW_SCOPE = ("customer_id", "segments_date")


def normalize_customer_id(value: str) -> str:
    """A customer id as the API path wants it: digits only (``123-456-7890`` ->
    ``1234567890``, the form the Google Ads UI shows)."""
    return "".join(ch for ch in str(value) if ch not in "- \t")


#: Report days before each run's interval fetched again (option ``lookback_days``).
#: Conversions (the mart's leads) restate: Google reports a conversion on the day of the
#: click that led to it, up to the conversion window later (30 days by default), and cost
#: is corrected for invalid clicks after the fact. 30 days plus the run's day are one
#: searchStream per customer and night (``extract.CHUNK_DAYS`` 92): the same quota as one day.
DEFAULT_LOOKBACK_DAYS = 30
#: The longest lookback accepted: a nightly re-read of more than a year is a mistake.
MAX_LOOKBACK_DAYS = 366
#: Customers extracted at once (option ``max_concurrency``): Google's short-term limits
#: are per customer, and a request costs one operation of the quota whatever runs beside
#: it. The most accepted is the client's connection pool (``http_client.MAX_CONCURRENCY``).
DEFAULT_MAX_CONCURRENCY = 4
MAX_CONCURRENCY = 16


@dataclass(frozen=True)
class GoogleAdsOptions:
    """Connection extra or ``R2R_GOOGLE_ADS_<OPTION>``.

    ``customer_ids``: the client accounts to report on (``1234567890`` or
    ``123-456-7890``). ``developer_token``: the API Center token sent as the
    ``developer-token`` header; a secret, hidden from ``repr`` and redacted from pages,
    errors and logs. ``login_customer_id``: the manager account the OAuth user reaches the
    clients through (``login-customer-id`` header); empty when the user has direct access.
    ``lookback_days``: report days before the interval fetched again each run (default
    `DEFAULT_LOOKBACK_DAYS`); restated days replace the stored ones. ``max_concurrency``:
    customers extracted at once (default `DEFAULT_MAX_CONCURRENCY`; 1 takes them one
    after another).
    """

    customer_ids: tuple[str, ...]
    developer_token: str = field(default="", repr=False)
    login_customer_id: str = ""
    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY

    def __post_init__(self) -> None:
        ids = tuple(dict.fromkeys(normalize_customer_id(i) for i in self.customer_ids if i.strip()))
        if not ids:
            raise ConfigurationError("no Google Ads customers: customer_ids is empty")
        bad = [i for i in ids if not i.isdigit()]
        if bad:
            raise ConfigurationError(
                f"Google Ads customer ids are digits (123-456-7890); got {bad}"
            )
        if not self.developer_token.strip():
            raise ConfigurationError(
                "no Google Ads developer token: set developer_token in the connection extra "
                "or R2R_GOOGLE_ADS_DEVELOPER_TOKEN"
            )
        login = normalize_customer_id(self.login_customer_id)
        if login and not login.isdigit():
            raise ConfigurationError("login_customer_id is a manager customer id (digits)")
        if not 0 <= self.lookback_days <= MAX_LOOKBACK_DAYS:
            raise ConfigurationError(
                f"lookback_days must be 0..{MAX_LOOKBACK_DAYS} days, got {self.lookback_days}"
            )
        if not 1 <= self.max_concurrency <= MAX_CONCURRENCY:
            raise ConfigurationError(
                f"max_concurrency must be 1..{MAX_CONCURRENCY}, got {self.max_concurrency}"
            )
        object.__setattr__(self, "customer_ids", ids)
        object.__setattr__(self, "developer_token", self.developer_token.strip())
        object.__setattr__(self, "login_customer_id", login)
