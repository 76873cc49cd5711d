"""Stand-in servers for the sources reach2revenue reads, one module per source.

They are part of the product, not test mocks: they speak the real request and response
shapes, so an extractor works against the real service by changing only its base URL and
token. All serve one `reach2revenue.sandbox.world.World` as of a server clock and share a
control plane under ``/__standin/`` (faults, clock, stats) that tests and the demo use.

    with start_standins(world, token="t", clock=instant) as servers:
        requests.get(f"{servers.url('meta_ads')}/v21.0/act_1001/insights", ...)
        servers["hubspot"].inject_fault("/crm/v3/objects/deals/search", 429, count=2)
        env = servers.connections(token)   # Airflow connections for every source

Run as a process with ``python -m reach2revenue.sandbox.standins --world DIR``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

from reach2revenue.sandbox.standins._http import StandinServer
from reach2revenue.sandbox.standins.ecb_fx import EcbServer
from reach2revenue.sandbox.standins.hubspot import HubSpotServer
from reach2revenue.sandbox.standins.meta_ads import MetaAdsServer
from reach2revenue.sandbox.world import World
from reach2revenue.sources import SOURCE_NAMES

DEFAULT_TOKEN = "standin-token"


def standin_type(source: str) -> type[StandinServer]:
    """The stand-in of a registered source: the `StandinServer` subclass whose ``source``
    is its name, in ``sandbox/standins/<source>.py`` (found by convention, so a new source
    registers its stand-in by writing that module)."""
    module = importlib.import_module(f"{__name__}.{source}")
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, StandinServer)
            and getattr(value, "source", None) == source
        ):
            return value
    raise LookupError(f"{module.__name__} has no StandinServer with source = {source!r}")


#: The stand-in of each registered source, in registry order.
STANDIN_TYPES: tuple[type[StandinServer], ...] = tuple(standin_type(n) for n in SOURCE_NAMES)

__all__ = [
    "DEFAULT_TOKEN",
    "STANDIN_TYPES",
    "EcbServer",
    "HubSpotServer",
    "MetaAdsServer",
    "StandinServer",
    "StandinServers",
    "start_standins",
]


@dataclass
class StandinServers:
    """The running stand-ins by source name; a context manager that stops them."""

    servers: dict[str, StandinServer]

    def __getitem__(self, source: str) -> StandinServer:
        return self.servers[source]

    def url(self, source: str) -> str:
        """Base URL of a source's stand-in, e.g. ``http://127.0.0.1:PORT``."""
        return self.servers[source].url

    @property
    def meta(self) -> MetaAdsServer:
        return self.servers["meta_ads"]  # type: ignore[return-value]

    @property
    def hubspot(self) -> HubSpotServer:
        return self.servers["hubspot"]  # type: ignore[return-value]

    @property
    def ecb(self) -> EcbServer:
        return self.servers["ecb_fx"]  # type: ignore[return-value]

    @property
    def meta_url(self) -> str:
        """Meta base URL without version."""
        return self.url("meta_ads")

    @property
    def hubspot_url(self) -> str:
        return self.url("hubspot")

    @property
    def ecb_url(self) -> str:
        """ECB Data Portal base URL (the API's ``/service/...`` paths below it)."""
        return self.url("ecb_fx")

    @property
    def all_servers(self) -> tuple[StandinServer, ...]:
        """Every running stand-in."""
        return tuple(self.servers.values())

    @property
    def urls(self) -> dict[str, str]:
        """All base URLs (``<source>_url``), as the process entry point prints them."""
        return {f"{name}_url": server.url for name, server in self.servers.items()}

    def connections(self, token: str) -> dict[str, dict[str, Any]]:
        """Airflow connections ``<source>_default`` pointing every source at its stand-in."""
        return {
            f"{name}_default": server.connection(token) for name, server in self.servers.items()
        }

    def set_clock(self, now: datetime | str | None) -> None:
        """Move every server clock (None = wall clock)."""
        for server in self.all_servers:
            server.set_clock(now)

    def reindex(self) -> None:
        """Re-read the world on every server after mutating it."""
        for server in self.all_servers:
            server.reindex()  # type: ignore[attr-defined]

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
    ports: Mapping[str, int] | None = None,
    rate_limits: bool = True,
    **limits: Any,
) -> StandinServers:
    """Start every stand-in on a background thread and return them.

    Args:
        world: the world they serve.
        token: the token the platforms accept (public APIs ignore it).
        clock: fixed server clock for all (aware instant); None = wall clock.
        host: address to listen on.
        ports: ``{source: port}`` (missing or 0 = ephemeral).
        rate_limits: enforce the platforms' throttles.
        **limits: limit overrides named by each stand-in's prefix, e.g.
            ``meta_calls_per_window``, ``meta_window_seconds``,
            ``hubspot_search_per_second``, ``hubspot_per_ten_seconds``.
    """
    ports = dict(ports or {})
    own = {
        cls.source: {
            key.removeprefix(cls.limit_prefix): value
            for key, value in limits.items()
            if key.startswith(cls.limit_prefix)
        }
        for cls in STANDIN_TYPES
    }
    unknown = set(limits) - {
        cls.limit_prefix + key for cls in STANDIN_TYPES for key in own[cls.source]
    }
    if unknown:
        raise TypeError(f"unknown limit overrides: {sorted(unknown)}")
    created: dict[str, StandinServer] = {}
    try:
        for cls in STANDIN_TYPES:
            created[cls.source] = cls.from_world(
                world,
                token=token,
                clock=clock,
                host=host,
                port=ports.get(cls.source, 0),
                rate_limits=rate_limits,
                **own[cls.source],
            )
    except BaseException:
        for server in created.values():
            server.stop()
        raise
    servers = StandinServers(created)
    for server in servers.all_servers:
        server.start()
    return servers
