"""Settings travel to child processes through the environment without loss."""

from __future__ import annotations

import dataclasses
import os
from datetime import date, timedelta
from pathlib import Path

import pytest

from reach2revenue.settings import Settings


def test_to_env_round_trips_every_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = dataclasses.replace(
        Settings.for_home(tmp_path, reporting_currency="USD", fx_max_stale_days=4),
        interval_tolerance=timedelta(minutes=17),
        volume_low_ratio=0.3,
        volume_high_ratio=12.5,
        volume_min_history=5,
        volume_history_size=9,
        volume_accept=("meta_ads/insights", "hubspot/deals"),
        gx_keep_runs=3,
        fx_history_start=date(2021, 6, 1),
    )
    for name in [n for n in list(os.environ) if n.startswith("R2R_")]:
        monkeypatch.delenv(name)
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    assert Settings.from_env() == settings


def test_every_field_has_an_environment_variable(tmp_path: Path) -> None:
    # A field added without a variable would silently take its default in Airflow tasks.
    assert len(Settings.for_home(tmp_path).to_env()) == len(dataclasses.fields(Settings))
