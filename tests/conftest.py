"""Shared test set-up: an isolated Airflow home and quiet, offline libraries.

Airflow reads its configuration when first imported, so the environment is set here,
before any test module imports it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

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
