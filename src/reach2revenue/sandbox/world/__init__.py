"""A deterministic synthetic marketing-to-sales world.

One seeded generator produces everything the stand-in servers serve and everything the
tests compare the pipeline against: Meta ad accounts with daily campaign x country
delivery, HubSpot contacts that the leads of those campaigns became (plus contacts found
by sales), and deals with a full version history so a server can answer "as of now".
Its customers are in some sixty countries on every continent; money is in their currencies
and converts with the world's ECB reference rates (`World.fx_observations`: the real
history, then a seeded continuation) and overrides for what the ECB does not publish
(`World.fx_overrides`, AED). The ground truth (`World.ground_truth`) is computed from
these objects directly, never via SQL, following the conventions of docs/architecture.md.

    world = World.generate(seed=42, start=date(2024, 7, 1), days=90, scale=1.0)
    world.save(directory)                  # world.json + *.jsonl, deterministic bytes
    world = World.load(directory)
    rows = world.ground_truth("EUR", "Europe/Berlin")
    world.fx.convert(Decimal("100"), "JPY", "EUR", day)   # the rates the truth used
"""

from __future__ import annotations

from reach2revenue.sandbox.world._generate import generate_fx
from reach2revenue.sandbox.world.model import (
    CONTACT_MODIFIED_PROPERTY,
    CONTACT_PROPERTIES,
    CONTACT_TO_DEAL_TYPE_ID,
    DEAL_MODIFIED_PROPERTY,
    DEAL_PROPERTIES,
    DEAL_TO_CONTACT_TYPE_ID,
    ECB_RATES_FILE,
    FX_OVERRIDES_COLUMNS,
    FX_OVERRIDES_FILE,
    GROUND_TRUTH_COLUMNS,
    OPEN_STAGES,
    PIPELINE,
    STAGE_LOST,
    STAGE_WON,
    UNKNOWN_COUNTRY,
    AdAccount,
    Campaign,
    Contact,
    CrmObject,
    Deal,
    FxOverride,
    GroundTruthRow,
    MetaInsight,
    Seeds,
    Version,
    World,
    epoch_ms,
    format_instant,
    insight_action,
    insight_day,
    insight_leads,
    is_whole_unit_currency,
    local_day_bounds,
    parse_instant,
    read_fx_overrides,
    round_half_up,
    write_ground_truth_csv,
)

__all__ = [
    "CONTACT_MODIFIED_PROPERTY",
    "CONTACT_PROPERTIES",
    "CONTACT_TO_DEAL_TYPE_ID",
    "DEAL_MODIFIED_PROPERTY",
    "DEAL_PROPERTIES",
    "DEAL_TO_CONTACT_TYPE_ID",
    "ECB_RATES_FILE",
    "FX_OVERRIDES_COLUMNS",
    "FX_OVERRIDES_FILE",
    "GROUND_TRUTH_COLUMNS",
    "OPEN_STAGES",
    "PIPELINE",
    "STAGE_LOST",
    "STAGE_WON",
    "UNKNOWN_COUNTRY",
    "AdAccount",
    "Campaign",
    "Contact",
    "CrmObject",
    "Deal",
    "FxOverride",
    "GroundTruthRow",
    "MetaInsight",
    "Seeds",
    "Version",
    "World",
    "epoch_ms",
    "format_instant",
    "generate_fx",
    "insight_action",
    "insight_day",
    "insight_leads",
    "is_whole_unit_currency",
    "local_day_bounds",
    "parse_instant",
    "read_fx_overrides",
    "round_half_up",
    "write_ground_truth_csv",
]
