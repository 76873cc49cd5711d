"""Static checks of docker-compose.yml, the Dockerfile and .env.example (no Docker engine here).

The compose stack cannot start on this machine, so these tests check what would break it
or make it unsafe: unknown Airflow commands or options, services without healthchecks,
a root user, an uncached dependency layer, connections missing for a source, variables
nobody documents, and secrets: none written into the file, and the image's entrypoint
(reach2revenue.deploy_checks, run natively here) refusing every placeholder of
.env.example while accepting real values.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from reach2revenue import airflow_local, deploy_checks
from reach2revenue.sources import SOURCES

ROOT = Path(__file__).parents[1]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
AIRFLOW_SERVICES = {
    name: spec for name, spec in SERVICES.items() if spec.get("command", [""])[0] == "airflow"
}
ONE_SHOT = {name for name, spec in SERVICES.items() if spec.get("restart") == "no"}
DOCKERFILE = (ROOT / "Dockerfile").read_text()
DEPLOYMENT_DOC = (ROOT / "docs" / "deployment.md").read_text()


def _env_example(commented: bool = False) -> dict[str, str]:
    """``KEY=VALUE`` lines of .env.example (only the commented-out ones if ``commented``)."""
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if commented != line.startswith("# "):
            continue
        match = re.fullmatch(r"(?:# )?([A-Z][A-Z0-9_]*)=(.*)", line)
        if match:
            values[match.group(1)] = match.group(2)
    return values


ENV_EXAMPLE = _env_example()
STANDIN_CONNECTIONS = _env_example(commented=True)

# Compose's own variable substitution: one implementation, the one airflow_local uses.
interpolate = airflow_local.interpolate


def service_environment(service: str, values: Mapping[str, str]) -> dict[str, str]:
    """The environment compose would give ``service`` with ``values`` as its .env."""
    environment = SERVICES[service].get("environment") or {}
    return {key: interpolate(str(value), values) for key, value in environment.items()}


def good_values() -> dict[str, str]:
    """A .env with real secrets in place of every placeholder."""
    values = dict(ENV_EXAMPLE)
    values |= {
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
        "AIRFLOW_FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "AIRFLOW_JWT_SECRET": secrets.token_urlsafe(48),
        "AIRFLOW_API_SECRET_KEY": secrets.token_urlsafe(48),
        "R2R_EMAIL_HASH_KEY": secrets.token_urlsafe(32),
        "R2R_STANDIN_TOKEN": secrets.token_urlsafe(24),
        "AIRFLOW_USER_PASSWORDS": json.dumps(
            {"admin": secrets.token_urlsafe(18), "analyst": secrets.token_urlsafe(18)}
        ),
    }
    token = values["R2R_STANDIN_TOKEN"]
    for name, definition in STANDIN_CONNECTIONS.items():
        values[name] = definition.replace("<R2R_STANDIN_TOKEN>", token)
    return values


# ------------------------------------------------------------------------- the stack


def test_stack_has_the_airflow_3_components_and_a_metadata_db() -> None:
    commands = {tuple(spec["command"][1:2]) for spec in AIRFLOW_SERVICES.values()}
    assert {("api-server",), ("scheduler",), ("dag-processor",), ("triggerer",), ("db",)} <= (
        commands
    )
    assert "postgres" in SERVICES


def test_every_long_running_service_has_a_healthcheck() -> None:
    for name, spec in SERVICES.items():
        if name in ONE_SHOT:
            continue
        assert spec.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        assert spec.get("restart") == "unless-stopped", f"{name} is not restarted"
    # The one-shot init (migrate, then the warehouse pool) gates every other Airflow
    # service on its success.
    assert ONE_SHOT == {"airflow-init", "airflow-pools"}, ONE_SHOT  # noqa: SIM300
    assert SERVICES["airflow-pools"]["depends_on"]["airflow-init"] == {
        "condition": "service_completed_successfully"
    }
    for name in set(AIRFLOW_SERVICES) - ONE_SHOT:
        depends = AIRFLOW_SERVICES[name]["depends_on"]
        for init in ONE_SHOT:
            assert depends[init] == {"condition": "service_completed_successfully"}, name
        assert depends["postgres"] == {"condition": "service_healthy"}, name


def test_airflow_healthchecks_check_their_own_job_type() -> None:
    job_type = {
        "airflow-scheduler": "SchedulerJob",
        "airflow-dag-processor": "DagProcessorJob",
        "airflow-triggerer": "TriggererJob",
    }
    for service, job in job_type.items():
        test = SERVICES[service]["healthcheck"]["test"]
        assert test[:4] == ["CMD", "airflow", "jobs", "check"], service
        assert test[test.index("--job-type") + 1] == job and "--local" in test, service
    api_check = " ".join(SERVICES["airflow-api-server"]["healthcheck"]["test"])
    assert "http://localhost:8080/api/v2/monitor/health" in api_check


def _airflow_command_lines() -> list[tuple[str, list[str]]]:
    lines = [(name, spec["command"]) for name, spec in AIRFLOW_SERVICES.items()]
    for name, spec in SERVICES.items():
        test = spec.get("healthcheck", {}).get("test", [])
        if test[1:2] == ["airflow"]:
            lines.append((f"{name} healthcheck", test[1:]))
    return lines


def test_every_airflow_command_parses_with_the_installed_airflow(capsys) -> None:
    from airflow.cli.cli_parser import get_parser

    parser = get_parser()
    for where, command in _airflow_command_lines():
        try:
            parser.parse_args(command[1:])
        except SystemExit:
            pytest.fail(f"{where}: `{' '.join(command)}` is not a valid airflow command")
    assert len(_airflow_command_lines()) >= 8


@pytest.mark.parametrize("service", sorted(AIRFLOW_SERVICES))
def test_airflow_settings_are_real_config_options(service: str) -> None:
    from airflow.configuration import conf

    for key in SERVICES[service]["environment"]:
        match = re.fullmatch(r"AIRFLOW__([A-Z_]+?)__([A-Z_]+)", key)
        if match:
            section, option = match.group(1).lower(), match.group(2).lower()
            options = conf.configuration_description.get(section, {}).get("options", {})
            assert option in options, f"{service}: {key} is not an Airflow option"


def test_dags_run_unpaused_without_examples_behind_a_real_login() -> None:
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    env = SERVICES["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "False"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    module, _, name = env["AIRFLOW__CORE__AUTH_MANAGER"].rpartition(".")
    assert getattr(__import__(module, fromlist=[name]), name) is SimpleAuthManager
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "False"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].startswith("${AIRFLOW_USERS:?")
    # The passwords come from a compose secret, read by the entrypoint on the api-server.
    api = SERVICES["airflow-api-server"]
    assert api["secrets"] == ["airflow_user_passwords"]
    assert COMPOSE["secrets"]["airflow_user_passwords"] == {"environment": "AIRFLOW_USER_PASSWORDS"}
    assert api["environment"]["R2R_AIRFLOW_PASSWORDS_SECRET"] == (
        "/run/secrets/airflow_user_passwords"
    )
    roles = {"VIEWER", "USER", "OP", "ADMIN"}
    for pair in ENV_EXAMPLE["AIRFLOW_USERS"].split(","):
        assert pair.split(":")[1].upper() in roles, pair
    assert set(json.loads(ENV_EXAMPLE["AIRFLOW_USER_PASSWORDS"])) == {
        pair.split(":")[0] for pair in ENV_EXAMPLE["AIRFLOW_USERS"].split(",")
    }


def test_the_api_server_port_is_published_on_loopback_by_default() -> None:
    [port] = SERVICES["airflow-api-server"]["ports"]
    assert interpolate(port, {}) == "127.0.0.1:8080:8080"


# ------------------------------------------------------------------------- sources


def test_every_registered_source_has_its_connection() -> None:
    env = SERVICES["airflow-scheduler"]["environment"]
    for source in SOURCES.values():
        name = f"AIRFLOW_CONN_{source.conn_id.upper()}"
        assert env.get(name) == f"${{{name}:?set {name}}}", f"{name} missing or optional"
        assert name in ENV_EXAMPLE and name in STANDIN_CONNECTIONS, f"{name} undocumented"


@pytest.mark.parametrize("source_name", sorted(SOURCES))
def test_env_example_connections_name_real_hosts_and_options(source_name: str) -> None:
    source = SOURCES[source_name]
    definition = json.loads(ENV_EXAMPLE[f"AIRFLOW_CONN_{source.conn_id.upper()}"])
    if source_name != "salesforce":  # its host is the org's My Domain
        assert definition["host"] == source.default_base_url
    assert ("password" in definition) == source.needs_token or source_name == "salesforce"
    options = (
        {f.name for f in dataclasses.fields(source.options_type)} if source.options_type else set()
    )
    assert set(definition.get("extra", {})) <= options


def test_standin_connections_match_the_world_the_profile_serves() -> None:
    """The ids written in .env.example are those of the world `standins` generates."""
    from reach2revenue.sandbox.standins import start_standins
    from reach2revenue.sandbox.world import World

    command = " ".join(SERVICES["standins"]["command"])
    command = interpolate(command, ENV_EXAMPLE)
    start = date.fromisoformat(re.search(r"--start (\S+)", command).group(1))
    days = int(re.search(r"--days (\d+)", command).group(1))
    assert "--seed" not in command and "--scale" not in command  # the CLI's defaults: 42, 1.0
    ports = dict(re.findall(r"--port (\w+)=(\d+)", command))
    assert set(ports) == set(SOURCES)

    world = World.generate(seed=42, start=start, days=days, scale=1.0)
    with start_standins(world, token="t" * 20) as servers:
        served = servers.connections("t" * 20)
    for source in SOURCES.values():
        documented = json.loads(STANDIN_CONNECTIONS[f"AIRFLOW_CONN_{source.conn_id.upper()}"])
        assert documented["host"] == f"http://standins:{ports[source.name]}", source.name
        assert documented.get("extra", {}) == served[source.conn_id].get("extra", {}), source.name
        if source.needs_token or source.name == "salesforce":
            assert documented["password"] == "<R2R_STANDIN_TOKEN>", source.name


# ------------------------------------------------------------------------- image


def test_dockerfile_copies_existing_paths_and_the_dags_folder_matches() -> None:
    for sources in re.findall(r"^COPY (.+) \S+$", DOCKERFILE, flags=re.MULTILINE):
        for source in sources.split():
            assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
    dags_folder = AIRFLOW_SERVICES["airflow-scheduler"]["environment"]["AIRFLOW__CORE__DAGS_FOLDER"]
    workdir = re.search(r"^WORKDIR (\S+)$", DOCKERFILE, flags=re.MULTILINE).group(1)
    assert dags_folder == f"{workdir}/dags"


def test_dependencies_are_installed_from_the_lock_before_the_source_is_copied() -> None:
    lines = [line.strip() for line in DOCKERFILE.splitlines()]
    deps = next(i for i, line in enumerate(lines) if "--no-install-project" in line)
    lock = lines.index("COPY pyproject.toml uv.lock ./")
    source = lines.index("COPY src ./src")
    assert lock < deps < source
    assert "--frozen" in lines[deps]


def test_the_image_runs_as_a_non_root_user_behind_the_secret_check() -> None:
    users = re.findall(r"^USER (\S+)$", DOCKERFILE, flags=re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    entrypoint = json.loads(re.search(r"^ENTRYPOINT (.+)$", DOCKERFILE, re.MULTILINE).group(1))
    assert entrypoint == ["python", "-m", "reach2revenue.deploy_checks", "--"]
    for name, spec in SERVICES.items():
        if name != "postgres":
            assert spec.get("user") == "50000:0", f"{name} does not run as the image's user"


def test_dockerignore_keeps_the_build_context_small_and_secret_free() -> None:
    ignored = {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", "var", ".git", "logs", ".env", "dbt_project/target"} <= ignored
    # Nothing the Dockerfile copies is excluded.
    for sources in re.findall(r"^COPY (.+) \S+$", DOCKERFILE, flags=re.MULTILINE):
        assert not set(sources.split()) & ignored


def test_the_published_warehouse_is_on_its_own_documented_volume() -> None:
    published = Path(AIRFLOW_SERVICES["airflow-scheduler"]["environment"]["R2R_PUBLISHED_PATH"])
    for name, spec in AIRFLOW_SERVICES.items():
        assert f"r2r-published:{published.parent}" in spec["volumes"], name
    assert "r2r-published" in COMPOSE["volumes"]
    assert "r2r-published" in DEPLOYMENT_DOC and str(published) in DEPLOYMENT_DOC


def test_metadata_db_drivers_are_locked() -> None:
    # Airflow 3 opens a sync (psycopg2) and an async (asyncpg) engine on Postgres.
    lock = (ROOT / "uv.lock").read_text()
    assert 'name = "psycopg2-binary"' in lock
    assert 'name = "asyncpg"' in lock


# ------------------------------------------------------------------------- secrets


def test_every_required_variable_is_documented_in_env_example() -> None:
    text = "\n".join(
        line for line in COMPOSE_TEXT.splitlines() if not line.lstrip().startswith("#")
    )
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    optional = set(re.findall(r"\$\{([A-Z0-9_]+):-", text))
    secret_sources = {spec["environment"] for spec in COMPOSE["secrets"].values()}
    assert required, "compose should require its secrets from the environment"
    undocumented = (required | optional | secret_sources) - set(ENV_EXAMPLE)
    assert not undocumented, f"undocumented: {sorted(undocumented)}"
    for name in required | optional | secret_sources:
        assert name in DEPLOYMENT_DOC, f"{name} is not explained in docs/deployment.md"


def test_no_secret_is_written_into_compose() -> None:
    for name, spec in SERVICES.items():
        for key, value in (spec.get("environment") or {}).items():
            # A path (the secret file, the passwords file) is not a secret.
            if any(word in key for word in ("PASSWORD", "SECRET", "TOKEN", "CONN", "KEY")):
                assert "${" in str(value) or str(value).startswith("/"), (
                    f"{name}.{key} holds a literal secret"
                )


def _run_entrypoint(
    command: list[str], env: Mapping[str, str], *, check_only: bool = False
) -> subprocess.CompletedProcess[str]:
    prefix = ["--check-only"] if check_only else []
    return subprocess.run(
        [sys.executable, "-m", "reach2revenue.deploy_checks", *prefix, "--", *command],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _api_server_env(values: Mapping[str, str], tmp_path: Path) -> dict[str, str]:
    """The api-server's environment, its secret file written where the entrypoint reads it."""
    env = service_environment("airflow-api-server", values)
    secret = tmp_path / "airflow_user_passwords"
    secret.write_text(values["AIRFLOW_USER_PASSWORDS"])
    env["R2R_AIRFLOW_PASSWORDS_SECRET"] = str(secret)
    env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] = str(tmp_path / "home" / "pw.json")
    return env


def test_the_entrypoint_refuses_every_placeholder_of_env_example(tmp_path: Path) -> None:
    env = _api_server_env(ENV_EXAMPLE, tmp_path)
    done = _run_entrypoint(["airflow", "api-server", "--port", "8080"], env)
    assert done.returncode == deploy_checks.EX_CONFIG, done.stderr
    refused = done.stderr
    for expected in (
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__API__SECRET_KEY",
        "AIRFLOW__CORE__FERNET_KEY",
        "R2R_EMAIL_HASH_KEY",
        "the metadata DB password (POSTGRES_PASSWORD)",
        "the password of user 'admin'",
        "the password of user 'analyst'",
        *(f"AIRFLOW_CONN_{s.conn_id.upper()}" for s in SOURCES.values() if s.needs_token),
    ):
        assert expected in refused, f"{expected} was not refused:\n{refused}"
    assert "AIRFLOW_CONN_ECB_FX_DEFAULT" not in refused  # public, no secret to refuse
    # The refusal names variables, never their values.
    for value in ENV_EXAMPLE.values():
        if len(value) > 12 and not value.startswith(("{", "http")):
            assert value not in done.stderr + done.stdout
    assert not (tmp_path / "home" / "pw.json").exists()


def test_the_entrypoint_starts_the_service_with_real_secrets(tmp_path: Path) -> None:
    values = good_values()
    env = _api_server_env(values, tmp_path)
    done = _run_entrypoint(["airflow", "api-server", "--port", "8080"], env, check_only=True)
    assert done.returncode == 0, done.stderr
    installed = tmp_path / "home" / "pw.json"
    assert json.loads(installed.read_text()) == json.loads(values["AIRFLOW_USER_PASSWORDS"])
    assert installed.stat().st_mode & 0o777 == 0o600
    # Without --check-only it replaces itself with the command.
    scheduler_env = service_environment("airflow-scheduler", values)
    started = _run_entrypoint(
        [sys.executable, "-c", "import os; print('started', os.environ['R2R_HOME'])"],
        scheduler_env,
    )
    assert started.returncode == 0 and started.stdout == "started /var/lib/reach2revenue\n"


def test_each_airflow_secret_is_refused_alone(tmp_path: Path) -> None:
    values = good_values()
    for name, bad, expected in [
        ("AIRFLOW_JWT_SECRET", "short-but-random-9f8e7d", "shorter than 32"),
        ("AIRFLOW_API_SECRET_KEY", "{SECRET_KEY}", "template placeholder"),
        ("AIRFLOW_FERNET_KEY", secrets.token_urlsafe(40), "not a Fernet key"),
        ("POSTGRES_PASSWORD", "airflow", "well-known default"),
        (
            "AIRFLOW_USER_PASSWORDS",
            json.dumps({**json.loads(values["AIRFLOW_USER_PASSWORDS"]), "admin": "a" * 16}),
            "distinct characters",
        ),
        ("R2R_EMAIL_HASH_KEY", "k3y-9f8e7d6c", "shorter than 16"),
    ]:
        env = _api_server_env({**values, name: bad}, tmp_path)
        done = _run_entrypoint(["airflow", "api-server"], env, check_only=True)
        assert done.returncode == deploy_checks.EX_CONFIG and expected in done.stderr, name
        assert len(done.stderr.strip().splitlines()) == 3, done.stderr  # header, problem, hint


def test_the_standins_refuse_a_placeholder_token() -> None:
    command = SERVICES["standins"]["command"]
    placeholder = service_environment("standins", ENV_EXAMPLE)
    refused = _run_entrypoint(command, placeholder, check_only=True)
    assert refused.returncode == deploy_checks.EX_CONFIG
    assert "R2R_STANDIN_TOKEN contains the placeholder marker 'changeme'" in refused.stderr
    good = service_environment("standins", good_values())
    assert _run_entrypoint(command, good, check_only=True).returncode == 0


@pytest.mark.parametrize(
    ("value", "refused"),
    [
        ("change-me-too", True),
        ("CHANGE_ME_please_0123456789", True),
        ("<meta access token>", True),
        ("{JWT_SECRET_KEY}", True),
        ("Passw0rd", True),
        ("example-secret-9876543210", True),
        ("abababababababababababababab", True),
        ("", True),
        # A fixed id: pytest-xdist's workers must collect the same test names.
        pytest.param(secrets.token_urlsafe(32), False, id="random-token"),
        ("EAABsbCS1iHgBA7ZCZBZA3x9", False),
    ],
)
def test_placeholder_detection(value: str, refused: bool) -> None:
    assert (deploy_checks.placeholder_reason(value) is not None) is refused


def test_the_pool_service_creates_the_pool_the_dag_uses() -> None:
    from reach2revenue.pools import WAREHOUSE_POOL

    command = SERVICES["airflow-pools"]["command"]
    assert command[:3] == ["airflow", "pools", "set"]
    assert command[3] == WAREHOUSE_POOL and command[4] == "1"
