"""ECB reference rates: the raw columns of the rates and of the user's override file."""

from __future__ import annotations

DEFAULT_BASE_URL = "https://data-api.ecb.europa.eu"

# The ECB's SDMX-CSV columns we keep (reference.fx.SDMX_COLUMNS), lower-cased.
RATE_COLUMNS = (
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
RATE_KEY = ("currency", "time_period")
# The user-maintained override file (docs/reference-data.md), as written.
OVERRIDE_COLUMNS = ("currency_code", "rate_date", "units_per_eur")
OVERRIDE_KEY = ("currency_code", "rate_date")
