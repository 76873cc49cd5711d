"""Kill -9 of the worker during the load and during dbt, then a retry: nothing lost, no duplicate.

An Airflow worker can die at any instant (OOM killer, node drain, a deploy). The load and
the build then stop mid-write, and Airflow retries the task with the same inputs. Here the
step runs in its own process as the worker would (``python -c 'from reach2revenue import
pipeline; ...'`` with ``R2R_*`` settings), is sent SIGKILL while it writes the warehouse,
and is then run again normally: raw must hold no duplicate key and the mart must equal the
world's ground truth to the cent.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from reach2revenue import cursors, pipeline, verify
from reach2revenue.contracts import Interval
from reach2revenue.credentials import environment_from_connection
from reach2revenue.sandbox.standins import start_standins
from reach2revenue.sandbox.world import World
from reach2revenue.settings import REPO_ROOT, Settings
from reach2revenue.sources import SOURCE_NAMES, raw_tables

pytestmark = pytest.mark.slow

TOKEN = "kill-and-retry-token"
START = date(2026, 6, 1)
DAYS = 6
INTERVAL = Interval.from_dates(START, START + timedelta(days=DAYS))

LOAD = (
    "import json, sys\n"
    "from reach2revenue import pipeline\n"
    "pipeline.load_and_validate(json.load(open(sys.argv[1])))\n"
)
BUILD = "from reach2revenue import pipeline\npipeline.build()\n"


@dataclass
class Worker:
    """One pipeline step in its own process (a new session, so the kill takes it all)."""

    process: subprocess.Popen[str]
    output: list[str]

    @classmethod
    def start(cls, code: str, env: dict[str, str], *args: str) -> Worker:
        process = subprocess.Popen(
            [sys.executable, "-c", code, *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        output: list[str] = []
        assert process.stdout is not None
        stream = process.stdout
        threading.Thread(target=lambda: output.extend(stream), daemon=True).start()
        return cls(process, output)

    def kill_when(self, condition: Callable[[], bool], timeout: float = 300.0) -> None:
        """SIGKILL the whole process group as soon as ``condition`` holds (polled)."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None:
                tail = "".join(self.output[-30:])
                pytest.fail(
                    f"the step ended (rc {self.process.returncode}) before the kill:\n{tail}"
                )
            if time.monotonic() > deadline:
                os.killpg(self.process.pid, signal.SIGKILL)
                pytest.fail("the kill condition never held")
            time.sleep(0.002)
        os.killpg(self.process.pid, signal.SIGKILL)
        assert self.process.wait(timeout=30) == -signal.SIGKILL


@dataclass
class Stack:
    world: World
    settings: Settings
    env: dict[str, str]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("kill")
    settings = Settings.for_home(home)
    world = World.generate(seed=7, start=START, days=DAYS, scale=0.15)  # 3 won deals
    world.write_fx_overrides(settings.fx_rate_overrides_path)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("R2R_", "AIRFLOW_CONN_"))
    }
    env |= {
        "R2R_HOME": str(settings.home),
        "R2R_FX_RATE_OVERRIDES_PATH": str(settings.fx_rate_overrides_path),
    }
    with (
        start_standins(world, token=TOKEN, clock=world.end + timedelta(hours=1)) as servers,
        pytest.MonkeyPatch.context() as patch,
    ):
        for name, connection in servers.connections(TOKEN).items():
            source = name.removesuffix("_default")
            for key, value in environment_from_connection(source, connection).items():
                patch.setenv(key, value)
        yield Stack(world, settings, env)


def _wal(settings: Settings) -> Path:
    return settings.warehouse_path.with_name(settings.warehouse_path.name + ".wal")


def _duplicates(settings: Settings) -> dict[str, int]:
    """Raw rows beyond one per key, per raw table (all zero when the load is idempotent)."""
    found = {}
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        for table in raw_tables().values():
            key = ", ".join(table.key)
            (extra,) = con.execute(
                f"select count(*) - (select count(*) from (select distinct {key} "
                f"from {table.qualified_name})) from {table.qualified_name}"
            ).fetchall()[0]
            found[table.qualified_name] = int(extra)
    return found


def _cursor_count(settings: Settings) -> int:
    """Cursor files written so far (the load advances them only after every merge)."""
    return len(list((settings.landing_dir / cursors.STATE_DIR_NAME).glob("*.json")))


def _started_nodes(output: list[str]) -> int:
    """The highest dbt node number started so far (``12 of 313 START ...``)."""
    numbers = [
        int(m.group(1)) for line in list(output) if (m := re.search(r"(\d+) of \d+ START", line))
    ]
    return max(numbers, default=0)


def test_kill_during_load_and_during_dbt_then_retry_equals_ground_truth(stack: Stack) -> None:
    settings = stack.settings
    paths = [path for name in SOURCE_NAMES for path in pipeline.extract(name, INTERVAL, settings)]
    manifest_list = settings.home / "manifests.json"
    manifest_list.write_text(json.dumps(paths))
    timings: dict[str, float] = {}

    # 1. The load, killed as soon as it writes the warehouse (its write-ahead log exists:
    #    a merge transaction is under way), then retried with the same landed files.
    started = time.perf_counter()
    load = Worker.start(LOAD, stack.env, str(manifest_list))
    load.kill_when(lambda: _wal(settings).exists())
    timings["load_killed_after"] = time.perf_counter() - started
    killed_state = {"wal_left": _wal(settings).exists(), "cursors": _cursor_count(settings)}
    started = time.perf_counter()
    pipeline.load_and_validate(paths, settings)
    timings["load_retry"] = time.perf_counter() - started
    assert set(_duplicates(settings).values()) == {0}

    # 2. dbt build, killed mid-way (its 40th of some 300 nodes started), then retried.
    started = time.perf_counter()
    build = Worker.start(BUILD, stack.env)
    build.kill_when(lambda: _started_nodes(build.output) >= 40)
    timings["build_killed_after"] = time.perf_counter() - started
    started = time.perf_counter()
    pipeline.build(settings)
    pipeline.publish(settings)
    timings["build_and_publish_retry"] = time.perf_counter() - started
    print("timings:", json.dumps({k: round(v, 1) for k, v in timings.items()}))
    print("after the load's kill:", json.dumps(killed_state))

    assert set(_duplicates(settings).values()) == {0}
    truth = stack.world.ground_truth(reporting_currency="EUR", reporting_timezone="Europe/Berlin")
    mart = verify.mart_region_days(settings.published_path)
    comparison = verify.compare(
        mart, truth, first_day=START, last_day=START + timedelta(days=DAYS - 1)
    )
    assert comparison.region_days > 0
    assert comparison.matches, json.dumps(comparison.mismatches[:20], indent=1)
    assert sum(row["revenue_won"] for row in mart.values()) > 0
