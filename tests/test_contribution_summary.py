"""What `make demo` prints of the marketing-vs-sales question: `verify.contribution_summary`
and its table, read from a published file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from reach2revenue import cli, verify


def _published(path: Path, rows: list[tuple[object, ...]]) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute(
            """
            create table marketing_contribution_by_region_month (
                region varchar, month_start date, won_deals bigint,
                won_revenue decimal(18, 2), marketing_sourced_revenue decimal(18, 2),
                sales_sourced_revenue decimal(18, 2),
                marketing_influenced_revenue decimal(18, 2), reporting_currency_code varchar
            )
            """
        )
        if rows:
            con.executemany(
                "insert into marketing_contribution_by_region_month"
                " values (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
    return path


def test_shares_per_region_and_in_all_come_from_the_summed_revenue(tmp_path: Path) -> None:
    path = _published(
        tmp_path / "published.duckdb",
        [
            ("DACH", "2026-09-01", 2, "300.00", "200.00", "100.00", "250.00", "EUR"),
            ("DACH", "2026-10-01", 1, "100.00", "100.00", "0.00", "100.00", "EUR"),
            ("Nordics", "2026-09-01", 3, "900.00", "0.00", "900.00", "300.00", "EUR"),
            ("Nordics", "2026-10-01", 0, "0.00", "0.00", "0.00", "0.00", "EUR"),
            ("APAC", "2026-09-01", 0, "0.00", "0.00", "0.00", "0.00", "EUR"),
        ],
    )

    rows = verify.contribution_summary(path)

    assert [row["region"] for row in rows] == ["Nordics", "DACH", "All"]
    nordics, dach, total = rows
    assert (dach["won_deals"], dach["won_revenue"]) == (3, Decimal("400.00"))
    assert dach["marketing_sourced_percent"] == pytest.approx(75.0)
    assert dach["sales_sourced_percent"] == pytest.approx(25.0)
    assert dach["marketing_influenced_percent"] == pytest.approx(87.5)
    assert nordics["marketing_sourced_percent"] == pytest.approx(0.0)
    assert (total["won_deals"], total["won_revenue"]) == (6, Decimal("1300.00"))
    assert total["marketing_sourced_percent"] == pytest.approx(23.1)
    assert total["currency"] == "EUR"


def test_the_demo_table_prints_every_region_with_won_deals_and_the_total(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _published(
        tmp_path / "published.duckdb",
        [("DACH", "2026-09-01", 2, "300.00", "200.00", "100.00", "250.00", "EUR")],
    )
    cli.print_contribution_table(path)
    printed = capsys.readouterr().out
    assert "DACH" in printed and "All" in printed
    assert "66.7 %" in printed and "33.3 %" in printed and "83.3 %" in printed


def test_no_won_deals_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _published(tmp_path / "published.duckdb", [])
    cli.print_contribution_table(path)
    assert "no won deals" in capsys.readouterr().out
