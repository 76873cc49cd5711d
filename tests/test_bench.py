"""`r2r bench` at a tiny scale: it finishes, every figure is there and positive, and the
lower-bound queries equal the region and contribution marts to the cent. Nothing here
asserts on time."""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from reach2revenue.bench import (
    CONTRIBUTION_MART,
    REGION_MART,
    BenchConfig,
    compare_rows,
    run_bench,
    write_result,
)
from reach2revenue.cli import main
from reach2revenue.timing import StageTimer


def test_stage_timer_measures_nested_stages_with_their_own_peak() -> None:
    timer = StageTimer(sample_seconds=0.005)
    with timer.stage("outer"), timer.stage("middle"):
        with timer.stage("inner", rows=1000) as inner:
            ballast = bytearray(64 * 2**20)  # touch 64 MiB so the peak shows it
            ballast[::4096] = b"x" * len(ballast[::4096])
            time.sleep(0.05)
            del ballast
        inner.extra["note"] = "kept"
    timer.close()
    names = [m.name for m in timer.measures]
    assert names == ["outer/middle/inner", "outer/middle", "outer"]
    inner_measure = timer.get("outer/middle/inner")
    assert inner_measure is not None
    assert inner_measure.rows_per_second is not None and inner_measure.rows_per_second > 0
    assert inner_measure.peak_rss_bytes > 64 * 2**20
    assert inner_measure.extra == {"note": "kept"}
    outer = timer.get("outer")
    assert outer is not None and outer.seconds >= inner_measure.seconds


@pytest.mark.slow
def test_bench_at_a_tiny_scale_reports_every_figure(tmp_path: Path) -> None:
    # 30 days: the first won deals close after a few weeks (6 days had none, and the
    # contribution bound compared two empty tables); the build's fixed cost dominates.
    result = run_bench(BenchConfig(scale=0.02, days=30, seed=5, home=tmp_path / "bench"))
    document = json.loads(write_result(result, tmp_path / "bench.json").read_text())

    stages = {stage["name"]: stage for stage in document["stages"]}
    sources = ("meta_ads", "google_ads", "linkedin_ads", "hubspot", "salesforce", "ecb_fx")
    expected = ["generate", "lower_bound/region_mart_query", "lower_bound/contribution_mart_query"]
    for phase in ("history", "nightly"):
        expected += [phase, f"{phase}/load_and_validate", f"{phase}/dbt_build", f"{phase}/publish"]
        expected += [f"{phase}/load_and_validate/{s}" for s in ("land", "validate", "load")]
        expected += [f"{phase}/extract/{source}" for source in sources]
    for name in expected:
        assert name in stages, name
        assert stages[name]["seconds"] > 0, name
        assert stages[name]["peak_rss_bytes"] > 0, name
    for source in sources:
        assert stages[f"history/extract/{source}"]["rows"] > 0, source
        assert stages[f"history/extract/{source}"]["extra"]["requests"] > 0, source
        bound = document["lower_bounds"]["extraction"][source]
        assert bound["rows_per_second"] > 0 and bound["bytes"] > 0, source
    region = document["lower_bounds"]["region_mart"]
    assert region["equal_to_the_cent"] is True
    assert region["rows"] > 0 and region["seconds"] > 0
    contribution = document["lower_bounds"]["contribution_mart"]
    assert contribution["equal_to_the_cent"] is True
    assert contribution["seconds"] > 0
    assert contribution["rows"] == contribution["mart_rows"] > 0
    # Not equal by coincidence: both kinds of won deal are there to classify.
    warehouse = tmp_path / "bench" / "warehouse" / "reach2revenue.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        sourced, sales_sourced = con.execute(
            "select sum(marketing_sourced_deals), sum(sales_sourced_deals)"
            " from main.marketing_contribution_by_region_month"
        ).fetchall()[0]
    assert sourced > 0 and sales_sourced > 0
    assert document["rows"]["ad_report_rows"] > 0
    assert document["standins"]["history_cpu_seconds"] > 0
    assert document["machine"]["cpu_count"] >= 1
    for crm in ("hubspot", "salesforce"):
        assert document["crm_full_load_at_real_limit"][crm]["hours"] > 0, crm
    ratios = document["ratios"]
    assert ratios["history_dbt_build_over_region_mart_query"] > 0
    assert ratios["history_dbt_build_over_contribution_mart_query"] > 0
    assert ratios["nightly_dbt_build_over_contribution_mart_query"] > 0
    assert ratios["nightly_dbt_build_over_full_build"] > 0
    assert ratios["history_validate_over_dbt_build"] > 0


def test_a_mart_and_its_query_differing_are_named_by_key_and_column() -> None:
    def row(region: str, month: str, *measures: Any) -> tuple[Any, ...]:
        return (region, date.fromisoformat(month), *measures)

    # won, won revenue, sourced, its revenue, sales, its revenue, influenced, its
    # revenue, the three shares, unconverted
    mart = [
        row("DACH", "2026-08-01", 2, 10.0, 1, 4.0, 1, 6.0, 1, 4.0, 0.4, 0.6, 0.4, 0),
        row("DACH", "2026-09-01", 0, 0, 0, 0, 0, 0, 0, 0, None, None, None, 0),
        row("Nordics", "2026-09-01", 1, 5.0, 0, 0, 1, 5.0, 0, 0, 0, 1, 0, 0),
    ]
    query = [
        row("DACH", "2026-08-01", 2, 10.0, 1, 4.0, 1, 6.0, 1, 4.0, 0.4, 0.6, 0.4, 0),
        row("DACH", "2026-09-01", 0, 0, 0, 0, 0, 0, 0, 0, 0, None, None, 1),
    ]
    assert compare_rows(CONTRIBUTION_MART, mart, mart) == []
    assert compare_rows(CONTRIBUTION_MART, query, mart) == [
        "DACH 2026-09-01: marketing_sourced_share mart None vs query 0.0000,"
        " unconverted_deals mart 0 vs query 1",
        "Nordics 2026-09-01: only in the mart",
    ]
    # The region mart keeps all-zero region-days the query leaves out.
    zero_day = ("DACH", date(2026, 8, 1), *(0,) * len(REGION_MART.measures))
    assert compare_rows(REGION_MART, [], [zero_day]) == []


def test_hours_at_the_real_limit_count_search_at_its_own_budget() -> None:
    from reach2revenue.bench import hours_at_real_limit
    from reach2revenue.http_client import Exchange

    def exchange(path: str) -> Exchange:
        return Exchange("POST", f"https://api.hubapi.com{path}", None, None, {}, 10)

    # 200 objects in one search page and one list page: 5,000 of each per million.
    figures = hours_at_real_limit(
        "hubspot",
        [exchange("/crm/v3/objects/deals/search"), exchange("/crm/v3/objects/deals")],
        rows=200,
    )
    assert figures is not None
    assert figures["requests_per_million_objects"] == {"search": 5000.0, "other": 5000.0}
    assert figures["hours"] == round((5000 / 5 + 5000 / 15) / 3600, 3)
    assert hours_at_real_limit("meta_ads", [exchange("/x")], rows=10) is None


def test_bench_command_is_wired(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["bench", "--help"])
    assert exited.value.code == 0
    assert "--scale" in capsys.readouterr().out
