"""``python -m reach2revenue.sandbox.world --out DIR``: generate a world and its ground truth.

The directory gets the saved world (`World.save`: objects, ECB rates and FX overrides) and
``ground_truth.csv`` in the reporting currency and time zone of the environment.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

from reach2revenue.sandbox.world.model import World
from reach2revenue.settings import Settings


def main(argv: list[str] | None = None) -> int:
    """Generate a world into a directory, with its ground truth CSV beside it."""
    parser = argparse.ArgumentParser(
        prog="python -m reach2revenue.sandbox.world", description=main.__doc__
    )
    parser.add_argument("--out", type=Path, required=True, help="directory to write")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2024, 7, 1))
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    world = World.generate(seed=args.seed, start=args.start, days=args.days, scale=args.scale)
    world.save(args.out)
    world.write_ground_truth(
        args.out / "ground_truth.csv",
        reporting_currency=settings.reporting_currency,
        reporting_timezone=settings.reporting_timezone,
    )
    print(
        json.dumps(
            {
                "directory": str(args.out),
                "insights": len(world.meta_insights),
                "contacts": len(world.contacts),
                "deals": len(world.deals),
                "countries": len(world.countries_used()),
                "currencies": len(world.currencies_used()),
                "fx_observations": len(world.fx_observations),
                "fx_overrides": len(world.fx_overrides),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
