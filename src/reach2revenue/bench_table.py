"""Bench runs side by side: one Markdown table of several `r2r bench` JSON files.

``r2r bench --table a.json b.json c.json`` prints it (README "Speed" carries the latest).
Besides each run's figures, the table gives every stage's **growth exponent** from the
smallest run to the largest: ``log(seconds ratio) / log(rows ratio)``, where rows are
all the rows the world generated. 1 means the stage's cost grows in proportion to the
data (linear), below 1 it grows slower (fixed costs dominate), above 1 faster than
linear: the issue's target is "no faster than linearly".
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: A stage whose exponent is below this grows no faster than linearly, measurement noise
#: of the 2-core machine allowed for.
LINEAR_EXPONENT_LIMIT = 1.15
#: Stages whose rows are what they produce, not what they read: they grow against the world.
OUTPUT_ROWS_PREFIX = "lower_bound/"


def load_results(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """The runs' JSON documents, smallest world first."""
    documents = [json.loads(Path(path).read_text(encoding="utf-8")) for path in paths]
    return sorted(documents, key=world_rows)


def world_rows(document: Mapping[str, Any]) -> int:
    """All rows the run's world generated (ad reports, contacts, deals...)."""
    return sum(int(value) for value in document.get("rows", {}).values())


def growth_exponent(
    small_seconds: float, large_seconds: float, small_rows: int, large_rows: int
) -> float | None:
    """How a cost grows with the data: 1 linear, <1 slower, >1 faster; None if unknown."""
    if min(small_seconds, large_seconds) <= 0 or small_rows <= 0 or large_rows <= small_rows:
        return None
    return math.log(large_seconds / small_seconds) / math.log(large_rows / small_rows)


def _stage_seconds(document: Mapping[str, Any]) -> dict[str, float]:
    return {stage["name"]: float(stage["seconds"]) for stage in document.get("stages", ())}


def _stage_rates(document: Mapping[str, Any]) -> dict[str, float | None]:
    return {stage["name"]: stage.get("rows_per_second") for stage in document.get("stages", ())}


def _stage_rows(document: Mapping[str, Any]) -> dict[str, int]:
    return {stage["name"]: int(stage.get("rows") or 0) for stage in document.get("stages", ())}


def _cell(seconds: float | None, rate: float | None) -> str:
    if seconds is None:
        return ""
    text = f"{seconds:,.1f} s"
    return f"{text} ({rate:,.0f} rows/s)" if rate else text


def markdown_table(documents: Sequence[Mapping[str, Any]]) -> str:
    """Stages, lower bounds and ratios of each run in a column, growth exponent last."""
    if not documents:
        raise ValueError("no bench results to tabulate")
    headers = [f"scale {doc['config']['scale']:g} ({doc['config']['days']} d)" for doc in documents]
    lines = [
        "| figure | " + " | ".join(headers) + " | growth exponent |",
        "|---|" + "---|" * len(documents) + "---|",
    ]

    def row(label: str, cells: Sequence[str], growth: str = "") -> None:
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {growth} |")

    small, large = documents[0], documents[-1]
    small_rows, large_rows = world_rows(small), world_rows(large)
    for key in dict.fromkeys(key for doc in documents for key in doc.get("rows", {})):
        row(f"rows: {key}", [f"{doc.get('rows', {}).get(key, 0):,}" for doc in documents])
    row("rows generated in all", [f"{world_rows(doc):,}" for doc in documents])
    seconds = [_stage_seconds(doc) for doc in documents]
    rates = [_stage_rates(doc) for doc in documents]
    names = list(dict.fromkeys(name for stages in seconds for name in stages))
    stage_rows = [_stage_rows(doc) for doc in documents]
    for name in names:
        # A stage that counts its own rows grows against them (Salesforce's records grow
        # faster than the world's ad rows and contacts); the others against the world,
        # and so do the lower-bound queries: their rows are what they output (a mart's
        # region x period rows), not what they read.
        first_rows, last_rows = stage_rows[0].get(name, 0), stage_rows[-1].get(name, 0)
        if not (first_rows and last_rows) or name.startswith(OUTPUT_ROWS_PREFIX):
            first_rows, last_rows = small_rows, large_rows
        exponent = growth_exponent(
            seconds[0].get(name, 0.0), seconds[-1].get(name, 0.0), first_rows, last_rows
        )
        verdict = ""
        if exponent is not None:
            verdict = f"{exponent:.2f}" + (" ⚠" if exponent > LINEAR_EXPONENT_LIMIT else "")
        row(
            name,
            [
                _cell(stages.get(name), rate.get(name))
                for stages, rate in zip(seconds, rates, strict=True)
            ],
            verdict,
        )
    peaks = [
        max((stage.get("peak_rss_bytes", 0) for stage in doc.get("stages", ())), default=0)
        for doc in documents
    ]
    row("peak RSS of a stage (MiB)", [f"{peak / 2**20:,.0f}" for peak in peaks])
    for bound in ("region_mart", "contribution_mart"):
        cells = []
        for doc in documents:
            figures = doc.get("lower_bounds", {}).get(bound)
            cells.append(
                f"{figures['seconds']:.2f} s, equal to the cent: {figures['equal_to_the_cent']}"
                if figures
                else ""
            )
        if any(cells):
            row(f"{bound.replace('_', ' ')} query (lower bound)", cells)
    ratio_names = list(dict.fromkeys(name for doc in documents for name in doc.get("ratios", {})))
    for name in sorted(ratio_names):
        row(
            name,
            [
                "" if doc.get("ratios", {}).get(name) is None else f"{doc['ratios'][name]:g}"
                for doc in documents
            ],
        )
    row(
        "stand-ins' CPU, history (apart)",
        [f"{doc.get('standins', {}).get('history_cpu_seconds', 0):,.1f} s" for doc in documents],
    )
    row(
        "CRM full load of 1M objects at the real limit",
        [
            ", ".join(
                f"{source} {figures['hours']} h"
                for source, figures in doc.get("crm_full_load_at_real_limit", {}).items()
            )
            for doc in documents
        ],
    )
    if any(doc.get("airflow") for doc in documents):
        row(
            "Airflow nightly: wall / overhead",
            [
                f"{doc['airflow']['wall_seconds']} s / {doc['airflow']['overhead_seconds']} s"
                if doc.get("airflow")
                else ""
                for doc in documents
            ],
        )
    row("cores", [str(doc.get("machine", {}).get("cpu_count", "")) for doc in documents])
    return "\n".join(lines) + "\n"
