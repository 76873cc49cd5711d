"""The stand-ins' control plane (``/__standin/*``) answers only to the stand-in token."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
import requests

from reach2revenue.sandbox.standins import StandinServers, start_standins
from reach2revenue.sandbox.standins._http import CONTROL_TOKEN_HEADER
from reach2revenue.sandbox.world import World

TOKEN = "control-plane-token-4b9e"


@pytest.fixture(scope="module")
def servers() -> Iterator[StandinServers]:
    world = World.generate(seed=3, start=date(2026, 2, 1), days=1, scale=0.1)
    with start_standins(world, token=TOKEN, rate_limits=False) as running:
        yield running


FAULT = {"path_prefix": "/", "status": 500, "count": 1}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {CONTROL_TOKEN_HEADER: "wrong"}],
    ids=["none", "wrong-bearer", "wrong-header"],
)
def test_without_the_token_nothing_moves(servers: StandinServers, headers: dict) -> None:
    for name, server in servers.servers.items():
        base = f"{server.url}/__standin"
        refused = [
            requests.post(f"{base}/faults", json=FAULT, headers=headers, timeout=5),
            requests.post(f"{base}/clock", json={"now": None}, headers=headers, timeout=5),
            requests.get(f"{base}/stats", headers=headers, timeout=5),
            requests.delete(f"{base}/faults", headers=headers, timeout=5),
        ]
        assert [r.status_code for r in refused] == [401] * 4, name
        assert "requires the stand-in token" in refused[0].json()["error"]
        assert TOKEN not in refused[0].text
        assert not server.stats()["log"] or all(
            not entry["path"].startswith("/__standin") for entry in server.stats()["log"]
        )
        # No fault was queued.
        assert server._take_fault("/anything") is None, name


def test_the_token_as_bearer_or_header_is_accepted(servers: StandinServers) -> None:
    hubspot = servers.hubspot
    base = f"{hubspot.url}/__standin"
    as_bearer = {"Authorization": f"Bearer {TOKEN}"}
    queued = requests.post(f"{base}/faults", json=FAULT, headers=as_bearer, timeout=5)
    assert queued.status_code == 200 and queued.json() == {"queued": 1}
    listed = requests.get(f"{base}/faults", headers=hubspot.control_headers(), timeout=5)
    assert listed.json()["faults"][0]["status"] == 500
    cleared = requests.delete(f"{base}/faults", headers={CONTROL_TOKEN_HEADER: TOKEN}, timeout=5)
    assert cleared.status_code == 200


def test_a_public_api_stand_in_has_its_own_control_token() -> None:
    world = World.generate(seed=3, start=date(2026, 2, 1), days=1, scale=0.1)
    with start_standins(world, token="", rate_limits=False) as running:
        ecb = running.ecb
        base = f"{ecb.url}/__standin/stats"
        assert requests.get(base, timeout=5).status_code == 401
        empty = requests.get(base, headers={"Authorization": "Bearer "}, timeout=5)
        assert empty.status_code == 401
        assert requests.get(base, headers=ecb.control_headers(), timeout=5).status_code == 200
        assert len(ecb.control_token) >= 24
