"""`r2r serve` says where the stand-in token is, never the token itself."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from reach2revenue.sandbox.world import World


def test_serve_writes_the_token_to_a_private_file_and_prints_only_its_path(
    tmp_path: Path,
) -> None:
    World.generate(seed=3, start=date(2026, 2, 1), days=1, scale=0.1).save(tmp_path / "world")
    env = {**os.environ, "R2R_HOME": str(tmp_path / "home")}
    env.pop("R2R_STANDIN_TOKEN", None)
    command = [
        sys.executable,
        "-m",
        "reach2revenue.cli",
        "serve",
        "--world",
        str(tmp_path / "world"),
    ]
    token_file = tmp_path / "home" / "standin-token"
    process = subprocess.Popen(
        command,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not token_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)  # the line naming the file follows the file
    finally:
        process.terminate()  # SIGTERM: serve stops cleanly and flushes its output
        output, errors = process.communicate(timeout=30)
    token_file = tmp_path / "home" / "standin-token"
    assert f"token in {token_file}" in output.replace("\n", ""), output
    token = token_file.read_text().strip()
    assert len(token) >= 24
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert token not in output and token not in errors
