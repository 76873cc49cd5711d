"""Shared test set-up: isolated Airflow and reach2revenue homes, quiet offline libraries,
and the longest modules first.

Airflow reads its configuration when first imported, so the environment is set here,
before any test module imports it. Each pytest process (each `pytest-xdist` worker too)
gets its own homes, so parallel workers never share an Airflow database, GX store or
warehouse, and no test writes into the repository's ``var/``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="r2r-airflow-home-"))
os.environ.setdefault("AIRFLOW_HOME", str(_AIRFLOW_HOME))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(Path(__file__).parents[1] / "dags"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
os.environ.setdefault("DO_NOT_TRACK", "1")
# Every test home is a first load: landing the whole bundled ECB history (220k rates from
# 1999) would make each one validate, merge and build them (about 30 s of GX alone).
# The test worlds lie after 2024; a deployment keeps the default (the whole file).
os.environ.setdefault("R2R_FX_HISTORY_START", "2023-01-02")
# Settings.from_env() of a test that names no home (GX results of the quality tests, ...).
os.environ.setdefault("R2R_HOME", tempfile.mkdtemp(prefix="r2r-home-"))

# `make test` runs the in-process tests on two workers (`pytest -n 2 --dist loadscope`: a
# module is one unit of work, handed out in collection order): modules with slow tests go
# first, the longest first, so no long unit is left for the end while the other worker
# idles. The real scheduler's stack runs on its own afterwards (Makefile).
LONGEST_MODULES_FIRST = (
    "test_end_to_end.py",
    "test_incremental_marts.py",
    "test_drift_matrix.py",
    "test_marts_truth.py",
    "test_kill_and_retry.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The listed modules first, then every other module with a slow test, then the rest
    (a stable sort: the order within a module, and among equals, is kept)."""
    with_slow_tests = {item.path for item in items if item.get_closest_marker("slow")}

    def rank(item: pytest.Item) -> tuple[int, int]:
        listed = item.path.name
        position = (
            LONGEST_MODULES_FIRST.index(listed)
            if listed in LONGEST_MODULES_FIRST
            else len(LONGEST_MODULES_FIRST)
        )
        return position, 0 if item.path in with_slow_tests else 1

    items.sort(key=rank)
