"""Stand-in servers for the sources reach2revenue reads (Meta Ads, HubSpot CRM, ECB rates).

They are part of the product, not test mocks: they speak the real request and response
shapes, so an extractor works against the real service by changing only its base URL and
token. All serve one `reach2revenue.sandbox.world.World` as of a server clock and share a control
plane under ``/__standin/`` (faults, clock, stats) that tests and the demo use.

    with start_standins(world, token="t", clock=instant) as servers:
        requests.get(f"{servers.meta_url}/v21.0/act_1001/insights", ...)
        servers.hubspot.inject_fault("/crm/v3/objects/deals/search", 429, count=2)
        requests.get(f"{servers.ecb_url}/service/data/EXR/D..EUR.SP00.A?format=csvdata")

Run as a process with ``python -m reach2revenue.sandbox.standins --world DIR``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

from reach2revenue.sandbox.standins._http import StandinServer
from reach2revenue.sandbox.standins.ecb import EcbServer
from reach2revenue.sandbox.standins.hubspot import HubSpotServer
from reach2revenue.sandbox.standins.meta_ads import MetaAdsServer
from reach2revenue.sandbox.world import World

DEFAULT_TOKEN = "standin-token"

__all__ = [
    "DEFAULT_TOKEN",
    "EcbServer",
    "HubSpotServer",
    "MetaAdsServer",
    "StandinServer",
    "StandinServers",
    "start_standins",
]


@dataclass
class StandinServers:
    """The running Meta, HubSpot and ECB stand-ins; a context manager that stops them."""

    meta: MetaAdsServer
    hubspot: HubSpotServer
    ecb: EcbServer

    @property
    def meta_url(self) -> str:
        """Meta base URL without version, e.g. ``http://127.0.0.1:PORT``."""
        return self.meta.url

    @property
    def hubspot_url(self) -> str:
        """HubSpot base URL, e.g. ``http://127.0.0.1:PORT``."""
        return self.hubspot.url

    @property
    def ecb_url(self) -> str:
        """ECB Data Portal base URL (the API's ``/service/...`` paths below it)."""
        return self.ecb.url

    @property
    def all_servers(self) -> tuple[StandinServer, ...]:
        """Every running stand-in."""
        return (self.meta, self.hubspot, self.ecb)

    @property
    def urls(self) -> dict[str, str]:
        """All base URLs, as the process entry point prints them."""
        return {"meta_url": self.meta_url, "hubspot_url": self.hubspot_url, "ecb_url": self.ecb_url}

    def set_clock(self, now: datetime | str | None) -> None:
        """Move every server clock (None = wall clock)."""
        for server in self.all_servers:
            server.set_clock(now)

    def reindex(self) -> None:
        """Re-read the world on every server after mutating it."""
        self.meta.reindex()
        self.hubspot.reindex()
        self.ecb.reindex()

    def reset_stats(self) -> None:
        """Forget the request counts of every server."""
        for server in self.all_servers:
            server.reset_stats()

    def stop(self) -> None:
        """Stop every server."""
        for server in self.all_servers:
            server.stop()

    def __enter__(self) -> StandinServers:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_standins(
    world: World,
    *,
    token: str = DEFAULT_TOKEN,
    clock: datetime | None = None,
    host: str = "127.0.0.1",
    meta_port: int = 0,
    hubspot_port: int = 0,
    ecb_port: int = 0,
    rate_limits: bool = True,
    **limits: Any,
) -> StandinServers:
    """Start every stand-in on a background thread and return them.

    Args:
        world: the world they serve (the ECB stand-in its ``fx_observations``).
        token: the token Meta and HubSpot accept (the ECB API is public).
        clock: fixed server clock for all (aware instant); None = wall clock.
        host: address to listen on.
        meta_port, hubspot_port, ecb_port: ports (0 = ephemeral).
        rate_limits: enforce the platforms' throttles.
        **limits: optional limit overrides: ``meta_calls_per_window``,
            ``meta_window_seconds``, ``hubspot_search_per_second``,
            ``hubspot_per_ten_seconds``.
    """
    meta_limits = {
        key.removeprefix("meta_"): value for key, value in limits.items() if key.startswith("meta_")
    }
    hubspot_limits = {
        key.removeprefix("hubspot_"): value
        for key, value in limits.items()
        if key.startswith("hubspot_")
    }
    unknown = (
        set(limits) - {f"meta_{k}" for k in meta_limits} - {f"hubspot_{k}" for k in hubspot_limits}
    )
    if unknown:
        raise TypeError(f"unknown limit overrides: {sorted(unknown)}")
    meta = MetaAdsServer(
        world,
        token=token,
        clock=clock,
        host=host,
        port=meta_port,
        rate_limits=rate_limits,
        **meta_limits,
    )
    created: list[StandinServer] = [meta]
    try:
        hubspot = HubSpotServer(
            world,
            token=token,
            clock=clock,
            host=host,
            port=hubspot_port,
            rate_limits=rate_limits,
            **hubspot_limits,
        )
        created.append(hubspot)
        ecb = EcbServer.from_world(
            world, token=token, clock=clock, host=host, port=ecb_port, rate_limits=rate_limits
        )
    except BaseException:
        for server in created:
            server.stop()
        raise
    servers = StandinServers(meta=meta, hubspot=hubspot, ecb=ecb)
    for server in servers.all_servers:
        server.start()
    return servers
