"""Run the stand-ins (Meta, HubSpot, ECB) as a process until SIGTERM/SIGINT.

    python -m reach2revenue.sandbox.standins --world DIR --token T [--port SOURCE=PORT ...]

Prints one JSON line of base URLs (``{"meta_ads_url": ..., "hubspot_url": ..., ...}``) once
all are listening, so a parent process can read the (possibly ephemeral) ports. Without
``--world`` a world is generated from ``--seed/--start/--days/--scale``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from datetime import date
from pathlib import Path
from types import FrameType

from reach2revenue.sandbox.standins import DEFAULT_TOKEN, start_standins
from reach2revenue.sandbox.world import World, parse_instant


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reach2revenue.sandbox.standins")
    parser.add_argument("--world", type=Path, help="directory written by World.save")
    parser.add_argument("--seed", type=int, default=42, help="seed when generating")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2024, 7, 1))
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port",
        action="append",
        default=[],
        metavar="SOURCE=PORT",
        help="fixed port of one source's stand-in (e.g. hubspot=8002); default ephemeral",
    )
    parser.add_argument(
        "--token", default=os.environ.get("R2R_STANDIN_TOKEN", DEFAULT_TOKEN), help="token"
    )
    parser.add_argument("--clock", help="fixed server clock (ISO instant); default wall clock")
    parser.add_argument("--no-rate-limits", action="store_true", help="disable throttling")
    return parser


def parse_ports(values: list[str]) -> dict[str, int]:
    """``["hubspot=8002"]`` -> ``{"hubspot": 8002}``."""
    ports = {}
    for value in values:
        source, _, port = value.partition("=")
        if not port.isdigit():
            raise SystemExit(f"--port wants SOURCE=PORT, not {value!r}")
        ports[source.strip()] = int(port)
    return ports


def main(argv: list[str] | None = None) -> int:
    """Start the stand-ins, print their URLs and serve until terminated."""
    args = _parser().parse_args(argv)
    if args.world is not None:
        world = World.load(args.world)
    else:
        world = World.generate(seed=args.seed, start=args.start, days=args.days, scale=args.scale)
    stop = threading.Event()

    def _terminate(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    servers = start_standins(
        world,
        token=args.token,
        clock=parse_instant(args.clock) if args.clock else None,
        host=args.host,
        ports=parse_ports(args.port),
        rate_limits=not args.no_rate_limits,
    )
    try:
        sys.stdout.write(json.dumps(servers.urls) + "\n")
        sys.stdout.flush()
        # Event.wait with a timeout keeps the main thread responsive to signals.
        while not stop.wait(0.5):
            pass
    finally:
        servers.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
