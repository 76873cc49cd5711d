"""How the commands find and log in to Airflow (shared options and their defaults)."""

from __future__ import annotations

import argparse
import json
import os
from datetime import date
from pathlib import Path
from typing import Any

from reach2revenue.airflow_local import DEFAULT_PORT, DEFAULT_USER, AirflowClient
from reach2revenue.settings import Settings


class UsageError(ValueError):
    """A missing or bad setting: exit code 2."""


def default_airflow_home() -> Path:
    """`$R2R_HOME/airflow`: where `r2r airflow up` keeps Airflow (var/airflow by default)."""
    return Settings.from_env().home / "airflow"


def state(airflow_home: Path | None = None) -> dict[str, Any]:
    """What the running `r2r airflow up` wrote about itself ({} when none runs)."""
    path = (airflow_home or default_airflow_home()) / "r2r-airflow.json"
    return json.loads(path.read_text()) if path.exists() else {}


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """--api-url, --username (the password comes from the environment or the stack)."""
    parser.add_argument(
        "--api-url",
        default=os.environ.get("R2R_AIRFLOW_URL"),
        help="Airflow's URL (default: $R2R_AIRFLOW_URL, else the one `r2r airflow up` "
        f"started, else http://127.0.0.1:{DEFAULT_PORT})",
    )
    parser.add_argument(
        "--username",
        default=os.environ.get("R2R_AIRFLOW_USERNAME"),
        help=f"login (default: $R2R_AIRFLOW_USERNAME, else {DEFAULT_USER}); the password "
        "is $R2R_AIRFLOW_PASSWORD, else the password file of `r2r airflow up`",
    )


def client_from(args: argparse.Namespace) -> AirflowClient:
    """An API client from the options, the environment and `r2r airflow up`'s state file."""
    running = state()
    url = args.api_url or running.get("url") or f"http://127.0.0.1:{DEFAULT_PORT}"
    username = args.username or running.get("username") or DEFAULT_USER
    password = os.environ.get("R2R_AIRFLOW_PASSWORD")
    if not password and running.get("password_file"):
        passwords = json.loads(Path(running["password_file"]).read_text())
        password = passwords.get(username)
    if not password:
        raise UsageError(
            "no Airflow password: set R2R_AIRFLOW_PASSWORD, or start Airflow with "
            "`r2r airflow up` (which keeps its login in the Airflow home)"
        )
    return AirflowClient(url, username, password)


def day(text: str) -> date:
    """An argparse type: YYYY-MM-DD."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None
