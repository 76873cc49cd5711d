"""`r2r bench --table`: several bench runs side by side, with each stage's growth."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reach2revenue.bench_table import growth_exponent, load_results, markdown_table


def _run(scale: float, rows: int, stages: dict[str, float]) -> dict[str, Any]:
    return {
        "config": {"scale": scale, "generator_scale": scale * 10, "days": 91, "seed": 42},
        "machine": {"cpu_count": 2},
        "rows": {"ad_report_rows": rows, "hubspot_contacts": rows // 2},
        "stages": [
            {"name": name, "seconds": seconds, "rows": rows, "rows_per_second": rows / seconds}
            for name, seconds in stages.items()
        ],
        "lower_bounds": {"region_mart": {"seconds": 0.25, "equal_to_the_cent": True}},
        "standins": {"history_cpu_seconds": 3.5},
        "crm_full_load_at_real_limit": {"hubspot": {"hours": 0.19}},
        "airflow": {},
        "ratios": {"nightly_dbt_build_over_full_build": 0.7},
    }


def test_growth_exponent_is_one_for_linear_cost_and_two_for_quadratic() -> None:
    assert growth_exponent(1.0, 10.0, 100, 1000) == pytest.approx(1.0)
    assert growth_exponent(1.0, 100.0, 100, 1000) == pytest.approx(2.0)
    assert growth_exponent(5.0, 5.0, 100, 1000) == pytest.approx(0.0)
    assert growth_exponent(0.0, 1.0, 100, 1000) is None
    assert growth_exponent(1.0, 2.0, 100, 100) is None


def test_table_orders_runs_by_size_and_flags_stages_growing_faster_than_linear(
    tmp_path: Path,
) -> None:
    small = _run(1, 1_000, {"generate": 2.0, "history/dbt_build": 20.0})
    large = _run(10, 10_000, {"generate": 20.0, "history/dbt_build": 20.0 * 10**1.5})
    paths = []
    for name, document in (("large.json", large), ("small.json", small)):
        paths.append(tmp_path / name)
        paths[-1].write_text(json.dumps(document), encoding="utf-8")

    table = markdown_table(load_results(paths))

    lines = {line.split(" | ")[0].removeprefix("| "): line for line in table.splitlines()}
    assert lines["figure"].startswith("| figure | scale 1 (91 d) | scale 10 (91 d) |")
    assert lines["generate"].endswith("| 1.00 |")
    # Its own rows grew tenfold like the world's: 1.5 either way; a stage without rows
    # grows against the world's rows.
    assert lines["history/dbt_build"].endswith("| 1.50 ⚠ |")
    assert "0.25 s, equal to the cent: True" in lines["region mart query (lower bound)"]
    assert "| 1,500 | 15,000 |" in lines["rows generated in all"]
    assert math.isclose(
        growth_exponent(20.0, 20.0 * 10**1.5, 1_500, 15_000) or 0.0, 1.5, rel_tol=1e-9
    )


def test_a_stage_with_its_own_rows_grows_against_them() -> None:
    small = _run(1, 1_000, {"history/extract/salesforce": 2.0})
    large = _run(10, 10_000, {"history/extract/salesforce": 40.0})
    large["stages"][0]["rows"] = 20_000  # its records grew twentyfold, the world tenfold
    line = next(
        line
        for line in markdown_table([small, large]).splitlines()
        if line.startswith("| history/extract/salesforce |")
    )
    assert line.endswith("| 1.00 |")


def test_a_lower_bound_query_grows_against_the_world_not_its_output_rows() -> None:
    small = _run(1, 1_000, {"lower_bound/region_mart_query": 0.4})
    large = _run(10, 10_000, {"lower_bound/region_mart_query": 4.0})
    for document in (small, large):
        document["stages"][0]["rows"] = 917  # the mart's rows: the same at any scale
    line = next(
        line
        for line in markdown_table([small, large]).splitlines()
        if line.startswith("| lower_bound/region_mart_query |")
    )
    assert line.endswith("| 1.00 |")


def test_cli_prints_the_table_without_running_a_bench(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text(json.dumps(_run(1, 1_000, {"generate": 2.0})), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "reach2revenue.cli", "bench", "--table", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.startswith("| figure | scale 1 (91 d) | growth exponent |")
    assert "| generate | 2.0 s (500 rows/s) |" in done.stdout
