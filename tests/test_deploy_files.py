"""Static checks of docker-compose.yml and the Dockerfile (no Docker engine here).

The compose stack cannot start on this machine, so these tests check what would break it:
unknown Airflow commands or options, variables nobody documents, files the image copies
that do not exist, and secrets written into the file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
AIRFLOW_SERVICES = {
    name: spec for name, spec in SERVICES.items() if spec.get("command", [""])[0] == "airflow"
}


def test_stack_has_the_airflow_3_components_and_a_metadata_db() -> None:
    commands = {tuple(spec["command"][1:2]) for spec in AIRFLOW_SERVICES.values()}
    assert {("api-server",), ("scheduler",), ("dag-processor",), ("db",)} <= commands
    assert "postgres" in SERVICES and "healthcheck" in SERVICES["postgres"]


def test_airflow_commands_exist_in_the_installed_airflow() -> None:
    from airflow.cli.cli_config import core_commands

    known = {command.name for command in core_commands}
    for name, spec in AIRFLOW_SERVICES.items():
        assert spec["command"][1] in known, f"{name}: unknown airflow command"


@pytest.mark.parametrize("service", sorted(AIRFLOW_SERVICES))
def test_airflow_settings_are_real_config_options(service: str) -> None:
    from airflow.configuration import conf

    for key in SERVICES[service]["environment"]:
        match = re.fullmatch(r"AIRFLOW__([A-Z_]+?)__([A-Z_]+)", key)
        if match:
            section, option = match.group(1).lower(), match.group(2).lower()
            options = conf.configuration_description.get(section, {}).get("options", {})
            assert option in options, f"{service}: {key} is not an Airflow option"


def test_every_required_variable_is_documented_in_env_example() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    documented = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert required, "compose should require its secrets from the environment"
    assert required <= documented, f"undocumented: {sorted(required - documented)}"


def test_no_secret_is_written_into_compose() -> None:
    for name, spec in SERVICES.items():
        for key, value in (spec.get("environment") or {}).items():
            if any(word in key for word in ("PASSWORD", "SECRET", "TOKEN", "CONN")):
                assert "${" in str(value), f"{name}.{key} holds a literal secret"


def test_dockerfile_copies_existing_paths_and_the_dags_folder_matches() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for sources in re.findall(r"^COPY (.+) \S+$", dockerfile, flags=re.MULTILINE):
        for source in sources.split():
            assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
    dags_folder = AIRFLOW_SERVICES["airflow-scheduler"]["environment"]["AIRFLOW__CORE__DAGS_FOLDER"]
    workdir = re.search(r"^WORKDIR (\S+)$", dockerfile, flags=re.MULTILINE).group(1)
    assert dags_folder == f"{workdir}/dags"


def test_metadata_db_drivers_are_locked() -> None:
    # Airflow 3 opens a sync (psycopg2) and an async (asyncpg) engine on Postgres.
    lock = (ROOT / "uv.lock").read_text()
    assert 'name = "psycopg2-binary"' in lock
    assert 'name = "asyncpg"' in lock
