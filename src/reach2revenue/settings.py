"""Where reach2revenue keeps things, from the environment with local defaults.

Every path can be moved with an environment variable so that the demo, the tests and a
deployment each use their own tree without code changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from reach2revenue.failures import ConfigurationError

REPO_ROOT = Path(__file__).resolve().parents[2]


def _number(name: str, default: float, *, minimum: float) -> float:
    """A numeric setting from the environment; a bad value is a `ConfigurationError`."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigurationError(f"{name}={text!r} is not a number") from None
    if not value >= minimum:
        raise ConfigurationError(f"{name}={text!r} must be at least {minimum:g}")
    return value


FX_HISTORY_START_ENV = "R2R_FX_HISTORY_START"


def _fx_history_start() -> date | None:
    """``R2R_FX_HISTORY_START`` (ISO date) or None; a bad value is a `ConfigurationError`."""
    text = os.environ.get(FX_HISTORY_START_ENV, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigurationError(f"{FX_HISTORY_START_ENV}={text!r} is not a date") from None


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
    # An interval may end at most this far after now (clock skew, a run started a little
    # early); later ends are refused before anything is extracted (cursors.check_interval).
    interval_tolerance: timedelta = timedelta(hours=1)
    # Volume checks (reach2revenue.volume): a batch whose rows per covered day fall
    # outside [low x, high x] the median of the earlier loads fails, once there are
    # `volume_min_history` earlier loads; the last `volume_history_size` loads are kept.
    volume_low_ratio: float = 0.2
    volume_high_ratio: float = 10.0
    volume_min_history: int = 3
    volume_history_size: int = 30
    # "<source>/<entity>" names (or "all") whose volume is accepted as it is: a real surge
    # or collapse an operator has checked (R2R_VOLUME_ACCEPT, for the run that needs it).
    volume_accept: tuple[str, ...] = ()
    # Validation results kept for Data Docs: the last N load runs.
    gx_keep_runs: int = 30
    # The first load lands the bundled ECB history from this day on (None: all of it, from
    # 1999). Amounts dated earlier have no rate. A later start makes every first load
    # (a new deployment, each test's fresh home) cheaper: the whole file is 220k rates.
    fx_history_start: date | None = None

    @property
    def gx_dir(self) -> Path:
        """The Great Expectations store: validation results and Data Docs."""
        return self.home / "gx"

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
            # Not a path: follows the environment like a deployment's other knobs would.
            fx_history_start=_fx_history_start(),
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
            interval_tolerance=timedelta(
                minutes=_number("R2R_INTERVAL_TOLERANCE_MINUTES", 60, minimum=0)
            ),
            volume_low_ratio=_number("R2R_VOLUME_LOW_RATIO", 0.2, minimum=0),
            volume_high_ratio=_number("R2R_VOLUME_HIGH_RATIO", 10.0, minimum=1),
            volume_min_history=int(_number("R2R_VOLUME_MIN_HISTORY", 3, minimum=1)),
            volume_history_size=int(_number("R2R_VOLUME_HISTORY_SIZE", 30, minimum=1)),
            volume_accept=tuple(
                item.strip()
                for item in os.environ.get("R2R_VOLUME_ACCEPT", "").split(",")
                if item.strip()
            ),
            gx_keep_runs=int(_number("R2R_GX_KEEP_RUNS", 30, minimum=1)),
            fx_history_start=_fx_history_start(),
        )

    def to_env(self) -> dict[str, str]:
        """The environment that makes ``from_env`` return these settings.

        Child processes (Airflow tasks, the demo's subprocesses) get every setting this
        way, so a new setting cannot be forgotten on the way there (a test round-trips it).
        """
        return {
            "R2R_HOME": str(self.home),
            "R2R_LANDING_DIR": str(self.landing_dir),
            "R2R_WAREHOUSE_PATH": str(self.warehouse_path),
            "R2R_PUBLISHED_PATH": str(self.published_path),
            "R2R_DBT_PROJECT_DIR": str(self.dbt_project_dir),
            "R2R_EXPECTATIONS_DIR": str(self.expectations_dir),
            "R2R_REPORTING_CURRENCY": self.reporting_currency,
            "R2R_REPORTING_TIMEZONE": self.reporting_timezone,
            "R2R_FX_RATE_OVERRIDES_PATH": str(self.fx_rate_overrides_path),
            "R2R_FX_MAX_STALE_DAYS": str(self.fx_max_stale_days),
            "R2R_INTERVAL_TOLERANCE_MINUTES": repr(self.interval_tolerance.total_seconds() / 60),
            "R2R_VOLUME_LOW_RATIO": repr(self.volume_low_ratio),
            "R2R_VOLUME_HIGH_RATIO": repr(self.volume_high_ratio),
            "R2R_VOLUME_MIN_HISTORY": str(self.volume_min_history),
            "R2R_VOLUME_HISTORY_SIZE": str(self.volume_history_size),
            "R2R_VOLUME_ACCEPT": ",".join(self.volume_accept),
            "R2R_GX_KEEP_RUNS": str(self.gx_keep_runs),
            FX_HISTORY_START_ENV: self.fx_history_start.isoformat()
            if self.fx_history_start
            else "",
        }
