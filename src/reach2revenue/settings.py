"""Where reach2revenue keeps things, from the environment with local defaults.

Every path can be moved with an environment variable so that the demo, the tests and a
deployment each use their own tree without code changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


@dataclass(frozen=True)
class Settings:
    """Resolved locations and defaults for one process."""

    home: Path
    landing_dir: Path
    warehouse_path: Path
    published_path: Path
    dbt_project_dir: Path
    expectations_dir: Path
    reporting_currency: str
    reporting_timezone: str
    # The user's FX override file (docs/reference-data.md); a missing file means none.
    fx_rate_overrides_path: Path
    # A rate older than this many days is not used (weekends and holidays, not a
    # currency the ECB stopped publishing).
    fx_max_stale_days: int = 7

    @classmethod
    def for_home(
        cls,
        home: Path,
        *,
        reporting_currency: str = "EUR",
        reporting_timezone: str = "Europe/Berlin",
        fx_rate_overrides_path: Path | None = None,
        fx_max_stale_days: int = 7,
    ) -> Settings:
        """Everything under one folder, with the repo's dbt project and suites."""
        return cls(
            home=home,
            landing_dir=home / "landing",
            warehouse_path=home / "warehouse" / "reach2revenue.duckdb",
            published_path=home / "published" / "reach2revenue.duckdb",
            dbt_project_dir=REPO_ROOT / "dbt_project",
            expectations_dir=REPO_ROOT / "expectations",
            reporting_currency=reporting_currency,
            reporting_timezone=reporting_timezone,
            fx_rate_overrides_path=fx_rate_overrides_path
            or home / "reference" / "fx_rate_overrides.csv",
            fx_max_stale_days=fx_max_stale_days,
        )

    @classmethod
    def from_env(cls) -> Settings:
        home = _path("R2R_HOME", REPO_ROOT / "var")
        return cls(
            home=home,
            landing_dir=_path("R2R_LANDING_DIR", home / "landing"),
            warehouse_path=_path("R2R_WAREHOUSE_PATH", home / "warehouse" / "reach2revenue.duckdb"),
            published_path=_path("R2R_PUBLISHED_PATH", home / "published" / "reach2revenue.duckdb"),
            dbt_project_dir=_path("R2R_DBT_PROJECT_DIR", REPO_ROOT / "dbt_project"),
            expectations_dir=_path("R2R_EXPECTATIONS_DIR", REPO_ROOT / "expectations"),
            reporting_currency=os.environ.get("R2R_REPORTING_CURRENCY", "EUR"),
            reporting_timezone=os.environ.get("R2R_REPORTING_TIMEZONE", "Europe/Berlin"),
            fx_rate_overrides_path=_path(
                "R2R_FX_RATE_OVERRIDES_PATH", home / "reference" / "fx_rate_overrides.csv"
            ),
            fx_max_stale_days=int(os.environ.get("R2R_FX_MAX_STALE_DAYS", "7")),
        )
