"""Great Expectations Data Docs: every load's results kept (passes too), history bounded.

Real landed pages through the real `pipeline.load_and_validate`; the store and the site
are GX's own files under ``$R2R_HOME/gx/``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import date
from pathlib import Path

import pytest

from meta_landing import land_day
from reach2revenue import pipeline, quality
from reach2revenue.quality import DataQualityError
from reach2revenue.settings import Settings

DAY = date(2026, 9, 1)
INDEX_LINK = re.compile(
    r"validations/meta_ads__insights/reach2revenue_load/(\w+\.\w+)/[\w-]+\.html"
)


def results_on_disk(settings: Settings) -> list[Path]:
    return sorted((settings.gx_dir / "uncommitted" / "validations").rglob("*.json"))


def runs_listed(index: Path) -> set[str]:
    """The run times the index links a meta_ads__insights result page of."""
    return set(INDEX_LINK.findall(index.read_text(encoding="utf-8")))


def test_two_loads_leave_two_results_listed_in_the_index(tmp_path: Path) -> None:
    settings = Settings.for_home(tmp_path)
    first = pipeline.load_and_validate([land_day(settings.landing_dir, DAY, 12)], settings)
    second = pipeline.load_and_validate([land_day(settings.landing_dir, DAY, 12)], settings)

    index = settings.gx_dir / "uncommitted" / "data_docs" / "local_site" / "index.html"
    assert first["data_docs"] == second["data_docs"] == str(index)
    assert index.is_file()
    assert len(results_on_disk(settings)) == 2
    runs = runs_listed(index)
    assert len(runs) == 2
    for run in runs:  # each listed result has its page
        [page] = (index.parent / "validations" / "meta_ads__insights").rglob(f"{run}/*.html")
        assert "Succeeded" in page.read_text(encoding="utf-8")
    # The suite the batches were checked against is in the docs too.
    assert (index.parent / "expectations" / "meta_ads__insights.html").is_file()
    # Results hold counts and row positions, never the rows themselves.
    stored = json.loads(results_on_disk(settings)[0].read_text())
    assert stored["success"] is True
    assert stored["meta"]["reach2revenue_batch"] == f"meta_ads/insights {DAY}..{DAY}"
    assert stored["meta"]["batch_spec"] == {"batch_data": "PandasDataFrame"}


def test_only_the_last_runs_are_kept(tmp_path: Path) -> None:
    settings = dataclasses.replace(Settings.for_home(tmp_path), gx_keep_runs=1)
    for _ in range(2):
        summary = pipeline.load_and_validate([land_day(settings.landing_dir, DAY, 12)], settings)
    [kept] = results_on_disk(settings)
    index = Path(summary["data_docs"])
    assert runs_listed(index) == {kept.parent.name}
    pages = list((index.parent / "validations").rglob("*.html"))
    assert [page.parent.name for page in pages] == [kept.parent.name]
    assert len(quality.stored_runs(settings.gx_dir)) == 1


def test_a_failed_batch_is_in_the_docs_as_failed_and_quarantined(tmp_path: Path) -> None:
    settings = Settings.for_home(tmp_path)
    pipeline.load_and_validate([land_day(settings.landing_dir, DAY, 12)], settings)
    with pytest.raises(DataQualityError) as caught:
        pipeline.load_and_validate([land_day(settings.landing_dir, DAY, 12, spend="-1")], settings)

    report = json.loads(caught.value.report_path.read_text())
    assert report["failed"][0]["entity"] == "insights"
    index = Path(report["data_docs"])
    assert index.is_file() and len(runs_listed(index)) == 2
    failed = [
        path for path in results_on_disk(settings) if not json.loads(path.read_text())["success"]
    ]
    assert len(failed) == 1
    [page] = (index.parent / "validations").rglob(f"{failed[0].parent.name}/*.html")
    assert "Failed" in page.read_text(encoding="utf-8")
    assert "Failed" in index.read_text(encoding="utf-8")
