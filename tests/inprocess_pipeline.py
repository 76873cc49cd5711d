"""The nightly pipeline's steps run in this process against the stand-ins (no Airflow).

Exactly the calls the DAG's tasks make (`pipeline.extract` per registered source, then
`load_and_validate`, `build`, `publish`), with the credentials of the stand-ins in the
environment, as the DAG's workers read them. A failed extract stops the night before
load, as Airflow's trigger rule does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from reach2revenue import pipeline
from reach2revenue.contracts import Interval
from reach2revenue.credentials import environment_from_connection
from reach2revenue.sandbox.standins import StandinServers, start_standins
from reach2revenue.sandbox.world import World
from reach2revenue.settings import Settings
from reach2revenue.sources import SOURCE_NAMES

TOKEN = "inprocess-test-token"


@dataclasses.dataclass
class Sandbox:
    """A world, its stand-ins, and a reach2revenue home pointed at them."""

    world: World
    servers: StandinServers
    settings: Settings
    truth: list[dict[str, Any]]

    def night(self, first_day: date, last_day: date | None = None) -> dict[str, Any]:
        """Run extract (every source), load, build and publish for ``[first, last]``."""
        last_day = last_day or first_day
        interval = Interval.from_dates(first_day, last_day + timedelta(days=1))
        manifests = [
            path
            for source in SOURCE_NAMES
            for path in pipeline.extract(source, interval, self.settings)
        ]
        loaded = pipeline.load_and_validate(manifests, self.settings)
        built = pipeline.build(self.settings)
        published = pipeline.publish(self.settings)
        return {"load": loaded, "build": built, "publish": published}


@contextmanager
def sandbox(
    home: Path, *, start: date, days: int, seed: int = 11, scale: float = 0.2
) -> Iterator[Sandbox]:
    """A world (small by default) served by every stand-in, with their credentials in the
    environment."""
    settings = Settings.for_home(home)
    world = World.generate(seed=seed, start=start, days=days, scale=scale)
    truth = world.ground_truth(reporting_currency="EUR", reporting_timezone="Europe/Berlin")
    world.write_fx_overrides(settings.fx_rate_overrides_path)
    with (
        start_standins(world, token=TOKEN, rate_limits=False) as servers,
        pytest.MonkeyPatch.context() as patch,
    ):
        for name, connection in servers.connections(TOKEN).items():
            for key, value in environment_from_connection(
                name.removesuffix("_default"), connection
            ).items():
                patch.setenv(key, value)
        yield Sandbox(world, servers, settings, truth)
